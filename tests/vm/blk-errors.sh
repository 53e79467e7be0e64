#!/bin/bash
# Every bad input gets a message naming the problem and a non-zero exit,
# and leaves no device behind.
. "$(dirname "$0")/lib.sh"
require_blk
expect_fail "No such file" "$BLK" add --name e1 /tmp/does-not-exist.img
printf 'x%.0s' $(seq 1000) > /tmp/odd.img
expect_fail "multiple" "$BLK" add --name e2 /tmp/odd.img
truncate -s 8M /tmp/ok.img
# The host root is read-only in the guest: a file there cannot be written.
ro=$(find /usr/share -maxdepth 3 -type f -size +64k 2>/dev/null | head -n1)
expect_fail "--read-only" "$BLK" add --name e3 "$ro"
# Unreadable: root reads anything, so take away the override capabilities.
truncate -s 8M /tmp/noread.img && chmod 000 /tmp/noread.img
expect_fail "Permission denied" setpriv --inh-caps=-dac_override,-dac_read_search \
	--bounding-set=-dac_override,-dac_read_search "$BLK" add --name e10 /tmp/noread.img
expect_fail "--block-size" "$BLK" add --name e4 --block-size 1024 /tmp/ok.img
expect_fail "--queues" "$BLK" add --name e5 --queues 0 /tmp/ok.img
expect_fail "power of two" "$BLK" add --name e6 --queue-size 100 /tmp/ok.img
expect_fail "size" "$BLK" add --name e7 memory:12Q
expect_fail "name" "$BLK" add --name vq0 /tmp/ok.img
expect_fail "name" "$BLK" add --name a/b /tmp/ok.img
expect_fail "BACKEND" "$BLK" add --name e8
expect_fail "unknown command" "$BLK" frobnicate
blk_add --name taken /tmp/ok.img
expect_fail "exists" "$BLK" add --name taken memory:8M
expect_fail "no device" "$BLK" del nosuchdev
expect_fail "root" setpriv --reuid=65534 --regid=65534 --clear-groups "$BLK" add memory:8M
expect_fail "root" setpriv --reuid=65534 --regid=65534 --clear-groups "$BLK" list
check "del" "$BLK" del taken

# Without the vduse module.
check "unload vduse" rmmod vduse
at_exit "reinsert_module vduse"
expect_fail "modprobe" "$BLK" add --name e9 /tmp/ok.img
reinsert_module vduse

for n in e1 e2 e3 e4 e5 e6 e7 e8 e9 e10; do
	[ -e /dev/vduse/$n ] && fail "device $n left behind"
done
log "pass"
