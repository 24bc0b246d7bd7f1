"""Where a model's error on real camera noise comes from: what it does to the scene, and the noise it leaves.

On each real noisy/clean pair of ``../shared/data/real-noise-dev`` (validation only, never
trained on), the model restores both the noisy shot and the clean reference. Printed, as PSNR of
the mean MSE over the pairs (8-bit in and out, as files hold them):
- noisy input vs clean reference, and restored noisy vs clean reference (the benchmark's row);
- restored clean vs clean: what the model changes in a photo with no noise (sharpening, say);
- restored noisy vs restored clean: how much of the noise its output still carries.

Then the same share of noise left on held-out BSDS500 test photos given synthetic noise of the
same strength (std 0.017, about PolyU's): white Gaussian; the realistic family's camera grain
(``degrade_real.correlated_noise``); that grain then JPEG 95, as a camera saves it; the noise-only
preset's grain (``degrade_real.camera_noise``: fine in luminance, blotchy in colour). If the
synthetic grain is left in as the real noise is, it stands in for it while developing, and
the real pairs stay for validation only.

Usage (from the repository root): python benchmarks/real_noise_split.py [--model edgedeblur-blind] [--pairs 80] [--photos 30]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from edgedeblur_cli.training.data import list_images, load_photos
from edgedeblur_cli.degradations.realistic import camera_noise, correlated_noise, jpeg, quantise
from edgedeblur_cli.metrics import psnr_from_mse
from edgedeblur_cli.models import DEFAULT_MODEL
from edgedeblur_cli.restoring.restore import restore_image
from realworld import DEFAULT_DATA, REAL_NOISE, load_benchmarked_model, to_u8  # the data beside this script's benchmark of real-world inputs

NOISE_STD = 0.017  # about the std of PolyU's real noise (35.5 dB)


def mean_mse(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean([np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) for a, b in pairs]))


def psnr(mse: float) -> float:
    return psnr_from_mse(torch.tensor(mse, dtype=torch.float64), 255.0).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a published name or a model folder")
    parser.add_argument("--pairs", type=int, default=80)
    parser.add_argument("--photos", type=int, default=30, help="held-out test photos for the synthetic noise rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    names = sorted(p.name for p in (REAL_NOISE / "noisy").glob("*.jpg"))[: args.pairs]
    noisy = load_photos([REAL_NOISE / "noisy" / n for n in names])
    clean = load_photos([REAL_NOISE / "clean" / n for n in names])
    model = load_benchmarked_model(args.model)
    restored_noisy = [restore_image(n, model) for n in noisy]
    restored_clean = [restore_image(c, model) for c in clean]
    rows = [
        ("noisy input vs clean reference", mean_mse(list(zip(noisy, clean)))),
        ("restored noisy vs clean reference", mean_mse(list(zip(restored_noisy, clean)))),
        ("restored clean vs clean reference (scene change)", mean_mse(list(zip(restored_clean, clean)))),
        ("restored noisy vs restored clean (noise left)", mean_mse(list(zip(restored_noisy, restored_clean)))),
    ]
    print(f"{args.model} on {len(names)} real camera-noise pairs; PSNR of the mean MSE, 8-bit in and out")
    for label, mse in rows:
        print(f"  {label:<50} {psnr(mse):6.2f} dB")
    noise_in, noise_left = rows[0][1], rows[3][1]
    print(f"  share of the input noise's energy still in the output: {noise_left / noise_in:.2f}")
    synthetic_rows(model, load_photos(list_images(DEFAULT_DATA)[: args.photos]), np.random.default_rng(args.seed))


def synthetic_rows(model: torch.nn.Module, photos: list[np.ndarray], rng: np.random.Generator) -> None:
    """The share of noise left, on (H, W, 3) uint8 test photos given synthetic noise of PolyU's strength."""
    kinds = [
        ("white Gaussian", lambda x: x + NOISE_STD * rng.standard_normal(x.shape).astype(np.float32)),
        ("camera grain (the training family's)", lambda x: x + NOISE_STD * correlated_noise(x.shape, rng)),
        ("camera grain, then JPEG 95", lambda x: jpeg(quantise(x + NOISE_STD * correlated_noise(x.shape, rng)), 95)),
        ("luminance fine, colour blotchy", lambda x: x + NOISE_STD * camera_noise(x.shape, rng)),
    ]
    restored_clean = [restore_image(p, model) for p in photos]
    print(f"\n{len(photos)} held-out test photos with synthetic noise of std {NOISE_STD}: input / restored PSNR, share of noise left")
    for label, add in kinds:
        noisy = [to_u8(add(p.astype(np.float32) / 255)) for p in photos]
        restored = [restore_image(n, model) for n in noisy]
        noise_in = mean_mse(list(zip(noisy, photos)))
        out = mean_mse(list(zip(restored, photos)))
        left = mean_mse(list(zip(restored, restored_clean)))
        print(f"  {label:<38} {psnr(noise_in):6.2f} -> {psnr(out):6.2f} dB ({psnr(out) - psnr(noise_in):+.2f}), {left / noise_in:.2f} left")


if __name__ == "__main__":
    main()
