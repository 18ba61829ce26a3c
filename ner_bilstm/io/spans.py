"""Character spans over a text, as annotation tools store entities, and their alignment to tokens.

Every annotation format (doccano, Label Studio, Prodigy, brat) reads into ``align`` and writes from
``char_spans``, so the rules live here once: spans are trimmed of surrounding whitespace, a span
that ends or starts inside a token splits that token (the span survives exactly), and overlapping
or nested spans are refused, since this tool tags flat entities.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..schemes import Span, spans_to_tags, tags_to_spans
from ..sentence import Sentence
from .text import tokenize

TOKENIZERS = ("word", "char", "whitespace")  # how a text without tokens is split
_WHITESPACE_TOKEN = re.compile(r"\S+")


class CharSpan(NamedTuple):
    """An entity as characters ``start:end`` (end-exclusive) of a text, of type ``label``;
    ``score`` is the model's probability when it is a prediction."""

    start: int
    end: int
    label: str
    score: float | None = None


class SpanError(ValueError):
    """A span that cannot be used, or two that overlap or nest: ``indexes`` are their positions in
    the list given, so a reader can name their lines."""

    def __init__(self, message: str, indexes: tuple[int, ...]):
        super().__init__(message)
        self.indexes = indexes


EMPTY_RECORDS = "records without tokens skipped"  # the one reason every reader gives for them


@dataclass
class ReadReport:
    """What reading a source changed or skipped, for the one-line summary a command prints:
    spans that cut tokens (and the tokens split), spans trimmed of whitespace, units
    skipped and lines ignored (by reason), spans renamed or dropped by a label map, and the map's
    entries that matched nothing."""

    cut_spans: int = 0
    split_tokens: int = 0
    trimmed_spans: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    relabelled: dict[str, int] = field(default_factory=dict)  # "OLD -> NEW" or "OLD dropped" -> spans
    unmatched_labels: list[str] = field(default_factory=list)  # label-map entries no entity had

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def summary(self) -> str | None:
        """One line saying what was changed or left out; None when the data was read as it is."""
        parts = []
        if self.cut_spans:
            parts.append(f"{counted(self.cut_spans, 'spans')} did not fall on token boundaries "
                         f"({counted(self.split_tokens, 'tokens split')})")
        if self.trimmed_spans:
            parts.append(f"{counted(self.trimmed_spans, 'spans trimmed of surrounding whitespace')}")
        parts += [counted(n, reason) for reason, n in self.skipped.items()]
        parts += [f"{label}: {counted(n, 'spans')}" for label, n in self.relabelled.items()]
        if self.unmatched_labels:
            parts.append(f"label map entries that matched no entity: {', '.join(self.unmatched_labels)}")
        return "; ".join(parts) or None


def counted(n: int, phrase: str) -> str:
    """``n`` and ``phrase``, whose first word (a plural) loses its s for one: "1 span", "2 spans"."""
    if n == 1:
        first, _, rest = phrase.partition(" ")
        phrase = f"{first.removesuffix('s')} {rest}".rstrip()
    return f"{n:,} {phrase}"


def show(text: str, span: CharSpan) -> str:
    """A span as messages name it: ``[3, 9) LOC 'Lisbon'``."""
    return f"[{span.start}, {span.end}) {span.label} {text[span.start:span.end][:40]!r}"


def token_offsets(text: str, tokenization: str) -> list[tuple[int, int]]:
    """(start, end) of each token of ``text``: by words (as ``predict`` tokenises), by characters
    (Latin words kept whole), or at whitespace."""
    if tokenization == "whitespace":
        return [(m.start(), m.end()) for m in _WHITESPACE_TOKEN.finditer(text)]
    return [(s, e) for _, s, e in tokenize(text, tokenization)]


