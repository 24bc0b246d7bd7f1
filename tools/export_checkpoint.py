"""Write the latest weights of a training run's checkpoint as a model folder, for `train --init`.

A run folder's model.safetensors holds its best epoch by validation; this takes the weights the
run ended on instead (say, a run stopped by hand while its validation set was not yet the one
to judge by). Usage: python tools/export_checkpoint.py runs/blind2 runs/blind2-latest
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from edgedeblur_cli.weights import CONFIG_FILE, WEIGHTS_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    # Our own checkpoint, written by `edgedeblur train` on this machine: never a file from the network.
    payload = torch.load(args.run / "checkpoint.pt", map_location="cpu", weights_only=False)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in payload["model"].items()}, str(args.out / WEIGHTS_FILE))
    shutil.copy(args.run / CONFIG_FILE, args.out / CONFIG_FILE)
    state = json.loads(payload["state"])
    print(f"{args.run}/checkpoint.pt (after epoch {state['epoch']}) -> {args.out}")


if __name__ == "__main__":
    main()
