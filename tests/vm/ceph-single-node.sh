#!/bin/bash
# A throwaway one-node Ceph cluster (one mon, one bluestore OSD on a sparse
# file, no mgr) on 127.0.0.1, for the RBD tests and bench/rbd.sh.
#
#   tests/vm/ceph-single-node.sh up      prints 'export CEPH_CONF=...'
#   tests/vm/ceph-single-node.sh down
# or source it and call ceph_up, ceph_down, ceph_stop osd|mon,
# ceph_osd_start, ceph_mon_start.
#
# Everything lives in $CEPH_DIR (default /tmp/ceph, the guest's tmpfs).
# Pool $CEPH_POOL (rbd) is made, and image $CEPH_POOL/test if
# CEPH_IMAGE_SIZE is set.  A librbd client hangs for good once its
# cluster is gone: stop clients (kill -9 if need be) before ceph_down.
# The VM needs -cpu max (ceph-mon), lo up and a hostname (the OSD): its
# init sees to those.

: "${CEPH_DIR:=/tmp/ceph}"
: "${CEPH_POOL:=rbd}"
: "${CEPH_MON_PORT:=13300}"
: "${CEPH_TIMEOUT:=120}"
export CEPH_CONF=$CEPH_DIR/ceph.conf

# CLI calls that never wait forever on an absent cluster (a blocked
# ceph/rbd ignores SIGTERM, hence -k).
ceph_cli() { timeout -k 5 "$CEPH_TIMEOUT" ceph --connect-timeout 20 "$@"; }
rbd_cli() { timeout -k 5 "$CEPH_TIMEOUT" rbd "$@"; }

# Alive and not a zombie (daemons are re-parented and reaped late).
_ceph_running() {
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null) && [ "$s" != Z ] && [ "$s" != X ]
}

# _ceph_daemon NAME ARGS...: starts a daemon (in the foreground, -f) in
# the background, output to its log, pid to run/; from a subshell, so no
# job notice when it is killed.
_ceph_daemon() {
	local what=$1; shift
	( "$@" < /dev/null >> "$CEPH_DIR/log/$what.out" 2>&1 &
	  echo $! > "$CEPH_DIR/run/$what.pid" )
}

# _ceph_until DESC CMD...: retries CMD until it succeeds or time runs out.
_ceph_until() {
	local desc=$1 end=$(( $(date +%s) + CEPH_TIMEOUT )); shift
	until "$@" > /dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "ceph: timed out waiting for $desc" >&2
			return 1
		fi
		sleep 0.3
	done
}

_ceph_epoch() { ceph_cli osd stat -f json | grep -o '"epoch":[0-9]*' | cut -d: -f2; }
# Up in an OSD map newer than epoch $1: a killed OSD still counts as up
# until its successor boots.
_ceph_osd_up() {
	local out
	out=$(ceph_cli osd stat -f json) || return 1
	[[ $out == *'"num_up_osds":1'[,}]* ]] &&
		[ "$(echo "$out" | grep -o '"epoch":[0-9]*' | cut -d: -f2)" -gt "$1" ]
}

ceph_osd_start() {
	local epoch
	epoch=$(_ceph_epoch) || return 1
	_ceph_daemon osd ceph-osd -i 0 -f
	_ceph_until "the OSD" _ceph_osd_up "$epoch"
}

ceph_mon_start() {
	_ceph_daemon mon ceph-mon -i a -f
	_ceph_until "the monitor" ceph_cli mon stat
}

# ceph_stop osd|mon: kills it as a crash would, and waits until it is gone.
ceph_stop() {
	local pid
	pid=$(cat "$CEPH_DIR/run/$1.pid" 2> /dev/null) || return 0
	kill -9 "$pid" 2> /dev/null
	while _ceph_running "$pid"; do sleep 0.1; done
}

