#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer target with clang in build-fuzz/ and runs it.
#   tests/fuzz/run-fuzz.sh                       # 20000 runs
#   tests/fuzz/run-fuzz.sh -runs=100000
#   tests/fuzz/run-fuzz.sh -max_total_time=600
# Extra arguments go to libFuzzer.  New inputs are written to
# build-fuzz/corpus-vq/, never to the committed seeds in tests/fuzz/corpus/vq/;
# a crash leaves tests/fuzz/crash-* (git-ignored): add it to the seeds once
# fixed.  BUILD_FUZZ overrides the build directory.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_FUZZ:-$top/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" >/dev/null
fi
# The target only exists in a clang build.
if ! ninja -C "$build" -t targets all | grep -q '^tests/fuzz/fuzz-vq:'; then
	echo "run-fuzz.sh: $build is not a clang build; remove it or set BUILD_FUZZ" >&2
	exit 1
fi
ninja -C "$build" -j2 tests/fuzz/fuzz-vq >/dev/null

work=$build/corpus-vq
mkdir -p "$work"
[ $# -gt 0 ] || set -- -runs=20000
# halt_on_error etc. make any sanitizer report a failure.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
exec "$build/tests/fuzz/fuzz-vq" -timeout=10 \
	-artifact_prefix="$top/tests/fuzz/" "$@" "$work" "$top/tests/fuzz/corpus/vq"
