"""The realistic degradation family: reproducible, every stage sometimes off, kernels as described."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.training.data import TrainingSamples, fixed_pairs
from edgedeblur_cli.degradations.seed import DegradeConfig
from edgedeblur_cli.degradations.realistic import (
    MAX_KERNEL,
    NOISE_ONLY,
    PRESETS,
    add_noise,
    degrade_real,
    disk_kernel,
    draw_kernel,
    gaussian_kernel,
    linear_motion_kernel,
    linear_to_srgb,
    shake_kernel,
    srgb_to_linear,
    training_pair,
)
from edgedeblur_cli.names import DEGRADATIONS

from conftest import file_hash, synthetic_photo


def _extent(kernel: np.ndarray) -> int:
    ys, xs = np.nonzero(kernel > 0.05 * kernel.max())
    return int(max(np.ptp(xs), np.ptp(ys)) + 1)


def test_kernels_sum_to_one_and_have_the_size_asked_for():
    assert gaussian_kernel(3.0, 3.0, 0.0).shape == (19, 19)
    assert gaussian_kernel(4.0, 1.0, 0.5).shape == (MAX_KERNEL, MAX_KERNEL)
    assert disk_kernel(3.0).shape == (7, 7) and _extent(disk_kernel(3.0)) == 7
    assert _extent(linear_motion_kernel(9, 0.0)) == 9
    rng = np.random.default_rng(0)
    extents = [_extent(shake_kernel(MAX_KERNEL, rng)) for _ in range(8)]
    assert min(extents) >= 5 and max(extents) <= MAX_KERNEL and max(extents) >= 13, extents
    for kernel in (gaussian_kernel(1.5, 0.7, 1.0), disk_kernel(4.2), linear_motion_kernel(13.5, 2.0), shake_kernel(25, rng)):
        assert kernel.dtype == np.float32 and abs(float(kernel.sum()) - 1) < 1e-5 and kernel.min() >= 0


def test_same_rng_same_output_on_the_8_bit_grid():
    image = synthetic_photo(40, 48).astype(np.float32) / 255
    a, kind_a = degrade_real(image, np.random.default_rng([3, 1]))
    b, kind_b = degrade_real(image, np.random.default_rng([3, 1]))
    c, _ = degrade_real(image, np.random.default_rng([3, 2]))
    assert kind_a == kind_b and np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == image.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(np.round(a * 255), a * 255)  # what an 8-bit file holds


def test_every_kind_appears_and_clean_draws_leave_the_image_as_it_was():
    image = np.round(synthetic_photo(32, 32).astype(np.float32)) / 255
    kinds = Counter()
    for i in range(300):
        out, kind = degrade_real(image, np.random.default_rng([0, i]))
        blur, noise, *rest = kind.split("+")
        kinds[blur] += 1
        kinds[noise] += 1
        kinds["jpeg"] += bool(rest)
        if kind == "none+none":
            kinds["clean"] += 1
            assert np.array_equal(out, image)  # nothing to do: the sharp photo itself
    for kind in ("none", "gaussian", "defocus", "linear_motion", "shake", "seed", "poisson_gaussian", "jpeg"):
        assert kinds[kind] >= 10, kinds
    assert kinds["clean"] >= 8  # 0.3 x 0.3 x 0.65 = 6% of draws leave the photo as it was


def test_draw_kernel_never_exceeds_the_margin():
    rng = np.random.default_rng(1)
    for _ in range(100):
        _, kernel = draw_kernel(rng)
        assert kernel is None or kernel.shape[0] <= MAX_KERNEL


def test_training_pairs_and_fixed_pairs_of_the_real_family():
    photos = [synthetic_photo(80, 96, i) for i in range(3)]
    samples = TrainingSamples(photos, 24, (1.0, 2.0), 100, 0, DegradeConfig(), "real")
    sharp, degraded = samples[5]
    assert sharp.shape == degraded.shape == (3, 24, 24)
    assert torch.equal(samples[5][1], degraded)  # sample i of an epoch is fixed
    changed = sum(not torch.equal(*samples[i]) for i in range(100))
    assert 70 <= changed < 100  # most are degraded, some are left clean
    pairs = fixed_pairs(photos, 24, (1.0, 2.0), 6, seed=1, degradation="real")
    again = fixed_pairs(photos, 24, (1.0, 2.0), 6, seed=1, degradation="real")
    assert all(np.array_equal(x, y) for x, y in zip(pairs.degraded, again.degraded))
    assert pairs.sharp[0].shape == (24, 24, 3) and all(np.isnan(s) for s in pairs.sigmas)
    with pytest.raises(ValueError, match="degradation"):
        fixed_pairs(photos, 24, (1.0, 2.0), 6, seed=1, degradation="nope")


def _stages(description: str) -> list[str]:
    """A training pair's description without its leading "soft": [blur, noise, (jpegQ)]."""
    parts = description.split("+")
    return parts[1:] if parts[0] == "soft" else parts


