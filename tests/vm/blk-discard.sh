#!/bin/bash
# DISCARD punches holes in the backing file, WRITE_ZEROES reads back as
# zeros (with and without unmap) and leaves the data around it alone, and
# FLUSH reaches the file: the daemon counts the flushes its backend
# completed, and the daemon's own threads call fsync.
. "$(dirname "$0")/lib.sh"
require_blk
img=/tmp/discard.img
truncate -s 64M $img
blk_add --name disc $img
pid=$(daemon_pid disc) || fail "no pid for disc"
sys=/sys/block/${dev#/dev/}
[ "$(cat $sys/queue/discard_max_bytes)" != 0 ] || fail "$dev offers no discard"
[ "$(cat $sys/queue/write_zeroes_max_bytes)" != 0 ] || fail "$dev offers no write zeroes"

head -c 32M /dev/urandom > /tmp/discard.fill
check "fill" dd if=/tmp/discard.fill of="$dev" bs=1M oflag=direct status=none
sync
before=$(stat -c %b $img)
check "blkdiscard" blkdiscard -o 0 -l 16M "$dev"
after=$(stat -c %b $img)
[ "$after" -lt "$before" ] || fail "discard freed nothing in $img ($before -> $after blocks)"
log "discard: backing file went from $before to $after blocks"

check "blkdiscard -z (BLKZEROOUT, no unmap)" blkdiscard -z -o 16M -l 4M "$dev"
check "fallocate -p (zeroes, may unmap)" fallocate -p -o 20M -l 4M "$dev"
cmp -n $((8 << 20)) <(dd if="$dev" bs=1M skip=16 count=8 iflag=direct status=none) /dev/zero ||
	fail "write-zeroes range does not read back as zeros"
cmp -n $((8 << 20)) <(dd if=$img bs=1M skip=16 count=8 status=none) /dev/zero ||
	fail "write-zeroes range is not zero in the backing file"
# The data after the ranges is exactly what was written, on the device and
# in the file.
cmp <(dd if="$dev" bs=1M skip=24 count=8 iflag=direct status=none) \
    <(dd if=/tmp/discard.fill bs=1M skip=24 count=8 status=none) ||
	fail "data after the zeroed range changed on $dev"
cmp <(dd if=$img bs=1M skip=24 count=8 status=none) \
    <(dd if=/tmp/discard.fill bs=1M skip=24 count=8 status=none) ||
	fail "data after the zeroed range changed in the backing file"
log "write zeroes: ok, the data around it unchanged"

# FLUSH: each FLUSH the guest sends must become one completed flush of the
# backing file (backend_flushes), and writes alone must not count.
stat_total() {
	"$BLK" stats disc --json | grep -o "\"$1\": [0-9]*" | tail -n1 | grep -o '[0-9]*$'
}
f0=$(stat_total flush) b0=$(stat_total backend_flushes)
[ -n "$f0" ] && [ -n "$b0" ] || fail "stats --json lacks flush or backend_flushes"
"$BLK" stats disc | head -n1 | grep -q be-flush || fail "stats lacks the be-flush column"

# fsync(2) of the backing file by the daemon itself: a kprobe on
# vfs_fsync_range, counting only hits from the daemon's threads and its
# io_uring workers (iou-wrk-TID), not the test's own sync.
tr=/sys/kernel/tracing
[ -e $tr/kprobe_events ] || mount -t tracefs tracefs $tr ||
	fail "no tracefs to watch fsync"
echo 'p:vdkfsync vfs_fsync_range' >> $tr/kprobe_events || fail "cannot add a kprobe on vfs_fsync_range"
at_exit "echo 0 > $tr/events/kprobes/vdkfsync/enable; echo '-:vdkfsync' >> $tr/kprobe_events"
echo > $tr/trace
echo 1 > $tr/events/kprobes/vdkfsync/enable

check "write" dd if=/dev/urandom of="$dev" bs=4k count=16 oflag=direct status=none
[ "$(stat_total backend_flushes)" = "$b0" ] ||
	fail "backend_flushes went from $b0 to $(stat_total backend_flushes) without a FLUSH"
check "fsync the device" sync "$dev"
f1=$(stat_total flush) b1=$(stat_total backend_flushes)
tids=$(ls /proc/$pid/task)
echo 0 > $tr/events/kprobes/vdkfsync/enable

[ "$f1" -gt "$f0" ] || fail "no FLUSH reached the daemon ($f0 -> $f1)"
[ "$b1" -gt "$b0" ] || fail "the guest's FLUSH did not flush the backing file (backend_flushes $b0 -> $b1)"
[ $((b1 - b0)) = $((f1 - f0)) ] ||
	fail "$((f1 - f0)) FLUSH requests but $((b1 - b0)) backend flushes"
# Trace lines start "COMM-TID [cpu] ...".
all=$(grep -c ': vdkfsync:' $tr/trace)
ours=$(grep ': vdkfsync:' $tr/trace | awk -v tids=" $(echo $tids) " '{
	task = $1; tid = task; sub(/.*-/, "", tid); comm = task; sub(/-[0-9]+$/, "", comm)
	owner = comm; sub(/^iou-wrk-/, "", owner)
	if (index(tids, " " tid " ") || (comm ~ /^iou-wrk-/ && index(tids, " " owner " "))) n++
} END { print n + 0 }')
[ "$ours" -gt 0 ] || { grep ': vdkfsync:' $tr/trace; fail "the daemon (threads: $(echo $tids)) never called fsync; $all calls by others"; }
log "flush: $((f1 - f0)) FLUSH requests, $((b1 - b0)) backend flushes, $ours fsyncs by the daemon ($all in all)"
log "pass"
