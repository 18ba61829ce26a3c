"""Training corpora larger than memory: sentences streamed from memory-mapped Arrow files
(a Hugging Face ``datasets`` source) and tensorised one batch at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from .batching import Batch, TokenEncoder, collate
from .errors import NerError
from .io import ReaderOptions, ReadReport, read_source
from .io.hf import load_hf, named_tags, tag_names
from .label_map import relabel
from .schemes import convert
from .sentence import Sentence
from .vocab import Vocabularies


class StreamedSentences:
    """A re-iterable view of a datasets source, read with ``options`` (its split, columns and label
    map): every iteration streams the rows again. ``report`` receives what reading skipped or
    renamed, from the first pass that reads to the end (every pass reads the same)."""

    def __init__(self, source: str, options: ReaderOptions, report: ReadReport | None = None):
        self.source, self.options, self.report = source, options, report

    def __iter__(self) -> Iterator[Sentence]:
        report = ReadReport()
        yield from read_source(self.source, self.options, input_format="hf", report=report)
        if self.report is not None:
            self.report.__dict__.update(report.__dict__)
            self.report = None

    def encode(self, vocab: Vocabularies, train_scheme: str, max_word_chars: int) -> ArrowCorpus:
        """The corpus over the memory-mapped rows, encoded a batch at a time."""
        return ArrowCorpus(self, vocab, train_scheme, max_word_chars)


class ArrowCorpus:
    """The EncodedCorpus interface (``lengths``, ``batch``) over a memory-mapped dataset.

    Only the sentence lengths (one small integer each) live in memory; a batch reads its rows
    from the Arrow file and encodes them when it is asked for.
    """

    memory = None  # a streamed source has no documents, so no document memory

    def __init__(self, stream: StreamedSentences, vocab: Vocabularies, train_scheme: str, max_word_chars: int = 40):
        import pyarrow.compute as pc

        self.source = stream.source
        self.dataset = load_hf(stream.source, stream.options.split)
        self.tokens_field, self.tags_field = stream.options.tokens_field, stream.options.tags_field
        self.label_map = stream.options.labels
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
        encoder = TokenEncoder(self.vocab, self.max_word_chars)  # a table of this batch's types only
        words, types, tags, bigrams = [], [], [], []
        for i, tokens, raw in zip(index, tokens_list, raw_tags):
            try:
                seq = named_tags(self.names, raw) if self.names is not None else raw
                if self.label_map:
                    seq = relabel(seq, self.label_map)
                tags.append(torch.tensor([stoi[t] for t in convert(seq, self.train_scheme)], dtype=torch.long))
            except KeyError as e:
                raise NerError(f"tag {e.args[0]!r} appeared after the vocabulary was built", path=self.source,
                               line=int(self.rows[i]) + 1) from None
            except ValueError as e:
                raise NerError(str(e), path=self.source, line=int(self.rows[i]) + 1) from None
            w, t, b = encoder.encode(tokens)
            words.append(w)
            types.append(t)
            bigrams.append(b)
        return collate(words, types, bigrams if self.vocab.bigrams is not None else None, tags, encoder.type_table(),
                       list(index), subset=False)
