#!/bin/bash
# RBD backend against a real one-node cluster: filesystem round trip and
# verified fio; what the device wrote is what `rbd export` reads; discard
# and write-zeroes; `rbd resize` while mounted grows the device and the
# filesystem online; a snapshot, added read-only, shows the data as of the
# snapshot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rbd-lib.sh"
require_blk
rbd_cluster_up

check "create rbd/fs" rbd_cli create --size 256M rbd/fs
blk_add --name rbdfs --queues 2 rbd:rbd/fs
[ "$(blockdev --getsize64 "$dev")" = 268435456 ] || fail "$dev is not 256 MiB"
[ "$(blockdev --getro "$dev")" = 0 ] || fail "$dev should be writable"
fs_round_trip "$dev"
fio_verify "$dev" --numjobs=2 --offset_increment=64M --iodepth=32 --bsrange=512-128k --size=24M

# Zeroes, with and without unmap; discard is accepted.
head -c 4M /dev/urandom > /tmp/rand4m
check "write 4 MiB" dd if=/tmp/rand4m of="$dev" bs=1M oflag=direct conv=fsync status=none
check "write-zeroes (keep allocated)" blkdiscard -z -o 0 -l 1M "$dev"
check "write-zeroes (may unmap)" fallocate -p -o 1M -l 1M "$dev"
check "read back" dd if="$dev" of=/tmp/back4m bs=1M count=4 iflag=direct status=none
cmp -n 2M /tmp/back4m /dev/zero > /dev/null || fail "zeroed range does not read as zeroes"
cmp -i 2M /tmp/rand4m /tmp/back4m > /dev/null || fail "data next to the zeroed range changed"
check "discard" blkdiscard -o 8M -l 8M "$dev"
log "write-zeroes and discard: ok"

# The device's data is the image's data, as another client reads it.
head -c 32M /dev/urandom > /tmp/pattern
check "write the pattern" dd if=/tmp/pattern of="$dev" bs=1M seek=16 oflag=direct conv=fsync status=none
check "rbd export" rbd_cli export rbd/fs /tmp/export.img --no-progress
cmp -i 0:$((16 << 20)) -n $((32 << 20)) /tmp/pattern /tmp/export.img ||
	fail "rbd export does not match what was written through $dev"
rm -f /tmp/export.img
log "rbd export matches the device"

# Online growth: rbd resize reaches the mounted device, resize2fs follows.
mnt=$(mktemp -d /tmp/mnt.XXXXXX)
check "mkfs" mkfs.ext4 -q -F "$dev"
check "mount" mount "$dev" "$mnt"
before=$(df -B1 --output=size "$mnt" | tail -n1)
check "rbd resize" rbd_cli resize --size 512M rbd/fs --no-progress
rbd_wait_size "$dev" 536870912 || fail "$dev did not grow to 512 MiB: $(blockdev --getsize64 "$dev")"
check "resize2fs online" resize2fs "$dev" > /dev/null 2>&1
after=$(df -B1 --output=size "$mnt" | tail -n1)
[ "$after" -gt $((before + (200 << 20))) ] || fail "filesystem did not grow: $before -> $after"
check "write after growth" dd if=/dev/urandom of="$mnt/big" bs=1M count=300 conv=fsync status=none
check "umount" umount "$mnt"
check "fsck after growth" fsck.ext4 -fn "$dev" > /dev/null 2>&1
log "rbd resize while mounted: $before -> $after bytes of filesystem"
check "del" "$BLK" del rbdfs

# Snapshot: the data as it was when the snapshot was taken.
check "create rbd/snap" rbd_cli create --size 64M rbd/snap
blk_add --name rbdsnap rbd:rbd/snap
head -c 8M /dev/urandom > /tmp/before
head -c 8M /dev/urandom > /tmp/after
check "write before" dd if=/tmp/before of="$dev" bs=1M oflag=direct conv=fsync status=none
check "rbd snap create" rbd_cli snap create rbd/snap@s1 --no-progress
check "write after" dd if=/tmp/after of="$dev" bs=1M oflag=direct conv=fsync status=none
blk_add --name rbdsnap1 --read-only rbd:rbd/snap@s1
[ "$(blockdev --getro "$dev")" = 1 ] || fail "the snapshot device should be read-only"
check "read the snapshot" dd if="$dev" of=/tmp/back bs=1M count=8 iflag=direct status=none
cmp /tmp/before /tmp/back > /dev/null || fail "the snapshot does not show the data as of the snapshot"
dd if=/tmp/after of="$dev" bs=4k count=1 oflag=direct status=none 2> /dev/null &&
	fail "a write to the snapshot device succeeded"
check "del snapshot device" "$BLK" del rbdsnap1
check "del" "$BLK" del rbdsnap
log "snapshot read-only: ok"
log "pass"
