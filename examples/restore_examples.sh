#!/usr/bin/env bash
# Restore the degraded example photos with the shipped default model and score them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
edgedeblur restore "$here/degraded" -o "$here/restored" --overwrite --compare
python - "$here" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

here = Path(sys.argv[1])
def psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) / 255 - np.asarray(b, np.float64) / 255) ** 2)
    return 10 * np.log10(1 / mse)
print(f"{'image':<16} {'degraded':>9} {'restored':>9}")
for sharp in sorted((here / "sharp").glob("*.png")):
    truth = Image.open(sharp).convert("RGB")
    degraded = Image.open(here / "degraded" / sharp.name).convert("RGB")
    restored = Image.open(here / "restored" / sharp.name).convert("RGB")
    print(f"{sharp.stem:<16} {psnr(degraded, truth):>6.2f} dB {psnr(restored, truth):>6.2f} dB")
print(f"restored images (and *_compare.png side-by-sides) are in {here / 'restored'}")
PY
