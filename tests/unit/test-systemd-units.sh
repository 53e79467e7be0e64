#!/bin/sh
# `systemd-analyze verify` accepts every systemd unit the build installs,
# each checked in a staged root: the installed tree plus the host's own
# units (for the targets ours refer to), so that the commands the units run
# and the man pages they name are looked up where they were installed.
# Needs no running systemd.  Exit 77 (skip) without systemd-analyze.
# Usage: test-systemd-units.sh BUILDDIR MANDIR
set -eu
build=$1 mandir=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze > /dev/null ||
	{ echo "skip: no systemd-analyze (apt-get install systemd)"; exit 77; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet > /dev/null ||
	fail "meson install --destdir"
units=$(find "$root" -path '*/systemd/system/*' -type f | sort)
[ -n "$units" ] || fail "no systemd unit installed"

# The host's units, copied (verify refuses some as links out of the root),
# without their .wants/ folders: ours need the targets, not what they pull.
mkdir -p "$root/usr/lib/systemd/system"
for f in /usr/lib/systemd/system/* /lib/systemd/system/*; do
	[ -f "$f" ] && [ ! -e "$root/usr/lib/systemd/system/${f##*/}" ] &&
		cp -L "$f" "$root/usr/lib/systemd/system/"
done
[ -f "$root/usr/lib/systemd/system/sysinit.target" ] ||
	{ echo "skip: no host systemd units to verify against"; exit 77; }

status=0
for u in $units; do
	# A template is verified as an instance of it (vduse-blk@i.service).
	rc=0
	out=$(MANPATH=$root$mandir SYSTEMD_LOG_COLOR=0 \
		systemd-analyze verify --root="$root" "$u" 2>&1) || rc=$?
	if [ -n "$out" ] || [ $rc != 0 ]; then
		echo "FAIL: systemd-analyze verify ${u#"$root"}:" >&2
		echo "$out" >&2
		status=1
	else
		echo "ok: ${u#"$root"}"
	fi
done
exit $status
