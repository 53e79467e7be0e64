#!/bin/bash
# --vhost: the device a VM would get.  vdk-vhost-client plays the VMM on
# /dev/vhost-vdpa-N (memfd guest memory, IOTLB, a split ring) over a memory
# and a file backend; the file must then hold the client's bytes at the
# right offset.  Then delete, and add and delete the same name again.
. "$(dirname "$0")/lib.sh"
require_blk
CLIENT=${VDK_VHOST_CLIENT:-}
[ -n "$CLIENT" ] && [ -x "$CLIENT" ] ||
	fail "VDK_VHOST_CLIENT does not name the vdk-vhost-client binary"
[ -d /sys/bus/vdpa/drivers/vhost_vdpa ] || fail "vhost_vdpa is not loaded"

# Like blk_add, but the node is /dev/vhost-vdpa-N, a character device.
vhost_add() {
	blk_add_any --vhost "$@"
	case $dev in
	/dev/vhost-vdpa-*) ;;
	*) fail "add --vhost printed '$dev', not /dev/vhost-vdpa-N" ;;
	esac
	[ -c "$dev" ] || fail "add --vhost printed '$dev', which is not a character device"
	[ -d "/sys/bus/vdpa/drivers/vhost_vdpa/$added" ] ||
		fail "$added is not bound to vhost_vdpa"
	"$BLK" list | grep -qE "^$added +$dev " ||
		fail "list does not show $added on $dev: $("$BLK" list 2>&1)"
	log "added $added: $dev"
}

# Runs the client; on failure shows the daemon's side too.
client() {
	local name=$1; shift
	"$CLIENT" "$@" || {
		cat "/run/vduse-blk/$name.log" 2>/dev/null | tail -n 20 >&2
		fail "vdk-vhost-client $* on $name"
	}
}

vhost_del() {
	local name=$1 node=$2
	check "del $name" "$BLK" del "$name"
	[ -e "/dev/vduse/$name" ] && fail "/dev/vduse/$name still exists after del"
	[ -e "/sys/bus/vdpa/devices/$name" ] && fail "vdpa device $name still exists after del"
	[ -e "$node" ] && fail "$node still exists after del"
	"$BLK" list | grep -qE "^$name " && fail "list still shows $name after del"
	log "deleted $name"
}

# Memory backend: all ring features, then none with the indexes about to
# wrap, finding the first session's data after the device was reset.
vhost_add --name vhmem --serial vhost-mem-1 memory:16M
mem_dev=$dev
range="--start 0 --sectors 2048"
client vhmem "$mem_dev" $range --seed 11 --id vhost-mem-1
client vhmem "$mem_dev" $range --seed 12 --expect-seed 11 --no-event-idx \
	--no-indirect --base 65500
client vhmem "$mem_dev" $range --seed 13 --expect-seed 12 --no-indirect \
	--base 65535

# File backend: the client's bytes must land in the file at its offset,
# and nothing around them may change.
img=/tmp/vhost-file.img
truncate -s 32M $img
vhost_add --name vhfile $img
file_dev=$dev
start=1000 sectors=3000
client vhfile "$file_dev" --seed 21 --start $start --sectors $sectors \
	--pattern-out /tmp/vhost-pattern.bin
check "file size unchanged" [ "$(stat -c %s $img)" = $((32 << 20)) ]
dd if=$img of=/tmp/vhost-landed.bin bs=512 skip=$start count=$sectors status=none
check "the pattern landed at sector $start of the file" \
	cmp /tmp/vhost-pattern.bin /tmp/vhost-landed.bin
check "nothing before sector $start" \
	cmp -n $((start * 512)) $img /dev/zero
end=$(((start + sectors) * 512))
check "nothing after the pattern" \
	cmp -n $(((32 << 20) - end)) -i $end:0 $img /dev/zero
log "the file holds the client's pattern at sector $start and nothing else"

# A second session over the file finds the first one's data.
client vhfile "$file_dev" --seed 22 --expect-seed 21 --start $start \
	--sectors $sectors --no-event-idx

vhost_del vhmem "$mem_dev"
vhost_del vhfile "$file_dev"

# Same name again, twice: nothing of the first device may be left over.
# A small queue and 4 KiB blocks change the client's limits too.
for i in 1 2; do
	vhost_add --name vhmem --queue-size 64 --block-size 4096 memory:8M
	client vhmem "$dev" --seed $((30 + i)) --sectors 512
	vhost_del vhmem "$dev"
done
log "pass"
