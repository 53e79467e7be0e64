#!/bin/bash
# Proves the test bed with the reference implementation: QEMU's own
# vduse-blk export becomes /dev/vdX in the guest, survives a filesystem
# round trip and a verified fio run.  Our daemon's tests follow this shape.
. "$(dirname "$0")/lib.sh"
require_vduse
command -v qemu-storage-daemon > /dev/null || fail "qemu-storage-daemon missing (scripts/deps.sh installs it)"

img=/tmp/qsd-disk.img
truncate -s 256M $img
qemu-storage-daemon \
	--blockdev driver=file,filename=$img,node-name=d0,cache.direct=off \
	--export vduse-blk,id=e0,node-name=d0,name=vduse0,writable=on,num-queues=1,queue-size=256 \
	> /tmp/qsd.log 2>&1 &
qsd=$!
at_exit "kill $qsd 2>/dev/null; wait $qsd 2>/dev/null"
for i in $(seq 50); do [ -c /dev/vduse/vduse0 ] && break; sleep 0.1; done
[ -c /dev/vduse/vduse0 ] || { cat /tmp/qsd.log; fail "qemu-storage-daemon made no /dev/vduse/vduse0"; }

dev=$(vdpa_add_virtio vduse0) || fail "vdpa dev add / bind to virtio_vdpa"
at_exit "vdpa dev del vduse0"
log "reference export is $dev"
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((256 * 2048)) ] || fail "size of $dev"

fs_round_trip "$dev"
fio_verify "$dev" --size=24M
log "pass"
