#!/bin/bash
# links.sh ROOT — make the command links that maintainer scripts (update-alternatives)
# would have made, which the extract variant never runs: awk -> mawk, and one
# /usr/bin/<name> -> /bin/busybox per applet in busybox-applets that no package provides.
# Does nothing for a tool the image lacks; fails if busybox lacks a listed applet.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: links.sh ROOT" >&2; exit 2; }
root=$1 here=$(dirname -- "${BASH_SOURCE[0]}")

provided() {
	local dir
	for dir in bin usr/bin sbin usr/sbin; do
		[ -e "$root/$dir/$1" ] || [ -L "$root/$dir/$1" ] && return 0
	done
	return 1
}

if [ -x "$root/usr/bin/mawk" ]; then
	for name in awk nawk; do provided "$name" || ln -s mawk "$root/usr/bin/$name"; done
fi

[ -x "$root/bin/busybox" ] || { echo "no busybox: no applet links"; exit 0; }
have=$("$here/../../lib/chroot-run.sh" "$root" /bin/busybox --list)
linked=0
for applet in $(sed 's/#.*//' "$here/busybox-applets"); do
	grep -qxF -- "$applet" <<<"$have" || { echo "busybox has no applet '$applet'" >&2; exit 1; }
	provided "$applet" && continue
	ln -s /bin/busybox "$root/usr/bin/$applet"
	linked=$((linked + 1))
done
echo "linked $linked busybox applets"
