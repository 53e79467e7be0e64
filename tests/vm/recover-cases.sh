#!/bin/bash
# Kills at awkward moments: during mkfs (fsck must be clean after recover),
# during device setup and during del (then del and add must still work);
# and an upgrade: the daemon is replaced under fio without an I/O error.
. "$(dirname "$0")/lib.sh"
require_blk


# 1. mkfs interrupted by a crash, recovered: the filesystem is consistent.
truncate -s 256M /tmp/mk.img
blk_add --name mk /tmp/mk.img
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" &
mkfs=$!
sleep 0.5
kill -KILL "$(daemon_pid mk)"
sleep 0.2
check "recover during mkfs" "$BLK" recover mk
wait $mkfs || fail "mkfs.ext4 failed across the crash"
check "fsck -fn clean after crash during mkfs" fsck.ext4 -fn "$dev"
log "crash during mkfs: ok"

# 1b. What systemd's restart does: add --adopt takes the orphan over.
kill -KILL "$(daemon_pid mk)"
sleep 0.2
check "add --adopt of an orphan" "$BLK" add --adopt --name mk /tmp/mk.img
[ -n "$(daemon_pid mk)" ] || fail "add --adopt started no daemon"
check "fsck through the adopted device" fsck.ext4 -fn "$dev" > /dev/null 2>&1
expect_fail "running daemon" "$BLK" add --adopt --name mk /tmp/mk.img
check "del" "$BLK" del mk
log "add --adopt: ok"

# 2. Killed while setting up: del cleans up, add works again.
truncate -s 32M /tmp/setup.img
for delay in 0.05 0.1 0.2 0.3 0.4 0.6; do
	"$BLK" add --name setup --foreground /tmp/setup.img > /dev/null 2>&1 &
	p=$!
	sleep $delay
	kill -KILL $p 2>/dev/null
	wait $p 2>/dev/null
	if [ -e /sys/class/vduse/setup ]; then
		check "del after a crash during setup ($delay s)" timeout 120 "$BLK" del setup
	fi
	[ -e /sys/class/vduse/setup ] && fail "setup device left behind"
	blk_add --name setup /tmp/setup.img
	check "del" "$BLK" del setup
done
log "crash during setup: ok"

# 3. Killed while deleting: del again and add again work.
truncate -s 32M /tmp/del.img
blk_add --name dl /tmp/del.img
pid=$(daemon_pid dl)
"$BLK" del dl > /dev/null 2>&1 &
delp=$!
sleep 0.1
kill -KILL "$pid" 2>/dev/null
wait $delp
if [ -e /sys/class/vduse/dl ]; then
	check "del after a crash during del" timeout 120 "$BLK" del dl
fi
[ -e /sys/class/vduse/dl ] && fail "device left behind after del"
blk_add --name dl /tmp/del.img
check "del" "$BLK" del dl
log "crash during del: ok"

# 4. Upgrade under load: no I/O error.
truncate -s 64M /tmp/up.img
blk_add --name up --queues 2 /tmp/up.img
fio --name=up --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=4k --iodepth=16 --size=24M --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --verify_state_save=0 --output=/tmp/up.fio.log &
fio=$!
sleep 1
old=$(daemon_pid up)
check "upgrade" "$BLK" upgrade up
new=$(daemon_pid up)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "upgrade did not start a new daemon ($old -> $new)"
wait $fio || { cat /tmp/up.fio.log; fail "fio failed across the upgrade"; }
grep -q "err= 0" /tmp/up.fio.log || { cat /tmp/up.fio.log; fail "fio errors across the upgrade"; }
check "del" "$BLK" del up
log "upgrade under load: ok"

# 5. Nothing to recover: clear messages.
expect_fail "no device" "$BLK" recover nosuch
blk_add --name live memory:8M
expect_fail "running daemon" "$BLK" recover live
# A RAM disk's data dies with its daemon: recovering it would be a lie.
kill -KILL "$(daemon_pid live)"
sleep 0.2
expect_fail "RAM disk" "$BLK" recover live
check "del of a dead RAM disk" timeout 120 "$BLK" del live
[ -e /sys/class/vduse/live ] && fail "dead RAM disk left behind"
log "pass"
