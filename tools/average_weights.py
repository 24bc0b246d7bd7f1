"""Average the weights of trained networks of one architecture and size (a "model soup").

Fine-tunes that start from the same weights stay close enough that the mean of their tensors is
itself a good network, most often between them on what each was better at (Wortsman et al.,
"Model soups", 2022). ``edgedeblur-denoise`` v0.3.0 is the mean of two sibling fine-tunes, one
better on real camera noise and one on white noise. Floating-point tensors are averaged in
float64 and stored in their own dtype; integer buffers (counters) are taken from the first.
Usage: python tools/average_weights.py runs/split-e runs/split-f runs/soup
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from edgedeblur_cli.models import EdgeDeblurS, model_config_dict
from edgedeblur_cli.weights import load_folder_or_published, save_model_dir


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same keys and shapes."""
    if any(s.keys() != states[0].keys() for s in states):
        raise ValueError("the networks do not have the same tensors")
    mean = {}
    for name, first in states[0].items():
        if any(s[name].shape != first.shape for s in states):
            raise ValueError(f"{name}: the networks are not the same size")
        if first.is_floating_point():
            mean[name] = (sum(s[name].double() for s in states) / len(states)).to(first.dtype)
        else:
            mean[name] = first.clone()
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders or published names, at least two")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give at least two networks to average")
    networks = [load_folder_or_published(name) for name in args.models]
    if not all(isinstance(n, EdgeDeblurS) for n in networks):
        parser.error("every network must be an edgedeblur-s network")
    if any(model_config_dict(n) != model_config_dict(networks[0]) for n in networks):
        parser.error("the networks must have the same configuration")
    soup = networks[0]  # one configuration, so the same tensors and shapes: the mean cannot fail
    soup.load_state_dict(average_state_dicts([n.state_dict() for n in networks]))
    save_model_dir(soup, "edgedeblur-s", args.out, extra={"averaged_from": [str(m) for m in args.models]})
    print(f"mean of {', '.join(args.models)} -> {args.out}")


if __name__ == "__main__":
    main()
