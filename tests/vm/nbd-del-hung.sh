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
	local name=$1 how=$2 start took
	nbd_lose_server hung "$name" "$how" $img "$port"
	nbd_expect_pending hung
	start=$(date +%s)
	timeout 60 "$BLK" del "$name" || fail "del with the server $gone failed or hung"
	took=$(( $(date +%s) - start ))
	nbd_expect_removed "$name" del
	# Not before the grace: a slow server is not a gone one.
	[ "$took" -ge 8 ] && [ "$took" -le 40 ] ||
		fail "del took $took s with the server $gone, expected 10-40"
	grep -q "requests failed with an I/O error: the backend did not answer them in time" \
		/run/vduse-blk/"$name".log ||
		{ cat /run/vduse-blk/"$name".log; fail "the daemon did not say it failed the requests"; }
	log "del with the server $gone returned after $took s"
	[ "$how" = stop ] && { kill -CONT "$spid"; nbd_stop hung; }
	return 0
}

del_hung hungstop stop
del_hung hungkill kill
log "pass"
