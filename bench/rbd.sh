#!/bin/bash
# vduse-blk's RBD backend against rbd-nbd (librbd behind the kernel's NBD
# client), the same image of a one-node Ceph cluster in the same boot:
# 4k random reads and writes at QD32, 128k sequential reads at QD8.
# Prints IOPS and, for each daemon, CPU time per I/O (its user + system
# time over the run, from /proc, divided by the I/Os fio completed).
# Runs in the test VM:
#
#   tests/vm/run -m 3072 -t 900 -- env VDK_BLK=$PWD/build/tools/vduse-blk bench/rbd.sh
#
# Both clients read the same ceph.conf, with librbd's cache off so that
# writes are measured to the OSD.  The OSD shares the guest's CPUs with
# them: compare the two columns, not these numbers with other machines.
# Environment: VDK_BENCH_RUNTIME (fio seconds per run, default 10),
# VDK_BENCH_SIZE_MB (image size, default 256), VDK_BENCH_ROUNDS (3).
. "$(dirname "$0")/../tests/vm/lib.sh"
. "$(dirname "$0")/../tests/vm/rbd-lib.sh"
t_name=bench-rbd
runtime=${VDK_BENCH_RUNTIME:-10}
size_mb=${VDK_BENCH_SIZE_MB:-256}
rounds=${VDK_BENCH_ROUNDS:-3}
require_blk
for c in fio rbd-nbd python3; do
	command -v $c > /dev/null || fail "$c missing (scripts/deps.sh bench installs it)"
done
[ -b /dev/nbd0 ] || modprobe nbd 2> /dev/null || true
[ -b /dev/nbd0 ] || fail "no /dev/nbd0: the nbd module is not loaded"

rbd_cluster_up
printf '[client]\nrbd cache = false\n' >> "$CEPH_CONF"
check "create rbd/bench" rbd_cli create --size ${size_mb}M rbd/bench
blk_add --name rbdbench rbd:rbd/bench
vdev=$dev
vpid=$(daemon_pid rbdbench)
# Real data: librbd answers reads of never-written objects without the OSD.
check "fill the image" dd if=/dev/urandom of="$vdev" bs=1M count="$size_mb" \
	oflag=direct conv=fsync status=none
ndev=$(rbd-nbd map rbd/bench) || fail "rbd-nbd map"
at_exit "rbd-nbd unmap $ndev > /dev/null 2>&1"
wait_blockdev "$ndev" || fail "$ndev did not appear"
[ "$(blockdev --getsize64 "$ndev")" = $((size_mb << 20)) ] || fail "$ndev has the wrong size"
# 16.2 calls the pid "id".
npid=$(rbd-nbd list-mapped --format json | python3 -c \
	'import json,sys; print([m.get("pid", m.get("id")) for m in json.load(sys.stdin) if m["device"] == sys.argv[1]][0])' "$ndev") ||
	fail "cannot find rbd-nbd's pid"
log "vduse-blk $vdev (pid $vpid), rbd-nbd $ndev (pid $npid)"

# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run DEV PID RW BS QD: prints "IOPS CPU-us-per-IO".
run() {
	local t0 t1
	t0=$(cpu_ticks "$2")
	fio --name=b --filename="$1" --direct=1 --ioengine=libaio --rw="$3" \
	    --bs="$4" --iodepth="$5" --time_based --runtime="$runtime" \
	    --output-format=json --output=/tmp/bench-rbd.json > /dev/null || fail "fio on $1"
	t1=$(cpu_ticks "$2")
	python3 - "$t0" "$t1" "$hz" <<-'PY'
	import json, sys
	t0, t1, hz = (int(a) for a in sys.argv[1:])
	j = json.load(open("/tmp/bench-rbd.json"))["jobs"][0]
	ios = j["read"]["total_ios"] + j["write"]["total_ios"]
	iops = j["read"]["iops"] + j["write"]["iops"]
	print(int(iops), f"{(t1 - t0) / hz * 1e6 / max(ios, 1):.1f}")
	PY
}

# Rounds interleave the two clients, so drift in the host's load hits both
# alike; the table gives medians (the ratio is the median of per-round ratios).
results=/tmp/bench-rbd.txt
: > "$results"
for round in $(seq "$rounds"); do
	for job in "randread 4k 32" "randwrite 4k 32" "read 128k 8"; do
		set -- $job
		read -r vi vc <<< "$(run "$vdev" "$vpid" "$@")"
		read -r ni nc <<< "$(run "$ndev" "$npid" "$@")"
		[ "$ni" -gt 0 ] && [ "$vi" -gt 0 ] || fail "a client did no I/O"
		echo "$2-$1-qd$3 $vi $ni $vc $nc" >> "$results"
	done
done
"$(dirname "$0")"/medians "$results" vduse-blk=0 rbd-nbd=1 ratio=0/1 \
	'vduse us/IO=2:.1f' 'rbd-nbd us/IO=3:.1f'
