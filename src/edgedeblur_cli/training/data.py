"""Datasets: CIFAR-10 (the seed's data) and any folder of photos, cut into (optionally shrunk) crops.

Sharp images are kept in memory as uint8 (H, W, 3) arrays. Training batches are sharp crops
degraded on the fly (fresh blur and noise every time, plus the seed's flips); validation
and test sets are fixed: crops and degradation drawn from a seed.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..degradations.seed import DegradeConfig, degrade_batch, degrade_random
from ..degradations.realistic import MARGIN, PRESETS, training_pair
from ..files.io import EXTENSIONS
from ..names import DEGRADATIONS

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST_FILES = ["test_batch"]


class DatasetError(Exception):
    """A dataset could not be found or read; the message says what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    """What ``--dataset``, ``--crop``, ``--downscale`` and ``--data-root`` asked for."""

    source: str  # "cifar10" or a folder of photos
    crop: int | None = None
    downscale: tuple[float, float] = (1.0, 1.0)
    data_root: str | None = None


@dataclass(frozen=True)
class FixedPairs:
    """A fixed evaluation set: lists of (H, W, 3) float32 images, sharp in [0, 1] and degraded unclipped."""

    sharp: list[np.ndarray]
    degraded: list[np.ndarray]
    sigmas: list[float]


MIN_DOWNSCALE = 0.25  # a crop enlarged 4x is already blurrier than any real photo


def parse_downscale(text: str) -> tuple[float, float]:
    """``"2:8"`` -> (2.0, 8.0); ``"4"`` -> (4.0, 4.0); ``"0.5:2"`` -> (0.5, 2.0).

    Factors below 1 enlarge crops: they come out soft at the pixel level, the way a photo at a
    camera's native resolution is, where downscaled photos are crisper than any camera's.
    """
    try:
        values = [float(p) for p in text.split(":")]
    except ValueError:
        raise ValueError(f"downscale must be FACTOR or LOW:HIGH, got {text!r}") from None
    if len(values) not in (1, 2) or not MIN_DOWNSCALE <= values[0] <= values[-1]:
        raise ValueError(f"downscale must be FACTOR or LOW:HIGH with {MIN_DOWNSCALE} <= LOW <= HIGH, got {text!r}")
    return values[0], values[-1]


def default_data_root() -> Path:
    """``$EDGEDEBLUR_DATA``, else the user cache dir."""
    if os.environ.get("EDGEDEBLUR_DATA"):
        return Path(os.environ["EDGEDEBLUR_DATA"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("edgedeblur")) / "data"


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted for reproducibility."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder of images (or 'cifar10')")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not paths:
        raise DatasetError(f"{root}: no images found ({', '.join(sorted(EXTENSIONS))})")
    return paths


def load_photos(paths: list[Path]) -> list[np.ndarray]:
    """Decode each path to (H, W, 3) uint8 RGB; unreadable files are a DatasetError naming them."""
    photos = []
    for path in paths:
        try:
            with Image.open(path) as img:
                photos.append(np.asarray(img.convert("RGB")))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot read ({exc})") from exc
    return photos


