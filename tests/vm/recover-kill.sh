#!/bin/bash
# Crash recovery: the daemon is killed with SIGKILL at random moments while
# verified fio runs on its device (file backend on tmpfs, 1 and 2 queues),
# and `recover` starts a new one each time.  fio must finish with no error
# and no verify failure: the kernel and fio see a pause, never an error.
. "$(dirname "$0")/lib.sh"
require_blk
kills_per_round=${VDK_RECOVER_KILLS:-12}
[ "$kills_per_round" -ge 12 ] 2>/dev/null ||
	fail "VDK_RECOVER_KILLS=$kills_per_round: at least 12 kills per round are needed"
# The kill moments come from RANDOM: a failure can be replayed with the
# seed it prints (VDK_RECOVER_SEED=N).
seed=${VDK_RECOVER_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$seed
log "seed $seed (set VDK_RECOVER_SEED=$seed to replay the kill moments)"
kills=0 busy_kills=0


round() {
	local queues=$1 name=rk$1 img=/tmp/rk$1.img pid jobs=0 k r w i busy=0
	truncate -s 96M $img
	blk_add --name $name --queues "$queues" $img
	local blk=${dev#/dev/}
	rm -f /tmp/$name.stop /tmp/$name.failed
	# Verified fio jobs back to back until told to stop.
	(
		while [ ! -e /tmp/$name.stop ]; do
			fio --name=$name --filename="$dev" --direct=1 --ioengine=libaio \
			    --rw=randwrite --bsrange=4k-64k --iodepth=16 --numjobs=$queues \
			    --size=16M --offset_increment=24M --verify=crc32c \
			    --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
			    --output=/tmp/$name.fio.log > /dev/null 2>&1 ||
				{ cp /tmp/$name.fio.log /tmp/$name.failed; break; }
			grep -q "err= 0" /tmp/$name.fio.log ||
				{ cp /tmp/$name.fio.log /tmp/$name.failed; break; }
			echo ok >> /tmp/$name.jobs
		done
	) &
	local loop=$!
	for k in $(seq "$kills_per_round"); do
		sleep "0.$(( RANDOM % 9 + 1 ))"
		pid=$(daemon_pid $name) || fail "no daemon pid for $name"
		# A kill only tests recovery if requests are pending at it: fio
		# spends a good part of its time starting jobs, so wait (up to
		# 5 s) for requests in flight, and count the kills that had any.
		for i in $(seq 50); do
			read -r r w < /sys/block/$blk/inflight
			[ $((r + w)) -gt 0 ] && break
			sleep 0.1
		done
		[ $((r + w)) -gt 0 ] && busy=$((busy + 1))
		kill -KILL "$pid" || fail "kill #$k of daemon $pid failed"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		"$BLK" recover $name > /dev/null || { cat /run/vduse-blk/$name.log; fail "recover #$k"; }
		[ -e /tmp/$name.failed ] && { cat /tmp/$name.failed; fail "fio failed after kill #$k"; }
	done
	touch /tmp/$name.stop
	timeout 300 tail --pid=$loop -f /dev/null || fail "fio did not finish"
	[ -e /tmp/$name.failed ] && { cat /tmp/$name.failed; fail "fio failed"; }
	jobs=$(wc -l < /tmp/$name.jobs)
	[ "$jobs" -ge 1 ] || fail "no fio job completed"
	log "$queues queue(s): $kills_per_round kills, $busy with requests in flight, $jobs verified fio jobs, no error"
	kills=$((kills + kills_per_round))
	busy_kills=$((busy_kills + busy))
	check "del" "$BLK" del $name
}

round 1
round 2
# Most kills must hit pending I/O (20 of the default 24).
[ $((busy_kills * 24)) -ge $((kills * 20)) ] ||
	fail "only $busy_kills of $kills kills had requests in flight (seed $seed)"
log "$busy_kills of $kills kills hit requests in flight"
log "pass"
