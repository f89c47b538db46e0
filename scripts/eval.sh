#!/usr/bin/env bash
# `make eval`: knowledge-base retrieval on cs-eval's public set, with each encoder
# available here, scored by cs-eval's own score.py (docs/customer-service.md).
#
# cs-eval lives next to the project (../shared/cs-eval, or CS_EVAL_DIR) and is not
# part of it: it has no open licence. Predictions go to a temporary directory that is
# removed on exit; nothing of the set is written into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

EVAL_DIR=${CS_EVAL_DIR:-../shared/cs-eval}
SET="$EVAL_DIR/public"
MODELS=${CS_MODELS_DIR:-./data/models}
CARGO=${CARGO:-cargo}

if [ ! -f "$SET/kb.jsonl" ] || [ ! -f "$SET/queries.jsonl" ]; then
    echo "eval: no cs-eval set at $SET (set CS_EVAL_DIR); skipped"
    exit 0
fi

encoders=(lexical)
if [ -f "$MODELS/use-multilingual-v3/sp.model" ] && [ -f "$MODELS/use-multilingual-v3/weights.npz" ]; then
    encoders+=(builtin)
else
    echo "eval: no built-in encoder under $MODELS (make models); lexical only"
fi

# Release: the built-in encoder is slow unoptimised.
$CARGO build --release --quiet --bin shopops
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

provenance=()
[ -f "$SET/provenance.jsonl" ] && provenance=(--provenance "$SET/provenance.jsonl")
for enc in "${encoders[@]}"; do
    echo
    echo "== encoder: $enc"
    $CARGO run --release --quiet --bin shopops -- cs eval \
        --kb "$SET/kb.jsonl" --queries "$SET/queries.jsonl" --encoder "$enc" > "$tmp/predictions-$enc.jsonl"
    python3 "$EVAL_DIR/score.py" "$SET/queries.jsonl" "$tmp/predictions-$enc.jsonl" "${provenance[@]}"
done
