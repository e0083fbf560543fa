#!/bin/bash
# boot-check.sh [--out DIR] [--timeout S] [PACK] — boot the built kernel + initramfs with
# PACK's squashfs (default python) under QEMU q35 (TCG) and wait until emberd-init reports
# that its agent is ready on the console. Prints the boot's console and the time to ready.
# A smoke test of the images only: there is no vsock device, so nothing talks to the agent.
# QEMU is always killed and its console file removed; nothing else is started.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

out=$REPO_DIR/build/images timeout_s=60 pack=python
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	-h | --help) echo "usage: images/boot-check.sh [--out DIR] [--timeout S] [PACK]"; exit 0 ;;
	*) pack=$1; shift ;;
	esac
done
for f in vmlinux initramfs.img "$pack.squashfs"; do
	[ -e "$out/$f" ] || die "$out/$f is missing: run images/build.sh first"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

console=$(mktemp "${TMPDIR:-/tmp}/ember-boot-check.XXXXXX")
qemu_pid=
cleanup() {
	if [ -n "$qemu_pid" ]; then kill -KILL "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
	rm -f -- "$console"
}
trap cleanup EXIT

t0=$(now_ms)
qemu-system-x86_64 -M q35 -accel tcg -m 512 -smp 1 -cpu max \
	-kernel "$out/vmlinux" -initrd "$out/initramfs.img" \
	-append "console=ttyS0 reboot=k panic=1 cryptomgr.notests mitigations=off nokaslr no_timer_check ember.root=/dev/vda ember.port=52 ember.overlay_size=256m" \
	-drive "file=$out/$pack.squashfs,if=virtio,format=raw,readonly=on" -device virtio-rng-pci \
	-nodefaults -display none -serial "file:$console" -no-reboot </dev/null >/dev/null 2>&1 &
qemu_pid=$!

result=timeout
while [ $(($(now_ms) - t0)) -lt $((timeout_s * 1000)) ]; do
	if grep -q 'emberd-init.*ready in' "$console"; then result=ready; break; fi
	if ! kill -0 "$qemu_pid" 2>/dev/null; then result="qemu exited"; break; fi
	sleep 0.1
done
elapsed=$(($(now_ms) - t0))
grep -E 'Run /init|emberd-init|Kernel panic|virtio_blk|squashfs|VFS' "$console" | tr -d '\r' || true
if [ "$result" = ready ]; then
	echo "boot-check: $pack: agent ready $(fmt_s "$elapsed") after QEMU start"
	exit 0
fi
echo "boot-check: $pack: $result after $(fmt_s "$elapsed"); last console lines:" >&2
tail -n 20 "$console" | tr -d '\r' >&2
exit 1
