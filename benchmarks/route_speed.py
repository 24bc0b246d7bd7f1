"""Time of the default route's kernel estimate: with the choice's deconvolutions on 2 rounds (as
since 2026-12-07, eighth session) and on 5 (as before), and with the rule's early exit.

``estimate_for`` estimates each photo's kernel with three candidate settings, the first one first
(its two regions side by side), then the other two side by side (one region each), and
deconvolves the estimation region by each (and by a delta) to choose the sharpest
(``choose.sharpest``); a first estimate that is a straight line the cepstrum confirms ends it
there. The choice only ranks those deconvolutions, so they run a short schedule
(``route.RANKING_DECONVOLUTION``, 2 rounds; the photo itself is deconvolved with 5). The route's
rule judges the first setting's estimate alone, so for a photo that estimate fails, the rest is
wasted work: ``estimate_for(..., rule=BlindRule())``, as ``route_photo`` calls it, stops after the
first setting when it fails the kernel checks or the sharpening check (whose two deconvolutions
of the region come before the other settings).
This times the three per photo, in rotating order, in one run, on held-out BSDS500 test photos as
they are, with noise 0.02, with linear motion 9 px + 0.01 and with camera shake 13-27 px + 0.01,
and on the blur-dev photos (Lai et al.'s 31-75 px kernels, + 0.01), 8-bit; with how many photos
the choice on 2 rounds chose the kernel 5 rounds chose, how many skipped the choice, and how
many first estimates were confirmed lines.

    python benchmarks/route_speed.py [--photos 10] [--rows motion]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from edgedeblur_cli.deconvolution import route
from edgedeblur_cli.deconvolution.route import BLIND_DECONVOLUTION, RANKING_DECONVOLUTION, PRIOR_MODEL, BlindRule, estimate_for
from edgedeblur_cli.restoring.restore import load_model
from edgedeblur_cli.training.data import list_images, load_photos

from kernel_path import ROWS, as_float, blur_dev_cases
from realworld import DEFAULT_DATA

KINDS = ("clean, sharp photo", "Gaussian noise 0.02", "linear motion 9 px + 0.01", "camera shake 13-27 px + 0.01")


def timed(pixels: np.ndarray, prior, rule: BlindRule | None, choice_rounds: int):
    # The choice's schedule is a module constant of the route: set for this call only.
    route.RANKING_DECONVOLUTION = replace(BLIND_DECONVOLUTION, iterations=choice_rounds)
    try:
        began = time.monotonic()
        estimate = estimate_for(pixels, prior, rule=rule)
        return time.monotonic() - began, estimate
    finally:
        route.RANKING_DECONVOLUTION = RANKING_DECONVOLUTION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10, help="photos per row (blur-dev has 20)")
    parser.add_argument("--rows", action="append", help="only rows whose label contains this text (repeatable)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    prior = load_model(PRIOR_MODEL, device="cpu")
    photos = load_photos(list_images(DEFAULT_DATA)[: args.photos])
    rows = [(label, make(photos, 0)) for label, make in ROWS if label in KINDS]
    rows.append(("blur-dev (Lai, 31-75 px) + 0.01", blur_dev_cases(photos, 0)[: args.photos]))
    rows = [(label, cases) for label, cases in rows if not args.rows or any(text in label for text in args.rows)]
    rule = BlindRule()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; seconds per photo of the route's estimate, median / max")
    versions = ("five", "two", "rule")
    print(f"{'photos':<34} {'choice on 5 rounds':>20} {'choice on 2 rounds':>20} {'the rule exits':>16}  refused early  same kernels")
    for label, cases in rows:
        times: dict[str, list[float]] = {v: [] for v in versions}
        skipped = same = lines = 0
        for i, case in enumerate(cases):
            pixels = as_float(case.degraded)
            kernels = {}
            for version in versions[i % 3 :] + versions[: i % 3]:
                seconds, estimate = timed(pixels, prior, rule if version == "rule" else None, 5 if version == "five" else RANKING_DECONVOLUTION.iterations)
                times[version].append(seconds)
                kernels[version] = estimate.kernel
                if version == "rule":
                    judged = estimate.details["first_setting"]
                    lines += "straight" in judged.details
                    skipped += "straight" not in judged.details and ("sharpening" not in judged.details or judged.details["sharpening"] < rule.min_sharpening)
            same += np.array_equal(kernels["five"], kernels["two"])
        cell = lambda v: f"{np.median(v):6.2f} / {max(v):5.2f}"  # noqa: E731
        print(f"{label:<34} {cell(times['five']):>20} {cell(times['two']):>20} {cell(times['rule']):>16}  {skipped:>3} of {len(cases):<3}  {same} of {len(cases)}" + (f"  ({lines} confirmed lines)" if lines else ""), flush=True)


if __name__ == "__main__":
    main()
