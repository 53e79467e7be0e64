#!/bin/bash
# A subverted daemon holds nothing of root's.  Every thread of a serving
# daemon runs as the unprivileged daemon user (vduse) with no group, no
# capability in any set and NO_NEW_PRIVS; with exactly those credentials,
# writing a root-owned file, making it writable and signalling pid 1 all
# fail.  Only its keeper process keeps root, with CAP_NET_ADMIN alone and
# none of the daemon's descriptors.  The daemon drops before it serves,
# in recover mode too, and the device still works: I/O, resize, stats,
# recover, del.
. "$(dirname "$0")/lib.sh"
require_blk
getent passwd vduse > /dev/null || fail "no user vduse: scripts/deps.sh creates it"
want_uid=$(id -u vduse)
want_gid=$(id -g vduse)

# field FILE KEY: the value(s) of a /proc status line.
field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$1"; }

# check_creds PID: every thread unprivileged, as the daemon user.
check_creds() {
	local pid=$1 st n=0 name
	for st in /proc/"$pid"/status /proc/"$pid"/task/*/status; do
		name="$(field "$st" Name) ($st)"
		[ "$(field "$st" Uid)" = "$want_uid $want_uid $want_uid $want_uid" ] ||
			fail "$name: Uid $(field "$st" Uid), expected $want_uid everywhere"
		[ "$(field "$st" Gid)" = "$want_gid $want_gid $want_gid $want_gid" ] ||
			fail "$name: Gid $(field "$st" Gid), expected $want_gid everywhere"
		[ -z "$(field "$st" Groups)" ] || fail "$name: Groups $(field "$st" Groups)"
		for c in CapInh CapPrm CapEff CapBnd CapAmb; do
			[ "$(field "$st" $c)" = 0000000000000000 ] ||
				fail "$name: $c $(field "$st" $c), expected none"
		done
		[ "$(field "$st" NoNewPrivs)" = 1 ] || fail "$name: NoNewPrivs not set"
		n=$((n + 1))
	done
	# main, control and queue threads, plus the process line itself
	[ $n -ge 4 ] || fail "daemon $pid: only $n status files looked at"
	log "daemon $pid: $((n - 1)) threads, all $want_uid:$want_gid, no capability, NoNewPrivs"
}

# The keeper: the daemon's child, root with CAP_NET_ADMIN (bit 12) alone.
check_keeper() {
	local pid=$1 k fd
	k=$(pgrep -P "$pid" -x vduse-blk-keep) || fail "daemon $pid has no keeper"
	[ "$(field /proc/$k/status Uid)" = "0 0 0 0" ] || fail "keeper is not root"
	for c in CapPrm CapEff CapBnd; do
		[ "$(field /proc/$k/status $c)" = 0000000000001000 ] ||
			fail "keeper $c $(field /proc/$k/status $c), expected CAP_NET_ADMIN only"
	done
	[ "$(field /proc/$k/status NoNewPrivs)" = 1 ] || fail "keeper: NoNewPrivs not set"
	for fd in /proc/$k/fd/*; do
		case $(readlink "$fd") in
		/dev/vduse/*|"$img"|socket:*) fail "keeper holds $(readlink "$fd")" ;;
		esac
	done
	keeper=$k
	log "keeper $k: root, CAP_NET_ADMIN only, holds none of the daemon's files"
}

img=/tmp/privs.img
truncate -s 64M $img
blk_add --name privs "$img"
pid=$(daemon_pid privs)
[ -n "$pid" ] || fail "no daemon pid for privs"
check_creds "$pid"
check_keeper "$pid"

# A real attempt with exactly the daemon's credentials.
target=/tmp/privs-root-owned
echo original > $target
chmod 0600 $target
uid=$(field /proc/$pid/status Uid | cut -d' ' -f1)
gid=$(field /proc/$pid/status Gid | cut -d' ' -f1)
attempt() {
	setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all \
		--ambient-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}
attempt sh -c "echo owned >> $target" 2> /dev/null &&
	fail "the daemon's credentials could write a root-owned file"
attempt chmod 0666 $target 2> /dev/null &&
	fail "the daemon's credentials could chmod a root-owned file"
attempt kill -0 1 2> /dev/null && fail "the daemon's credentials could signal pid 1"
attempt kill -0 "$keeper" 2> /dev/null && fail "the daemon's credentials could signal its keeper"
attempt cat /run/vduse-blk/privs.state > /dev/null 2>&1 &&
	fail "the daemon's credentials could read its state file"
attempt sh -c ': > /run/vduse-blk/privs.conf' 2> /dev/null &&
	fail "the daemon's credentials could rewrite its settings"
# Another daemon runs as the same user: its memory stays out of reach.
attempt cat /proc/"$pid"/maps > /dev/null 2>&1 &&
	fail "the daemon's credentials could read a daemon's memory map"
[ "$(cat $target)" = original ] || fail "$target changed"
# The same as root succeeds: the attempts above are not vacuous.
check "root writes the file" sh -c "echo root >> $target"
check "root signals pid 1" kill -0 1
log "with the daemon's credentials: write, chmod, kill -0 1, the run files and a daemon's memory all refused"

# Everything still works after the drop.
head -c 4M /dev/urandom > /tmp/privs-data
check "write" dd if=/tmp/privs-data of="$dev" bs=1M oflag=direct conv=fsync status=none
check "resize" "$BLK" resize privs 128M
[ "$(blockdev --getsize64 "$dev")" = 134217728 ] || fail "resize did not reach $dev"
check "stats" "$BLK" stats privs > /dev/null
"$BLK" list | grep -q "^privs " || fail "list does not show privs"

# Recover: the new daemon drops before its queues serve again.
kill -KILL "$pid"
while kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
for i in $(seq 40); do kill -0 "$keeper" 2> /dev/null || break; sleep 0.05; done
kill -0 "$keeper" 2> /dev/null && fail "the keeper outlived its daemon"
check "recover" "$BLK" recover privs
pid=$(daemon_pid privs)
check_creds "$pid"
check_keeper "$pid"
awk '/running as/ { d = NR } /adopted privs/ { a = NR } END { exit !(d && a && d < a) }' \
	/run/vduse-blk/privs.log || { cat /run/vduse-blk/privs.log; fail "the recovered daemon resumed its queues before it dropped"; }
check "read back" dd if="$dev" of=/tmp/privs-back bs=1M count=4 iflag=direct status=none
cmp /tmp/privs-data /tmp/privs-back || fail "data differ after recover"
log "recover: dropped before resuming, data intact"

check "del" "$BLK" del privs
[ -e /sys/class/vduse/privs ] && fail "del left the device"
for f in conf state sock; do
	[ -e /run/vduse-blk/privs.$f ] && fail "del left privs.$f"
done
kill -0 "$pid" 2> /dev/null && fail "the daemon is still running after del"
log "pass"
