"""Character-level word encoders: ``(words, chars) ids -> (words, out_dim)``.

Both take a padded matrix of character ids (0 = padding) and the word lengths, and give each
word a vector that does not depend on how much padding its row carries.
"""

from __future__ import annotations

import torch
from torch import nn

from .dropout import Dropout
from .encoder import BiRNNLayer


class CharCNN(nn.Module):
    """Ma & Hovy (2016): character embeddings, one convolution (zero-padded, odd ``kernel``),
    max-pool over the word.

    The words are packed end to end, ``kernel // 2`` zero characters apart, so the convolution
    (one matrix product over stacked shifted copies, faster on CPU than a conv kernel at these
    sizes) never runs over the padding of short words: half the work of a padded batch. Each
    word still sees zeros past its ends, exactly as when convolving it alone.
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
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, filters)``; an empty
        word is read as one padding character."""
        lengths = lengths.clamp(min=1, max=chars.size(1))
        half = self.kernel // 2
        real = torch.arange(chars.size(1), device=chars.device).unsqueeze(0) < lengths.unsqueeze(1)
        starts = half + torch.cumsum(lengths + half, 0) - (lengths + half)  # each word's first character
        at = (starts.unsqueeze(1) + torch.arange(chars.size(1), device=chars.device))[real]  # (characters,)
        size = int(starts[-1] + lengths[-1]) + half
        packed = chars.new_zeros(size).index_put_((at,), chars[real])
        x = self.dropout(self.embed(packed))  # (size, char_dim)
        windows = torch.cat([x[i : size - 2 * half + i] for i in range(self.kernel)], dim=1)  # centred at half..size-half
        h = self.conv(windows).index_select(0, at - half)  # (characters, filters)
        owner = torch.repeat_interleave(torch.arange(len(lengths), device=chars.device), lengths)
        pooled = h.new_full((len(lengths), h.size(1)), float("-inf"))
        return pooled.scatter_reduce(0, owner.unsqueeze(1).expand_as(h), h, "amax", include_self=True)


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