def locate(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Offsets of ``tokens`` found in order in ``text``, separated by whitespace only; ValueError
    when they are not the text's tokens."""
    offsets, pos = [], 0
    for token in tokens:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(token, pos):
            raise ValueError(f"token {len(offsets)} {token!r} is not the text at character {pos}")
        offsets.append((pos, pos + len(token)))
        pos += len(token)
    if text[pos:].strip():
        raise ValueError(f"the text goes on after the last token, at character {pos}")
    return offsets


def _check(text: str, span: CharSpan, report: ReadReport) -> CharSpan:
    """The span inside the text and trimmed of whitespace; ValueError when it is not usable."""
    if not (isinstance(span.start, int) and isinstance(span.end, int)) or isinstance(span.start, bool):
        raise ValueError(f"span offsets must be integers: {span.start!r}, {span.end!r}")
    if not isinstance(span.label, str) or not span.label or any(c.isspace() for c in span.label) or span.label == "O":
        raise ValueError(f"span label must be a non-empty string without whitespace (not 'O'): {span.label!r}")
    if not 0 <= span.start < span.end <= len(text):
        raise ValueError(f"span [{span.start}, {span.end}) {span.label} is outside the text ({len(text)} characters)")
    piece = text[span.start : span.end]
    stripped = piece.strip()
    if not stripped:
        raise ValueError(f"span {show(text, span)} covers only whitespace")
    if stripped != piece:
        report.trimmed_spans += 1
        start = span.start + (len(piece) - len(piece.lstrip()))
        span = span._replace(start=start, end=start + len(stripped))
    return span


def _checked(text: str, spans: Sequence[CharSpan], report: ReadReport) -> list[CharSpan]:
    """Spans inside the text, trimmed of whitespace, sorted; SpanError for a bad or overlapping span."""
    out = []
    for i, span in enumerate(spans):
        try:
            out.append((_check(text, span, report), i))
        except ValueError as e:
            raise SpanError(str(e), (i,)) from None
    out.sort()
    for (a, i), (b, j) in zip(out, out[1:]):
        if b.start < a.end:
            kind = "nested" if b.end <= a.end else "overlapping"
            raise SpanError(f"{kind} spans {show(text, a)} and {show(text, b)}: this tool tags flat entities", (i, j))
    return [span for span, _ in out]


def align(text: str, spans: Sequence[CharSpan], report: ReadReport, *, tokens: Sequence[tuple[int, int]] | None = None,
          tokenization: str = "word", meta: dict | None = None) -> Sentence:
    """The sentence of ``text`` with IOB2 tags for ``spans``: tokens are ``tokens`` (offsets) when
    given, else the text tokenised by ``tokenization``; a token that a span boundary cuts is split
    there (counted in ``report``). ValueError for spans that are bad, overlapping or nested."""
    spans = _checked(text, spans, report)
    if tokens is None:
        offsets = token_offsets(text, tokenization)
    else:
        offsets = list(tokens)
        for i, (start, end) in enumerate(offsets):
            if not (0 <= start < end <= len(text)) or (i and start < offsets[i - 1][1]) or any(c.isspace() for c in text[start:end]):
                raise ValueError(f"token {i} [{start}, {end}) is not a piece of the text after the one before, without whitespace")
        bounds = [0, *(b for o in offsets for b in o), len(text)]
        for gap_start, gap_end in zip(bounds[::2], bounds[1::2]):
            if text[gap_start:gap_end].strip():
                raise ValueError(f"the tokens leave out {text[gap_start:gap_end].strip()[:20]!r} at character {gap_start}")
    cuts = sorted({b for s in spans for b in (s.start, s.end)})
    split: list[tuple[int, int]] = []
    cut_at: set[int] = set()
    for start, end in offsets:
        inside = cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]
        if inside:
            cut_at.update(inside)
            report.split_tokens += 1
        bounds = [start, *inside, end]
        split += list(zip(bounds, bounds[1:]))
    report.cut_spans += sum(s.start in cut_at or s.end in cut_at for s in spans)
    starts = {start: i for i, (start, _) in enumerate(split)}
    ends = {end: i for i, (_, end) in enumerate(split)}
    token_spans = []
    for span in spans:
        if span.start not in starts or span.end not in ends:
            raise ValueError(f"span {show(text, span)} does not start and end at the tokens' characters")
        token_spans.append(Span(starts[span.start], ends[span.end] + 1, span.label))
    return Sentence(tokens=[text[a:b] for a, b in split], tags=spans_to_tags(token_spans, len(split), "iob2"), text=text,
                    offsets=split, meta=dict(meta or {}))


def unit_text(sentence: Sentence, separator: str = " ") -> tuple[str, list[tuple[int, int]]]:
    """The sentence's text and token offsets: its own when it has them, else its tokens joined by
    ``separator`` (a space; nothing for character-level text such as Chinese)."""
    if sentence.text is not None and sentence.offsets is not None:
        return sentence.text, list(sentence.offsets)
    offsets, pos = [], 0
    for token in sentence.tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + len(separator)
    return separator.join(sentence.tokens), offsets


def char_spans(sentence: Sentence) -> list[CharSpan]:
    """The sentence's entities (from its tags) as character spans into ``unit_text``."""
    _, offsets = unit_text(sentence)
    return [CharSpan(offsets[s.start][0], offsets[s.end - 1][1], s.label) for s in tags_to_spans(sentence.tags or [])]
