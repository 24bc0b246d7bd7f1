"""The kernel path: the PSF convention, deconvolution with a known kernel, blind estimation, the
default's route, and bad kernels on the command line.

Photos are held-out BSDS500 test crops from ``../shared/data`` (CI has it beside the clone);
the prior is the shipped edgedeblur-prior.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.deconvolution.deconvolve import BLOB_SCHEDULE, JPEG_BLOB_NOISE_SCALE, DeconvolutionOptions, blur, deconvolve, schedule_for, wiener
from edgedeblur_cli.deconvolution.estimate import EstimationOptions, KernelEstimate, estimate_kernel, kernel_agreement
from edgedeblur_cli.deconvolution.route import BLIND_DECONVOLUTION, CANDIDATES, RANKING_DECONVOLUTION, PRIOR_MODEL, BlindRule, deconvolve_pixels, estimate_for, route_photo, takes_kernel_path
from edgedeblur_cli.deconvolution.kernels import KernelError, centered, defocus_kernel, gaussian_kernel, kernel_radius, motion_kernel, normalized, read_kernel
from edgedeblur_cli.device import native_bfloat16
from edgedeblur_cli.restoring.restore import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_PHOTOS = DATA / "BSDS500-train-test" / "test"
needs_photos = pytest.mark.skipif(not TEST_PHOTOS.is_dir(), reason=f"needs the shared test photos in {DATA}")


OPEN_RULE = BlindRule(
    min_radius=0, min_confidence=0, min_residual=0, max_residual=1e9, min_sharpening=0, min_spectral_agreement=-1, min_orientation_margin=-2
)  # every check open


def _given(kernel: np.ndarray, side: int = 160, details: dict | None = None) -> KernelEstimate:
    """A confident estimate of ``kernel`` over the photo's top-left ``side`` x ``side`` region, as
    the rule's checks see one (``details``: what ``estimate_for`` would have recorded)."""
    return KernelEstimate(kernel, 1.0, kernel_radius(kernel), (0, 0, side, side), details or {})


def _photo(index: int = 0, size: int = 160) -> np.ndarray:
    """(size, size, 3) float32 in [0, 1]: a crop of a held-out test photo."""
    path = sorted(TEST_PHOTOS.glob("*.jpg"))[index]
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)[:size, :size] / 255


def _blurred(sharp: np.ndarray, kernel: np.ndarray, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """``sharp`` (*) ``kernel`` (replicated border) + noise, rounded to 8 bits like a file."""
    image = torch.from_numpy(sharp).permute(2, 0, 1)[None]
    out = blur(image, torch.from_numpy(kernel).float())[0].permute(1, 2, 0).numpy()
    out = out + noise * np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.float32) / 255


