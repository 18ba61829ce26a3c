"""The record that flows through the whole tool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sentence:
    """Tokens, tags when known, and what is needed to write the sentence back.

    ``offsets`` are (start, end) character offsets of each token into ``text`` when the
    sentence came from raw text; ``meta`` holds the source line and any pass-through data.
    """

    tokens: list[str]
    tags: list[str] | None = None
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)
