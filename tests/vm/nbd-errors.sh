#!/bin/bash
# NBD backend against a misbehaving server.  nbdkit's error filter: while
# the trigger file exists every request fails, and the guest sees EIO;
# afterwards the device works and the data is intact.  nbdkit's delay
# filter: a slow server is slow, not failing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

trigger=/tmp/nbd-error-now
nbd_start err -U /tmp/nbd-err.sock --filter=error memory 64M \
	error=EIO error-rate=100% error-file=$trigger
blk_add --name nbderr "nbd+unix:///?socket=/tmp/nbd-err.sock"
head -c 1M /dev/urandom > /tmp/pattern
check "write the pattern" dd if=/tmp/pattern of="$dev" bs=64k oflag=direct status=none

touch $trigger
out=$(dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct 2>&1) &&
	fail "a read succeeded while the server fails every request"
case $out in *"Input/output error"*) ;; *) fail "read error was not EIO: $out" ;; esac
out=$(dd if=/tmp/pattern of="$dev" bs=4k count=1 seek=100 oflag=direct 2>&1) &&
	fail "a write succeeded while the server fails every request"
case $out in *"Input/output error"*) ;; *) fail "write error was not EIO: $out" ;; esac
log "server errors reach the guest as EIO"
rm -f $trigger

check "read after the errors" dd if="$dev" of=/tmp/back bs=64k count=16 iflag=direct status=none
check "data intact after the errors" cmp /tmp/pattern /tmp/back
fio_verify "$dev" --size=16M
check "del" "$BLK" del nbderr

# Each read and write takes at least 300 ms at the server.
nbd_start slow -U /tmp/nbd-slow.sock --filter=delay memory 64M rdelay=300ms wdelay=300ms
blk_add --name nbdslow "nbd+unix:///?socket=/tmp/nbd-slow.sock"
start=$(date +%s%N)
check "read from the slow server" dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 300 ] || fail "a read took $ms ms; the delay filter should make it 300 ms or more"
fio_verify "$dev" --size=4M --iodepth=16
check "del" "$BLK" del nbdslow
log "pass"
