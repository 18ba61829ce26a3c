"""The tagger: word + character + casing features -> BiLSTM/GRU encoder -> softmax or CRF head."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .batching import Batch
from .modules import CRF, CharCNN, CharLSTM, SentenceEncoder, viterbi
from .modules.dropout import Dropout
from .schemes import allowed_transitions


class Tagger(nn.Module):
    """A BiLSTM(-CRF) sequence tagger. ``config`` holds the keys of ``config.MODEL_KEYS``.

    ``labels`` are the tags of ``train_scheme``; both heads decode under that scheme's
    transition constraints, so every output is a valid tag sequence.
    """

    def __init__(self, config: dict[str, Any], num_words: int, num_chars: int, labels: Sequence[str], train_scheme: str,
                 num_bigrams: int = 0):
        super().__init__()
        self.config = dict(config)
        c = self.config
        self.word_embed = nn.Embedding(num_words, c["word_dim"], padding_idx=0)
        bound = math.sqrt(3.0 / c["word_dim"])
        nn.init.uniform_(self.word_embed.weight, -bound, bound)
        with torch.no_grad():
            self.word_embed.weight[0].zero_()
        size = c["word_dim"]
        self.char_encoder: nn.Module | None = None
        if c["char"] == "cnn":
            self.char_encoder = CharCNN(num_chars, c["char_dim"], c["char_filters"], dropout=c["dropout"])
        elif c["char"] == "lstm":
            self.char_encoder = CharLSTM(num_chars, c["char_dim"], c["char_hidden"], dropout=c["dropout"])
        if self.char_encoder is not None:
            size += self.char_encoder.output_size
        self.bigram_embed: nn.Embedding | None = None
        if c.get("bigram_dim", 0):
            self.bigram_embed = nn.Embedding(num_bigrams, c["bigram_dim"], padding_idx=0)
            bound = math.sqrt(3.0 / c["bigram_dim"])
            nn.init.uniform_(self.bigram_embed.weight, -bound, bound)
            with torch.no_grad():
                self.bigram_embed.weight[0].zero_()
            size += c["bigram_dim"]
        self.casing_embed = nn.Embedding(8, c["casing_dim"], padding_idx=0) if c["casing"] else None
        if self.casing_embed is not None:
            size += c["casing_dim"]
        self.dropout = Dropout(c["dropout"])
        self.encoder = SentenceEncoder(size, c["hidden"], c["layers"], c["rnn"], c["dropout"], c["attention"], c["heads"])
        self.projection = nn.Linear(self.encoder.output_size, len(labels))
        allowed = allowed_transitions(labels, train_scheme)
        self.crf = CRF(len(labels), allowed) if c["head"] == "crf" else None
        if self.crf is None:
            zero = torch.zeros(())
            self.register_buffer("allowed_start", allowed[0], persistent=False)
            self.register_buffer("allowed_trans", allowed[1], persistent=False)
            self.register_buffer("allowed_end", allowed[2], persistent=False)
            self.register_buffer("_zero", zero, persistent=False)

    def emissions(self, batch: Batch) -> torch.Tensor:
        """Tag scores ``(batch, time, tags)``."""
        parts = [self.word_embed(batch.words)]
        if self.char_encoder is not None:
            per_type = self.char_encoder(batch.chars, batch.char_lengths)
            # F.embedding, not per_type[index]: its backward is deterministic on CPU.
            parts.append(F.embedding(batch.type_index, per_type))
        if self.bigram_embed is not None:
            parts.append(self.bigram_embed(batch.bigrams))
        if self.casing_embed is not None:
            parts.append(self.casing_embed(batch.casing))
        x = self.dropout(torch.cat(parts, dim=2))
        h = self.dropout(self.encoder(x, batch.mask))
        return self.projection(h)

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss; ``forward`` so that DistributedDataParallel can wrap the model."""
        return self.loss(batch)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean negative log-likelihood per sentence."""
        em = self.emissions(batch)
        if self.crf is not None:
            return self.crf.nll(em, batch.tags, batch.mask).mean()
        logp = em.float().log_softmax(-1).gather(2, batch.tags.unsqueeze(2)).squeeze(2)
        return -(logp * batch.mask).sum() / em.size(0)

    def decode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Best valid tag ids ``(batch, time)`` and their emissions ``(batch, time, tags)`` (float32)."""
        em = self.emissions(batch).float()
        if self.crf is not None:
            paths, _ = self.crf.decode(em, batch.mask)
        else:
            paths, _ = viterbi(em.log_softmax(-1), batch.mask, *self.constraint_scores())
        return paths, em

    def constraint_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For the softmax head: 0 for allowed moves, -inf for forbidden ones."""
        neg = float("-inf")
        return (
            self._zero.expand(self.allowed_start.shape).masked_fill(~self.allowed_start, neg),
            self._zero.expand(self.allowed_trans.shape).masked_fill(~self.allowed_trans, neg),
            self._zero.expand(self.allowed_end.shape).masked_fill(~self.allowed_end, neg),
        )
