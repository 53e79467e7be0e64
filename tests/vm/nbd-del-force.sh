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
	local name=$1 how=$2 daemon=${3:-alive} start took
	nbd_lose_server force "$name" "$how" $img "$port"
	if [ "$daemon" = dead ]; then
		kill_daemon "$name"
		"$BLK" list | grep -q "^$name .*no daemon" || fail "$name does not show as without a daemon"
	fi
	nbd_expect_pending force
	start=$(date +%s.%N)
	timeout 60 "$BLK" del --force "$name" 2> /tmp/del-force.err ||
		{ cat /tmp/del-force.err; fail "del --force (server $gone, daemon $daemon) failed or hung"; }
	took=$(elapsed_since "$start")
	nbd_expect_removed "$name" "del --force"
	[ ! -e /sys/class/vduse/"$name" ] || fail "$name still in sysfs after del --force"
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
