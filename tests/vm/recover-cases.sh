#!/bin/bash
# Kills at awkward moments, each shown to land where it is named: during
# mkfs (mkfs still waiting on the device; fsck must be clean after
# recover), during device setup (some kills must find a half-made device,
# which del then serves once more and removes) and during del (the daemon
# is killed while del waits for it; del and add must still work).  Then
# upgrades under verified fio that is running before and after: from the
# previous version's binary to this one, and from this one to itself.
. "$(dirname "$0")/lib.sh"
require_blk
PREV=${VDK_BLK_PREV:-}
[ -n "$PREV" ] && [ -x "$PREV" ] ||
	fail "VDK_BLK_PREV does not name the previous version's vduse-blk (tests/vm/build-prev.sh)"

# Waits for daemon $1 to be gone.
wait_dead() {
	local i
	for i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# 1. mkfs interrupted by a crash, recovered: the filesystem is consistent.
# mkfs is short (under TCG, a discard of the whole device and about 300
# writes take a fraction of a second: a kill timed on its I/O lands after
# it), so the daemon dies as mkfs starts, and mkfs must be alive before
# the kill and still waiting on the device once the daemon is dead: every
# request of mkfs crosses the crash.  -D: its writes go to the device as
# it makes them, not in one flush at its end.
truncate -s 256M /tmp/mk.img
blk_add --name mk /tmp/mk.img
pid=$(daemon_pid mk) || fail "no daemon for mk"
mkfs.ext4 -q -F -D -E lazy_itable_init=0,lazy_journal_init=0 "$dev" &
mkfs=$!
sleep 0.02
kill -0 $mkfs 2>/dev/null || fail "mkfs ended before the kill"
check "kill the daemon during mkfs" kill -KILL "$pid"
wait_dead "$pid" || fail "daemon $pid survived SIGKILL"
if ! kill -0 $mkfs 2>/dev/null; then
	wait $mkfs
	fail "mkfs was not waiting on the device when its daemon died: it exited with status $?"
fi
log "daemon killed as mkfs started; mkfs waits on the device"
check "recover during mkfs" "$BLK" recover mk
wait $mkfs || fail "mkfs.ext4 failed across the crash"
check "fsck -fn clean after crash during mkfs" fsck.ext4 -fn "$dev"
log "crash during mkfs: ok"

# 1b. What systemd's restart does: add --adopt takes the orphan over.
kill -KILL "$(daemon_pid mk)"
sleep 0.2
check "add --adopt of an orphan" "$BLK" add --adopt --name mk /tmp/mk.img
[ -n "$(daemon_pid mk)" ] || fail "add --adopt started no daemon"
check "fsck through the adopted device" fsck.ext4 -fn "$dev" > /dev/null 2>&1
expect_fail "running daemon" "$BLK" add --adopt --name mk /tmp/mk.img
check "del" "$BLK" del mk
log "add --adopt: ok"

# 2. Killed while setting up: del cleans up, add works again.  Each kill's
# outcome is recorded: no device yet, a half-made one (the VDUSE device
# exists, its block device does not), or a device fully up.  Besides fixed
# delays, kills are triggered as soon as the VDUSE device appears (up to
# four, until one finds a half-made device: the keeper, a fork of the
# daemon, may still finish an attach it was asked for, so one early kill
# can find the device up), and twice as soon as its vdpa device does (the
# driver is probing it).
truncate -s 32M /tmp/setup.img
half=0 half_served=0 states=""
setup_kill() {	# $1: a delay in seconds, or "vduse" / "vdpa" to trigger on
	local how=$1 p state out i
	"$BLK" add --name setup --foreground /tmp/setup.img > /dev/null 2>&1 &
	p=$!
	case $how in
	vduse|vdpa)
		local path=/sys/class/vduse/setup
		[ "$how" = vdpa ] && path=/sys/bus/vdpa/devices/setup
		for i in $(seq 100000); do
			[ -e $path ] && break
			kill -0 $p 2>/dev/null || break
		done ;;
	*) sleep "$how" ;;
	esac
	kill -KILL $p 2>/dev/null || fail "add --foreground had already exited at the kill ($how)"
	wait $p 2>/dev/null
	if [ ! -e /sys/class/vduse/setup ]; then
		state=none
	elif ls /sys/bus/vdpa/devices/setup/virtio*/block > /dev/null 2>&1; then
		state=up
	else
		state=half
	fi
	states="$states $how:$state"
	if [ $state != none ]; then
		out=$(timeout 120 "$BLK" del setup 2>&1) ||
			fail "del after a crash during setup ($how, $state): $out"
		[ $state = half ] && half=$((half + 1))
		# A saved device is served once more, so that it detaches cleanly.
		case $out in
		*"device setup removed"*) [ $state = half ] && half_served=$((half_served + 1)) ;;
		esac
	fi
	[ -e /sys/class/vduse/setup ] && fail "setup device left behind ($how, $state)"
	blk_add --name setup /tmp/setup.img
	check "del" "$BLK" del setup
}
for how in 0.05 0.1 0.2 0.3 0.4 0.6; do
	setup_kill $how
