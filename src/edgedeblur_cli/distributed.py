"""This process's place in a torchrun job (NCCL on GPUs, gloo on CPUs), or alone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .device import pick_device


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun job described by the environment (NCCL on GPUs, gloo on CPUs), if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), pick_device(device_name)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return Distributed(rank, world_size, local_rank), torch.device("cuda", local_rank)
    return Distributed(rank, world_size, local_rank), torch.device("cpu")


# Ranks of a restore job finish their shares at different times; the first waits for the last.
GATHER_TIMEOUT = timedelta(days=30)


def gather_from_ranks(value) -> list | None:
    """Every rank's picklable ``value`` in rank order, on every rank, at the end of a torchrun
    job (a gloo all-gather: no NCCL needed for inference); None when run alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=GATHER_TIMEOUT)
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    dist.destroy_process_group()
    return gathered


def rank_device(name: str, environ=os.environ) -> str:
    """``--device auto`` under torchrun with GPUs: this rank's GPU (``cuda:LOCAL_RANK``); otherwise ``name``."""
    if name != "auto" or int(environ.get("WORLD_SIZE", "1")) <= 1 or not torch.cuda.is_available():
        return name
    return f"cuda:{int(environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
