"""Kernel-path benchmark: deconvolution with the true kernel, blind estimation, and the default's route.

One row per kind of input, on the held-out BSDS500 test photos (and Lai et al.'s large
camera-shake kernels on the blur-dev photos, re-blurred without wrap-around, + noise 0.01).
Columns, measured side by side in one run, 8-bit in and out:

- input;
- Wiener deconvolution given the true kernel, at its best NSR on the row (an oracle);
- ``restore --kernel`` given the true kernel (half-quadratic splitting with edgedeblur-prior,
  the noise level estimated from the photo);
- the networks alone (the default before the kernel path: edgedeblur-auto);
- the default now: the kernel estimated per photo, deconvolved by it when the rule trusts it,
  else the networks (with how many photos took the kernel route).

Rows with a true kernel get a second line, every column but Wiener scored up to a shift of 5 px
(the blind route centres its kernel on its centroid; the true kernel sits anywhere in its window,
so its output may be shifted against the sharp photo by pixels no one would see), and a third,
up to a shift to an eighth of a pixel (``subpixel_mse``: the centroid of a true kernel falls
between pixels, and half a pixel costs a sharp photo about a dB).

Kernel accuracy (rows with a true kernel): Levin et al.'s error ratio, the error of
deconvolving with the estimated kernel over the error with the true one, both deconvolved
alike, as the blind route deconvolves (``BLIND_DECONVOLUTION``), best integer shift within
5 px, as the share of photos under 2 and the median; in brackets, the same against
``--kernel`` with the true kernel (which assumes the kernel exact), and the first up to a
shift to an eighth of a pixel; and the time of estimation per photo.

    python benchmarks/kernel_path.py [--photos 40] [--rows shake]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from PIL import Image

from edgedeblur_cli.training.data import list_images, load_photos
from edgedeblur_cli.degradations.realistic import blur, disk_kernel, gaussian_kernel, linear_motion_kernel
from edgedeblur_cli.files.jpeg_history import once_jpeg
from edgedeblur_cli.deconvolution.route import BLIND_DECONVOLUTION, MIN_BLIND_SIDE, PRIOR_MODEL, BlindRule, deconvolve_pixels, estimate_for, route_photo
from edgedeblur_cli.restoring.restore import load_model, restore_image

from realworld import DEFAULT_DATA, SHARED, Case, blur_plus_noise, cell, classical, real_noise_cases, score, seed_degradation, shake_kernel_of_extent, synthetic, to_u8

BLUR_DEV = SHARED / "blur-dev"


def blur_dev_cases(photos: list[np.ndarray], seed: int) -> list[Case]:
    """Lai et al.'s 5 sharp photos x 4 kernels, blurred with a reflected (not wrapped) border, + noise 0.01."""
    cases = []
    for i, path in enumerate(sorted((BLUR_DEV / "sharp").glob("*.png"))):
        sharp = np.asarray(Image.open(path).convert("RGB"))
        for k in range(1, 5):
            kernel = np.load(BLUR_DEV / "kernels" / f"lai_{k}.npy").astype(np.float32)
            rng = np.random.default_rng([seed, i, k])
            degraded = blur(sharp.astype(np.float32) / 255, kernel) + 0.01 * rng.standard_normal(sharp.shape).astype(np.float32)
            cases.append(Case(sharp, to_u8(degraded), kernel))
    return cases


ROWS = [
    ("clean, sharp photo", synthetic(lambda s, rng: (s, None))),
    ("Gaussian noise 0.02", synthetic(lambda s, rng: (s + 0.02 * rng.standard_normal(s.shape).astype(np.float32), None))),
    ("seed's degradation", seed_degradation()),
    ("seed's + JPEG 90", seed_degradation(90)),
    ("Gaussian sigma 1.5 + 0.01", blur_plus_noise(lambda rng: gaussian_kernel(1.5, 1.5, 0.0, 11), 0.01)),
    ("Gaussian sigma 3 + 0.01", blur_plus_noise(lambda rng: gaussian_kernel(3.0, 3.0, 0.0, 19), 0.01)),
    ("defocus radius 3 + 0.01", blur_plus_noise(lambda rng: disk_kernel(3.0), 0.01)),
    ("linear motion 9 px + 0.01", blur_plus_noise(lambda rng: linear_motion_kernel(9, rng.uniform(0, np.pi)), 0.01)),
    ("camera shake 13-27 px + 0.01", blur_plus_noise(lambda rng: shake_kernel_of_extent(rng, 13, 27), 0.01)),
    ("blur-dev (Lai, 31-75 px) + 0.01", blur_dev_cases),
    ("real camera noise (PolyU)", real_noise_cases),
]
KERNEL_ROWS = ("camera shake", "blur-dev", "linear motion")  # rows whose kernel accuracy is reported


