#!/bin/bash
# GET_ID shows the serial in sysfs; a read-only device refuses writes and
# leaves its backing file untouched.
. "$(dirname "$0")/lib.sh"
require_blk
truncate -s 16M /tmp/id.img
blk_add --name idtest --serial VDK-SERIAL-42 /tmp/id.img
[ "$(cat /sys/block/${dev#/dev/}/serial)" = VDK-SERIAL-42 ] ||
	fail "serial is '$(cat /sys/block/${dev#/dev/}/serial)'"
log "serial: ok"

head -c 1M /dev/urandom > /tmp/ro.img
truncate -s 16M /tmp/ro.img
sum=$(md5sum < /tmp/ro.img)
blk_add --name rotest --read-only /tmp/ro.img
[ "$(blockdev --getro "$dev")" = 1 ] || fail "$dev is not read-only"
dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "a write to the read-only device succeeded"
blockdev --setrw "$dev" 2>/dev/null
dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "a write to the read-only device succeeded after --setrw"
[ "$(md5sum < /tmp/ro.img)" = "$sum" ] || fail "the backing file changed"
cmp -n $((1 << 20)) "$dev" /tmp/ro.img || fail "read-only device reads wrong data"
log "pass"
