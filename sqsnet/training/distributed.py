"""The process group of a run: one process, or ``torchrun --nproc_per_node N`` ranks.

Under ``torchrun`` every rank trains its share of each epoch's batches
(DistributedDataParallel); running sums and validation predictions are gathered so that
every number a run records is the one a single process would have computed, and only rank 0
writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["Ranks", "init_ranks", "pick_device", "barrier", "all_reduce_sums",
           "gather_predictions"]


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in the run.

    Attributes:
        world: Number of processes (1 without ``torchrun``).
        rank: This process, ``0 <= rank < world``.
        local_rank: This process on its machine (its GPU index).
    """

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and logs."""
        return self.rank == 0


def init_ranks() -> Ranks:
    """Read ``torchrun``'s environment and join its process group (NCCL on CUDA, else gloo)."""
    ranks = Ranks(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")),
                  int(os.environ.get("LOCAL_RANK", "0")))
    if ranks.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return ranks


def pick_device(device: str | None, ranks: Ranks) -> torch.device:
    """``device``, or this rank's GPU when CUDA is available, else the CPU (made current)."""
    if device is None:
        device = f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return dev


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (nothing to wait for in a single process)."""
    if ranks.world > 1:
        dist.barrier()


def all_reduce_sums(values: list[float], ranks: Ranks, device: torch.device) -> list[float]:
    """Each value summed over the ranks (float64), the values themselves on one process."""
    if ranks.world == 1:
        return values
    packed = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(packed)
    return packed.tolist()


def gather_predictions(
    probs: np.ndarray, targets: np.ndarray, ranks: Ranks
) -> tuple[np.ndarray, np.ndarray]:
    """Every rank's ``N_r x K`` probabilities and ``N_r`` targets, concatenated in rank order."""
    if ranks.world == 1:
        return probs, targets
    gathered: list[Any] = [None] * ranks.world
    dist.all_gather_object(gathered, (probs, targets))
    kept = [g for g in gathered if len(g[1])]
    return np.concatenate([g[0] for g in kept]), np.concatenate([g[1] for g in kept])