def true_kernel_rows(photos: list[np.ndarray], rows: str | None = None, seed: int = 0):
    """(label, cases) of each row with a true kernel, whose label contains ``rows`` (all if None)."""
    for label, make_cases in ROWS:
        if rows and rows not in label:
            continue
        cases = make_cases(photos, seed)
        if cases[0].kernel is not None:
            yield label, cases


def as_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255


def best_shift(estimate: np.ndarray, sharp: np.ndarray, reach: int = 5) -> tuple[float, int, int]:
    """(least MSE, dy, dx) of ``estimate`` against ``sharp`` over integer shifts within ``reach`` px (inner part)."""
    e, s = estimate.astype(np.float64), sharp.astype(np.float64)
    h, w = s.shape[:2]
    inner = s[reach : h - reach, reach : w - reach]
    return min(
        (float(np.mean((e[reach + dy : h - reach + dy, reach + dx : w - reach + dx] - inner) ** 2)), dy, dx)
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    )


def shifted_mse(estimate: np.ndarray, sharp: np.ndarray, reach: int = 5) -> float:
    """Least MSE of ``estimate`` against ``sharp`` over integer shifts within ``reach`` px (inner part)."""
    return best_shift(estimate, sharp, reach)[0]


def subpixel_mse(estimate: np.ndarray, sharp: np.ndarray, reach: int = 5) -> float:
    """Least MSE of ``estimate`` against ``sharp`` over shifts within ``reach`` px to an eighth of
    a pixel (inner part): the best whole shift, then quarter- and eighth-pixel steps around it,
    each a bicubic warp. A blind kernel is centred on its centroid, and the true kernel's centroid
    may fall between pixels (deepinv's shake kernels: up to 2 px off their centre); a half-pixel
    shift alone costs a sharp photo about a dB. Deblurring benchmarks align so (Köhler et al.
    2012, Lai et al. 2016, RealBlur: sub-pixel translation)."""
    e, s = estimate.astype(np.float32), sharp.astype(np.float64)
    h, w = s.shape[:2]
    inner = s[reach : h - reach, reach : w - reach]

    def mse_at(dy: float, dx: float) -> float:
        warp = np.float32([[1, 0, dx], [0, 1, dy]])  # output (x, y) samples the estimate at (x + dx, y + dy)
        moved = cv2.warpAffine(e, warp, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        return float(np.mean((moved[reach : h - reach, reach : w - reach] - inner) ** 2))

    best = best_shift(estimate, sharp, reach)
    for step in (0.25, 0.125):
        _, y, x = best
        steps = [(y + i * step, x + j * step) for i in (-2, -1, 0, 1, 2) for j in (-2, -1, 0, 1, 2) if i or j]
        best = min([best] + [(mse_at(dy, dx), dy, dx) for dy, dx in steps if max(abs(dy), abs(dx)) <= reach])
    return best[0]


def shifted_psnr(pairs: list[tuple[np.ndarray, np.ndarray]], mse: Callable[[np.ndarray, np.ndarray], float] = shifted_mse) -> float:
    """PSNR of the mean MSE of (output, sharp) uint8 pairs, each at its best integer shift within
    5 px (or as ``mse`` aligns them, ``subpixel_mse``): how blind deblurring is scored (Levin et
    al. 2009), since which shift of a kernel blurred a photo is a choice no photo reveals."""
    return float(-10 * np.log10(np.mean([mse(as_float(o), as_float(s)) for o, s in pairs])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--rows", action="append", help="only rows whose label contains this text (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photos = load_photos(list_images(args.data)[: args.photos])
    network = load_model("edgedeblur-auto", device="cpu")
    prior = load_model(PRIOR_MODEL, device="cpu")
    rule = BlindRule()
    print(f"{len(photos)} BSDS500 test photos (blur-dev: 20 photos); PSNR of the mean MSE / gain / mean SSIM, 8-bit; torch {torch.__version__}, {torch.get_num_threads()} threads")
    names = ["input", "Wiener, true kernel", "--kernel (true)", "networks (before)", "default (now)"]
    header = f"{'input kind':<33}" + "".join(f"  {n:>19}" for n in names) + "  kernel route"
    print(header + "\n" + "-" * len(header))
    results, accuracy = [], []
    started = time.monotonic()
    for label, make_cases in ROWS:
        if args.rows and not any(text in label for text in args.rows):
            continue
        cases = make_cases(photos, args.seed)
        known = cases[0].kernel is not None
        networks = [to_u8(as_float(restore_image(c.degraded, network))) for c in cases]
        estimates, seconds = [], []
        # Whose noise is read as a JPEG's (``compressed``), as the command line does: the JPEG rows'
        # photos come from .jpg files; the others from PNG files, read so when they were once JPEGs
        # (``once_jpeg``: the clean BSDS photos and the real camera noise, decoded JPEGs themselves).
        jpegs = [("JPEG" in label) or once_jpeg(c.degraded) for c in cases]
        for c, jpeg in zip(cases, jpegs):
            began = time.monotonic()  # as the default estimates (every candidate setting, the sharpest kept)
            estimates.append(estimate_for(as_float(c.degraded), prior, compressed=jpeg, min_side=0))
            seconds.append(time.monotonic() - began)
        # The default's own decision (extent, then the re-blur residual), on the estimate just timed.
        routed = [route_photo(as_float(c.degraded), prior, rule=rule, estimate=e, compressed=j) if min(c.degraded.shape[:2]) >= MIN_BLIND_SIDE else (None, e) for c, e, j in zip(cases, estimates, jpegs)]
        taken = [r[0] is not None for r in routed]
        default = [to_u8(r[0]) if r[0] is not None else n for r, n in zip(routed, networks)]
        accuracy_row = known and any(k in label for k in KERNEL_ROWS)
        if accuracy_row:  # deconvolved by the estimate whether or not the rule trusts it
            blind = [to_u8(r[0]) if r[0] is not None else to_u8(deconvolve_pixels(as_float(c.degraded), e.kernel, prior, options=BLIND_DECONVOLUTION, compressed=j)) for r, c, e, j in zip(routed, cases, estimates, jpegs)]
            true_as_blind = [to_u8(deconvolve_pixels(as_float(c.degraded), c.kernel.astype(np.float64), prior, options=BLIND_DECONVOLUTION, compressed=j)) for c, j in zip(cases, jpegs)]
        cells = {"input": score([(c.degraded, c.sharp) for c in cases])}
        if known:
            ref_name, cells["Wiener, true kernel"] = classical("wiener", cases)
            true_path = [to_u8(deconvolve_pixels(as_float(c.degraded), c.kernel.astype(np.float64), prior, compressed=j)) for c, j in zip(cases, jpegs)]
            cells["--kernel (true)"] = score([(t, c.sharp) for t, c in zip(true_path, cases)])
        cells["networks (before)"] = score([(n, c.sharp) for n, c in zip(networks, cases)])
        cells["default (now)"] = score([(d, c.sharp) for d, c in zip(default, cases)])
        base = cells["input"]["psnr"]
        line = f"{label:<33}" + "".join(f"  {cell(cells[n], None if n == 'input' else base) if n in cells else '-':>19}" for n in names)
        print(line + f"  {sum(taken)}/{len(cases)}" + (f" ({sum(jpegs)} read as JPEG)" if "JPEG" not in label else ""), flush=True)
        row = {"kind": label, **cells, "kernel_route": sum(taken), "photos": len(cases), "estimation_s": {"median": float(np.median(seconds)), "max": float(max(seconds))}}
        if known:  # a blind estimate is centred on its centroid, the true kernel anywhere: score up to a shift too
            shifted = {"input": [c.degraded for c in cases], "--kernel (true)": true_path, "networks (before)": networks, "default (now)": default}
            for key, text, mse in (("up_to_shift", "  up to a shift of 5 px", shifted_mse), ("up_to_subpixel_shift", "  ... to an eighth of a px", subpixel_mse)):
                row[key] = {n: shifted_psnr([(o, c.sharp) for o, c in zip(outs, cases)], mse) for n, outs in shifted.items()}
                shift_base = row[key]["input"]
                print(f"{text:<33}  {shift_base:>13.2f}" + "".join(f"  {v:>13.2f} {v - shift_base:+5.2f}" for n, v in row[key].items() if n != "input"), flush=True)
        if accuracy_row:
            def ratios(reference, mse=shifted_mse):
                return np.array([mse(as_float(b), as_float(c.sharp)) / max(mse(as_float(t), as_float(c.sharp)), 1e-12) for b, t, c in zip(blind, reference, cases)])

            alike, against_given, alike_subpixel = ratios(true_as_blind), ratios(true_path), ratios(true_as_blind, subpixel_mse)
            row["error_ratio"] = {"under_2": float(np.mean(alike < 2)), "median": float(np.median(alike))}
            row["error_ratio_against_kernel_option"] = {"under_2": float(np.mean(against_given < 2)), "median": float(np.median(against_given))}
            row["error_ratio_subpixel"] = {"under_2": float(np.mean(alike_subpixel < 2)), "median": float(np.median(alike_subpixel))}
            accuracy.append((label, row["error_ratio"], row["error_ratio_against_kernel_option"], row["error_ratio_subpixel"], row["estimation_s"]))
        results.append(row)
    print(f"(each cell: PSNR of the mean MSE in dB, gain over the input, mean SSIM; {time.monotonic() - started:.0f} s)")
    for label, ratio, against, subpixel, secs in accuracy:
        print(
            f"kernel accuracy, {label}: error ratio < 2 on {ratio['under_2']:.0%} of photos, median {ratio['median']:.2f} "
            f"(against --kernel: {against['under_2']:.0%}, {against['median']:.2f}; to an eighth of a px: {subpixel['under_2']:.0%}, {subpixel['median']:.2f}); "
            f"estimation {secs['median']:.2f} s median, {secs['max']:.2f} s max"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
