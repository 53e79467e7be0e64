#!/bin/bash
# Verified I/O with mixed block sizes and depths over several queues, for
# the file and memory backends, and the null backend's transport path.
. "$(dirname "$0")/lib.sh"
require_blk
truncate -s 128M /tmp/fio.img
blk_add --name fiofile --queues 2 /tmp/fio.img
[ -d /sys/block/${dev#/dev/}/mq/1 ] || fail "$dev should have 2 hardware queues"
# Two jobs, each verifying its own half: overlapping writers would race.
fio_verify "$dev" --numjobs=2 --offset_increment=64M --iodepth=32 --bsrange=512-128k --size=24M
fio_verify "$dev" --rw=randrw --iodepth=1 --bs=4k --size=8M
blk_add --name fiomem --queues 2 --block-size 4096 memory:64M
fio_verify "$dev" --numjobs=2 --offset_increment=32M --iodepth=8 --bsrange=4k-256k --size=16M
blk_add --name fionull null:1G
fio --name=null --filename="$dev" --direct=1 --ioengine=libaio --rw=randread \
    --bs=4k --iodepth=16 --size=64M --output=/tmp/fio-null.log ||
	fail "fio on the null backend"
grep -q "err= 0" /tmp/fio-null.log || fail "errors on the null backend"
log "pass"
