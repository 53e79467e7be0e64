#!/bin/bash
# A host block device as the backend (file:/dev/loopN): the size comes
# from the device, I/O goes through O_DIRECT, a filesystem and verified fio
# work, discard and write-zeroes reach the device as discard and zeroout
# (not as written data), a device with 4 KiB logical blocks needs and gets
# --block-size 4096, and growing the device on the host grows ours.
. "$(dirname "$0")/lib.sh"
require_blk

# loop_add FILE [losetup options]: a loop device over FILE, removed at exit.
loop_add() {
	local f=$1 l; shift
	l=$(losetup -f --show "$@" "$f") || fail "losetup $* $f"
	at_exit "losetup -d $l"
	echo "$l"
}

# has_direct_fd PID BDEV: the daemon holds BDEV open with O_DIRECT.
has_direct_fd() {
	local fd flags
	for fd in /proc/$1/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] || continue
		flags=$(awk '/^flags:/ { print $2 }' /proc/$1/fdinfo/${fd##*/})
		[ $(( 8#$flags & 8#40000 )) != 0 ] && return 0
	done
	return 1
}

stat_total() {
	"$BLK" stats "$1" --json | grep -o "\"$2\": [0-9]*" | tail -n1 | grep -o '[0-9]*$'
}

# ---- 512-byte logical blocks ----
img=/tmp/bdev.img
truncate -s 64M $img
loop=$(loop_add $img)
blk_add --name bdev "file:$loop"
sys=/sys/block/${dev#/dev/}
lsys=/sys/block/${loop#/dev/}
pid=$(daemon_pid bdev) || fail "no pid for bdev"
[ $(( $(cat $sys/size) * 512 )) = "$(blockdev --getsize64 "$loop")" ] ||
	fail "$dev has $(cat $sys/size) sectors, $loop $(blockdev --getsize64 "$loop") bytes"
has_direct_fd "$pid" "$loop" || fail "the daemon does not use O_DIRECT on $loop"

# Discard goes to the device as a discard (the loop device's own discard
# counter, field 12 of its stat, and it frees the blocks of its file).
[ "$(cat $sys/queue/discard_max_bytes)" != 0 ] || fail "$dev offers no discard over $loop"
[ "$(cat $sys/queue/write_zeroes_max_bytes)" != 0 ] || fail "$dev offers no write zeroes over $loop"
head -c 24M /dev/urandom > /tmp/bdev.fill
check "fill" dd if=/tmp/bdev.fill of="$dev" bs=1M oflag=direct status=none
check "sync" sync
d0=$(awk '{ print $12 }' $lsys/stat) b0=$(stat -c %b $img)
check "blkdiscard" blkdiscard -f -o 0 -l 8M "$dev"
d1=$(awk '{ print $12 }' $lsys/stat) b1=$(stat -c %b $img)
[ "$d1" -gt "$d0" ] || fail "no discard reached $loop ($d0 -> $d1)"
[ "$b1" -lt "$b0" ] || fail "discard freed nothing in $img ($b0 -> $b1 blocks)"
log "discard: $((d1 - d0)) discards reached $loop, its file went from $b0 to $b1 blocks"

# Write zeroes that may unmap (fallocate -p) reach the device as a
# zeroout that may unmap: the loop device frees the blocks of its file,
# which written zeros would not.  Then without unmap (BLKZEROOUT).
b1=$(stat -c %b $img)
check "fallocate -p (may unmap)" fallocate -p -o 8M -l 4M "$dev"
b2=$(stat -c %b $img)
[ "$b2" -lt "$b1" ] || fail "write zeroes with unmap freed nothing in $img ($b1 -> $b2 blocks)"
check "blkdiscard -z (no unmap)" blkdiscard -z -o 12M -l 4M "$dev"
for f in "$dev" "$loop" "$img"; do
	cmp -n $((8 << 20)) <(dd if="$f" bs=1M skip=8 count=8 status=none) /dev/zero ||
		fail "the zeroed range does not read back as zeros from $f"
done
cmp <(dd if="$dev" bs=1M skip=16 count=8 iflag=direct status=none) \
    <(dd if=/tmp/bdev.fill bs=1M skip=16 count=8 status=none) ||
	fail "data after the zeroed range changed"
log "write zeroes: ok; with unmap the file went from $b1 to $b2 blocks"
[ "$(stat_total bdev errors)" = 0 ] || fail "the daemon answered IOERR: $("$BLK" stats bdev)"
# (After these, not before: the zeroing without unmap just done makes the
# loop device try ZERO_RANGE on its tmpfs file, which tmpfs lacks, and the
# loop device then stops offering write zeroes at all.)
fs_round_trip "$dev"
fio_verify "$dev"

# Growing the device on the host: resize adopts the new size, and asking
# for more than the device has is refused with what to do.
check "grow the file" truncate -s 128M $img
check "losetup -c" losetup -c "$loop"
check "resize" "$BLK" resize bdev 128M
for i in $(seq 50); do [ "$(cat $sys/size)" = $((128 * 2048)) ] && break; sleep 0.1; done
[ "$(cat $sys/size)" = $((128 * 2048)) ] || fail "kernel sees $(cat $sys/size) sectors after resize"
expect_fail "grow it on the host first" "$BLK" resize bdev 256M
# The daemon also notices growth by itself (it checks the size every second).
check "grow the file again" truncate -s 192M $img
check "losetup -c again" losetup -c "$loop"
for i in $(seq 100); do [ "$(cat $sys/size)" = $((192 * 2048)) ] && break; sleep 0.1; done
[ "$(cat $sys/size)" = $((192 * 2048)) ] || fail "kernel sees $(cat $sys/size) sectors after the device grew"
check "verify after growing" fio_verify "$dev" --offset=128M --size=32M
log "resize: ok"
check "del" "$BLK" del bdev

# ---- 4 KiB logical blocks ----
img4k=/tmp/bdev4k.img
truncate -s 64M $img4k
loop4k=$(loop_add $img4k -b 4096)
[ "$(blockdev --getss "$loop4k")" = 4096 ] || fail "$loop4k does not have 4 KiB logical blocks"
expect_fail "has 4096-byte logical blocks" "$BLK" add --name bdev4k "file:$loop4k"
[ -e /dev/vduse/bdev4k ] && fail "a refused add left a device behind"
blk_add --name bdev4k --block-size 4096 "file:$loop4k"
sys=/sys/block/${dev#/dev/}
pid=$(daemon_pid bdev4k) || fail "no pid for bdev4k"
[ "$(cat $sys/queue/logical_block_size)" = 4096 ] ||
	fail "$dev has $(cat $sys/queue/logical_block_size)-byte logical blocks"
[ $(( $(cat $sys/size) * 512 )) = $((64 << 20)) ] || fail "$dev has $(cat $sys/size) sectors"
has_direct_fd "$pid" "$loop4k" || fail "the daemon does not use O_DIRECT on $loop4k"
fio_verify "$dev" --bsrange=4k-128k --iodepth=32
fs_round_trip "$dev"
lsys=/sys/block/${loop4k#/dev/}
d0=$(awk '{ print $12 }' $lsys/stat)
check "blkdiscard on 4K" blkdiscard -f -o 2M -l 1M "$dev"
d1=$(awk '{ print $12 }' $lsys/stat)
[ "$d1" -gt "$d0" ] || fail "no discard reached $loop4k ($d0 -> $d1)"
check "blkdiscard -z on 4K" blkdiscard -f -z -o 4M -l 1M "$dev"
cmp -n $((1 << 20)) <(dd if="$loop4k" bs=1M skip=4 count=1 iflag=direct status=none) /dev/zero ||
	fail "write zeroes did not reach $loop4k"
[ "$(stat_total bdev4k errors)" = 0 ] || fail "the daemon answered IOERR: $("$BLK" stats bdev4k)"
log "pass"
