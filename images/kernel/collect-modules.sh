#!/bin/bash
# collect-modules.sh TREE RELEASE LIST OUTDIR — copy the modules named in LIST, with every
# dependency, from an unpacked kernel package TREE into OUTDIR (flat), and write
# OUTDIR/modules.order (file names in load order) and OUTDIR/builtin (names built in).
# Uses depmod + modprobe --show-depends against TREE; it must never load a module or read
# the host's /lib/modules.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: collect-modules.sh TREE RELEASE LIST OUTDIR" >&2; exit 2; }
tree=$(realpath -e -- "$1") release=$2 list=$3 out=$4
moddir=$tree/lib/modules/$release
[ -d "$moddir" ] || { echo "no $moddir in the kernel package" >&2; exit 1; }

# The Debian package ships no modules.dep: build it inside the tree.
depmod -b "$tree" "$release"

mkdir -p "$out"
: >"$out/modules.order.part"
: >"$out/builtin"
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$list" | while read -r name; do
	modprobe -d "$tree" -S "$release" --show-depends "$name" | while read -r kind path _; do
		case $kind in
		insmod)
			ko=$(basename -- "$path")
			grep -qxF -- "$ko" "$out/modules.order.part" && continue
			case $ko in *.ko) ;; *) echo "$ko: compressed modules are not supported" >&2; exit 1 ;; esac
			cp -- "$path" "$out/$ko"
			printf '%s\n' "$ko" >>"$out/modules.order.part"
			;;
		builtin) grep -qxF -- "$path" "$out/builtin" || printf '%s\n' "$path" >>"$out/builtin" ;;
		*) echo "modprobe --show-depends $name: unexpected line: $kind $path" >&2; exit 1 ;;
		esac
	done
done
mv -- "$out/modules.order.part" "$out/modules.order"
echo "modules in load order:"; cat "$out/modules.order"
echo "built in:"; cat "$out/builtin"
