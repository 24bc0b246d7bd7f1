"""Write the latest weights of a training run's checkpoint as a model folder, for `train --init`.

A run folder's model.safetensors holds its best epoch by validation; this takes the weights the
run ended on instead (say, a run stopped by hand while its validation set was not yet the one
to judge by). Usage: python tools/export_checkpoint.py runs/blind2 runs/blind2-latest
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgedeblur_cli.training.checkpoint import CHECKPOINT_FILE, checkpoint_state, load_checkpoint
from edgedeblur_cli.models import create_model
from edgedeblur_cli.weights import CONFIG_FILE, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    config = json.loads((args.run / CONFIG_FILE).read_text())
    payload = load_checkpoint(args.run / CHECKPOINT_FILE)  # the trainer's own reader: tensors only
    model = create_model(config["architecture"], config.get("config", {}))
    model.load_state_dict(payload["model"])
    # The project's writer: atomic files and a SHA256SUMS that `--init` checks.
    save_model_dir(model, config["architecture"], args.out)
    print(f"{args.run}/{CHECKPOINT_FILE} (after epoch {checkpoint_state(payload).epoch}) -> {args.out}")


if __name__ == "__main__":
    main()
