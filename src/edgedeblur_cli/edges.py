"""Edge maps: the seed's Canny training targets, and EdgeNet inference."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn


def canny_target(image: np.ndarray, low: int = 100, high: int = 200) -> np.ndarray:
    """The seed's target: ``Canny(uint8(255 * image), 100, 200) / 255``.

    ``image`` is (H, W, 3) or (H, W) float in [0, 1]; returns (H, W) float32 in {0, 1}.
    ``uint8(255 * x)`` truncates, as NumPy's cast in the seed did.
    """
    as_uint8 = (255 * np.clip(image, 0, 1)).astype(np.uint8)
    return (cv2.Canny(np.ascontiguousarray(as_uint8), low, high) / 255).astype(np.float32)


def canny_targets(images: torch.Tensor) -> torch.Tensor:
    """Canny targets for a batch: (N, 3, H, W) in [0, 1] -> (N, 1, H, W) float in {0, 1}, same device."""
    arrays = images.detach().permute(0, 2, 3, 1).cpu().numpy()
    maps = np.stack([canny_target(a) for a in arrays])[:, None]
    return torch.from_numpy(maps).to(images.device)


def edge_network(model: nn.Module) -> nn.Module:
    """The edge branch of a restorer (or the EdgeNet itself when given one)."""
    edgenet = getattr(model, "edgenet", None)
    if edgenet is not None:
        return edgenet
    if hasattr(model, "logits"):
        return model
    raise ValueError(f"{type(model).__name__} has no edge branch")


@torch.inference_mode()
def predict_edges(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Edge probabilities (N, 1, H, W) in [0, 1] for (N, 3, H, W) images in [0, 1]."""
    return edge_network(model)(images).clamp(0, 1)
