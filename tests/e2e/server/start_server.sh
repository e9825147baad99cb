# Sourced by tests/e2e/server_*.sh. Needs $ondi and $tmp; sets $pid and $port.
start_server() {
  "$ondi" serve "$@" --port 0 > "$tmp/server.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 600); do  # 60 s at most: loading a tiny model takes about a second (more under sanitizers)
    port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/server.log")"
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "the server exited at start"
    sleep 0.1
  done
  fail "the server did not start listening"
}

# After a SIGTERM: the server must exit by itself, with status 0, within 40 s.
stop_server_expect_zero() {
  for _ in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "the server did not exit after SIGTERM"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || fail "the server exited with status $rc after SIGTERM"
}
