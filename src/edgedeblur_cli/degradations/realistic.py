"""A realistic degradation family: the blur, noise and compression real photos carry, or none.

``degrade_real(image, rng)`` draws one degradation per call, each stage sometimes off, so that
clean, noise-only, blur-only and fully degraded inputs are all in the mix:

- blur: none; isotropic or anisotropic Gaussian (sigma up to 4, full kernels up to 25 px);
  a defocus disk (radius up to 5); linear motion (up to 25 px); camera shake drawn from random
  trajectories (deepinv's ``MotionBlurGenerator``, about 8-25 px); the seed's 5x5 Gaussian;
- noise: none; Gaussian (std up to 0.05); Poisson-Gaussian (signal-dependent), most of the
  time with the grain a camera's processing leaves (correlated across neighbouring pixels at
  two scales and across channels, or, with ``split_grain``, fine in luminance and blotchy in
  colour as a camera's JPEG leaves it), and optionally (``linear_light``) added in linear light
  and gamma-encoded, so that dark tones are the noisier, as in a camera's JPEGs;
- 8-bit quantisation (a file holds 8 bits), then JPEG at quality 50-100 some of the time.

``PRESETS`` names the family (``real``) and its noise and JPEG alone (``real-noise``).
Everything is (H, W, 3) float32 in [0, 1], numpy and OpenCV, one image at a time, so data
loader workers can run it. The camera-shake kernels need the ``deepinv`` package (the
``train`` extra), imported only when such a kernel is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Widest blur kernel drawn; a crop degraded with this much margin has no border effects.
MAX_KERNEL = 25
MARGIN = MAX_KERNEL // 2 + 1


@dataclass(frozen=True)
class RealDegradeConfig:
    """Probabilities of each stage's kinds (each group sums to 1) and their ranges."""

    # Since edgedeblur-blind v0.3.0 the large motion blurs (linear, shake) are 14% of the draws,
    # not 28%: in CPU-scale training the network barely learns them (+0.1 dB), and the share
    # went to the Gaussian and the seed's blur it does learn (v0.2.0: 0.20 / 0.10 / 0.18 / 0.10).
    blur_none: float = 0.30
    blur_gaussian: float = 0.26
    blur_defocus: float = 0.12
    blur_linear_motion: float = 0.06
    blur_shake: float = 0.08
    blur_seed: float = 0.18
    noise_none: float = 0.25
    noise_gaussian: float = 0.30
    noise_poisson_gaussian: float = 0.45
    camera_grain: float = 0.6  # share of the Poisson-Gaussian noise with a camera's grain
    # Share of that grain drawn as a camera's JPEG leaves it (``camera_noise``: fine in
    # luminance, blotchy in colour) rather than with one grain for all channels (``correlated_noise``).
    split_grain: float = 0.7
    # Share of the Poisson-Gaussian noise added in linear light, then gamma-encoded as a camera
    # does: darker tones come out noisier than bright ones, as in real camera noise (PolyU: dark
    # tones 1.27x the std of bright ones; added to the sRGB values it is the other way round).
    linear_light: float = 0.5
    max_linear_read_noise: float = 0.002  # b in linear light, where the sRGB curve multiplies it up to 12.9x
    jpeg: float = 0.5  # chance of JPEG compression after quantisation (v0.2.0 of the family: 0.35)
    max_gaussian_noise: float = 0.05
    max_read_noise: float = 0.03  # b of the Poisson-Gaussian noise added to the sRGB values
    max_sigma: float = 4.0
    max_defocus_radius: float = 5.0
    max_motion_length: int = MAX_KERNEL
    jpeg_quality: tuple[int, int] = (50, 100)
    soft_target: float = 0.25  # chance that the sharp photo is first given a camera's own softness
    soft_sigma: tuple[float, float] = (0.3, 1.0)


