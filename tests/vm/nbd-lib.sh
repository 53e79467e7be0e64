# nbdkit helpers for the nbd-*.sh tests (sourced after lib.sh).
command -v nbdkit > /dev/null || fail "nbdkit is missing: run scripts/deps.sh"

# nbd_start NAME NBDKIT-ARGS...: starts a background nbdkit and waits until
# it listens (it writes its pid file then); stopped at exit.
nbd_start() {
	local name=$1 pidf=/tmp/nbdkit-$1.pid i
	shift
	rm -f "$pidf"
	nbdkit -P "$pidf" "$@" || fail "nbdkit $* did not start"
	for i in $(seq 100); do
		[ -s "$pidf" ] && break
		sleep 0.1
	done
	[ -s "$pidf" ] || fail "nbdkit $name wrote no pid file"
	# vduse-blk's daemon (re)connects as user vduse: let it reach the socket.
	local a prev=
	for a in "$@"; do
		if [ "$prev" = -U ] && getent group vduse > /dev/null; then
			chgrp vduse "$a" && chmod g+rw "$a" || fail "cannot open $a to vduse"
		fi
		prev=$a
	done
	at_exit "nbd_stop $name"
}

# nbd_stop NAME: kills it at once, as a crash would.
nbd_stop() {
	local pidf=/tmp/nbdkit-$1.pid pid
	[ -s "$pidf" ] || return 0
	pid=$(cat "$pidf")
	kill -9 "$pid" 2> /dev/null
	while [ -d /proc/"$pid" ] && ! grep -q '^[^)]*) [ZX]' /proc/"$pid"/stat 2> /dev/null; do
		sleep 0.05
	done
	rm -f "$pidf"
}

# A free TCP port on 127.0.0.1 (nothing listens in a fresh guest).
nbd_port() {
	echo $((20000 + RANDOM % 20000))
}
