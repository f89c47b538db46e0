#!/usr/bin/env bash
# Start-to-ready time on SQLite (fresh database, migrations included, and a warm restart)
# and idle RSS of the release binary. Prints a Markdown table for docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/shopops"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin shopops" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

measure() {
  local start end pid
  start=$(date +%s%N)
  SHOPOPS_DATA_DIR="$data" SHOPOPS_BIND="127.0.0.1:$port" SHOPOPS_LOG_FORMAT=json \
    SHOPOPS_BOOTSTRAP_ADMIN=root:bench-password "$bin" >"$data/log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.005; done
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 ))" >"$data/ms"
  sleep 2
  echo "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)" >"$data/rss"
  kill -TERM "$pid"; wait "$pid" || true
}

measure; cold_ms=$(cat "$data/ms"); cold_rss=$(cat "$data/rss")
measure; warm_ms=$(cat "$data/ms"); warm_rss=$(cat "$data/rss")
echo "| case | start → ready | idle RSS |"
echo "|---|---|---|"
echo "| first start (creates DB, runs migrations, hashes bootstrap password) | ${cold_ms} ms | $((cold_rss / 1024)) MiB |"
echo "| restart on existing DB | ${warm_ms} ms | $((warm_rss / 1024)) MiB |"
