"""Grow a trained edgedeblur-s network by middle blocks that start as the identity, for `train --init`.

The grown network gives exactly the trained one's outputs (``models.edgedeblur_s.grow_middle``),
so a fine-tune of it starts where the trained model is, with more capacity at quarter resolution.
Usage: python tools/grow_model.py edgedeblur-blind runs/blind-m10 --middle-blocks 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from edgedeblur_cli.models import EdgeDeblurS
from edgedeblur_cli.models.edgedeblur_s import grow_middle
from edgedeblur_cli.weights import load_folder_or_published, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a model folder or a published name (edgedeblur-s architecture)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--middle-blocks", type=int, required=True)
    args = parser.parse_args()
    trained = load_folder_or_published(args.source)
    if not isinstance(trained, EdgeDeblurS):
        parser.error(f"{args.source} is not an edgedeblur-s network")
    torch.manual_seed(0)  # the new blocks' inner weights (their outputs are scaled by zero at first)
    grown = grow_middle(trained, args.middle_blocks)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        difference = (grown(x) - trained(x)).abs().max().item()
    save_model_dir(grown, "edgedeblur-s", args.out)
    print(f"{args.source} -> {args.out}: {args.middle_blocks} middle blocks; outputs differ by {difference:.1e}")


if __name__ == "__main__":
    main()
