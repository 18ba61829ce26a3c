"""Training corpora larger than memory: sentences streamed from memory-mapped Arrow files
(a Hugging Face ``datasets`` source) and tensorised one batch at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from .batching import Batch
from .errors import NerError
from .io.hf import load_hf, read_hf, tag_names
from .schemes import convert
from .sentence import Sentence
from .vocab import Vocabularies, casing


class StreamedSentences:
    """A re-iterable view of a datasets source: every iteration streams the rows again."""

    def __init__(self, source: str, split: str | None, tokens_field: str, tags_field: str):
        self.source, self.split, self.tokens_field, self.tags_field = source, split, tokens_field, tags_field

    def __iter__(self) -> Iterator[Sentence]:
        return read_hf(self.source, split=self.split, tokens_field=self.tokens_field, tags_field=self.tags_field)


class ArrowCorpus:
    """The EncodedCorpus interface (``lengths``, ``batch``) over a memory-mapped dataset.

    Only the sentence lengths (one small integer each) live in memory; a batch reads its rows
    from the Arrow file and encodes them when it is asked for.
    """

    def __init__(self, stream: StreamedSentences, vocab: Vocabularies, train_scheme: str, max_word_chars: int = 40):
        import pyarrow.compute as pc

        self.dataset = load_hf(stream.source, stream.split)
        self.tokens_field, self.tags_field = stream.tokens_field, stream.tags_field
        self.names = tag_names(self.dataset, self.tags_field)
        self.vocab, self.train_scheme, self.max_word_chars = vocab, train_scheme, max_word_chars
        column = self.dataset.data.column(self.tokens_field)
        self.lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype("int32")
        keep = self.lengths > 0
        self.rows = keep.nonzero()[0].astype("int64")  # rows with tokens, in order (empty rows are skipped everywhere)
        self.lengths = self.lengths[keep]

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, index: Sequence[int]) -> Batch:
        """Read and tensorise sentences ``index`` (positions among the non-empty rows)."""
        rows: dict[str, Any] = self.dataset[[int(self.rows[i]) for i in index]]
        tokens_list, raw_tags = rows[self.tokens_field], rows[self.tags_field]
        stoi = self.vocab.labels.stoi
        words, types, tags, bigrams = [], [], [], []
        type_ids: dict[str, int] = {"": 0}
        type_rows: list[list[int]] = [[]]
        type_casing: list[int] = [0]
        for tokens, raw in zip(tokens_list, raw_tags):
            seq = [self.names[t] for t in raw] if self.names is not None else raw
            try:
                tags.append(torch.tensor([stoi[t] for t in convert(seq, self.train_scheme)], dtype=torch.long))
            except KeyError as e:
                raise NerError(f"tag {e.args[0]!r} appeared after the vocabulary was built", path=self.tokens_field) from None
            ids = []
            for token in tokens:
                t = type_ids.get(token)
                if t is None:
                    t = type_ids[token] = len(type_rows)
                    type_rows.append(self.vocab.char_ids(token[: self.max_word_chars]))
                    type_casing.append(casing(token))
                ids.append(t)
            types.append(torch.tensor(ids, dtype=torch.long))
            words.append(torch.tensor([self.vocab.word_id(w) for w in tokens], dtype=torch.long))
            if self.vocab.bigrams is not None:
                bigrams.append(torch.tensor(self.vocab.bigram_ids(tokens), dtype=torch.long))
        words_t = pad_sequence(words, batch_first=True)
        types_t = pad_sequence(types, batch_first=True)
        lengths = torch.tensor([len(w) for w in words])
        mask = torch.arange(words_t.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        char_lengths = torch.tensor([len(r) for r in type_rows])
        chars = pad_sequence([torch.tensor(r or [0], dtype=torch.long) for r in type_rows], batch_first=True)
        chars = chars[:, : max(int(char_lengths.max()), 1)]
        casing_t = torch.tensor(type_casing, dtype=torch.long)[types_t]
        return Batch(words_t, casing_t, chars, char_lengths, types_t, mask, pad_sequence(tags, batch_first=True), list(index),
                     pad_sequence(bigrams, batch_first=True) if bigrams else None)