done
# Each half-made device costs del about 25 s: stop at the first.
for i in 1 2 3 4; do
	setup_kill vduse
	[ $half -ge 1 ] && break
done
for how in vdpa vdpa; do
	setup_kill $how
done
log "kills during setup (moment:state):$states"
[ $half -ge 1 ] || fail "no kill found a half-made device"
[ $half_served -ge 1 ] || fail "del served none of the $half half-made devices once more"
log "crash during setup: $half half-made devices, $half_served served by del and removed: ok"

# 3. Killed while deleting: the daemon dies while del, started under fio's
# I/O, still runs; the kill must succeed and del must still be running,
# else it is tried again with a shorter delay.  Then del (if needed) and
# add work again.
truncate -s 32M /tmp/del.img
hit=0
for delay in 0.3 0.2 0.1 0.05 0.02 0.01 0; do
	blk_add --name dl /tmp/del.img
	pid=$(daemon_pid dl) || fail "no daemon for dl"
	fio --name=dl --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
	    --bs=64k --iodepth=32 --time_based --runtime=60 > /dev/null 2>&1 &
	fio=$!
	sleep 1
	"$BLK" del dl > /tmp/dl.out 2>&1 &
	delp=$!
	sleep $delay
	if kill -0 $delp 2>/dev/null && kill -KILL "$pid" 2>/dev/null; then
		kill -0 $delp 2>/dev/null && hit=1
	fi
	wait $delp
	delrc=$?
	kill $fio 2>/dev/null
	wait $fio 2>/dev/null
	if [ -e /sys/class/vduse/dl ]; then
		check "del after a crash during del" timeout 120 "$BLK" del dl
	fi
	[ -e /sys/class/vduse/dl ] && fail "device left behind after del"
	[ $hit = 1 ] && break
	log "after $delay s del had ended or the daemon was gone; again, sooner"
done
[ $hit = 1 ] || fail "no kill landed while del was running"
log "daemon killed $delay s into del; del exited $delrc: $(tr '\n' ' ' < /tmp/dl.out)"
blk_add --name dl /tmp/del.img
check "del" "$BLK" del dl
log "crash during del: ok"

# 4. Upgrades under load: no I/O error.  fio (rate-limited, so that it
# outlasts the upgrade) must be running with requests in flight when
# upgrade starts and still running when it returns.
upgrade_under_fio() {	# $1: the binary that upgrades; $2: what it is
	local bin=$1 what=$2 old new r w i
	fio --name=up --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
	    --bs=4k --iodepth=16 --size=24M --rate_iops=600 --eta=never --verify=crc32c \
	    --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	    --output=/tmp/up.fio.log &
	fio=$!
	for i in $(seq 50); do
		read -r r w < /sys/block/${dev#/dev/}/inflight
		[ $((r + w)) -gt 0 ] && break
		sleep 0.1
	done
	kill -0 $fio 2>/dev/null || { cat /tmp/up.fio.log; fail "fio ended before the upgrade ($what)"; }
	[ $((r + w)) -gt 0 ] || fail "nothing in flight before the upgrade ($what)"
	old=$(daemon_pid up) || fail "no daemon for up"
	check "upgrade ($what)" "$bin" upgrade up
	kill -0 $fio 2>/dev/null || fail "fio ended during the upgrade ($what): the upgrade was not under load"
	new=$(daemon_pid up)
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "upgrade did not start a new daemon ($old -> $new)"
	[ "$(readlink -f /proc/$new/exe)" = "$(readlink -f "$bin")" ] ||
		fail "the new daemon runs $(readlink -f /proc/$new/exe), not $bin"
	wait $fio || { cat /tmp/up.fio.log; fail "fio failed across the upgrade ($what)"; }
	grep -q "err= 0" /tmp/up.fio.log || { cat /tmp/up.fio.log; fail "fio errors across the upgrade ($what)"; }
	log "upgrade under load ($what): ok"
}
truncate -s 64M /tmp/up.img
# The previous version adds the device; this version takes it over.
dev=$("$PREV" add --name up --queues 2 /tmp/up.img) || fail "the previous version's add"
at_exit "'$BLK' del up 2>/dev/null"
[ -b "$dev" ] || fail "the previous version's add printed '$dev'"
[ "$(readlink -f /proc/$(daemon_pid up)/exe)" = "$(readlink -f "$PREV")" ] ||
	fail "the device is not served by the previous version's binary"
upgrade_under_fio "$BLK" "previous version -> this one"
upgrade_under_fio "$BLK" "this version -> itself"
check "del" "$BLK" del up

# 5. Nothing to recover: clear messages.
expect_fail "no device" "$BLK" recover nosuch
blk_add --name live memory:8M
expect_fail "running daemon" "$BLK" recover live
# A RAM disk's data dies with its daemon: recovering it would be a lie.
kill -KILL "$(daemon_pid live)"
sleep 0.2
expect_fail "RAM disk" "$BLK" recover live
check "del of a dead RAM disk" timeout 120 "$BLK" del live
[ -e /sys/class/vduse/live ] && fail "dead RAM disk left behind"
log "pass"
