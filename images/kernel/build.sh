#!/bin/bash
# kernel/build.sh OUT PACKAGE VERSION — build the guest kernel artifact into the empty
# directory OUT: vmlinux (ELF, PVH), modules/*.ko + modules/modules.order, kernel.config and
# kernel.manifest. The package is downloaded (cached in $DEB_CACHE) and unpacked, never
# installed. Called by images/build.sh, which resolves PACKAGE/VERSION and publishes OUT.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib/common.sh"
[ $# -eq 3 ] || die "usage: kernel/build.sh OUT PACKAGE VERSION"
out=$1 pkg=$2 version=$3
deb=$DEB_CACHE/${pkg}_${version//:/%3a}_amd64.deb
tree=$out/.unpacked

download() {
	[ -s "$deb" ] && { echo "cached: $deb"; return 0; }
	local tmp
	tmp=$(mktemp -d "$DEB_CACHE/.dl.XXXXXX")
	# apt verifies the file against the signed index; _apt cannot write into our cache.
	(cd "$tmp" && apt-get -o APT::Sandbox::User=root download "$pkg=$version")
	mv -- "$tmp"/*.deb "$deb"
	rmdir -- "$tmp"
}

unpack() {
	dpkg-deb -x "$deb" "$tree"
	ls "$tree/boot"
}

release() { basename -- "$(ls -d "$tree"/lib/modules/*/)"; }

vmlinux() {
	local rel
	rel=$(release)
	"$IMAGES_DIR/kernel/extract-vmlinux.py" "$tree/boot/vmlinuz-$rel" "$out/vmlinux"
	"$IMAGES_DIR/lib/elfinfo.py" check-vmlinux "$out/vmlinux"
	cp -- "$tree/boot/config-$rel" "$out/kernel.config"
}

modules() {
	"$IMAGES_DIR/kernel/collect-modules.sh" "$tree" "$(release)" "$IMAGES_DIR/kernel/modules" "$out/modules"
}

manifest() {
	{
		echo "# ember guest kernel: one 'key value' line each (images/kernel)"
		echo "package $pkg"
		echo "version $version"
		echo "release $(release)"
		echo "vmlinux-sha256 $(sha256sum "$out/vmlinux" | cut -d' ' -f1)"
		echo "boot elf-pvh"
		echo "modules $(paste -sd' ' "$out/modules/modules.order")"
		[ ! -s "$out/modules/builtin" ] || echo "builtin $(paste -sd' ' "$out/modules/builtin")"
	} >"$out/kernel.manifest"
	rm -f -- "$out/modules/builtin"
	rm -rf -- "$tree"
	cat "$out/kernel.manifest"
}

mkdir -p "$DEB_CACHE"
step download download
step unpack unpack
step vmlinux vmlinux
step modules modules
step manifest manifest
