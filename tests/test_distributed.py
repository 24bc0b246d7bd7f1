"""Training across processes: DistributedDataParallel over gloo on the CPU."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from edgedeblur_cli.training.data import DatasetSpec
from edgedeblur_cli.training.train import CHECKPOINT_FILE, Trainer, TrainConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(folder: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        dataset=DatasetSpec(str(folder), crop=16, downscale=(1.0, 2.0)),
        out=out,
        model="edgedeblur-s",
        epochs=2,
        batch_size=8,
        epoch_size=24,  # 3 steps per epoch, 6 in all
        val_size=8,
        device="cpu",
    )


def _worker(rank: int, world: int, port: int, folder: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    trainer = Trainer(_config(Path(folder), Path(out)), log=lambda message: None)
    trainer.run()
    save_file({k: v.contiguous() for k, v in trainer.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


def test_two_gloo_processes_match_one(train_folder, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(train_folder), str(out)), nprocs=2, join=True)
    rank0 = load_file(str(out / "rank0.safetensors"))
    rank1 = load_file(str(out / "rank1.safetensors"))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)  # identical weights on both ranks
    assert (out / "model.safetensors").is_file() and (out / "log.csv").is_file()  # written by rank 0

    single = Trainer(_config(train_folder, tmp_path / "single"), log=lambda message: None)
    single.run()
    # The checkpoints hold the weights after all 6 steps (the saved models only the best epoch's).
    alone = torch.load(tmp_path / "single" / CHECKPOINT_FILE, weights_only=True)["model"]
    split = torch.load(out / CHECKPOINT_FILE, weights_only=True)["model"]
    start = Trainer(_config(train_folder, tmp_path / "init"), log=lambda message: None).model.state_dict()
    moved = max((alone[k] - start[k]).abs().max().item() for k in alone)
    differ = max((alone[k] - split[k]).abs().max().item() for k in alone)
    assert moved > 1e-3  # training did change the weights
    assert differ < 1e-4, differ  # the same steps, split over two processes, give the same model


def test_torchrun_command_line(train_folder, tmp_path):
    out = tmp_path / "torchrun"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
        "-m", "edgedeblur_cli", "train", "--dataset", str(train_folder), "--crop", "16", "--epochs", "1",
        "--epoch-size", "16", "--batch-size", "8", "--device", "cpu", "--out", str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"4 per process x 2 processes" in result.stderr
    assert (out / "model.safetensors").is_file()
