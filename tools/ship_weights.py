"""Copy a trained model folder into weights/NAME and record its SHA-256 in weights/manifest.json.

Usage: python tools/ship_weights.py runs/edgedeblur-s edgedeblur-s [--hub-repo edgedeblur/edgedeblur-s] [--revision v0.3.0]
The model card (weights/NAME/README.md) is written by hand beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgedeblur_cli.weights import CONFIG_FILE, WEIGHTS_FILE, load_model_dir, save_model_dir, sha256_file

ROOT = Path(__file__).resolve().parents[1]
REVISION = "v0.3.0"  # the default tag we publish a model repo under (a new one for new weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--hub-repo")
    parser.add_argument("--revision", default=REVISION, help=f"the Hub tag of these weights (default {REVISION})")
    args = parser.parse_args()
    model = load_model_dir(args.run)
    config = json.loads((args.run / CONFIG_FILE).read_text())
    target = ROOT / "weights" / args.name
    target.mkdir(parents=True, exist_ok=True)
    # Re-save without the training extras so the shipped config is just architecture + config.
    save_model_dir(model, config["architecture"], target)
    manifest_path = ROOT / "weights" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"models": {}}
    manifest["models"][args.name] = {
        "hub_repo": args.hub_repo or f"edgedeblur/{args.name}",
        "revision": args.revision,
        "files": {f: sha256_file(target / f) for f in (CONFIG_FILE, WEIGHTS_FILE)},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {args.run} as {target}")


if __name__ == "__main__":
    main()
