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
