"""torch.distributed for training under torchrun: gloo on CPU, nccl on CUDA."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .doc_memory import DocumentMemory
from .errors import NerError

T = TypeVar("T")


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

    def shard(self, index: list[T]) -> list[T]:
        """This rank's share of a list: its rows of a global batch, its dev sentences."""
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

    def broadcast(self, tensors: list[torch.Tensor]) -> None:
        """Give every process rank 0's values of ``tensors``, in place."""
        if self.distributed:
            with torch.no_grad():
                for t in tensors:
                    dist.broadcast(t, src=0)

    def gather_objects(self, obj: object) -> list[object]:
        """Every rank's ``obj`` (picklable), by rank."""
        if not self.distributed:
            return [obj]
        out: list[object] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def average_rows(self, weight: torch.Tensor, rows: torch.Tensor | None) -> int:
        """Average ``weight.grad`` over the processes, sending only this process's nonzero rows
        instead of the whole table; returns the floats sent. A sparse gradient names its rows; a
        dense one needs ``rows`` (sorted and distinct).

        Every rank adds the ranks' rows in rank order, so all end with the same gradient, equal
        to what a dense all-reduce gives for two processes (one addition per row either way).
        """
        grad = weight.grad
        sparse = grad is not None and grad.is_sparse
        if sparse:
            grad = grad.coalesce()
            rows, values = grad.indices()[0], grad.values()
        else:
            if grad is None:
                grad = weight.grad = torch.zeros_like(weight)
            assert rows is not None, "a dense gradient needs its rows"
            values = grad.index_select(0, rows)
        if values.dtype != torch.float32:
            raise ValueError(f"row averaging packs row ids into float32 messages; the gradient is {values.dtype}")
        counts = [int(c) for c in self.gather(torch.tensor([len(rows)], device=values.device))]
        most, width = max(counts), weight.size(1)
        # One message per process: its row ids (int32 bits in a float32 column) beside the rows.
        packed = values.new_zeros((most, width + 1))
        packed[: len(rows), 0] = rows.to(torch.int32).view(torch.float32)
        packed[: len(rows), 1:] = values
        blocks = [(block[:n, 0].contiguous().view(torch.int32).long(), block[:n, 1:]) for n, block in zip(counts, self.gather(packed))]
        if sparse:
            ids, parts = torch.cat([i for i, _ in blocks]), torch.cat([b for _, b in blocks])
            grad = torch.sparse_coo_tensor(ids[None], parts, weight.shape, check_invariants=False).coalesce()
            grad.values().div_(self.size)
            weight.grad = grad
        else:
            grad.zero_()
            for ids, block in blocks:
                grad.index_add_(0, ids, block)
            grad.div_(self.size)
        return most * (width + 1)

    def same_everywhere(self, text: str, what: str, hint: str = "give every process the same data") -> None:
        """Refuse to go on when ranks built different ``text`` (e.g. vocabularies)."""
        if not self.distributed:
            return
        import hashlib

        digest = torch.tensor(list(hashlib.sha256(text.encode()).digest()), dtype=torch.uint8)
        if any(not torch.equal(d, digest) for d in self.gather(digest)):
            raise NerError(f"the training processes built different {what}; {hint}")

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


class RowSync:
    """The gradients of embedding tables that the step averages itself, row by row (``World.average_rows``),
    rather than through DistributedDataParallel's dense all-reduce: a batch touches a few hundred
    of a table's rows. ``tables`` pairs each table with the ids of a batch that select its rows."""

    def __init__(self, world: World, tables: list[tuple[torch.nn.Parameter, Callable[[Any], torch.Tensor]]]):
        self.world, self.tables = world, tables

    def __call__(self, batch: Any) -> None:
        for weight, ids in self.tables:
            dense = weight.grad is None or not weight.grad.is_sparse
            self.world.average_rows(weight, torch.unique(ids(batch)) if dense else None)


class MemorySync:
    """Hands each process's document-memory writes of a step to the others, so every process
    reads the same memory (and the main process's checkpoint holds all of it). A step's processes
    write disjoint rows (their own sentences), so the order of applying them does not matter."""

    def __init__(self, world: World, memory: DocumentMemory):
        self.world, self.memory = world, memory
        memory.log = []

    def __call__(self) -> None:
        log, self.memory.log = self.memory.log, []
        width = self.memory.width
        rows = torch.cat([r for r, _ in log]) if log else torch.zeros(0, dtype=torch.long)
        values = torch.cat([v for _, v in log]) if log else torch.zeros(0, width)
        for rank, (r, v) in enumerate(self.world.gather_objects((rows, values))):  # type: ignore[misc]
            if rank != self.world.rank:
                self.memory.apply(r, v)


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
