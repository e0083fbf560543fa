#!/usr/bin/env bash
# run.sh — `make bench`: every benchmark, figures on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/api_bench.py --vmm process -n "${N:-50}"
/usr/bin/python3 bench/qemu_bench.py -n "${N_QEMU:-5}"
/usr/bin/python3 bench/load_bench.py --sandboxes "${LOAD_SANDBOXES:-50}" --execs "${LOAD_EXECS:-1000}"
