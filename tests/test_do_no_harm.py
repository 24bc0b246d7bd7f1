"""The shipped default weights on real photos: a clean one comes back as it was, a noisy one comes back closer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgedeblur_cli.names import DEFAULT_MODEL
from edgedeblur_cli.restore import load_model, restore_image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sharp"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255**2
    return float(10 * np.log10(1 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def default_model():
    return load_model(DEFAULT_MODEL, device="cpu")


@pytest.mark.parametrize("name", ["signboard", "skyline", "still_life"])
def test_a_clean_photo_comes_back_nearly_unchanged(default_model, name):
    photo = np.asarray(Image.open(EXAMPLES / f"{name}.png").convert("RGB"))
    assert _psnr(restore_image(photo, default_model), photo) >= 38.0


@pytest.mark.parametrize("name", ["signboard", "skyline", "still_life"])
def test_a_noisy_photo_comes_back_closer_to_its_original(default_model, name):
    photo = np.asarray(Image.open(EXAMPLES / f"{name}.png").convert("RGB"))
    noise = np.random.default_rng(0).standard_normal(photo.shape) * 0.02 * 255
    noisy = np.clip(np.round(photo + noise), 0, 255).astype(np.uint8)
    before, after = _psnr(noisy, photo), _psnr(restore_image(noisy, default_model), photo)
    assert after > before + 1.0, (before, after)
