# Helpers for the tests that run inside the test VM (sourced, bash).
# Each test fails loudly: `fail MSG` exits 1, and cleanup runs at exit.

set -uo pipefail

t_name=$(basename "$0" .sh)
t_cleanups=()

log() { echo "[$t_name] $*"; }
fail() { echo "[$t_name] FAIL: $*" >&2; exit 1; }
skip() { echo "[$t_name] SKIP: $*" >&2; exit 77; }

# Runs "$@" at exit, last registered first.
at_exit() { t_cleanups=("$*" "${t_cleanups[@]}"); }
run_cleanups() {
	local c
	for c in "${t_cleanups[@]}"; do eval "$c" || true; done
}
trap run_cleanups EXIT

# Fails the test with MSG unless the command succeeds.
check() {
	local msg=$1; shift
	"$@" || fail "$msg (command: $*)"
}

# The tests need the kernel's VDUSE: inside the VM, or natively.
require_vduse() {
	[ -c /dev/vduse/control ] || fail "no /dev/vduse/control: run through tests/vm/run"
	[ "$(id -u)" = 0 ] || fail "needs root"
}

# Waits up to $2 seconds (default 10) for $1 to be a block device.
wait_blockdev() {
	local dev=$1 n=$(( ${2:-10} * 10 ))
	while [ $n -gt 0 ]; do
		[ -b "$dev" ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# Waits up to 10 s for the block device of vdpa device $1 (bound to
# virtio_vdpa) to show up; prints it.
vdpa_blockdev() {
	local i blk
	for i in $(seq 100); do
		blk=$(ls /sys/bus/vdpa/devices/"$1"/virtio*/block 2>/dev/null | head -n1)
		[ -n "$blk" ] && wait_blockdev "/dev/$blk" && { echo "/dev/$blk"; return 0; }
		sleep 0.1
	done
	return 1
}

# Adds vdpa device $1 and binds it to virtio_vdpa (not vhost_vdpa, which
# may also be loaded); prints the resulting /dev/vdX.
vdpa_add_virtio() {
	local name=$1 sys=/sys/bus/vdpa autoprobe
	autoprobe=$(cat $sys/drivers_autoprobe)
	echo 0 > $sys/drivers_autoprobe
	vdpa dev add name "$name" mgmtdev vduse || { echo "$autoprobe" > $sys/drivers_autoprobe; return 1; }
	echo "$autoprobe" > $sys/drivers_autoprobe
	echo virtio_vdpa > $sys/devices/"$name"/driver_override
	echo "$name" > $sys/drivers/virtio_vdpa/bind || return 1
	vdpa_blockdev "$name"
}

# The filesystem round trip every block device must pass: mkfs.ext4, mount,
# write, unmount, fsck clean, remount, content verified.
fs_round_trip() {
	local dev=$1 mnt
	mnt=$(mktemp -d /tmp/mnt.XXXXXX)
	check "mkfs.ext4 on $dev" mkfs.ext4 -q -F "$dev"
	check "mount $dev" mount "$dev" "$mnt"
	head -c 3M /dev/urandom > /tmp/fs-payload
	check "write a file" cp /tmp/fs-payload "$mnt/payload"
	check "sync" sync
	check "umount" umount "$mnt"
	fsck.ext4 -fn "$dev" > /tmp/fsck.log 2>&1 ||
		{ cat /tmp/fsck.log; fail "fsck -fn found errors on $dev"; }
	check "remount $dev" mount "$dev" "$mnt"
	check "content after remount" cmp /tmp/fs-payload "$mnt/payload"
	check "umount" umount "$mnt"
	rmdir "$mnt"
	log "filesystem round trip on $dev: ok"
}

# A short verified fio run; extra fio options may follow the device.
fio_verify() {
	local dev=$1; shift
	fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bsrange=4k-64k --iodepth=16 --size=32M \
	    --verify=crc32c --do_verify=1 --verify_fatal=1 --numjobs=1 \
	    --verify_state_save=0 --output=/tmp/fio-verify.log "$@" ||
		{ cat /tmp/fio-verify.log; fail "fio verify on $dev"; }
	grep -q "err= 0" /tmp/fio-verify.log ||
		{ cat /tmp/fio-verify.log; fail "fio reported errors on $dev"; }
	log "fio crc32c verify on $dev: ok"
}

# The daemon under test: meson passes its path in VDK_BLK.
BLK=${VDK_BLK:-}
require_blk() {
	require_vduse
	[ -n "$BLK" ] && [ -x "$BLK" ] || fail "VDK_BLK does not name the vduse-blk binary"
}

# The pid of the daemon serving device $1, from `list --json`.
daemon_pid() {
	"$BLK" list --json | grep -o "\"name\": \"$1\"[^}]*\"pid\": [0-9]*" |
		grep -o '[0-9]*$'
}

# kill_daemon NAME: kills the daemon of NAME as a crash would (SIGKILL)
# and waits up to 10 s until it is gone; sets $killed_pid.
kill_daemon() {
	local i
	killed_pid=$(daemon_pid "$1") || fail "no daemon for $1"
	kill -KILL "$killed_pid" || fail "kill -9 $killed_pid"
	for i in $(seq 200); do
		kill -0 "$killed_pid" 2>/dev/null || return 0
		sleep 0.05
	done
	fail "daemon $killed_pid survived SIGKILL"
}

# Adds a device with "$@" (which must include --name); sets $dev to the
# node add printed and $added to its name, and registers its removal.
blk_add_any() {
	local name="" a prev=""
	for a in "$@"; do
		[ "$prev" = --name ] && name=$a
		prev=$a
	done
	[ -n "$name" ] || fail "adding a device needs --name"
	# Bounded, so that a hang fails here with the test's own diagnostics.
	dev=$(timeout 120 "$BLK" add "$@") || fail "vduse-blk add $*"
	added=$name
	at_exit "'$BLK' del '$name' 2>/dev/null"
}

# Like blk_add_any, and the node must be a block device.
blk_add() {
	blk_add_any "$@"
	[ -b "$dev" ] || fail "add printed '$dev', which is not a block device"
	log "added $added: $dev"
}

# Seconds (with fractions) since START, a `date +%s.%N` value.
elapsed_since() {
	echo "$(date +%s.%N) $1" | awk '{ printf "%.1f", $1 - $2 }'
}

# Whether SECONDS (with fractions) is at most BOUND.
within() {
	awk -v t="$1" -v b="$2" 'BEGIN { exit !(t <= b) }'
}

# Runs a command expected to fail; checks its message contains $1.
expect_fail() {
	local want=$1 out; shift
	out=$("$@" 2>&1) && fail "expected failure of: $* (output: $out)"
	case $out in
	*"$want"*) log "refused as expected: $out" ;;
	*) fail "'$*' failed with '$out', expected a message containing '$want'" ;;
	esac
}

# Reinserts a module the initramfs loaded (after a test removed it).
reinsert_module() {
	[ -d "/sys/module/$1" ] || insmod "/run/vm-modules/$1.ko" ||
		fail "cannot load module $1 again"
}
