#!/bin/bash
# The guest half of `make bench` (bench/run starts it in the test VM):
# sets up every target over the same data, runs the fio matrix interleaved,
# samples the daemons' CPU time around each run, profiles two targets with
# perf, and leaves everything raw in OUTDIR for bench/report.
#
#   bench/in-vm.sh OUTDIR
#
# Environment (bench/run passes these through; VDK_* reach the guest):
#   VDK_BLK            the vduse-blk binary (default build/tools/vduse-blk)
#   VDK_BENCH_REPS     repetitions of every configuration (default 3)
#   VDK_BENCH_RUNTIME  fio seconds measured per run, after 1 s ramp (default 3)
#   VDK_BENCH_SIZE_MB  size of the data every target serves (default 256)
#   VDK_BENCH_JOBS     job names to run (default: all, see job_args)
#   VDK_BENCH_TARGETS  target names to run (default: all, see below)
#   VDK_BENCH_PERF     0 to skip the perf profiles (default 1)
#
# Output in OUTDIR: env.txt (key=value), runs.tsv (one line per fio run),
# fio/*.json (fio's own output), perf-*.txt, setup.log.
. "$(dirname "$0")/../tests/vm/lib.sh"
t_name=bench

out=${1:?usage: bench/in-vm.sh OUTDIR}
BLK=${VDK_BLK:-$PWD/build/tools/vduse-blk}
reps=${VDK_BENCH_REPS:-3}
runtime=${VDK_BENCH_RUNTIME:-3}
size_mb=${VDK_BENCH_SIZE_MB:-256}
perf_on=${VDK_BENCH_PERF:-1}
work=/tmp/bench
img=$work/disk.img

require_vduse
[ -x "$BLK" ] || fail "no vduse-blk at $BLK (build first)"
for c in fio qemu-storage-daemon qemu-nbd losetup vdpa python3; do
	command -v $c > /dev/null || fail "$c missing (scripts/deps.sh installs it)"
done
mkdir -p "$out/fio" "$work" /run/lock
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
exec 3>> "$out/setup.log"

# ---- the machine ----
{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel=$(uname -r)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "vcpus=$(nproc)"
	echo "mem_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
	echo "qemu=$(qemu-storage-daemon --version | head -n1)"
	echo "fio=$(fio --version)"
	echo "clk_tck=$(getconf CLK_TCK)"
	echo "reps=$reps"
	echo "runtime_s=$runtime"
	echo "ramp_s=1"
	echo "size_mb=$size_mb"
	echo "in_vm=${VDK_IN_VM:-0}"
} > "$out/env.txt"
log "guest: $(uname -r), $(nproc) vCPUs, $(sed -n 's/^cpu=//p' "$out/env.txt")"

# ---- the data: one file, its content copied onto the RAM-backed targets ----
log "writing ${size_mb} MiB of random data to $img (tmpfs)"
dd if=/dev/urandom of=$img bs=1M count="$size_mb" status=none 2>&3 || fail "dd $img"

fill() {	# copies the data file onto block device $1
	dd if=$img of="$1" bs=1M oflag=direct status=none 2>&3 || fail "filling $1"
}

# Target table: name -> device, and the pid whose CPU time we sample.
declare -A dev pid
targets=()

blk_pid() {	# the daemon pid of vduse-blk device $1
	"$BLK" list --json | python3 -c '
import json, sys
name = sys.argv[1]
d = json.load(sys.stdin)
if isinstance(d, dict):
    d = d.get("devices", [])
for e in d:
    if e.get("name") == name:
        print(e.get("pid") or 0)
        break
else:
    print(0)' "$1"
}

add_blk() {	# target name, device name, vduse-blk add arguments...
	local t=$1 n=$2 node; shift 2
	node=$("$BLK" add --name "$n" "$@" 2>&3) || fail "vduse-blk add --name $n $*"
	at_exit "'$BLK' del '$n' > /dev/null 2>&1"
	[ -b "$node" ] || fail "vduse-blk add printed '$node', not a block device"
	dev[$t]=$node
	pid[$t]=$(blk_pid "$n")
	targets+=("$t")
	log "$t: $node (vduse-blk $*, pid ${pid[$t]})"
}

