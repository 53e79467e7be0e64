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

# nbd_lose_server TAG NAME HOW IMG PORT: device NAME serves the export of
# nbdkit TAG (IMG on 127.0.0.1:PORT) to fio, which writes until the server
# goes away HOW: "stop" (SIGSTOP: the connection stays up, no answers) or
# "kill" (every reconnect fails).  Sets $dev, $fio (its pid), $spid (the
# server's) and $gone (how it went, for messages).
nbd_lose_server() {
	local tag=$1 name=$2 how=$3 img=$4 port=$5 blk i
	nbd_start "$tag" -i 127.0.0.1 -p "$port" file "$img"
	blk_add --name "$name" "nbd://127.0.0.1:$port/"
	blk=${dev#/dev/}
	fio --name="$tag" --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bs=4k --iodepth=16 --size=32M --time_based \
	    --runtime=300 --eta=never --output=/tmp/fio-"$tag".log \
	    2> /tmp/fio-"$tag".err &
	fio=$!
	for i in $(seq 100); do
		[ "$(awk '{print $5}' /sys/block/$blk/stat)" -ge 200 ] && break
		sleep 0.1
	done
	spid=$(cat /tmp/nbdkit-"$tag".pid)
	case $how in
	stop) kill -STOP "$spid"; gone=stopped ;;
	kill) nbd_stop "$tag"; gone=killed ;;
	esac
	sleep 2
}

# nbd_expect_pending TAG: fio (of nbd_lose_server) still runs, with
# requests in flight on $dev.
nbd_expect_pending() {
	kill -0 $fio 2> /dev/null || { cat /tmp/fio-"$1".log; fail "fio ended before del"; }
	[ "$(awk '{print $1 + $2}' /sys/block/${dev#/dev/}/inflight)" -gt 0 ] ||
		fail "no request in flight with the server $gone"
}

# nbd_expect_removed NAME WHAT: after WHAT ("del"), the device and its
# VDUSE node are gone, and fio ended, with an error.
nbd_expect_removed() {
	[ ! -e "$dev" ] || fail "$dev still exists after $2"
	[ ! -e /dev/vduse/"$1" ] || fail "/dev/vduse/$1 still exists after $2"
	timeout 30 tail --pid=$fio -f /dev/null || fail "fio hung after $2"
	wait $fio && fail "fio succeeded although its device went away"
	return 0
}
