"""Quality benchmark: one table for the degraded input, Wiener (true sigma), and every shipped model,
on CIFAR-like 32x32 test crops and on the full-size test photos, with GFLOP per 32x32 image.

Usage (from the repository root, after `pip install .`):
    python benchmarks/quality.py [--data ../shared/data/BSDS500-train-test/test] [--crops 10000] [--photos 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from edgedeblur_cli.training.data import fixed_pairs, list_images, load_photos
from edgedeblur_cli.training.evaluate import format_table, score_input, score_model, score_wiener
from edgedeblur_cli.restoring.restore import RestoreOptions, load_model
from edgedeblur_cli.weights import load_manifest

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "BSDS500-train-test" / "test"


def gflop_per_32px(model: torch.nn.Module) -> float:
    """Forward GFLOP for one 32x32 image, counted by PyTorch's FlopCounterMode (a multiply-add is 2 FLOP)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--crops", type=int, default=10_000, help="32x32 test crops (shrunk 2-8x)")
    parser.add_argument("--photos", type=int, default=200, help="full-size test photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photos = load_photos(list_images(args.data))
    models = {name: load_model(name, device="cpu") for name in load_manifest()}
    results = {}
    for label, crop, downscale, count in [
        (f"32x32 crops shrunk 2-8x ({args.crops})", 32, (2.0, 8.0), args.crops),
        (f"full-size photos ({min(args.photos, len(photos))})", None, (1.0, 1.0), args.photos),
    ]:
        started = time.monotonic()
        pairs = fixed_pairs(photos, crop, downscale, count, args.seed)
        rows = [score_input(pairs), score_wiener(pairs)]
        for name, model in models.items():
            rows.append(score_model(name, model, pairs, RestoreOptions(tile=512), batch_size=256 if crop else 1))
        base = rows[0].metrics["psnr_of_mean_mse"]
        print(f"\n== {label}, seed {args.seed} ({time.monotonic() - started:.0f} s)")
        print(format_table(rows))
        print("gain over the degraded input (PSNR of mean MSE): " + ", ".join(f"{r.name} {r.metrics['psnr_of_mean_mse'] - base:+.2f} dB" for r in rows[1:]))
        results[label] = [r.as_dict() for r in rows]
    print("\nGFLOP per 32x32 image (forward, FlopCounterMode):")
    for name, model in models.items():
        print(f"  {name:<22} {gflop_per_32px(model):.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