# qemu-storage-daemon: same file, locking off (several targets share it),
# O_DIRECT and io_uring like vduse-blk's file backend.
add_qsd() {	# target name, export name, queues
	local t=$1 n=$2 q=$3 p node i
	qemu-storage-daemon \
		--blockdev driver=file,filename=$img,node-name=d0,locking=off,aio=io_uring,cache.direct=on \
		--export vduse-blk,id=e0,node-name=d0,name="$n",writable=on,num-queues="$q",queue-size=256 \
		>> "$out/setup.log" 2>&1 &
	p=$!
	at_exit "kill $p 2>/dev/null; wait $p 2>/dev/null"
	for i in $(seq 100); do [ -c /dev/vduse/"$n" ] && break; sleep 0.1; done
	[ -c /dev/vduse/"$n" ] || fail "qemu-storage-daemon made no /dev/vduse/$n (see setup.log)"
	node=$(vdpa_add_virtio "$n") || fail "vdpa dev add $n"
	at_exit "vdpa dev del '$n' 2>/dev/null"
	dev[$t]=$node
	pid[$t]=$p
	targets+=("$t")
	log "$t: $node (qemu-storage-daemon, $q queue(s), pid $p)"
}

want_target() {
	[ -z "${VDK_BENCH_TARGETS:-}" ] && return 0
	case " $VDK_BENCH_TARGETS " in *" $1 "*) return 0 ;; esac
	return 1
}

if want_target vduse-mem-1q; then
	add_blk vduse-mem-1q bmem1 memory:${size_mb}M
	fill "${dev[vduse-mem-1q]}"
fi
if want_target vduse-mem-2q; then
	add_blk vduse-mem-2q bmem2 --queues 2 memory:${size_mb}M
	fill "${dev[vduse-mem-2q]}"
fi
want_target vduse-file-1q && add_blk vduse-file-1q bfile1 $img
want_target vduse-file-2q && add_blk vduse-file-2q bfile2 --queues 2 $img
want_target qsd-1q && add_qsd qsd-1q bqsd1 1
want_target qsd-2q && add_qsd qsd-2q bqsd2 2

# qemu-storage-daemon's vhost-user-blk export of the same file, bridged by
# vduse-blk: qsd walks the kernel's rings itself.  The CPU sampled is the
# bridge's; the back-end's goes in env.txt's bridge_backend_pid.
if want_target bridge-qsd-1q; then
	sock=$work/vu.sock
	rm -f $sock
	qemu-storage-daemon \
		--blockdev driver=file,filename=$img,node-name=d0,locking=off,aio=io_uring,cache.direct=on \
		--export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=$sock,writable=on,num-queues=1 \
		>> "$out/setup.log" 2>&1 &
	p=$!
	at_exit "kill $p 2>/dev/null; wait $p 2>/dev/null"
	for i in $(seq 100); do [ -S $sock ] && break; sleep 0.1; done
	[ -S $sock ] || fail "qemu-storage-daemon made no socket $sock (see setup.log)"
	chmod 666 $sock
	add_blk bridge-qsd-1q bbridge1 vhost-user:$sock
	echo "bridge_backend_pid=$p" >> "$out/env.txt"
fi

if want_target nbd; then
	# The same choices as for qemu-storage-daemon: O_DIRECT, io_uring.
	[ -b /dev/nbd0 ] || fail "/dev/nbd0 missing (nbd module not loaded?)"
	qemu-nbd -c /dev/nbd0 -f raw --cache=none --aio=io_uring $img 2>&3 ||
		fail "qemu-nbd -c /dev/nbd0"
	at_exit "qemu-nbd -d /dev/nbd0 > /dev/null 2>&1"
	for i in $(seq 50); do
		[ "$(cat /sys/block/nbd0/size)" != 0 ] && break
		sleep 0.1
	done
	dev[nbd]=/dev/nbd0
	pid[nbd]=$(pgrep -n -f "qemu-nbd -c /dev/nbd0" || echo 0)
	targets+=(nbd)
	log "nbd: /dev/nbd0 (qemu-nbd -c, pid ${pid[nbd]})"
