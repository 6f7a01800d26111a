#!/usr/bin/env bash
# Runs the README's walkthrough (every ```sh block from "The API" to "Layout", in order, in one
# shell) against a fresh server, as a newcomer would paste it — so a block that no longer
# works fails the build. Every curl fails on an HTTP error (--fail-with-body) and every
# pipeline on its first failing command; `jq` is needed, as the README says.
# Usage: readme.sh BACKLINE_BINARY [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "$1")"
dir="${2:-$(mktemp -d)}"
command -v jq >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq; }

# shellcheck source=serve.sh
. .ci/serve.sh
port=$((20000 + RANDOM % 20000))
serve "$bin" "$dir" "$port"

script="$dir/walkthrough.sh"
{
  echo 'set -euo pipefail'
  echo 'curl() { command curl --fail-with-body "$@"; }'
  # The blocks, in order, with the README's address replaced by this server's.
  awk '/^## The API/ {on=1} /^## Layout/ {on=0} on && /^```sh$/ {inblock=1; next} inblock && /^```$/ {inblock=0; print "echo \"-- block done\""; next} on && inblock {print}' README.md \
    | sed "s#API=http://127.0.0.1:8080#API=http://127.0.0.1:$port#"
} > "$script"
blocks=$(grep -c -- '-- block done' "$script")
if [ "$blocks" -lt 5 ]; then
  echo "the README walkthrough has only $blocks shell blocks; did a heading change?" >&2
  exit 1
fi
status=0
(cd "$dir" && bash "$script" > "$dir/walkthrough.log" 2>&1) || status=$?
done_blocks=$(grep -c -- '-- block done' "$dir/walkthrough.log" || true)
if [ $status -ne 0 ]; then
  echo "README walkthrough failed in block $((done_blocks + 1)) of $blocks; the output's end:" >&2
  tail -n 25 "$dir/walkthrough.log" >&2
  exit 1
fi
server_log_clean "$dir/server.log"
echo "README walkthrough: all $blocks blocks ran against a fresh server"
