"""Character-level word encoders: ``(words, chars) ids -> (words, out_dim)``.

Both take a padded matrix of character ids (0 = padding) and the word lengths, and give each
word a vector that does not depend on how much padding its row carries.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .dropout import Dropout
from .encoder import BiRNNLayer


class CharCNN(nn.Module):
    """Ma & Hovy (2016): character embeddings, one convolution (zero-padded, odd ``kernel``),
    max-pool over the word.

    The convolution is one matrix product over stacked shifted copies of the input, which on
    CPU is faster than a conv kernel at these small sizes.
    """

    def __init__(self, num_chars: int, char_dim: int = 30, filters: int = 50, kernel: int = 3, dropout: float = 0.5):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.kernel = kernel
        self.conv = nn.Linear(kernel * char_dim, filters)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, filters)``."""
        x = self.dropout(self.embed(chars))
        width, half = chars.size(1), self.kernel // 2
        padded = F.pad(x, (0, 0, half, half))
        windows = torch.cat([padded[:, i : i + width] for i in range(self.kernel)], dim=2)
        h = self.conv(windows)
        pad = torch.arange(width, device=chars.device).unsqueeze(0) >= lengths.clamp(min=1).unsqueeze(1)
        return h.masked_fill(pad.unsqueeze(2), float("-inf")).max(1).values


class CharLSTM(nn.Module):
    """Lample et al. (2016): a BiLSTM over characters; the word is its last forward and backward states."""

    def __init__(self, num_chars: int, char_dim: int = 30, hidden: int = 25, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = Dropout(dropout)
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
