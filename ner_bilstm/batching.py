"""Turning sentences into tensors once, and cutting them into length-sorted batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from .doc_memory import DocumentMemory, MemoryRows
from .sentence import Sentence
from .vocab import Vocabularies, casing


@dataclass
class Batch:
    """Model inputs for ``batch`` sentences padded to ``time`` tokens.

    ``words, casing, type_index, mask (batch, time)``; ``chars (types, max_chars)`` and
    ``char_lengths (types,)`` cover the distinct token strings of the batch, which
    ``type_index`` points into; ``tags (batch, time)`` when known; ``index`` the rows'
    positions in their corpus; ``bigrams (batch, time)`` when the model uses bigrams.
    """

    words: torch.Tensor
    casing: torch.Tensor
    chars: torch.Tensor
    char_lengths: torch.Tensor
    type_index: torch.Tensor
    mask: torch.Tensor
    tags: torch.Tensor | None
    index: list[int]
    bigrams: torch.Tensor | None = None
    memory: MemoryRows | None = None

    def to(self, device: torch.device) -> Batch:
        """The batch on ``device``; to a GPU through pinned memory with non-blocking copies."""
        if device.type == "cpu":
            return self
        pin = device.type == "cuda"
        move = {k: ((v.pin_memory() if pin else v).to(device, non_blocking=pin) if isinstance(v, torch.Tensor) else v)
                for k, v in self.__dict__.items()}
        return Batch(**move)


class TokenEncoder:
    """Turns token lists into id tensors. Each distinct token string becomes a "type" (type 0 is
    the empty padding string) whose character ids and casing are kept once, in ``type_rows`` and
    ``type_casing``: the character encoder then runs once per type, not once per token."""

    def __init__(self, vocab: Vocabularies, max_word_chars: int = 40):
        self.vocab, self.max_word_chars = vocab, max_word_chars
        self.type_ids: dict[str, int] = {"": 0}
        self.type_rows: list[list[int]] = [[]]
        self.type_casing: list[int] = [0]

    def encode(self, tokens: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(words, types, bigrams)`` of one sentence, each ``(tokens,)`` long; bigrams None
        when the vocabulary has none."""
        ids = []
        for token in tokens:
            t = self.type_ids.get(token)
            if t is None:
                t = self.type_ids[token] = len(self.type_rows)
                self.type_rows.append(self.vocab.char_ids(token[: self.max_word_chars]))
                self.type_casing.append(casing(token))
            ids.append(t)
        words = torch.tensor([self.vocab.word_id(w) for w in tokens], dtype=torch.long)
        bigrams = torch.tensor(self.vocab.bigram_ids(tokens), dtype=torch.long) if self.vocab.bigrams is not None else None
        return words, torch.tensor(ids, dtype=torch.long), bigrams

    def type_table(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(chars (types, max_chars), lengths (types,), casing (types,))`` of every type so far."""
        chars = pad_sequence([torch.tensor(r, dtype=torch.long) for r in self.type_rows], batch_first=True)
        lengths = torch.tensor([len(r) for r in self.type_rows], dtype=torch.long)
        return chars, lengths, torch.tensor(self.type_casing, dtype=torch.long)


def collate(words: list[torch.Tensor], types: list[torch.Tensor], bigrams: list[torch.Tensor] | None,
            tags: list[torch.Tensor] | None, table: tuple[torch.Tensor, torch.Tensor, torch.Tensor], index: list[int],
            subset: bool) -> Batch:
    """Pad sentences into one Batch. ``table`` is the ``TokenEncoder.type_table`` the type ids
    point into; with ``subset`` only the rows of the batch's own types are kept (a corpus-wide
    table), else the table is the batch's already."""
    lengths = torch.tensor([len(w) for w in words])
    return assemble(pad_sequence(words, batch_first=True), pad_sequence(types, batch_first=True), lengths,
                    pad_sequence(tags, batch_first=True) if tags is not None else None,
                    pad_sequence(bigrams, batch_first=True) if bigrams is not None else None, table, index, subset)


