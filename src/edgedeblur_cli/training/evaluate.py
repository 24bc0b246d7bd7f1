"""Scoring on a fixed test set: the degraded input, Wiener with the true sigma, and models."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn
from tqdm import tqdm

from .data import FixedPairs, batch_ranges, stack_pairs
from ..metrics import MetricTotals, best_wiener_nsr, wiener_deconvolve
from ..restoring.restore import RestoreOptions, restore_tensor


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    name: str
    metrics: dict[str, float]

    def as_dict(self) -> dict:
        return {"name": self.name, **self.metrics}


def _batches(pairs: FixedPairs, batch_size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    same_size = len({p.shape for p in pairs.sharp}) == 1
    for start, stop in batch_ranges(len(pairs.sharp), batch_size, same_size):
        degraded, sharp = stack_pairs(pairs, start, stop)
        yield degraded, sharp, torch.tensor(pairs.sigmas[start:stop], dtype=torch.float64)


def score_input(pairs: FixedPairs, batch_size: int = 256) -> Row:
    """The degraded input as a user's file holds it: clipped to [0, 1]."""
    totals = MetricTotals()
    for degraded, sharp, _ in _batches(pairs, batch_size):
        totals.add(degraded, sharp)
    return Row("degraded input", totals.summary())


def score_wiener(pairs: FixedPairs, batch_size: int = 256) -> Row:
    """Wiener deconvolution given each image's true sigma, at the NSR best for this set."""
    batches = list(_batches(pairs, batch_size))
    nsr = best_wiener_nsr(batches)
    totals = MetricTotals()
    for degraded, sharp, sigmas in batches:
        totals.add(wiener_deconvolve(degraded, sigmas, nsr), sharp)
    return Row(f"Wiener (true sigma, NSR {nsr:.0e})", totals.summary())


def score_model(
    name: str,
    model: nn.Module,
    pairs: FixedPairs,
    options: RestoreOptions = RestoreOptions(),
    batch_size: int = 64,
    progress: bool = False,
) -> Row:
    """A restorer on the degraded images (fed unclipped, as in training)."""
    totals = MetricTotals()
    batches = list(_batches(pairs, batch_size))
    for degraded, sharp, _ in tqdm(batches, desc=name, disable=not progress, leave=False):
        restored, _ = restore_tensor(model, degraded, options)
        totals.add(restored, sharp)
    return Row(name, totals.summary())


def format_table(rows: list[Row]) -> str:
    """A plain-text table of the rows."""
    header = f"{'method':<34} {'images':>7} {'MSE':>10} {'PSNR(mean MSE)':>15} {'mean PSNR':>10} {'SSIM':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        m = row.metrics
        lines.append(
            f"{row.name:<34} {m['images']:>7} {m['mse']:>10.6f} {m['psnr_of_mean_mse']:>12.2f} dB "
            f"{m['mean_psnr']:>7.2f} dB {m['ssim']:>7.4f}"
        )
    return "\n".join(lines)


def evaluate_all(
    pairs: FixedPairs,
    models: list[tuple[str, nn.Module]],
    options: RestoreOptions = RestoreOptions(),
    batch_size: int = 64,
    progress: bool = False,
) -> list[Row]:
    """The input, Wiener (where the blur is the seed's known Gaussian) and each model on the same fixed pairs."""
    known_blur = all(math.isfinite(s) for s in pairs.sigmas)
    rows = [score_input(pairs)] + ([score_wiener(pairs)] if known_blur else [])
    for name, model in models:
        rows.append(score_model(name, model, pairs, options, batch_size, progress))
    return rows
