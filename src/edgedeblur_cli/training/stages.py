"""What each training stage trains and minimises: the edge branch on Canny targets (or against
an edge discriminator), the restorer on a restoration loss, or both at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..edges import canny_targets, edge_network

def set_trainable(model: nn.Module, stage: str) -> None:
    """Train only the edge branch in ``edges``; freeze it in ``deblur``; train everything in ``joint``."""
    for p in model.parameters():
        p.requires_grad_(stage != "edges")
    if stage in ("edges", "deblur") and (hasattr(model, "edgenet") or stage == "edges"):
        for p in edge_network(model).parameters():
            p.requires_grad_(stage == "edges")


# The PSNR loss stops rewarding a sample past 50 dB (MSE 1e-5): far below what 8 bits show.
PSNR_LOSS_FLOOR = 1e-5


def restoration_loss(restored: torch.Tensor, sharp: torch.Tensor, kind: str, reduction: str = "mean") -> torch.Tensor:
    """``mse``: the mean squared error; ``psnr``: the mean over samples of log10(MSE + 1e-5).

    (N, 3, H, W) in, a scalar out (``reduction="sum"``: summed over samples). With MSE over a
    mixed batch the heavily blurred crops dominate; the log weighs every sample's relative
    error alike, so a clean photo that comes back changed costs as much as a blurred one left
    blurred. ``-10 x`` the ``psnr`` loss is the mean PSNR (capped at 50 dB).
    """
    per_sample = (restored.float() - sharp).pow(2).flatten(1).mean(1)
    if kind == "psnr":
        per_sample = torch.log10(per_sample + PSNR_LOSS_FLOOR)
    elif kind != "mse":
        raise ValueError(f"loss must be mse or psnr, got {kind!r}")
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


class StageLoss(nn.Module):
    """The training loss of one stage as a module, so DistributedDataParallel can wrap it.

    ``forward(degraded, sharp)`` with (N, 3, H, W) tensors returns the scalar loss:
    BCE against Canny targets (edges), the restoration loss (deblur), or that + weighted BCE (joint).
    """

    def __init__(self, model: nn.Module, stage: str, edge_weight: float, loss: str = "mse") -> None:
        super().__init__()
        self.model, self.stage, self.edge_weight, self.loss = model, stage, edge_weight, loss

    def forward(self, degraded: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
        if self.stage == "edges":
            logits = edge_network(self.model).logits(degraded)
            return F.binary_cross_entropy_with_logits(logits.float(), canny_targets(sharp))
        restored, edges = restore_with_edges(self.model, degraded)
        loss = restoration_loss(restored, sharp, self.loss)
        if self.stage == "joint" and self.edge_weight > 0:
            logits = torch.logit(edges.float().clamp(1e-6, 1 - 1e-6))
            loss = loss + self.edge_weight * F.binary_cross_entropy_with_logits(logits, canny_targets(sharp))
        return loss


def summed_stage_loss(model: nn.Module, stage: str, loss: str, degraded: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
    """The stage's loss summed over the N samples of (N, 3, H, W) ``degraded`` and ``sharp``: what
    validation averages. The edge BCE is per pixel, then weighted by samples like the rest."""
    if stage == "edges":
        logits = edge_network(model).logits(degraded)
        total = F.binary_cross_entropy_with_logits(logits.float(), canny_targets(sharp), reduction="sum")
        return total / sharp[:, :1].numel() * len(sharp)
    restored = restore_with_edges(model, degraded)[0].float().clamp(0, 1)
    return restoration_loss(restored, sharp, loss, reduction="sum")


# Weight of the adversarial term beside the edge BCE (--edge-loss gan).
ADVERSARIAL_WEIGHT = 0.01


def adversarial_edge_loss(
    model: nn.Module, discriminator: nn.Module, disc_optimizer: torch.optim.Optimizer, degraded: torch.Tensor, sharp: torch.Tensor
) -> torch.Tensor:
    """One update of ``discriminator`` (Canny maps of ``sharp`` real, predicted edges fake), then
    the edge branch's adversarial loss term: a scalar with gradients into the edge branch."""
    fake = edge_network(model)(degraded)
    real = canny_targets(sharp)
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
        d_fake, torch.zeros_like(d_fake)
    )
    disc_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    disc_optimizer.step()
    g_fake = discriminator(fake)
    return ADVERSARIAL_WEIGHT * F.binary_cross_entropy_with_logits(g_fake, torch.ones_like(g_fake))


def restore_with_edges(model: nn.Module, degraded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    if hasattr(model, "forward_with_edges"):
        return model.forward_with_edges(degraded)
    return model(degraded), None
