#!/bin/sh
# Builds the Debian packages (libvdusekit0, libvdusekit-dev, vduse-blk)
# with dpkg-buildpackage and checks them with lintian.  `make deb` runs it.
#
#   scripts/build-deb.sh [OUT]     (default build/deb)
#
# The packages are built from a copy of the work tree (its tracked files
# and new ones that git does not ignore) in OUT/vdusekit-VERSION, whose
# meson build goes into its debian/build: the tree and its build folders
# are not touched.  The .deb, .buildinfo and .changes files land in OUT;
# the copy is removed unless KEEP_SRC=1.  DEB_BUILD_OPTIONS=nocheck skips
# the packaging tests (debian/rules); LINTIAN=0 skips lintian.  Exit
# status: dpkg-buildpackage's, then lintian's (errors fail, warnings do not).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for t in dpkg-buildpackage dh; do
	command -v "$t" > /dev/null ||
		{ echo "build-deb: no $t; run scripts/deps.sh deb" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/vdusekit-$version

rm -rf "$src"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	# Files deleted in the tree but still in the index are left out.
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh) |
		tar -C "$top" -cf - --no-recursion -T - | tar -C "$src" -xf -
else
	tar -C "$top" -cf - --exclude='./build' --exclude='./build-*' . | tar -C "$src" -xf -
fi
rm -rf "$src/debian/build"
# The copy is not a git checkout, even though OUT may be inside one.
export GIT_CEILING_DIRECTORIES=$out

echo "build-deb: building in $src" >&2
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the log is $out/build.log" >&2
	exit 1
}
[ "${KEEP_SRC-}" = 1 ] || rm -rf "$src"
ls -1 "$out"/*.deb

if [ "${LINTIAN-1}" != 0 ]; then
	command -v lintian > /dev/null ||
		{ echo "build-deb: no lintian; run scripts/deps.sh deb" >&2; exit 1; }
	echo "build-deb: lintian" >&2
	# Errors fail; warnings, info and pedantic notes are shown.
	lintian --info --display-info --pedantic --fail-on error \
		"$out"/vdusekit_"$version"_*.changes
fi
