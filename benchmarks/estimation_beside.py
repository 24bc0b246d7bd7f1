"""Time of the blind estimator with this checkout's code beside another's, side by side in one run.

Each photo is estimated with the estimator's three settings (``route.CANDIDATES``, each on its
regions as ``estimate_kernel`` fits them, one after the other, no prior: the estimator's own
work, without the deconvolutions ``estimate_for`` adds), by this checkout and by the one at
``--beside``, in a fresh process each, alternately first. Photos: held-out BSDS500 test photos
with camera shake 13-27 px + 0.01, and the blur-dev photos (Lai et al.'s 31-75 px kernels,
+ 0.01), 8-bit, as ``kernel_path.py`` makes them. Also says whether the two give the same
kernels, to the bit, so a change meant to be only faster can be checked to be so.

``--route`` times the route's estimate instead, the time issue 27's speed target counts:
``estimate_for(..., rule=BlindRule())`` as ``route_photo`` calls it (regions denoised by the
prior, the rule's early exit, the choice among the settings; the prior loaded before timing),
and compares the kernel it returns.

    git worktree add /tmp/before <commit>
    python benchmarks/estimation_beside.py --beside /tmp/before/src [--photos 6] [--route]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = ("camera shake 13-27 px + 0.01", "blur-dev (Lai, 31-75 px) + 0.01")


def estimate_one(index: int, whole_route: bool = False) -> None:
    """In a child process: time the three settings (``whole_route``: the route's estimate) on
    photo ``index`` of each row; print JSON."""
    import numpy as np
    import torch

    import edgedeblur_cli
    from edgedeblur_cli.deconvolution.estimate import EstimationOptions, estimate_kernel
    from edgedeblur_cli.deconvolution.route import CANDIDATES, PRIOR_MODEL, BlindRule, estimate_for
    from edgedeblur_cli.restoring.restore import load_model
    from edgedeblur_cli.training.data import list_images, load_photos

    from kernel_path import ROWS as KERNEL_ROWS, as_float, blur_dev_cases
    from realworld import DEFAULT_DATA

    print(edgedeblur_cli.__file__, file=sys.stderr)  # which checkout's code ran
    photo = load_photos(list_images(DEFAULT_DATA)[index : index + 1])
    shake = next(make for label, make in KERNEL_ROWS if label == ROWS[0])(photo, 0)[0]
    blur_dev = blur_dev_cases(photo, 0)[index % 20]  # blur-dev's own photos, whatever it is given
    torch.set_grad_enabled(False)
    prior = load_model(PRIOR_MODEL, device="cpu") if whole_route else None
    result = []
    for case in (shake, blur_dev):
        pixels = as_float(case.degraded)
        began = time.monotonic()
        if whole_route:
            kernels = [estimate_for(pixels, prior, rule=BlindRule()).kernel]
        else:
            kernels = [estimate_kernel(pixels, replace(EstimationOptions(), **change)).kernel for change in CANDIDATES]
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(k).tobytes() for k in kernels)).hexdigest()
        result.append({"seconds": time.monotonic() - began, "kernels": digest})
    print(json.dumps(result))


def run(src: Path, index: int, whole_route: bool) -> list[dict]:
    code = f"import sys; sys.path[:0] = {[str(src), str(HERE)]!r}; import estimation_beside as e; e.estimate_one({index}, {whole_route})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if not out.stderr.strip().startswith(str(src)):
        raise SystemExit(f"the child ran {out.stderr.strip()!r}, not the code in {src}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beside", type=Path, required=True, help="the other checkout's src/ folder")
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--route", action="store_true", help="time the route's estimate (estimate_for with the prior and the rule), not the estimator's three settings")
    args = parser.parse_args()
    versions = {"this checkout": HERE.parent / "src", "beside": args.beside.resolve()}
    times = {v: [[], []] for v in versions}
    same = [0, 0]
    for i in range(args.photos):
        order = list(versions) if i % 2 == 0 else list(versions)[::-1]
        results = {v: run(versions[v], i, args.route) for v in order}
        for row in range(2):
            for v in versions:
                times[v][row].append(results[v][row]["seconds"])
            same[row] += results["this checkout"][row]["kernels"] == results["beside"][row]["kernels"]
    what = "the route's estimate (estimate_for, the rule)" if args.route else "the three settings"
    print(f"seconds per photo for {what}, median / max; beside: {args.beside}")
    print(f"{'photos':<34} {'this checkout':>16} {'beside':>16}  same kernels")
    for row, label in enumerate(ROWS):
        cells = [f"{statistics.median(t):6.2f} / {max(t):6.2f}" for t in (times[v][row] for v in versions)]
        print(f"{label:<34} {cells[0]:>16} {cells[1]:>16}  {same[row]} of {args.photos}")


if __name__ == "__main__":
    main()
