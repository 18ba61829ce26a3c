"""torch.distributed for training under torchrun: gloo on CPU, nccl on CUDA."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .errors import NerError


@dataclass
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, index: list[int]) -> list[int]:
        """This rank's rows of a global batch."""
        return index[self.rank :: self.size]

    def all_sum(self, values: list[float]) -> list[float]:
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank when any rank says True (for stop requests)."""
        return self.all_sum([float(flag)])[0] > 0 if self.distributed else flag

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of an equally shaped tensor, by rank."""
        if not self.distributed:
            return [tensor]
        parts = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(parts, tensor)
        return parts

    def same_everywhere(self, text: str, what: str) -> None:
        """Refuse to go on when ranks built different ``text`` (e.g. vocabularies)."""
        if not self.distributed:
            return
        import hashlib

        digest = torch.tensor(list(hashlib.sha256(text.encode()).digest()), dtype=torch.uint8)
        if any(not torch.equal(d, digest) for d in self.gather(digest)):
            raise NerError(f"the training processes built different {what}; give every process the same data")

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init_world(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group that torchrun describes in the environment (WORLD_SIZE, RANK, ...);
    with CUDA each process takes the GPU of its LOCAL_RANK."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=5))
    return World(dist.get_rank(), dist.get_world_size()), device


def joined() -> bool:
    """Whether this process is already in a process group (one that a caller above set up)."""
    return dist.is_available() and dist.is_initialized()


def close_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
