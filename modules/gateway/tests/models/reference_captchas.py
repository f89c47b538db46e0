"""Reference answers for the gateway's local captcha model (tests/local_model.rs).

Draws N captchas with Pillow (4-6 letters and digits, noise lines and dots, a seeded
RNG, so every run draws the same images), reads each with the Python ddddocr 1.6.1
package, and writes [{"file", "truth", "ddddocr"}] for the Rust test to compare with.

ddddocr is built with beta=True: that is the model `make models` extracts
(common.onnx). Its default (beta=False) is common_old.onnx, a dynamically quantised
network whose DynamicQuantizeLSTM operator (onnxruntime's own) tract cannot run.

Most images are RGB; some are saved palette, grey or translucent RGBA, because Pillow
resizes each of those modes differently and the Rust pre-processing must follow.

Usage: reference_captchas.py IMAGE_DIR REFERENCE_JSON   (needs ddddocr==1.6.1, pillow)
"""

import json
import os
import random
import sys

import ddddocr
from PIL import Image, ImageDraw, ImageFont

N = 50
SEED = 20240611
# Letters and digits without the pairs people cannot tell apart either (0/O, 1/l/I).
ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def font(size):
    # Pillow >= 10.1 ships a scalable default font; older ones only a bitmap one.
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)


def captcha(rng):
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(4, 6)))
    width, height = rng.randint(120, 200), rng.randint(40, 70)
    background = tuple(rng.randint(215, 255) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    size = int(height * rng.uniform(0.55, 0.75))
    step = (width - 10) / len(text)
    for i, char in enumerate(text):
        # Each character on its own layer, turned a little and pasted with jitter.
        layer = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        colour = tuple(rng.randint(0, 120) for _ in range(3))
        ImageDraw.Draw(layer).text((size // 2, size // 3), char, font=font(size), fill=colour)
        layer = layer.rotate(rng.uniform(-20, 20), resample=Image.BICUBIC)
        x = int(5 + i * step + rng.uniform(-2, 2) - size / 2)
        y = int((height - size * 2) / 2 + rng.uniform(-4, 4))
        image.paste(layer, (x, y), layer)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 4)):
        points = [(rng.randint(0, width), rng.randint(0, height)) for _ in range(2)]
        draw.line(points, fill=tuple(rng.randint(60, 200) for _ in range(3)), width=rng.randint(1, 2))
    for _ in range(rng.randint(30, 80)):
        xy = (rng.randint(0, width - 1), rng.randint(0, height - 1))
        draw.point(xy, fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return text, image


def saved_mode(index, image):
    if index % 5 == 4:
        return image.convert("P", palette=Image.ADAPTIVE, colors=64)
    if index % 7 == 6:
        return image.convert("L")
    if index % 9 == 8:
        translucent = image.convert("RGBA")
        translucent.putalpha(Image.new("L", image.size, 230))
        return translucent
    return image


def main():
    image_dir, reference = sys.argv[1], sys.argv[2]
    os.makedirs(image_dir, exist_ok=True)
    rng = random.Random(SEED)
    ocr = ddddocr.DdddOcr(beta=True, show_ad=False)
    rows = []
    for index in range(N):
        truth, image = captcha(rng)
        path = os.path.abspath(os.path.join(image_dir, f"captcha_{index:02}.png"))
        saved_mode(index, image).save(path)
        with open(path, "rb") as f:
            answer = ocr.classification(f.read())
        rows.append({"file": path, "truth": truth, "ddddocr": answer})
    with open(reference, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=1)
    right = sum(row["ddddocr"] == row["truth"] for row in rows)
    print(f"reference_captchas: {N} captchas in {image_dir}; ddddocr read {right}/{N} exactly")


if __name__ == "__main__":
    main()
