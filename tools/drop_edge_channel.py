"""An ``edgedeblur-s-noedge`` model folder from an ``edgedeblur-s`` one: the same weights without the edge channel.

For the retrained edge-channel ablation: both arms start from the same trained weights, the
ablated one with the edge map's input weights of the first convolution removed (the edge
branch it keeps is unused). Usage: python tools/drop_edge_channel.py edgedeblur-blind runs/noedge-init
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgedeblur_cli.models import create_model, model_config_dict
from edgedeblur_cli.weights import load_folder_or_published, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a published edgedeblur-s-architecture name (edgedeblur-blind) or a model folder")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    trained = load_folder_or_published(args.source)
    config = {k: v for k, v in model_config_dict(trained).items() if k != "use_edges"}
    ablated = create_model("edgedeblur-s-noedge", config)
    state = trained.state_dict()
    # The head sees the pixel-unshuffled [R, G, B, edges]: 4 sub-pixels per channel, edges last.
    state["head.weight"] = state["head.weight"][:, : 3 * 4].clone()
    ablated.load_state_dict(state)
    save_model_dir(ablated, "edgedeblur-s-noedge", args.out)
    print(f"{args.source} without its edge channel -> {args.out}")


if __name__ == "__main__":
    main()
