# Crash, upgrade and adopt under load, for any backend (sourced after
# lib.sh).  recover_under_load NAME SPEC: while verified fio jobs run back
# to back on $dev, the daemon of NAME is killed with SIGKILL and recovered
# three times, replaced with `upgrade`, then killed and taken over with
# `add --adopt` as systemd's restart does.  Before each step fio must be
# running with requests in flight in the kernel, and after each one a new
# daemon must serve; at the end every fio job must have verified clean.
# Extra environment for the recovering commands may be given in
# $recover_env (e.g. to show the spec alone finds the backend).
recover_env=${recover_env:-}

rl_loop_start() {	# $1: NAME
	local name=$1
	rm -f /tmp/$name.stop /tmp/$name.failed /tmp/$name.jobs
	(
		while [ ! -e /tmp/$name.stop ]; do
			fio --name=$name --filename="$dev" --direct=1 --ioengine=libaio \
			    --rw=randwrite --bsrange=4k-64k --iodepth=16 --size=16M \
			    --verify=crc32c --do_verify=1 --verify_fatal=1 \
			    --verify_state_save=0 --output=/tmp/$name.fio.log \
			    > /dev/null 2>&1 ||
				{ cp /tmp/$name.fio.log /tmp/$name.failed; break; }
			grep -q "err= 0" /tmp/$name.fio.log ||
				{ cp /tmp/$name.fio.log /tmp/$name.failed; break; }
			echo ok >> /tmp/$name.jobs
		done
	) &
	rl_loop=$!
}

# Waits up to 10 s for requests in flight while fio runs; fails otherwise.
rl_busy() {	# $1: NAME, $2: the step about to happen
	local i r=0 w=0 blk=${dev#/dev/}
	for i in $(seq 100); do
		[ -e /tmp/$1.failed ] && { cat /tmp/$1.failed; fail "fio failed before $2"; }
		kill -0 $rl_loop 2>/dev/null || fail "fio is not running before $2"
		read -r r w < /sys/block/$blk/inflight
		[ $((r + w)) -gt 0 ] && return 0
		sleep 0.1
	done
	fail "nothing in flight before $2"
}

rl_kill() {	# $1: NAME; sets $rl_pid to the killed daemon
	local i
	rl_pid=$(daemon_pid $1) || fail "no daemon serves $1"
	kill -KILL $rl_pid || fail "kill -9 $rl_pid"
	for i in $(seq 200); do
		kill -0 $rl_pid 2>/dev/null || return 0
		sleep 0.05
	done
	fail "daemon $rl_pid survived SIGKILL"
}

rl_new_daemon() {	# $1: NAME, $2: the step
	local new
	new=$(daemon_pid $1) || { tail -n 20 /run/vduse-blk/$1.log; fail "no daemon serves $1 after $2"; }
	[ "$new" != "$rl_pid" ] || fail "the same daemon $new serves $1 after $2"
	[ -e /tmp/$1.failed ] && { cat /tmp/$1.failed; fail "fio failed across $2"; }
	rl_pid=$new
}

recover_under_load() {	# $1: NAME, $2: SPEC
	local name=$1 spec=$2 k jobs
	rl_loop_start $name
	for k in 1 2 3; do
		sleep 1
		rl_busy $name "kill #$k"
		rl_kill $name
		env $recover_env "$BLK" recover $name > /dev/null ||
			{ tail -n 20 /run/vduse-blk/$name.log; fail "recover #$k of $name"; }
		rl_new_daemon $name "kill and recover #$k"
	done
	sleep 1
	rl_busy $name "upgrade"
	rl_pid=$(daemon_pid $name)
	env $recover_env "$BLK" upgrade $name > /dev/null ||
		{ tail -n 20 /run/vduse-blk/$name.log; fail "upgrade of $name"; }
	kill -0 $rl_loop 2>/dev/null || fail "fio ended during the upgrade"
	rl_new_daemon $name "upgrade"
	sleep 1
	rl_busy $name "kill before add --adopt"
	rl_kill $name
	env $recover_env "$BLK" add --adopt --name $name "$spec" > /dev/null ||
		{ tail -n 20 /run/vduse-blk/$name.log; fail "add --adopt of $name"; }
	rl_new_daemon $name "kill and add --adopt"
	sleep 1
	rl_busy $name "the end"
	touch /tmp/$name.stop
	timeout 300 tail --pid=$rl_loop -f /dev/null || fail "fio did not finish"
	[ -e /tmp/$name.failed ] && { cat /tmp/$name.failed; fail "fio failed"; }
	jobs=$(wc -l < /tmp/$name.jobs)
	[ "$jobs" -ge 1 ] || fail "no fio job completed on $name"
	log "$name: 3 kills and recovers, an upgrade, a kill and add --adopt, all with I/O in flight; $jobs verified fio jobs, no error"
}
