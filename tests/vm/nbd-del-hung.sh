#!/bin/bash
# NBD backend, server hung with I/O in flight and no --io-timeout: `del`
# still finishes.  The kernel waits for the requests in flight before it
# resets the device, so the daemon fails them (EIO) once the server has
# had 10 s to answer; without that, del would wait for ever.  Two ways
# for a server to be gone: stopped (SIGSTOP: the connection stays up, no
# answers) and killed (every reconnect fails).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nbd-lib.sh"
require_blk

img=/tmp/nbd-hung.img
truncate -s 64M $img
port=$(nbd_port)

# del_hung NAME HOW: fio writes, the server goes away HOW, del returns.
del_hung() {
	local name=$1 how=$2 pid blk start took gone
	nbd_start hung -i 127.0.0.1 -p "$port" file $img
	blk_add --name "$name" "nbd://127.0.0.1:$port/"
	blk=${dev#/dev/}
	fio --name=hung --filename="$dev" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bs=4k --iodepth=16 --size=32M --time_based \
	    --runtime=300 --output=/tmp/fio-hung.log 2> /tmp/fio-hung.err &
	local fio=$!
	for i in $(seq 100); do
		[ "$(awk '{print $5}' /sys/block/$blk/stat)" -ge 200 ] && break
		sleep 0.1
	done
	pid=$(cat /tmp/nbdkit-hung.pid)
	case $how in
	stop) kill -STOP "$pid"; gone=stopped ;;
	kill) nbd_stop hung; gone=killed ;;
	esac
	sleep 2
	kill -0 $fio 2> /dev/null || { cat /tmp/fio-hung.log; fail "fio ended before del"; }
	[ "$(awk '{print $1 + $2}' /sys/block/$blk/inflight)" -gt 0 ] ||
		fail "no request in flight with the server $gone"
	start=$(date +%s)
	timeout 60 "$BLK" del "$name" || fail "del with the server $gone failed or hung"
	took=$(( $(date +%s) - start ))
	[ ! -e "$dev" ] || fail "$dev still exists after del"
	[ ! -e /dev/vduse/"$name" ] || fail "/dev/vduse/$name still exists after del"
	timeout 30 tail --pid=$fio -f /dev/null || fail "fio hung after del"
	wait $fio && fail "fio succeeded although its device went away"
	# Not before the grace: a slow server is not a gone one.
	[ "$took" -ge 8 ] && [ "$took" -le 40 ] ||
		fail "del took $took s with the server $gone, expected 10-40"
	grep -q "requests failed with an I/O error: the backend did not answer them in time" \
		/run/vduse-blk/"$name".log ||
		{ cat /run/vduse-blk/"$name".log; fail "the daemon did not say it failed the requests"; }
	log "del with the server $gone returned after $took s"
	[ "$how" = stop ] && { kill -CONT "$pid"; nbd_stop hung; }
	return 0
}

del_hung hungstop stop
del_hung hungkill kill
log "pass"
