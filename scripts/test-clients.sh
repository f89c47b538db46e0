#!/usr/bin/env bash
# make test-clients: generate clients from the OpenAPI document the server serves and
# use them against a running server — TypeScript (openapi-typescript + openapi-fetch,
# strict tsc) and Python (openapi-python-client --fail-on-warning). Installs the
# generators itself (npm, pip); needs Node.js and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"${CARGO:-cargo}" build --quiet --bin shopops
bin="$target/debug/shopops"
"$bin" openapi > "$work/openapi.json"

password="Client-Root-Pass-2026"
env -i PATH="$PATH" SHOPOPS_DATA_DIR="$work/data" SHOPOPS_BIND=127.0.0.1:0 \
  SHOPOPS_BOOTSTRAP_ADMIN="root:$password" SHOPOPS_LOG_FORMAT=json \
  "$bin" serve > "$work/server.log" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 300); do
  addr=$(grep -o '"addr":"[^"]*"' "$work/server.log" | head -n1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && curl -sf "http://$addr/healthz" >/dev/null && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/server.log"; echo "server did not start" >&2; exit 1; }
export SHOPOPS_URL="http://$addr" SHOPOPS_ROOT_PASSWORD="$password"

echo "== TypeScript: openapi-typescript + openapi-fetch, strict tsc"
ts="$work/ts"
cp -r clients/ts "$ts"
(cd "$ts" && npm install --no-audit --no-fund --silent \
  && npx openapi-typescript "$work/openapi.json" -o src/api.d.ts \
  && npx tsc -p . && node dist/smoke.js)

echo "== Python: openapi-python-client --fail-on-warning"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet openapi-python-client==0.29.1
"$work/venv/bin/openapi-python-client" generate --path "$work/openapi.json" \
  --output-path "$work/python-client" --fail-on-warning --config clients/python/generator.yaml
"$work/venv/bin/pip" install --quiet "$work/python-client"
"$work/venv/bin/python" clients/python/smoke.py
