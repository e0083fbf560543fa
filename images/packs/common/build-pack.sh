#!/bin/bash
# packs/common/build-pack.sh OUT PACK — build one language pack from its recipe folder
# images/packs/PACK into the empty directory OUT: PACK.squashfs and PACK.manifest.
# Recipe files: packages (required), exclude, trim, customize (executable, gets the tree
# as $1), check (required: run/expect/max_mib). Called by images/build.sh, which
# publishes OUT; it must not write outside OUT and leaves no mounts or processes.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/../../lib/common.sh"
[ $# -eq 2 ] || die "usage: packs/common/build-pack.sh OUT PACK"
out=$1 pack=$2
recipe=$IMAGES_DIR/packs/$pack common=$IMAGES_DIR/packs/common
root=$out/.root
[ -f "$recipe/packages" ] && [ -f "$recipe/check" ] || die "$recipe: needs 'packages' and 'check'"
sources=${EMBER_DEBIAN_SOURCES:-$common/sources.list}

# check_value KEY — the value of "KEY value" in the recipe's check file.
check_value() { read_list "$recipe/check" | sed -n "s/^$1[[:space:]]\{1,\}//p" | head -n1; }

bootstrap() {
	local include exclude=$out/.exclude
	include=$( (read_list "$common/packages"; read_list "$recipe/packages") | sort -u | paste -sd, -)
	if [ -f "$recipe/exclude" ]; then read_list "$recipe/exclude"; fi >"$exclude"
	echo "packages: $include"
	echo "excluded after extraction: $(paste -sd' ' "$exclude")"
	# extract: unpack the packages and their dependencies, run no maintainer script. No
	# mounts are needed (the hook runs outside the tree), so none can be left behind.
	read_list "$sources" | mmdebstrap --variant=extract --mode=root --format=directory \
		--include="$include" --skip=check/signed-by --skip=chroot/mount \
		--aptopt='APT::Sandbox::User "root"' \
		--extract-hook="$(printf '%q "$1" %q %q' "$common/extract-hook.sh" "$out/$pack.manifest" "$exclude")" \
		bookworm "$root" -
	rm -f -- "$exclude"
	echo "manifest:"; cat "$out/$pack.manifest"
}

trim() {
	local pattern path n=0
	shopt -s extglob nullglob
	while IFS= read -r pattern; do
		for path in "$root"/$pattern; do
			rm -rf -- "$path"
			n=$((n + 1))
		done
	done < <(read_list "$common/trim"; [ ! -f "$recipe/trim" ] || read_list "$recipe/trim")
	echo "removed $n paths"
	du -sh "$root"
}

customize() {
	[ -x "$recipe/customize" ] || { echo "no customize hook"; return 0; }
	CHROOT_RUN=$IMAGES_DIR/lib/chroot-run.sh "$recipe/customize" "$root"
}

# The images have no package manager and run no maintainer script: write the few files and
# links those would have made, and leave the mount points emberd-init uses empty.
finish() {
	[ -e "$root/etc/passwd" ] || printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$root/etc/passwd"
	[ -e "$root/etc/group" ] || printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
	[ -e "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost\n' >"$root/etc/hosts"
	# Which pack this is (first line) and exactly what went into it.
	{ echo "$pack"; cat "$out/$pack.manifest"; } >"$root/etc/ember-pack"
	local d
	for d in dev proc sys run tmp root; do
		rm -rf -- "${root:?}/$d"
		mkdir -m 0755 -- "$root/$d"
	done
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	"$common/links.sh" "$root"
}

libs() { "$IMAGES_DIR/lib/check-libs.sh" "$root"; }

squash() {
	mksquashfs "$root" "$out/$pack.squashfs.part" -comp zstd -b 128K -noappend -all-root -no-progress
	mv -- "$out/$pack.squashfs.part" "$out/$pack.squashfs"
	rm -rf -- "$root"
}

# Unpack the finished image and run the recipe's command once in it.
check() {
	local run expect max_mib size got tree=$out/.check
	run=$(check_value run) expect=$(check_value expect) max_mib=$(check_value max_mib)
	[ -n "$run" ] && [ -n "$max_mib" ] || { echo "check: needs 'run' and 'max_mib'"; return 1; }
	size=$(stat -c %s "$out/$pack.squashfs")
	echo "size: $size bytes (limit $max_mib MiB)"
	[ "$size" -le $((max_mib << 20)) ] || { echo "$pack.squashfs is over $max_mib MiB"; return 1; }
	unsquashfs -no-progress -d "$tree" "$out/$pack.squashfs" >/dev/null
	echo "run: $run"
	got=$("$IMAGES_DIR/lib/chroot-run.sh" "$tree" /bin/sh -c "$run" | paste -sd" " -)
	rm -rf -- "$tree"
	echo "got: $got"
	[ "$got" = "$expect" ] || { echo "expected: $expect"; return 1; }
}

step bootstrap bootstrap
step trim trim
step customize customize
step finish finish
step libs libs
step squashfs squash
step check check
