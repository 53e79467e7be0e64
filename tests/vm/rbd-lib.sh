# A throwaway Ceph cluster for the rbd-*.sh tests (sourced after lib.sh).
# rbd_cluster_up brings it up (about 22 s in the VM) and registers its
# teardown: daemons still serving are killed first, since a librbd
# client whose cluster is gone never finishes.
. "$(dirname "${BASH_SOURCE[0]}")/ceph-single-node.sh"
command -v ceph-mon > /dev/null || fail "ceph-mon is missing: run scripts/deps.sh"

rbd_cluster_up() {
	at_exit rbd_teardown
	ceph_up || { ceph_logs; fail "the Ceph cluster did not come up"; }
	log "Ceph cluster up"
}

rbd_teardown() {
	local pid
	for pid in $("$BLK" list --json 2> /dev/null | grep -o '"pid": [0-9]*' |
		     grep -o '[0-9]*$'); do
		kill -9 "$pid" 2> /dev/null
	done
	ceph_down
}

# rbd_wait_size DEV BYTES: the device reaches that size within 15 s.
rbd_wait_size() {
	local i
	for i in $(seq 150); do
		[ "$(blockdev --getsize64 "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
