#!/bin/bash
# NBD backend, server failure: nbdkit (file plugin, so the data outlives
# it) is killed in the middle of a verified fio run and started again a
# few seconds later; fio finishes without an error and its data verifies.
# The daemon logs the loss and the return once each.  With --io-timeout,
# a server that stays away turns into EIO, and the device recovers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

img=/tmp/nbd-disk.img
truncate -s 256M $img
port=$(nbd_port)
nbd_start disk -i 127.0.0.1 -p "$port" file $img
blk_add --name nbdre "nbd://127.0.0.1:$port/"

fio --name=reconnect --filename="$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bsrange=4k-64k --iodepth=16 --size=96M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
    --output=/tmp/fio-reconnect.log &
fio_pid=$!
# Kill the server once a good part of the writes are done.
blk=${dev#/dev/}
for i in $(seq 600); do
	[ "$(awk '{print $5}' /sys/block/$blk/stat)" -ge 500 ] && break
	sleep 0.1
done
kill -0 $fio_pid 2> /dev/null || { cat /tmp/fio-reconnect.log; fail "fio ended before the server was killed"; }
nbd_stop disk
log "killed the server after $(awk '{print $5}' /sys/block/$blk/stat) writes"
sleep 4
# The guest's requests wait: none failed, some are still in flight.
inflight=$(awk '{print $1 + $2}' /sys/block/$blk/inflight)
[ "$inflight" -gt 0 ] || fail "no request in flight while the server is down"
kill -0 $fio_pid 2> /dev/null || { cat /tmp/fio-reconnect.log; fail "fio ended while the server was down"; }
nbd_start disk -i 127.0.0.1 -p "$port" file $img
log "server restarted; $inflight requests were waiting for it"
wait $fio_pid || { cat /tmp/fio-reconnect.log; fail "fio failed across the server restart"; }
grep -q "err= 0" /tmp/fio-reconnect.log || { cat /tmp/fio-reconnect.log; fail "fio reported errors"; }
log "fio completed and verified across the restart"

daemon_log=/run/vduse-blk/nbdre.log
grep nbd: $daemon_log
[ "$(grep -c "lost the connection" $daemon_log)" = 1 ] ||
	{ cat $daemon_log; fail "the loss should be logged once"; }
[ "$(grep -c "connected to" $daemon_log)" = 1 ] ||
	{ cat $daemon_log; fail "the reconnection should be logged once"; }
check "del" "$BLK" del nbdre

# --io-timeout: the server stays away, the guest gets EIO after about 2 s.
blk_add --name nbdto --io-timeout 2 "nbd://127.0.0.1:$port/"
check "read before" dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none
nbd_stop disk
start=$(date +%s)
out=$(dd if="$dev" of=/dev/null bs=4k count=1 skip=7 iflag=direct 2>&1) &&
	fail "a read succeeded with the server gone"
took=$(( $(date +%s) - start ))
case $out in *"Input/output error"*) ;; *) fail "read error was not EIO: $out" ;; esac
[ "$took" -ge 1 ] && [ "$took" -le 10 ] || fail "the read failed after $took s, not about 2 s"
log "with the server gone, --io-timeout 2 gave EIO after $took s"
nbd_start disk -i 127.0.0.1 -p "$port" file $img
check "read after the server is back" dd if="$dev" of=/dev/null bs=4k count=1 skip=9 iflag=direct status=none
check "del" "$BLK" del nbdto
log "pass"
