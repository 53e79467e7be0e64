#!/bin/sh
# The version has one source, meson.build's project(version:); the header's
# macros, the export map's node and CHANGELOG.md's newest entry must say
# the same, so that a release bumps it in one place and this test names
# every other.
set -u
src=$1 version=$2
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
fail=0
h=$src/include/vdusekit.h
grep -q "^#define VDUSEKIT_VERSION_MAJOR $major\$" "$h" ||
	{ echo "$h: VDUSEKIT_VERSION_MAJOR is not $major (meson.build says $version)" >&2; fail=1; }
grep -q "^#define VDUSEKIT_VERSION_MINOR $minor\$" "$h" ||
	{ echo "$h: VDUSEKIT_VERSION_MINOR is not $minor (meson.build says $version)" >&2; fail=1; }
grep -q "^VDUSEKIT_$major\.$minor {" "$src/lib/vdusekit.map" ||
	{ echo "lib/vdusekit.map has no node VDUSEKIT_$major.$minor for $version" >&2; fail=1; }
newest=$(sed -n 's/^## \[\{0,1\}\([0-9][0-9.]*\).*/\1/p' "$src/CHANGELOG.md" | head -n1)
[ "$newest" = "$version" ] ||
	{ echo "CHANGELOG.md's newest entry is '$newest', not $version" >&2; fail=1; }
[ $fail = 0 ] && echo "version $version everywhere"
exit $fail