fi

if want_target loop; then
	node=$(losetup -f --show --direct-io=on $img) || fail "losetup"
	at_exit "losetup -d $node"
	dev[loop]=$node
	pid[loop]=0
	targets+=(loop)
	log "loop: $node (direct-io $(cat /sys/block/${node#/dev/}/loop/dio))"
fi

if want_target brd; then
	# The initramfs loaded brd with its defaults (16 disks of 16 MiB):
	# reload it with one disk of our size.
	rmmod brd 2>&3 || true
	insmod /run/vm-modules/brd.ko rd_nr=1 rd_size=$((size_mb * 1024)) 2>&3 ||
		fail "insmod brd.ko rd_size=$((size_mb * 1024))"
	wait_blockdev /dev/ram0 5 || fail "no /dev/ram0 after insmod brd"
	fill /dev/ram0
	dev[brd]=/dev/ram0
	pid[brd]=0
	targets+=(brd)
	log "brd: /dev/ram0 ($(( $(cat /sys/block/ram0/size) / 2048 )) MiB)"
fi

for t in "${targets[@]}"; do
	[ -b "${dev[$t]}" ] || fail "$t: ${dev[$t]} is not a block device"
	[ "$(cat /sys/block/$(basename "${dev[$t]}")/size)" -ge $((size_mb * 2048)) ] ||
		fail "$t: ${dev[$t]} is smaller than ${size_mb} MiB"
	echo "target $t dev=${dev[$t]} pid=${pid[$t]}" >> "$out/env.txt"
done

# ---- the jobs ----
all_jobs="randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd32 randwrite-4k-qd1 read-128k-qd8"
jobs=${VDK_BENCH_JOBS:-$all_jobs}
job_args() {
	case $1 in
	randread-4k-qd1)   echo "--rw=randread --bs=4k --iodepth=1" ;;
	randread-4k-qd32)  echo "--rw=randread --bs=4k --iodepth=32" ;;
	randwrite-4k-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	randwrite-4k-qd1)  echo "--rw=randwrite --bs=4k --iodepth=1" ;;
	read-128k-qd8)     echo "--rw=read --bs=128k --iodepth=8" ;;
	*) fail "unknown job $1" ;;
	esac
}

# Both run ~270 times under TCG, where every exec loads its binary over 9p
# (about 0.5 s each): bash builtins only.
cpu_ticks() {	# utime + stime of process $1 (all its threads), 0 for none
	local st f
	[ "${1:-0}" != 0 ] || { echo 0; return; }
	read -r st < /proc/$1/stat
	# After the ")" ending the command name: state is field 1, utime 12.
	read -r -a f <<< "${st##*) }"
	echo $(( f[11] + f[12] ))
}

