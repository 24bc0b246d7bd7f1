"""The splitting schedule by the kernel's shape, on the kernel path's true-kernel rows.

`restore --kernel` with the true kernel, two ways in one run: every kernel deconvolved with
the path schedule (5 rounds from 25/255, as before 2026-12-07), and as now, each kernel with the
schedule of its shape (``deconvolve.schedule_for``: DPIR's 8 rounds from 49/255 for a blob, a
Gaussian or defocus kernel, at 1.2x the noise from a JPEG file; 5 from 25/255 for a path).
Beside them the input and Wiener with the true kernel at its best noise-to-signal ratio.
Held-out BSDS500 test photos + noise 0.01 (blur-dev: Lai et al.'s large kernels); the JPEG row
read as from JPEG files (as `restore --kernel` reads a .jpg), then as from PNG files that were
once JPEGs; every other row as PNG files. A PNG is read as a once-JPEG when its pixels show
JPEG's quantization lattice, as the command line does (``files.jpeg_history.once_jpeg``); the
label says how many did. PSNR of the mean MSE, gain over the input, mean SSIM; seconds per
photo of each deconvolution.

Usage (from benchmarks/):
    python kernel_schedule.py [--photos 40] [--rows defocus]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edgedeblur_cli.deconvolution.deconvolve import DeconvolutionOptions
from edgedeblur_cli.deconvolution.route import PRIOR_MODEL, deconvolve_pixels
from edgedeblur_cli.files.jpeg_history import once_jpeg
from edgedeblur_cli.restoring.restore import load_model
from edgedeblur_cli.training.data import list_images, load_photos
from kernel_path import as_float, true_kernel_rows
from realworld import DEFAULT_DATA, Case, cell, classical, score, to_u8

COLUMNS = {"all: 5 from 25/255": DeconvolutionOptions(), "by shape (now)": None}


def print_row(label: str, cases: list[Case], references: dict[str, dict[str, float]], prior: torch.nn.Module, jpeg_file: bool) -> None:
    """One line: ``references`` (the input's and Wiener's scores), then each of ``COLUMNS``.
    ``jpeg_file``: the photos are read as from JPEG files, else as from PNG files."""
    cells = dict(references)
    seconds = []
    compressed = [jpeg_file or once_jpeg(c.degraded) for c in cases]
    if not jpeg_file:
        label += f" ({sum(compressed)} once-JPEG)"
    for name, options in COLUMNS.items():
        start = time.monotonic()
        restored = [to_u8(deconvolve_pixels(as_float(c.degraded), c.kernel.astype(np.float64), prior, options=options, compressed=z)) for c, z in zip(cases, compressed)]
        seconds.append((time.monotonic() - start) / len(cases))
        cells[name] = score([(r, c.sharp) for r, c in zip(restored, cases)])
    base = cells["input"]["psnr"]
    timing = " / ".join(f"{s:.2f}" for s in seconds)
    print(f"{label:<40}" + "".join(f"  {cell(cells[n], None if n == 'input' else base):>19}" for n in cells) + f"   {timing}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--rows", help="only rows whose label contains this text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    prior = load_model(PRIOR_MODEL, device="cpu")
    photos = load_photos(list_images(args.data)[: args.photos])
    print(f"{len(photos)} BSDS500 test photos (blur-dev: 20); `--kernel` with the true kernel; torch {torch.__version__}, {torch.get_num_threads()} threads")
    names = ["input", "Wiener, true kernel", *COLUMNS]
    print(f"{'input kind':<40}" + "".join(f"  {n[-19:]:>19}" for n in names) + "   s/photo")
    started = time.monotonic()
    for label, cases in true_kernel_rows(photos, args.rows, args.seed):
        # Scored once a row: the JPEG row prints two lines of the same photos.
        references = {"input": score([(c.degraded, c.sharp) for c in cases]), "Wiener, true kernel": classical("wiener", cases)[1]}
        if "JPEG" in label:
            print_row(f"{label}, .jpg", cases, references, prior, jpeg_file=True)
            print_row("  the same, as PNG files", cases, references, prior, jpeg_file=False)
        else:
            print_row(label, cases, references, prior, jpeg_file=False)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
