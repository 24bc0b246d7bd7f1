"""Training: the seed's two stages (EdgeNet on Canny targets, then the restorer with the EdgeNet
frozen) or joint training, with early stopping, exact resume, a time budget and a loadable result.

The output directory is a model directory (see ``weights.py``) plus ``checkpoint.pt`` (the full
training state, written atomically every epoch), ``log.csv`` and ``loss.png``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from .checkpoint import (
    CHECKPOINT_FILE,
    TrainState,
    checkpoint_state,
    diverged,
    load_checkpoint,
    save_checkpoint,
    saved_model_config,
    scheduled_lr,
)
from .data import DatasetSpec, batch_ranges, stack_pairs
from ..degradations.seed import DegradeConfig
from .distributed import init_distributed
from ..models import create_model, model_config_dict
from .stages import StageLoss, adversarial_edge_loss, set_trainable, summed_stage_loss
from .pairs import training_data
from .log import psnr_note, val_psnr, write_log
from ..weights import load_folder_or_published, save_model_dir

STAGES = ("edges", "deblur", "all", "joint")
DEFAULT_STAGE = {"seed": "all", "unet": "deblur", "edgedeblur-s-noedge": "deblur"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``edgedeblur train`` was asked for."""

    dataset: DatasetSpec
    out: Path
    model: str = "edgedeblur-s"
    stage: str = "auto"  # edges | deblur | all (edges then deblur) | joint | auto (per model)
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (from --lr to 0 at --epochs, starting where this run starts)
    patience: int = 7
    min_delta: float = 1e-4  # the seed's early stopping: smaller improvements do not count
    max_minutes: float | None = None
    resume: bool = False
    init: str | None = None  # start from these trained weights (a model folder or a published name): fine-tuning
    device: str = "auto"
    edge_loss: str = "bce"  # bce | gan
    edge_weight: float = 0.05  # weight of the edge BCE in joint training
    grad_clip: float = 1.0  # max global gradient norm
    epoch_size: int | None = None  # samples per epoch; default: 3x the images for CIFAR-10, 10,000 crops otherwise
    val_size: int = 1000
    seed: int = 0
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    degradation: str = "seed"  # seed (the study's blur + noise) | real (the realistic family, degradations/realistic.py)
    loss: str = "mse"  # mse | psnr (per-sample log MSE: clean and lightly degraded crops are not drowned out)

    def stages(self) -> list[str]:
        stage = DEFAULT_STAGE.get(self.model, "joint") if self.stage == "auto" else self.stage
        return ["edges", "deblur"] if stage == "all" else [stage]


def _autocast(device: torch.device):
    # bf16 needs no loss scaling, and H100-class GPUs run it at full speed.
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


