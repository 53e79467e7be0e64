#!/bin/bash
# The daemon itself under memory pressure.  The guest is small (the host
# wrapper boots it with 384 MiB and gives it a writable host folder $1 for
# the backing file, so the data does not live in guest RAM).  A hog takes
# most of the free memory, and a writer then pushes 320 MiB through ext4 on
# the device: reclaim runs for every task, the daemon included, and writeback
# of the dirty pages needs the daemon to make progress.
#
# Checked: the writer finishes, its data verifies and the file system is
# clean; direct reclaim really happened; the daemon took no major page
# fault all along (mlockall keeps its pages resident: a build without it
# faults here), its memory is locked, and every thread carries
# PR_SET_IO_FLUSHER's task flags (its allocations never wait on I/O).
. "$(dirname "$0")/lib.sh"
require_blk
dir=${1:-}
[ -d "$dir" ] && [ -w "$dir" ] || fail "usage: blk-pressure.sh WRITABLE-HOST-DIR (see blk-pressure-host.sh)"

# Fields of /proc/PID/stat after the command name.
stat_field() {
	local line n=$2
	line=$(cat "$1") || return 1
	set -- ${line##*) }
	eval echo "\${$n}"
}
vmstat_sum() { awk -v re="$1" '$1 ~ re { n += $2 } END { print n + 0 }' /proc/vmstat; }

rm -f "$dir/disk.img"
truncate -s 2G "$dir/disk.img"
blk_add --name mp "$dir/disk.img"
dpid=$(daemon_pid mp) || fail "no daemon for mp"
check "mkfs" mkfs.ext4 -q -F "$dev"
mkdir -p /tmp/mp && check "mount" mount "$dev" /tmp/mp
# Lazily: a fs whose daemon died would hang a plain umount.
at_exit "umount -l /tmp/mp 2>/dev/null"

# Dirty pages are capped (32 MiB, writeback from 16 MiB) so that the
# writer waits for writeback rather than filling what memory is left: with
# the kernel's ratios on a guest this small, reclaim could fall behind
# and the OOM killer take the hog, ending the pressure early.
# Writing a ratio back clears the byte limit, as before the test.
at_exit "echo $(cat /proc/sys/vm/dirty_ratio) > /proc/sys/vm/dirty_ratio"
at_exit "echo $(cat /proc/sys/vm/dirty_background_ratio) > /proc/sys/vm/dirty_background_ratio"
echo $((32 << 20)) > /proc/sys/vm/dirty_bytes || fail "vm.dirty_bytes"
echo $((16 << 20)) > /proc/sys/vm/dirty_background_bytes || fail "vm.dirty_background_bytes"

# The hog leaves 68 MiB available, and is the first the OOM killer takes
# should the kernel need more, never the daemon.  The margin between
# pressure that shows a daemon without mlockall faulting (at 68 MiB: 2835
# major faults) and pressure that sometimes ends in the OOM killer is
# narrow, so a hog that is taken is started again at once: the pressure
# lasts the whole run either way, and the run says how often it happened.
avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
hog_mb=$((avail - 68))
[ $hog_mb -gt 100 ] || fail "only $avail MiB available: the guest is not the one this test expects"
hog_start() {
	python3 -c "
import os, sys, time
b = bytearray($hog_mb << 20)
for i in range(0, len(b), 4096):
	b[i] = 1
sys.stdout.write('ready\\n'); sys.stdout.flush()
time.sleep(3600)" > /tmp/hog.out 2> /dev/null &
	hog=$!
	echo 1000 > /proc/$hog/oom_score_adj
}
: > /tmp/hog.out
hog_start
at_exit 'kill $hog 2>/dev/null'
for i in $(seq 300); do
	[ -s /tmp/hog.out ] && break
	kill -0 $hog 2>/dev/null || fail "the memory hog died before it was ready"
	sleep 0.1
done
[ -s /tmp/hog.out ] || fail "the memory hog did not get ready in 30 s"
log "hog holds $hog_mb MiB; $(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo) MiB available"

stalls0=$(vmstat_sum '^allocstall_')
majflt0=$(stat_field /proc/$dpid/stat 10)
start=$(date +%s)
fio --name=pressure --filename=/tmp/mp/big --rw=write --bs=1M --size=320M \
    --ioengine=psync --direct=0 --end_fsync=1 --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --output=/tmp/pressure.fio > /dev/null 2>&1 &
writer=$!
hog_kills=0
for i in $(seq 2400); do
	kill -0 $writer 2>/dev/null || break
	kill -0 $dpid 2>/dev/null || fail "the daemon died under memory pressure"
	if ! kill -0 $hog 2>/dev/null; then
		hog_kills=$((hog_kills + 1))
		hog_start
	fi
	sleep 0.1
done
kill -0 $writer 2>/dev/null &&
	{ tail -n 20 /run/vduse-blk/mp.log; fail "320 MiB through the device did not finish within 240 s"; }
wait $writer || { cat /tmp/pressure.fio; fail "the writer under memory pressure failed"; }
grep -q "err= 0" /tmp/pressure.fio || { cat /tmp/pressure.fio; fail "fio reported errors"; }
stalls=$(( $(vmstat_sum '^allocstall_') - stalls0 ))
majflt=$(( $(stat_field /proc/$dpid/stat 10) - majflt0 ))
[ $stalls -gt 0 ] || fail "no direct reclaim while writing: there was no memory pressure"
log "320 MiB written and verified in $(( $(date +%s) - start )) s; $stalls direct reclaims; the OOM killer took the hog $hog_kills times (started again each time)"
[ $majflt = 0 ] ||
	fail "the daemon took $majflt major page faults under pressure: its memory was not kept resident"

# mlockall: locked memory; PR_SET_IO_FLUSHER: on 6.12 it shows only as the
# task flags PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE (field 9 of stat), which
# every thread must carry: main, control, queues and io_uring workers.
grep -E "PR_SET_IO_FLUSHER:|mlockall:" /run/vduse-blk/mp.log &&
	fail "the daemon warned that it is not hardened against memory pressure"
lck=$(awk '/^VmLck:/ {print $2}' /proc/$dpid/status)
[ "${lck:-0}" -gt 0 ] || fail "the daemon has no locked memory (VmLck ${lck:-?} kB)"
tasks=0
for st in /proc/$dpid/task/*/stat; do
	flags=$(stat_field "$st" 7) || continue
	[ $((flags & 0x180000)) = $((0x180000)) ] ||
		fail "thread $(basename "$(dirname "$st")") has task flags $(printf 0x%x "$flags"): not an IO_FLUSHER"
	tasks=$((tasks + 1))
done
[ $tasks -ge 3 ] || fail "only $tasks threads: expected main, control and a queue"
log "no major fault in the daemon; VmLck ${lck} kB; all $tasks threads are IO_FLUSHERs"

kill $hog
check "umount" umount /tmp/mp
fsck.ext4 -fn "$dev" > /tmp/fsck.log 2>&1 || { cat /tmp/fsck.log; fail "fsck after pressure"; }
check "del" "$BLK" del mp
rm -f "$dir/disk.img"
log "memory pressure on the daemon itself: ok"
