#!/bin/bash
# Resets, faults and pressure: the driver unbound or the vdpa device deleted
# under I/O (the daemon drains and stays up or exits cleanly, never crashes
# or hangs); a full backing file system (ENOSPC fails only those requests
# and the device serves again once space is back); a writer squeezed by a
# small cgroup memory.max writing through the device (progress, no
# deadlock); and the serving daemon's privileges and control socket.
. "$(dirname "$0")/lib.sh"
require_blk


# 1. Unbind the driver under load, bind it again: the device comes back.
truncate -s 64M /tmp/ub.img
blk_add --name ub --queues 2 /tmp/ub.img
pid=$(daemon_pid ub)
fio --name=ub --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
    --bs=4k --iodepth=32 --time_based --runtime=30 > /dev/null 2>&1 &
fio=$!
sleep 2
check "unbind under load" timeout 60 sh -c "echo ub > /sys/bus/vdpa/drivers/virtio_vdpa/unbind"
timeout 60 tail --pid=$fio -f /dev/null || fail "fio hung after unbind"
kill -0 "$pid" || fail "daemon died after unbind"
check "bind again" sh -c "echo ub > /sys/bus/vdpa/drivers/virtio_vdpa/bind"
for i in $(seq 50); do
	blk=$(ls /sys/bus/vdpa/devices/ub/virtio*/block 2>/dev/null | head -n1)
	[ -n "$blk" ] && break
	sleep 0.1
done
[ -n "$blk" ] && wait_blockdev /dev/$blk || fail "no block device after binding again"
fio_verify /dev/$blk --size=8M
check "del" "$BLK" del ub
log "unbind/bind under load: ok"

# 2. vdpa dev del under load: the daemon stays up (or exits 0); del works.
truncate -s 64M /tmp/vd.img
blk_add --name vd /tmp/vd.img
pid=$(daemon_pid vd)
fio --name=vd --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=16k --iodepth=32 --time_based --runtime=30 > /dev/null 2>&1 &
fio=$!
sleep 2
check "vdpa dev del under load" timeout 60 vdpa dev del vd
timeout 60 tail --pid=$fio -f /dev/null || fail "fio hung after vdpa dev del"
kill -0 "$pid" || grep -q "device vd removed" /run/vduse-blk/vd.log ||
	{ cat /run/vduse-blk/vd.log; fail "daemon crashed after vdpa dev del"; }
check "del after vdpa dev del" timeout 60 "$BLK" del vd
[ -e /sys/class/vduse/vd ] && fail "device left behind"
log "vdpa dev del under load: ok"

# 3. ENOSPC: only the failing writes get IOERR; space back, writes work.
mkdir -p /tmp/small && mount -t tmpfs -o size=24M tmpfs /tmp/small
at_exit "umount -l /tmp/small"
truncate -s 64M /tmp/small/disk.img
head -c 12M /dev/zero > /tmp/small/filler
blk_add --name full /tmp/small/disk.img
dd if=/dev/urandom of="$dev" bs=1M count=20 oflag=direct status=none 2>/dev/null &&
	fail "writing 20 MiB into 12 MiB of space succeeded"
errs=$("$BLK" stats full --json | grep -o '"errors": [0-9]*' | tail -n1 | grep -o '[0-9]*$')
[ "$errs" -gt 0 ] || fail "no IOERR counted for ENOSPC"
check "reads still work" dd if="$dev" of=/dev/null bs=1M count=4 iflag=direct status=none
rm /tmp/small/filler
check "writes work again once space is back" \
	dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct status=none
fio_verify "$dev" --size=8M
check "del" "$BLK" del full
log "ENOSPC: $errs IOERR, then served again: ok"

# 4. Memory pressure: a writer in a 48 MiB cgroup writes 256 MiB of page
# cache through a filesystem on the device.
truncate -s 512M /tmp/mp.img
blk_add --name mp /tmp/mp.img
check "mkfs" mkfs.ext4 -q "$dev"
mkdir -p /tmp/mp && check "mount" mount "$dev" /tmp/mp
at_exit "umount /tmp/mp 2>/dev/null"
cg=/sys/fs/cgroup
[ -e $cg/cgroup.controllers ] || mount -t cgroup2 none $cg || fail "cgroup2"
echo +memory > $cg/cgroup.subtree_control 2>/dev/null
mkdir -p $cg/squeeze
echo $((48 << 20)) > $cg/squeeze/memory.max || fail "memory.max"
start=$(date +%s)
timeout 240 sh -c "echo \$\$ > $cg/squeeze/cgroup.procs &&
	dd if=/dev/zero of=/tmp/mp/big bs=1M count=256 status=none && sync" ||
	fail "writer under memory.max=48M made no progress within 240 s"
log "256 MiB written under memory.max=48M in $(( $(date +%s) - start )) s"
check "umount" umount /tmp/mp
check "fsck after pressure" fsck.ext4 -fn "$dev" > /dev/null 2>&1
check "del" "$BLK" del mp

# 5. The serving daemon keeps only CAP_NET_ADMIN and CAP_IPC_LOCK, and its
# control socket turns away anyone but root.
blk_add --name caps memory:8M
pid=$(daemon_pid caps)
# Capabilities belong to threads: look at every one of them.
for st in /proc/$pid/task/*/status; do
	eff=$(awk '/^CapEff/ {print $2}' $st)
	[ "$eff" = 0000000000005000 ] ||
		fail "thread $(awk '/^Name/ {print $2}' $st) keeps capabilities $eff, expected 0x5000"
	grep -q '^NoNewPrivs:[[:space:]]*1' $st || fail "NoNewPrivs not set in $st"
done
[ "$(stat -c %a /run/vduse-blk)" = 700 ] || fail "/run/vduse-blk is not 0700"
[ "$(stat -c %a /run/vduse-blk/caps.sock)" = 600 ] || fail "socket is not 0600"
setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/run/vduse-blk/caps.sock")
except PermissionError:
    sys.exit(0)
sys.exit(1)' || fail "a non-root user could connect to the control socket"
check "stats still work for root" "$BLK" stats caps > /dev/null
log "privileges: ok"
log "pass"
