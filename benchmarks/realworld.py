"""Real-world benchmark: does a model help on the blur and noise real photos carry, and harm none?

One row per kind of input, on the held-out BSDS500 test photos (and real camera noise pairs):
the input, a classical reference measured in the same run (Wiener deconvolution given the true
kernel at its best noise-to-signal ratio, non-blind and so optimistic; OpenCV's non-local means
at its best strength for the noise rows), and each model. Everything is scored as files hold
it: 8-bit inputs, 8-bit outputs (``restore_image`` on uint8 arrays, as the CLI runs it).
PSNR of the mean MSE against the sharp original, and mean SSIM.

Usage (from the repository root, after `pip install '.[train]'`; camera shake needs deepinv):
    python benchmarks/realworld.py [--photos 200] [--model edgedeblur-s --model edgedeblur-blind] [--edge-ablation]
    python benchmarks/realworld.py --model edgedeblur-blind --strength 1 --strength 0.75 --rows noise   # restore --strength
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from edgedeblur_cli.training.data import list_images, load_photos
from edgedeblur_cli.degradations.realistic import blur, disk_kernel, gaussian_kernel, jpeg, linear_motion_kernel, quantise
from edgedeblur_cli.metrics import MetricTotals, NSR_GRID, gaussian_kernel2d, wiener_deconvolve_kernels
from edgedeblur_cli.models import DEFAULT_MODEL
from edgedeblur_cli.restoring.restore import RestoreOptions, load_model, restore_image

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DATA = SHARED / "BSDS500-train-test" / "test"
REAL_NOISE = SHARED / "real-noise-dev"
NLM_STRENGTHS = (1, 2, 3, 4, 6, 8, 10, 13)
STRENGTH_SEARCH_IMAGES = 40  # the classical references pick their best setting on this many images


@dataclass
class Case:
    """One degraded image: sharp and degraded (H, W, 3) uint8, and the blur kernel if known."""

    sharp: np.ndarray
    degraded: np.ndarray
    kernel: np.ndarray | None = None


def to_u8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def shake_kernel_of_extent(rng: np.random.Generator, low: int = 15, high: int = 25) -> np.ndarray:
    """A deepinv random-trajectory kernel whose extent (>= 5% of its peak) is within [low, high] px."""
    from deepinv.physics.generator import MotionBlurGenerator

    while True:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        k = MotionBlurGenerator((high, high), rng=gen, sigma=float(rng.uniform(0.4, 0.9))).step(1)["filter"][0, 0].numpy()
        ys, xs = np.nonzero(k > 0.05 * k.max())
        if low <= max(np.ptp(xs), np.ptp(ys)) + 1 <= high:
            return (k / k.sum()).astype(np.float32)


def synthetic(make: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray | None]]):
    """A row maker: applies ``make(sharp float, rng) -> (degraded float, kernel)`` to every photo."""

    def cases(photos: list[np.ndarray], seed: int) -> list[Case]:
        out = []
        for i, photo in enumerate(photos):
            rng = np.random.default_rng([seed, i])
            degraded, kernel = make(photo.astype(np.float32) / 255, rng)
            out.append(Case(photo, to_u8(degraded), kernel))
        return out

    return cases


def blur_plus_noise(kernel_of: Callable[[np.random.Generator], np.ndarray], noise: float):
    def make(sharp, rng):
        kernel = kernel_of(rng)
        return blur(sharp, kernel) + noise * rng.standard_normal(sharp.shape).astype(np.float32), kernel

    return synthetic(make)


def seed_degradation(jpeg_quality: int | None = None):
    def make(sharp, rng):
        sigma = float(rng.uniform(1, 4))
        kernel = gaussian_kernel2d(sigma, 5).numpy().astype(np.float32)
        out = quantise(cv2.GaussianBlur(sharp, (5, 5), sigma) + 0.02 * rng.standard_normal(sharp.shape).astype(np.float32))
        return (jpeg(out, jpeg_quality) if jpeg_quality else out), kernel

    return synthetic(make)


def real_noise_cases(photos: list[np.ndarray], seed: int) -> list[Case]:
    names = sorted(p.name for p in (REAL_NOISE / "noisy").glob("*.jpg"))[: len(photos)]
    noisy = load_photos([REAL_NOISE / "noisy" / n for n in names])
    clean = load_photos([REAL_NOISE / "clean" / n for n in names])
    return [Case(c, n) for c, n in zip(clean, noisy)]


ROWS: list[tuple[str, Callable, str | None]] = [
    # (label, case maker, classical reference: "wiener", "nlm" or None)
    ("clean, sharp photo", synthetic(lambda s, rng: (s, None)), None),
    ("Gaussian noise 0.02", synthetic(lambda s, rng: (s + 0.02 * rng.standard_normal(s.shape).astype(np.float32), None)), "nlm"),
    ("seed's degradation", seed_degradation(), "wiener"),
    ("seed's + JPEG 90", seed_degradation(90), "wiener"),
    ("Gaussian sigma 1.5 + 0.01", blur_plus_noise(lambda rng: gaussian_kernel(1.5, 1.5, 0.0, 11), 0.01), "wiener"),
    ("Gaussian sigma 3 + 0.01", blur_plus_noise(lambda rng: gaussian_kernel(3.0, 3.0, 0.0, 19), 0.01), "wiener"),
    ("defocus radius 3 + 0.01", blur_plus_noise(lambda rng: disk_kernel(3.0), 0.01), "wiener"),
    ("linear motion 9 px + 0.01", blur_plus_noise(lambda rng: linear_motion_kernel(9, rng.uniform(0, np.pi)), 0.01), "wiener"),
    ("camera shake 15-25 px + 0.01", blur_plus_noise(shake_kernel_of_extent, 0.01), "wiener"),
    ("real camera noise (PolyU)", real_noise_cases, "nlm"),
]


def score(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """PSNR of the mean MSE and mean SSIM of (restored, sharp) uint8 pairs."""
    totals = MetricTotals()
    for restored, sharp in pairs:
        as_t = lambda a: torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255  # noqa: E731
        totals.add(as_t(restored), as_t(sharp))
    summary = totals.summary()
    return {"psnr": summary["psnr_of_mean_mse"], "ssim": summary["ssim"]}


def wiener(case: Case, nsr: float) -> np.ndarray:
    x = torch.from_numpy(case.degraded).permute(2, 0, 1)[None].double() / 255
    out = wiener_deconvolve_kernels(x, torch.from_numpy(case.kernel).double(), nsr)
    return to_u8(out[0].permute(1, 2, 0).numpy())


def nlm(case: Case, h: float) -> np.ndarray:
    bgr = cv2.fastNlMeansDenoisingColored(case.degraded[..., ::-1].copy(), None, h, h, 7, 21)
    return bgr[..., ::-1].copy()


def classical(kind: str, cases: list[Case]) -> tuple[str, dict[str, float]]:
    """The reference at the setting best on the first images (an oracle choice), scored on all."""
    method, grid, label = (wiener, NSR_GRID, "Wiener, true kernel, NSR {:.0e}") if kind == "wiener" else (nlm, NLM_STRENGTHS, "non-local means, h {}")
    search = cases[:STRENGTH_SEARCH_IMAGES]
    mse = lambda s: sum(float(np.mean((method(c, s).astype(np.float64) - c.sharp) ** 2)) for c in search)  # noqa: E731
    best = min(grid, key=mse)
    return label.format(best), score([(method(c, best), c.sharp) for c in cases])


def load_benchmarked_model(name: str) -> torch.nn.Module:
    """A model folder (a training run's output) or a published name, on the CPU."""
    return load_model("edgedeblur-s", weights=name, device="cpu") if Path(name).is_dir() else load_model(name, device="cpu")


class NoEdges(torch.nn.Module):
    """Stands in for an edge branch: an empty edge map, (N, 3, H, W) -> zeros (N, 1, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :1])


def without_edges(model: torch.nn.Module) -> torch.nn.Module:
    """The same restorer fed an empty edge map: how much its output rests on the edge channel."""
    ablated = copy.deepcopy(model)
    ablated.edgenet = NoEdges()
    return ablated


def cell(scores: dict[str, float], base: float | None) -> str:
    """``PSNR gain SSIM`` (19 characters); no gain for the input itself or over a perfect input."""
    psnr = min(scores["psnr"], 99.99)
    gain = f"{scores['psnr'] - base:+5.2f}" if base is not None and math.isfinite(base) and base < 99 else " " * 5
    return f"{psnr:5.2f} {gain} {scores['ssim']:.4f}"[:19].rjust(19)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=200, help="test photos per synthetic row (and at most this many real noise pairs)")
    parser.add_argument("--model", action="append", help=f"a published name or a model folder (default: edgedeblur-s and {DEFAULT_MODEL})")
    parser.add_argument("--rows", help="only rows whose label contains this text")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--edge-ablation", action="store_true", help="also run each model with an empty edge map")
    parser.add_argument("--strength", type=float, action="append", help="one column per model and strength, as `restore --strength` (default: 1)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photos = load_photos(list_images(args.data)[: args.photos])
    names = args.model or list(dict.fromkeys(["edgedeblur-s", DEFAULT_MODEL]))
    models = {name: load_benchmarked_model(name) for name in names}
    if args.edge_ablation:
        models.update({f"{name}, no edges": without_edges(m) for name, m in list(models.items()) if hasattr(m, "edgenet")})
    strengths = args.strength or [1.0]
    columns = {  # column name -> (model, how restore runs it)
        (name if strengths == [1.0] else f"{name.replace('edgedeblur-', '')} @{strength:g}"): (model, RestoreOptions(strength=strength))
        for name, model in models.items()
        for strength in strengths
    }
    print(f"{len(photos)} BSDS500 test photos; PSNR of the mean MSE / mean SSIM, 8-bit in and out; torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = f"{'input kind':<31} {'input':>18}  {'classical reference':<34} {'':>19}" + "".join(f"  {n[-19:]:>19}" for n in columns)
    print(header + "\n" + "-" * len(header))
    results = []
    started = time.monotonic()
    for label, make_cases, reference in ROWS:
        if args.rows and args.rows not in label:
            continue
        cases = make_cases(photos, args.seed)
        row = {"kind": label, "input": score([(c.degraded, c.sharp) for c in cases])}
        ref_name, ref = classical(reference, cases) if reference else ("-", None)
        row["reference"] = {"name": ref_name, **ref} if ref else None
        row["models"] = {
            name: score([(restore_image(c.degraded, model, options), c.sharp) for c in cases]) for name, (model, options) in columns.items()
        }
        results.append(row)
        base = row["input"]["psnr"]
        cells = [cell(row["input"], None), f"{ref_name:<34}", cell(ref, base) if ref else f"{'':>19}"]
        cells += [cell(s, base) for s in row["models"].values()]
        print(f"{label:<31} " + "  ".join(cells), flush=True)
    print(f"(each cell: PSNR of the mean MSE in dB, gain over the input, mean SSIM; {time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
