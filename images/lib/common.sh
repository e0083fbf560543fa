# common.sh — sourced by every image build script: progress lines, per-step logs, recipe
# hashes and the cache layout. It defines functions and variables only; it must not build,
# download or delete anything by itself.
# Layout: $IMG_CACHE/<artifact>-<hash>/ (complete artifacts, published by rename),
#         $IMG_CACHE/logs/<artifact>-<hash>/<step>.log, $IMG_CACHE/debs/ (downloaded .debs).

# shellcheck disable=SC2034 # REPO_DIR, DEB_CACHE: used by the scripts that source this
IMAGES_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(dirname -- "$IMAGES_DIR")
: "${EMBER_CACHE:=${HOME:-/root}/.cache/ember}"
IMG_CACHE=$EMBER_CACHE/images
DEB_CACHE=$IMG_CACHE/debs
HASH_LEN=16
export EMBER_CACHE

now_ms() { date +%s%3N; }
: "${EMBER_T0:=$(now_ms)}"
export EMBER_T0

# fmt_s MS -> "12.3s"
fmt_s() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# say ARTIFACT WHAT [TEXT] — one progress line: total elapsed, artifact, step, text.
say() {
	local total=$(($(now_ms) - EMBER_T0))
	printf '[%7s] %-10s %-12s %s\n' "$(fmt_s "$total")" "$1" "$2" "${3:-}" >&2
}

die() { printf 'images: %s\n' "$*" >&2; exit 1; }

# step NAME CMD [ARG]... — run CMD (a command or a function of the caller) with its output
# in $STEP_LOG_DIR/NAME.log, under `set -e` even though we look at its status; print one
# line; on failure print the log's tail and return the status.
step() {
	local name=$1 log="$STEP_LOG_DIR/$1.log" t rc
	shift
	t=$(now_ms)
	[ -t 2 ] && printf '[%7s] %-10s %-12s ...\r' "$(fmt_s $((t - EMBER_T0)))" "$ARTIFACT" "$name" >&2
	set +e
	(set -e; "$@") >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then
		say "$ARTIFACT" "$name" "ok $(fmt_s $(($(now_ms) - t)))"
		return 0
	fi
	say "$ARTIFACT" "$name" "FAILED (exit $rc) after $(fmt_s $(($(now_ms) - t)))"
	{
		printf -- '--- last lines of %s ---\n' "$log"
		tail -n 25 "$log" | sed 's/^/    /'
		printf -- '---\n'
	} >&2
	return "$rc"
}

# recipe_hash [--extra STRING]... PATH... — sha256 over the content and relative path of
# every file under PATHs (sorted, editor droppings and caches ignored) and the extra strings.
recipe_hash() {
	local extras=()
	while [ "${1:-}" = --extra ]; do extras+=("$2"); shift 2; done
	{
		printf 'extra %s\n' "${extras[@]+"${extras[@]}"}"
		(cd "$IMAGES_DIR" && find "${@#"$IMAGES_DIR"/}" -type f ! -name '*~' ! -name '.*.sw?' \
			! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
	} | sha256sum | cut -c1-"$HASH_LEN"
}

# artifact_path NAME HASH — where a complete artifact lives (present only when complete).
artifact_path() { printf '%s/%s-%s\n' "$IMG_CACHE" "$1" "$2"; }

# read_list FILE — print the entries of a recipe list: comments and blank lines dropped.
read_list() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"; }
