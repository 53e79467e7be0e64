#!/bin/bash
# The vhost-user bridge when things go wrong: bad input to add, the
# back-end killed and restarted under verified fio, the driver unbound and
# bound again (a device reset: the rings are handed over afresh), a resize
# made in the back-end, and the bridge itself killed and recovered.
. "$(dirname "$0")/bridge-lib.sh"
require_blk
img=/tmp/bridge.img
sock=/tmp/bridge.sock
truncate -s 256M $img

# Bad input: each refused with a message naming the problem, nothing left.
expect_fail "no socket" "$BLK" add --name brx vhost-user:/tmp/nonexistent.sock
expect_fail "needs the back-end's socket" "$BLK" add --name brx vhost-user:
expect_fail "does not take --vhost" "$BLK" add --name brx --vhost vhost-user:$sock
expect_fail "does not take --block-size" "$BLK" add --name brx --block-size 4096 vhost-user:$sock
touch /tmp/not-a-socket
expect_fail "not running" "$BLK" add --name brx vhost-user:/tmp/not-a-socket
[ -e /dev/vduse/brx ] && fail "a refused add left /dev/vduse/brx behind"

qsd_start $img $sock 1
at_exit "kill \$qsd_pid 2>/dev/null"
blk_add --name br0 vhost-user:$sock
sysdev=/sys/block/${dev#/dev/}

# The back-end dies under fio and comes back: I/O waits, then resumes.
fio --name=bridge --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=4k --iodepth=8 --size=16M --time_based --runtime=14 \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
    --output=/tmp/fio-bridge.log &
fio_pid=$!
at_exit "kill $fio_pid 2>/dev/null"
sleep 3
qsd_kill
log "back-end killed under fio"
sleep 2
grep -q "lost" /run/vduse-blk/br0.log || fail "the bridge did not notice the back-end go"
"$BLK" list --json | grep -q '"backend_connected": false' || fail "list does not show the back-end gone"
qsd_start $img $sock 1
start=$(date +%s.%N)
for i in $(seq 200); do
	grep -q "is back after" /run/vduse-blk/br0.log && break
	sleep 0.1
done
grep -q "is back after" /run/vduse-blk/br0.log || { cat /run/vduse-blk/br0.log; fail "the bridge did not reconnect"; }
log "reconnected in $(elapsed_since $start) s"
wait_fio() {	# fio must end within 60 s of its planned end
	local i
	for i in $(seq 600); do
		kill -0 $fio_pid 2>/dev/null || break
		sleep 0.1
	done
	kill -0 $fio_pid 2>/dev/null && fail "fio hangs ($("$BLK" stats br0 | tail -n 1))"
	wait $fio_pid
}
wait_fio || { cat /tmp/fio-bridge.log; fail "fio failed across the back-end's restart"; }
grep -q "err= 0" /tmp/fio-bridge.log || { cat /tmp/fio-bridge.log; fail "fio reported errors"; }
log "fio verified across the back-end's restart"

# Unbind and bind the driver again: a reset, and a fresh hand-over.
# unbind_bind WHAT: unbinds (bounded), binds, and checks the pattern and
# fresh I/O on the new node.
unbind_bind() {
	local start
	start=$(date +%s.%N)
	timeout 30 sh -c 'echo br0 > /sys/bus/vdpa/drivers/virtio_vdpa/unbind' || fail "unbind $1"
	log "unbind $1 took $(elapsed_since $start) s"
	[ -n "${fio_pid:-}" ] && wait_fio
	echo br0 > /sys/bus/vdpa/drivers/virtio_vdpa/bind || fail "bind after unbind $1"
	dev=$(vdpa_blockdev br0) || fail "no block device after bind"
	sysdev=/sys/block/${dev#/dev/}
	cmp /tmp/bridge-pat <(dd if="$dev" bs=1M skip=20 count=2 iflag=direct status=none) ||
		fail "data differs after unbind $1 and bind"
	fio_verify "$dev" --size=16M
	log "unbind $1 and bind: ok"
}
head -c 2M /dev/urandom > /tmp/bridge-pat
check "write the pattern" dd if=/tmp/bridge-pat of="$dev" bs=1M seek=20 oflag=direct status=none
fio_pid=
unbind_bind "while idle"

# The same under fio: the driver's removal waits for the requests in
# flight, which the back-end completes; fio then loses its disk (its error
# is the kernel's, not ours); the rings come back at the next bind.
fio --name=unbind --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=4k --iodepth=8 --offset=64M --size=16M --time_based --runtime=20 \
    --output=/tmp/fio-unbind.log > /dev/null 2>&1 &
fio_pid=$!
sleep 3
unbind_bind "under fio"

# The back-end's size reaches the driver as a config interrupt.
# qemu-storage-daemon 7.2 does not report a block_resize to its vhost-user
# clients, so it is restarted over the grown file: the bridge compares the
# size at every reconnection.
qsd_kill
truncate -s 384M $img
qsd_start $img $sock 1
for i in $(seq 40); do
	[ "$(cat $sysdev/size)" = $((384 * 2048)) ] && break
	sleep 0.1
done
[ "$(cat $sysdev/size)" = $((384 * 2048)) ] || fail "size is $(cat $sysdev/size) sectors after the back-end grew to 384 MiB"
check "resize agrees" "$BLK" resize br0 384M
expect_fail "the size is the back-end's to change" "$BLK" resize br0 512M
log "the back-end's new size reached the driver: ok"

# The bridge killed under fio: recover hands the rings over again.
fio --name=bridge --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=4k --iodepth=8 --size=16M --time_based --runtime=10 \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
    --output=/tmp/fio-bridge.log &
fio_pid=$!
sleep 3
kill_daemon br0
sleep 1
check "recover" "$BLK" recover br0
wait_fio || { cat /tmp/fio-bridge.log; fail "fio failed across the bridge's recover"; }
grep -q "err= 0" /tmp/fio-bridge.log || { cat /tmp/fio-bridge.log; fail "fio reported errors"; }
log "fio verified across the bridge's kill and recover"
check "del" "$BLK" del br0
[ -e /dev/vduse/br0 ] && fail "/dev/vduse/br0 still exists after del"
log "pass"
