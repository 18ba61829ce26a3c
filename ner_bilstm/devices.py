"""Which device a command runs on: ``auto`` (CUDA when there is a GPU), ``cpu`` or ``cuda``."""

from __future__ import annotations

import torch

from .config import CHOICES
from .errors import NerError

DEVICES = CHOICES["device"]


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name``; asking for CUDA without a GPU is a one-line error."""
    if name not in DEVICES:
        raise NerError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NerError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), so that oneDNN's bfloat16
    LSTM is faster than float32 rather than emulated and slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_bf16(choice: str, device: torch.device, rnn: str) -> str:
    """``on`` or ``off`` for ``--bf16``. ``auto`` is on for an LSTM tagger on a CPU with native
    bfloat16, where oneDNN's LSTM runs about 1.3x faster than in float32 forward and backward
    (1.8x forward alone), the whole training step about 1.2x, and dev F1 stays where it was
    (README, "What the defaults were chosen on"). CUDA keeps ``--amp``, which covers the whole model."""
    if choice != "auto":
        return choice
    return "on" if device.type == "cpu" and rnn == "lstm" and native_bf16() else "off"
