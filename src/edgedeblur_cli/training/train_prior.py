"""Train edgedeblur-prior, the noise-level-conditioned denoiser of the kernel path.

Gaussian denoising at a level drawn per crop, told to the network: the prior step of
half-quadratic splitting asks for exactly that, at levels from about 50/255 down to the
photo's noise. Denoising learns fast, so this fits a CPU session; it checkpoints every
epoch and ``--resume`` continues where a stopped run left off.

    python -m edgedeblur_cli.training.train_prior --data ../shared/data/BSDS500-train-test/train \
        --out runs/prior --epochs 60 --max-minutes 100
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..models.prior_denoiser import PriorDenoiser, PriorDenoiserConfig
from ..weights import save_model_dir

MAX_SIGMA = 55 / 255


@dataclass(frozen=True)
class PriorTrainingConfig:
    crop: int = 96
    batch_size: int = 16
    steps_per_epoch: int = 400
    epochs: int = 60
    lr: float = 1e-3
    min_lr: float = 1e-5
    seed: int = 0
    validation_images: int = 10  # the last photos of the folder, held out of training


def load_photos(folder: Path) -> list[np.ndarray]:
    """Every image of ``folder`` as (H, W, 3) float32 in [0, 1], sorted by name."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return [np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in paths]


def draw_sigma(n: int, generator: torch.Generator) -> torch.Tensor:
    """Noise levels (n,): uniform up to MAX_SIGMA, a fifth of them under 5/255 where HQS ends."""
    u = torch.rand(n, generator=generator)
    low = torch.rand(n, generator=generator) < 0.2
    return torch.where(low, u * 5 / 255, u * MAX_SIGMA)


def random_crops(photos: list[np.ndarray], n: int, crop: int, rng: np.random.Generator) -> torch.Tensor:
    """(n, 3, crop, crop) random crops with random flips and 90-degree turns."""
    out = np.empty((n, crop, crop, 3), dtype=np.float32)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - crop + 1)
        left = rng.integers(photo.shape[1] - crop + 1)
        patch = np.rot90(photo[top : top + crop, left : left + crop], rng.integers(4))
        out[i] = patch[:, ::-1] if rng.integers(2) else patch
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def validation_set(photos: list[np.ndarray], crop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fixed (clean, noisy, sigma): one centre crop per photo at each of 5, 15, 30, 50 /255."""
    clean, noisy, sigmas = [], [], []
    generator = torch.Generator().manual_seed(1234)
    for photo in photos:
        top, left = (photo.shape[0] - crop) // 2, (photo.shape[1] - crop) // 2
        patch = torch.from_numpy(photo[top : top + crop, left : left + crop].copy()).permute(2, 0, 1)
        for level in (5, 15, 30, 50):
            sigma = level / 255
            clean.append(patch)
            noisy.append(patch + sigma * torch.randn(patch.shape, generator=generator))
            sigmas.append(sigma)
    return torch.stack(clean), torch.stack(noisy), torch.tensor(sigmas)


@torch.no_grad()
def validation_psnr(model: PriorDenoiser, data: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> float:
    clean, noisy, sigma = data
    model.eval()
    mse = torch.cat([F.mse_loss(model(n, s), c, reduction="none").flatten(1).mean(1) for c, n, s in zip(clean.split(8), noisy.split(8), sigma.split(8))])
    model.train()
    return float((10 * torch.log10(1 / mse.clamp_min(1e-12))).mean())


def train(data: Path, out: Path, config: PriorTrainingConfig, resume: bool, max_minutes: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    photos = load_photos(data)
    train_photos, val_photos = photos[: -config.validation_images], photos[-config.validation_images :]
    val = validation_set(val_photos, config.crop)
    model = PriorDenoiser(PriorDenoiserConfig())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    total = config.epochs * config.steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))) / config.lr
    )
    start_epoch, best = 0, -1.0
    checkpoint_path = out / "checkpoint.pt"
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start_epoch, best = state["epoch"], state["best"]
    rng = np.random.default_rng(config.seed + start_epoch)
    generator = torch.Generator().manual_seed(config.seed + start_epoch)
    began = time.monotonic()
    log = out / "training-log.csv"
    for epoch in range(start_epoch, config.epochs):
        epoch_began, running = time.monotonic(), 0.0
        for _ in range(config.steps_per_epoch):
            clean = random_crops(train_photos, config.batch_size, config.crop, rng)
            sigma = draw_sigma(config.batch_size, generator)
            noisy = clean + sigma.view(-1, 1, 1, 1) * torch.randn(clean.shape, generator=generator)
            loss = F.l1_loss(model(noisy, sigma), clean)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += float(loss)
        psnr = validation_psnr(model, val)
        if psnr > best:
            best = psnr
            save_model_dir(model, "edgedeblur-prior", out / "best")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "epoch": epoch + 1, "best": best}, checkpoint_path)
        new = not log.exists()
        with log.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["epoch", "train_l1", "val_psnr", "lr", "seconds"])
            writer.writerow([epoch + 1, f"{running / config.steps_per_epoch:.5f}", f"{psnr:.3f}", f"{schedule.get_last_lr()[0]:.2e}", f"{time.monotonic() - epoch_began:.0f}"])
        print(f"epoch {epoch + 1}/{config.epochs}: train L1 {running / config.steps_per_epoch:.4f}, validation {psnr:.2f} dB (best {best:.2f})", flush=True)
        if (time.monotonic() - began) / 60 > max_minutes:
            print("time limit reached; resume with --resume", flush=True)
            break
    (out / "config.json").write_text(__import__("json").dumps({"model": "edgedeblur-prior", "config": asdict(model.config), "training": asdict(config)}, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/prior"))
    parser.add_argument("--epochs", type=int, default=PriorTrainingConfig.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=PriorTrainingConfig.steps_per_epoch)
    parser.add_argument("--batch-size", type=int, default=PriorTrainingConfig.batch_size)
    parser.add_argument("--crop", type=int, default=PriorTrainingConfig.crop)
    parser.add_argument("--lr", type=float, default=PriorTrainingConfig.lr)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-minutes", type=float, default=float("inf"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = PriorTrainingConfig(crop=args.crop, batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch, epochs=args.epochs, lr=args.lr)
    train(args.data, args.out, config, args.resume, args.max_minutes)


if __name__ == "__main__":
    main()
