"""Two priors side by side on the kernel path's true-kernel rows: `restore --kernel` with each.

For a retrained `edgedeblur-prior`: each row of the kernel-path benchmark that has a true kernel
(held-out BSDS500 test photos + noise 0.01; blur-dev's large kernels), deconvolved by the true
kernel with prior A and with prior B, in one run, beside the input and Wiener with the true
kernel at its best noise-to-signal ratio. PSNR of the mean MSE, gain over the input, mean SSIM.
On rows saved as JPEG, a last column: prior A with the noise estimated as `restore --kernel`
estimates it for a JPEG file (``compressed=True``).

Usage (from benchmarks/):
    python kernel_prior.py --prior edgedeblur-prior --prior ../runs/prior/best [--photos 40] [--rows shake]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from edgedeblur_cli.deconvolution.route import deconvolve_pixels
from edgedeblur_cli.restoring.restore import load_model
from edgedeblur_cli.training.data import list_images, load_photos
from kernel_path import as_float, true_kernel_rows
from realworld import DEFAULT_DATA, cell, classical, score, to_u8


JPEG_AWARE = "A, JPEG-aware noise"  # JPEG rows: the first prior with the noise read as from a JPEG file


def load_prior(name: str) -> torch.nn.Module:
    """A published name or a model folder (a training run's ``best/``)."""
    return load_model("edgedeblur-prior", weights=name, device="cpu") if Path(name).is_dir() else load_model(name, device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", action="append", required=True, help="a published name or a model folder (twice)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--rows", help="only rows whose label contains this text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    priors = {name: load_prior(name) for name in args.prior}
    photos = load_photos(list_images(args.data)[: args.photos])
    print(f"{len(photos)} BSDS500 test photos (blur-dev: 20); `--kernel` with the true kernel; torch {torch.__version__}, {torch.get_num_threads()} threads")
    names = ["input", "Wiener, true kernel", *priors, JPEG_AWARE]
    print(f"{'input kind':<33}" + "".join(f"  {n[-19:]:>19}" for n in names))
    started = time.monotonic()
    for label, cases in true_kernel_rows(photos, args.rows, args.seed):
        cells = {"input": score([(c.degraded, c.sharp) for c in cases]), "Wiener, true kernel": classical("wiener", cases)[1]}
        for name, prior in priors.items():
            restored = [to_u8(deconvolve_pixels(as_float(c.degraded), c.kernel.astype(np.float64), prior)) for c in cases]
            cells[name] = score([(r, c.sharp) for r, c in zip(restored, cases)])
        if "JPEG" in label:  # what `restore --kernel` does for a JPEG file: the JPEG-aware noise estimate
            first = next(iter(priors.values()))
            restored = [to_u8(deconvolve_pixels(as_float(c.degraded), c.kernel.astype(np.float64), first, compressed=True)) for c in cases]
            cells[JPEG_AWARE] = score([(r, c.sharp) for r, c in zip(restored, cases)])
        base = cells["input"]["psnr"]
        print(f"{label:<33}" + "".join(f"  {cell(cells[n], None if n == 'input' else base) if n in cells else '-':>19}" for n in names), flush=True)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
