#!/bin/bash
# Builds the vduse-blk of the previous version of the daemon, for the
# upgrade test: the parent of the newest commit that changed the code
# vduse-blk is built from.  An upgrade then really goes from one binary to
# another (state file, saved settings and control protocol included).
#
#   build-prev.sh SOURCE_DIR OUTPUT
#
# The build is kept next to OUTPUT and reused while the revision is the same.
set -euo pipefail
# -s: OUTPUT is a link into the last build; name the link, not its target.
src=$1 out=$(realpath -ms "$2")
work=$out.d
paths=(tools runtime common lib blk backends include meson.build meson_options.txt)

git -C "$src" rev-parse --git-dir > /dev/null 2>&1 ||
	{ echo "build-prev: $src is not a git checkout: no previous version to upgrade from" >&2; exit 1; }
last=$(git -C "$src" rev-list -1 HEAD -- "${paths[@]}")
rev=$(git -C "$src" rev-parse --verify -q "$last^") ||
	{ echo "build-prev: $last has no parent (shallow clone?): no previous version" >&2; exit 1; }
if [ -x "$out" ] && [ "$(cat "$out.rev" 2>/dev/null)" = "$rev" ]; then
	touch -h "$out"
	exit 0
fi
rm -rf "$work" "$out"
mkdir -p "$work/src"
git -C "$src" archive "$rev" | tar -x -C "$work/src"
meson setup "$work/build" "$work/src" --buildtype=debugoptimized > "$work/setup.log" 2>&1 ||
	{ cat "$work/setup.log" >&2; exit 1; }
ninja -C "$work/build" tools/vduse-blk > "$work/build.log" 2>&1 ||
	{ tail -n 30 "$work/build.log" >&2; exit 1; }
# A link, so that the binary finds its libraries through its RUNPATH.
ln -sfn "$work/build/tools/vduse-blk" "$out"
echo "$rev" > "$out.rev"
echo "build-prev: vduse-blk of $(git -C "$src" log -1 --format='%h %s' "$rev")"
