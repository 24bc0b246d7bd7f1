"""The training log: ``log.csv`` (one row per epoch) and ``loss.png``, and PSNR notes for the console."""

from __future__ import annotations

import csv
import io as _io
import math
from pathlib import Path

from ..files.atomic import write_atomic


def write_log(rows: list[dict], out: Path) -> None:
    """Write ``out/log.csv`` and ``out/loss.png`` for the epoch rows so far (atomically)."""
    if not rows:
        return
    buffer = _io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))  # older rows may lack newer columns
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "log.csv", buffer.getvalue().encode())
    plot_losses(rows, out / "loss.png")


def val_psnr(stage: str, val_loss: float, loss: str = "mse") -> float | str:
    """PSNR (dB) of a validation loss: of the mean MSE (``mse``) or the mean PSNR (``psnr``);
    "" for the edges stage, whose loss is a BCE.

    Plain math, not ``metrics.psnr_from_mse``, which would import torchmetrics for one formula.
    """
    if stage == "edges":
        return ""
    return -10 * val_loss if loss == "psnr" else -10 * math.log10(max(val_loss, 1e-10))


def psnr_note(stage: str, val_loss: float, loss: str = "mse") -> str:
    psnr = val_psnr(stage, val_loss, loss)
    return f", val PSNR {psnr:.2f} dB" if psnr != "" else ""


def plot_losses(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(dict.fromkeys(r["stage"] for r in rows))
    fig, axes = plt.subplots(1, len(stages), figsize=(5 * len(stages), 3.5), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        sub = [r for r in rows if r["stage"] == stage]
        epochs = [r["epoch"] for r in sub]
        ax.plot(epochs, [r["train_loss"] for r in sub], "o-", label="train")
        ax.plot(epochs, [r["val_loss"] for r in sub], "o-", label="validation")
        ax.set_title(f"stage {stage}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("BCE" if stage == "edges" else "loss")
        ax.legend()
    fig.tight_layout()
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
