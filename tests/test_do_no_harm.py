"""The shipped default, its deblurring and its denoising weights on real photos: a clean one comes back as it was, a noisy one closer.

The photos are held-out BSDS500 test photos and a real camera-noise pair from ``../shared/data``
(CI has it beside the clone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgedeblur_cli.names import DEFAULT_MODEL
from edgedeblur_cli.restoring.restore import load_model, restore_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_PHOTOS = DATA / "BSDS500-train-test" / "test"
REAL_NOISE = DATA / "real-noise-dev"
pytestmark = pytest.mark.skipif(not TEST_PHOTOS.is_dir(), reason=f"needs the shared test photos in {DATA}")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255**2
    return float(10 * np.log10(1 / max(mse, 1e-12)))


def _photos(count: int = 4) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB"))[:240, :240] for p in sorted(TEST_PHOTOS.glob("*.jpg"))[:count]]


@pytest.fixture(scope="module", params=[DEFAULT_MODEL, "edgedeblur-blind", "edgedeblur-denoise"])
def shipped_model(request):
    return load_model(request.param, device="cpu")


def test_clean_photos_come_back_nearly_unchanged(shipped_model):
    photos = _photos()
    restored = [restore_image(p, shipped_model) for p in photos]
    mse = np.mean([np.mean((r.astype(np.float64) - p) ** 2) for r, p in zip(restored, photos)]) / 255**2
    assert 10 * np.log10(1 / mse) >= 38.0
    assert all(_psnr(r, p) >= 35.0 for r, p in zip(restored, photos))  # and none much changed


def test_noisy_photos_come_back_closer_to_their_originals(shipped_model):
    rng = np.random.default_rng(0)
    for photo in _photos():
        noisy = np.clip(np.round(photo + rng.standard_normal(photo.shape) * 0.02 * 255), 0, 255).astype(np.uint8)
        assert _psnr(restore_image(noisy, shipped_model), photo) > _psnr(noisy, photo) + 1.0


def test_real_camera_noise_comes_back_closer(shipped_model):
    name = sorted(p.name for p in (REAL_NOISE / "noisy").glob("*.jpg"))[0]
    noisy = np.asarray(Image.open(REAL_NOISE / "noisy" / name).convert("RGB"))[:256, :256]
    clean = np.asarray(Image.open(REAL_NOISE / "clean" / name).convert("RGB"))[:256, :256]
    assert _psnr(restore_image(noisy, shipped_model), clean) > _psnr(noisy, clean)


def test_the_default_deblurs_a_blurred_photo():
    """The default's probes see the blur and hand the photo to the deblurrer (the denoiser gains
    under 0.2 dB here); 300 px sides, so the choice is made on a probe before the photo is restored."""
    import cv2

    model = load_model(DEFAULT_MODEL, device="cpu")
    rng = np.random.default_rng(1)
    for path in sorted(TEST_PHOTOS.glob("*.jpg"))[:2]:
        photo = np.asarray(Image.open(path).convert("RGB"))[:300, :300]
        blurred = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), 2.0) + rng.standard_normal(photo.shape) * 0.005 * 255
        blurred = np.clip(np.round(blurred), 0, 255).astype(np.uint8)
        assert _psnr(restore_image(blurred, model), photo) > _psnr(blurred, photo) + 1.0
