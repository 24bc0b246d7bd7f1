from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.degradations.seed import DegradeConfig, degrade_batch, degrade_image, degrade_random, parse_sigma
from edgedeblur_cli.edges import canny_target

from conftest import file_hash, synthetic_photo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("sigma", [1.0, 2.37, 4.0])
@pytest.mark.parametrize("shape", [(32, 32), (19, 41)])
def test_torch_batch_matches_opencv_within_1e5(sigma, shape):
    rng = np.random.default_rng(0)
    images = rng.random((3, *shape, 3)).astype(np.float32)
    noise = rng.standard_normal(images.shape).astype(np.float32)
    reference = np.stack([degrade_image(im, sigma, n) for im, n in zip(images, noise)])
    as_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2)
    batched, _ = degrade_batch(as_tensor(images), sigmas=torch.full((3,), sigma), noise=as_tensor(noise))
    assert np.abs(batched.permute(0, 2, 3, 1).numpy() - reference).max() < 1e-5


def test_per_image_sigmas_and_generator_reproducibility():
    x = torch.rand(4, 3, 16, 16)
    a, sa = degrade_batch(x, generator=torch.Generator().manual_seed(3))
    b, sb = degrade_batch(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(sa, sb)
    assert sa.min() >= 1 and sa.max() <= 4 and len(set(sa.tolist())) == 4


def test_degradation_is_not_clipped():
    white = np.ones((16, 16, 3), np.float32)
    out, _ = degrade_random(white, np.random.default_rng(0))
    assert out.max() > 1.0  # the seed added noise without clipping


def test_parse_sigma_and_config_checks():
    assert parse_sigma("2.5") == (2.5, 2.5)
    assert parse_sigma("1:4") == (1.0, 4.0)
    with pytest.raises(ValueError):
        parse_sigma("a:b")
    with pytest.raises(ValueError):
        DegradeConfig(kernel_size=4)
    with pytest.raises(ValueError):
        DegradeConfig(sigma_min=3, sigma_max=2)


def test_canny_target_is_the_seed_formula():
    # Real photos (the examples' sharp originals; one softened), whose edge strengths straddle
    # the seed's thresholds, so other thresholds give other maps.
    def canny(image, low, high):
        return cv2.Canny((255 * image).astype(np.uint8), low, high) / 255

    other_thresholds = set()
    for name, soften in (("signboard", 0), ("still_life", 2)):
        image = np.asarray(Image.open(EXAMPLES / "sharp" / f"{name}.png").convert("RGB")).astype(np.float32) / 255
        if soften:
            image = cv2.GaussianBlur(image, (0, 0), soften)
        target = canny_target(image)
        assert target.shape == image.shape[:2] and set(np.unique(target)) <= {0.0, 1.0} and target.sum() > 0
        assert np.array_equal(target, canny(image, 100, 200))
        other_thresholds |= {(low, high) for low, high in ((50, 150), (100, 250)) if not np.array_equal(target, canny(image, low, high))}
    assert other_thresholds == {(50, 150), (100, 250)}


def test_degrade_cli_same_seed_same_bytes(tmp_path, runner):
    src = tmp_path / "sharp.png"
    Image.fromarray(synthetic_photo(30, 40)).save(src)
    outs = []
    for name, seed in [("a.png", "1"), ("b.png", "1"), ("c.png", "2")]:
        result = runner.invoke(main, ["degrade", str(src), "--seed", seed, "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        outs.append(file_hash(tmp_path / name))
    assert outs[0] == outs[1] != outs[2]


def test_degrade_cli_writes_the_reference_degradation(tmp_path, runner):
    src = tmp_path / "sharp.png"
    pixels = synthetic_photo(30, 40)
    Image.fromarray(pixels).save(src)
    result = runner.invoke(main, ["degrade", str(src), "--sigma", "2", "--noise", "0", "--seed", "0"])
    assert result.exit_code == 0, result.output
    written = np.asarray(Image.open(tmp_path / "sharp_degraded.png")).astype(np.float32) / 255
    expected = degrade_image(pixels.astype(np.float32) / 255, 2.0, None)
    assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6
