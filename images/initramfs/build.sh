#!/bin/bash
# initramfs/build.sh OUT KERNEL_ARTIFACT INIT — build OUT/initramfs.img: a gzip'd newc cpio
# holding /init (the static emberd-init), /lib/modules/ember/*.ko + modules.order (load
# order, one file name a line), the empty mount points emberd-init uses and /dev/console.
# Owners are root and mtimes fixed, so the same inputs give the same bytes. Called by
# images/build.sh; it must not touch anything outside OUT.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib/common.sh"
[ $# -eq 3 ] || die "usage: initramfs/build.sh OUT KERNEL_ARTIFACT INIT"
out=$1 kernel=$2 init=$3
tree=$out/.tree

check_init() {
	[ -f "$init" ] || { echo "emberd-init not found at $init (build guest/init first, or pass --init PATH)"; exit 1; }
	"$IMAGES_DIR/lib/elfinfo.py" check-static "$init"
}

stage() {
	mkdir -p "$tree"
	(cd "$tree" && mkdir -p dev proc sys run tmp lib/modules/ember)
	chmod 1777 "$tree/tmp"
	install -m 0755 -- "$init" "$tree/init"
	cp -- "$kernel"/modules/*.ko "$kernel/modules/modules.order" "$tree/lib/modules/ember/"
	chmod 0644 "$tree"/lib/modules/ember/*
	# The kernel opens /dev/console for init's stdin/stdout/stderr before /init runs.
	mknod -m 0600 "$tree/dev/console" c 5 1
	find "$tree" -exec touch -h -d @0 {} +
}

archive() {
	(cd "$tree" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio --create --format=newc --owner=0:0 --reproducible --quiet) |
		gzip -9n >"$out/initramfs.img.part"
	mv -- "$out/initramfs.img.part" "$out/initramfs.img"
	rm -rf -- "$tree"
}

verify() {
	local listing
	listing=$(gzip -dc "$out/initramfs.img" | cpio --list --verbose --quiet)
	echo "$listing"
	grep -Eq '^-rwxr-xr-x .* init$' <<<"$listing" || { echo "no executable /init"; exit 1; }
	grep -Eq '^crw------- .* dev/console$' <<<"$listing" || { echo "no /dev/console node"; exit 1; }
	while read -r ko; do
		grep -q " lib/modules/ember/$ko\$" <<<"$listing" || { echo "modules.order names missing $ko"; exit 1; }
	done <"$kernel/modules/modules.order"
}

step init check_init
step stage stage
step archive archive
step verify verify
