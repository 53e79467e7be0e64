#!/bin/bash
# A recover that fails leaves the device as it was, for another try:
# first its state file does not match the rings (the resume fails), then
# the control thread cannot start while the resumed queue thread already
# runs (RLIMIT_NPROC of the daemon's user allows two threads: the main
# one and the queue's); then the state file is missing, incomplete or an
# earlier device's.  Each time the device stays, the daemon cleans up
# without crashing, and the last recover serves the data intact.
. "$(dirname "$0")/lib.sh"
require_blk

img=/tmp/rfail.img
truncate -s 64M $img
blk_add --name rfail "$img"
head -c 4M /dev/urandom > /tmp/rfail-data
check "write" dd if=/tmp/rfail-data of="$dev" bs=1M oflag=direct conv=fsync status=none
pid=$(daemon_pid rfail)
kill -KILL "$pid"
while kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
log=/run/vduse-blk/rfail.log

# A failed daemon reports first and cleans up after: wait until it is gone.
wait_failed() {
	local i
	for i in $(seq 1200); do
		pgrep -f "vduse-blk recover rfail" > /dev/null || return 0
		sleep 0.05
	done
	fail "the failed daemon is still running after 60 s"
}

# 1. Queue 0's log says 8 entries; the ring has 256.  The log starts after
# the 344-byte header (struct vdk_state_hdr), its first field is the size.
state=/run/vduse-blk/rfail.state
saved=$(od -An -tx1 -j344 -N4 $state | tr -d ' \n')
printf '\010\000\000\000' | dd of=$state bs=1 seek=344 conv=notrunc status=none
expect_fail "saved state is for 8 entries" "$BLK" recover rfail
wait_failed
[ -e /sys/class/vduse/rfail ] || fail "a failed resume destroyed the device"
grep -q "handed rfail over" $log || { cat $log; fail "the failed daemon did not let go cleanly"; }
printf "$(echo "$saved" | sed 's/../\\x&/g')" | dd of=$state bs=1 seek=344 conv=notrunc status=none
log "a failed resume left the device"

# 2. The control thread cannot start; the queue thread runs already.
lines=$(grep -c "handed rfail over" $log)
expect_fail "cannot start the control thread" bash -c "ulimit -u 2 && exec '$BLK' recover rfail"
wait_failed
[ -e /sys/class/vduse/rfail ] || fail "a failed control thread destroyed the device"
grep -q "adopted rfail: 1 queue resumed" $log || { cat $log; fail "the queue was not resumed first"; }
for i in $(seq 40); do
	[ "$(grep -c "handed rfail over" $log)" -gt "$lines" ] && break
	sleep 0.05
done
[ "$(grep -c "handed rfail over" $log)" -gt "$lines" ] ||
	{ cat $log; fail "the daemon did not stop its queue and let go (crashed?)"; }
log "a failed control thread left the device; the queue stopped first"

# 3. The state file as a crash while it was being created would leave it
# (test-state-crash proves these are the only outcomes): absent, its
# header without the magic (stored last), or an earlier device's of the
# same name (node_ino, at offset 280, names another /dev/vduse node).
# recover refuses each, naming the file, and the device stays.
cp $state /tmp/rfail.state.good
rm $state
expect_fail "cannot open the state file $state" "$BLK" recover rfail
wait_failed
cp /tmp/rfail.state.good $state
printf '\000\000\000\000' | dd of=$state bs=1 conv=notrunc status=none
expect_fail "state file $state is not rfail's" "$BLK" recover rfail
wait_failed
cp /tmp/rfail.state.good $state
printf '\001\002\003\004\005\006\007\010' | dd of=$state bs=1 seek=280 conv=notrunc status=none
expect_fail "belongs to an earlier device named rfail" "$BLK" recover rfail
wait_failed
[ -e /sys/class/vduse/rfail ] || fail "a refused state file destroyed the device"
cp /tmp/rfail.state.good $state
log "missing, incomplete and stale state files: refused, device kept"

# 4. Now it works, and the data are there.
check "recover" "$BLK" recover rfail
check "read back" dd if="$dev" of=/tmp/rfail-back bs=1M count=4 iflag=direct status=none
cmp /tmp/rfail-data /tmp/rfail-back || fail "data differ after the failed recovers"
check "write after recover" dd if=/tmp/rfail-data of="$dev" bs=1M seek=8 oflag=direct conv=fsync status=none
check "del" "$BLK" del rfail

# 5. A device left with a header-less state file (a crash mid-create):
# del still removes the device and every file of it.
blk_add --name rfail2 "$img"
kill_daemon rfail2
printf '\000\000\000\000' | dd of=/run/vduse-blk/rfail2.state bs=1 conv=notrunc status=none
expect_fail "rfail2 cannot be recovered; remove it with '$(basename "$BLK") del rfail2'" "$BLK" recover rfail2
check "del after a refused recover" "$BLK" del rfail2
[ -e /sys/class/vduse/rfail2 ] && fail "del left the device"
ls /run/vduse-blk/rfail2.conf /run/vduse-blk/rfail2.state /run/vduse-blk/rfail2.sock 2>/dev/null &&
	fail "del left files behind"
log "pass"
