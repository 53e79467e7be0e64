#!/bin/bash
# del while fio runs: the kernel completes what was in flight, fio ends
# (with an I/O error once the device is gone, not hung or killed), the
# daemon removes the device and exits cleanly, and the name can be added
# again.  SIGTERM to a --foreground daemon with I/O in flight: the same,
# and the daemon exits 0.
. "$(dirname "$0")/lib.sh"
require_blk

# wait_busy DEV: until DEV has requests in flight (fio is running).
wait_busy() {
	local sys=/sys/block/${1#/dev/} i
	for i in $(seq 100); do
		[ "$(awk '{print $1 + $2}' $sys/inflight)" -gt 0 ] && return 0
		sleep 0.05
	done
	return 1
}

# fio_ended PID LOG WHAT: fio ends within 30 s of the device going away,
# by itself (its jobs fail once the device is gone, e.g. ENOSPC: the
# capacity is 0), neither hung in the kernel nor killed by a signal.
fio_ended() {
	local fio=$1 st
	timeout 30 tail --pid="$fio" -f /dev/null ||
		{ cat "$2"; grep -r . /proc/"$fio"/task/*/wchan 2>/dev/null; fail "fio hung after $3"; }
	wait "$fio"
	st=$?
	[ $st -lt 124 ] || { cat "$2"; fail "fio exited $st (killed?) after $3"; }
	log "fio ended with status $st after $3; $(grep -o 'error=[^)]*' "$2" | sort | uniq -c | tr -s ' \n' ' ')"
}

truncate -s 64M /tmp/busy.img
blk_add --name busy --queues 2 /tmp/busy.img
pid=$(daemon_pid busy) || fail "no pid for busy"
fio --name=busy --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
    --bs=4k --iodepth=32 --numjobs=2 --time_based --runtime=60 \
    --output=/tmp/fio-busy.log > /dev/null 2>&1 &
fio=$!
sleep 1
wait_busy "$dev" || fail "no request in flight before del"
kill -0 $fio 2>/dev/null || { cat /tmp/fio-busy.log; fail "fio not running at del"; }
check "del under load" timeout 60 "$BLK" del busy
kill -0 "$pid" 2>/dev/null && fail "daemon $pid still running after del"
grep -q "device busy removed" /run/vduse-blk/busy.log ||
	{ cat /run/vduse-blk/busy.log; fail "the daemon did not log a clean removal after del"; }
grep -E "detach:|destroy:" /run/vduse-blk/busy.log &&
	fail "the daemon logged an error while removing the device"
fio_ended $fio /tmp/fio-busy.log del
[ -e /dev/vduse/busy ] && fail "device still exists"
log "del under load: ok"
blk_add --name busy /tmp/busy.img
check "del again" "$BLK" del busy

"$BLK" add --name term --foreground /tmp/busy.img > /tmp/term.node 2> /tmp/term.log &
daemon=$!
for i in $(seq 100); do [ -s /tmp/term.node ] && break; sleep 0.1; done
dev=$(cat /tmp/term.node)
wait_blockdev "$dev" || fail "foreground add made no device"
fio --name=term --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=64k --iodepth=32 --time_based --runtime=60 \
    --output=/tmp/fio-term.log > /dev/null 2>&1 &
fio=$!
sleep 1
wait_busy "$dev" || fail "no request in flight before SIGTERM"
kill -0 $fio 2>/dev/null || { cat /tmp/fio-term.log; fail "fio not running at SIGTERM"; }
kill -TERM $daemon
timeout 60 tail --pid=$daemon -f /dev/null || fail "daemon did not exit after SIGTERM"
wait $daemon
status=$?
[ $status = 0 ] || { cat /tmp/term.log; fail "daemon exited $status after SIGTERM"; }
grep -q "device term removed" /tmp/term.log ||
	{ cat /tmp/term.log; fail "the daemon did not log a clean removal after SIGTERM"; }
fio_ended $fio /tmp/fio-term.log SIGTERM
[ -e /dev/vduse/term ] && fail "device left behind after SIGTERM"
log "pass"