def _psnr(a: np.ndarray, b: np.ndarray, crop: int = 12) -> float:
    a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    return float(10 * np.log10(1 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def _shake() -> np.ndarray:
    """An asymmetric camera-shake-like path (an L with a tail): flipping it by 180 degrees changes it."""
    k = np.zeros((15, 15))
    k[3, 3:12] = 1.0
    k[3:11, 11] = 0.6
    k[10, 11:14] = 0.3
    return normalized(k)


def _arc(direction: float, radius: float = 8.0, span: float = 120.0, size: int = 21) -> np.ndarray:
    """A curved camera path: an arc of ``span`` degrees whose chord runs at ``direction`` degrees
    (counter-clockwise; its second moments point there too), bulging to one side."""
    k = np.zeros((size, size))
    normal = np.radians(direction + 90)
    for t in np.radians(np.linspace(-span / 2, span / 2, 400)):
        x = size // 2 + radius * (np.cos(normal + t) - np.cos(normal))
        y = size // 2 - radius * (np.sin(normal + t) - np.sin(normal))
        k[int(round(y)), int(round(x))] += 1
    return normalized(k)


def _bent(length: float, direction: float, sagitta: float, size: int = 31) -> np.ndarray:
    """A path of ``length`` px whose chord runs at ``direction`` degrees, bowed ``sagitta`` px off
    it at the middle (a parabola), drawn with bilinear weights."""
    k = np.zeros((size, size))
    c, theta = size // 2, np.radians(direction)
    for t in np.linspace(-0.5, 0.5, 800):
        along, side = t * length, sagitta * (1 - 4 * t * t)
        x = c + along * np.cos(theta) - side * np.sin(theta)
        y = c - (along * np.sin(theta) + side * np.cos(theta))
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        k[y0 : y0 + 2, x0 : x0 + 2] += np.outer([1 - fy, fy], [1 - fx, fx])
    return normalized(k)


@pytest.fixture(scope="module")
def prior():
    return load_model(PRIOR_MODEL, device="cpu")


# ---------------------------------------------------------------- kernels and the convention


def test_the_kernel_is_the_point_spread_function():
    """Blurring a single bright point gives back the kernel itself, not its mirror image."""
    kernel = _shake()
    point = torch.zeros(1, 1, 31, 31)
    point[..., 15, 15] = 1
    image = blur(point, torch.from_numpy(kernel).float())[0, 0].numpy()
    rh, rw = kernel.shape[0] // 2, kernel.shape[1] // 2
    assert np.allclose(image[15 - rh : 15 + rh + 1, 15 - rw : 15 + rw + 1], kernel, atol=1e-6)


def test_parametric_kernels_have_their_shape():
    horizontal, vertical = motion_kernel(9, 0), motion_kernel(9, 90)
    assert np.isclose(horizontal.sum(), 1) and np.isclose(vertical.sum(), 1)
    assert np.ptp(np.nonzero(horizontal > 0.01)[1]) >= 8 and np.ptp(np.nonzero(horizontal > 0.01)[0]) <= 1
    assert np.ptp(np.nonzero(vertical > 0.01)[0]) >= 8 and np.ptp(np.nonzero(vertical > 0.01)[1]) <= 1
    rising = motion_kernel(9, 45)  # counter-clockwise: up and to the right, so rows fall as columns grow
    ys, xs = np.nonzero(rising > 0.05)
    assert np.corrcoef(xs, ys)[0, 1] < -0.9
    assert kernel_radius(gaussian_kernel(2.0)) == pytest.approx(2.0 * np.sqrt(2), rel=0.05)
    assert kernel_radius(defocus_kernel(3.0)) == pytest.approx(3.0 / np.sqrt(2), rel=0.1)


def test_kernel_files_read_and_normalise(tmp_path):
    kernel = _shake()
    np.save(tmp_path / "k.npy", kernel * 7)
    Image.fromarray(np.round(kernel / kernel.max() * 255).astype(np.uint8)).save(tmp_path / "k.png")
    assert np.allclose(read_kernel(tmp_path / "k.npy"), kernel)
    assert np.allclose(read_kernel(tmp_path / "k.png"), kernel, atol=2e-3)
    for bad, reason in ((-np.ones((3, 3)), "negative"), (np.zeros((3, 3)), "all zeros"), (np.full((3, 3), np.nan), "NaN")):
        with pytest.raises(KernelError, match=reason):
            normalized(bad, "k")


def test_centering_moves_the_centroid_to_the_middle():
    k = np.zeros((9, 9))
    k[0, 0] = 1
    assert centered(k)[4, 4] == 1


# ---------------------------------------------------------------- deconvolution with a known kernel


@needs_photos
def test_known_kernel_beats_wiener_with_the_same_kernel(prior):
    sharp = _photo(0)
    kernel = motion_kernel(11, 30)
    blurred = _blurred(sharp, kernel)
    ours = deconvolve_pixels(blurred, kernel, prior)
    x = torch.from_numpy(blurred).permute(2, 0, 1)[None].double()
    pad = 2 * kernel.shape[0]
    padded = torch.nn.functional.pad(x, (pad,) * 4, mode="reflect")
    best_wiener = max(
        _psnr(wiener(padded, torch.from_numpy(kernel), nsr)[0, :, pad:-pad, pad:-pad].permute(1, 2, 0).clamp(0, 1).numpy(), sharp)
        for nsr in (1e-3, 3e-3, 1e-2, 3e-2)
    )
    assert _psnr(ours, sharp) > best_wiener + 1.0
    assert _psnr(ours, sharp) > _psnr(blurred, sharp) + 1.0


def test_a_known_kernel_gets_the_schedule_of_its_shape():
    blob = replace(DeconvolutionOptions(), **BLOB_SCHEDULE)
    assert blob.iterations > DeconvolutionOptions().iterations and blob.start_sigma > DeconvolutionOptions().start_sigma
    for kernel in (defocus_kernel(3.0), gaussian_kernel(3.0), gaussian_kernel(1.5)):
        assert schedule_for(kernel) == blob
    for kernel in (motion_kernel(9, 30), motion_kernel(25, 100), _shake()):
        assert schedule_for(kernel) == DeconvolutionOptions()
    assert schedule_for(defocus_kernel(3.0), DeconvolutionOptions(tile=256)) == replace(blob, tile=256)
    # From a JPEG file the photo reads less noisy than it is; the longer schedule is told more.
    assert schedule_for(defocus_kernel(3.0), compressed=True) == replace(blob, noise_scale=JPEG_BLOB_NOISE_SCALE)
    assert JPEG_BLOB_NOISE_SCALE > 1
    assert schedule_for(_shake(), compressed=True) == DeconvolutionOptions()


@needs_photos
def test_blobs_deconvolve_better_with_their_schedule_and_paths_with_theirs(prior):
    """Why the schedule goes by shape (research log 2026-12-07): DPIR's 8 rounds from 49/255
    rebuild a defocused photo's detail better, and smooth a motion-blurred one's away. Crops where
    each shows (the mean over 16 training photos: defocus +0.32 dB, motion -0.80)."""
    blob, path = schedule_for(defocus_kernel(3.0)), DeconvolutionOptions()
    for kernel, better, worse, crops, margin in ((defocus_kernel(3.0), blob, path, (1, 4, 5), 0.2), (motion_kernel(9, 30), path, blob, (1, 3, 4), 1.0)):
        gains = []
        for index in crops:
            sharp = _photo(index)
            blurred = _blurred(sharp, kernel)
            as_given = deconvolve_pixels(blurred, kernel, prior)
            assert np.array_equal(as_given, deconvolve_pixels(blurred, kernel, prior, options=better))  # the default picks it
            gains.append(_psnr(as_given, sharp) - _psnr(deconvolve_pixels(blurred, kernel, prior, options=worse), sharp))
        assert np.mean(gains) > margin


@needs_photos
def test_a_kernel_flipped_by_180_degrees_scores_worse(prior):
    sharp = _photo(1)
    kernel = _shake()
    blurred = _blurred(sharp, kernel)
    right = _psnr(deconvolve_pixels(blurred, kernel, prior), sharp)
    flipped = _psnr(deconvolve_pixels(blurred, kernel[::-1, ::-1].copy(), prior), sharp)
    assert right > flipped + 1.0


@needs_photos
def test_tiled_deconvolution_matches_the_whole(prior):
    image = torch.from_numpy(_photo(2, 200)).permute(2, 0, 1)[None]
    kernel = motion_kernel(7, 10)
    whole = deconvolve(image, kernel, prior, 0.01, DeconvolutionOptions(tile=1024))
    tiled = deconvolve(image, kernel, prior, 0.01, DeconvolutionOptions(tile=64))
    assert (whole - tiled).abs().mean() < 2e-3


@needs_photos
@pytest.mark.parametrize("tile", [64, 1024])
def test_decoded_integers_deconvolve_as_their_floats_do(prior, tile):
    """``--kernel`` hands the deconvolution a photo's decoded 8- or 16-bit pixels, which it
    converts a window at a time (a float copy of a 12 MP photo is 144 MB)."""
    blurred = _blurred(_photo(2, 200), motion_kernel(7, 10))
    options = DeconvolutionOptions(tile=tile, precision="float32")
    as_float = deconvolve_pixels(blurred, motion_kernel(7, 10), prior, None, options)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        decoded = np.round(blurred * top).astype(dtype)
        assert np.abs(deconvolve_pixels(decoded, motion_kernel(7, 10), prior, None, options) - as_float).max() < 1e-4


@needs_photos
def test_restore_with_a_kernel_keeps_16_bits(runner, tmp_path):
    kernel = motion_kernel(9, 20)
    sharp = _photo(5, 160)
    cv2.imwrite(str(tmp_path / "deep.png"), np.round(_blurred(sharp, kernel)[..., ::-1] * 65535).astype(np.uint16))
    result = runner.invoke(main, ["restore", str(tmp_path / "deep.png"), "--motion", "9,20"])
    assert result.exit_code == 0, result.output
    restored = cv2.imread(str(tmp_path / "deep_restored.png"), cv2.IMREAD_UNCHANGED)
    assert restored.dtype == np.uint16
    assert _psnr(restored[..., ::-1].astype(np.float32) / 65535, sharp) > _psnr(_blurred(sharp, kernel), sharp) + 2


@needs_photos
def test_the_prior_in_bfloat16_deconvolves_as_float32_does(prior):
    sharp = _photo(3)
    kernel = _shake()
    image = torch.from_numpy(_blurred(sharp, kernel)).permute(2, 0, 1)[None]
    single = deconvolve(image, kernel, prior, 0.01, DeconvolutionOptions(precision="float32"))
    half = deconvolve(image, kernel, prior, 0.01, DeconvolutionOptions(precision="bfloat16"))
    assert (single - half).abs().max() > 0  # bfloat16 did run
    assert (single - half).abs().mean() < 1 / 255
    as_photo = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    assert abs(_psnr(as_photo(half), sharp) - _psnr(as_photo(single), sharp)) < 0.1


@needs_photos
def test_a_kernel_a_little_off_rings_less_deconvolved_as_if_noisier(prior):
    """Why the blind route deconvolves at 1.5x the noise: an estimate is a little off (here
    softer than the truth, as estimates run), and the prior's extra smoothing beats the ringing."""
    for index in (1, 4):
        sharp = _photo(index)
        kernel = _shake()
        blurred = _blurred(sharp, kernel)
        softer = normalized(cv2.GaussianBlur(kernel, (0, 0), 0.7))
        as_given = _psnr(deconvolve_pixels(blurred, softer, prior), sharp)
        doubted = _psnr(deconvolve_pixels(blurred, softer, prior, options=BLIND_DECONVOLUTION), sharp)
        assert doubted > as_given + 0.2
    assert BLIND_DECONVOLUTION.noise_scale > 1
    with pytest.raises(ValueError, match="noise_scale"):
        DeconvolutionOptions(noise_scale=0)


def test_precision_is_checked_and_bfloat16_is_native_only_on_a_cpu_that_has_it():
    with pytest.raises(ValueError, match="precision"):
        DeconvolutionOptions(precision="float16")
    assert not native_bfloat16(torch.device("cuda"))
    assert native_bfloat16(torch.device("cpu")) == (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


# ---------------------------------------------------------------- blind estimation and the default's route


@needs_photos
def test_the_estimator_recovers_a_motion_kernel():
    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(3, 320), kernel)
    estimate = estimate_kernel(blurred)
    assert kernel_agreement(estimate.kernel, kernel) > 0.8
    assert takes_kernel_path(estimate)


def test_the_solvers_shared_transforms_give_what_they_would_compute():
    """The estimator transforms each scale's blurred image once for all its rounds
    (``latent_spectra``, ``blurred_spectra``): the same result, to the bit, as each solver's own."""
    from edgedeblur_cli.deconvolution.latent import gradients, l0_latent, latent_spectra, solve_kernel

    rng = np.random.default_rng(0)
    blurred, sharp = rng.random((48, 40)), rng.random((48, 40))
    kernel = motion_kernel(7, 30).astype(np.float64)
    assert np.array_equal(l0_latent(blurred, kernel, 4e-3, spectra=latent_spectra(blurred)), l0_latent(blurred, kernel, 4e-3))
    (px, py), (bx, by) = gradients(sharp), gradients(blurred)
    shared = (np.fft.rfft2(bx), np.fft.rfft2(by))
    assert np.array_equal(solve_kernel(px, py, bx, by, 9, 0.2, shared), solve_kernel(px, py, bx, by, 9, 0.2))
    assert not np.array_equal(l0_latent(blurred, kernel, 4e-3, spectra=latent_spectra(sharp)), l0_latent(blurred, kernel, 4e-3))


def test_fft_friendly_sizes_are_the_nearest_with_small_prime_factors():
    from edgedeblur_cli.deconvolution.estimate import fft_friendly

    assert [fft_friendly(n) for n in (113, 226, 57, 283, 320, 160, 17)] == [112, 225, 56, 280, 320, 160, 16]
    for n in range(16, 700):
        m = fft_friendly(n)
        assert all(p <= 7 for p in _prime_factors(m)), n
        assert not any(all(p <= 7 for p in _prime_factors(c)) for c in range(n - abs(m - n) + 1, n + abs(m - n)) if c >= 16), n


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


def test_the_pyramid_below_the_region_takes_fft_friendly_shapes(monkeypatch):
    """The coarser scales are sized for fast FFTs (a prime side costs NumPy several times as much);
    the region itself is fitted as cut."""
    from edgedeblur_cli.deconvolution import estimate as estimate_module

    shapes, resize = [], estimate_module._resize
    monkeypatch.setattr(estimate_module, "_resize", lambda image, shape: shapes.append(tuple(shape)) or resize(image, shape))
    rng = np.random.default_rng(1)
    sharp = cv2.GaussianBlur(rng.random((226, 226, 3)).astype(np.float32), (0, 0), 2)
    estimate_kernel(np.clip(_blurred(sharp, motion_kernel(9, 30)), 0, 1), EstimationOptions(kernel_size=35, region=226, regions=1))
    sides = {side for shape in shapes for side in shape}
    assert 226 in sides and 112 in sides and 113 not in sides
    assert all(all(p <= 7 for p in _prime_factors(side)) for side in sides - {226}), sorted(sides)


@needs_photos
@pytest.mark.parametrize("angle", [30, 150])
def test_the_cepstrum_measures_a_straight_motion(angle):
    """Length and direction of a straight motion from the zeros it leaves in the spectrum; 30 and
    150 degrees are each other's mirror images, so a flipped axis fails one of them."""
    from edgedeblur_cli.deconvolution.straight import angle_difference, cepstral_line

    line = cepstral_line(_blurred(_photo(3, 320), motion_kernel(12, angle)))
    assert abs(line.length - 12) <= 1 and angle_difference(line.angle, angle) <= 3 and line.depth < 0


@needs_photos
def test_a_sharp_photos_short_line_estimate_is_not_straightened():
    """A sharp photo's estimate is often a short line; its cepstrum has no peak for any line
    (the blur's zeros make the peak), so nothing is drawn."""
    from edgedeblur_cli.deconvolution.straight import straightened

    for index in (0, 2):
        sharp = _blurred(_photo(index, 320), np.pad(np.ones((1, 1)), 1))  # noise 0.01 and 8 bits, no blur
        for length in (5, 9):
            for angle in (0, 45, 90, 135):
                assert straightened(sharp, motion_kernel(length, angle))[1] is None, (index, length, angle)
    assert straightened(_blurred(_photo(2, 320), motion_kernel(12, 30)), motion_kernel(8, 33))[1] is not None


def test_a_line_is_fitted_to_a_straight_kernel_and_not_to_a_curved_one():
    from edgedeblur_cli.deconvolution.straight import angle_difference, line_fit

    fit = line_fit(motion_kernel(9, 120))
    assert abs(fit.length - 9) <= 0.5 and angle_difference(fit.angle, 120) <= 1 and fit.agreement > 0.99
    assert line_fit(_shake()).agreement < 0.8


@needs_photos
def test_a_straight_estimate_too_short_is_drawn_at_the_blurs_length():
    """The estimator's failure on straight motion: a line in the right direction, too short. The
    cepstrum measures the length; a curved estimate is kept as it is."""
    from edgedeblur_cli.deconvolution.straight import straightened

    truth = motion_kernel(12, 30)
    blurred = _blurred(_photo(3, 320), truth)
    short = motion_kernel(6, 33)
    kernel, line = straightened(blurred, short)
    assert line is not None and abs(line.length - 12) <= 1
    assert kernel_agreement(kernel, truth) > 0.95 > kernel_agreement(short, truth) + 0.1
    arc = _arc(30)  # a curved path whose chord runs along the motion: the cepstrum's peak lies in its direction
    curved, none = straightened(blurred, arc)
    assert none is None and np.array_equal(curved, arc)


def test_the_bow_of_a_path_is_measured_in_pixels():
    from edgedeblur_cli.deconvolution.straight import line_fit

    for sagitta in (0.0, 0.5, 1.0, 1.5):
        assert abs(line_fit(_bent(14, 30, sagitta)).sagitta - sagitta) <= 0.1, sagitta
    assert line_fit(motion_kernel(9, 120)).sagitta < 0.1


@needs_photos
def test_a_bent_path_is_not_drawn_straight():
    """A path bowed by 1.5 px is still 0.8 like a line and keeps nearly periodic spectral zeros,
    so the cepstrum confirms a line there; drawn straight it would lose what the estimate had
    (training photos: 0.6-5.5 dB), so the bow keeps it as it is."""
    from edgedeblur_cli.deconvolution.straight import line_fit, straightened

    path = _bent(14, 30, 1.5)
    blurred = _blurred(_photo(3, 320), path)
    assert line_fit(path).agreement >= 0.8
    assert straightened(blurred, path, max_sagitta=np.inf)[1] is not None  # what the bow check stops
    kernel, none = straightened(blurred, path)
    assert none is None and np.array_equal(kernel, path)
    assert straightened(blurred, _bent(14, 30, 0.3))[1] is not None  # a path as straight as estimated motion is


def test_the_size_search_grows_on_a_kernels_mass_not_on_specks():
    """A window is grown when a real share of the kernel lies on its border, not for a few
    specks of fitted noise there (which grew windows to several times the blur)."""
    from edgedeblur_cli.deconvolution.estimate import fills_window

    specks = np.zeros((35, 35))
    specks[17, 10:25] = 0.97 / 15  # a 15 px line well inside...
    specks[0, 3], specks[34, 30], specks[20, 1] = 0.01, 0.01, 0.01  # ...and 3% of specks on the border
    cut = np.zeros((35, 35))
    cut[17, :] = 1 / 35  # a line cut by the window: a fifth of it lies in the outer pixels
    assert not fills_window(specks) and fills_window(cut)


def test_the_kernel_commands_help_names_the_sizes_searched(runner):
    """The help spells the sizes out (the command line does not import the estimator to start);
    they must be the ones the search tries."""
    from edgedeblur_cli.deconvolution.estimate import SIZES

    result = runner.invoke(main, ["kernel", "--help-all"])
    assert " then ".join(str(s) for s in SIZES) in " ".join(result.output.split())


@needs_photos
def test_the_default_fits_the_kernel_to_regions_the_prior_denoised(prior):
    kernel = motion_kernel(17, 30)
    noisy = _blurred(_photo(0, 320), kernel, noise=0.02)
    as_they_are = kernel_agreement(estimate_kernel(noisy).kernel, kernel)
    denoised = estimate_for(noisy, prior)  # what the default and `edgedeblur kernel` use
    assert kernel_agreement(denoised.kernel, kernel) > max(0.85, as_they_are + 0.1)


def test_blur_makes_gradients_less_sparse():
    """Krishnan's L1/L2 of the gradients: a sharp photo's are sparse, blur spreads them, and the
    measure ignores contrast."""
    from edgedeblur_cli.deconvolution.choose import normalized_sparsity

    yy, xx = np.mgrid[:96, :96]
    sharp = ((xx // 16 + yy // 24) % 2).astype(np.float32)[..., None].repeat(3, 2) * 0.8 + 0.1
    blurred = _blurred(sharp, motion_kernel(9, 30), noise=0)
    assert normalized_sparsity(sharp) < normalized_sparsity(blurred)
    assert np.isclose(normalized_sparsity(sharp), normalized_sparsity(0.5 * sharp), rtol=1e-5)
    assert normalized_sparsity(np.full((8, 8), 0.5)) == 1.0  # flat: no gradients to judge


@needs_photos
def test_the_sharpest_deconvolution_chooses_the_right_kernel(prior):
    from edgedeblur_cli.deconvolution.choose import sharpest

    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(6, 160), kernel)
    right, wrong, none = (_given(k) for k in (kernel, motion_kernel(17, 120), np.ones((1, 1))))

    def deconvolve_region(crop, k):
        return deconvolve_pixels(crop, k, prior, options=BLIND_DECONVOLUTION)

    short = lambda crop, k: deconvolve_pixels(crop, k, prior, options=RANKING_DECONVOLUTION)  # noqa: E731
    assert sharpest(blurred, [wrong, right, none], deconvolve_region) == 1
    assert sharpest(blurred, [wrong, right, none], short) == 1
    assert sharpest(blurred, [right, none, wrong], short) == 0


@needs_photos
def test_the_default_keeps_the_sharpest_of_its_candidate_estimates(prior):
    """Each candidate setting is estimated; the one kept is the estimate of its own setting."""
    from edgedeblur_cli.deconvolution.route import prior_denoiser

    blurred = _blurred(_photo(3, 320), motion_kernel(17, 30))
    candidates = ({"kernel_size": 11}, {}, {"l0_weight": 8e-3})  # the first too small for a 17 px line
    estimate = estimate_for(blurred, prior, candidates=candidates, straight=False)  # the choice alone; lines: below
    chosen = estimate.details["candidate"]
    assert chosen != 0
    alone = estimate_kernel(blurred, replace(EstimationOptions(), **candidates[chosen]), prior_denoiser(prior))
    np.testing.assert_array_equal(estimate.kernel, alone.kernel)
    assert estimate.details["first_setting"].details["sharpening"] > 1  # the rule's check, measured on the judged estimate
    assert len(CANDIDATES) > 1 and CANDIDATES[0] == {}


@needs_photos
def test_the_other_candidate_settings_fit_their_best_region_alone(prior, monkeypatch):
    """Only the first setting's confidence (two regions' agreement) is judged, so the others fit
    one region each: the kernel their two-region fit gives, at half the fits."""
    from edgedeblur_cli.deconvolution import estimate
    from edgedeblur_cli.deconvolution.estimate import EstimationOptions
    from edgedeblur_cli.deconvolution.route import prior_denoiser

    wide = np.concatenate([_photo(3, 320), _photo(5, 320)], axis=1)  # room for two regions in every setting's fit
    blurred = _blurred(wide, motion_kernel(17, 30))
    fits, real = [], estimate._estimate_region
    monkeypatch.setattr(estimate, "_estimate_region", lambda *args: fits.append(1) or real(*args))
    chosen = estimate_for(blurred, prior, straight=False)
    assert len(fits) == 2 + (len(CANDIDATES) - 1)  # the kernel-size search stops at the first size for a 17 px line
    monkeypatch.setattr(estimate, "_estimate_region", real)
    two_regions = estimate_kernel(blurred, replace(EstimationOptions(), **CANDIDATES[chosen.details["candidate"]]), prior_denoiser(prior))
    assert len(two_regions.details["regions"]) == 2
    np.testing.assert_array_equal(chosen.kernel, two_regions.kernel)


@needs_photos
def test_the_choice_ranks_on_a_short_schedule_and_the_sharpening_on_the_blind_one(prior, monkeypatch):
    """Ranking the region's deconvolutions by sparsity needs fewer rounds than the blind route's
    (``RANKING_DECONVOLUTION``); the sharpening check keeps the schedule its bound was chosen on."""
    from edgedeblur_cli.deconvolution import route

    assert RANKING_DECONVOLUTION.iterations < BLIND_DECONVOLUTION.iterations
    assert replace(RANKING_DECONVOLUTION, iterations=BLIND_DECONVOLUTION.iterations) == BLIND_DECONVOLUTION
    schedules, real = [], route.deconvolve_pixels
    monkeypatch.setattr(route, "deconvolve_pixels", lambda *args, **kwargs: schedules.append(args[4]) or real(*args, **kwargs))
    chosen = estimate_for(_blurred(_photo(3, 320), motion_kernel(17, 30)), prior, straight=False)
    assert schedules == [BLIND_DECONVOLUTION] * 2 + [RANKING_DECONVOLUTION] * len(CANDIDATES)  # a delta and the first; each candidate
    assert chosen.details["first_setting"].details["sharpening"] > 1


@needs_photos
def test_the_route_chooses_among_candidates_only_for_a_photo_it_may_deconvolve(prior, monkeypatch):
    """The rule judges the first setting alone: for a photo it refuses by the kernel checks or the
    sharpening check, the other settings and the choice among them would only cost time; for one
    it may take, the choice is made as without the rule."""
    from edgedeblur_cli.deconvolution import route

    calls, estimates = [], []
    real, real_estimate = route.deconvolve_pixels, route.estimate_kernel
    monkeypatch.setattr(route, "deconvolve_pixels", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    monkeypatch.setattr(route, "estimate_kernel", lambda *args, **kwargs: estimates.append(1) or real_estimate(*args, **kwargs))
    sharp = _photo(4, 320)
    refused = estimate_for(sharp, prior, rule=BlindRule())
    assert len(calls) <= 2 and len(estimates) == 1 and refused.details["candidate"] == 0  # none, or the sharpening check's two
    assert route_photo(sharp, prior, estimate=refused)[0] is None
    if "sharpening" in refused.details:
        assert refused.details["sharpening"] < BlindRule().min_sharpening
    calls.clear()
    estimates.clear()
    too_small = estimate_for(sharp, prior, rule=replace(BlindRule(), min_radius=1e3))  # the kernel checks fail first
    assert not calls and "sharpening" not in too_small.details and too_small.details["first_setting"] is too_small
    assert len(estimates) == 1  # the first setting alone
    np.testing.assert_array_equal(too_small.kernel, refused.details["first_setting"].kernel)  # its regions fitted in threads: the same kernel

    blurred = _blurred(_photo(3, 320), motion_kernel(17, 30))
    calls.clear()
    estimates.clear()
    judged = estimate_for(blurred, prior, rule=OPEN_RULE, straight=False)
    assert len(calls) == len(CANDIDATES) + 2 and len(estimates) == len(CANDIDATES)  # the delta and the first for the sharpening; every candidate ranked
    unjudged = estimate_for(blurred, prior, straight=False)
    assert judged.details["candidate"] == unjudged.details["candidate"]
    np.testing.assert_array_equal(judged.kernel, unjudged.kernel)
    assert judged.details["first_setting"].details["sharpening"] == unjudged.details["first_setting"].details["sharpening"]
    calls.clear()
    estimates.clear()
    unsharpened = estimate_for(blurred, prior, rule=replace(OPEN_RULE, min_sharpening=1e3), straight=False)  # the sharpening check fails
    assert len(estimates) == 1 and len(calls) == 2 and unsharpened.details["candidate"] == 0
    np.testing.assert_array_equal(unsharpened.kernel, judged.details["first_setting"].kernel)


@needs_photos
def test_a_line_the_cepstrum_confirms_wins_over_a_sharper_deconvolution(prior, monkeypatch):
    """On this photo (noise 0.02) the sparsest deconvolution picks another setting's kernel, a
    worse one; the first setting's line, drawn at the cepstrum's length, is kept instead, and
    no other setting is estimated or deconvolved."""
    from edgedeblur_cli.deconvolution import route

    truth = motion_kernel(17, 30)
    noisy = _blurred(_photo(4, 320), truth, noise=0.02)
    chosen = estimate_for(noisy, prior, straight=False)
    calls, estimates = [], []
    real, real_estimate = route.deconvolve_pixels, route.estimate_kernel
    monkeypatch.setattr(route, "deconvolve_pixels", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    monkeypatch.setattr(route, "estimate_kernel", lambda *args, **kwargs: estimates.append(1) or real_estimate(*args, **kwargs))
    line = estimate_for(noisy, prior, rule=replace(OPEN_RULE, trust_straight=False))
    assert "straight" in line.details and abs(line.details["straight"].length - 17) <= 1
    assert kernel_agreement(line.kernel, truth) > 0.98 > kernel_agreement(chosen.kernel, truth) + 0.05
    assert line.details["candidate"] == 0 and line.details["first_setting"] is line
    assert len(estimates) == 1 and len(calls) == 2 and line.details["sharpening"] > 1  # the delta's deconvolution and the line's
    estimates.clear()
    unjudged = estimate_for(noisy, prior)  # as ``edgedeblur kernel`` estimates: no rule, the line ends it too
    np.testing.assert_array_equal(unjudged.kernel, line.kernel)
    assert len(estimates) == 1 and unjudged.details["candidate"] == 0

    # A rule that trusts such a line asks nothing of its deconvolutions, so none is made, and
    # takes it where its sharpening and residual checks would refuse it.
    calls.clear()
    trusted = estimate_for(noisy, prior, rule=OPEN_RULE)
    np.testing.assert_array_equal(trusted.kernel, line.kernel)
    assert not calls and "sharpening" not in trusted.details
    strict = replace(BlindRule(), min_sharpening=10.0, max_residual=0.0)
    assert route_photo(noisy, prior, rule=strict, estimate=trusted)[0] is not None
    assert route_photo(noisy, prior, rule=replace(strict, trust_straight=False), estimate=trusted)[0] is None


@needs_photos
def test_a_sharp_photo_gets_a_near_delta_kernel_and_the_networks_route(prior):
    sharp = _photo(4, 320)
    estimate = estimate_kernel(sharp)
    assert estimate.radius < 1.5
    deconvolved, _ = route_photo(sharp, prior)
    assert deconvolved is None  # untouched by deconvolution: the networks' route, as before


def test_the_rule_needs_a_path_of_real_extent_and_its_confidence():
    line = motion_kernel(13, 0)
    wide = KernelEstimate(line, confidence=0.9, radius=kernel_radius(line), region=(0, 0, 1, 1))
    unsure = KernelEstimate(line, confidence=0.1, radius=kernel_radius(line), region=(0, 0, 1, 1))
    point = KernelEstimate(np.ones((1, 1)), confidence=1.0, radius=0.0, region=(0, 0, 1, 1))
    blob = gaussian_kernel(3.0)  # as wide as the line, but a blob: the networks' kind of blur
    wide_blob = KernelEstimate(blob, confidence=0.9, radius=kernel_radius(blob), region=(0, 0, 1, 1))
    rule = BlindRule(min_radius=2.0, min_confidence=0.5)
    assert takes_kernel_path(wide, rule) and not takes_kernel_path(unsure, rule) and not takes_kernel_path(point, rule)
    assert kernel_radius(blob) > kernel_radius(line) and not takes_kernel_path(wide_blob, rule)


@needs_photos
def test_the_reblur_residual_tells_a_wrong_kernel(prior):
    from edgedeblur_cli.deconvolution.route import reblur_residual

    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(6, 160), kernel)
    region = (0, 0, 160, 160)
    right = reblur_residual(blurred, KernelEstimate(kernel, 1.0, kernel_radius(kernel), region), prior)
    wrong_kernel = motion_kernel(17, 120)
    wrong = reblur_residual(blurred, KernelEstimate(wrong_kernel, 1.0, kernel_radius(wrong_kernel), region), prior)
    assert right < BlindRule().max_residual < wrong


@needs_photos
def test_a_wrong_kernel_sends_the_photo_to_the_networks(prior):
    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(6, 160), kernel)
    wrong_kernel = motion_kernel(17, 120)
    wrong = _given(wrong_kernel)
    right = _given(kernel)
    assert route_photo(blurred, prior, estimate=wrong)[0] is None
    # The spectrum's checks refuse it first; without them the re-blur residual does.
    unexplained = _given(wrong_kernel)
    spectrum_open = replace(BlindRule(), min_spectral_agreement=-1.0, min_orientation_margin=-2.0)
    assert route_photo(blurred, prior, rule=spectrum_open, estimate=unexplained)[0] is None
    assert unexplained.details["reblur_residual"] > BlindRule().max_residual
    taken = route_photo(blurred, prior, estimate=right)[0]
    assert taken is not None
    np.testing.assert_array_equal(taken, deconvolve_pixels(blurred, kernel, prior, options=BLIND_DECONVOLUTION))  # an estimate is doubted


@needs_photos
def test_the_rule_judges_the_first_settings_estimate_and_the_route_uses_the_sharpest(prior):
    """The rule was chosen on the first setting's estimates: it decides on those, and a photo it
    takes is deconvolved by the kernel the candidates chose."""
    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(6, 160), kernel)
    region = (0, 0, 160, 160)
    right = KernelEstimate(kernel, 1.0, kernel_radius(kernel), region)
    point = KernelEstimate(np.ones((1, 1)), 1.0, 0.0, region)  # no blur: the networks' photo
    refused = KernelEstimate(kernel, 1.0, kernel_radius(kernel), region, {"first_setting": point})
    assert route_photo(blurred, prior, estimate=refused)[0] is None
    softer = motion_kernel(15, 30)
    taken = KernelEstimate(softer, 1.0, kernel_radius(softer), region, {"first_setting": right})
    restored = route_photo(blurred, prior, estimate=taken)[0]
    np.testing.assert_array_equal(restored, deconvolve_pixels(blurred, softer, prior, options=BLIND_DECONVOLUTION))


@needs_photos
def test_deconvolving_a_blurred_photo_sharpens_it_and_a_sharp_one_does_not(prior):
    from edgedeblur_cli.deconvolution.choose import sharpening

    kernel = motion_kernel(17, 30)
    sharp = _photo(6, 160)
    estimate = _given(kernel)

    def deconvolve_region(crop, k):
        return deconvolve_pixels(crop, k, prior, options=BLIND_DECONVOLUTION)

    assert sharpening(_blurred(sharp, kernel), estimate, deconvolve_region) > 1.0
    assert sharpening(_blurred(sharp, np.ones((1, 1))), estimate, deconvolve_region) < 1.0


@needs_photos
def test_a_kernel_that_does_not_sharpen_the_photo_is_refused(prior):
    """A sharp photo and a path-like kernel it does not carry: only the sharpening check
    (``BlindRule.min_sharpening``) stands between them once the other checks are wide open."""
    kernel = motion_kernel(9, 0)
    sharp = _blurred(_photo(6, 160), np.ones((1, 1)))
    estimate = _given(kernel)
    assert route_photo(sharp, prior, rule=replace(OPEN_RULE, min_sharpening=1.0), estimate=estimate)[0] is None
    assert estimate.details["sharpening"] < BlindRule().min_sharpening == 1.0
    unchecked = _given(kernel)
    assert route_photo(sharp, prior, rule=OPEN_RULE, estimate=unchecked)[0] is not None


@needs_photos
def test_the_photos_spectrum_must_carry_the_kernels_mark():
    """A shaken photo's spectrum varies with direction as its kernel's does; turned by 90 degrees,
    or fitted to a sharp photo, the kernel finds no such mark there."""
    from edgedeblur_cli.deconvolution.spectrum import spectral_agreement

    photo = _photo(3, 320)
    for kernel in (motion_kernel(9, 30), _shake()):
        blurred = _blurred(photo, kernel)
        right = spectral_agreement(blurred, kernel)
        assert right > BlindRule().min_spectral_agreement, right
        assert spectral_agreement(blurred, np.rot90(kernel)) < right - 0.5
        assert spectral_agreement(_blurred(photo, np.ones((1, 1))), kernel) < right - 0.4


@needs_photos
def test_a_kernel_the_spectrum_does_not_carry_is_refused(prior):
    """With every other check wide open, the spectrum's check alone refuses a path kernel for a
    sharp noisy photo, records what it measured, and takes the same kernel for a photo it blurred
    (noise 0.03: the rings noise fills are left out, or the photo's mark would drown)."""
    kernel, bound = _shake(), BlindRule().min_spectral_agreement
    only_spectrum = replace(OPEN_RULE, min_spectral_agreement=bound)
    noisy = _blurred(_photo(2, 320), np.ones((1, 1)), noise=0.03)
    estimate = _given(kernel, 320)
    assert route_photo(noisy, prior, rule=only_spectrum, estimate=estimate)[0] is None
    assert estimate.details["spectral_agreement"] < bound
    blurred = _blurred(_photo(2, 320), kernel, noise=0.03)
    carried = _given(kernel, 320)
    assert route_photo(blurred, prior, rule=only_spectrum, estimate=carried)[0] is not None
    # Asked of the first setting's estimate, as every check of the rule is (``judged_estimate``;
    # asked of the chosen one, it let two JPEG training photos by): a wrong first estimate
    # refuses the photo whatever was chosen, a right one takes it.
    turned = _given(np.rot90(kernel).copy(), 320)
    first_wrong = replace(carried, details={"first_setting": turned})
    first_right = replace(turned, details={"first_setting": carried})
    assert route_photo(blurred, prior, rule=only_spectrum, estimate=first_wrong)[0] is None
    assert route_photo(blurred, prior, rule=only_spectrum, estimate=first_right)[0] is not None


def _pinwheel() -> np.ndarray:
    """(7, 7): four bent arms, the same under a quarter turn but not under a mirror."""
    arm = np.zeros((7, 7))
    arm[3, 4], arm[3, 5], arm[4, 6] = 1, 1, 1
    kernel = sum(np.rot90(arm, turn) for turn in range(4))
    kernel[3, 3] = 2
    return kernel / kernel.sum()


@needs_photos
def test_the_spectrum_must_tell_the_kernel_from_its_mirror_image_and_quarter_turn():
    """A shake path's margin over its own mirror image and quarter turn is wide on the photo it
    blurred, and its mirror image scores below the path itself; a kernel that looks the same
    mirrored (a line along an axis through a bright centre, like those fitted to sharp training
    photos) or turned (a pinwheel) has none to show, whatever the photo."""
    from edgedeblur_cli.deconvolution.spectrum import spectral_marks

    photo, kernel, bound = _photo(3, 320), _shake(), BlindRule().min_orientation_margin
    blurred = _blurred(photo, kernel)
    assert spectral_marks(blurred, kernel).orientation_margin > bound + 0.1
    assert spectral_marks(blurred, np.fliplr(kernel)).orientation_margin < 0
    centred_line = np.zeros((9, 9))
    centred_line[4, 1:8], centred_line[4, 4] = 1, 4
    for symmetric in (centred_line, _pinwheel()):
        assert not np.allclose(np.fliplr(symmetric), np.rot90(symmetric))
        for seen in (blurred, _blurred(photo, symmetric)):
            assert spectral_marks(seen, symmetric).orientation_margin <= 1e-9


@needs_photos
def test_a_kernel_the_spectrum_cannot_orient_is_refused(prior):
    """With every other check wide open, the orientation margin alone refuses a kernel that looks
    the same mirrored, even on the photo it blurred, records what it measured, and takes a shake
    path there."""
    only_margin = replace(OPEN_RULE, min_orientation_margin=BlindRule().min_orientation_margin)
    blob = _pinwheel()
    blurred = _blurred(_photo(2, 320), blob)
    estimate = _given(blob, 320)
    assert route_photo(blurred, prior, rule=only_margin, estimate=estimate)[0] is None
    assert estimate.details["orientation_margin"] <= 1e-9 < estimate.details["spectral_agreement"]
    kernel = _shake()
    shaken = _blurred(_photo(2, 320), kernel)
    assert route_photo(shaken, prior, rule=only_margin, estimate=_given(kernel, 320))[0] is not None


@needs_photos
def test_a_confirmed_line_must_carry_the_spectrums_mark_too(prior):
    """A straight line the cepstrum confirms skips the sharpening, residual and orientation
    checks (a line along a photo axis is its own mirror image, margin 0), not the spectrum's
    agreement: the shipped rule takes it on the photo it blurred and refuses it on a sharp
    noisy photo (a fresh held-out photo gave such a false line)."""
    from edgedeblur_cli.deconvolution.straight import Line

    kernel = motion_kernel(15, 0)

    def confirmed_line() -> KernelEstimate:
        return _given(kernel, 320, details={"straight": Line(15.0, 0.0, prominence=8.0)})

    blurred, taken = _blurred(_photo(2, 320), kernel), confirmed_line()
    assert route_photo(blurred, prior, estimate=taken)[0] is not None
    assert taken.details["orientation_margin"] < BlindRule().min_orientation_margin
    noisy, refused = _blurred(_photo(2, 320), np.ones((1, 1)), noise=0.02), confirmed_line()
    assert route_photo(noisy, prior, estimate=refused)[0] is None
    assert refused.details["spectral_agreement"] < BlindRule().min_line_agreement


@needs_photos
def test_a_kernel_that_explains_more_than_the_noise_allows_is_refused(prior):
    """The residual's lower bound: a kernel fitted to grain reproduces the photo to well under
    its noise. Here the right kernel, but the photo's noise said to be 3x what it is: the fit
    is then too good for the noise, as a fit to grain is, and the networks take the photo."""
    kernel = motion_kernel(17, 30)
    blurred = _blurred(_photo(6, 160), kernel, noise=0.01)
    right = _given(kernel)
    assert route_photo(blurred, prior, estimate=right)[0] is not None  # the noise estimated: taken
    assert route_photo(blurred, prior, noise=0.03, estimate=right)[0] is None
    assert right.details["reblur_residual"] < BlindRule().min_residual


# ---------------------------------------------------------------- the command line


@needs_photos
def test_restore_with_a_kernel_file_and_the_kernel_command(runner, tmp_path):
    kernel = motion_kernel(9, 20)
    np.save(tmp_path / "psf.npy", kernel)
    sharp = _photo(5, 160)
    Image.fromarray(np.round(_blurred(sharp, kernel) * 255).astype(np.uint8)).save(tmp_path / "shaken.png")
    result = runner.invoke(main, ["restore", str(tmp_path / "shaken.png"), "--kernel", str(tmp_path / "psf.npy"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["route"] == "kernel"
    restored = np.asarray(Image.open(tmp_path / "shaken_restored.png"), dtype=np.float32) / 255
    assert _psnr(restored, sharp) > _psnr(_blurred(sharp, kernel), sharp) + 2
    result = runner.invoke(main, ["kernel", str(tmp_path / "shaken.png"), "--raw"])
    assert result.exit_code == 0, result.output
    assert "kernel" in result.stderr and "confidence" in result.stderr
    assert (tmp_path / "shaken_kernel.png").is_file()
    result = runner.invoke(main, ["kernel", str(tmp_path / "shaken.png"), "--raw", "--json", "--overwrite"])
    reported = json.loads(result.stdout)["results"][0]
    assert reported["candidate"] in range(len(CANDIDATES))  # as the default estimates
    assert reported["sharpening"] > 0  # the rule's sharpening check, reported (``BlindRule.min_sharpening``)


@needs_photos
def test_restore_estimate_kernel_reports_the_measures_the_rule_judged(runner, tmp_path):
    """``restore --estimate-kernel --json`` on a shaken photo: the kernel route, with each measure
    the rule took it by (the spectrum's two among them), inside the rule's bounds."""
    Image.fromarray(np.round(_blurred(_photo(3, 320), _shake()) * 255).astype(np.uint8)).save(tmp_path / "shaken.png")
    result = runner.invoke(main, ["restore", str(tmp_path / "shaken.png"), "--estimate-kernel", "--json"])
    assert result.exit_code == 0, result.output
    reported, rule = json.loads(result.stdout)["results"][0], BlindRule()
    assert reported["route"] == "kernel"
    assert reported["spectral_agreement"] >= rule.min_spectral_agreement
    assert reported["orientation_margin"] >= rule.min_orientation_margin
    assert reported["sharpening"] >= rule.min_sharpening
    assert rule.min_residual <= reported["reblur_residual"] <= rule.max_residual


@needs_photos
def test_the_kernel_command_estimates_a_photo_too_small_for_the_route(runner, tmp_path):
    Image.fromarray(np.round(_blurred(_photo(6, 64), motion_kernel(7, 0)) * 255).astype(np.uint8)).save(tmp_path / "small.png")
    result = runner.invoke(main, ["kernel", str(tmp_path / "small.png"), "--raw", "--json"])
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)["results"][0]
    assert reported["candidate"] in range(len(CANDIDATES))  # as on any photo: the sharpest setting
    assert (tmp_path / "small_kernel.png").is_file()


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_text("not a kernel"), "not an image or .npy kernel"),
        (lambda p: np.save(p, -np.ones((5, 5))), "negative"),
        (lambda p: np.save(p, np.zeros((5, 5))), "all zeros"),
    ],
)
def test_a_bad_kernel_file_fails_with_one_line_naming_it(runner, tmp_path, make, reason):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(photo)
    bad = tmp_path / ("bad.npy" if "not an image" not in reason else "bad.png")
    make(bad)
    result = runner.invoke(main, ["restore", str(photo), "--kernel", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and reason in lines[0]
    assert not (tmp_path / "photo_restored.png").exists()


def test_a_kernel_larger_than_the_photo_fails_that_photo_only(runner, tmp_path):
    np.save(tmp_path / "big.npy", np.ones((41, 41)))
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "large.png")
    result = runner.invoke(main, ["restore", str(tmp_path / "small.png"), str(tmp_path / "large.png"), "--kernel", str(tmp_path / "big.npy"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "small.png" in errors[0] and "big.npy" in errors[0] and "larger than the photo" in errors[0]
    assert (tmp_path / "out" / "large.png").is_file() and not (tmp_path / "out" / "small.png").exists()


def test_kernel_options_cannot_be_combined(runner, tmp_path):
    result = runner.invoke(main, ["restore", "x.png", "--motion", "9,0", "--gaussian", "2"])
    assert result.exit_code == 2 and "cannot be combined" in result.stderr


@needs_photos
def test_a_noisy_photo_saved_as_jpeg_is_not_made_worse(runner, tmp_path):
    """JPEG after the noise empties the band the noise is read from; from a JPEG file the estimate
    counts the next band too, so the deconvolution does not trust the data too much."""
    import io

    kernel = gaussian_kernel(1.5)
    np.save(tmp_path / "psf.npy", kernel)
    sharp = _photo(3, 192)
    blurred = _blurred(sharp, kernel, noise=0.02, seed=1)
    encoded = io.BytesIO()
    Image.fromarray(np.round(blurred * 255).astype(np.uint8)).save(encoded, "JPEG", quality=90)
    (tmp_path / "camera.jpg").write_bytes(encoded.getvalue())
    jpeg = np.asarray(Image.open(tmp_path / "camera.jpg"), dtype=np.float32) / 255
    result = runner.invoke(main, ["restore", str(tmp_path / "camera.jpg"), "--kernel", str(tmp_path / "psf.npy"), "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32) / 255
    trusting = deconvolve_pixels(jpeg, kernel, load_model(PRIOR_MODEL, device="cpu"))  # the noise read from the finest band alone
    assert _psnr(restored, sharp) > _psnr(jpeg, sharp) > _psnr(trusting, sharp)


@needs_photos
def test_a_png_that_was_once_a_jpeg_is_read_as_one(runner, tmp_path):
    """The same photo as above, its JPEG cropped and saved again as PNG (an editor's export):
    the JPEG's quantization lattice in its 8x8 DCT blocks, wherever the crop moved their grid,
    tells the tool, which reads its noise as a JPEG file's instead of trusting the band the
    compression emptied."""
    import io

    kernel = gaussian_kernel(1.5)
    sharp = _photo(3, 192)
    encoded = io.BytesIO()
    Image.fromarray(np.round(_blurred(sharp, kernel, noise=0.02, seed=1) * 255).astype(np.uint8)).save(encoded, "JPEG", quality=90)
    # Cropped off JPEG's 8x8 grid first, as an editor's crop would be.
    Image.fromarray(np.asarray(Image.open(encoded))[5:, 2:]).save(tmp_path / "converted.png")
    sharp = sharp[5:, 2:]
    once = np.asarray(Image.open(tmp_path / "converted.png"), dtype=np.float32) / 255
    result = runner.invoke(main, ["restore", str(tmp_path / "converted.png"), "--gaussian", "1.5", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32) / 255
    # Read as a PNG born so, it comes out 28.5 dB here; read as the JPEG it was, 31.4.
    trusting = deconvolve_pixels(once, kernel, load_model(PRIOR_MODEL, device="cpu"))
    assert _psnr(restored, sharp) > max(_psnr(once, sharp), _psnr(trusting, sharp)) + 1


@needs_photos
def test_jpeg_history_is_told_by_the_quantization_lattice():
    import io

    from edgedeblur_cli.files.jpeg_history import grid_offset, jpeg_evidence, once_jpeg

    for index, kernel in ((0, defocus_kernel(3.0)), (4, motion_kernel(9, 30)), (7, gaussian_kernel(1.5))):
        png_born = np.round(_blurred(_photo(index, 321), kernel, noise=0.01) * 255).astype(np.uint8)
        assert abs(jpeg_evidence(png_born)) < 0.1 and not once_jpeg(png_born)
        assert abs(jpeg_evidence(png_born[3:, 5:])) < 0.1  # no grid to find in a crop of it either
        for quality in (75, 90, 95):
            encoded = io.BytesIO()
            Image.fromarray(png_born).save(encoded, "JPEG", quality=quality)
            decoded = np.asarray(Image.open(encoded).convert("RGB"))
            assert once_jpeg(decoded)
            # Cropped off JPEG's grid (an editor's crop, saved as PNG): the grid is found where it went.
            for top, left in ((3, 5), (6, 1)):
                assert once_jpeg(decoded[top:, left:]), (quality, top, left)
            luma = decoded[3:, 5:].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
            assert grid_offset(luma[:167, :167]) == (5, 3)  # the grid now starts 8 - 3 rows, 8 - 5 columns in
    decoded = np.asarray(Image.open(encoded).convert("RGB"))
    grey = io.BytesIO()
    Image.fromarray(png_born).convert("L").save(grey, "JPEG", quality=90)
    assert once_jpeg(np.asarray(Image.open(grey))) and not once_jpeg(np.asarray(Image.fromarray(png_born).convert("L")))
    assert not once_jpeg(decoded.astype(np.float32) / 255) and not once_jpeg(decoded.astype(np.uint16) * 257)  # no JPEG decodes to these
    assert not once_jpeg(decoded[:40, :40])  # too small to tell


@needs_photos
def test_the_default_route_reads_a_jpeg_photos_noise_as_jpeg(prior):
    """The same allowance on the default's kernel route: trusting the finest band alone, the
    deconvolution of a noisy JPEG by its own (right) kernel comes out dBs worse (30.9 -> 28.5 here;
    worse than the photo itself before the route doubted its kernels, ``BLIND_DECONVOLUTION``)."""
    import io

    kernel = motion_kernel(11, 30)
    sharp = _photo(3, 192)
    encoded = io.BytesIO()
    Image.fromarray(np.round(_blurred(sharp, kernel, noise=0.02, seed=1) * 255).astype(np.uint8)).save(encoded, "JPEG", quality=90)
    jpeg = np.asarray(Image.open(encoded), dtype=np.float32) / 255

    def routed(compressed: bool) -> np.ndarray:
        estimate = _given(kernel, 192)
        # The rule's checks open: this is about the noise the deconvolution reads; whether the
        # trusting reading passes the sharpening check depends on the CPU (0.995 on an AMD EPYC).
        out, _ = route_photo(jpeg, prior, estimate=estimate, compressed=compressed, rule=OPEN_RULE)
        assert out is not None
        return out

    aware, trusting = _psnr(routed(True), sharp), _psnr(routed(False), sharp)
    assert aware > _psnr(jpeg, sharp) + 2
    assert aware > trusting + 1
