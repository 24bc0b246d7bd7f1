"""The prior in bfloat16 against float32: ``restore --kernel`` given the true kernel, side by side.

On a CPU that computes bfloat16 natively (AMX, AVX512-BF16), ``DeconvolutionOptions(precision="auto")``
runs the deconvolution's prior in bfloat16. This measures what that costs in quality and
gains in time, on the held-out BSDS500 test photos (+ noise 0.01, 8-bit) and the blur-dev photos,
each row deconvolved by both precisions in one run: PSNR of the mean MSE, the largest per-photo
difference, and the seconds of each.

    python benchmarks/kernel_precision.py [--photos 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edgedeblur_cli.degradations.realistic import disk_kernel, gaussian_kernel, linear_motion_kernel
from edgedeblur_cli.deconvolution.deconvolve import DeconvolutionOptions
from edgedeblur_cli.deconvolution.route import PRIOR_MODEL, deconvolve_pixels
from edgedeblur_cli.device import native_bfloat16
from edgedeblur_cli.restoring.restore import load_model
from edgedeblur_cli.training.data import list_images, load_photos

from kernel_path import as_float, blur_dev_cases
from realworld import DEFAULT_DATA, blur_plus_noise, shake_kernel_of_extent

ROWS = [
    ("Gaussian sigma 3 + 0.01", blur_plus_noise(lambda rng: gaussian_kernel(3.0, 3.0, 0.0, 19), 0.01)),
    ("defocus radius 3 + 0.01", blur_plus_noise(lambda rng: disk_kernel(3.0), 0.01)),
    ("linear motion 9 px + 0.01", blur_plus_noise(lambda rng: linear_motion_kernel(9, rng.uniform(0, np.pi)), 0.01)),
    ("camera shake 13-27 px + 0.01", blur_plus_noise(lambda rng: shake_kernel_of_extent(rng, 13, 27), 0.01)),
    ("blur-dev (Lai, 31-75 px) + 0.01", blur_dev_cases),
]


def psnr(mses: list[float]) -> float:
    return float(-10 * np.log10(np.mean(mses)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    prior = load_model(PRIOR_MODEL)
    photos = load_photos(list_images(DEFAULT_DATA)[: args.photos])
    print(f"native bfloat16 on this CPU: {native_bfloat16(torch.device('cpu'))}")
    print(f"{'row':<34} {'input':>6} {'float32':>8} {'bfloat16':>9} {'largest |diff|':>15} {'s float32':>10} {'s bfloat16':>11}")
    for label, make in ROWS:
        cases = make(photos, args.seed)
        mse = {"input": [], "float32": [], "bfloat16": []}
        seconds = {"float32": 0.0, "bfloat16": 0.0}
        largest = 0.0
        for case in cases:
            sharp, degraded = as_float(case.sharp), as_float(case.degraded)
            mse["input"].append(float(np.mean((degraded - sharp) ** 2)))
            per_photo = {}
            for precision in ("float32", "bfloat16"):
                began = time.perf_counter()
                out = deconvolve_pixels(degraded, case.kernel, prior, options=DeconvolutionOptions(precision=precision))
                seconds[precision] += time.perf_counter() - began
                out = np.round(np.clip(out, 0, 1) * 255) / 255  # 8-bit out, as the tool writes
                mse[precision].append(float(np.mean((out - sharp) ** 2)))
                per_photo[precision] = -10 * np.log10(mse[precision][-1])
            largest = max(largest, abs(per_photo["float32"] - per_photo["bfloat16"]))
        print(
            f"{label:<34} {psnr(mse['input']):6.2f} {psnr(mse['float32']):8.2f} {psnr(mse['bfloat16']):9.2f} {largest:12.2f} dB"
            f" {seconds['float32']:10.1f} {seconds['bfloat16']:11.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
