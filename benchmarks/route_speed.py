"""Time of the default route's kernel estimate, with and without its rule's early exit.

``estimate_for`` estimates each photo's kernel with three candidate settings side by side and
then deconvolves the estimation region by each (and by a delta) to choose the sharpest
(``choose.sharpest``). The route's rule judges the first setting's estimate alone, so for a photo
that estimate fails, the rest is wasted work: ``estimate_for(..., rule=BlindRule())``, as
``route_photo`` calls it, estimates the first setting first (its two regions side by side) and
stops there when the kernel checks fail; when the sharpening check fails, it skips the choice
(two deconvolutions of four).
This times both per photo, alternately first, in one run, on held-out BSDS500 test photos as
they are, with noise 0.02 and with camera shake 13-27 px + 0.01, and on the blur-dev photos
(Lai et al.'s 31-75 px kernels, + 0.01), 8-bit; with how many photos skipped the choice.

    python benchmarks/route_speed.py [--photos 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edgedeblur_cli.deconvolution.route import PRIOR_MODEL, BlindRule, estimate_for
from edgedeblur_cli.restoring.restore import load_model
from edgedeblur_cli.training.data import list_images, load_photos

from kernel_path import ROWS, as_float, blur_dev_cases
from realworld import DEFAULT_DATA

KINDS = ("clean, sharp photo", "Gaussian noise 0.02", "camera shake 13-27 px + 0.01")


def timed(pixels: np.ndarray, prior, rule: BlindRule | None):
    began = time.monotonic()
    estimate = estimate_for(pixels, prior, rule=rule)
    return time.monotonic() - began, estimate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10, help="photos per row (blur-dev has 20)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    prior = load_model(PRIOR_MODEL, device="cpu")
    photos = load_photos(list_images(DEFAULT_DATA)[: args.photos])
    rows = [(label, make(photos, 0)) for label, make in ROWS if label in KINDS]
    rows.append(("blur-dev (Lai, 31-75 px) + 0.01", blur_dev_cases(photos, 0)[: args.photos]))
    rule = BlindRule()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; seconds per photo of the route's estimate, median / max")
    print(f"{'photos':<34} {'every setting, chosen':>22} {'the rule exits':>16}  refused early")
    for label, cases in rows:
        times: dict[str, list[float]] = {"all": [], "rule": []}
        skipped = 0
        for i, case in enumerate(cases):
            pixels = as_float(case.degraded)
            for version in (("all", "rule") if i % 2 == 0 else ("rule", "all")):
                seconds, estimate = timed(pixels, prior, rule if version == "rule" else None)
                times[version].append(seconds)
                if version == "rule":
                    judged = estimate.details["first_setting"]
                    skipped += "sharpening" not in judged.details or judged.details["sharpening"] < rule.min_sharpening
        cell = lambda v: f"{np.median(v):6.2f} / {max(v):5.2f}"  # noqa: E731
        print(f"{label:<34} {cell(times['all']):>22} {cell(times['rule']):>16}  {skipped} of {len(cases)}", flush=True)


if __name__ == "__main__":
    main()
