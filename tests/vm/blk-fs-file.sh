#!/bin/bash
# File backend: a filesystem round trip, then delete and re-add the device
# over the same file and find the data still there.
. "$(dirname "$0")/lib.sh"
require_blk
img=/tmp/fs-file.img
truncate -s 128M $img
blk_add --name fsfile $img
fs_round_trip "$dev"
check "del" "$BLK" del fsfile
[ -e /dev/vduse/fsfile ] && fail "/dev/vduse/fsfile still exists after del"

blk_add --name fsfile file:$img
mnt=$(mktemp -d)
check "mount after re-add" mount "$dev" "$mnt"
check "data survived delete and re-add" cmp /tmp/fs-payload "$mnt/payload"
umount "$mnt"
check "fsck after re-add" fsck.ext4 -fn "$dev"
log "pass"
