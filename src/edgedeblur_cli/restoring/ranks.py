"""A restore job under torchrun: each rank's device, and the ranks' summaries gathered at the end.

Which files a rank restores is ``files.sharding``'s business (RANK+1 of WORLD_SIZE shares).
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


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
