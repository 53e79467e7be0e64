#!/bin/bash
# NBD backend, daemon crashes: a two-queue device over nbdkit (TCP, one
# connection per queue) is killed and recovered, upgraded, and killed and
# adopted, all under verified fio (recover-lib.sh).  The new daemons find
# the server from the saved spec alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
. "$(dirname "$0")/recover-lib.sh"
require_blk

img=/tmp/nbd-rec.img
truncate -s 128M $img
port=$(nbd_port)
nbd_start rec -i 127.0.0.1 -p "$port" file $img
blk_add --name nbdrec --queues 2 "nbd://127.0.0.1:$port/"
recover_under_load nbdrec "nbd://127.0.0.1:$port/"
grep -q "nbd://127.0.0.1:$port/" /run/vduse-blk/nbdrec.conf ||
	fail "the saved settings do not name the server"
check "del" "$BLK" del nbdrec
log "pass"
