#!/bin/bash
# Resets and faults: the driver unbound or the vdpa device deleted
# under I/O (the daemon drains, stays up and serves again once bound); a
# full backing file system (ENOSPC fails only those requests and the device
# serves again once space is back); and the control socket.  Memory
# pressure has a test of its own (blk-pressure.sh).
. "$(dirname "$0")/lib.sh"
require_blk


# The total of requests the daemon has in flight, from `stats --json`.
inflight() {
	"$BLK" stats "$1" --json | grep -o '"inflight": [0-9]*' | tail -n1 |
		grep -o '[0-9]*$'
}

# Waits up to 10 s for the daemon of $1 to report nothing in flight.
wait_drained() {
	local i n
	for i in $(seq 100); do
		n=$(inflight "$1") || return 1
		[ "$n" = 0 ] && return 0
		sleep 0.1
	done
	log "$1 still has $n requests in flight"
	return 1
}

# Starts fio under load on $dev ($1: rw mode, $2: block size, $3: log);
# sets $fio.  The fault must land while it runs and has I/O pending.
load_start() {
	fio --name=load --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw="$1" --bs="$2" --iodepth=32 --time_based --runtime=30 \
	    --output="$3" > /dev/null 2>&1 &
	fio=$!
	sleep 2
	kill -0 $fio 2>/dev/null || { cat "$3"; fail "fio is not running at the fault"; }
	local blk=${dev#/dev/} r=0 w=0 i
	for i in $(seq 20); do
		read -r r w < /sys/block/$blk/inflight
		[ $((r + w)) -gt 0 ] && break
		sleep 0.1
	done
	[ $((r + w)) -gt 0 ] || fail "fio runs but nothing is in flight on $dev"
	kill -0 $fio 2>/dev/null || { cat "$3"; fail "fio ended before the fault"; }
	log "at the fault: fio running, $((r + w)) requests in flight in the kernel"
}

# 1. Unbind the driver under load: the kernel completes what is in flight
# (fio sees errors once the disk is gone, and ends); the daemon drains and
# stays up; binding again brings the device back.
truncate -s 64M /tmp/ub.img
blk_add --name ub --queues 2 /tmp/ub.img
pid=$(daemon_pid ub) || fail "no daemon for ub"
load_start randrw 4k /tmp/ub.fio.log
check "unbind under load" timeout 60 sh -c "echo ub > /sys/bus/vdpa/drivers/virtio_vdpa/unbind"
timeout 60 tail --pid=$fio -f /dev/null || fail "fio hung after unbind"
kill -0 "$pid" || { cat /run/vduse-blk/ub.log; fail "the daemon exited after unbind"; }
wait_drained ub || fail "requests still in flight in the daemon after unbind"
check "bind again" sh -c "echo ub > /sys/bus/vdpa/drivers/virtio_vdpa/bind"
dev=$(vdpa_blockdev ub) || fail "no block device after binding again"
fio_verify "$dev" --size=8M
[ "$(daemon_pid ub)" = "$pid" ] || fail "another daemon serves ub after rebinding"
check "del" "$BLK" del ub
log "unbind/bind under load: the daemon drained, stayed up and served again: ok"

# 2. vdpa dev del under load: the same, through the vdpa bus; adding the
# vdpa device again brings the disk back, served by the same daemon.
truncate -s 64M /tmp/vd.img
blk_add --name vd /tmp/vd.img
pid=$(daemon_pid vd) || fail "no daemon for vd"
load_start randwrite 16k /tmp/vd.fio.log
check "vdpa dev del under load" timeout 60 vdpa dev del vd
timeout 60 tail --pid=$fio -f /dev/null || fail "fio hung after vdpa dev del"
sleep 1
kill -0 "$pid" 2>/dev/null ||
	{ cat /run/vduse-blk/vd.log; fail "the daemon exited after vdpa dev del (README: it drains and stays up)"; }
wait_drained vd || fail "requests still in flight in the daemon after vdpa dev del"
dev=$(vdpa_add_virtio vd) || fail "vdpa dev add again after vdpa dev del"
fio_verify "$dev" --size=8M
[ "$(daemon_pid vd)" = "$pid" ] || fail "another daemon serves vd after vdpa dev add"
check "del after vdpa dev del and add" timeout 60 "$BLK" del vd
[ -e /sys/class/vduse/vd ] && fail "device left behind"
log "vdpa dev del under load: the daemon drained, stayed up and served again: ok"

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

# 4. The control socket turns away anyone but root.
blk_add --name caps memory:8M
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
log "control socket: root only: ok"
log "pass"
