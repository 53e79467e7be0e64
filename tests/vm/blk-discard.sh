#!/bin/bash
# DISCARD punches holes in the backing file, WRITE_ZEROES reads back as
# zeros (with and without unmap), and FLUSH reaches the file.
. "$(dirname "$0")/lib.sh"
require_blk
img=/tmp/discard.img
truncate -s 64M $img
blk_add --name disc $img
sys=/sys/block/${dev#/dev/}
[ "$(cat $sys/queue/discard_max_bytes)" != 0 ] || fail "$dev offers no discard"
[ "$(cat $sys/queue/write_zeroes_max_bytes)" != 0 ] || fail "$dev offers no write zeroes"

check "fill" dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none
sync
before=$(stat -c %b $img)
check "blkdiscard" blkdiscard -o 0 -l 16M "$dev"
after=$(stat -c %b $img)
[ "$after" -lt "$before" ] || fail "discard freed nothing in $img ($before -> $after blocks)"
log "discard: backing file went from $before to $after blocks"

check "blkdiscard -z" blkdiscard -z -o 16M -l 8M "$dev"
cmp -n $((8 << 20)) <(dd if="$dev" bs=1M skip=16 count=8 iflag=direct status=none) /dev/zero ||
	fail "write-zeroes range does not read back as zeros"
cmp -n $((8 << 20)) <(dd if=$img bs=1M skip=16 count=8 status=none) /dev/zero ||
	fail "write-zeroes range is not zero in the backing file"
# Data around the ranges is untouched.
dd if="$dev" bs=1M skip=24 count=8 iflag=direct status=none | cmp -s - /dev/zero -n $((8 << 20)) &&
	fail "data after the zeroed range was lost"
log "write zeroes: ok"

# FLUSH: an fsync of the block device must reach the backing file.
flushes() { "$BLK" stats disc --json | grep -o '"flush": [0-9]*' | tail -n1 | grep -o '[0-9]*$'; }
f0=$(flushes)
tr=/sys/kernel/tracing
probe=0
if [ -e $tr/kprobe_events ] || mount -t tracefs tracefs $tr 2>/dev/null; then
	if echo 'p:vdkfsync vfs_fsync_range' >> $tr/kprobe_events 2>/dev/null; then
		probe=1
		echo 1 > $tr/events/kprobes/vdkfsync/enable
		echo > $tr/trace
	fi
fi
check "write" dd if=/dev/urandom of="$dev" bs=4k count=16 status=none
check "fsync the device" sync "$dev"
f1=$(flushes)
[ "$f1" -gt "$f0" ] || fail "no FLUSH reached the daemon ($f0 -> $f1)"
if [ $probe = 1 ]; then
	echo 0 > $tr/events/kprobes/vdkfsync/enable
	hits=$(grep -c 'vdkfsync' $tr/trace)
	echo '-:vdkfsync' >> $tr/kprobe_events
	[ "$hits" -gt 0 ] || fail "FLUSH did not fsync the backing file"
	log "flush: $((f1 - f0)) FLUSH requests, $hits fsyncs of the backing file"
else
	log "flush: $((f1 - f0)) FLUSH requests (no kprobes here to watch fsync)"
fi
log "pass"
