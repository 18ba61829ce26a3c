"""Turning sentences into tensors once, and cutting them into length-sorted batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

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

    def to(self, device: torch.device) -> Batch:
        """The batch on ``device``; to a GPU through pinned memory with non-blocking copies."""
        if device.type == "cpu":
            return self
        pin = device.type == "cuda"
        move = {k: ((v.pin_memory() if pin else v).to(device, non_blocking=pin) if isinstance(v, torch.Tensor) else v)
                for k, v in self.__dict__.items()}
        return Batch(**move)


class EncodedCorpus:
    """Sentences as id tensors, built once. Each distinct token string is a "type" whose
    character ids are stored once (type 0 is the empty padding string)."""

    def __init__(self, sentences: Sequence[Sentence], vocab: Vocabularies, tags: Sequence[Sequence[str]] | None = None,
                 max_word_chars: int = 40):
        type_ids: dict[str, int] = {"": 0}
        type_rows: list[list[int]] = [[]]
        type_casing: list[int] = [0]
        self.words: list[torch.Tensor] = []
        self.types: list[torch.Tensor] = []
        self.bigrams: list[torch.Tensor] | None = [] if vocab.bigrams is not None else None
        for sentence in sentences:
            ids = []
            for token in sentence.tokens:
                t = type_ids.get(token)
                if t is None:
                    t = type_ids[token] = len(type_rows)
                    type_rows.append(vocab.char_ids(token[:max_word_chars]))
                    type_casing.append(casing(token))
                ids.append(t)
            self.types.append(torch.tensor(ids, dtype=torch.long))
            self.words.append(torch.tensor([vocab.word_id(w) for w in sentence.tokens], dtype=torch.long))
            if self.bigrams is not None:
                self.bigrams.append(torch.tensor(vocab.bigram_ids(sentence.tokens), dtype=torch.long))
        self.lengths = [len(w) for w in self.words]
        self.type_chars = pad_sequence([torch.tensor(r, dtype=torch.long) for r in type_rows], batch_first=True)
        self.type_lengths = torch.tensor([len(r) for r in type_rows], dtype=torch.long)
        self.type_casing = torch.tensor(type_casing, dtype=torch.long)
        self.tags = None
        if tags is not None:
            stoi = vocab.labels.stoi
            self.tags = [torch.tensor([stoi[t] for t in seq], dtype=torch.long) for seq in tags]

    def __len__(self) -> int:
        return len(self.words)

    def batch(self, index: Sequence[int]) -> Batch:
        """Collate sentences ``index`` into one padded batch."""
        index = list(index)
        words = pad_sequence([self.words[i] for i in index], batch_first=True)
        types = pad_sequence([self.types[i] for i in index], batch_first=True)
        lengths = torch.tensor([self.lengths[i] for i in index])
        mask = torch.arange(words.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        uniq, inverse = torch.unique(types, return_inverse=True)
        char_lengths = self.type_lengths[uniq]
        chars = self.type_chars[uniq, : max(int(char_lengths.max()), 1)]
        tags = None
        if self.tags is not None:
            tags = pad_sequence([self.tags[i] for i in index], batch_first=True)
        bigrams = pad_sequence([self.bigrams[i] for i in index], batch_first=True) if self.bigrams is not None else None
        return Batch(words, self.type_casing[types], chars, char_lengths, inverse, mask, tags, index, bigrams)


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


def iterate(corpus: EncodedCorpus, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
    for index in length_batches(corpus.lengths, batch_size, generator):
        yield corpus.batch(index)