ceph_up() {
	local fsid uuid k=$CEPH_DIR/keyring t0=$SECONDS
	[ -e "$CEPH_DIR" ] && { echo "ceph: $CEPH_DIR exists" >&2; return 1; }
	mkdir -p "$CEPH_DIR"/{run,log,mon.a,osd.0} || return 1
	fsid=$(cat /proc/sys/kernel/random/uuid)
	# Short paxos interval and aio poll: bring-up is mostly waiting on them.
	cat > "$CEPH_CONF" <<-EOF
	[global]
	fsid = $fsid
	mon host = v2:127.0.0.1:$CEPH_MON_PORT
	public addr = 127.0.0.1
	cluster addr = 127.0.0.1
	ms bind port min = $((CEPH_MON_PORT + 500))
	ms bind port max = $((CEPH_MON_PORT + 599))
	auth allow insecure global id reclaim = false
	keyring = $k
	run dir = $CEPH_DIR/run
	admin socket = $CEPH_DIR/run/\$name.\$pid.asok
	log file = $CEPH_DIR/log/\$name.log
	mon cluster log file = $CEPH_DIR/log/cluster.log
	crash dir = $CEPH_DIR/crash
	mon data = $CEPH_DIR/\$name
	osd data = $CEPH_DIR/\$name
	osd pool default size = 1
	osd pool default min size = 1
	osd crush chooseleaf type = 0
	osd pool default pg autoscale mode = off
	mon warn on pool no redundancy = false
	mon data avail warn = 2
	mon data avail crit = 1
	mon mgr mkfs grace = 86400
	paxos propose interval = 0.1
	[osd]
	osd objectstore = bluestore
	osd memory target = 1073741824
	bluestore block size = 10737418240
	bluestore block create = true
	bluestore fsck on mkfs = false
	bdev aio poll ms = 20
	EOF
	ceph-authtool --create-keyring "$k" --gen-key -n mon. --cap mon 'allow *' > /dev/null &&
	ceph-authtool "$k" --gen-key -n client.admin --cap mon 'allow *' \
		--cap osd 'allow *' --cap mgr 'allow *' > /dev/null &&
	ceph-authtool "$k" --gen-key -n osd.0 --cap mon 'allow profile osd' \
		--cap osd 'allow *' > /dev/null &&
	monmaptool --create --fsid "$fsid" --addv a "v2:127.0.0.1:$CEPH_MON_PORT" \
		"$CEPH_DIR/monmap" > /dev/null &&
	ceph-mon --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$k" || return 1
	# vduse-blk's daemon connects as user vduse: it must read the key.
	if getent group vduse > /dev/null; then
		chgrp vduse "$k" && chmod 0640 "$k" || return 1
	fi
	ceph_mon_start || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	ceph_cli osd new "$uuid" 0 > /dev/null &&
	ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >> "$CEPH_DIR/log/mkfs.out" 2>&1 ||
		return 1
	ceph_osd_start || return 1
	ceph_cli osd pool create "$CEPH_POOL" 8 8 > /dev/null 2>&1 &&
	rbd_cli pool init "$CEPH_POOL" || return 1
	if [ -n "${CEPH_IMAGE_SIZE:-}" ]; then
		rbd_cli create --size "$CEPH_IMAGE_SIZE" "$CEPH_POOL/test" || return 1
	fi
	echo "ceph: cluster up in $((SECONDS - t0)) s" >&2
}

# Stops the daemons by their pids (never by name) and removes $CEPH_DIR.
ceph_down() {
	[ -d "$CEPH_DIR" ] || return 0
	ceph_stop osd
	ceph_stop mon
	rm -rf "$CEPH_DIR"
}

# The daemons' last words, for a failed test.
ceph_logs() {
	local f
	for f in "$CEPH_DIR"/log/*; do
		[ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1-} in
	up) ceph_up || { ceph_logs >&2; ceph_down; exit 1; }
	    echo "export CEPH_CONF=$CEPH_CONF" ;;
	down) ceph_down ;;
	*) echo "usage: $0 up|down" >&2; exit 2 ;;
	esac
fi
