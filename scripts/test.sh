#!/usr/bin/env bash
# test.sh — runs ember's test tiers and ends with one line "N passed, N failed, N skipped".
# Usage: scripts/test.sh [unit|integration|e2e]...   (default: all tiers)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN=${ASAN:-build-asan}
RESULTS=$(mktemp -d /tmp/ember-results.XXXXXX)
tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(unit integration e2e)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_meson() { # build-dir label suites...
        local dir=$1 label=$2
        shift 2
        echo "== unit tests ($label: $*)"
        meson test -C "$dir" $(printf -- '--suite %s ' "$@") --print-errorlogs --num-processes 2 >"$RESULTS/meson-$label.out" 2>&1
        tail -n 12 "$RESULTS/meson-$label.out"
        cp "$dir/meson-logs/testlog.json" "$RESULTS/meson-$label.json" 2>/dev/null || true
}

run_pytest() { # dir label build
        echo "== $2 tests (build: $3)"
        EMBER_BUILD="$3" /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider \
                --junitxml="$RESULTS/pytest-$2.xml" "$1"
}

# The integration suite on the ASan/UBSan build is also its LeakSanitizer run: every
# sanitized process (emberd, ember-vmm, ember-jailer) checks for leaks at its normal exit and
# writes any report under $RESULTS/sanitizer; a test fails on a report that appeared during
# it (tests/integration/conftest.py) — also a VMM's, whose exit status nobody reads.
run_pytest_lsan() { # dir label build
        mkdir -p "$RESULTS/sanitizer"
        ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1:log_path=$RESULTS/sanitizer/asan" \
                UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$RESULTS/sanitizer/ubsan" \
                EMBER_SANITIZER_LOGS="$RESULTS/sanitizer" run_pytest "$@"
}

for t in "${tiers[@]}"; do
        case "$t" in
        # the real-QEMU vhost-user test boots a guest: once, in the normal build
        unit) run_meson "$BUILD" normal unit vhost-qemu; run_meson "$ASAN" asan unit ;;
        integration) run_pytest_lsan tests/integration integration "$ASAN" ;;
        e2e) [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1 &&
                run_pytest tests/e2e e2e "$BUILD" ;;
        *) echo "unknown tier $t"; exit 2 ;;
        esac
done

/usr/bin/python3 scripts/summarize.py "$RESULTS"
rc=$?
rm -rf "$RESULTS"
exit $rc
