#!/usr/bin/env bash
# run.sh — `make run`: start emberd, show a sandbox answering print(6*7), then keep the
# daemon in the foreground until Ctrl-C (EMBER_DEMO_ONLY=1: stop after the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${EMBER_STATE:-/var/lib/ember}
SOCK="$STATE/emberd.sock"
VMM=${EMBER_VMM:-auto}
mkdir -p "$STATE"

build/emberd --state-dir "$STATE" --images-dir build/images --vmm "$VMM" \
        --listen "unix:$SOCK" --listen 127.0.0.1:8080 --allow-insecure-tcp &
EMBERD=$!
trap 'kill -TERM $EMBERD 2>/dev/null; wait $EMBERD 2>/dev/null' EXIT INT TERM
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "emberd did not come up"; exit 1; }

api() { curl -sS --unix-socket "$SOCK" "$@"; }
echo
echo "== ember demo (vmm: $VMM) =="
echo "\$ curl --unix-socket $SOCK -X POST localhost/sandboxes -d '{\"language_pack\":\"python\"}'"
SB=$(api -X POST localhost/sandboxes -d '{"language_pack":"python"}')
echo "$SB"
ID=$(printf '%s' "$SB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "\$ curl --unix-socket $SOCK -X POST localhost/sandboxes/$ID/exec -d '{\"code\":\"print(6*7)\"}'"
api -X POST "localhost/sandboxes/$ID/exec" -d '{"code":"print(6*7)"}'
echo
echo "\$ curl --unix-socket $SOCK -X DELETE localhost/sandboxes/$ID"
api -X DELETE -w '%{http_code}\n' "localhost/sandboxes/$ID"
echo
if [ "${EMBER_DEMO_ONLY:-0}" = 1 ]; then exit 0; fi
echo "emberd is running (unix:$SOCK and http://127.0.0.1:8080); Ctrl-C stops it."
wait $EMBERD
