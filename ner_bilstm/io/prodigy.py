"""Prodigy-style JSON lines: ``{"text", "tokens": [{"text", "start", "end", "id", "ws"}],
"spans": [{"start", "end", "label", "token_start", "token_end"}]}``. Prodigy's ``token_end`` is
inclusive; character offsets are what the reader trusts. Answers other than "accept" are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..sentence import Sentence
from .annotations import Parsed, Unit, records_to_sentences, string_field, whole
from .files import numbered_lines
from .jsonl import parse_object
from .spans import CharSpan, ReadReport

_OWN_KEYS = ("text", "tokens", "spans")


def _tokens(obj: dict[str, Any], text: str) -> list[tuple[int, int]] | None:
    tokens = obj.get("tokens")
    if tokens is None:
        return None
    if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
        raise ValueError('"tokens" must be a list of {"text", "start", "end"} objects')
    offsets = []
    for i, token in enumerate(tokens):
        start, end = whole(token.get("start"), f"token {i}'s start"), whole(token.get("end"), f"token {i}'s end")
        if "text" in token and token["text"] != text[start:end]:
            raise ValueError(f"token {i} {token['text']!r} is not the text's characters [{start}, {end})")
        offsets.append((start, end))
    return offsets


def _span(item: Any, offsets: list[tuple[int, int]] | None) -> CharSpan:
    if not isinstance(item, dict):
        raise ValueError(f'each "spans" item must be an object, not {item!r}')
    if "start" in item or offsets is None:
        return CharSpan(whole(item.get("start"), "a span's start"), whole(item.get("end"), "a span's end"), item.get("label"))
    first, last = whole(item.get("token_start"), "token_start"), whole(item.get("token_end"), "token_end")
    if not 0 <= first <= last < len(offsets):
        raise ValueError(f"span tokens {first}..{last} (token_end inclusive) are not among the {len(offsets)} tokens")
    return CharSpan(offsets[first][0], offsets[last][1], item.get("label"))


def parse_prodigy(line: str, report: ReadReport) -> Parsed:
    obj = parse_object(line)
    answer = obj.get("answer", "accept")
    if answer != "accept":
        return Parsed(skip="answers other than accept skipped")
    text = string_field(obj, "text")
    offsets = _tokens(obj, text)
    spans = None
    if "spans" in obj:
        if not isinstance(obj["spans"], list):
            raise ValueError('"spans" must be a list')
        spans = [_span(item, offsets) for item in obj["spans"]]
    return Parsed(text, spans, offsets, {k: v for k, v in obj.items() if k not in _OWN_KEYS})


def read_prodigy(path: str, report: ReadReport, *, encoding: str = "utf-8", tokenization: str = "word",
                 require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences from Prodigy-style JSON lines (``prodigy db-out``, ``ner.manual`` input); blank lines are skipped."""
    records = ((line, text) for line, text in numbered_lines(path, encoding) if text.strip())
    return records_to_sentences(records, parse_prodigy, path, report, tokenization, require_tags)


def prodigy_record(unit: Unit) -> dict[str, Any]:
    """The unit as a Prodigy task: tokens with ``ws`` (whitespace follows), spans with an inclusive
    ``token_end`` (and ``score`` when predicted)."""
    offsets, text = unit.offsets, unit.text
    tokens = [{"text": text[a:b], "start": a, "end": b, "id": i,
               "ws": (offsets[i + 1][0] if i + 1 < len(offsets) else len(text)) > b and text[b:b + 1].isspace()}
              for i, (a, b) in enumerate(offsets)]
    first = {a: i for i, (a, _) in enumerate(offsets)}
    last = {b: i for i, (_, b) in enumerate(offsets)}
    record = {**(unit.fields or {}), "text": text, "tokens": tokens}
    if unit.spans is None:
        return record
    spans = []
    for s in unit.spans:
        span: dict[str, Any] = {"start": s.start, "end": s.end, "label": s.label, "token_start": first[s.start],
                                "token_end": last[s.end]}
        if s.score is not None:
            span["score"] = s.score
        spans.append(span)
    return {**record, "spans": spans}
