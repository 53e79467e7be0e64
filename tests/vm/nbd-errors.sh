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

# With many requests at the server the daemon holds a completion's
# interrupt, waiting for more answers, but only briefly: with 10 reads
# stuck at the server for 6 s, a write still completes at once rather
# than when the reads come back.
nbd_start stuck -U /tmp/nbd-stuck.sock --filter=delay memory 64M rdelay=6
blk_add --name nbdstuck "nbd+unix:///?socket=/tmp/nbd-stuck.sock"
fio --name=stuck --filename="$dev" --direct=1 --ioengine=libaio --rw=randread \
	--bs=4k --iodepth=10 --size=16M --number_ios=10 > /tmp/fio-stuck.log 2>&1 &
fio_pid=$!
for i in $(seq 50); do
	infl=$("$BLK" stats nbdstuck | awk '$1 == "total" { print $9 }')
	[ "${infl:-0}" -ge 10 ] && break
	sleep 0.1
done
[ "${infl:-0}" -ge 10 ] || fail "the 10 slow reads never were in flight together (in flight: ${infl:-?})"
start=$(date +%s%N)
check "write beside the stuck reads" dd if=/tmp/pattern of="$dev" bs=4k count=1 \
	seek=1000 oflag=direct status=none
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "a write took $ms ms while reads were stuck: its interrupt waited for them"
log "write completed in $ms ms beside 10 stuck reads"
wait $fio_pid || fail "the slow reads failed: $(cat /tmp/fio-stuck.log)"
check "del" "$BLK" del nbdstuck
log "pass"
