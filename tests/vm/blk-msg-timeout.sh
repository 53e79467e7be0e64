#!/bin/bash
# The message timeout policy.  With its daemon dead, a device lives through
# a driver operation (here an unbind, whose reset is a control message
# nobody answers) only as long as the device's msg_timeout: then the kernel
# marks it broken for good.  add sets it to 120 s (--msg-timeout), saved for
# recover, so a restart has that long.
#   1. the default: 120 s in sysfs and in the settings; the daemon killed,
#      an unbind waits ${VDK_MSG_WAIT:-45} s without breaking the device
#      (past the kernel's own 30 s; VDK_MSG_WAIT=115 tries nearly all of
#      the 120 s, at a cost of more than a minute of make check),
#      recover answers it, binding again brings the disk back, and verified
#      fio finds the data written before the kill and writes anew.
#   2. the teeth: --msg-timeout 2, the same unbind gives up after 2 s, and
#      the device is broken: recover cannot serve it.
. "$(dirname "$0")/lib.sh"
require_blk
wait_s=${VDK_MSG_WAIT:-45}

# 1. The default policy.
truncate -s 64M /tmp/mt.img
blk_add --name mt /tmp/mt.img
[ "$(cat /sys/class/vduse/mt/msg_timeout)" = 120 ] ||
	fail "msg_timeout is $(cat /sys/class/vduse/mt/msg_timeout), not the default 120"
grep -qx "msg_timeout=120" /run/vduse-blk/mt.conf || fail "msg_timeout not in mt's settings"
fio --name=pre --filename="$dev" --direct=1 --ioengine=libaio --rw=write \
    --bs=64k --size=16M --verify=crc32c --do_verify=0 --verify_state_save=0 \
    --output=/tmp/mt-pre.log || fail "writing the data to keep"
kill_daemon mt
start=$(date +%s.%N)
(echo mt > /sys/bus/vdpa/drivers/virtio_vdpa/unbind; echo $? > /tmp/mt-unbind.rc) &
unbind=$!
sleep "$wait_s"
kill -0 $unbind 2> /dev/null ||
	fail "the unbind ended after $(elapsed_since "$start") s with no daemon; the policy promises 120 s"
dmesg | grep -qi "vduse.*mt.*timeout\|vduse.*broken" && fail "the kernel gave up on mt: $(dmesg | tail -5)"
log "daemon dead: the unbind has waited $(elapsed_since "$start") s, the device is not broken"
"$BLK" recover mt > /dev/null || { cat /run/vduse-blk/mt.log; fail "recover after $wait_s s"; }
timeout 30 tail --pid=$unbind -f /dev/null || fail "the unbind still waits after recover"
[ "$(cat /tmp/mt-unbind.rc)" = 0 ] || fail "the unbind failed after recover"
log "recover answered the unbind after $(elapsed_since "$start") s"
[ "$(cat /sys/class/vduse/mt/msg_timeout)" = 120 ] || fail "recover lost msg_timeout"
check "bind again" sh -c "echo mt > /sys/bus/vdpa/drivers/virtio_vdpa/bind"
dev=$(vdpa_blockdev mt) || fail "no block device after binding mt again"
fio --name=pre --filename="$dev" --direct=1 --ioengine=libaio --rw=read \
    --bs=64k --size=16M --verify=crc32c --verify_state_save=0 --verify_fatal=1 \
    --output=/tmp/mt-post.log || { cat /tmp/mt-post.log; fail "the data written before the kill"; }
log "the data written before the kill verifies"
fio_verify "$dev" --size=8M
check "del mt" "$BLK" del mt

# 2. The teeth: past a short msg_timeout the same sequence breaks it.
truncate -s 64M /tmp/ms.img
blk_add --name ms --msg-timeout 2 /tmp/ms.img
[ "$(cat /sys/class/vduse/ms/msg_timeout)" = 2 ] || fail "--msg-timeout 2 not set"
kill_daemon ms
start=$(date +%s.%N)
timeout 60 sh -c "echo ms > /sys/bus/vdpa/drivers/virtio_vdpa/unbind" ||
	log "the unbind failed (as a broken device may)"
took=$(elapsed_since "$start")
within "$took" 10 || fail "the unbind with --msg-timeout 2 took $took s"
log "with --msg-timeout 2 the unbind gave up after $took s"
sleep 1
if "$BLK" recover ms > /tmp/ms-recover.out 2>&1; then
	# Recovered or not, a broken device serves nothing: binding fails.
	sh -c "echo ms > /sys/bus/vdpa/drivers/virtio_vdpa/bind" 2> /dev/null &&
		dev=$(vdpa_blockdev ms) &&
		fio --name=after --filename="$dev" --direct=1 --ioengine=libaio \
		    --rw=read --bs=4k --size=1M --output=/tmp/ms-fio.log 2> /dev/null &&
		fail "the device still works past its msg_timeout: the test has no teeth"
fi
log "past its msg_timeout the device is broken: $(tr '\n' ' ' < /tmp/ms-recover.out)"
grep -i "broken" /run/vduse-blk/ms.log | tail -2
dmesg | grep -i vduse | tail -3
timeout 60 "$BLK" del ms > /dev/null 2>&1 || log "del of the broken device failed"
log "pass"
