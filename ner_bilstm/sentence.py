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

    def chunks(self, size: int) -> list[Sentence]:
        """Consecutive pieces of at most ``size`` tokens (offsets kept), so one huge line does
        not become one huge batch row; an entity cannot cross a cut."""
        if len(self.tokens) <= size:
            return [self]
        return [
            Sentence(
                tokens=self.tokens[i : i + size],
                tags=self.tags[i : i + size] if self.tags is not None else None,
                text=self.text,
                offsets=self.offsets[i : i + size] if self.offsets is not None else None,
                meta=self.meta,
            )
            for i in range(0, len(self.tokens), size)
        ]
