#!/bin/bash
# The main job, end to end: a file becomes /dev/vdX through vduse-blk; it
# is formatted, mounted, written and read back, and fio measures it.
# `make demo` runs this in the test VM when this machine has no VDUSE.
set -euo pipefail
cd "$(dirname "$0")/.."
blk=${VDK_BLK:-build/tools/vduse-blk}
step() { printf '\n== %s\n' "$*"; }

[ -c /dev/vduse/control ] || { echo "demo: no VDUSE here; run it with 'make demo'" >&2; exit 1; }
img=/tmp/demo-disk.img
step "a 256 MiB file becomes a block device"
truncate -s 256M $img
echo "\$ vduse-blk add --name demo --queues 2 $img"
dev=$($blk add --name demo --queues 2 $img)
echo "$dev"
trap '$blk del demo 2>/dev/null || true' EXIT
$blk list

step "format, mount, write, read back"
mkfs.ext4 -q "$dev"
mkdir -p /tmp/demo-mnt
mount "$dev" /tmp/demo-mnt
head -c 16M /dev/urandom > /tmp/demo-payload
cp /tmp/demo-payload /tmp/demo-mnt/payload
umount /tmp/demo-mnt
fsck.ext4 -fn "$dev" > /dev/null 2>&1 && echo "fsck -fn: clean"
mount "$dev" /tmp/demo-mnt
cmp /tmp/demo-payload /tmp/demo-mnt/payload && echo "16 MiB written, unmounted, remounted and read back: identical"
df -h /tmp/demo-mnt | tail -n1
umount /tmp/demo-mnt

step "fio on $dev (emulated CPU: compare ratios, not absolute numbers)"
for job in "randread 4k 32" "randwrite 4k 32" "read 128k 8"; do
	set -- $job
	fio --name=demo --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=$1 --bs=$2 --iodepth=$3 --runtime=4 --time_based --ramp_time=1 \
	    --size=128M --output-format=terse --terse-version=3 |
	awk -F';' -v j="$1 $2 QD$3" '{
		r = $8 + $49; bw = $7 + $48;
		printf "%-18s %8d IOPS %9.1f MiB/s\n", j, r, bw / 1024 }'
done

step "per-queue statistics"
$blk stats demo

step "remove"
$blk del demo
trap - EXIT
echo "demo: done"
