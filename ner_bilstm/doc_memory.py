"""Document memory, after Luo et al. (2020): a token also sees what the encoder made of the other
occurrences of the same word in its document. "Jordan" in a sports headline is hard alone and
easy next to "Jordan scored 20 points" two sentences down.

Links are fixed by the text: a token with an upper-case letter is linked to the other tokens of
its document that have an upper-case letter and the same lower-cased string, the
``MAX_PARTNERS`` nearest. The memory keeps one row per linked token: its latest encoder state,
written without gradient. A token's context is the mean of its partners' filled rows, plus a
flag for "has any".

Training writes states as batches pass (rows up to an epoch old); prediction fills every row of
the documents first, then tags (``Predictor``), so a sentence's tags depend on its document
alone, never on which other documents share its batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .config import MEMORY_SCOPES
from .sentence import Sentence

MAX_PARTNERS = 16  # partners per token, nearest first: a frequent name's context stays local and bounded


def linkable(token: str) -> bool:
    """Whether a token takes part in the memory: it has an upper-case letter (names, not "the")."""
    return any(c.isupper() for c in token)


@dataclass
class DocumentLinks:
    """Partners of every token of a corpus, by flat token position (sentences end to end).

    ``slot (tokens,)``: the memory row of a linked token, -1 for the others; ``ptr (tokens + 1,)``
    and ``partners (links,)``: CSR lists of each token's partners, as memory rows, nearest first.
    """

    slot: torch.Tensor
    ptr: torch.Tensor
    partners: torch.Tensor

    @property
    def size(self) -> int:
        """Memory rows: the number of linked tokens."""
        return int((self.slot >= 0).sum())


def document_links(sentences: Sequence[Sequence[str]], documents: Sequence[Hashable | None]) -> DocumentLinks:
    """The links of ``sentences`` (token lists), where ``documents[i]`` names sentence i's document
    (None: a document of its own, so no links across sentences)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    pos = 0
    for i, (tokens, doc) in enumerate(zip(sentences, documents, strict=True)):
        key = ("doc", doc) if doc is not None else ("sentence", i)
        for token in tokens:
            if linkable(token):
                groups[(key, token.lower())].append(pos)
            pos += 1
    slot = torch.full((pos,), -1, dtype=torch.long)
    lists: dict[int, list[int]] = {}
    for members in groups.values():  # positions in increasing order
        if len(members) > 1:
            for j, p in enumerate(members):
                lists[p] = _nearest(members, j)
    linked = sorted(lists)
    row = {p: r for r, p in enumerate(linked)}
    slot[linked] = torch.arange(len(linked))
    counts = torch.zeros(pos, dtype=torch.long)
    counts[linked] = torch.tensor([len(lists[p]) for p in linked], dtype=torch.long)
    ptr = torch.zeros(pos + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(counts, 0)
    partners = torch.tensor([row[q] for p in linked for q in lists[p]], dtype=torch.long)
    return DocumentLinks(slot, ptr, partners)


def document_units(sentences: Sequence[Sentence]) -> list[list[int]]:
    """Sentence indices grouped into runs of one document (``meta["document"]``); a sentence
    outside any document is a run of its own."""
    units: list[list[int]] = []
    for i, s in enumerate(sentences):
        doc = s.meta.get("document")
        if units and doc is not None and sentences[units[-1][0]].meta.get("document") == doc:
            units[-1].append(i)
        else:
            units.append([i])
    return units


def _nearest(members: list[int], j: int) -> list[int]:
    """The ``MAX_PARTNERS`` members nearest to ``members[j]`` (sorted positions), nearest first,
    the earlier one first at equal distance: a walk outwards, so a word said 20,000 times in one
    document costs 20,000 short walks, not 20,000 sorts."""
    p, left, right, out = members[j], j - 1, j + 1, []
    while len(out) < MAX_PARTNERS and (left >= 0 or right < len(members)):
        if right >= len(members) or (left >= 0 and p - members[left] <= members[right] - p):
            out.append(members[left])
            left -= 1
        else:
            out.append(members[right])
            right += 1
    return out


class DocumentMemory:
    """The rows of a corpus's linked tokens: ``values (rows, width)`` float32 and ``filled (rows,)``.

    ``log`` (a list, when set) records every write as (rows, values), so that distributed
    training can hand them to the other processes (``apply``).
    """

    def __init__(self, links: DocumentLinks, width: int):
        self.links = links
        self.values = torch.zeros(links.size, width)
        self.filled = torch.zeros(links.size, dtype=torch.bool)
        self.log: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def width(self) -> int:
        return self.values.size(1)

    def read(self, positions: torch.Tensor) -> torch.Tensor:
        """Context ``(n, width + 1)`` of flat token ``positions (n,)``: the mean of the partners'
        filled rows and a last column 1.0 when there was any (zeros for unlinked tokens)."""
        out = torch.zeros(positions.numel(), self.width + 1)
        slots = self.links.slot[positions]
        at = (slots >= 0).nonzero().squeeze(1)
        if at.numel() == 0:
            return out
        linked = positions[at]
        starts, counts = self.links.ptr[linked], self.links.ptr[linked + 1] - self.links.ptr[linked]
        owner = torch.repeat_interleave(torch.arange(at.numel()), counts)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        rows = self.links.partners[starts[owner] + torch.arange(int(counts.sum())) - first]
        ok = self.filled[rows]
        rows, owner = rows[ok], owner[ok]
        sums = torch.zeros(at.numel(), self.width).index_add_(0, owner, self.values[rows])
        num = torch.zeros(at.numel()).index_add_(0, owner, torch.ones(owner.numel()))
        out[at, : self.width] = sums / num.clamp(min=1).unsqueeze(1)
        out[at, self.width] = (num > 0).float()
        return out

    def write(self, positions: torch.Tensor, states: torch.Tensor) -> None:
        """Keep ``states (n, width)`` (detached, float32) as the rows of ``positions (n,)`` that are linked."""
        slots = self.links.slot[positions.cpu()]
        keep = slots >= 0
        rows, values = slots[keep], states.detach()[keep.to(states.device)].float().cpu()
        self.apply(rows, values)
        if self.log is not None:
            self.log.append((rows, values))

    def apply(self, rows: torch.Tensor, values: torch.Tensor) -> None:
        """Set memory ``rows`` to ``values`` (another process's writes, or this one's)."""
        self.values[rows] = values
        self.filled[rows] = True

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"values": self.values.clone(), "filled": self.filled.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["values"].shape != self.values.shape:
            raise ValueError(f"memory of shape {tuple(state['values'].shape)}, expected {tuple(self.values.shape)}")
        self.values.copy_(state["values"])
        self.filled.copy_(state["filled"])


@dataclass
class MemoryRows:
    """A batch's view of its corpus's memory: ``positions (batch, time)`` flat token positions, -1 at padding."""

    memory: DocumentMemory
    positions: torch.Tensor

    def linked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's linked tokens: their indices into the flattened ``(batch * time)`` grid and
        their flat corpus positions, both ``(n,)``."""
        flat = self.positions.reshape(-1)
        real = (flat >= 0).nonzero().squeeze(1)
        at = real[self.memory.links.slot[flat[real]] >= 0]
        return at, flat[at]

    def write(self, states: torch.Tensor) -> None:
        """Keep the encoder's ``states (batch, time, width)`` of the batch's linked tokens."""
        at, positions = self.linked()
        self.memory.write(positions, states.reshape(-1, states.size(-1))[at.to(states.device)])


class MemoryHead(nn.Module):
    """Tag scores from a token's state and its document context: a small MLP,
    ``[state, context, has_context] (2 * width + 1) -> hidden -> tags``, added to the projection's.

    ``scope`` "linked" (the default since model format 4) scores the linked tokens only
    (``DocumentLinks``): the others have no context, and leaving those ~90% of tokens to the
    projection alone makes the head a tenth of the cost (their scores are the projection's).
    "all" scores every token, as format 3's models were trained to.
    """

    def __init__(self, width: int, hidden: int, tags: int, scope: str = "linked"):
        super().__init__()
        if scope not in MEMORY_SCOPES:
            raise ValueError(f"memory scope must be one of {', '.join(MEMORY_SCOPES)}, not {scope!r}")
        self.width, self.scope = width, scope
        # DistributedDataParallel waits for a gradient of every parameter each step, so under it a
        # batch without linked tokens still runs the MLP (on no rows: zero gradients).
        self.run_when_empty = False
        self.mlp = nn.Sequential(nn.Linear(2 * width + 1, hidden), nn.Tanh(), nn.Linear(hidden, tags))

    def forward(self, states: torch.Tensor, scores: torch.Tensor, rows: MemoryRows | None, dropout: nn.Module) -> torch.Tensor:
        """``scores (batch, time, tags)`` plus the head's, from ``states (batch, time, width)``. In
        training it reads the context, then writes ``states`` (so a token never sees this very
        pass's states); tagging only reads what ``Predictor``'s first pass wrote."""
        if self.scope == "all":
            return scores + self._score_every_token(states, rows, dropout)
        if rows is None:
            return scores
        at, positions = rows.linked()
        if at.numel() == 0 and not (self.training and self.run_when_empty):
            return scores
        at = at.to(states.device)
        mine = states.reshape(-1, states.size(-1)).index_select(0, at)
        context = rows.memory.read(positions).to(device=states.device, dtype=states.dtype)
        if self.training:
            rows.memory.write(positions, mine)
        extra = self.mlp(dropout(torch.cat([mine, context], dim=1))).to(scores.dtype)
        return scores.reshape(-1, scores.size(-1)).index_add(0, at, extra).view_as(scores)

    def _score_every_token(self, states: torch.Tensor, rows: MemoryRows | None, dropout: nn.Module) -> torch.Tensor:
        """Scope "all": the MLP over every position, with zero context where there is none."""
        context = states.new_zeros(*states.shape[:2], self.width + 1)
        if rows is not None:
            real = rows.positions >= 0
            context[real.to(states.device)] = rows.memory.read(rows.positions[real]).to(device=states.device, dtype=states.dtype)
            if self.training:
                rows.write(states)
        features = torch.cat([states, context], dim=2)
        # Per element even under --locked-dropout, as in the linked scope.
        return self.mlp(dropout(features.view(-1, features.size(-1))).view_as(features))
