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
    received: list[torch.Tensor]  # by rank: the flat message
    work: Any
    local: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # one process: its own parts, nothing sent

    def wait(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        if self.local is not None:
            return [self.local]
        self.work.wait()
        most = [max(c[j] for c in self.counts) for j in range(len(self.widths))]
        sizes = [rows * (width + 1) for rows, width in zip(most, self.widths, strict=True)]
        out = []
        for rank_counts, message in zip(self.counts, self.received, strict=True):
            parts = []
            for width, n, flat in zip(self.widths, rank_counts, message.split(sizes), strict=True):
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
            return Exchange([[len(ids) for ids, _ in parts]], widths, [], None, local=parts)
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
        return Exchange(counts, widths, received, dist.all_gather(received, message, async_op=True))

    def average_rows(self, weight: torch.Tensor, rows: torch.Tensor | None) -> int:
        """Average ``weight.grad`` over the processes, sending only this process's nonzero rows
        instead of the whole table; returns the floats sent. A sparse gradient names its rows; a
        dense one needs ``rows`` (sorted and distinct). ``StepSync`` does this with the step's other
        exchanges in one message; this is the same for one table.

        Every rank adds the ranks' rows in rank order, so all end with the same gradient, equal
        to what a dense all-reduce gives for two processes (one addition per row either way).
        """
        part = grad_rows(weight, rows)
        received = [blocks[0] for blocks in self.exchange([part])]
        set_averaged_rows(weight, received, self.size)
        return max(len(ids) for ids, _ in received) * (weight.size(1) + 1)

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


def grad_rows(weight: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of ``weight.grad`` a step touched: ``(ids, values)``. A sparse gradient names its
    rows; a dense one (None counts as zero) needs ``rows``, sorted and distinct."""
    grad = weight.grad
    if grad is not None and grad.is_sparse:
        grad = grad.coalesce()
        return grad.indices()[0], grad.values()
    if grad is None:
        grad = weight.grad = torch.zeros_like(weight)
    assert rows is not None, "a dense gradient needs its rows"
    return rows, grad.index_select(0, rows)


def set_averaged_rows(weight: torch.Tensor, received: list[tuple[torch.Tensor, torch.Tensor]], size: int) -> None:
    """Make ``weight.grad`` the average of every rank's rows, added in rank order (sparse stays sparse).
    A dense gradient is only written on the rows some rank sent: the others are zero already, as
    this rank's nonzero rows are among those it sent (not a pass over the whole table); the rows
    are summed apart, in a block of their own, and written once."""
    if weight.grad is not None and weight.grad.is_sparse:
        ids, parts = torch.cat([i for i, _ in received]), torch.cat([b for _, b in received])
        grad = torch.sparse_coo_tensor(ids[None], parts, weight.shape, check_invariants=False).coalesce()
        grad.values().div_(size)
        weight.grad = grad
        return
    rows = torch.cat([ids for ids, _ in received]).unique()
    summed = weight.grad.new_zeros(len(rows), weight.size(1))
    for ids, block in received:  # rank by rank, each rank's ids distinct: the same sums on every device
        summed.index_add_(0, torch.searchsorted(rows, ids), block)
    weight.grad.index_copy_(0, rows, summed.div_(size))


class StepSync:
    """What a step exchanges besides DistributedDataParallel's dense all-reduce, in one message
    (``World.start_exchange``):

    - the gradients of the embedding tables, row by row: a batch touches a few hundred of a
      table's rows, so each process sends those and every process averages them;
    - the document memory's writes (when there is a memory): a step's processes write disjoint
      rows (their own sentences), so every process applies all of them and reads the same memory
      (and the main process's checkpoint holds all of it).

    ``tables`` pairs each table with the ids of a batch that select its rows. ``announce`` before
    the forward pass sends the row counts ahead, while the step computes; the message leaves as
    soon as the last table has its gradient, still in the backward pass, so it travels beside
    DDP's all-reduce; the call after the backward pass takes it in.
    """

    def __init__(self, world: World, tables: list[tuple[torch.nn.Parameter, Callable[[Any], torch.Tensor]]],
                 memory: DocumentMemory | None = None):
        self.world, self.tables, self.memory = world, tables, memory
        self.pending: tuple[list[torch.Tensor], Announced | None] | None = None  # this step's rows and counts, until sent
        self.sending: Exchange | None = None
        self.ready = 0  # tables with this step's gradient
        if memory is not None:
            memory.log = []
        self.hooks = [weight.register_post_accumulate_grad_hook(self._gradient_ready) for weight, _ in tables]

    def close(self) -> None:
        """Remove the gradient hooks and stop logging memory writes (the model outlives the run)."""
        for hook in self.hooks:
            hook.remove()
        self.hooks = []
        if self.memory is not None:
            self.memory.log = None

    def announce(self, batch: Any) -> None:
        """Gather the counts of ``batch``'s exchange now (its ids final, before the forward pass):
        a table's rows are the batch's distinct ids (a sparse gradient may name fewer), the
        memory's writes its linked tokens."""
        rows = [torch.unique(ids(batch)) for _, ids in self.tables]
        counts = [len(r) for r in rows]
        if self.memory is not None:
            counts.append(len(batch.memory.linked()[0]) if batch.memory is not None else 0)
        device = self.tables[0][0].device if self.tables else torch.device("cpu")
        # A step that failed after its message left leaves it unread: this step starts afresh.
        self.pending, self.sending, self.ready = (rows, self.world.announce(counts, device)), None, 0

    def _gradient_ready(self, weight: torch.Tensor) -> None:
        # Every process takes the same path: the same graph gives the tables their gradients on
        # every process or on none (then ``__call__`` sends), and at the same point of the backward
        # pass relative to DDP's buckets (last: a table is looked up first in the forward pass),
        # so the collectives pair up alike on every process.
        self.ready += 1
        if self.ready == len(self.tables) and self.pending is not None:
            self._send()

    def _send(self) -> None:
        (rows, announced), self.pending = self.pending, None  # type: ignore[misc]
        parts = []
        for (weight, _), ids in zip(self.tables, rows, strict=True):
            dense = weight.grad is None or not weight.grad.is_sparse
            parts.append(grad_rows(weight, ids if dense else None))
        if self.memory is not None:
            log, self.memory.log = self.memory.log, []
            written = torch.cat([r for r, _ in log]) if log else torch.zeros(0, dtype=torch.long)
            values = torch.cat([v for _, v in log]) if log else torch.zeros(0, self.memory.width)
            parts.append((written, values))
        self.sending = self.world.start_exchange(parts, announced)

    def __call__(self, batch: Any) -> None:
        """After the backward pass: every process's rows averaged into the tables' gradients, and
        the others' memory writes applied (sent now if no gradient hook sent them)."""
        if self.sending is None:
            if self.pending is None:
                self.pending = [torch.unique(ids(batch)) for _, ids in self.tables], None
            self._send()
        sending, self.sending = self.sending, None
        received = sending.wait()  # type: ignore[union-attr]
        for j, (weight, _) in enumerate(self.tables):
            set_averaged_rows(weight, [blocks[j] for blocks in received], self.world.size)
        if self.memory is not None:
            for rank, blocks in enumerate(received):
                if rank != self.world.rank:
                    ids, values = blocks[-1]
                    self.memory.apply(ids.cpu(), values.cpu())


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
