#!/usr/bin/env bash
# `ondi serve` against hostile and unlucky clients (tests/e2e/server/robustness.py): malformed JSON, wrong types,
# invalid UTF-8, a 10 MB body, absurd max_tokens, slow senders and readers, mid-stream disconnects, a full queue
# (429), timeouts, a bounded load run (200 requests at concurrency 8), and a graceful SIGTERM (exit 0); and
# (tests/e2e/server/disconnect.py) non-streamed requests whose client leaves while generating or queued: cancelled,
# slot and queue place freed, without waiting for max_tokens or --timeout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ondi="$ONDI_BIN/ondi"
g="$ONDI_GOLDEN_DIR"
py=/usr/bin/python3
tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/server.log" ] && tail -20 "$tmp/server.log" >&2; exit 1; }
. "$here/server/start_server.sh"

start_server "$g/qwen2-tok-f16.gguf" --parallel 4 -c 1024 -t 2 --api-key k3y --max-body 1048576
timeout 220 $py "$here/server/robustness.py" main "$port" k3y || fail "robustness checks"
timeout 120 $py "$here/server/disconnect.py" running "$port" k3y || fail "disconnect while generating"
kill -TERM "$pid"
stop_server_expect_zero

start_server "$g/llama3-tok-f16.gguf" --parallel 1 -c 4096 -t 2 --timeout 1
timeout 60 $py "$here/server/robustness.py" timeout "$port" || fail "request timeout"
kill -TERM "$pid"
stop_server_expect_zero

start_server "$g/llama3-tok-f16.gguf" --parallel 1 --max-queue 1 -c 4096 -t 2 --timeout 10 --read-timeout 2
timeout 120 $py "$here/server/robustness.py" limits "$port" || fail "limit checks"
timeout 120 $py "$here/server/disconnect.py" queued "$port" || fail "disconnect while queued"
timeout 90 $py "$here/server/robustness.py" sigterm "$port" "$pid" || fail "graceful shutdown"
stop_server_expect_zero
echo "server_robustness: all checks passed"
