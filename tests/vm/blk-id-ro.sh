#!/bin/bash
# GET_ID shows the serial in sysfs; a read-only device refuses writes and
# leaves its backing file untouched: through the kernel's block layer
# (which refuses them itself, since the disk is read-only), and through
# --vhost, where a VMM that ignores F_RO (vdk-vhost-client --read-only)
# writes anyway and the daemon's own check must answer IOERR.
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
check "del" "$BLK" del rotest
log "read-only through the block layer: ok"

# The daemon's own refusal.  The file first gets seed 41's pattern through
# a writable --vhost device; then, read-only, every OUT of seed 42 must
# fail with IOERR, and reads before and after find seed 41's data.
CLIENT=${VDK_VHOST_CLIENT:-}
[ -n "$CLIENT" ] && [ -x "$CLIENT" ] ||
	fail "VDK_VHOST_CLIENT does not name the vdk-vhost-client binary"
[ -d /sys/bus/vdpa/drivers/vhost_vdpa ] || fail "vhost_vdpa is not loaded"
truncate -s 16M /tmp/vro.img
blk_add_any --vhost --name vrw /tmp/vro.img
check "write seed 41 through --vhost" "$CLIENT" "$dev" --seed 41 --start 64 --sectors 2048
check "del" "$BLK" del vrw
sum=$(md5sum < /tmp/vro.img)
rm -f /run/vduse-blk/vro.log
blk_add_any --vhost --read-only --name vro /tmp/vro.img
[ -c "$dev" ] || fail "add --vhost --read-only printed '$dev'"
"$CLIENT" "$dev" --read-only --seed 42 --expect-seed 41 --start 64 --sectors 2048 ||
	{ tail -n 20 /run/vduse-blk/vro.log; fail "vdk-vhost-client --read-only"; }
[ "$(md5sum < /tmp/vro.img)" = "$sum" ] || fail "the backing file changed under a read-only --vhost device"
# The backend is opened read-only too; the refusal must be the daemon's own.
grep -q "refused: the device is read-only" /run/vduse-blk/vro.log ||
	{ tail -n 20 /run/vduse-blk/vro.log; fail "the daemon's read-only check did not answer the writes"; }
errs=$("$BLK" stats vro --json | grep -o '"errors": [0-9]*' | tail -n1 | grep -o '[0-9]*$')
[ "${errs:-0}" -gt 0 ] || fail "the daemon counted no errors for the refused writes"
check "del" "$BLK" del vro
log "read-only through --vhost: $errs writes refused by the daemon, file unchanged: ok"
log "pass"
