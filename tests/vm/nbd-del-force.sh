#!/bin/bash
# del --force: the NBD server is gone with fio running and requests in
# flight, and the operator says so.  The requests fail with IOERR at once
# instead of after del's 10 s grace, so the kernel's detach finishes within
# seconds: with the daemon alive (server killed; server hung), and with the
# daemon dead too, when there is nobody to fail them and del serves the
# device once more without its backend.  Without --force del keeps its
# grace (tests/vm/nbd-del-hung.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

img=/tmp/nbd-force.img
truncate -s 64M $img
port=$(nbd_port)

# force NAME HOW: fio writes, the server goes away HOW (kill, stop), the
# daemon too if $3 is "dead", and del --force returns in time.
force() {
	local name=$1 how=$2 daemon=${3:-alive} pid spid blk start took fio gone
	nbd_start force -i 127.0.0.1 -p "$port" file $img
	blk_add --name "$name" "nbd://127.0.0.1:$port/"
	blk=${dev#/dev/}
	fio --name=force --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bs=4k --iodepth=16 --size=32M --time_based \
	    --runtime=300 --eta=never --output=/tmp/fio-force.log 2> /tmp/fio-force.err &
	fio=$!
	for i in $(seq 100); do
		[ "$(awk '{print $5}' /sys/block/$blk/stat)" -ge 200 ] && break
		sleep 0.1
	done
	pid=$(daemon_pid "$name") || fail "no daemon for $name"
	spid=$(cat /tmp/nbdkit-force.pid)
	case $how in
	stop) kill -STOP "$spid"; gone=stopped ;;
	kill) nbd_stop force; gone=killed ;;
	esac
	sleep 2
	if [ "$daemon" = dead ]; then
		kill -9 "$pid"
		while [ -d /proc/"$pid" ]; do sleep 0.05; done
		"$BLK" list | grep -q "^$name .*no daemon" || fail "$name does not show as without a daemon"
	fi
	kill -0 $fio 2> /dev/null || { cat /tmp/fio-force.log; fail "fio ended before del"; }
	[ "$(awk '{print $1 + $2}' /sys/block/$blk/inflight)" -gt 0 ] ||
		fail "no request in flight with the server $gone"
	start=$(date +%s.%N)
	timeout 60 "$BLK" del --force "$name" 2> /tmp/del-force.err ||
		{ cat /tmp/del-force.err; fail "del --force (server $gone, daemon $daemon) failed or hung"; }
	took=$(elapsed_since "$start")
	[ ! -e "$dev" ] || fail "$dev still exists after del --force"
	[ ! -e /dev/vduse/"$name" ] || fail "/dev/vduse/$name still exists after del --force"
	[ ! -e /sys/class/vduse/"$name" ] || fail "$name still in sysfs after del --force"
	timeout 30 tail --pid=$fio -f /dev/null || fail "fio hung after del --force"
	wait $fio && fail "fio succeeded although its device went away"
	# Well before del's own 10 s grace: nothing waited for the backend.
	within "$took" 8 ||
		fail "del --force took $took s (server $gone, daemon $daemon), expected < 8"
	if [ "$daemon" = dead ]; then
		grep -q "no daemon serves $name; --force: its requests in flight fail with an I/O error" \
			/tmp/del-force.err || { cat /tmp/del-force.err; fail "del --force did not say what it did"; }
	else
		grep -q "requests failed with an I/O error: removal forced (del --force)" \
			/run/vduse-blk/"$name".log ||
			{ cat /run/vduse-blk/"$name".log; fail "the daemon did not say it failed the requests"; }
	fi
	log "del --force with the server $gone and the daemon $daemon returned after $took s"
	[ "$how" = stop ] && { kill -CONT "$spid"; nbd_stop force; }
	nbd_stop force
	return 0
}

force fkill kill
force fstop stop
force fdead kill dead
force fdeadstop stop dead
log "pass"
