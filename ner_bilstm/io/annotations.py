"""What the annotation-tool formats (doccano, Label Studio, Prodigy, brat) share: the unit they
write (a text, its tokens and its entity spans) and the loop that reads JSON records into
sentences with errors naming file and line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import NerError
from ..sentence import Sentence
from .spans import EMPTY_RECORDS, CharSpan, ReadReport, align, char_spans, unit_text
from .strict_json import JsonNumber


@dataclass
class Unit:
    """One annotated text as an annotation format writes it: token offsets into ``text``, entity
    spans (with scores when predicted; None when not labelled), the input record's other keys, and a
    document name (brat)."""

    text: str
    offsets: list[tuple[int, int]]
    spans: list[CharSpan] | None
    fields: dict[str, Any] | None = None
    name: str | None = None

    @property
    def tokens(self) -> list[str]:
        return [self.text[a:b] for a, b in self.offsets]


def sentence_unit(sentence: Sentence) -> Unit:
    """A labelled sentence as a unit: its own text when it came from one, else its tokens joined by spaces."""
    text, offsets = unit_text(sentence)
    spans = char_spans(sentence) if sentence.tags is not None else None
    return Unit(text, offsets, spans, sentence.meta.get("fields"), sentence.meta.get("name"))


class Parsed(NamedTuple):
    """A record read by a format: its text, spans (None: not labelled), token offsets (None: tokenise
    the text), the keys passed through, or the reason the record is skipped."""

    text: str = ""
    spans: list[CharSpan] | None = None
    tokens: list[tuple[int, int]] | None = None
    fields: dict[str, Any] | None = None
    skip: str | None = None


def string_field(obj: dict[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f'expected a string "{key}"{where}' if value is None else f'"{key}"{where} must be a string')
    return value


def whole(value: Any, name: str) -> int:
    """``value`` checked to be an integer offset (JSON's ``-0`` is 0)."""
    if isinstance(value, JsonNumber):
        if value.text == "-0":
            return 0
        shown = value.text if len(value.text) <= 20 else value.text[:20] + "..."
        raise ValueError(f"{name} must be an integer offset, not {shown}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer offset, not {str(value)[:40]!r}")
    return value


def records_to_sentences(records: Iterable[tuple[int, Any]], parse: Callable[[Any, ReadReport], Parsed], path: str, report: ReadReport,
                         tokenization: str, require_tags: bool) -> Iterator[Sentence]:
    """Sentences from (line, record) pairs: each record ``parse``d, its spans aligned to tokens.
    A record with no tokens, one the format marks as not to be used, and (``require_tags``) one
    without an annotation are skipped and counted; a bad one raises NerError with its line."""
    for line, record in records:
        try:
            parsed = parse(record, report)
            if parsed.skip is not None:
                report.skip(parsed.skip)
                continue
            if parsed.spans is None and require_tags:
                report.skip("records without an annotation skipped")
                continue
            meta = {"source": path, "line": line, **({"fields": parsed.fields} if parsed.fields else {})}
            sentence = align(parsed.text, parsed.spans or [], report, tokens=parsed.tokens, tokenization=tokenization, meta=meta)
        except ValueError as e:
            raise NerError(str(e), path=path, line=line) from None
        if not sentence.tokens:
            report.skip(EMPTY_RECORDS)
            continue
        if parsed.spans is None:
            sentence.tags = None
        yield sentence
