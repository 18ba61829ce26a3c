"""doccano JSON lines: ``{"text": ..., "label": [[start, end, "LABEL"], ...]}``, one text per line
(or, as a relation project exports them, ``"entities": [{"start_offset", "end_offset", "label"}]``).

doccano keeps a record's other keys as metadata, so the writer adds ``tokens`` (the reader uses
them when present): a text written here comes back with exactly its tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..sentence import Sentence
from .annotations import Parsed, Unit, records_to_sentences, string_field, whole
from .files import numbered_lines
from .jsonl import parse_object, token_list
from .spans import CharSpan, ReadReport, locate

# doccano exports "label"; some versions and scripts write "labels"; relation projects "entities"
LABEL_KEYS = ("label", "labels", "entities")


def _span(key: str, item: Any) -> CharSpan:
    if key == "entities":
        if not isinstance(item, dict):
            raise ValueError(f'each "entities" item must be {{"start_offset", "end_offset", "label"}}, not {item!r}')
        return CharSpan(whole(item.get("start_offset"), "start_offset"), whole(item.get("end_offset"), "end_offset"), item.get("label"))
    if not isinstance(item, list) or len(item) != 3:
        raise ValueError(f'each "{key}" item must be [start, end, label], not {item!r}')
    return CharSpan(whole(item[0], "a start"), whole(item[1], "an end"), item[2])


def parse_doccano(line: str, report: ReadReport) -> Parsed:
    obj = parse_object(line)
    text = string_field(obj, "text")
    keys = [k for k in LABEL_KEYS if k in obj]
    if len(keys) > 1:  # which one holds the annotation is unclear; reading one would drop the other's spans
        raise ValueError(f"give one of {', '.join(repr(k) for k in keys)}, not both")
    key = keys[0] if keys else None
    spans = None
    if key is not None:
        if not isinstance(obj[key], list):
            raise ValueError(f'"{key}" must be a list')
        spans = [_span(key, item) for item in obj[key]]
    tokens = locate(text, token_list(obj)) if "tokens" in obj else None
    fields = {k: v for k, v in obj.items() if k not in ("text", "tokens", "relations", *LABEL_KEYS)}
    if obj.get("relations"):
        report.skip("relations ignored", len(obj["relations"]) if isinstance(obj["relations"], list) else 1)
    return Parsed(text, spans, tokens, fields)


def read_doccano(path: str, report: ReadReport, *, encoding: str = "utf-8", tokenization: str = "word",
                 require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences from a doccano JSON-lines export; blank lines are skipped."""
    records = ((line, text) for line, text in numbered_lines(path, encoding) if text.strip())
    return records_to_sentences(records, parse_doccano, path, report, tokenization, require_tags)


def doccano_record(unit: Unit) -> dict[str, Any]:
    """The unit as a doccano record (no ``label`` when it is not labelled); the input's other keys come first."""
    record = {**(unit.fields or {}), "text": unit.text, "tokens": unit.tokens}
    if unit.spans is not None:
        record["label"] = [[s.start, s.end, s.label] for s in unit.spans]
    return record
