"""Data-parallel training: a run's setup spread over the processes (DistributedDataParallel), and
what a step exchanges besides DDP's dense all-reduce: the embedding tables' touched rows
(averaged over the processes) and the document memory's writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from .distributed import Announced, Exchange, World
from .doc_memory import DocumentMemory

if TYPE_CHECKING:
    from .config import TrainConfig
    from .setup import TrainingSetup


def spread(setup: TrainingSetup, world: World, config: TrainConfig) -> None:
    """Make ``setup`` one of ``world``'s data-parallel processes: the same vocabularies and options
    checked everywhere, the same starting weights, the model wrapped in DistributedDataParallel
    (``setup.trainer``) and the step's other exchange (``setup.step_sync``)."""
    world.same_everywhere(json.dumps(setup.vocab.to_dict()), "vocabularies")
    # Options resolved per machine (--bf16 auto) must agree, or the ranks would train in
    # different arithmetic and a resume could be refused on one rank while the others wait.
    world.same_everywhere(json.dumps(config.to_dict(), sort_keys=True), "training options",
                          "machines with different CPUs need --bf16 on or off, not auto")
    # Identical starting weights (rank 0's, broadcast); dropout streams differ per rank.
    # The embedding tables stay out of DDP's dense all-reduce: the step sends only their touched rows.
    tables = setup.model.row_tables()
    DDP._set_params_and_buffers_to_ignore_for_model(setup.model, list(tables))
    world.broadcast([weight for weight, _ in tables.values()])  # DDP broadcasts only the weights it manages
    # The buffers are the tag masks, equal everywhere; gradients as views of the buckets save a copy each way.
    # One bucket: DDP caps its first at 1 MiB so that its all-reduce starts early in the backward pass, but
    # the dense gradients (the LSTM's, above all) are all ready at the end of the LSTM's backward, where a
    # second bucket only adds a collective. 25 MiB is DDP's cap for the others.
    setup.trainer = DDP(setup.model, forward_sync_buffers=False, gradient_as_bucket_view=True, bucket_cap_mb=25)
    setup.step_sync = StepSync(world, list(tables.values()), setup.data.memory)
    if setup.model.memory_head is not None:
        setup.model.memory_head.run_when_empty = True
    torch.manual_seed(config.seed + world.rank)


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
        rows = self._rows(batch)
        counts = [len(r) for r in rows]
        if self.memory is not None:
            counts.append(len(batch.memory.linked()[0]) if batch.memory is not None else 0)
        device = self.tables[0][0].device if self.tables else torch.device("cpu")
        # A step that failed after its message left leaves it unread: this step starts afresh.
        self.pending, self.sending, self.ready = (rows, self.world.announce(counts, device)), None, 0

    def _rows(self, batch: Any) -> list[torch.Tensor]:
        """Each table's rows that ``batch`` touches: its distinct ids, sorted."""
        return [torch.unique(ids(batch)) for _, ids in self.tables]

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
                self.pending = self._rows(batch), None
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


def average_rows(world: World, weight: torch.Tensor, rows: torch.Tensor | None) -> int:
    """Average ``weight.grad`` over the processes, sending only this process's nonzero rows
    instead of the whole table; returns the floats sent. A sparse gradient names its rows; a
    dense one needs ``rows`` (sorted and distinct). ``StepSync`` does this with the step's other
    exchanges in one message; this is the same for one table.

    Every rank adds the ranks' rows in rank order, so all end with the same gradient, equal
    to what a dense all-reduce gives for two processes (one addition per row either way).
    """
    part = grad_rows(weight, rows)
    received = [blocks[0] for blocks in world.exchange([part])]
    set_averaged_rows(weight, received, world.size)
    return max(len(ids) for ids, _ in received) * (weight.size(1) + 1)
