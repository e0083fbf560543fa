#!/bin/bash
# extract-hook.sh ROOT MANIFEST EXCLUDE — mmdebstrap --extract-hook: runs right after the
# downloaded .debs were unpacked into ROOT, while they still sit in
# ROOT/var/cache/apt/archives. Deletes the files of each package listed in EXCLUDE (packages
# pulled in only to satisfy install-time dependencies, e.g. dpkg) and writes MANIFEST: one
# "name version" line for every package left in the image, sorted. Directories are kept.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: extract-hook.sh ROOT MANIFEST EXCLUDE" >&2; exit 2; }
root=$1 manifest=$2 exclude=$3

: >"$manifest.part"
for deb in "$root"/var/cache/apt/archives/*.deb; do
	read -r name version < <(dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb")
	if grep -qxF -- "$name" "$exclude"; then
		echo "excluding $name $version"
		dpkg-deb --fsys-tarfile "$deb" | tar -t | while IFS= read -r path; do
			path=${path#./}
			[ -n "$path" ] || continue
			if [ -L "$root/$path" ] || [ -f "$root/$path" ]; then
				rm -f -- "$root/$path"
			fi
		done
		continue
	fi
	printf '%s %s\n' "$name" "$version" >>"$manifest.part"
done
LC_ALL=C sort -o "$manifest" "$manifest.part"
rm -f -- "$manifest.part"