# The family's noise and compression with no blur: for a denoiser that leaves sharpness alone.
# Mostly camera grain drawn as a camera's JPEG leaves it (``camera_noise``), with white noise
# beside it (30%), which the denoiser must still remove; and mostly saved as JPEG after the noise,
# as a photo as it comes is (the PolyU shots are JPEG quality 75): compressed noise is blocky and
# rings around edges, and a denoiser that has rarely seen it leaves it in as detail.
NOISE_ONLY = RealDegradeConfig(
    blur_none=1.0, blur_gaussian=0.0, blur_defocus=0.0, blur_linear_motion=0.0, blur_shake=0.0, blur_seed=0.0,
    noise_none=0.1, noise_gaussian=0.3, noise_poisson_gaussian=0.6, camera_grain=0.8, linear_light=0.7, split_grain=1.0,
    jpeg=0.8, jpeg_quality=(60, 98),
)
PRESETS = {"real": RealDegradeConfig(), "real-noise": NOISE_ONLY}  # --preset / --degradation names


def gaussian_kernel(sigma_x: float, sigma_y: float, angle: float, size: int | None = None) -> np.ndarray:
    """A (K, K) anisotropic Gaussian, rotated by ``angle`` radians, summing to 1; K covers 3 sigma."""
    if size is None:
        size = min(MAX_KERNEL, 2 * int(np.ceil(3 * max(sigma_x, sigma_y))) + 1)
    r = np.arange(size, dtype=np.float64) - size // 2
    x, y = np.meshgrid(r, r)
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    kernel = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (kernel / kernel.sum()).astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """A (K, K) defocus disk of ``radius`` pixels, anti-aliased by 8x supersampling, summing to 1."""
    half = int(np.ceil(radius))
    size = 2 * half + 1
    fine = (np.arange(size * 8, dtype=np.float64) + 0.5) / 8 - half - 0.5
    x, y = np.meshgrid(fine, fine)
    inside = (x**2 + y**2 <= radius**2).astype(np.float64)
    kernel = inside.reshape(size, 8, size, 8).mean(axis=(1, 3))
    return (kernel / kernel.sum()).astype(np.float32)


def linear_motion_kernel(length: float, angle: float) -> np.ndarray:
    """A (K, K) straight motion blur of ``length`` pixels at ``angle`` radians, summing to 1."""
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size * 8, size * 8), np.float32)
    centre = size * 4
    dx, dy = np.cos(angle) * length * 4, np.sin(angle) * length * 4
    cv2.line(kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1.0, thickness=8)
    kernel = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def shake_kernel(size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) camera-shake kernel from a random trajectory (deepinv), summing to 1."""
    import torch

    try:
        from deepinv.physics.generator import MotionBlurGenerator
    except ImportError:
        raise ImportError("camera-shake kernels need deepinv: pip install 'edgedeblur-cli[train]'") from None

    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    # l: the trajectory's smoothness; sigma: how far it wanders. deepinv's default sigma (0.25)
    # spans 6-11 px of a 25 px grid; 0.35-0.8 spans about 8-25 px (measured).
    blur = MotionBlurGenerator((size, size), rng=generator, l=float(rng.uniform(0.25, 0.4)), sigma=float(rng.uniform(0.35, 0.8)))
    kernel = blur.step(batch_size=1)["filter"][0, 0].numpy().astype(np.float32)
    return kernel / kernel.sum()


def seed_kernel(rng: np.random.Generator) -> np.ndarray:
    """The seed study's blur: a 5x5 Gaussian with sigma uniform in [1, 4]."""
    sigma = float(rng.uniform(1.0, 4.0))
    return gaussian_kernel(sigma, sigma, 0.0, size=5)


