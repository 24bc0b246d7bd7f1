"""Shared fixtures: small synthetic photos, a tiny model folder, a CLI runner."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from edgedeblur_cli.models import create_model
from edgedeblur_cli.weights import save_model_dir

TINY_CONFIG = {
    "width": 8,
    "encoder_blocks": 1,
    "middle_blocks": 1,
    "decoder_blocks": 1,
    "edge": {"channels": 4, "layers": 2},
}


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: smooth gradients plus a few sharp-edged rectangles, like a simple photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack(
        [0.5 + 0.4 * np.sin(xx / (7 + 3 * c) + yy / (11 + c) + rng.random() * 6) for c in range(3)], axis=2
    )
    for _ in range(4):
        y0, x0 = rng.integers(0, max(1, height - 4)), rng.integers(0, max(1, width - 4))
        h, w = rng.integers(2, max(3, height // 2)), rng.integers(2, max(3, width // 2))
        image[y0 : y0 + h, x0 : x0 + w] = rng.random(3)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_tiny_model(seed: int = 0, perturb: bool = True) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("edgedeblur-s", TINY_CONFIG)
    if perturb:  # the tail starts at zero (identity model); give it a real, non-trivial output
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-model")
    save_model_dir(make_tiny_model(), "edgedeblur-s", directory)
    return directory


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    """A folder with three small PNG/JPEG photos, one in a sub-folder."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(synthetic_photo(40, 56, 1)).save(folder / "a.png")
    Image.fromarray(synthetic_photo(40, 56, 2)).save(folder / "b.jpg", quality=95)
    Image.fromarray(synthetic_photo(33, 47, 3)).save(folder / "sub" / "c.png")
    return folder


@pytest.fixture
def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps stderr apart
        return CliRunner()


@pytest.fixture
def train_folder(tmp_path) -> Path:
    folder = tmp_path / "train-photos"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(synthetic_photo(64, 80, 10 + i)).save(folder / f"p{i}.png")
    return folder
