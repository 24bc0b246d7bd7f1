"""Training checkpoints and the rules read from them: what a checkpoint holds, writing it
atomically, reading it back (tensors only), the learning-rate schedule, and when a run diverged.

Pure functions over plain values, so the trainer's loop (``train.py``) keeps only the loop.
"""

from __future__ import annotations

import io as _io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..files.atomic import write_atomic

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class TrainState:
    """What a checkpoint holds besides the networks and optimizers."""

    stage_index: int = 0
    epoch: int = 0  # epochs finished in the current stage
    best_loss: float = math.inf
    bad_epochs: int = 0
    lr_scale: float = 1.0  # halved each time training diverges
    schedule_start: int | None = None  # epoch at which the cosine schedule began (kept across --resume)
    history: list[dict] = field(default_factory=list)


def save_checkpoint(
    path: Path,
    *,
    model: nn.Module,
    best_state: dict,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    identity: dict,
    discriminator: nn.Module | None = None,
    disc_optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """Write the whole training state to ``path`` atomically (a kill leaves the previous checkpoint).

    ``identity`` (the model name and stages, checked by ``load_checkpoint`` on resume, and the
    network's config, read back by ``saved_model_config``).
    """
    payload = {
        "model": model.state_dict(),
        "best_model": best_state,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "state": json.dumps(asdict(state)),
        "config": json.dumps(identity),
    }
    if discriminator is not None:
        payload["discriminator"] = discriminator.state_dict()
        payload["disc_optimizer"] = disc_optimizer.state_dict() if disc_optimizer else {}
    buffer = _io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path, identity: dict | None = None) -> dict:
    """The payload ``save_checkpoint`` wrote, read as tensors only (never arbitrary pickles).

    With ``identity``, a checkpoint of another model or stages raises ``ValueError``.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    saved = json.loads(payload["config"])
    if identity is not None and (saved["model"] != identity["model"] or saved["stages"] != identity["stages"]):
        raise ValueError(
            f"{path} was trained as model {saved['model']} stages {saved['stages']}, "
            f"not {identity['model']} {identity['stages']}; use another --out or the same options"
        )
    return payload


def saved_model_config(payload: dict) -> dict | None:
    """The network's config a checkpoint was trained with (None in checkpoints older than it)."""
    return json.loads(payload["config"]).get("model_config")


def checkpoint_state(payload: dict) -> TrainState:
    return TrainState(**json.loads(payload["state"]))


def scheduled_lr(lr: float, state: TrainState, schedule: str, epochs: int, epoch_fraction: float) -> float:
    """The learning rate ``epoch_fraction`` of the way through the current epoch.

    ``lr`` scaled by the state's divergence halvings; ``cosine`` decays it to 0 at ``epochs``,
    from the epoch the schedule started (kept across ``--resume``).
    """
    lr *= state.lr_scale
    if schedule == "cosine" and state.schedule_start is not None:
        span = max(1, epochs - state.schedule_start)
        progress = min(1.0, (state.epoch - state.schedule_start + epoch_fraction) / span)
        lr *= 0.5 * (1 + math.cos(math.pi * progress))
    return lr


def diverged(state: TrainState, loss: str) -> bool:
    """The last epoch's validation loss is non-finite or 3 dB worse than the best (twice its MSE).

    ``loss``: ``mse`` (validation loss is an MSE) or ``psnr`` (a log10 MSE).
    """
    if not state.history:
        return False
    last, best = state.history[-1]["val_loss"], state.best_loss
    if not math.isfinite(last):
        return True
    worse = last > best + math.log10(2) if loss == "psnr" else last > 2 * best
    return math.isfinite(best) and worse