def draw_kernel(rng: np.random.Generator, config: RealDegradeConfig = RealDegradeConfig()) -> tuple[str, np.ndarray | None]:
    """One blur kind and its (K, K) kernel (None for no blur)."""
    kinds = ("none", "gaussian", "defocus", "linear_motion", "shake", "seed")
    weights = np.array([getattr(config, f"blur_{k}") for k in kinds])
    kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
    if kind == "none":
        return kind, None
    if kind == "gaussian":
        sigma_x = rng.uniform(0.3, config.max_sigma)
        sigma_y = sigma_x if rng.random() < 0.5 else rng.uniform(0.3, config.max_sigma)
        return kind, gaussian_kernel(sigma_x, sigma_y, rng.uniform(0, np.pi))
    if kind == "defocus":
        return kind, disk_kernel(rng.uniform(1.0, config.max_defocus_radius))
    if kind == "linear_motion":
        return kind, linear_motion_kernel(rng.uniform(3, config.max_motion_length), rng.uniform(0, np.pi))
    if kind == "shake":
        return kind, shake_kernel(MAX_KERNEL, rng)
    return kind, seed_kernel(rng)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(H, W, C) float convolved with a (K, K) kernel, reflect-101 border (the seed's)."""
    out = cv2.filter2D(image, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT_101)
    return out[..., None] if out.ndim < image.ndim else out


def _unit(noise: np.ndarray) -> np.ndarray:
    return noise / max(float(noise.std()), 1e-6)


def correlated_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance (H, W, 3) noise with the grain a camera's processing leaves.

    Demosaicking spreads each pixel's noise over its neighbours (a fine blur), in-camera noise
    reduction leaves coarser blotches (a wider blur, mixed in), and the colour pipeline makes
    the channels move together (a common part shared by all three, weight ``rho``). Checked
    against real camera noise (PolyU, ``real-noise-dev``): its median fraction of the noise
    left after a Gaussian blur of sigma 1 / 2 / 4 (0.66 / 0.47 / 0.29) and its luminance share
    (0.88) lie inside the 10-90% range of these draws (0.61-0.84 / 0.41-0.66 / 0.24-0.43 / 0.80-0.96).
    """
    height, width = shape[0], shape[1]
    rho = rng.uniform(0.4, 0.95)
    common = rng.standard_normal((height, width, 1), dtype=np.float32)
    own = rng.standard_normal((height, width, 3), dtype=np.float32)
    white = np.float32(np.sqrt(rho)) * common + np.float32(np.sqrt(1 - rho)) * own
    fine = _unit(cv2.GaussianBlur(white, (0, 0), sigmaX=rng.uniform(0.4, 1.0), borderType=cv2.BORDER_REFLECT_101))
    coarse = _unit(cv2.GaussianBlur(white, (0, 0), sigmaX=rng.uniform(1.5, 3.0), borderType=cv2.BORDER_REFLECT_101))
    coarse_share = rng.uniform(0, 0.7)
    return _unit(np.float32(np.sqrt(1 - coarse_share)) * fine + np.float32(np.sqrt(coarse_share)) * coarse)


def camera_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance (H, W, 3) noise as a camera's JPEG leaves it: fine grain in luminance, blotches in colour.

    Demosaicking spreads a pixel's luminance noise over about one neighbour (a Gaussian of sigma
    0.4-1), while chroma noise reduction and the JPEG's half-resolution colour leave the colour
    noise in blotches a few pixels wide (sigma 1-3), and it carries 5-40% of the energy. Real
    camera noise (PolyU, ``real-noise-dev``, offsets and drifts taken out) has this shape: its
    luminance energy is 63 / 29 / 8% in the bands finer than sigma 1 / 1-3 / 3-8, its colour
    energy 15 / 43 / 42% and 19% of the total, and ``correlated_noise`` gives one grain to both
    (luminance 40 / 39 / 21%), so a denoiser trained on it reads fine grey grain as texture.
    """
    height, width = shape[0], shape[1]
    luma = rng.standard_normal((height, width), dtype=np.float32)
    luma = _unit(cv2.GaussianBlur(luma, (0, 0), sigmaX=rng.uniform(0.4, 1.0), borderType=cv2.BORDER_REFLECT_101))
    colour = rng.standard_normal((height, width, 3), dtype=np.float32)
    colour -= colour.mean(axis=2, keepdims=True)  # no luminance in it: that is all in ``luma``
    colour = _unit(cv2.GaussianBlur(colour, (0, 0), sigmaX=rng.uniform(1.0, 3.0), borderType=cv2.BORDER_REFLECT_101))
    share = rng.uniform(0.05, 0.4)
    return np.float32(np.sqrt(1 - share)) * luma[..., None] + np.float32(np.sqrt(share)) * colour


def add_noise(image: np.ndarray, rng: np.random.Generator, config: RealDegradeConfig = RealDegradeConfig()) -> tuple[str, np.ndarray]:
    """One noise kind applied to (H, W, 3) float in [0, 1]; returns (kind, noisy unclipped)."""
    kinds = ("none", "gaussian", "poisson_gaussian")
    weights = np.array([config.noise_none, config.noise_gaussian, config.noise_poisson_gaussian])
    kind = kinds[rng.choice(3, p=weights / weights.sum())]
    if kind == "none":
        return kind, image
    if kind == "gaussian":
        std = rng.uniform(0, config.max_gaussian_noise)
        return kind, image + np.float32(std) * rng.standard_normal(image.shape).astype(np.float32)
    # Poisson-Gaussian: variance a * signal + b^2, the usual model of a raw sensor.
    a = 10 ** rng.uniform(-4, -2)
    b = rng.uniform(0, config.max_read_noise)
    if rng.random() < config.camera_grain:
        # The draw for split_grain is skipped when it is 0, so a config without it keeps its draws.
        split = config.split_grain > 0 and rng.random() < config.split_grain
        noise = camera_noise(image.shape, rng) if split else correlated_noise(image.shape, rng)
    else:
        noise = rng.standard_normal(image.shape).astype(np.float32)
    if config.linear_light > 0 and rng.random() < config.linear_light:
        linear = srgb_to_linear(np.clip(image, 0, 1))
        b = b / config.max_read_noise * config.max_linear_read_noise
        return kind, linear_to_srgb(linear + np.sqrt(a * linear + b**2).astype(np.float32) * noise)
    std = np.sqrt(a * np.clip(image, 0, 1) + b**2).astype(np.float32)
    return kind, image + std * noise


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light in [0, 1] (IEC 61966-2-1)."""
    return np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB-encoded values; clipped to [0, 1] first, as a camera clips at its black and white levels."""
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def quantise(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to 8 bits, as a file holds it."""
    return np.round(np.clip(image, 0, 1) * 255) / np.float32(255)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) float in [0, 1] through an 8-bit JPEG of ``quality`` and back."""
    u8 = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255


def degrade_real(image: np.ndarray, rng: np.random.Generator, config: RealDegradeConfig = RealDegradeConfig()) -> tuple[np.ndarray, str]:
    """Degrade one (H, W, 3) float image in [0, 1] with a kind drawn from ``rng``.

    Returns (degraded (H, W, 3) float32 in [0, 1] on the 8-bit grid, a description such as
    ``"shake+poisson_gaussian+jpeg85"``). The same ``rng`` state gives the same output.
    """
    image = np.asarray(image, dtype=np.float32)
    blur_kind, kernel = draw_kernel(rng, config)
    out = image if kernel is None else blur(image, kernel)
    noise_kind, out = add_noise(out, rng, config)
    out = quantise(out)
    parts = [blur_kind, noise_kind]
    if rng.random() < config.jpeg:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        out = jpeg(out, quality)
        parts.append(f"jpeg{quality}")
    return out.astype(np.float32), "+".join(parts)


def training_pair(image: np.ndarray, rng: np.random.Generator, config: RealDegradeConfig = RealDegradeConfig()) -> tuple[np.ndarray, np.ndarray, str]:
    """A (target, degraded, description) training pair from one sharp (H, W, 3) float image in [0, 1].

    Some of the time the target itself is a little soft (a Gaussian of sigma 0.3-1), the way a
    photo at a camera's native resolution is (optics, demosaicking): downscaled training photos
    are crisper than that, and a model that has only seen them sharpens every real photo it is
    given, which is harm when nothing was blurred. Both arrays are float32 on the input's grid.
    """
    target = np.asarray(image, dtype=np.float32)
    soft = rng.random() < config.soft_target
    if soft:
        sigma = float(rng.uniform(*config.soft_sigma))
        target = blur(target, gaussian_kernel(sigma, sigma, 0.0))
    degraded, kind = degrade_real(target, rng, config)
    return target, degraded, ("soft+" if soft else "") + kind
