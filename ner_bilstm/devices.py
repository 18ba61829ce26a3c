"""Where a command runs and in what arithmetic: the device (``auto``, CUDA when there is a GPU;
``cpu``; ``cuda``), bfloat16 LSTMs, denormal floats flushed to zero."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

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


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Within the block, float arithmetic on this thread treats values below float's normal range
    (denormals, under about 1e-38) as zero, and so do the threads it starts meanwhile; on leaving,
    this thread's mode is restored (Python's own floats run on it).

    Training needs it: Adam decays the moving average of every embedding row a batch did not
    touch by 0.9 a step, so within a few epochs a fifth of the word table's averages sit in the
    denormal range, where x86 arithmetic takes a slow path (the optimiser's step over the
    CoNLL-2003 table took 4 times as long, late epochs 1.3 times). Values that small move no
    weight: a default CoNLL-2003 run writes the same model bytes either way. A thread takes the
    mode of the thread that starts it, so torch's worker threads only inherit it when the block
    begins before the process's first parallel operation, as ``train`` does in the command line.
    """
    before = sys.float_info.min / 2 == 0.0  # already flushing on this thread
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


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
