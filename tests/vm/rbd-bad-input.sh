#!/bin/bash
# RBD backend, bad input: each is refused by `add` with a message that
# names the problem, and leaves no device behind.  A restricted client
# works in its own pool and is refused elsewhere; a snapshot needs
# --read-only and its device refuses writes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rbd-lib.sh"
require_blk
# The README's bound: with a cluster that does not answer, `add` fails
# within 12 s (librados' 10 s plus the command's own start).
ADD_BOUND=12
rbd_cluster_up

check "create rbd/img" rbd_cli create --size 64M rbd/img
check "snapshot" rbd_cli snap create rbd/img@s1 --no-progress

refused() {
	expect_fail "$@"
	[ -e /dev/vduse/bad ] && fail "a refused add left a device behind"
	return 0
}
refused "there is no pool 'nopool'" "$BLK" add --name bad rbd:nopool/img
refused "there is no image 'nope' in pool 'rbd'" "$BLK" add --name bad rbd:rbd/nope
refused "namespace 'ns'" "$BLK" add --name bad rbd:rbd/ns/img
refused "has no snapshot 'nosnap'" "$BLK" add --name bad --read-only rbd:rbd/img@nosnap
refused "is a snapshot, which cannot be written: add --read-only" \
	"$BLK" add --name bad rbd:rbd/img@s1
refused "is not an RBD image" "$BLK" add --name bad rbd:rbd/a/b/c
refused "is not an RBD image" "$BLK" add --name bad rbd:
refused "unknown option 'user=x'" "$BLK" add --name bad "rbd:rbd/img?user=x"
refused "cannot read the Ceph configuration /nonexistent" \
	"$BLK" add --name bad "rbd:rbd/img?conf=/nonexistent"
refused "cannot read the keyring /nonexistent" "$BLK" add --name bad "rbd:rbd/img?keyring=/nonexistent"

# A key that is not the cluster's.
sed 's/key = .*/key = AQBk5SxmAAAAABAAyEdOLb6LhmLLR8RkWqCqkA==/' "$CEPH_DIR/keyring" > /tmp/wrong.keyring
refused "the monitors refused client.admin" \
	"$BLK" add --name bad "rbd:rbd/img?keyring=/tmp/wrong.keyring"
refused "the monitors refused client.nobody" "$BLK" add --name bad "rbd:rbd/img?id=nobody"

# A client restricted to pool rbd.
ceph_cli auth get-or-create client.blk mon 'profile rbd' osd 'profile rbd pool=rbd' \
	-o /tmp/blk.keyring || fail "ceph auth get-or-create"
ceph_cli osd pool create other 8 8 > /dev/null 2>&1 && rbd_cli pool init other &&
	rbd_cli create --size 16M other/x || fail "creating pool other"
refused "client.blk may not open image other/x" \
	"$BLK" add --name bad "rbd:other/x?id=blk&keyring=/tmp/blk.keyring"
blk_add --name rbdblk "rbd:rbd/img?id=blk&keyring=/tmp/blk.keyring"
check "write as client.blk" dd if=/dev/urandom of="$dev" bs=64k count=16 oflag=direct conv=fsync status=none
check "del" "$BLK" del rbdblk

# The snapshot device refuses writes.
blk_add --name rbdro --read-only rbd:rbd/img@s1
dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2> /dev/null &&
	fail "a write to the snapshot device succeeded"
check "read the snapshot" dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
check "del" "$BLK" del rbdro

# An unreachable cluster: a clear error within bounded time.
sed "s/^mon host = .*/mon host = v2:127.0.0.1:1/" "$CEPH_CONF" > /tmp/dead.conf
start=$(date +%s.%N)
refused "no answer from the Ceph monitors within 10 s" \
	"$BLK" add --name bad "rbd:rbd/img?conf=/tmp/dead.conf"
took=$(elapsed_since "$start")
within "$took" $ADD_BOUND || fail "add took $took s to give up (README: $ADD_BOUND s)"
log "add with the monitors unreachable failed after $took s"
log "pass"
