"""Put two trained edgedeblur-s networks into one agreement-pair model folder.

The gentle network is used where the two outputs agree to within --threshold-db, the strong one
elsewhere (``models/agreement_pair.py``). Pick the threshold with
``benchmarks/agreement_threshold.py`` (training photos only).
Usage: python tools/pair_models.py edgedeblur-denoise edgedeblur-blind runs/auto --threshold-db 40
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgedeblur_cli.models import EdgeDeblurS, create_model, model_config_dict
from edgedeblur_cli.weights import load_folder_or_published, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gentle", help="a model folder or a published name: used where the two agree")
    parser.add_argument("strong", help="used where they do not")
    parser.add_argument("out", type=Path)
    parser.add_argument("--threshold-db", type=float, required=True)
    parser.add_argument("--probe", type=int, default=256, help="side of the probe crops a photo is judged on")
    args = parser.parse_args()
    gentle, strong = load_folder_or_published(args.gentle), load_folder_or_published(args.strong)
    if not (isinstance(gentle, EdgeDeblurS) and isinstance(strong, EdgeDeblurS)):
        parser.error("both networks must be edgedeblur-s networks")
    config = {"gentle": model_config_dict(gentle), "strong": model_config_dict(strong), "threshold_db": args.threshold_db, "probe": args.probe}
    pair = create_model("agreement-pair", config)
    pair.gentle.load_state_dict(gentle.state_dict())
    pair.strong.load_state_dict(strong.state_dict())
    save_model_dir(pair, "agreement-pair", args.out)
    print(f"{args.gentle} where it agrees with {args.strong} to {args.threshold_db:g} dB -> {args.out}")


if __name__ == "__main__":
    main()
