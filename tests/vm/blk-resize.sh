#!/bin/bash
# resize grows the device the kernel sees, online, under a mounted
# filesystem; shrinking and bad sizes are refused.
. "$(dirname "$0")/lib.sh"
require_blk
truncate -s 64M /tmp/resize.img
blk_add --name grow /tmp/resize.img
sys=/sys/block/${dev#/dev/}
mnt=$(mktemp -d)
check "mkfs" mkfs.ext4 -q "$dev"
check "mount" mount "$dev" "$mnt"
at_exit "umount $mnt 2>/dev/null"
check "resize" "$BLK" resize grow 128M
for i in $(seq 50); do [ "$(cat $sys/size)" = $((128 * 2048)) ] && break; sleep 0.1; done
[ "$(cat $sys/size)" = $((128 * 2048)) ] || fail "kernel sees $(cat $sys/size) sectors after resize"
[ "$(stat -c %s /tmp/resize.img)" = $((128 << 20)) ] || fail "backing file not grown"
check "resize2fs online" resize2fs "$dev" > /dev/null 2>&1
blocks=$(df -k --output=size "$mnt" | tail -n1)
[ "$blocks" -gt 100000 ] || fail "filesystem did not grow ($blocks KiB)"
expect_fail "shrink" "$BLK" resize grow 32M
expect_fail "multiple" "$BLK" resize grow 100000001
expect_fail "no device" "$BLK" resize nosuch 1G
check "umount" umount "$mnt"
log "pass"
