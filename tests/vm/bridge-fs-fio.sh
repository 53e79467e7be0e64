#!/bin/bash
# The vhost-user bridge against qemu-storage-daemon's vhost-user-blk
# export: a filesystem round trip and verified fio on 2 queues and on 1,
# the back-end's file holding exactly what was written, and proof that
# the data never passes through the bridge.
. "$(dirname "$0")/bridge-lib.sh"
require_blk
command -v qemu-storage-daemon > /dev/null || fail "qemu-storage-daemon missing (scripts/deps.sh installs it)"
img=/tmp/bridge.img
sock=/tmp/bridge.sock
truncate -s 256M $img
qsd_start $img $sock 2
at_exit "kill $qsd_pid 2>/dev/null"

# The back-end's two queues, by default.
blk_add --name br0 vhost-user:$sock
nq=$(ls /sys/block/${dev#/dev/}/mq | wc -l)
[ "$nq" = 2 ] || fail "expected 2 hardware queues from the back-end's 2, got $nq"
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((256 * 2048)) ] || fail "size of $dev"
"$BLK" list | grep -q "^br0 .*vhost-user:$sock" || { "$BLK" list; fail "list does not show br0's back-end"; }
pid=$(daemon_pid br0)

fs_round_trip "$dev"

# Data moves between the kernel and the back-end only: the bridge maps no
# more than the rings, and its reads are 8-byte eventfd counters.
read0=$(awk '/^rchar/ { print $2 }' /proc/$pid/io)
write0=$(awk '/^wchar/ { print $2 }' /proc/$pid/io)
ticks0=$(proc_cpu_ticks $pid)
fio_verify "$dev" --size=48M --numjobs=2 --offset_increment=64M
read1=$(awk '/^rchar/ { print $2 }' /proc/$pid/io)
write1=$(awk '/^wchar/ { print $2 }' /proc/$pid/io)
ticks1=$(proc_cpu_ticks $pid)
reqs=$("$BLK" stats br0 --json | grep -o '"total": {"requests": [0-9]*' | grep -o '[0-9]*$')
[ "$reqs" -gt 1000 ] || fail "stats counted $reqs requests for 96 MiB of fio"
moved=$(( (read1 - read0) + (write1 - write0) ))
log "bridge: $reqs requests, $moved bytes read+written by the bridge, $((ticks1 - ticks0)) CPU ticks"
[ "$moved" -lt $((reqs * 16 + 65536)) ] ||
	fail "the bridge read and wrote $moved bytes for $reqs requests: data passes through it"
mapped=0
while read -r range _ _ _ _ path; do
	[[ "$path" == *vduse-domain* ]] || continue
	mapped=$((mapped + 0x${range#*-} - 0x${range%-*}))
done < /proc/$pid/maps
grep -q vduse-domain /proc/$pid/maps || { cat /proc/$pid/maps; fail "the bridge maps no ring: its maps name no [vduse-domain]"; }
log "bridge maps $mapped bytes of the VDUSE domain"
[ "$mapped" -le $((4 * 1024 * 1024)) ] ||
	fail "the bridge maps $mapped bytes of the VDUSE domain; only its rings were expected"
grep -q '"interrupts": [1-9]' <("$BLK" stats br0 --json) || fail "stats show no interrupts"

# Bytes written through the bridge land in the back-end's file as they are.
head -c 5M /dev/urandom > /tmp/bridge-pat
check "write the pattern" dd if=/tmp/bridge-pat of="$dev" bs=1M seek=100 oflag=direct status=none
check "del" "$BLK" del br0
cmp /tmp/bridge-pat <(dd if=$img bs=1M skip=100 count=5 status=none) ||
	fail "the back-end's file does not hold what was written through the bridge"

# --queues asks for fewer than the back-end serves.
blk_add --name br0 --queues 1 vhost-user:$sock
nq=$(ls /sys/block/${dev#/dev/}/mq | wc -l)
[ "$nq" = 1 ] || fail "--queues 1 gave $nq hardware queues"
cmp /tmp/bridge-pat <(dd if="$dev" bs=1M skip=100 count=5 iflag=direct status=none) ||
	fail "data written before the re-add reads back different"
fio_verify "$dev" --size=24M
check "del" "$BLK" del br0
log "pass"