def test_the_command_line_names_every_preset():
    assert DEGRADATIONS == ("seed", *PRESETS)


def test_the_noise_only_preset_never_blurs_and_mostly_adds_camera_grain():
    """real-noise: the family's noise and JPEG, and no blur, so a denoiser learns to keep sharpness."""
    photo = synthetic_photo(48, 48).astype(np.float32) / 255
    kinds, compressed = Counter(), 0
    for i in range(200):
        target, degraded, kind = training_pair(photo, np.random.default_rng([3, i]), NOISE_ONLY)
        blur, noise, *rest = _stages(kind)
        assert blur == "none", kind
        kinds[noise] += 1
        compressed += bool(rest)
        if kind in ("none+none", "soft+none+none"):
            assert np.array_equal(degraded, target)
    assert kinds["poisson_gaussian"] > 100 and kinds["none"] >= 10 and kinds["gaussian"] >= 40, kinds
    assert compressed > 140  # a photo as it comes is a JPEG saved after its noise (80%; the full family: 50%)
    full = [training_pair(photo, np.random.default_rng([3, i]), PRESETS["real"])[2] for i in range(20)]
    assert sum(_stages(k)[0] != "none" for k in full) >= 8  # the full family, same seeds, does blur


def test_noise_in_linear_light_is_stronger_in_dark_tones_as_a_cameras_is():
    """Real camera noise is gamma-encoded with the picture: darker tones come out noisier (PolyU: 1.27x)."""
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(x)) - x).max() < 1e-5
    ramp = np.repeat(np.linspace(0.1, 0.9, 64, dtype=np.float32)[None, :, None], 64, axis=0).repeat(3, axis=2)
    dark, bright = (slice(None), slice(4, 16)), (slice(None), slice(48, 60))

    def dark_over_bright(linear_light: float) -> float:
        config = dataclasses.replace(NOISE_ONLY, noise_none=0, noise_gaussian=0, camera_grain=0, linear_light=linear_light)
        ratios = []
        for i in range(20):
            kind, noisy = add_noise(ramp, np.random.default_rng([5, i]), config)
            assert kind == "poisson_gaussian"
            noise = noisy - ramp
            ratios.append(noise[dark].std() / noise[bright].std())
        return float(np.median(ratios))

    assert dark_over_bright(1.0) > 1.15
    assert dark_over_bright(0.0) < 0.9  # added to the sRGB values, bright tones are the noisier


