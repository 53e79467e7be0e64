#!/bin/bash
# The vhost-user bridge without its back-end: --io-timeout fails what waits
# and what comes after, until the back-end is back; and `del` of a device
# whose back-end is gone, with I/O waiting, still ends (the requests fail).
. "$(dirname "$0")/bridge-lib.sh"
require_blk
img=/tmp/bridge.img
sock=/tmp/bridge.sock
truncate -s 64M $img
qsd_start $img $sock 1
at_exit "kill \$qsd_pid 2>/dev/null"

blk_add --name brt --io-timeout 3 vhost-user:$sock
check "read with the back-end there" dd if="$dev" of=/dev/null bs=4k count=16 iflag=direct status=none
qsd_kill
start=$(date +%s.%N)
dd if="$dev" of=/dev/null bs=4k count=1 skip=100 iflag=direct status=none 2> /tmp/dd.err &&
	fail "a read succeeded with the back-end gone"
took=$(elapsed_since $start)
grep -q "Input/output error" /tmp/dd.err || { cat /tmp/dd.err; fail "the read failed, but not with EIO"; }
log "the waiting read failed after $took s (--io-timeout 3)"
within "$took" 8 || fail "the read waited $took s; --io-timeout 3 promises about 3"
within 2.5 "$took" || fail "the read failed after $took s, before --io-timeout 3"
start=$(date +%s.%N)
dd if="$dev" of=/dev/null bs=4k count=1 skip=200 iflag=direct status=none 2> /dev/null &&
	fail "a read succeeded with the back-end gone"
took=$(elapsed_since $start)
within "$took" 2 || fail "a read after the timeout waited $took s; it should fail at once"
"$BLK" stats brt --json | grep -q '"errors": [1-9]' || { "$BLK" stats brt; fail "stats count no errors"; }
grep -q "io-timeout" /run/vduse-blk/brt.log || fail "the log does not say why I/O fails"
qsd_start $img $sock 1
for i in $(seq 200); do
	grep -q "is back after" /run/vduse-blk/brt.log && break
	sleep 0.1
done
grep -q "is back after" /run/vduse-blk/brt.log || fail "the bridge did not reconnect within 20 s"
check "read once the back-end is back" dd if="$dev" of=/dev/null bs=4k count=16 skip=300 iflag=direct status=none
fio_verify "$dev" --size=8M
check "del" "$BLK" del brt

# No --io-timeout: I/O waits for the back-end; del must still end.
blk_add --name brw vhost-user:$sock
qsd_kill
dd if="$dev" of=/dev/null bs=4k count=1 skip=400 iflag=direct status=none 2> /tmp/dd.err &
dd_pid=$!
sleep 2
kill -0 $dd_pid 2>/dev/null || fail "a read completed with the back-end gone and no --io-timeout"
start=$(date +%s.%N)
check "del with the back-end gone" "$BLK" del brw
took=$(elapsed_since $start)
log "del with I/O waiting and the back-end gone took $took s"
within "$took" 20 || fail "del took $took s"
[ -e /dev/vduse/brw ] && fail "/dev/vduse/brw still exists after del"
wait $dd_pid && fail "the waiting read succeeded"
grep -q "failed with an I/O error" /run/vduse-blk/brw.log 2>/dev/null ||
	log "(brw's log is gone with the device)"
log "pass"
