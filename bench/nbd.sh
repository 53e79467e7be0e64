#!/bin/bash
# vduse-blk's NBD backend against the kernel's NBD client, same nbdkit
# memory server (TCP on 127.0.0.1), one connection each, one boot:
# 4k random reads at QD32 and 128k sequential reads at QD8.  Prints IOPS,
# the ratio, and fio's own NBD engine as the ceiling.  Runs in the test VM:
#
#   tests/vm/run -t 900 -- env VDK_BLK=$PWD/build/tools/vduse-blk bench/nbd.sh
#
# Environment: VDK_BENCH_RUNTIME (fio seconds per run, default 10),
# VDK_BENCH_SIZE_MB (export size, default 128), VDK_BENCH_ROUNDS (3).
. "$(dirname "$0")/../tests/vm/lib.sh"
. "$(dirname "$0")/../tests/vm/nbd-lib.sh"
t_name=bench-nbd
runtime=${VDK_BENCH_RUNTIME:-10}
size_mb=${VDK_BENCH_SIZE_MB:-128}
rounds=${VDK_BENCH_ROUNDS:-3}
require_blk
for c in fio nbd-client python3; do
	command -v $c > /dev/null || fail "$c missing (scripts/deps.sh bench installs it)"
done
fio --enghelp 2>&1 | grep -qw nbd || fail "this fio has no nbd engine (the ceiling row needs it)"
[ -b /dev/nbd0 ] || modprobe nbd 2> /dev/null || true
[ -b /dev/nbd0 ] || fail "no /dev/nbd0: the nbd module is not loaded"

port=$(nbd_port)
nbd_start bench -i 127.0.0.1 -p "$port" memory ${size_mb}M
blk_add --name nbdbench "nbd://127.0.0.1:$port/"
vdev=$dev
# Real data, so neither client reads never-written (cheap) zero pages.
check "fill the export" dd if=/dev/urandom of="$vdev" bs=1M count="$size_mb" \
	oflag=direct status=none
check "nbd-client" nbd-client -N '' 127.0.0.1 "$port" /dev/nbd0 -b 512 > /dev/null 2>&1
at_exit "nbd-client -d /dev/nbd0 > /dev/null 2>&1"
wait_blockdev /dev/nbd0 || fail "/dev/nbd0 did not appear"
[ "$(blockdev --getsize64 /dev/nbd0)" = $((size_mb << 20)) ] || fail "/dev/nbd0 has the wrong size"

# fio_iops ARGS...: runs fio with ARGS plus the common ones; prints read IOPS.
fio_iops() {
	fio --name=b "$@" --time_based --ramp_time=1 --runtime="$runtime" \
	    --output-format=json --output=/tmp/bench-nbd.json > /dev/null ||
		fail "fio $*"
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"]))' \
		/tmp/bench-nbd.json
}

# Rounds interleave the clients, so drift in the host's load hits all
# three alike; the table gives medians.  fio's own NBD engine (libnbd in
# fio, no block device, no kernel client) is the most any client can get
# from this server on these CPUs: the ceiling for the other two.
results=/tmp/bench-nbd.txt
: > "$results"
for round in $(seq "$rounds"); do
	for job in "randread 4k 32" "read 128k 8"; do
		set -- $job
		common=(--rw="$1" --bs="$2" --iodepth="$3")
		v=$(fio_iops --filename="$vdev" --direct=1 --ioengine=libaio "${common[@]}")
		k=$(fio_iops --filename=/dev/nbd0 --direct=1 --ioengine=libaio "${common[@]}")
		c=$(fio_iops --ioengine=nbd --uri="nbd://127.0.0.1:$port/" \
			--size=${size_mb}M "${common[@]}")
		[ "$k" -gt 0 ] && [ "$v" -gt 0 ] || fail "a client did no I/O"
		echo "$2-$1-qd$3 $v $k $c" >> "$results"
	done
done
"$(dirname "$0")"/medians "$results" vduse-blk=0 kernel-nbd=1 ratio=0/1 fio-libnbd=2 ceiling/kernel=2/1
