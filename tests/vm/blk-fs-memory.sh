#!/bin/bash
# Memory backend: a filesystem round trip on a RAM disk.
. "$(dirname "$0")/lib.sh"
require_blk
blk_add --name fsmem memory:96M
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((96 * 2048)) ] || fail "size of $dev"
fs_round_trip "$dev"
log "pass"
