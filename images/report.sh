#!/bin/bash
# report.sh [--init PATH] [TARGET]... — measure the image build: a cold build into an empty
# temporary EMBER_CACHE (everything downloaded and built), then the same build again
# (cached), then each artifact's size. Prints figures only; the temporary cache and output
# are removed afterwards and the user's own cache is never touched.
set -euo pipefail
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

build_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--init) build_args+=(--init "${2:?--init needs a path}"); shift 2 ;;
	-h | --help) echo "usage: images/report.sh [--init PATH] [TARGET]..."; exit 0 ;;
	*) build_args+=("$1"); shift ;;
	esac
done

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ember-images-report.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# timed NAME — run build.sh against the temporary cache; print its wall time in ms.
timed() {
	local t0 rc=0
	t0=$(now_ms)
	EMBER_CACHE=$tmp/cache EMBER_T0='' "$IMAGES_DIR/build.sh" --out "$tmp/out" "${build_args[@]+"${build_args[@]}"}" \
		>"$tmp/$1.log" 2>&1 || rc=$?
	echo $(($(now_ms) - t0)) "$rc"
}

human() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

echo "images report: $(uname -r), $(nproc) cores; building in $tmp" >&2
read -r cold cold_rc < <(timed cold)
read -r cached cached_rc < <(timed cached)

printf '\n%-18s %12s %10s\n' artifact bytes size
for f in "$tmp"/out/*; do
	[ -e "$f" ] || continue
	size=$(stat -L -c %s "$f")
	printf '%-18s %12d %10s\n' "$(basename -- "$f")" "$size" "$(human "$size")"
done
printf '\ncold build (empty cache): %s%s\n' "$(fmt_s "$cold")" "$([ "$cold_rc" -eq 0 ] || echo " (FAILED, exit $cold_rc)")"
grep -E ' (built|FAILED) ' "$tmp/cold.log" | sed 's/^/    /' || true
printf 'cached build:             %s%s\n' "$(fmt_s "$cached")" "$([ "$cached_rc" -eq 0 ] || echo " (FAILED, exit $cached_rc)")"
if [ "$cold_rc" -ne 0 ]; then
	printf '\ncold build log:\n'
	sed 's/^/    /' "$tmp/cold.log"
fi
