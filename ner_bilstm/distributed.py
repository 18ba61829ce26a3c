"""torch.distributed for training under torchrun: gloo on CPU, nccl on CUDA."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .errors import NerError

T = TypeVar("T")


@dataclass
class Announced:
    """Every rank's row counts for an exchange, by rank, once ``work`` (an async gather) is done."""

    counts: list[torch.Tensor]
    work: Any

    def wait(self) -> list[list[int]]:
        if self.work is not None:
            self.work.wait()
        return torch.stack(self.counts).tolist()


@dataclass
class Exchange:
    """A row exchange on its way (``World.start_exchange``): ``wait()`` gives every rank's parts,
    by rank, each ``(ids (n,), values (n, width))``."""

    counts: list[list[int]]  # by rank and part: rows sent, or a bound on them
    widths: list[int]
    sizes: list[int]  # floats of each part's block in a message (its rows padded to the largest count)
    received: list[torch.Tensor]  # by rank: the flat message
    work: Any
    local: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # one process: its own parts, nothing sent

    def wait(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        if self.local is not None:
            return [self.local]
        self.work.wait()
        out = []
        for rank_counts, message in zip(self.counts, self.received, strict=True):
            parts = []
            for width, n, flat in zip(self.widths, rank_counts, message.split(self.sizes), strict=True):
                block = flat.view(-1, width + 1)[:n]
                ids = block[:, 0].contiguous().view(torch.int32)
                if n and int(ids[-1]) < 0:  # a bound, not a count: drop the padding
                    block, ids = block[ids >= 0], ids[ids >= 0]
                parts.append((ids.long(), block[:, 1:]))
            out.append(parts)
        return out


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
        """This rank's share of a list: its rows of a global batch."""
        return index[self.rank :: self.size]

    def share_by_size(self, units: list[T], sizes: list[int]) -> list[T]:
        """This rank's share of ``units`` whose work is ``sizes``, in their order: the largest first,
        each to the rank with the least so far (every rank computes the same split)."""
        if not self.distributed:
            return list(units)
        totals, mine = [0] * self.size, []
        for k in sorted(range(len(units)), key=lambda k: (-sizes[k], k)):
            rank = min(range(self.size), key=lambda r: (totals[r], r))
            totals[rank] += sizes[k]
            if rank == self.rank:
                mine.append(k)
        return [units[k] for k in sorted(mine)]

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

    def announce(self, counts: list[int], device: torch.device | str = "cpu") -> Announced:
        """Start gathering every rank's row ``counts`` for the next ``exchange``, without waiting:
        the gather travels while this process computes, and the exchange itself is then one
        collective. A count may be a bound: a part may send fewer rows, not more."""
        mine = torch.tensor(counts, dtype=torch.long, device=device)
        if not self.distributed:
            return Announced([mine], None)
        parts = [torch.empty_like(mine) for _ in range(self.size)]
        return Announced(parts, dist.all_gather(parts, mine, async_op=True))

    def exchange(self, parts: list[tuple[torch.Tensor, torch.Tensor]],
                 announced: Announced | None = None) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Every rank's ``parts``, by rank (``start_exchange``, waited for)."""
        return self.start_exchange(parts, announced).wait()

    def start_exchange(self, parts: list[tuple[torch.Tensor, torch.Tensor]], announced: Announced | None = None) -> Exchange:
        """Send every rank's ``parts`` to every rank; waits for the counts, not for the message
        (``Exchange.wait``; with gloo it travels beside other collectives). Each part a set of rows,
        ``ids (n,)`` (non-negative) and ``values (n, width)`` float32, where n may differ between
        ranks but part j's width may not. One message of every part's rows, padded to the largest
        count announced (the ids ride as int32 bits in a float32 column, -1 on padding); the counts
        are gathered first unless ``announced`` (``announce``) already holds them."""
        widths = [values.size(1) for _, values in parts]
        if not self.distributed:
            return Exchange([[len(ids) for ids, _ in parts]], widths, [], [], None, local=parts)
        for _, values in parts:
            if values.dtype != torch.float32:
                raise ValueError(f"row exchange packs ids into float32 messages; got {values.dtype}")
        device = parts[0][1].device if parts else torch.device("cpu")
        counts = (announced or self.announce([len(ids) for ids, _ in parts], device)).wait()
        for j, (ids, _) in enumerate(parts):
            if len(ids) > counts[self.rank][j]:  # a bug, not a user's mistake (the others then wait until the timeout)
                raise RuntimeError(f"row exchange: part {j} has {len(ids)} rows, {counts[self.rank][j]} announced")
        most = [max(c[j] for c in counts) for j in range(len(parts))]
        blocks = []
        for (ids, values), rows in zip(parts, most, strict=True):
            block = torch.zeros((rows, values.size(1) + 1), device=device)
            column = torch.full((rows,), -1, dtype=torch.int32, device=device)  # -1: padding
            column[: len(ids)] = ids.to(device=device, dtype=torch.int32)
            block[:, 0] = column.view(torch.float32)  # a copy of the bits (ids past 2**23 are NaN patterns)
            block[: len(ids), 1:] = values
            blocks.append(block.view(-1))
        message = torch.cat(blocks)
        received = [torch.empty_like(message) for _ in range(self.size)]
        return Exchange(counts, widths, [b.numel() for b in blocks], received, dist.all_gather(received, message, async_op=True))

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
        # With CUDA, gloo still carries the CPU tensors (random states, loss sums, stop requests, vocabulary digests).
        dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=5))
    return World(dist.get_rank(), dist.get_world_size()), device


def joined() -> bool:
    """Whether this process is already in a process group (one that a caller above set up)."""
    return dist.is_available() and dist.is_initialized()


def close_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