def load_cifar10(root: str | os.PathLike | None, train: bool, download: bool = True) -> list[np.ndarray]:
    """CIFAR-10 train (50,000) or test (10,000) images as (32, 32, 3) uint8 arrays.

    Missing files are fetched with ``torchvision.datasets.CIFAR10(download=True)``; the
    batches are then read from their documented pickle format.
    """
    root = Path(root) if root else default_data_root()
    folder = root / CIFAR_FOLDER
    files = CIFAR_TRAIN_FILES if train else CIFAR_TEST_FILES
    if not all((folder / f).is_file() for f in files):
        if not download:
            raise DatasetError(
                f"CIFAR-10 not found in {folder}: put the python batches "
                f"({', '.join(CIFAR_TRAIN_FILES + CIFAR_TEST_FILES)}) there, or allow the download"
            )
        _download_cifar10(root)
    images = []
    for name in files:
        try:
            with open(folder / name, "rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as exc:
            raise DatasetError(f"{folder / name}: not a CIFAR-10 batch ({exc})") from exc
        images.extend(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images


def _download_cifar10(root: Path) -> None:
    from torchvision.datasets import CIFAR10

    try:
        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    except Exception as exc:  # urllib, tarfile and md5 errors all end here
        raise DatasetError(
            f"CIFAR-10 download to {root} failed ({type(exc).__name__}: {exc}); without network, put the "
            f"python batches in {root / CIFAR_FOLDER} or set --data-root / $EDGEDEBLUR_DATA"
        ) from exc


def load_images(spec: DatasetSpec, split: str) -> list[np.ndarray]:
    """The sharp uint8 images of ``split`` ("train" or "test") of a dataset."""
    if spec.source == "cifar10":
        return load_cifar10(spec.data_root, train=split == "train")
    return load_photos(list_images(spec.source))


def split_train_validation(images: list[np.ndarray], fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """Carve a fixed-seed validation split (at least one image) from the training images."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = max(1, int(round(len(images) * fraction))) if len(images) > 1 else 0
    val = [images[i] for i in sorted(order[:n_val])]
    train = [images[i] for i in sorted(order[n_val:])] or val
    return train, val


def crop_photo(photo: np.ndarray, crop: int | None, factor: float, top_frac: float, left_frac: float) -> np.ndarray:
    """A (crop, crop, 3) uint8 crop of ``photo`` covering ``crop * factor`` source pixels.

    Area-shrunk for factors above 1, enlarged (bicubic) below 1. ``top_frac``/``left_frac`` in
    [0, 1) place the window. No crop returns the whole photo.
    """
    if crop is None:
        return photo
    h, w = photo.shape[:2]
    side = min(h, w, max(2, int(round(crop * factor))))
    top = int(top_frac * (h - side + 1))
    left = int(left_frac * (w - side + 1))
    window = photo[top : top + side, left : left + side]
    if side != crop:
        window = cv2.resize(window, (crop, crop), interpolation=cv2.INTER_AREA if side > crop else cv2.INTER_CUBIC)
    return window


def sample_crops(
    photos: list[np.ndarray], crop: int | None, downscale: tuple[float, float], count: int, generator: torch.Generator
) -> torch.Tensor:
    """``count`` random sharp crops as (count, 3, crop, crop) float in [0, 1] (whole images without ``crop``)."""
    picks = torch.randint(len(photos), (count,), generator=generator).tolist()
    u = torch.rand(count, 3, generator=generator).tolist()
    lo, hi = downscale
    crops = [crop_photo(photos[i], crop, lo + (hi - lo) * f, top, left) for i, (f, top, left) in zip(picks, u)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255)


class TrainingSamples(torch.utils.data.Dataset):
    """Fresh training pairs each epoch: sample ``i`` of epoch ``e`` is drawn from its own seed (seed, e, i).

    Each item is ``(sharp, degraded)``, both (3, H, W) float: a sharp crop (or whole image) in
    [0, 1] with the seed's flip augmentation, and its degradation: the seed's (blur + noise,
    unclipped) or a draw of the realistic family (``degradation="real"``, or ``"real-noise"``
    for its noise and JPEG without blur; on the 8-bit grid).
    Seeding per sample makes a run independent of how samples are split over processes.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        crop: int | None,
        downscale: tuple[float, float],
        size: int,
        seed: int,
        config: DegradeConfig,
        degradation: str = "seed",
    ) -> None:
        if degradation not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {', '.join(DEGRADATIONS)}, got {degradation!r}")
        self.images, self.crop, self.downscale = images, crop, downscale
        self.size, self.seed, self.config, self.degradation = size, seed, config, degradation
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2, np.uint64)
        generator = torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))
        if self.degradation in PRESETS:
            return self._real_pair(generator, np.random.default_rng(int(state[1])))
        sharp = sample_crops(self.images, self.crop, self.downscale, 1, generator)
        sharp = random_flips(sharp, generator)
        u = torch.rand((), generator=generator, dtype=torch.float64).item()
        sigma = torch.tensor([self.config.sigma_min + (self.config.sigma_max - self.config.sigma_min) * u], dtype=torch.float32)
        noise = torch.randn(sharp.shape, generator=generator)
        degraded, _ = degrade_batch(sharp, self.config, sigmas=sigma, noise=noise)
        return sharp[0], degraded[0]

    def _real_pair(self, generator: torch.Generator, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        # Degrade a crop with a margin, then cut the margin off: no blur sees a made-up border.
        margin = 0 if self.crop is None else MARGIN
        size = None if self.crop is None else self.crop + 2 * margin
        window = sample_crops(self.images, size, self.downscale, 1, generator)
        window = random_flips(window, generator)[0].permute(1, 2, 0).numpy()
        target, degraded, _ = training_pair(window, rng, PRESETS[self.degradation])
        inner = slice(margin, window.shape[0] - margin), slice(margin, window.shape[1] - margin)
        as_chw = lambda a: torch.from_numpy(np.ascontiguousarray(a[inner])).permute(2, 0, 1)  # noqa: E731
        return as_chw(target), as_chw(degraded)


def random_flips(sharp: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The seed's augmentation: each image flipped horizontally or vertically or left as is (1/3 each)."""
    choice = torch.randint(3, (sharp.shape[0],), generator=generator).tolist()
    out = sharp.clone()
    for i, flip in enumerate(choice):  # a loop, not masks: masked indexing cost 0.1 ms per sample
        if flip:
            out[i] = sharp[i].flip(-1 if flip == 1 else -2)
    return out


def fixed_pairs(
    images: list[np.ndarray],
    crop: int | None,
    downscale: tuple[float, float],
    count: int | None,
    seed: int,
    config: DegradeConfig = DegradeConfig(),
    degradation: str = "seed",
) -> FixedPairs:
    """A reproducible evaluation set: ``count`` crops (or whole images) degraded with fixed draws.

    With ``crop``, crops are spread over the images round-robin (so 10,000 crops from 200
    photos take 50 from each); each crop ``i`` uses its own RNG seeded by (seed, i).
    ``degradation="real"`` (or ``"real-noise"``) draws from the realistic family (``sigmas`` are then NaN).
    """
    if degradation not in DEGRADATIONS:
        raise ValueError(f"degradation must be one of {', '.join(DEGRADATIONS)}, got {degradation!r}")
    if crop is None:
        count = min(count or len(images), len(images))
    else:
        count = count or 10_000
    margin = MARGIN if degradation in PRESETS and crop is not None else 0
    sharp, degraded, sigmas = [], [], []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        photo = images[i % len(images)]
        f = downscale[0] + (downscale[1] - downscale[0]) * rng.random()
        window = crop_photo(photo, None if crop is None else crop + 2 * margin, f, rng.random(), rng.random())
        window = window.astype(np.float32) / 255
        if degradation in PRESETS:
            window, noisy, _ = training_pair(window, rng, PRESETS[degradation])
            sigma = float("nan")
        else:
            noisy, sigma = degrade_random(window, rng, config)
        inner = (slice(margin, window.shape[0] - margin), slice(margin, window.shape[1] - margin))
        sharp.append(np.ascontiguousarray(window[inner]))
        degraded.append(np.ascontiguousarray(noisy[inner]))
        sigmas.append(sigma)
    return FixedPairs(sharp, degraded, sigmas)


def stack_pairs(pairs: FixedPairs, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Items ``start:stop`` of same-size pairs as (degraded, sharp), each (N, 3, H, W) float."""
    degraded = torch.from_numpy(np.stack(pairs.degraded[start:stop])).permute(0, 3, 1, 2)
    sharp = torch.from_numpy(np.stack(pairs.sharp[start:stop])).permute(0, 3, 1, 2)
    return degraded, sharp


def batch_ranges(n: int, batch_size: int, same_size: bool) -> list[tuple[int, int]]:
    """Index ranges for batching; whole photos of differing sizes go one at a time."""
    step = batch_size if same_size else 1
    return [(i, min(n, i + step)) for i in range(0, n, step)]
