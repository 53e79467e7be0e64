#!/bin/sh
# `make deb` works: scripts/build-deb.sh builds libvdusekit0,
# libvdusekit-dev and vduse-blk with dpkg-buildpackage (which also checks
# the library's exports against debian/libvdusekit0.symbols and that every
# installed file is packaged), lintian finds no error, and each package
# holds what it should.  About 30 s on two cores.
# Usage: test-deb.sh SOURCE_ROOT
set -eu
src=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in dpkg-buildpackage dh lintian; do
	command -v "$t" > /dev/null ||
		{ echo "skip: no $t (scripts/deps.sh deb installs it)"; exit 77; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Nothing of the surrounding meson test run leaks into the package build,
# and LINTIAN=0 in the caller's environment cannot skip lintian.
unset LD_LIBRARY_PATH MALLOC_PERTURB_ MESON_TESTTHREADS LINTIAN
"$src/scripts/build-deb.sh" "$out" > "$out/run.log" 2>&1 || {
	cat "$out/run.log" >&2
	fail "scripts/build-deb.sh failed (dpkg-buildpackage or lintian errors)"
}
# Shown, not judged here: build-deb.sh fails above on any lintian error,
# and the other tags (warnings, notes) are allowed.
grep -E '^[EWIPX]: ' "$out/run.log" || true

contents() {
	ls "$out/$1"_*_*.deb > /dev/null 2>&1 || fail "no $1 package"
	dpkg-deb -c "$out/$1"_*_*.deb | awk '{ print $6 }' | sed 's|^\./|/|'
}
lib=$(contents libvdusekit0)
dev=$(contents libvdusekit-dev)
blk=$(contents vduse-blk)
has() { echo "$1" | grep -qE "$2" || fail "$3 lacks $2"; }
has "$lib" '^/usr/lib/[^/]+/libvdusekit\.so\.0\.' libvdusekit0
has "$lib" '^/usr/lib/[^/]+/libvdusekit\.so\.0$' libvdusekit0
has "$dev" '^/usr/include/vdusekit\.h$' libvdusekit-dev
has "$dev" '^/usr/lib/[^/]+/libvdusekit\.so$' libvdusekit-dev
has "$dev" '^/usr/lib/[^/]+/pkgconfig/vdusekit\.pc$' libvdusekit-dev
has "$blk" '^/usr/sbin/vduse-blk$' vduse-blk
has "$blk" '^/usr/share/man/man8/vduse-blk\.8\.gz$' vduse-blk
has "$blk" '^/usr/lib/systemd/system/vduse-blk@\.service$' vduse-blk
has "$blk" '^/usr/lib/modules-load\.d/vduse-blk\.conf$' vduse-blk
has "$blk" '^/usr/share/bash-completion/completions/vduse-blk$' vduse-blk
echo "$lib" | grep -qE '\.(h|pc)$' && fail "libvdusekit0 ships development files"
# The command depends on the library package, through its symbols file.
dpkg-deb -f "$out"/vduse-blk_*_*.deb Depends | grep -q 'libvdusekit0 (>= ' ||
	fail "vduse-blk does not depend on libvdusekit0"
echo "pass: $(ls "$out"/*.deb | wc -l) packages built, lintian without errors"
