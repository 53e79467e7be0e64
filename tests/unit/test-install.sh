#!/bin/sh
# The library installs with a working pkg-config file, exports only its
# public symbols, and a three-line program links against it.
# Usage: test-install.sh BUILDDIR
set -eu
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$dest" --quiet > /dev/null ||
	fail "meson install --destdir"
pc=$(find "$dest" -name vdusekit.pc | head -n1)
[ -n "$pc" ] || fail "no vdusekit.pc installed"
so=$(find "$dest" -name 'libvdusekit.so.0*' -type f | head -n1)
[ -n "$so" ] || fail "no libvdusekit.so.0 installed"

# pkg-config from the staged tree: sysroot-relocate its prefix.
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs vdusekit) || fail "pkg-config --cflags --libs vdusekit"
cat > "$dest/three.c" <<'C'
#include <vdusekit.h>
#include <stdio.h>
int main(void) { return printf("%d\n", vdk_name_check("ok")) < 0; }
C
# shellcheck disable=SC2086
cc -o "$dest/three" "$dest/three.c" $flags || fail "a program does not link with: $flags"
out=$(LD_LIBRARY_PATH=$(dirname "$so") "$dest/three") || fail "the program does not run"
[ "$out" = 0 ] || fail "vdk_name_check(\"ok\") returned $out"

# Only vdk_ names leave the library, and no internal helper among them.
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBR]/ {print $3}' |
	grep -v -e '^vdk_' -e '^VDUSEKIT_' || true)
[ -z "$bad" ] || fail "exported non-public symbols: $bad"
for s in vdk_set_error vdk_clear_error vq_init_rings iova_translate; do
	nm -D --defined-only "$so" | grep -qw "$s" && fail "internal $s is exported"
done
echo "pass: $(nm -D --defined-only "$so" | grep -c ' T vdk_') public functions"
