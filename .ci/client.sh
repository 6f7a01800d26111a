#!/usr/bin/env bash
# The generated TypeScript client (clients/typescript) against a fresh Backline: the
# committed schema.d.ts must be what openapi-typescript makes of the server's description
# today, the client and its smoke flow must type-check under tsc --strict, and the flow
# (register → organization → event → ticket type → booking → paid → check-in) must run.
# Usage: client.sh BACKLINE_BINARY [OUT_DIR]
set -euo pipefail
bin="$1"
out="${2:-$(mktemp -d)}"
here="$(cd "$(dirname "$0")" && pwd)"
client="$here/../clients/typescript"
port="${CLIENT_PORT:-18081}"
mkdir -p "$out"
# shellcheck source=serve.sh
. "$here/serve.sh"
serve "$bin" "$out" "$port"

cd "$client"
npm ci --no-audit --no-fund --prefer-offline >/dev/null
curl -sf "http://127.0.0.1:$port/api/openapi.json" > openapi.json
npx openapi-typescript openapi.json --output "$out/schema.d.ts" >/dev/null 2>&1
if ! diff -q src/schema.d.ts "$out/schema.d.ts" >/dev/null; then
  echo "clients/typescript/src/schema.d.ts is stale: run 'npm run generate' there (diff below)" >&2
  diff -u src/schema.d.ts "$out/schema.d.ts" | head -40 >&2
  exit 1
fi
npx tsc -p tsconfig.json
node dist/smoke/flow.js "http://127.0.0.1:$port"
server_log_clean "$out/server.log"
