#!/usr/bin/env bash
# The Kuaishou client against the Python SDK (kwaixiaodian 1.0.3, installed from PyPI
# into a venv here): signing throughput on one core, and a paginated pull of ORDERS
# orders from one local fake platform, same page size and concurrency, each client
# pinned to core 0 and the fake platform to core 1. Prints a Markdown table for
# docs/performance.md, and the raw JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-100000}
PAGE=${PAGE:-100}
CONCURRENCY=${CONCURRENCY:-8}
SIGNS=${SIGNS:-200000}
venv=${KUAISHOU_SDK_VENV:-$HOME/.cache/shopops-bench/kwaixiaodian-1.0.3}

if ! "$venv/bin/python" -c 'import kwaixiaodian' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kwaixiaodian==1.0.3
fi
sdk() { PYTHONWARNINGS=ignore taskset -c 0 "$venv/bin/python" scripts/bench_kuaishou_sdk.py "$@"; }

bench=$(cargo bench -p shopops-kuaishou --bench kuaishou --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "kuaishou" and .executable != null) | .executable' | tail -n1)
[ -x "$bench" ] || { echo "bench binary not built" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 1 "$bench" serve "$port" "$ORDERS" >/dev/null 2>&1 &
fake=$!
trap 'kill $fake 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.05; done
url="http://127.0.0.1:$port"

ours_sign=$(taskset -c 0 "$bench" sign "$SIGNS")
sdk_sign=$(sdk sign $((SIGNS / 10)))
ours_pull=$(taskset -c 0 "$bench" pull "$url" "$ORDERS" "$PAGE" "$CONCURRENCY")
sdk_pull=$(sdk pull "$url" "$ORDERS" "$PAGE" "$CONCURRENCY")

j() { jq -r "$2" <<<"$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}×')"; }
echo "| measure | ShopOps | kwaixiaodian 1.0.3 | ratio |"
echo "|---|---|---|---|"
echo "| signed requests/s, MD5 (1 core) | $(j "$ours_sign" .md5_per_s) | $(j "$sdk_sign" .md5_per_s) | $(ratio "$(j "$ours_sign" .md5_per_s)" "$(j "$sdk_sign" .md5_per_s)") |"
echo "| signed requests/s, HMAC-SHA256 (1 core) | $(j "$ours_sign" .hmac_per_s) | $(j "$sdk_sign" .hmac_per_s) | $(ratio "$(j "$ours_sign" .hmac_per_s)" "$(j "$sdk_sign" .hmac_per_s)") |"
echo "| $ORDERS-order pull: requests/s (page $PAGE, $CONCURRENCY at a time) | $(j "$ours_pull" .requests_per_s) | $(j "$sdk_pull" .requests_per_s) | $(ratio "$(j "$ours_pull" .requests_per_s)" "$(j "$sdk_pull" .requests_per_s)") |"
echo "| pull: seconds | $(j "$ours_pull" .seconds) | $(j "$sdk_pull" .seconds) | |"
echo "| pull: peak RSS of the client | $(j "$ours_pull" .peak_rss_mib) MiB | $(j "$sdk_pull" .peak_rss_mib) MiB | |"
echo
printf '%s\n' "$ours_sign" "$sdk_sign" "$ours_pull" "$sdk_pull"