def test_degrade_cli_real_preset_is_reproducible(runner, tmp_path):
    src = tmp_path / "sharp.png"
    Image.fromarray(synthetic_photo(40, 48)).save(src)
    hashes = []
    for name, seed, preset in (("a.png", "4", "real"), ("b.png", "4", "real"), ("c.png", "5", "real"), ("d.png", "4", "real-noise")):
        result = runner.invoke(main, ["degrade", str(src), "--preset", preset, "--seed", seed, "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
        hashes.append(file_hash(tmp_path / name))
    assert hashes[0] == hashes[1] != hashes[2]
    assert hashes[3] not in hashes[:3]


def test_evaluate_on_the_real_family_has_no_wiener_row(runner, tiny_model_dir, train_folder):
    args = ["evaluate", "--dataset", str(train_folder), "--crop", "16", "--degradation", "real", "--model", str(tiny_model_dir),
            "--limit", "8", "--json", "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [r["name"] for r in rows] == ["degraded input", str(tiny_model_dir)]


def test_camera_grain_is_coarse_and_mostly_luminance():
    """Real camera noise keeps about half its std after a sigma-2 blur and is mostly luminance (PolyU: 0.47, 0.88)."""
    import cv2

    from edgedeblur_cli.degradations.realistic import correlated_noise

    def left_after_blur(noise, sigma):
        return cv2.GaussianBlur(noise, (0, 0), sigma).std() / noise.std()

    rng = np.random.default_rng(0)
    coarse, luminance = [], []
    for _ in range(20):
        grain = correlated_noise((128, 128, 3), rng)
        assert grain.shape == (128, 128, 3) and abs(grain.std() - 1) < 1e-3
        coarse.append(left_after_blur(grain, 2))
        luminance.append(grain.mean(axis=2).std() / grain.std())
    # White noise: 0.14 and 0.58; a fine blur and a free colour mix (the first model): 0.37 and 0.63.
    assert np.mean(coarse) > 0.45 and np.mean(luminance) > 0.75, (np.mean(coarse), np.mean(luminance))


def _band_shares(channel: np.ndarray) -> np.ndarray:
    """Energy shares of an (H, W) noise in the bands finer than sigma 1, 1-3 and 3-8."""
    import cv2

    b1, b3, b8 = (cv2.GaussianBlur(channel, (0, 0), s) for s in (1, 3, 8))
    energy = np.array([((channel - b1) ** 2).mean(), ((b1 - b3) ** 2).mean(), ((b3 - b8) ** 2).mean()])
    return energy / energy.sum()


def test_camera_noise_is_fine_in_luminance_and_blotchy_in_colour():
    """As a camera's JPEG leaves it (PolyU: luminance 63% finer than sigma 1, colour 15%, colour 19% of the energy)."""
    from edgedeblur_cli.degradations.realistic import camera_noise, correlated_noise

    rng = np.random.default_rng(0)
    luma_fine, colour_fine, colour_share, one_grain_fine = [], [], [], []
    for _ in range(20):
        noise = camera_noise((128, 128, 3), rng)
        assert noise.shape == (128, 128, 3) and noise.dtype == np.float32 and abs(noise.std() - 1) < 1e-3
        luma = noise.mean(axis=2)
        colour = noise - luma[..., None]
        luma_fine.append(_band_shares(luma)[0])
        colour_fine.append(np.mean([_band_shares(np.ascontiguousarray(colour[..., c]))[0] for c in range(3)]))
        colour_share.append((colour**2).mean() / (noise**2).mean())
        one_grain_fine.append(_band_shares(correlated_noise((128, 128, 3), rng).mean(axis=2))[0])
    assert np.mean(luma_fine) > 0.55 and np.mean(colour_fine) < 0.25, (np.mean(luma_fine), np.mean(colour_fine))
    assert 0.05 < np.mean(colour_share) < 0.35
    assert np.mean(one_grain_fine) < 0.5  # the older grain is coarser in luminance than a camera's


def test_the_noise_only_preset_draws_its_grain_as_a_cameras_jpeg_leaves_it():
    """real-noise's grain is camera_noise's: most of its luminance energy is finer than sigma 1."""
    config = dataclasses.replace(NOISE_ONLY, noise_none=0, noise_gaussian=0, camera_grain=1.0, linear_light=0)
    flat = np.full((64, 64, 3), 0.5, np.float32)
    fine = []
    for i in range(20):
        kind, noisy = add_noise(flat, np.random.default_rng([6, i]), config)
        assert kind == "poisson_gaussian"
        fine.append(_band_shares((noisy - flat).mean(axis=2))[0])
    assert np.mean(fine) > 0.55, np.mean(fine)  # the older grain: about 0.4


def test_some_targets_carry_a_cameras_softness():
    """A quarter of training targets are the photo a little softened; the rest are the photo itself."""
    from edgedeblur_cli.degradations.realistic import training_pair

    image = np.round(synthetic_photo(48, 48).astype(np.float32)) / 255
    soft = 0
    for i in range(200):
        target, degraded, kind = training_pair(image, np.random.default_rng([3, i]))
        assert target.shape == degraded.shape == image.shape
        if kind.startswith("soft+"):
            soft += 1
            assert np.abs(np.diff(target, axis=1)).mean() < np.abs(np.diff(image, axis=1)).mean()
        else:
            assert np.array_equal(target, image)
    assert 30 <= soft <= 70, soft
