#!/bin/bash
# del while fio runs: no hang, no daemon crash, and the name can be added
# again.  SIGTERM to a --foreground daemon with I/O in flight: it drains,
# removes the device and exits 0.
. "$(dirname "$0")/lib.sh"
require_blk
truncate -s 64M /tmp/busy.img
blk_add --name busy --queues 2 /tmp/busy.img
pid=$("$BLK" list --json | grep -o '"name": "busy"[^}]*"pid": [0-9]*' | grep -o '[0-9]*$')
fio --name=busy --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
    --bs=4k --iodepth=32 --numjobs=2 --time_based --runtime=60 \
    --output=/tmp/fio-busy.log > /dev/null 2>&1 &
fio=$!
sleep 2
check "del under load" timeout 60 "$BLK" del busy
kill -0 "$pid" 2>/dev/null && fail "daemon $pid still running after del"
timeout 30 wait $fio
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
    --bs=64k --iodepth=32 --time_based --runtime=60 > /dev/null 2>&1 &
fio=$!
sleep 2
kill -TERM $daemon
timeout 60 tail --pid=$daemon -f /dev/null || fail "daemon did not exit after SIGTERM"
wait $daemon
status=$?
[ $status = 0 ] || { cat /tmp/term.log; fail "daemon exited $status after SIGTERM"; }
timeout 30 wait $fio
[ -e /dev/vduse/term ] && fail "device left behind after SIGTERM"
log "pass"
