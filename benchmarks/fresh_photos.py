"""Do no harm on photos from other sources: `restore --estimate-kernel` on sharp photos never used here.

The rule that sends a photo to deconvolution was chosen on BSDS500 training photos and checked on
its test photos, which are now all used. This runs it on photos from elsewhere, in the sharp role
(as they are, + Gaussian noise 0.02, saved as JPEG 90) and blurred (linear motion 9 px and camera
shake 13-27 px, each + noise 0.01), 8-bit:

- the photos in ``--folder`` (sorted by name; the seventh session used scikit-image's bundled
  sample photos: ``pip download scikit-image --no-deps``, unzip, ``skimage/data/``, with the
  file names below, and matplotlib's ``grace_hopper.jpg`` via ``--also``); a photo over
  1024 px is cut to its central 800 px (a resize would sharpen it);
- blur-dev's 5 sharp photos cut into 480x320 tiles (blur-dev's blurred photos are a validation
  row of ``kernel_path.py``; its sharp photos were never used in the sharp role).

Per kind: PSNR of the mean MSE of the input, the networks (the default without
``--estimate-kernel``) and ``--estimate-kernel``; how many photos the rule deconvolved, how many
estimates were straight lines the cepstrum confirmed, and how many of those the line bound
(``BlindRule.min_line_agreement``) refused. Every deconvolved photo is listed.

Usage (from benchmarks/):
    python fresh_photos.py --folder SKIMAGE_DATA --names astronaut.png,brick.png,... --also GRACE_HOPPER [--kinds clean ...]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from edgedeblur_cli.deconvolution.route import PRIOR_MODEL, BlindRule, estimate_for, judged_estimate, route_photo
from edgedeblur_cli.degradations.realistic import jpeg
from edgedeblur_cli.files.jpeg_history import once_jpeg
from edgedeblur_cli.restoring.restore import load_model, restore_image

from kernel_path import BLUR_DEV, ROWS, as_float
from realworld import synthetic, to_u8

TILE = (320, 480)  # blur-dev's sharp photos cut to BSDS500's size
LARGEST = 1024
CROP = 800


def folder_photos(folder: Path, names: list[str]) -> list[tuple[str, np.ndarray]]:
    out = []
    for name in sorted(names):
        photo = np.asarray(Image.open(folder / name).convert("RGB"))
        if max(photo.shape[:2]) > LARGEST:
            h, w = photo.shape[:2]
            photo = photo[max(0, h // 2 - CROP // 2) : h // 2 + CROP // 2, max(0, w // 2 - CROP // 2) : w // 2 + CROP // 2]
        out.append((name, photo))
    return out


def blur_dev_tiles() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted((BLUR_DEV / "sharp").glob("*.png")):
        photo = np.asarray(Image.open(path).convert("RGB"))
        rows, cols = max(1, photo.shape[0] // TILE[0]), max(1, photo.shape[1] // TILE[1])
        for r in range(rows):
            for c in range(cols):
                out.append((f"{path.stem}[{r},{c}]", photo[r * TILE[0] : (r + 1) * TILE[0], c * TILE[1] : (c + 1) * TILE[1]]))
    return out


ROW = dict(ROWS)  # kernel_path's row makers by label
# kind -> (row maker: (photos, seed) -> cases; whether its photos are read as from JPEG files)
KINDS = {
    "clean": (ROW["clean, sharp photo"], False),
    "noise 0.02": (ROW["Gaussian noise 0.02"], False),
    "JPEG 90": (synthetic(lambda s, rng: (jpeg(s, 90), None)), True),
    "motion 9 + 0.01": (ROW["linear motion 9 px + 0.01"], False),
    "shake 13-27 + 0.01": (ROW["camera shake 13-27 px + 0.01"], False),
}
SEED = 707


def psnr_of_mean(squared: list[float]) -> float:
    return float(-10 * np.log10(max(np.mean(squared), 1e-10)))


def run_kind(kind: str, photos: list[tuple[str, np.ndarray]], network, prior) -> None:
    rule = BlindRule()
    without_line_bound = replace(rule, min_line_agreement=-2.0)
    taken = lines = lines_refused = 0
    errors: dict[str, list[float]] = {"input": [], "networks": [], "--estimate-kernel": []}
    make_cases, from_jpeg = KINDS[kind]
    cases = make_cases([photo for _, photo in photos], SEED)
    for (name, _), case in zip(photos, cases):
        sharp, degraded = as_float(case.sharp), case.degraded
        compressed = from_jpeg or once_jpeg(degraded)
        pixels = as_float(degraded)
        estimate = estimate_for(pixels, prior, compressed=compressed, rule=rule)
        deconvolved = None
        if estimate is not None:
            deconvolved, _ = route_photo(pixels, prior, rule=rule, estimate=estimate, compressed=compressed)
            if "straight" in judged_estimate(estimate).details:
                lines += 1
                if deconvolved is None and route_photo(pixels, prior, rule=without_line_bound, estimate=estimate, compressed=compressed)[0] is not None:
                    lines_refused += 1
                    print(f"  {kind} {name}: a line refused by its spectral agreement {estimate.details['spectral_agreement']:.3f}", flush=True)
        networks = as_float(to_u8(as_float(restore_image(degraded, network))))
        default = networks if deconvolved is None else as_float(to_u8(deconvolved))
        errors["input"].append(float(np.mean((pixels - sharp) ** 2)))
        errors["networks"].append(float(np.mean((networks - sharp) ** 2)))
        errors["--estimate-kernel"].append(float(np.mean((default - sharp) ** 2)))
        if deconvolved is not None:
            taken += 1
            judged = judged_estimate(estimate)
            print(
                f"  {kind} {name}: deconvolved ({'a confirmed line' if 'straight' in judged.details else 'a path'}, radius {judged.radius:.2f}, "
                f"agreement {estimate.details['spectral_agreement']:.3f}, margin {estimate.details['orientation_margin']:.3f}): "
                f"input {psnr_of_mean(errors['input'][-1:]):.2f}, networks {psnr_of_mean(errors['networks'][-1:]):.2f}, deconvolved {psnr_of_mean(errors['--estimate-kernel'][-1:]):.2f}",
                flush=True,
            )
    cells = "  ".join(f"{name} {psnr_of_mean(values):.2f}" for name, values in errors.items())
    print(f"{kind:<20} {len(photos)} photos: {cells}; deconvolved {taken}; confirmed lines {lines}, refused by the line bound {lines_refused}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="a folder of sharp photos")
    parser.add_argument("--names", default="", help="comma-separated file names in --folder (default: every .png and .jpg)")
    parser.add_argument("--also", type=Path, action="append", default=[], help="one more sharp photo (repeatable), after the folder's")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photos: list[tuple[str, np.ndarray]] = []
    if args.folder:
        names = [n for n in args.names.split(",") if n] or [p.name for p in args.folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        photos += folder_photos(args.folder, names)
    photos += [(path.stem, np.asarray(Image.open(path).convert("RGB"))) for path in args.also]
    photos += blur_dev_tiles()
    print(f"{len(photos)} photos: {', '.join(name for name, _ in photos)}; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    network = load_model("edgedeblur-auto", device="cpu")
    prior = load_model(PRIOR_MODEL, device="cpu")
    for kind in args.kinds:
        run_kind(kind, photos, network, prior)


if __name__ == "__main__":
    main()
