#!/bin/bash
# vduse-blk's NBD backend against the kernel's NBD client, same nbdkit
# memory server (TCP on 127.0.0.1), one connection each, one boot:
# 4k random reads at QD32 and 128k sequential reads at QD8.  Prints IOPS
# and the ratio.  Runs in the test VM:
#
#   tests/vm/run -t 900 -- env VDK_BLK=$PWD/build/tools/vduse-blk bench/nbd.sh
#
# Environment: VDK_BENCH_RUNTIME (fio seconds per run, default 10),
# VDK_BENCH_SIZE_MB (export size, default 128).
. "$(dirname "$0")/../tests/vm/lib.sh"
. "$(dirname "$0")/../tests/vm/nbd-lib.sh"
t_name=bench-nbd
runtime=${VDK_BENCH_RUNTIME:-10}
size_mb=${VDK_BENCH_SIZE_MB:-128}
require_blk
for c in fio nbd-client python3; do
	command -v $c > /dev/null || fail "$c missing (scripts/deps.sh bench installs it)"
done
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

# fio_iops DEV RW BS QD: prints read IOPS (integer).
fio_iops() {
	fio --name=b --filename="$1" --direct=1 --ioengine=libaio --rw="$2" \
	    --bs="$3" --iodepth="$4" --time_based --ramp_time=1 \
	    --runtime="$runtime" --output-format=json --output=/tmp/bench-nbd.json ||
		fail "fio on $1"
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"]))' \
		/tmp/bench-nbd.json
}

printf '%-14s %12s %12s %8s\n' job vduse-blk kernel-nbd ratio
for job in "randread 4k 32" "read 128k 8"; do
	set -- $job
	v=$(fio_iops "$vdev" "$1" "$2" "$3")
	k=$(fio_iops /dev/nbd0 "$1" "$2" "$3")
	[ "$k" -gt 0 ] || fail "the kernel client did no I/O"
	printf '%-14s %12s %12s %8s\n' "$2-$1-qd$3" "$v" "$k" \
		"$(python3 -c "print(f'{$v / $k:.2f}x')")"
done
