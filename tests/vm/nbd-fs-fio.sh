#!/bin/bash
# NBD backend: an nbdkit memory export over a unix socket and over TCP on
# 127.0.0.1, each with a filesystem round trip and verified fio (the TCP one
# on two queues, one connection each, as the server offers multi-conn).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

nbd_start unix -U /tmp/nbd-unix.sock memory 256M
blk_add --name nbdunix "nbd+unix:///?socket=/tmp/nbd-unix.sock"
[ "$(blockdev --getsize64 "$dev")" = 268435456 ] || fail "$dev is not 256 MiB"
[ "$(blockdev --getro "$dev")" = 0 ] || fail "$dev should be writable"
fs_round_trip "$dev"
fio_verify "$dev" --iodepth=32 --bsrange=512-128k
check "discard through to the server" blkdiscard "$dev"
check "del" "$BLK" del nbdunix

port=$(nbd_port)
nbd_start tcp -i 127.0.0.1 -p "$port" memory 256M
blk_add --name nbdtcp --queues 2 "nbd://127.0.0.1:$port/"
[ -d /sys/block/${dev#/dev/}/mq/1 ] || fail "$dev should have 2 hardware queues"
fs_round_trip "$dev"
fio_verify "$dev" --numjobs=2 --offset_increment=64M --iodepth=32 --bsrange=4k-256k --size=24M
check "del" "$BLK" del nbdtcp
log "pass"
