#!/usr/bin/env bash
# Schema fuzzing (issue 16): starts Backline on a fresh SQLite database, seeds an organizer
# with an organization, a published event, ticket types and bookings (seed.py), then runs
# schemathesis over every operation of /api/openapi.json, signed in and anonymously, with a
# fixed seed and a bounded number of examples (schemathesis.toml, hooks.py). Fails on any
# failed check, on any 5xx, and on any panic in the server's log.
# Usage: run.sh BACKLINE_BINARY [OUT_DIR]
set -euo pipefail
bin="$1"
out="${2:-$(mktemp -d)}"
here="$(cd "$(dirname "$0")" && pwd)"
port="${FUZZ_PORT:-18080}"
api="http://127.0.0.1:$port"
mkdir -p "$out"
# shellcheck source=../serve.sh
. "$here/../serve.sh"
serve "$bin" "$out" "$port"

python3 "$here/seed.py" "$api" "$out/bindings.toml" > "$out/seed.json"
cat "$here/schemathesis.toml" "$out/bindings.toml" > "$out/schemathesis.toml"
token="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['token'])" "$out/seed.json")"

status=0
cd "$out"  # schemathesis keeps its run files in the working directory
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks
# Signed in as the organizer. Logging out, or deleting a session (the fuzzer finds the
# current session's id in GET /api/auth/sessions), would end the session every later case
# signs in with; the anonymous run covers both.
schemathesis --config-file "$out/schemathesis.toml" run "$api/api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --exclude-name "POST /api/auth/logout" --exclude-name "DELETE /api/auth/sessions/{id}" \
  --report junit --report-junit-path "$out/signed-in.xml" > "$out/signed-in.txt" 2>&1 || status=1
tail -n 25 "$out/signed-in.txt"
schemathesis --config-file "$out/schemathesis.toml" run "$api/api/openapi.json" \
  --report junit --report-junit-path "$out/anonymous.xml" > "$out/anonymous.txt" 2>&1 || status=1
tail -n 25 "$out/anonymous.txt"
server_log_clean "$out/server.log" || status=1
[ $status -eq 0 ] || echo "schema fuzzing failed; the full reports are in $out" >&2
exit $status
