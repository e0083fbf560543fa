#!/usr/bin/env bash
# run.sh — runs libFuzzer targets one after the other, each for a fixed time, and prints
# per target: executions, exec/s, coverage, corpus growth and findings. Called by
# `make fuzz` (tests/fuzz/fuzz.mk). Working corpora, logs and crash artifacts live under
# WORK (never committed); the committed corpus is read, never written.
# Usage: tests/fuzz/run.sh BUILD_DIR WORK_DIR SECONDS TARGET...
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=$(realpath "$1")
WORK=$(realpath -m "$2")
SECONDS_PER=$3
shift 3

max_len() { # per target: the largest input worth building
        case "$1" in
        fuzz-agent-frames) echo 70000 ;; # a full 64 KiB output frame and what follows
        fuzz-vhost) echo 4096 ;; # step lists: longer ones mostly repeat handshakes
        *) echo 16384 ;;
        esac
}

# libFuzzer's last "cov:" line and its final stats
summarize() { # target log artifacts
        local runs eps cov ft corp found
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$2" | tail -1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$2" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$2" | tail -1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$2" | tail -1 | cut -d' ' -f2)
        corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$2" | tail -1 | cut -d' ' -f2)
        found=$(find "$3" -type f | wc -l)
        printf '%-18s %12s %8s %6s %7s %12s %8s\n' "$1" "${runs:-?}" "${eps:-?}" "${cov:-?}" \
                "${ft:-?}" "${corp:-?}" "$found"
        [ "$found" -eq 0 ]
}

status=0
rows=()
for t in "$@"; do
        bin=$BUILD/tests/fuzz/$t
        [ -x "$bin" ] || { echo "run.sh: $bin is not built" >&2; exit 2; }
        mkdir -p "$WORK/$t/corpus" "$WORK/$t/artifacts"
        extra=()
        if [ "$t" = fuzz-api ]; then
                tests/fuzz/seed.sh --suite-out "$WORK/suite" >/dev/null
                [ -d "$WORK/suite/fuzz-api" ] && extra+=("$WORK/suite/fuzz-api")
        fi
        dict=()
        [ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=$ROOT/tests/fuzz/dict/$t.dict")
        echo "== $t: $SECONDS_PER s (log: $WORK/$t/log)"
        "$bin" -max_total_time="$SECONDS_PER" -max_len="$(max_len "$t")" -timeout=10 \
                -print_final_stats=1 -artifact_prefix="$WORK/$t/artifacts/" "${dict[@]}" \
                "$WORK/$t/corpus" "$ROOT/tests/fuzz/corpus/$t" "${extra[@]}" \
                >"$WORK/$t/log" 2>&1
        rows+=("$t")
done

echo
printf '%-18s %12s %8s %6s %7s %12s %8s\n' target executions exec/s cov ft corpus findings
for t in "${rows[@]}"; do
        summarize "$t" "$WORK/$t/log" "$WORK/$t/artifacts" || status=1
done
if [ $status -ne 0 ]; then
        echo
        echo "findings (replay one with: $BUILD/tests/fuzz/<target> <file>):"
        find "$WORK" -path '*/artifacts/*' -type f
fi
exit $status