class Trainer:
    """Runs ``TrainConfig`` to completion (or its time budget), resumable from ``checkpoint.pt``.

    ``run`` trains each stage in turn (``_run_stage``), an epoch at a time (``_train_epoch``,
    then ``_end_epoch``: validate, keep the best weights, checkpoint). Under torchrun every
    process trains a shard of each batch through DistributedDataParallel; ``--batch-size`` is the
    effective (global) batch; rank 0 alone writes checkpoints and logs.
    """

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.dist, self.device = init_distributed(config.device)
        self.log = log if self.dist.is_main else (lambda message: None)
        if config.batch_size % self.dist.world_size:
            raise ValueError(f"--batch-size {config.batch_size} must be divisible by the {self.dist.world_size} processes")
        if config.edge_loss == "gan" and self.dist.enabled:
            raise ValueError("--edge-loss gan trains in one process only")
        self.out = Path(config.out)
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)  # the same --seed gives the same initial weights
        self.stages = config.stages()
        self.model = self._build_model().to(self.device)
        for stage in self.stages:
            if stage in ("edges", "joint") and not hasattr(self.model, "edgenet") and not hasattr(self.model, "logits"):
                raise ValueError(f"model {config.model!r} has no edge branch: use --stage deblur")
        self.state = TrainState()
        self.discriminator = create_model("edge-discriminator").to(self.device) if config.edge_loss == "gan" else None
        data = training_data(config.dataset, config.seed, config.epoch_size, config.val_size, config.degrade, config.degradation)
        self.samples, self.val_pairs = data.samples, data.validation
        per_process = config.batch_size // self.dist.world_size
        self.log(
            f"data: {data.summary}; effective batch {config.batch_size} "
            f"({per_process} per process x {self.dist.world_size} processes), device {self.device}"
        )

    def _build_model(self) -> nn.Module:
        """The network to train, sized as the checkpoint being resumed or the ``--init`` weights
        say (a grown copy of a published model is trained at its own size), else the default."""
        c = self.config
        checkpoint = self.out / CHECKPOINT_FILE
        if c.resume and checkpoint.is_file():
            # A resumed fine-tune continues from its checkpoint, not from --init.
            return create_model(c.model, saved_model_config(load_checkpoint(checkpoint, self._identity())))
        if c.init is None:
            return create_model(c.model)
        trained = load_folder_or_published(c.init, note=self.log)
        model = create_model(c.model, model_config_dict(trained))
        try:
            model.load_state_dict(trained.state_dict())
        except RuntimeError:
            raise ValueError(f"--init {c.init}: its weights do not fit model {c.model!r}") from None
        self.log(f"starting from the weights of {c.init}")
        return model

    def _loader(self) -> DataLoader:
        # Sample i is the same whatever the number of processes, so one process with batch B
        # and N processes with B/N each see the same batches (rank r takes i = r, r+N, ...).
        self.samples.set_epoch(len(self.state.history))
        sampler = DistributedSampler(self.samples, self.dist.world_size, self.dist.rank, shuffle=False) if self.dist.enabled else None
        # Crops are cut on the CPU (~0.4 ms each): a GPU needs many workers to be kept busy.
        workers = max(1, min(12, (os.cpu_count() or 2) - 2)) if self.device.type == "cuda" else 0
        return DataLoader(
            self.samples,
            batch_size=self.config.batch_size // self.dist.world_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
        )

    # ------------------------------------------------------------ checkpoints

    def _new_optimizer(self, stage: str) -> torch.optim.Optimizer:
        set_trainable(self.model, stage)
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.config.lr * self.state.lr_scale)

    def _diverged(self) -> bool:
        return diverged(self.state, self.config.loss)

    def _recover(self, stage: str, best_state: dict) -> torch.optim.Optimizer:
        """Back to the best weights with half the learning rate and a fresh optimizer."""
        self.state.lr_scale /= 2
        self.log(f"training diverged: back to the best weights, learning rate x{self.state.lr_scale:g}")
        self.model.load_state_dict(best_state)
        return self._new_optimizer(stage)

    def _checkpoint(self, optimizer, best_state, disc_optimizer=None) -> None:
        if self.dist.is_main:
            save_checkpoint(
                self.out / CHECKPOINT_FILE, model=self.model, best_state=best_state, optimizer=optimizer, state=self.state,
                # With the network's size, so that a resume builds it at that size again.
                identity={**self._identity(), "model_config": model_config_dict(self.model)}, discriminator=self.discriminator, disc_optimizer=disc_optimizer,
            )

    def _identity(self) -> dict:
        """What a checkpoint must have been trained as to be resumed by this run."""
        return {"model": self.config.model, "stages": self.stages}

    def _restore(self) -> dict | None:
        path = self.out / CHECKPOINT_FILE
        if not path.is_file():
            self.log(f"no checkpoint in {self.out}: starting fresh")
            return None
        payload = load_checkpoint(path, self._identity())
        self.model.load_state_dict(payload["model"])
        torch.set_rng_state(payload["torch_rng"])
        self.state = checkpoint_state(payload)
        if self.discriminator is not None and "discriminator" in payload:
            self.discriminator.load_state_dict(payload["discriminator"])
        self.log(f"resumed from {path}: stage {self.stages[min(self.state.stage_index, len(self.stages) - 1)]}, epoch {self.state.epoch}")
        return payload

    # ------------------------------------------------------------ losses

    def _all_reduce(self, values: list[float], op: dist.ReduceOp = dist.ReduceOp.SUM) -> list[float]:
        """Sum (or ``op``) of ``values`` over all processes; the values themselves when alone."""
        if not self.dist.enabled:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return tensor.tolist()

    @torch.no_grad()
    def _validate(self, stage: str) -> float:
        """Mean validation loss over the fixed set; each process scores a shard, the sums are reduced."""
        self.model.eval()
        pairs = self.val_pairs
        same_size = len({p.shape for p in pairs.sharp}) == 1
        ranges = batch_ranges(len(pairs.sharp), self.config.batch_size, same_size)[self.dist.rank :: self.dist.world_size]
        total, count = 0.0, 0
        for start, stop in ranges:
            degraded, sharp = (t.to(self.device) for t in stack_pairs(pairs, start, stop))
            with _autocast(self.device):
                total += summed_stage_loss(self.model, stage, self.config.loss, degraded, sharp).item()
            count += stop - start
        total, count = self._all_reduce([total, float(count)])
        self.model.train()
        return total / max(count, 1)

    # ------------------------------------------------------------ the loop

    def run(self) -> Path:
        c = self.config
        started = time.monotonic()
        budget = c.max_minutes * 60 if c.max_minutes else math.inf
        payload = self._restore() if c.resume else None
        if c.edge_loss == "gan" and "edges" not in self.stages:
            self.log("note: --edge-loss gan only affects the edges stage")
        if c.init is not None and payload is None:
            # The starting weights are the score to beat: a fine-tune that never improves keeps them.
            self.state.best_loss = self._validate(self.stages[0])
            self.log(f"--init weights before training: val {self.state.best_loss:.5f}{psnr_note(self.stages[0], self.state.best_loss, c.loss)}")
        while self.state.stage_index < len(self.stages):
            stage = self.stages[self.state.stage_index]
            # In a two-stage run the edge stage may use at most a third of the time budget.
            stage_deadline = started + (budget / 3 if stage == "edges" and len(self.stages) > 1 else budget)
            out_of_time = self._run_stage(stage, payload, stage_deadline)
            payload = None
            if out_of_time and stage_deadline >= started + budget:
                self.log(f"time budget of {c.max_minutes} min reached; the best model so far is in {self.out}")
                break
            # The checkpoint keeps this stage's state: a resume with more --epochs goes on training it.
            self.state = TrainState(stage_index=self.state.stage_index + 1, history=self.state.history)
        self._save_model(self.model.state_dict())
        self._write_log()
        return self.out

    def _run_stage(self, stage: str, payload: dict | None, deadline: float) -> bool:
        """Train ``stage`` (from ``payload``, a resumed checkpoint, if given) until its epochs,
        its patience or ``deadline`` run out; leaves the model at its best weights. True when
        the deadline stopped it."""
        c = self.config
        optimizer = self._new_optimizer(stage)
        loss_module: nn.Module = StageLoss(self.model, stage, c.edge_weight, c.loss)
        if self.dist.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            loss_module = DistributedDataParallel(loss_module, device_ids=device_ids)
        disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr) if self.discriminator is not None else None
        best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if payload is not None:
            # The saved state brings its learning rate; every step sets --lr (or its schedule) anew.
            optimizer.load_state_dict(payload["optimizer"])
            if disc_optimizer is not None and payload.get("disc_optimizer"):
                disc_optimizer.load_state_dict(payload["disc_optimizer"])
            if payload.get("best_model"):
                best_state = payload["best_model"]
            if self._diverged():  # a run stopped right after an epoch that blew up
                optimizer = self._recover(stage, best_state)
        if c.lr_schedule == "cosine" and self.state.schedule_start is None:
            self.state.schedule_start = self.state.epoch
        self.log(f"stage {stage}: training {sum(p.numel() for p in self.model.parameters() if p.requires_grad):,} parameters")
        out_of_time = False
        while self.state.epoch < c.epochs and self.state.bad_epochs < c.patience and not out_of_time:
            epoch_start = time.monotonic()
            train_loss, out_of_time = self._train_epoch(stage, loss_module, optimizer, disc_optimizer, deadline)
            best_state, optimizer = self._end_epoch(stage, train_loss, epoch_start, optimizer, best_state)
            self._checkpoint(optimizer, best_state, disc_optimizer)
            self._write_log()
        self.model.load_state_dict(best_state)  # restore-best, as the seed's early stopping did
        return out_of_time

    def _end_epoch(
        self, stage: str, train_loss: float, epoch_start: float, optimizer: torch.optim.Optimizer, best_state: dict
    ) -> tuple[dict, torch.optim.Optimizer]:
        """Validate, log the epoch (begun at ``epoch_start``, monotonic), keep the weights if they are the best yet, save the best
        model, and recover from a divergence; returns the best weights and the optimizer to go on with."""
        c = self.config
        val_loss = self._validate(stage)
        self.state.epoch += 1
        improved = val_loss < self.state.best_loss - c.min_delta
        if improved:
            self.state.best_loss = val_loss
            self.state.bad_epochs = 0
            best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.state.bad_epochs += 1
        self.state.history.append({
            "stage": stage,
            "epoch": self.state.epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_psnr": val_psnr(stage, val_loss, c.loss),
            "seconds": round(time.monotonic() - epoch_start, 1),  # training and validation
            "lr": float(f"{optimizer.param_groups[0]['lr']:.3g}"),
        })
        self.log(f"{stage} epoch {self.state.epoch}: train {train_loss:.5f}, val {val_loss:.5f}{psnr_note(stage, val_loss, c.loss)}" + (" (best)" if improved else ""))
        if self._diverged():
            optimizer = self._recover(stage, best_state)
        self._save_model(best_state)
        return best_state, optimizer

    def _train_epoch(self, stage, loss_module, optimizer, disc_optimizer, deadline: float) -> tuple[float, bool]:
        self.model.train()
        loader = self._loader()
        total, done, skipped, out_of_time = 0.0, 0, 0, False
        show = sys.stderr.isatty() and self.dist.is_main
        bar = tqdm(loader, desc=f"{stage} epoch {self.state.epoch + 1}", leave=False, dynamic_ncols=True, disable=not show)
        steps = len(loader)
        for step, (sharp, degraded) in enumerate(bar):
            for group in optimizer.param_groups:
                group["lr"] = self._scheduled_lr(step / steps)
            sharp = sharp.to(self.device, non_blocking=True)
            degraded = degraded.to(self.device, non_blocking=True)
            with _autocast(self.device):
                loss = loss_module(degraded, sharp)
                if stage == "edges" and self.discriminator is not None:
                    loss = loss + adversarial_edge_loss(self.model, self.discriminator, disc_optimizer, degraded, sharp)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # Clipping keeps a rare huge gradient from blowing the weights up; a non-finite loss
            # (or gradient) on any process skips the update everywhere instead of poisoning the model.
            grad_norm = torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], self.config.grad_clip)
            bad = float(not (torch.isfinite(loss) and torch.isfinite(grad_norm)))
            if self._all_reduce([bad], dist.ReduceOp.MAX)[0] > 0:
                skipped += 1
                continue
            optimizer.step()
            total += loss.item()
            done += 1
            bar.set_postfix(loss=f"{total / done:.5f}")
            # Every process must stop at the same step, or the others would wait forever.
            late = float(time.monotonic() > deadline)
            if self._all_reduce([late], dist.ReduceOp.MAX)[0] > 0:
                out_of_time = True
                break
        bar.close()
        if skipped:
            self.log(f"note: skipped {skipped} update(s) with a non-finite loss or gradient")
        mean_loss = self._all_reduce([total / max(done, 1)])[0] / self.dist.world_size
        return mean_loss, out_of_time

    def _scheduled_lr(self, epoch_fraction: float) -> float:
        c = self.config
        return scheduled_lr(c.lr, self.state, c.lr_schedule, c.epochs, epoch_fraction)

    # ------------------------------------------------------------ outputs

    def _save_model(self, state: dict) -> None:
        if not self.dist.is_main:
            return
        current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(state)
        extra = {"training": {"stages": self.stages, "history_tail": self.state.history[-3:]}}
        save_model_dir(self.model, self.config.model, self.out, extra)
        self.model.load_state_dict(current)

    def _write_log(self) -> None:
        if self.dist.is_main:
            write_log(self.state.history, self.out)


def train(config: TrainConfig, log: Callable[[str], None] = print) -> Path:
    """Train as ``config`` says; returns the output model directory."""
    return Trainer(config, log).run()
