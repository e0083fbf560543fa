# deps.sh — sourced by build.sh: makes sure the host tools the image build uses exist,
# installing the missing ones from Debian (apt-get, no recommends). It must not upgrade
# or remove anything, and it installs only what is missing.

# command -> Debian package that provides it
DEPS_TABLE="
mmdebstrap:mmdebstrap
mksquashfs:squashfs-tools
unsquashfs:squashfs-tools
depmod:kmod
modprobe:kmod
lz4:lz4
zstd:zstd
xz:xz-utils
gzip:gzip
cpio:cpio
dpkg-deb:dpkg
apt-get:apt
/usr/bin/python3:python3
flock:util-linux
unshare:util-linux
/usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring
"

deps_missing() {
	local entry cmd pkg
	for entry in $DEPS_TABLE; do
		cmd=${entry%%:*} pkg=${entry#*:}
		case $cmd in
		/*) [ -e "$cmd" ] && continue ;;
		*) command -v "$cmd" >/dev/null 2>&1 && continue ;;
		esac
		printf '%s\n' "$pkg"
	done | sort -u
}

# deps_ensure LOG — install what is missing; apt-get update only if the first try fails.
deps_ensure() {
	local missing log=$1
	missing=$(deps_missing | paste -sd' ' -)
	[ -n "$missing" ] || return 0
	[ "$(id -u)" -eq 0 ] || die "missing host packages ($missing); run as root or install them"
	say deps install "$missing"
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >"$log" 2>&1; then
		apt-get update >>"$log" 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >>"$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; die "could not install: $missing (log: $log)"; }
	fi
}
