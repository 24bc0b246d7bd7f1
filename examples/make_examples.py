"""Draw the example photos in examples/sharp/ (our own procedural scenes, free to ship).

Run from the repository root: python examples/make_examples.py
Then degrade them reproducibly:
    edgedeblur degrade examples/sharp -o examples/degraded --seed 1 --overwrite
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent / "sharp"


def skyline(width: int = 480, height: int = 320, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    sky = np.linspace([40, 90, 170], [250, 190, 140], height)[:, None, :].repeat(width, 1)
    image = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    x = 0
    while x < width:
        w = int(rng.integers(30, 80))
        top = int(rng.integers(80, 250))
        shade = int(rng.integers(30, 90))
        draw.rectangle([x, top, x + w, height], fill=(shade, shade, shade + 15))
        for wy in range(top + 8, height - 10, 14):
            for wx in range(x + 5, x + w - 8, 11):
                if rng.random() < 0.6:
                    draw.rectangle([wx, wy, wx + 5, wy + 7], fill=(255, 230, 140))
        x += w + int(rng.integers(0, 6))
    draw.ellipse([380, 30, 440, 90], fill=(255, 250, 220))
    return image


def still_life(width: int = 400, height: int = 300, seed: int = 2) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    table = (120 + 40 * np.sin(xx / 9.0 + 3 * np.sin(yy / 40.0))).astype(np.uint8)
    base = np.stack([table + 40, table, table // 2], axis=2).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    for i in range(7):
        cx, cy, r = int(rng.integers(40, width - 40)), int(rng.integers(40, height - 40)), int(rng.integers(18, 55))
        colour = tuple(int(c) for c in rng.integers(30, 255, 3))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=(20, 20, 20), width=2)
        draw.ellipse([cx - r // 3, cy - r // 2, cx, cy - r // 5], fill=(255, 255, 255))
    return image.filter(ImageFilter.SMOOTH)


def signboard(width: int = 420, height: int = 280) -> Image.Image:
    image = Image.new("RGB", (width, height), (235, 232, 220))
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 24):
        draw.line([i, 0, i, height], fill=(200, 195, 180), width=1)
    font = ImageFont.load_default()
    try:
        font = ImageFont.load_default(size=28)
    except TypeError:  # Pillow < 10.1 has one fixed size
        pass
    draw.rectangle([30, 40, width - 30, 150], fill=(20, 60, 120))
    draw.text((50, 60), "EDGE-AWARE", fill=(255, 255, 255), font=font)
    draw.text((50, 100), "DEBLURRING 0123456789", fill=(255, 210, 60), font=font)
    for k in range(8):
        draw.rectangle([30 + 45 * k, 180, 60 + 45 * k, 250], fill=(0, 0, 0) if k % 2 else (200, 30, 30))
    return image


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    skyline().save(OUT / "skyline.png")
    still_life().save(OUT / "still_life.png")
    signboard().save(OUT / "signboard.png")
    print(f"wrote {OUT}")