disk_ios() {	# reads + writes completed on block device $1
	local f
	read -r -a f < /sys/block/${1##*/}/stat
	echo $(( f[0] + f[4] ))
}

fio_run() {	# device, job, json file
	# shellcheck disable=SC2046
	fio --name=bench --filename="$1" --ioengine=libaio --direct=1 --numjobs=1 \
	    --ramp_time=1 --runtime="$runtime" --time_based --size=${size_mb}M \
	    --norandommap --randrepeat=0 --group_reporting --eta=never \
	    --output-format=json --output="$3" $(job_args "$2")
}

# fio's JSON -> "iops lat_mean_us lat_p99_us MiB/s"
fio_summary() {
	python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
pct = d["clat_ns"].get("percentile", {})
p99 = pct.get("99.000000", 0) / 1000.0
print("%.1f %.2f %.1f %.2f" % (d["iops"], d["lat_ns"]["mean"] / 1000.0,
                               p99, d["bw_bytes"] / 1048576.0))
PY
}

ntargets=${#targets[@]}
njobs=$(echo $jobs | wc -w)
total=$((reps * njobs * ntargets))
log "matrix: $ntargets targets x $njobs jobs x $reps reps = $total fio runs of $((runtime + 1)) s"
printf 'rep\ttarget\tjob\tiops\tlat_us\tp99_us\tmibps\tios\tcpu_ticks\n' > "$out/runs.tsv"

n=0
start=$(date +%s)
for rep in $(seq "$reps"); do
	# A B C ... then C B A: slow drift hits every target alike.
	if [ $((rep % 2)) = 1 ]; then
		order=("${targets[@]}")
	else
		order=()
		for ((i = ntargets - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
	fi
	for job in $jobs; do
		for t in "${order[@]}"; do
			n=$((n + 1))
			j="$out/fio/$t.$job.$rep.json"
			c0=$(cpu_ticks "${pid[$t]}")
			i0=$(disk_ios "${dev[$t]}")
			fio_run "${dev[$t]}" "$job" "$j" 2>> "$out/setup.log" ||
				fail "fio $job on $t (see $j)"
			i1=$(disk_ios "${dev[$t]}")
			c1=$(cpu_ticks "${pid[$t]}")
			read -r iops lat p99 mibps < <(fio_summary "$j")
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$t" "$job" \
				"$iops" "$lat" "$p99" "$mibps" $((i1 - i0)) $((c1 - c0)) \
				>> "$out/runs.tsv"
			el=$(( $(date +%s) - start ))
			printf '[bench %3d/%d %4ds] %-14s %-18s rep %d: %9s IOPS  %8s us' \
				"$n" "$total" "$el" "$t" "$job" "$rep" "$iops" "$lat"
			[ "${pid[$t]}" != 0 ] &&
				printf '  cpu %s ticks / %s I/Os' $((c1 - c0)) $((i1 - i0))
			echo
		done
	done
done

# ---- profiles: where the guest's CPU time goes ----
# The whole guest is sampled for $runtime s once fio is past its start-up
# (fio links librbd and spends a second relocating it under TCG).
perf_profile() {	# target, job
	local t=$1 job=$2 p=/tmp/perf-$1.$2.data f
	[ -n "${dev[$t]:-}" ] || return 0
	f=$out/perf-$t.$job.txt
	log "perf: whole guest while fio $job runs on $t"
	# shellcheck disable=SC2046
	fio --name=prof --filename="${dev[$t]}" --ioengine=libaio --direct=1 \
	    --runtime=$((runtime + 3)) --time_based --size=${size_mb}M --norandommap \
	    --eta=never --output=/dev/null $(job_args "$job") 2>> "$out/setup.log" &
	local fp=$!
	sleep 2
	perf record -a -g -e cpu-clock -o "$p" -- sleep "$runtime" > /dev/null 2>> "$out/setup.log" ||
		log "perf record failed on $t"
	wait $fp
	{
		echo "# perf record -a -g -e cpu-clock, ${runtime} s of fio $job on $t (${dev[$t]})"
		echo "# share of all guest CPU samples, by command"
		perf report -i "$p" --no-children --sort comm --stdio -g none 2> /dev/null |
			grep -v '^#' | grep -v '^$' | head -n 12
		echo "# by command, object and symbol (self)"
		perf report -i "$p" --no-children --sort comm,dso,sym --stdio -g none 2> /dev/null |
			grep -v '^#' | grep -v '^$' | head -n 50
	} > "$f"
	rm -f "$p"
}
if [ "$perf_on" = 1 ] && perf --version > /dev/null 2>&1; then
	perf_profile vduse-file-1q randread-4k-qd32
	perf_profile qsd-1q randread-4k-qd32
	perf_profile bridge-qsd-1q randread-4k-qd32
	perf_profile vduse-mem-1q randread-4k-qd32
	perf_profile vduse-mem-1q randread-4k-qd1
else
	log "perf not available in the guest: no profiles"
fi

log "done: $total runs in $(( $(date +%s) - start )) s"
