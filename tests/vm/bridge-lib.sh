# Helpers of the vhost-user bridge tests: a qemu-storage-daemon exporting
# a file as a vhost-user-blk back-end.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# On failure: what the bridges and the back-end logged, and the kernel.
bridge_diag() {
	local rc=$? f
	[ "$rc" = 0 ] && return 0
	for f in /run/vduse-blk/*.log /tmp/qsd.log; do
		[ -s "$f" ] || continue
		echo "--- $f"
		tail -n 30 "$f"
	done
	echo "--- dmesg"
	dmesg | tail -n 20
}
trap 'bridge_diag; run_cleanups' EXIT

# qsd_start IMG SOCK QUEUES: starts the back-end and waits for its socket;
# sets $qsd_pid.  The socket is made reachable by the daemon's user.
qsd_start() {
	local img=$1 sock=$2 nq=$3 i
	rm -f "$sock"
	qemu-storage-daemon \
		--blockdev driver=file,filename="$img",node-name=d0,cache.direct=on,aio=native \
		--export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path="$sock",writable=on,num-queues="$nq" \
		>> /tmp/qsd.log 2>&1 &
	qsd_pid=$!
	for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	[ -S "$sock" ] || { cat /tmp/qsd.log; fail "qemu-storage-daemon made no socket $sock"; }
	chmod 666 "$sock"
}

# qsd_kill: the back-end dies as a crash would.
qsd_kill() {
	kill -KILL "$qsd_pid" 2>/dev/null
	wait "$qsd_pid" 2>/dev/null
}

# proc_cpu_ticks PID: user + system clock ticks the process used so far.
proc_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
