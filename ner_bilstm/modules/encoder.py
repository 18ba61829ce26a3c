"""Recurrent sentence encoder whose outputs never depend on padding.

A bidirectional RNN over a right-padded batch would let the backward direction read the
padding first. Instead each layer runs two unidirectional RNNs: forward over the batch as is
(padding only ever follows real tokens) and backward over each row reversed within its own
length. That is exact like packing, and as fast as plain padded batches.
"""

from __future__ import annotations

import torch
from torch import _VF, nn

from .dropout import Dropout


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of ``x (batch, time, ...)`` within its length; padding stays in place.
    One ``index_select`` of whole feature rows: a ``gather`` with its index expanded over the
    features reads an index per element, and took 6 to 9 times as long (a test batch of 256)."""
    batch, time = x.shape[:2]
    pos = torch.arange(time, device=x.device).unsqueeze(0)
    idx = torch.where(pos < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - pos, pos)
    rows = (idx + time * torch.arange(batch, device=x.device).unsqueeze(1)).view(-1)
    return x.reshape(batch * time, *x.shape[2:]).index_select(0, rows).view_as(x)


class BiRNNLayer(nn.Module):
    """One bidirectional LSTM or GRU layer: ``(batch, time, in) -> (batch, time, 2 * hidden)``.

    When every row has the same length (most training batches, which are cut from sentences
    sorted by length) both directions run as one bidirectional kernel call over the two
    modules' weights: on CPU the same outputs as two calls (and for the LSTM the same gradients;
    the GRU's agree to float rounding), about a quarter faster.

    ``train_dtype`` bfloat16 (``--bf16``) runs the layer under autocast while training: the LSTM
    computes in bfloat16 (weights kept in float32) and hands float32 on. Evaluation always runs
    in float32, so a model's tags and probabilities never depend on how it was trained. torch
    autocasts the LSTM, not the GRU, on CPU.
    """

    def __init__(self, input_size: int, hidden: int, rnn: str = "lstm"):
        super().__init__()
        cls = {"lstm": nn.LSTM, "gru": nn.GRU}[rnn]
        self.fwd = cls(input_size, hidden, batch_first=True)
        self.bwd = cls(input_size, hidden, batch_first=True)
        self.train_dtype: torch.dtype | None = None

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        """Both directions of an equal-length batch in one call, from the two modules' weights."""
        if x.size(-1) != self.fwd.input_size:  # the raw kernel call does not check, and would read past the weights
            raise RuntimeError(f"input size {x.size(-1)} does not match the layer's {self.fwd.input_size}")
        weights = [*self.fwd._flat_weights, *self.bwd._flat_weights]
        h0 = x.new_zeros(2, x.size(0), self.fwd.hidden_size)
        if isinstance(self.fwd, nn.LSTM):
            return _VF.lstm(x, (h0, h0), weights, True, 1, 0.0, self.training, True, True)[0]
        return _VF.gru(x, h0, weights, True, 1, 0.0, self.training, True, True)[0]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, equal_lengths: bool = False) -> torch.Tensor:
        if self.training and self.train_dtype is not None:
            with torch.autocast(x.device.type, dtype=self.train_dtype):
                return self._directions(x, lengths, equal_lengths).float()
        return self._directions(x, lengths, equal_lengths)

    def _directions(self, x: torch.Tensor, lengths: torch.Tensor, equal_lengths: bool) -> torch.Tensor:
        if equal_lengths and x.device.type == "cpu" and type(self.fwd) in (nn.LSTM, nn.GRU) and type(self.bwd) is type(self.fwd):
            return self._fused(x)
        out_f, _ = self.fwd(x)
        if equal_lengths:
            out_b, _ = self.bwd(x.flip(1))
            out_b = out_b.flip(1)
        else:
            out_b, _ = self.bwd(reverse_padded(x, lengths))
            out_b = reverse_padded(out_b, lengths)
        return torch.cat([out_f, out_b], dim=2)


class SentenceEncoder(nn.Module):
    """Stacked BiLSTM/BiGRU with dropout between layers and an optional self-attention layer.

    ``forward(x (batch, time, in), mask (batch, time)) -> (batch, time, 2 * hidden)``.
    The attention layer (multi-head, keys masked to real tokens) is added residually and
    layer-normalised.
    """

    def __init__(self, input_size: int, hidden: int, layers: int = 1, rnn: str = "lstm",
                 dropout: float = 0.5, attention: bool = False, heads: int = 4):
        super().__init__()
        self.layers = nn.ModuleList(
            BiRNNLayer(input_size if i == 0 else 2 * hidden, hidden, rnn) for i in range(layers)
        )
        self.dropout = Dropout(dropout)
        self.attention = nn.MultiheadAttention(2 * hidden, heads, dropout=dropout, batch_first=True) if attention else None
        self.norm = nn.LayerNorm(2 * hidden) if attention else None
        self.output_size = 2 * hidden

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1)
        equal = bool(mask.all())
        for i, layer in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            x = layer(x, lengths, equal)
        if self.attention is not None:
            attended, _ = self.attention(x, x, x, key_padding_mask=~mask, need_weights=False)
            x = self.norm(x + attended)
        return x
