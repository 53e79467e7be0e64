#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer targets with clang in build-fuzz/ and runs them.
#   tests/fuzz/run-fuzz.sh                         # all, 20000 runs each
#   tests/fuzz/run-fuzz.sh --target blk -runs=100000
#   tests/fuzz/run-fuzz.sh --time 600 --merge      # what `make fuzz` does
#   tests/fuzz/run-fuzz.sh --minimise              # shrink the corpora
# Targets: vq (the descriptor walker), blk (walker + virtio-blk parser +
# memory disk), dev (the control-message loop against a simulated kernel);
# --target may be given more than once, the default is all three.
# --time SECONDS is the total, shared evenly by the targets; the run ends
# with one line per target: executions, coverage, corpus.  Other arguments
# go to libFuzzer.
#
# New inputs go to build-fuzz/corpus-TARGET/.  With --merge, those that add
# coverage are merged (libFuzzer -merge=1) into the committed corpus
# tests/fuzz/corpus/TARGET/ at the end, ready to commit; `make check`
# replays that corpus.  --merge only adds: --minimise rebuilds the
# committed corpus instead, keeping the generators' named seeds and, of
# the merged inputs (named by their SHA-1) and build-fuzz/corpus-TARGET/,
# only those that add coverage to what was kept before them; it runs no
# fuzzing.  A crash leaves tests/fuzz/crash-* (git-ignored):
# fix it, then add the input to the corpus.  BUILD_FUZZ overrides the
# build directory.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_FUZZ:-$top/build-fuzz}

targets=
time=
merge=0
minimise=0
while [ $# -gt 0 ]; do
	case $1 in
	--target) targets="$targets $2"; shift 2 ;;
	--time) time=$2; shift 2 ;;
	--merge) merge=1; shift ;;
	--minimise) minimise=1; shift ;;
	*) break ;;
	esac
done
[ -n "$targets" ] || targets="vq blk dev"
for t in $targets; do
	case $t in
	vq|blk|dev) ;;
	*) echo "run-fuzz.sh: unknown target '$t' (vq, blk or dev)" >&2; exit 2 ;;
	esac
done
ntargets=$(echo $targets | wc -w)
per=
if [ -n "$time" ]; then
	case $time in
	''|*[!0-9]*) echo "run-fuzz.sh: --time needs seconds" >&2; exit 2 ;;
	esac
	per=$((time / ntargets))
	[ "$per" -gt 0 ] || per=1
fi
[ $# -gt 0 ] || [ -n "$per" ] || set -- -runs=20000

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" >/dev/null
fi
# The targets only exist in a clang build.
if ! ninja -C "$build" -t targets all | grep -q '^tests/fuzz/fuzz-vq:'; then
	echo "run-fuzz.sh: $build is not a clang build; remove it or set BUILD_FUZZ" >&2
	exit 1
fi
for t in $targets; do
	ninja -C "$build" -j2 "tests/fuzz/fuzz-$t" >/dev/null
done

# fuzz-blk's input is at most 808 + 4096 bytes (see fuzz-blk.c); fuzz-dev
# takes 256 operations.
max_len() {
	case $1 in
	blk) echo 4904 ;;
	dev) echo 1028 ;;
	*) echo 4392 ;;
	esac
}

# Rebuilds tests/fuzz/corpus/$1 (see --minimise above).
minimise() {
	exe=$build/tests/fuzz/fuzz-$1
	seeds=$top/tests/fuzz/corpus/$1
	tmp=$build/minimise-$1
	rm -rf "$tmp" "$tmp.old"
	mkdir -p "$tmp" "$tmp.old" "$build/corpus-$1"
	for f in "$seeds"/*; do
		case ${f##*/} in
		????????????????????????????????????????) cp "$f" "$tmp.old/" ;;
		*) cp "$f" "$tmp/" ;;
		esac
	done
	before=$(ls "$seeds" | wc -l)
	"$exe" -merge=1 -max_len="$(max_len "$1")" "$tmp" "$tmp.old" \
		"$build/corpus-$1" >"$build/minimise-$1.log" 2>&1 || {
		echo "fuzz-$1: minimising failed, see $build/minimise-$1.log" >&2
		return 1
	}
	rm -f "$seeds"/*
	cp "$tmp"/* "$seeds"/
	rm -rf "$tmp" "$tmp.old"
	echo "fuzz-$1: corpus $before -> $(ls "$seeds" | wc -l) inputs"
}

if [ "$minimise" = 1 ]; then
	status=0
	for t in $targets; do
		minimise "$t" || status=1
	done
	exit $status
fi

# halt_on_error etc. make any sanitizer report a failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
summary=
for t in $targets; do
	exe=$build/tests/fuzz/fuzz-$t
	work=$build/corpus-$t
	seeds=$top/tests/fuzz/corpus/$t
	log=$build/fuzz-$t.log
	mkdir -p "$work"
	if [ -n "$per" ]; then
		set -- -max_total_time="$per" "$@"
	fi
	echo "fuzz-$t: running${per:+ for $per s}; log in $log"
	rc=0
	t0=$(date +%s)
	"$exe" -timeout=10 -max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$top/tests/fuzz/" "$@" "$work" "$seeds" \
		>"$log" 2>&1 || rc=$?
	t1=$(date +%s)
	if [ -n "$per" ]; then
		shift	# our -max_total_time
	fi
	if [ "$rc" -ne 0 ]; then
		status=1
		tail -n 60 "$log" >&2
		echo "fuzz-$t: FAILED (exit $rc), see $log and tests/fuzz/crash-*" >&2
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	secs=$((t1 - t0))
	rate=
	[ "$secs" -gt 0 ] && [ -n "$execs" ] && rate=", $((execs / secs))/s"
	line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
	cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$line" | sed -n 's/.*corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
	added=
	if [ "$merge" = 1 ] && [ "$rc" -eq 0 ]; then
		before=$(ls "$seeds" | wc -l)
		"$exe" -merge=1 -max_len="$(max_len "$t")" "$seeds" "$work" \
			>>"$log" 2>&1 || { status=1; echo "fuzz-$t: merge failed" >&2; }
		added=$(( $(ls "$seeds" | wc -l) - before ))
	fi
	summary="$summary
fuzz-$t: ${execs:-?} execs in $secs s$rate, cov: ${cov:-?}, ft: ${ft:-?}, corpus: ${corp:-?}${added:+, $added new inputs merged into tests/fuzz/corpus/$t}"
done
echo "$summary" | sed '/^$/d'
exit $status
