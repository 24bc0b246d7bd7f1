"""Make the README's picture: a blur-dev photo shaken by a recorded kernel + noise 1%, the kernel
`edgedeblur kernel --raw` estimates from it, and `edgedeblur restore --kernel` with that kernel.

    python tools/readme_picture.py [--photo text_02] [--kernel 1] [--out docs/images/shaken_compare.jpg]

Runs the two commands as a user would (in a temporary folder), then puts the three side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BLUR_DEV = ROOT.parent / "shared" / "data" / "blur-dev"


def shaken(photo: str, kernel: int, noise: float, seed: int = 0) -> np.ndarray:
    """The sharp photo blurred by Lai et al.'s kernel (reflected border) + Gaussian noise, uint8."""
    from edgedeblur_cli.degradations.realistic import blur

    sharp = np.asarray(Image.open(BLUR_DEV / "sharp" / f"{photo}.png").convert("RGB"), dtype=np.float32) / 255
    k = np.load(BLUR_DEV / "kernels" / f"lai_{kernel}.npy").astype(np.float32)
    out = blur(sharp, k) + noise * np.random.default_rng(seed).standard_normal(sharp.shape).astype(np.float32)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default="text_02")
    parser.add_argument("--kernel", type=int, default=1, help="Lai kernel 1-4 (31, 51, 55, 75 px)")
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "shaken_compare.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        Image.fromarray(shaken(args.photo, args.kernel, args.noise)).save(work / "shaken.png")
        cli = [sys.executable, "-m", "edgedeblur_cli"]
        subprocess.run([*cli, "kernel", str(work / "shaken.png"), "--raw", "-o", str(work / "psf.png")], check=True)
        subprocess.run([*cli, "restore", str(work / "shaken.png"), "--kernel", str(work / "psf.png"), "-o", str(work / "restored.png")], check=True)
        blurred, restored = (Image.open(work / name).convert("RGB") for name in ("shaken.png", "restored.png"))
        kernel = Image.open(work / "psf.png").convert("L")
    side = 128
    scale = max(1, side // max(kernel.size))
    kernel = kernel.resize((kernel.width * scale, kernel.height * scale), Image.NEAREST)
    kernel_panel = Image.new("RGB", (side + 4, blurred.height))
    kernel_panel.paste(kernel.convert("RGB"), ((side + 4 - kernel.width) // 2, (blurred.height - kernel.height) // 2))
    picture = Image.new("RGB", (blurred.width * 2 + kernel_panel.width, blurred.height))
    picture.paste(blurred, (0, 0))
    picture.paste(kernel_panel, (blurred.width, 0))
    picture.paste(restored, (blurred.width + kernel_panel.width, 0))
    picture.save(args.out, quality=90)
    print(f"wrote {args.out} ({picture.width}x{picture.height})")


if __name__ == "__main__":
    main()
