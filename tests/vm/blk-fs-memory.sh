#!/bin/bash
# Memory backend: a filesystem round trip on a RAM disk; discard gives the
# RAM back although the daemon keeps its memory locked; resize grows it
# online under a mounted filesystem.
. "$(dirname "$0")/lib.sh"
require_blk
blk_add --name fsmem memory:96M
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((96 * 2048)) ] || fail "size of $dev"
fs_round_trip "$dev"

# The daemon's resident memory, anonymous and shared, in KiB.
daemon_rss() {
	awk '/^(RssAnon|RssShmem):/ { kib += $2 } END { print kib }' /proc/"$1"/status
}
pid=$(daemon_pid fsmem) || fail "no daemon for fsmem"
grep -q '^VmLck:[[:space:]]*[1-9]' /proc/"$pid"/status || fail "the daemon's memory is not locked"
check "fill" dd if=/dev/urandom of="$dev" bs=1M count=64 oflag=direct status=none
full=$(daemon_rss "$pid")
check "discard" blkdiscard "$dev"
freed=$(daemon_rss "$pid")
log "daemon resident memory: $full KiB full, $freed KiB after blkdiscard"
[ $((full - freed)) -ge $((56 * 1024)) ] || fail "blkdiscard gave back only $((full - freed)) KiB of 64 MiB"

# Grow online: 96M -> 192M under a mounted filesystem.
mnt=$(mktemp -d)
check "mkfs" mkfs.ext4 -q "$dev"
check "mount" mount "$dev" "$mnt"
at_exit "umount $mnt 2>/dev/null"
check "write" dd if=/dev/urandom of="$mnt"/a bs=1M count=32 status=none
sum=$(md5sum < "$mnt"/a)
check "resize" "$BLK" resize fsmem 192M
sys=/sys/block/${dev#/dev/}
for i in $(seq 50); do [ "$(cat $sys/size)" = $((192 * 2048)) ] && break; sleep 0.1; done
[ "$(cat $sys/size)" = $((192 * 2048)) ] || fail "kernel sees $(cat $sys/size) sectors after resize"
check "resize2fs online" resize2fs "$dev" > /dev/null 2>&1
check "write after growing" dd if=/dev/urandom of="$mnt"/b bs=1M count=120 status=none
[ "$(md5sum < "$mnt"/a)" = "$sum" ] || fail "data changed across the resize"
expect_fail "shrink" "$BLK" resize fsmem 64M
check "umount" umount "$mnt"
fsck.ext4 -fn "$dev" > /tmp/fsck.log 2>&1 || { cat /tmp/fsck.log; fail "fsck after growing"; }
log "pass"
