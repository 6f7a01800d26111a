#!/usr/bin/env bash
# End-to-end browser tests (e2e/): starts the given Backline binary on a fresh SQLite database
# with the demo data, in a temp directory that is its working directory, and runs the suite
# in Debian's Chromium (playwright-core, axe-core) with Node's own test runner. Fails when a
# test fails, or when the server's log shows a 5xx answer or a panic.
# Usage: e2e.sh [BACKLINE_BINARY]   (default: $CARGO_TARGET_DIR/debug/backline)
# Set BACKLINE_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

target="${CARGO_TARGET_DIR:-$HOME/.cache/backline-target}"
bin="$(realpath -m "${1:-$target/debug/backline}")"
if [ ! -x "$bin" ]; then
  echo "no Backline binary at $bin; build it with: CARGO_TARGET_DIR=$target cargo build -p backline" >&2
  exit 2
fi

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
(cd e2e && npm ci --cache "$HOME/.cache/npm" --no-audit --no-fund --loglevel=error)

# shellcheck source=serve.sh
. "$root/.ci/serve.sh" # server_log_clean

dir="$(mktemp -d)"
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
url="http://127.0.0.1:$port"

# Rate limits out of the way (every test signs up from the same address) and cheap password
# hashing, as .ci/serve.sh does; the demo is loaded with the same settings.
export BACKLINE_SERVER__BIND="127.0.0.1:$port"
export BACKLINE_SERVER__PUBLIC_URL="$url"
export BACKLINE_AUTH__ARGON2_MEMORY_KIB=64
export BACKLINE_AUTH__ACCESS_TTL_SECS=7200
export BACKLINE_RATE_LIMIT__PER_IP_PER_MIN=10000000
export BACKLINE_RATE_LIMIT__PER_USER_PER_MIN=10000000
export BACKLINE_RATE_LIMIT__LOGIN_PER_ACCOUNT_PER_MIN=10000000
export BACKLINE_RATE_LIMIT__LOGIN_PER_IP_PER_MIN=10000000
export BACKLINE_LOG__LEVEL="info,sqlx=warn"

# The suite's own BACKLINE_* variables are not configuration (Backline refuses unknown keys),
# and a database, SMTP server or file store from the caller's environment would take the
# run away from its fresh SQLite file and the mail sink under $dir/data.
backline() {
  cd "$dir" && exec env -u BACKLINE_SCREENSHOTS -u BACKLINE_E2E_ARTIFACTS -u BACKLINE_URL -u BACKLINE_MAIL_DIR \
    -u BACKLINE_CHROMIUM -u BACKLINE_DATA_DIR -u BACKLINE_DATABASE__URL -u DATABASE_URL -u SMTP_URL -u STORAGE_URL \
    "$bin" "$@"
}
(backline demo > "$dir/demo.log" 2>&1) || { echo "backline demo failed:" >&2; cat "$dir/demo.log" >&2; exit 1; }
(backline > "$dir/server.log" 2>&1) &
server_pid=$!
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT

ready=0
for _ in $(seq 1 150); do
  if curl -sf "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if [ $ready -ne 1 ]; then
  echo "Backline did not become ready at $url; its log:" >&2
  tail -n 30 "$dir/server.log" >&2
  exit 1
fi

status=0
BACKLINE_URL="$url" \
BACKLINE_MAIL_DIR="$dir/data/mail" \
BACKLINE_E2E_ARTIFACTS="${BACKLINE_E2E_ARTIFACTS:-$dir/artifacts}" \
  timeout 300 node --test --test-concurrency=1 --test-reporter=spec e2e/ || status=1

# The event pages' schema.org data and social cards, read by a structured-data processor.
python3 -c "import extruct" 2>/dev/null || python3 -m pip install --quiet extruct
python3 .ci/structured_data.py "$url" || status=1

stop_server
trap - EXIT
server_log_clean "$dir/server.log" || status=1
if [ $status -eq 0 ]; then
  rm -rf "$dir"
else
  echo "end-to-end tests failed; the server's log, mail and the failed tests' pages are in $dir" >&2
fi
exit $status
