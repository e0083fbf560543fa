#!/bin/bash
# chroot-run.sh ROOT CMD [ARG]... — run CMD chrooted into an unpacked image tree, inside
# private mount and PID namespaces with a throwaway /dev, /dev/shm and /proc, so nothing
# it mounts or starts outlives it. For build-time hooks and image checks only; it must not
# leave mounts behind, and it never touches the host's /dev.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: chroot-run.sh ROOT CMD [ARG]..." >&2; exit 2; }
root=$(realpath -e -- "$1"); shift
for d in dev proc; do
	[ -d "$root/$d" ] || { echo "chroot-run: $root/$d is missing" >&2; exit 1; }
done

# The inner script runs as PID 1 of the new namespace; the mounts die with it.
exec unshare --mount --propagation private --pid --fork -- /bin/sh -eu -c '
	root=$1; shift
	mount -t tmpfs -o mode=0755,size=1m,nosuid ember-dev "$root/dev"
	for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		mknod -m 0666 "$root/dev/${n%%:*}" c "$(echo "$n" | cut -d: -f2)" "${n##*:}"
	done
	mkdir -m 1777 "$root/dev/shm"
	mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev ember-shm "$root/dev/shm"
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	exec env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 \
		chroot "$root" "$@"
' chroot-run "$root" "$@"
