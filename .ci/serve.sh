# Sourced by the CI scripts that drive a running Backline (fuzz/run.sh, client.sh):
# `serve BINARY DIR PORT` starts it on a fresh SQLite database in DIR, with rate limits out
# of the way and cheap password hashing, waits until it answers, and stops it on exit.
serve() {
  local bin="$1" dir="$2" port="$3"
  rm -rf "$dir/data"
  mkdir -p "$dir/data"
  BACKLINE_DATA_DIR="$dir/data" \
  BACKLINE_SERVER__BIND="127.0.0.1:$port" \
  BACKLINE_SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
  BACKLINE_DATABASE__URL="sqlite://$dir/data/backline.db" \
  BACKLINE_AUTH__ARGON2_MEMORY_KIB=64 \
  BACKLINE_AUTH__ACCESS_TTL_SECS=7200 \
  BACKLINE_RATE_LIMIT__PER_IP_PER_MIN=10000000 \
  BACKLINE_RATE_LIMIT__PER_USER_PER_MIN=10000000 \
  BACKLINE_RATE_LIMIT__LOGIN_PER_ACCOUNT_PER_MIN=10000000 \
  BACKLINE_RATE_LIMIT__LOGIN_PER_IP_PER_MIN=10000000 \
  BACKLINE_LOG__LEVEL="info,sqlx=warn" \
    "$bin" > "$dir/server.log" 2>&1 &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "Backline did not start; its log:" >&2
  tail -n 30 "$dir/server.log" >&2
  return 1
}

# Fails when the server's log shows a 5xx answer or a panic.
server_log_clean() {
  local log="$1" status=0
  if grep -q '"status":5[0-9][0-9]' "$log"; then
    echo "the server answered 5xx:" >&2; grep '"status":5[0-9][0-9]' "$log" | head -20 >&2; status=1
  fi
  if grep -Eq 'panicked|"panic"' "$log"; then
    echo "the server panicked:" >&2; grep -E 'panicked|"panic"' "$log" | head -20 >&2; status=1
  fi
  return $status
}
