#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon runtime (runtime/) is device-neutral: no file of it names the
# block layer or the storage backends.  In tools/, only the block model
# (blk-model.c) includes blk.h or backend.h or calls blk_*/backend_*.
#
#   test-runtime-neutral.sh SOURCE_ROOT
set -eu
root=${1:?usage: test-runtime-neutral.sh SOURCE_ROOT}
cd "$root"
fail=0

found=$(grep -nE 'blk_|backend_|BLK_|BACKEND_|"blk\.h"|"backend[-a-z]*\.h"' \
	runtime/*.c runtime/*.h || true)
if [ -n "$found" ]; then
	echo "runtime/ names the block layer or the backends:" >&2
	echo "$found" >&2
	fail=1
fi

found=$(grep -lE '#include "(blk|backend|backend-io|backend-plugin)\.h"' tools/*.c tools/*.h |
	grep -v '^tools/blk-model\.c$' || true)
if [ -n "$found" ]; then
	echo "only tools/blk-model.c may include blk.h or backend.h:" >&2
	echo "$found" >&2
	fail=1
fi

found=$(grep -nE '\b(blk|backend)_[a-z_]+\(' tools/*.c |
	grep -vE '^tools/blk-model\.c:|blk_model_' || true)
if [ -n "$found" ]; then
	echo "only tools/blk-model.c may call blk_* or backend_* functions:" >&2
	echo "$found" >&2
	fail=1
fi

[ $fail = 0 ] && echo "runtime/ is device-neutral; tools/ reaches blk/ and backends/ through blk-model.c"
exit $fail
