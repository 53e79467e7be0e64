#!/bin/bash
# RBD backend, daemon crashes: a two-queue device is killed and recovered,
# upgraded, and killed and adopted, all under verified fio
# (recover-lib.sh).  The README says the options in the spec are saved so
# that recover finds the same cluster: every recovering command here runs
# with CEPH_CONF naming a file that does not exist, and the device added
# with ?conf= still comes back.  A device added without it must not (the
# control that shows the environment really differed), until CEPH_CONF is
# right again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rbd-lib.sh"
. "$(dirname "$0")/recover-lib.sh"
require_blk
rbd_cluster_up
[ -f "$CEPH_CONF" ] || fail "CEPH_CONF '$CEPH_CONF' is not a file"

check "create rbd/rec" rbd_cli create --size 256M rbd/rec
spec="rbd:rbd/rec?conf=$CEPH_CONF"
blk_add --name rbdrec --queues 2 "$spec"
recover_env="CEPH_CONF=/nonexistent/ceph.conf"
recover_under_load rbdrec "$spec"
check "del" "$BLK" del rbdrec

# The control: no conf in the spec, so the environment decides.
check "create rbd/env" rbd_cli create --size 64M rbd/env
blk_add --name rbdenv rbd:rbd/env
pid=$(daemon_pid rbdenv) || fail "no daemon for rbdenv"
kill -KILL $pid
while kill -0 $pid 2>/dev/null; do sleep 0.05; done
out=$(timeout 120 env CEPH_CONF=/nonexistent/ceph.conf "$BLK" recover rbdenv 2>&1) &&
	fail "recover found the cluster without a configuration: $out"
log "without ?conf= and with CEPH_CONF wrong, recover fails: $out"
check "recover with CEPH_CONF right" timeout 120 "$BLK" recover rbdenv
fio_verify "$dev" --size=8M
check "del" "$BLK" del rbdenv
log "pass"
