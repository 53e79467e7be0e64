#!/bin/bash
# RBD backend, cluster trouble.  The OSD is killed in the middle of a
# verified fio run and started again: the guest sees a pause, fio
# completes without an error.  The monitor likewise.  With the whole
# cluster gone, `del` still ends within bounded time, and an `add` gives a
# clear error within bounded time and leaves no device behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rbd-lib.sh"
require_blk
# The bounds the README promises: with an unreachable cluster `add` fails,
# and with a gone one `del` returns, within 12 s (librados' 10 s, plus the
# command's own start and the device's removal).
ADD_BOUND=12 DEL_BOUND=12
rbd_cluster_up

check "create rbd/f" rbd_cli create --size 256M rbd/f
blk_add --name rbdf rbd:rbd/f
blk=${dev#/dev/}

# wait_writes N: until the device has completed N writes (fio running).
wait_writes() {
	local i
	for i in $(seq 900); do
		[ "$(awk '{print $5}' /sys/block/$blk/stat)" -ge "$1" ] && return 0
		kill -0 $fio_pid 2> /dev/null || return 1
		sleep 0.1
	done
	return 1
}

fio_start() {
	fio --name=fault --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bsrange=4k-64k --iodepth=16 --size=64M \
	    --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	    --eta=never --output=/tmp/fio-fault.log &
	fio_pid=$!
}

fio_end() {
	wait $fio_pid || { cat /tmp/fio-fault.log; fail "fio failed across the $1 restart"; }
	grep -q "err= 0" /tmp/fio-fault.log || { cat /tmp/fio-fault.log; fail "fio reported errors"; }
	log "fio completed and verified across the $1 restart"
}

# The OSD: requests wait while it is away, then go through.
fio_start
w=$(( $(awk '{print $5}' /sys/block/$blk/stat) + 300 ))
wait_writes $w || { cat /tmp/fio-fault.log; fail "fio ended before the OSD was killed"; }
ceph_stop osd
log "killed the OSD after $(awk '{print $5}' /sys/block/$blk/stat) writes"
sleep 5
kill -0 $fio_pid 2> /dev/null || { cat /tmp/fio-fault.log; fail "fio ended while the OSD was down"; }
inflight=$(awk '{print $1 + $2}' /sys/block/$blk/inflight)
[ "$inflight" -gt 0 ] || fail "no request in flight while the OSD is down"
ceph_osd_start || { ceph_logs; fail "the OSD did not come back"; }
log "OSD restarted; $inflight requests were waiting for it"
fio_end OSD

# The monitor: I/O goes on without it, and the client finds it again.
fio_start
w=$(( $(awk '{print $5}' /sys/block/$blk/stat) + 300 ))
wait_writes $w || { cat /tmp/fio-fault.log; fail "fio ended before the monitor was killed"; }
ceph_stop mon
log "killed the monitor after $(awk '{print $5}' /sys/block/$blk/stat) writes"
sleep 3
kill -0 $fio_pid 2> /dev/null || { cat /tmp/fio-fault.log; fail "fio ended while the monitor was down"; }
inflight=$(awk '{print $1 + $2}' /sys/block/$blk/inflight)
[ "$inflight" -gt 0 ] || fail "no request in flight while the monitor is down"
ceph_mon_start || { ceph_logs; fail "the monitor did not come back"; }
log "monitor restarted; $inflight requests were in flight without it"
fio_end monitor
check "verify after the restarts" fio_verify "$dev" --size=16M

# The whole cluster gone: del must not wait for it forever.
ceph_stop osd
ceph_stop mon
start=$(date +%s.%N)
check "del with the cluster gone" timeout 60 "$BLK" del rbdf
took=$(elapsed_since "$start")
[ -e /dev/vduse/rbdf ] && fail "the device is still there after del"
within "$took" $DEL_BOUND || fail "del took $took s with the cluster gone (README: $DEL_BOUND s)"
log "del with the cluster gone took $took s"

# And add fails clearly, in bounded time, with no device left behind.
start=$(date +%s.%N)
expect_fail "no answer from the Ceph monitors" timeout 60 "$BLK" add --name rbdgone rbd:rbd/f
took=$(elapsed_since "$start")
within "$took" $ADD_BOUND || fail "add took $took s to give up on an unreachable cluster (README: $ADD_BOUND s)"
[ -e /dev/vduse/rbdgone ] && fail "a failed add left a device behind"
"$BLK" list | grep -q rbdgone && fail "a failed add left a device in the list"
log "add with the cluster unreachable failed after $took s"
log "pass"
