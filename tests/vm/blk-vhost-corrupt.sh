#!/bin/bash
# A hostile VMM breaks one queue: over --vhost, vdk-vhost-client gives
# queue 0 of a two-queue device a malformed chain (a descriptor loop, a
# next index out of range, an unmapped address: one device each) while
# queue 1 serves verified I/O.  The daemon must stay up, stop only queue 0
# (a valid request posted after the malformed one stays unanswered), log
# why, and serve queue 0 again after the driver resets the device: the
# client then reads back through queue 0 what it wrote through queue 1,
# and the file holds exactly those bytes.
. "$(dirname "$0")/lib.sh"
require_blk
CLIENT=${VDK_VHOST_CLIENT:-}
[ -n "$CLIENT" ] && [ -x "$CLIENT" ] ||
	fail "VDK_VHOST_CLIENT does not name the vdk-vhost-client binary"
[ -d /sys/bus/vdpa/drivers/vhost_vdpa ] || fail "vhost_vdpa is not loaded"

start=256 sectors=2048
seed=50
for kind in loop:"loops back" next:"out of range" addr:"is not mapped"; do
	want=${kind#*:} kind=${kind%%:*}
	seed=$((seed + 1))
	img=/tmp/corrupt-$kind.img
	truncate -s 32M $img
	rm -f /run/vduse-blk/vc$kind.log
	blk_add_any --vhost --queues 2 --name vc$kind $img
	[ -c "$dev" ] || fail "add --vhost printed '$dev'"
	pid=$(daemon_pid vc$kind) || fail "no daemon for vc$kind"
	"$CLIENT" "$dev" --corrupt $kind --seed $seed --start $start \
		--sectors $sectors --pattern-out /tmp/corrupt.pat ||
		{ tail -n 20 /run/vduse-blk/vc$kind.log; fail "vdk-vhost-client --corrupt $kind"; }
	[ "$(daemon_pid vc$kind)" = "$pid" ] || fail "the daemon of vc$kind did not stay up ($kind)"
	grep -q "queue 0: .*$want" /run/vduse-blk/vc$kind.log ||
		{ cat /run/vduse-blk/vc$kind.log; fail "the daemon did not log queue 0's $kind ('$want')"; }
	grep "queue 1: " /run/vduse-blk/vc$kind.log &&
		fail "queue 1 logged a problem; only queue 0 was malformed"
	dd if=$img of=/tmp/corrupt.landed bs=512 skip=$start count=$sectors status=none
	check "the file holds what queue 1 wrote ($kind)" cmp /tmp/corrupt.pat /tmp/corrupt.landed
	check "nothing before sector $start ($kind)" cmp -n $((start * 512)) $img /dev/zero
	check "del" "$BLK" del vc$kind
	log "$kind: queue 0 broke alone, $(grep -c "queue 0: " /run/vduse-blk/vc$kind.log 2>/dev/null || echo 1) log line; served again after a reset: ok"
done
log "pass"
