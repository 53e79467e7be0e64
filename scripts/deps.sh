#!/bin/sh
# Installs the Debian packages vdusekit needs, if any are missing.
# Idempotent and quiet when everything is there.
#
#   scripts/deps.sh          what `make`, `make check` and `make demo` need
#   scripts/deps.sh bench    also what `make bench` needs
#   scripts/deps.sh deb      what `make deb` needs: the same, since `make
#                            check` builds the packages too (tests/unit/test-deb.sh)
set -eu

# build
pkgs="gcc meson ninja-build pkg-config python3 liburing-dev libmnl-dev libnbd-dev
	librbd-dev"
# fuzzing and sanitizers (clang's libFuzzer and runtimes)
pkgs="$pkgs clang libfuzzer-14-dev libclang-rt-14-dev"
# the test VM: QEMU, a static busybox for its initramfs, module tools
pkgs="$pkgs qemu-system-x86 qemu-system-common qemu-utils busybox-static
	cpio xz-utils zstd kmod"
# what the tests run inside the VM; nbdkit is the NBD backend's test server,
# and a one-node Ceph cluster the RBD backend's
pkgs="$pkgs fio e2fsprogs iproute2 util-linux nbdkit ceph-mon ceph-osd ceph-common"
# the installed systemd units are checked with systemd-analyze verify;
# the Debian packages are built and checked with lintian (make deb)
pkgs="$pkgs systemd debhelper dpkg-dev fakeroot lintian"
if [ "${1-}" = bench ]; then
	pkgs="$pkgs gnuplot-nox valgrind procps nbd-client rbd-nbd"
fi

# The user vduse-blk's daemons run as once set up (see --user); without it
# they fall back to nobody, which other services may share.
if ! getent passwd vduse > /dev/null; then
	if [ "$(id -u)" = 0 ]; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "vduse-blk daemons" vduse
	else
		echo "deps: no user vduse; as root: useradd --system --user-group vduse" >&2
	fi
fi

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root, or: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing > /dev/null
