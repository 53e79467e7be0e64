#!/bin/bash
# Fetches Debian's 6.12 kernel (trixie) and builds a tiny initramfs for the
# test VM.  Everything lands in the cache folder and is reused; nothing
# under /etc/apt is touched: apt runs with a private sources list and state.
#
# Usage: tests/vm/kernel.sh        prints the cache folder when ready
# Env:   VDK_VM_CACHE              cache folder (default ~/.cache/vdusekit/vm)
#        VDK_VM_SUITE              Debian suite to take the kernel from (trixie)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VDK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdusekit/vm}
suite=${VDK_VM_SUITE:-trixie}
mkdir -p "$cache"

# Modules the guest loads, in any order: the dependency closure is computed
# from modinfo below.  vduse and the vdpa bus drivers are the point; the rest
# are the peers the tests and benchmarks compare against.
modules="9p 9pnet_virtio virtio_pci virtio_blk vduse virtio_vdpa vhost_vdpa
	 ext4 loop brd nbd null_blk ublk_drv virtio_net af_packet
	 crc32c_generic crc32c_intel"

log() { echo "vm-kernel: $*" >&2; }

# The system's own Debian mirror: the first deb URI of the main archive.
system_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
		case $uri in *security*|"") ;; *) echo "$uri"; return ;; esac
	done
	if [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' \
			/etc/apt/sources.list)
		[ -n "$uri" ] && { echo "$uri"; return; }
	fi
	return 1
}

fetch_kernel() {
	local apt="$cache/apt" mirror pkg deb
	[ -f "$cache/kernel.ok" ] && return 0
	mirror=$(system_mirror) || {
		log "no Debian mirror found in the system's apt sources"
		exit 1
	}
	mkdir -p "$apt/lists/partial" "$apt/archives/partial"
	echo "deb $mirror $suite main" > "$apt/sources.list"
	local opts=(-o Dir::Etc::SourceList="$apt/sources.list"
		    -o Dir::Etc::SourceParts=/dev/null
		    -o Dir::State::Lists="$apt/lists"
		    -o Dir::Cache="$apt"
		    -o Dir::Cache::archives="$apt/archives"
		    -o APT::Get::List-Cleanup=0
		    -o Debug::NoLocking=1
		    -o APT::Sandbox::User=root)
	log "fetching the $suite kernel package list"
	apt-get "${opts[@]}" -qq update >&2
	pkg=$(apt-cache "${opts[@]}" depends linux-image-amd64 |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { log "no kernel package found in $suite"; exit 1; }
	log "downloading $pkg"
	rm -rf "$cache/pkg" && mkdir -p "$cache/pkg"
	(cd "$apt/archives" && apt-get "${opts[@]}" -qq download "$pkg" >&2)
	deb=$(ls "$apt/archives/${pkg}"_*.deb | head -n1)
	dpkg -x "$deb" "$cache/pkg"
	rm -f "$deb"
	cp "$cache"/pkg/boot/vmlinuz-* "$cache/vmlinuz"
	basename "$cache"/pkg/usr/lib/modules/* > "$cache/kernel.version"
	touch "$cache/kernel.ok"
}

# Prints the dependency closure of the named modules, dependencies first.
module_order() {
	local kver=$1 moddir=$2; shift 2
	local -A seen=()
	local out=()
	visit() {
		local m=$1 f deps d
		m=${m//-/_}
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		f=$(find "$moddir" -name "$m.ko*" -o -name "${m//_/-}.ko*" | head -n1)
		[ -n "$f" ] || return 0		# built in
		deps=$(/sbin/modinfo -F depends "$f" | tr ',' ' ')
		for d in $deps; do visit "$d"; done
		out+=("$f")
	}
	for m in "$@"; do visit "$m"; done
	printf '%s\n' "${out[@]}"
}

build_initramfs() {
	local kver moddir root f
	[ -f "$cache/initrd.ok" ] && [ "$cache/initrd.ok" -nt "$here/init" ] &&
		return 0
	kver=$(cat "$cache/kernel.version")
	moddir="$cache/pkg/usr/lib/modules/$kver"
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,dev,proc,sys,mnt/root,modules}
	cp /bin/busybox "$root/bin/busybox"
	for f in sh mount mkdir insmod chroot sleep cat echo poweroff ln \
		 hostname ip mknod reboot; do
		ln -s busybox "$root/bin/$f"
	done
	: > "$root/modules/order"
	# busybox insmod cannot read compressed modules.
	while read -r f; do
		local name
		name=$(basename "${f%.ko*}")
		case $f in
		*.xz) xz -dc "$f" > "$root/modules/$name.ko" ;;
		*.zst) zstd -qdc "$f" > "$root/modules/$name.ko" ;;
		*) cp "$f" "$root/modules/$name.ko" ;;
		esac
		echo "$name" >> "$root/modules/order"
	done < <(module_order "$kver" "$moddir" $modules)
	cp "$here/init" "$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) \
		> "$cache/initrd.tmp"
	mv "$cache/initrd.tmp" "$cache/initrd"
	rm -rf "$root"
	touch "$cache/initrd.ok"
}

# VM tests run two at a time, and each asks for the cache: one of them
# fills it while the other waits.
exec 9> "$cache/.lock"
flock 9
fetch_kernel
build_initramfs
echo "$cache"