def assemble(words: torch.Tensor, types: torch.Tensor, lengths: torch.Tensor, tags: torch.Tensor | None,
             bigrams: torch.Tensor | None, table: tuple[torch.Tensor, torch.Tensor, torch.Tensor], index: list[int],
             subset: bool) -> Batch:
    """A Batch from padded ``(batch, time)`` id matrices and the rows' ``lengths`` (see ``collate``)."""
    type_chars, type_lengths, type_casing = table
    mask = torch.arange(words.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
    rows, type_index = slice(None), types
    if subset:
        rows, type_index = torch.unique(types, return_inverse=True)
    type_lengths = type_lengths[rows]
    chars = type_chars[rows, : max(int(type_lengths.max()), 1)]
    return Batch(words, type_casing[types], chars, type_lengths, type_index, mask, tags, index, bigrams)


class EncodedCorpus:
    """Sentences as id tensors, encoded once (``TokenEncoder``), batched on demand.

    Each field is one flat tensor of the whole corpus with sentence offsets, so a batch is one
    gather per field rather than a copy per sentence. ``memory``, when set, is the corpus's
    document memory, indexed by the same flat token positions; ``unlinked (tokens,)`` bool, when
    set, the positions the memory is to treat as unlinked (replaced mentions, ``augmentation``).
    """

    def __init__(self, sentences: Sequence[Sentence], vocab: Vocabularies, tags: Sequence[Sequence[str]] | None = None,
                 max_word_chars: int = 40):
        encoder = TokenEncoder(vocab, max_word_chars)
        words, types, bigrams = [], [], []
        for sentence in sentences:
            w, t, b = encoder.encode(sentence.tokens)
            words.append(w)
            types.append(t)
            if b is not None:
                bigrams.append(b)
        self.lengths = [len(w) for w in words]
        self._lengths = torch.tensor(self.lengths, dtype=torch.long)
        self._offsets = torch.cumsum(self._lengths, 0) - self._lengths
        self.words = flat(words)
        self.types = flat(types)
        self.bigrams = flat(bigrams) if vocab.bigrams is not None else None
        self.table = encoder.type_table()
        self.tags = None
        self.memory: DocumentMemory | None = None
        self.unlinked: torch.Tensor | None = None
        if tags is not None:
            stoi = vocab.labels.stoi
            self.tags = torch.tensor([stoi[t] for seq in tags for t in seq], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, index: Sequence[int]) -> Batch:
        """Sentences ``index`` as one padded batch."""
        index = list(index)
        rows = torch.tensor(index, dtype=torch.long)
        lengths = self._lengths[rows]
        time = int(lengths.max()) if len(index) else 0
        steps = torch.arange(time)
        pad = steps.unsqueeze(0) >= lengths.unsqueeze(1)
        at = (self._offsets[rows].unsqueeze(1) + steps).masked_fill_(pad, 0)

        def gather(field: torch.Tensor | None) -> torch.Tensor | None:
            return field[at].masked_fill_(pad, 0) if field is not None else None

        batch = assemble(gather(self.words), gather(self.types), lengths, gather(self.tags), gather(self.bigrams),
                         self.table, index, subset=True)
        if self.memory is not None:
            void = pad if self.unlinked is None else pad | self.unlinked[at]
            batch.memory = MemoryRows(self.memory, at.masked_fill(void, -1))
        return batch


def flat(parts: list[torch.Tensor]) -> torch.Tensor:
    """The 1-d tensors ``parts`` end to end (an empty long tensor for none)."""
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def length_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Indices grouped into batches of (nearly) equal length.

    With a ``generator`` sentences of equal length are shuffled among themselves and the
    batch order is shuffled; without one the order is deterministic (for evaluation).
    """
    n = len(lengths)
    if generator is not None:
        tiebreak = torch.randperm(n, generator=generator).tolist()
        order = sorted(range(n), key=lambda i: (lengths[i], tiebreak[i]))
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    # Evaluation: also cut where lengths jump, so padding stays under ~1/8 of a batch.
    batches, current, first = [], [], 0
    for i in sorted(range(n), key=lambda i: lengths[i]):
        if current and (len(current) == batch_size or lengths[i] > first + max(1, first // 8)):
            batches.append(current)
            current = []
        if not current:
            first = lengths[i]
        current.append(i)
    if current:
        batches.append(current)
    return batches
