"""What one training run samples and validates on: fresh pairs each epoch from 90% of the
dataset's training images, and a fixed validation set from the other 10%.
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import DatasetSpec, FixedPairs, TrainingSamples, fixed_pairs, load_images, split_train_validation
from ..degradations.seed import DegradeConfig

VALIDATION_SHARE = 0.1
CROPS_PER_EPOCH = 10_000  # the default epoch of a cropped dataset; CIFAR-10 and whole photos: 3 passes


@dataclass(frozen=True)
class TrainingData:
    samples: TrainingSamples  # the training pairs, drawn anew each epoch
    validation: FixedPairs  # the same pairs every epoch (seeded by ``seed + 1``)
    summary: str  # for the log: image counts and samples per epoch


def training_data(
    dataset: DatasetSpec,
    seed: int,
    epoch_size: int | None,
    val_size: int,
    degrade: DegradeConfig,
    degradation: str,
) -> TrainingData:
    """Load ``dataset``'s training images, split them (by ``seed``) and set up both sides."""
    images = load_images(dataset, "train")
    train_images, val_images = split_train_validation(images, VALIDATION_SHARE, seed)
    if not epoch_size:
        epoch_size = 3 * len(train_images) if dataset.crop is None else CROPS_PER_EPOCH
    samples = TrainingSamples(train_images, dataset.crop, dataset.downscale, epoch_size, seed, degrade, degradation)
    # Crops can be drawn without end; whole images are as many as there are.
    val_count = val_size if dataset.crop is not None else min(val_size, len(val_images))
    validation = fixed_pairs(val_images, dataset.crop, dataset.downscale, val_count, seed + 1, degrade, degradation)
    summary = (
        f"{len(train_images)} training images, {len(val_images)} validation images "
        f"({len(validation.sharp)} fixed validation samples), {epoch_size} samples per epoch"
    )
    return TrainingData(samples, validation, summary)
