"""Character-level word encoders: ``(words, chars) ids -> (words, out_dim)``.

Both take a padded matrix of character ids (0 = padding) and the word lengths, and give each
word a vector that does not depend on how much padding its row carries.
"""

from __future__ import annotations

import torch
from torch import nn

from .encoder import BiRNNLayer


class CharCNN(nn.Module):
    """Ma & Hovy (2016): character embeddings, one convolution, max-pool over the word."""

    def __init__(self, num_chars: int, char_dim: int = 30, filters: int = 50, kernel: int = 3, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, filters)``."""
        x = self.dropout(self.embed(chars)).transpose(1, 2)
        h = self.conv(x)
        pad = torch.arange(chars.size(1), device=chars.device).unsqueeze(0) >= lengths.clamp(min=1).unsqueeze(1)
        return h.masked_fill(pad.unsqueeze(1), float("-inf")).max(2).values


class CharLSTM(nn.Module):
    """Lample et al. (2016): a BiLSTM over characters; the word is its last forward and backward states."""

    def __init__(self, num_chars: int, char_dim: int = 30, hidden: int = 25, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = BiRNNLayer(char_dim, hidden, "lstm")
        self.hidden = hidden
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, 2 * hidden)``."""
        lengths = lengths.clamp(min=1)
        out = self.rnn(self.dropout(self.embed(chars)), lengths)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden)
        fwd_last = out[:, :, : self.hidden].gather(1, last).squeeze(1)
        return torch.cat([fwd_last, out[:, 0, self.hidden :]], dim=1)
