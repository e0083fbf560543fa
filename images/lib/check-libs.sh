#!/bin/bash
# check-libs.sh ROOT — fail if any dynamically linked program or library in the image tree
# ROOT needs a shared library the image does not have (e.g. after a trim or an excluded
# package went too far). Asks the image's own dynamic linker, inside chroot-run.sh, so the
# host's libraries can never satisfy a lookup. Needs /bin/sh in the image.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: check-libs.sh ROOT" >&2; exit 2; }
lib=$(dirname -- "${BASH_SOURCE[0]}")
root=$1
count=$("$lib/elfinfo.py" list-dynamic "$root" | tee "$root/.ember-elf-list" | wc -l)
echo "checking $count dynamically linked files"
status=0
"$lib/chroot-run.sh" "$root" /bin/sh -c '
	bad=0
	while IFS= read -r f; do
		rc=0
		out=$(/lib64/ld-linux-x86-64.so.2 --list "/$f" 2>&1) || rc=$?
		case $rc:$out in 0:*"not found"*|[1-9]*)
			printf "/%s:\n%s\n" "$f" "$out"; bad=1 ;;
		esac
	done </.ember-elf-list
	exit $bad' || status=$?
rm -f -- "$root/.ember-elf-list"
[ "$status" -eq 0 ] && echo "all shared libraries resolve"
exit "$status"
