#!/bin/bash
# build.sh — build ember's guest images: the kernel (vmlinux + modules), the initramfs
# around emberd-init and one squashfs per language pack (images/packs/*/). Each artifact is
# cached under $EMBER_CACHE/images/<artifact>-<recipe hash>/ and published there by rename,
# so a cache entry is complete or absent; --out only gets links to cache entries.
# This script orchestrates; the recipes and step scripts beside it do the work.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
. "$IMAGES_DIR/lib/deps.sh"

usage() {
	cat <<EOF
usage: images/build.sh [--out DIR] [--init PATH] [--force] [TARGET]...
TARGET: all (default), kernel, initramfs, or a pack: $(list_packs | paste -sd' ' -)
  --out DIR    where the results are linked (default: build/images in the repository)
  --init PATH  the static emberd-init for the initramfs (default: build/guest/init/emberd-init)
  --force      rebuild the named targets even if cached
  --prune      afterwards, delete the cached versions of the named targets not used now
Cache: \${EMBER_CACHE:-\$HOME/.cache/ember}/images (now $IMG_CACHE)
EOF
}

list_packs() {
	local d
	for d in "$IMAGES_DIR"/packs/*/; do
		d=$(basename -- "$d")
		[ "$d" != common ] && [ -f "$IMAGES_DIR/packs/$d/packages" ] && printf '%s\n' "$d"
	done
}

out=$REPO_DIR/build/images
init=$REPO_DIR/build/guest/init/emberd-init
force=0 prune=0
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--init) init=${2:?--init needs a path}; shift 2 ;;
	--init=*) init=${1#--init=}; shift ;;
	--force) force=1; shift ;;
	--prune) prune=1; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; die "unknown option: $1" ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(all)

# Expand "all", check names, order: kernel, initramfs, then packs as given.
expand_targets() {
	local t want=() packs
	packs=$(list_packs)
	for t in "${targets[@]}"; do
		case $t in
		all) want+=(kernel initramfs); mapfile -t -O "${#want[@]}" want <<<"$packs" ;;
		kernel | initramfs) want+=("$t") ;;
		*) grep -qxF -- "$t" <<<"$packs" || { usage >&2; die "unknown target: $t"; }; want+=("$t") ;;
		esac
	done
	printf '%s\n' "${want[@]}" | awk '!seen[$0]++' |
		awk '$0=="kernel"{print 0, NR, $0; next} $0=="initramfs"{print 1, NR, $0; next} {print 2, NR, $0}' |
		sort -n -k1,1 -k2,2 | cut -d' ' -f3
}

declare -A ART=()   # target -> its artifact directory in the cache
declare -A FORCE=() # targets that --force rebuilds
CURRENT_TMP=        # the artifact directory being built, removed if we are interrupted

on_signal() {
	trap - INT TERM
	[ -z "$CURRENT_TMP" ] || rm -rf --one-file-system -- "$CURRENT_TMP"
	say images interrupted "nothing half-built was kept"
	exit 130
}
trap on_signal INT TERM
failed=()

# publish NAME HASH SCRIPT [ARG]... — use the cached artifact, or run SCRIPT TMPDIR ARG...
# and rename TMPDIR into the cache when it succeeds.
publish() {
	local name=$1 hash=$2 final tmp t
	shift 2
	final=$(artifact_path "$name" "$hash")
	if [ -d "$final" ] && [ -z "${FORCE[$name]:-}" ]; then
		say "$name" cached "$final"
		ART[$name]=$final
		return 0
	fi
	t=$(now_ms)
	tmp=$(mktemp -d "$IMG_CACHE/.tmp.$name-$hash.XXXXXX")
	CURRENT_TMP=$tmp
	chmod 0755 "$tmp"
	export ARTIFACT=$name STEP_LOG_DIR=$IMG_CACHE/logs/$name-$hash
	rm -rf -- "$STEP_LOG_DIR"
	mkdir -p -- "$STEP_LOG_DIR"
	if ! "$@" "$tmp"; then
		rm -rf --one-file-system -- "$tmp"
		CURRENT_TMP=
		say "$name" FAILED "logs in $STEP_LOG_DIR"
		failed+=("$name")
		return 1
	fi
	find "$tmp" -type f -exec chmod a-w {} +
	[ ! -d "$final" ] || mv -T -- "$final" "$tmp.old"
	mv -T -- "$tmp" "$final"
	rm -rf -- "$tmp.old"
	CURRENT_TMP=
	say "$name" built "$final ($(fmt_s $(($(now_ms) - t))))"
	ART[$name]=$final
}

# The step scripts take OUT first; publish appends it last, so wrap them.
run_kernel() { "$IMAGES_DIR/kernel/build.sh" "$3" "$1" "$2"; }
run_initramfs() { "$IMAGES_DIR/initramfs/build.sh" "$3" "$1" "$2"; }
run_pack() { "$IMAGES_DIR/packs/common/build-pack.sh" "$2" "$1"; }

# resolve_kernel — "PACKAGE VERSION" of the newest package matching kernel/package.
resolve_kernel() {
	local pattern names best_n='' best_v='' n v
	pattern=$(read_list "$IMAGES_DIR/kernel/package" | head -n1)
	names=$(apt-cache pkgnames linux-image- | grep -E -- "$pattern" || true)
	if [ -z "$names" ]; then
		say kernel resolve "no package matches $pattern: apt-get update"
		apt-get update >"$IMG_CACHE/logs/apt-update.log" 2>&1 || true
		names=$(apt-cache pkgnames linux-image- | grep -E -- "$pattern" || true)
		[ -n "$names" ] || return 1
	fi
	# shellcheck disable=SC2086
	while read -r n v; do
		if [ -z "$best_v" ] || dpkg --compare-versions "$v" gt "$best_v"; then best_n=$n best_v=$v; fi
	done < <(apt-cache show --no-all-versions $names |
		awk '/^Package: /{p=$2} /^Version: /{print p, $2}')
	[ -n "$best_n" ] && printf '%s %s\n' "$best_n" "$best_v"
}

# resolve_kernel_cached — resolve_kernel, remembered until apt's package lists change
# (each apt-cache call costs a second here: this keeps a cached build instant).
resolve_kernel_cached() {
	local key memo=$IMG_CACHE/kernel-resolved result
	key=$({ read_list "$IMAGES_DIR/kernel/package"
		stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null || true; } | sha256sum | cut -c1-32)
	if [ -f "$memo" ] && [ "$(head -n1 "$memo")" = "$key" ]; then
		sed -n 2p "$memo"
		return 0
	fi
	result=$(resolve_kernel) || return 1
	printf '%s\n%s\n' "$key" "$result" >"$memo.part"
	mv -f -- "$memo.part" "$memo"
	printf '%s\n' "$result"
}

build_kernel() {
	local pkg version hash
	read -r pkg version < <(resolve_kernel_cached) ||
		{ say kernel resolve "FAILED: no package matches $(read_list "$IMAGES_DIR/kernel/package")"; failed+=(kernel); return 1; }
	say kernel resolve "$pkg $version"
	hash=$(recipe_hash --extra "$pkg=$version" "$IMAGES_DIR/kernel" "$IMAGES_DIR/lib/elfinfo.py")
	publish kernel "$hash" run_kernel "$pkg" "$version"
}

build_initramfs() {
	local init_id=missing hash
	[ -n "${ART[kernel]:-}" ] || { say initramfs skipped "the kernel failed"; failed+=(initramfs); return 1; }
	[ ! -f "$init" ] || init_id=$(sha256sum <"$init" | cut -d' ' -f1)
	hash=$(recipe_hash --extra "kernel=$(basename -- "${ART[kernel]}")" --extra "init=$init_id" \
		"$IMAGES_DIR/initramfs" "$IMAGES_DIR/lib/elfinfo.py")
	publish initramfs "$hash" run_initramfs "${ART[kernel]}" "$init"
}

build_pack() {
	local name=$1 hash sources=''
	[ -z "${EMBER_DEBIAN_SOURCES:-}" ] || sources=$(cat -- "$EMBER_DEBIAN_SOURCES")
	hash=$(recipe_hash --extra "sources=$sources" "$IMAGES_DIR/packs/common" "$IMAGES_DIR/packs/$name" \
		"$IMAGES_DIR/lib/chroot-run.sh" "$IMAGES_DIR/lib/check-libs.sh" "$IMAGES_DIR/lib/elfinfo.py")
	publish "$name" "$hash" run_pack "$name"
}

# prune TARGET — delete the target's other cached versions and their logs.
prune() {
	local d
	[ -n "${ART[$1]:-}" ] || return 0
	for d in "$IMG_CACHE/$1"-*/; do
		d=${d%/}
		[ "$d" = "${ART[$1]}" ] && continue
		rm -rf --one-file-system -- "$d" "$IMG_CACHE/logs/$(basename -- "$d")"
		say "$1" pruned "$d"
	done
}

