#!/bin/bash
# NBD backend, bad input: an unreachable server, a missing socket, an
# unknown export, a malformed URI, TLS mismatches, a server that hangs up
# during the handshake, a read-only export, --queues without multi-conn,
# and options of another backend.  Each gets a message naming the problem and a non-zero exit,
# and leaves no device behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

port=$(nbd_port)
expect_fail "cannot reach the NBD server" "$BLK" add --name n1 "nbd://127.0.0.1:$port/"
expect_fail "cannot reach the NBD server" "$BLK" add --name n2 "nbd+unix:///?socket=/tmp/none.sock"
expect_fail "not a usable NBD URI" "$BLK" add --name n3 "nbd:no-slashes"
expect_fail "not a usable NBD URI" "$BLK" add --name n4 "nbd+unix:///x"
expect_fail "--io-timeout" "$BLK" add --name n5 --io-timeout soon "nbd://127.0.0.1/"
# Options that belong to another backend are refused, not ignored.
expect_fail "the nbd backend has no option 'cache': it takes io-timeout" \
	"$BLK" add --name n5b --cache direct "nbd://127.0.0.1:$port/"
truncate -s 16M /tmp/opt.img
expect_fail "the file backend has no option 'io-timeout': it takes cache" \
	"$BLK" add --name n5c --io-timeout 5 /tmp/opt.img
[ -e /sys/class/vduse/n5b ] || [ -e /sys/class/vduse/n5c ] && fail "a refused add left a device"

nbd_start named -U /tmp/nbd-named.sock --filter=exportname memory 16M \
	exportname-strict=true exportname=disk1
expect_fail "refused the export" "$BLK" add --name n6 "nbd+unix:///disk2?socket=/tmp/nbd-named.sock"
expect_fail "TLS" "$BLK" add --name n7 "nbds+unix:///disk1?socket=/tmp/nbd-named.sock"
blk_add --name n8 "nbd+unix:///disk1?socket=/tmp/nbd-named.sock"
check "del" "$BLK" del n8

echo "alice:$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > /tmp/psk
nbd_start tls -U /tmp/nbd-tls.sock --tls=require --tls-psk=/tmp/psk memory 16M
expect_fail "requires TLS" "$BLK" add --name n9 "nbd+unix:///?socket=/tmp/nbd-tls.sock"
echo "alice:00112233445566778899aabbccddeeff" > /tmp/badpsk
expect_fail "TLS" "$BLK" add --name n10 "nbds+unix://alice@/?socket=/tmp/nbd-tls.sock&tls-psk-file=/tmp/badpsk"
blk_add --name n11 "nbds+unix://alice@/?socket=/tmp/nbd-tls.sock&tls-psk-file=/tmp/psk"
check "TLS I/O" dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
check "del" "$BLK" del n11

# The ip filter accepts, then hangs up on every client.
port=$(nbd_port)
nbd_start rude -i 127.0.0.1 -p "$port" --filter=ip memory 16M deny=all
expect_fail "closed the connection during the handshake" "$BLK" add --name n12 "nbd://127.0.0.1:$port/"

nbd_start ro -U /tmp/nbd-ro.sock -r memory 16M
expect_fail "--read-only" "$BLK" add --name n13 "nbd+unix:///?socket=/tmp/nbd-ro.sock"
blk_add --name n14 --read-only "nbd+unix:///?socket=/tmp/nbd-ro.sock"
[ "$(blockdev --getro "$dev")" = 1 ] || fail "$dev should be read-only"
check "del" "$BLK" del n14

nbd_start single -U /tmp/nbd-single.sock --filter=multi-conn memory 16M multi-conn-mode=disable
expect_fail "--queues 1" "$BLK" add --name n15 --queues 2 "nbd+unix:///?socket=/tmp/nbd-single.sock"
blk_add --name n16 "nbd+unix:///?socket=/tmp/nbd-single.sock"
check "del" "$BLK" del n16

for n in n1 n2 n3 n4 n5 n6 n7 n9 n10 n12 n13 n15; do
	[ -e /dev/vduse/$n ] && fail "device $n left behind"
done
[ -z "$(ls /sys/class/vduse 2>/dev/null | grep -v control)" ] ||
	fail "devices left behind: $(ls /sys/class/vduse)"
log "pass"
