#!/usr/bin/env bash
# deps.sh — installs the Debian packages ember needs to build, test and run, when missing.
# Idempotent and quiet when everything is present (dpkg-query first, apt only if needed).
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config gcc musl-tools
            libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libseccomp-dev)
IMAGE_PKGS=(mmdebstrap squashfs-tools kmod lz4 cpio zstd)
RUN_PKGS=(qemu-system-x86 curl util-linux iproute2)
TEST_PKGS=(python3 python3-pytest python3-yaml clang libclang-rt-14-dev)

want=("${BUILD_PKGS[@]}" "${IMAGE_PKGS[@]}" "${RUN_PKGS[@]}")
[ "${1:-}" = "--test" ] && want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