# files_of TARGET — the names a target contributes to --out.
files_of() {
	case $1 in
	kernel) echo vmlinux kernel.manifest ;;
	initramfs) echo initramfs.img ;;
	*) echo "$1.squashfs $1.manifest" ;;
	esac
}

# link_out TARGET — hard links into --out (symlinks across filesystems), each replaced by
# rename; a failed target's old files are removed so --out never mixes old and new.
link_out() {
	local f
	for f in $(files_of "$1"); do
		rm -f -- "$out/.$f.new"
		if [ -z "${ART[$1]:-}" ]; then rm -f -- "$out/$f"; continue; fi
		[ ! "$out/$f" -ef "${ART[$1]}/$f" ] || continue
		ln -f -- "${ART[$1]}/$f" "$out/.$f.new" 2>/dev/null || ln -sf -- "${ART[$1]}/$f" "$out/.$f.new"
		mv -fT -- "$out/.$f.new" "$out/$f"
	done
}

main() {
	local t want
	want=$(expand_targets)
	if [ "$force" -eq 1 ]; then for t in $want; do FORCE[$t]=1; done; fi
	mkdir -p -- "$IMG_CACHE/logs" "$out"
	out=$(realpath -- "$out")
	init=$(realpath -m -- "$init")
	exec 9>"$IMG_CACHE/.lock"
	if ! flock -n 9; then
		say images wait "another build holds $IMG_CACHE/.lock"
		flock 9
	fi
	# Holding the lock, any temporary directory left is from an interrupted build.
	# --one-file-system: never descend into something still mounted there.
	rm -rf --one-file-system -- "$IMG_CACHE"/.tmp.*
	deps_ensure "$IMG_CACHE/logs/deps.log"
	say images start "$(paste -sd' ' - <<<"$want") -> $out"
	for t in $want; do
		case $t in
		kernel) build_kernel || true ;;
		initramfs) [ -n "${ART[kernel]:-}" ] || build_kernel || true; build_initramfs || true ;;
		*) build_pack "$t" || true ;;
		esac
	done
	for t in $want; do link_out "$t"; done
	if [ "$prune" -eq 1 ]; then for t in $want; do prune "$t"; done; fi
	if [ ${#failed[@]} -gt 0 ]; then
		say images FAILED "${failed[*]} (in $(fmt_s $(($(now_ms) - EMBER_T0))))"
		exit 1
	fi
	say images "done" "$(cd "$out" && ls | paste -sd' ' -)"
}

main
