"""The tagger: word + character + casing features -> BiLSTM/GRU encoder -> softmax or CRF head."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .batching import Batch
from .config import ModelConfig
from .doc_memory import MemoryHead
from .modules import HEADS, BiRNNLayer, CharCNN, CharLSTM, SentenceEncoder
from .modules.dropout import Dropout
from .schemes import allowed_transitions


class TaggerNetwork(nn.Module):
    """A BiLSTM(-CRF) sequence tagger.

    ``labels`` are the tags of ``train_scheme``; both heads decode under that scheme's
    transition constraints, so every output is a valid tag sequence.
    """

    def __init__(self, config: ModelConfig, num_words: int, num_chars: int, labels: Sequence[str], train_scheme: str,
                 num_bigrams: int = 0):
        super().__init__()
        self.config = c = config
        self.word_embed = self._embedding(num_words, c.word_dim)
        size = c.word_dim
        self.char_encoder: nn.Module | None = None
        if c.char == "cnn":
            self.char_encoder = CharCNN(num_chars, c.char_dim, c.char_filters, dropout=c.dropout)
        elif c.char == "lstm":
            self.char_encoder = CharLSTM(num_chars, c.char_dim, c.char_hidden, dropout=c.dropout)
        if self.char_encoder is not None:
            size += self.char_encoder.output_size
        self.bigram_embed = self._embedding(num_bigrams, c.bigram_dim) if c.bigram_dim else None
        if self.bigram_embed is not None:
            size += c.bigram_dim
        self.casing_embed = nn.Embedding(8, c.casing_dim, padding_idx=0) if c.casing else None
        if self.casing_embed is not None:
            size += c.casing_dim
        self.dropout = Dropout(c.dropout)
        self.encoder = SentenceEncoder(size, c.hidden, c.layers, c.rnn, c.dropout, c.attention, c.heads)
        self.projection = nn.Linear(self.encoder.output_size, len(labels))
        # Registered under its own name ("crf", "softmax"), so the CRF's weights keep the names model
        # files have always given them (crf.transitions, ...).
        self.add_module(c.head, HEADS[c.head](len(labels), allowed_transitions(labels, train_scheme)))
        self.memory_head = MemoryHead(self.encoder.output_size, c.memory_dim, len(labels), c.memory_scope) if c.memory_dim else None

    @property
    def head(self) -> nn.Module:
        """The tagging head, CRF or softmax: the same methods either way (``modules.crf``, ``modules.softmax``)."""
        return self._modules[self.config.head]  # type: ignore[return-value]

    @staticmethod
    def _embedding(rows: int, dim: int) -> nn.Embedding:
        """An embedding table initialised uniformly in ±sqrt(3 / dim), its padding row 0 zero."""
        table = nn.Embedding(rows, dim, padding_idx=0)
        bound = math.sqrt(3.0 / dim)
        nn.init.uniform_(table.weight, -bound, bound)
        with torch.no_grad():
            table.weight[0].zero_()
        return table

    def train_recurrent_in(self, dtype: torch.dtype | None) -> None:
        """Train every recurrent layer (the encoder's, a char BiLSTM's) in ``dtype`` (bfloat16), or
        in float32 (None); evaluation stays float32 either way (``BiRNNLayer``). On the CPU a
        char BiLSTM runs its own packed float32 recurrence instead (``CharLSTM``)."""
        for module in self.modules():
            if isinstance(module, BiRNNLayer):
                module.train_dtype = dtype

    def lock_dropout(self, on: bool) -> None:
        """Drop the same word-level features at every token of a sentence (``Dropout.locked``): on the
        encoder's input, between its layers and on its output. The character encoder's, the
        attention layer's and the document memory's dropout stay per element."""
        self.dropout.locked = self.encoder.dropout.locked = on

    def row_tables(self) -> dict[str, tuple[nn.Parameter, Callable[[Batch], torch.Tensor]]]:
        """The large embedding tables by parameter name, each with the batch ids that pick its
        rows: a step's gradient is nonzero only on those rows (distributed training sends just them)."""
        return {f"{name}.weight": (table.weight, ids) for name, (table, ids) in self._row_modules().items()}

    def sparse_rows(self, on: bool) -> None:
        """Whether the tables of ``row_tables`` give sparse gradients (the rows a batch touched) for an
        optimiser that updates rows (``optimization.RowAdam``) instead of a dense table of zeros."""
        for table, _ in self._row_modules().values():
            table.sparse = on

    def _row_modules(self) -> dict[str, tuple[nn.Embedding, Callable[[Batch], torch.Tensor]]]:
        tables: dict[str, tuple[nn.Embedding, Callable[[Batch], torch.Tensor]]] = {"word_embed": (self.word_embed, lambda b: b.words)}
        if self.bigram_embed is not None:
            tables["bigram_embed"] = (self.bigram_embed, lambda b: b.bigrams)
        return tables

    def states(self, batch: Batch) -> torch.Tensor:
        """The encoder's states ``(batch, time, width)``, before the output dropout."""
        parts = [self.word_embed(batch.words)]
        if self.char_encoder is not None:
            per_type = self.char_encoder(batch.chars, batch.char_lengths)
            # F.embedding, not per_type[index]: its backward is deterministic on CPU.
            parts.append(F.embedding(batch.type_index, per_type))
        if self.bigram_embed is not None:
            parts.append(self.bigram_embed(batch.bigrams))
        if self.casing_embed is not None:
            parts.append(self.casing_embed(batch.casing))
        return self.encoder(self.dropout(torch.cat(parts, dim=2)), batch.mask)

    def emissions(self, batch: Batch, states: torch.Tensor | None = None) -> torch.Tensor:
        """Tag scores ``(batch, time, tags)``; with a document memory, its scores are added (and,
        in training, the batch's states written to it: ``batch.memory``). ``states``: the batch's
        encoder states ``(batch, time, width)`` when already computed (``states``, in evaluation)."""
        if states is not None and states.shape[:2] != batch.mask.shape:
            raise ValueError(f"states of shape {tuple(states.shape)} for a batch of shape {tuple(batch.mask.shape)}")
        h = self.states(batch) if states is None else states
        scores = self.projection(self.dropout(h))
        if self.memory_head is not None:
            scores = self.memory_head(h, scores, batch.memory, self.dropout)
        return scores

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss; ``forward`` so that DistributedDataParallel can wrap the model."""
        return self.loss(batch)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean negative log-likelihood per sentence."""
        return self.head.loss(self.emissions(batch), batch.tags, batch.mask)

    def decode(self, batch: Batch, states: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Best valid tag ids ``(batch, time)`` and their emissions ``(batch, time, tags)`` (float32),
        from the batch's encoder ``states`` when already computed."""
        em = self.emissions(batch, states).float()
        paths, _ = self.head.decode(em, batch.mask)
        return paths, em
