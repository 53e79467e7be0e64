#!/bin/sh
# `meson install` (what `make install` runs) puts exactly the expected
# files where the build's directory options say: the command, the library
# with its soname links, the header, the pkg-config file, the man page,
# the systemd unit, the bash completion and the modules-load.d file, and
# the installed files name each other by their installed paths.
# Usage: test-install-files.sh BUILDDIR VERSION PREFIX SBINDIR LIBDIR
#                              INCLUDEDIR MANDIR DATADIR
set -eu
build=$1 version=$2 prefix=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
# A directory option is relative to the prefix unless it is absolute.
dir() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(dir "$4") libdir=$(dir "$5") includedir=$(dir "$6")
mandir=$(dir "$7") datadir=$(dir "$8")

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet > /dev/null ||
	fail "meson install --destdir"

want=$(LC_ALL=C sort <<EOF
$sbindir/vduse-blk
$libdir/libvdusekit.so
$libdir/libvdusekit.so.0
$libdir/libvdusekit.so.$version
$libdir/pkgconfig/vdusekit.pc
$includedir/vdusekit.h
$mandir/man8/vduse-blk.8
$prefix/lib/systemd/system/vduse-blk@.service
$prefix/lib/modules-load.d/vduse-blk.conf
$datadir/bash-completion/completions/vduse-blk
EOF
)
got=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | LC_ALL=C sort)
if [ "$got" != "$want" ]; then
	echo "installed:" >&2; echo "$got" >&2
	echo "expected:" >&2; echo "$want" >&2
	fail "the installed files differ from the list"
fi

d=$dest
# The library: a real file and two links, the soname one named in it.
[ -f "$d$libdir/libvdusekit.so.$version" ] && [ ! -L "$d$libdir/libvdusekit.so.$version" ] ||
	fail "libvdusekit.so.$version is not a regular file"
[ "$(readlink "$d$libdir/libvdusekit.so.0")" = "libvdusekit.so.$version" ] ||
	fail "libvdusekit.so.0 does not link to libvdusekit.so.$version"
[ "$(readlink "$d$libdir/libvdusekit.so")" = libvdusekit.so.0 ] ||
	fail "libvdusekit.so does not link to libvdusekit.so.0"
soname=$(objdump -p "$d$libdir/libvdusekit.so.$version" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libvdusekit.so.0 ] || fail "SONAME is '$soname', not libvdusekit.so.0"
# No build-tree run path left in what is installed.
for f in "$d$sbindir/vduse-blk" "$d$libdir/libvdusekit.so.$version"; do
	objdump -p "$f" | grep -qE '^ *(RPATH|RUNPATH)' && fail "$f keeps a run path"
done
[ -x "$d$sbindir/vduse-blk" ] || fail "vduse-blk is not executable"

# The unit starts the installed command, with no placeholder left.
grep -q "^ExecStart=$sbindir/vduse-blk " "$d$prefix/lib/systemd/system/vduse-blk@.service" ||
	fail "the unit's ExecStart is not $sbindir/vduse-blk"
grep -v '^#' "$d$prefix/lib/systemd/system/vduse-blk@.service" | grep -qE '@[A-Z_]+@' &&
	fail "a placeholder is left in the unit"
# The pkg-config file names the prefix and directories installed to.
pc=$d$libdir/pkgconfig/vdusekit.pc
grep -qx "prefix=$prefix" "$pc" || fail "vdusekit.pc: prefix is not $prefix"
[ "$(PKG_CONFIG_PATH=${pc%/*} pkg-config --variable=libdir vdusekit)" = "$libdir" ] ||
	fail "vdusekit.pc: libdir is not $libdir"
[ "$(PKG_CONFIG_PATH=${pc%/*} pkg-config --modversion vdusekit)" = "$version" ] ||
	fail "vdusekit.pc: version is not $version"
# The module list has the modules the man page says to load.
for m in vduse vdpa virtio_vdpa vhost_vdpa; do
	grep -qx "$m" "$d$prefix/lib/modules-load.d/vduse-blk.conf" ||
		fail "modules-load.d/vduse-blk.conf lacks $m"
done
echo "pass: $(echo "$got" | wc -l) files installed under $prefix"
