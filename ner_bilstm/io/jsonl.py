"""JSON lines: ``{"tokens": [...], "tags": [...]}`` for training, ``text`` or ``tokens`` for tagging."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import NerError
from ..schemes import check_tag
from ..sentence import Sentence
from .files import numbered_lines
from .spans import EMPTY_RECORDS, ReadReport
from .strict_json import JsonError, loads

_SPACE = re.compile(r"\s")


def parse_object(line: str) -> dict[str, Any]:
    """Parse one strict JSON line that must hold an object, numbers kept exactly (see
    ``strict_json``); a ``JsonError`` (a ValueError) says what is wrong."""
    obj = loads(line, exact_numbers=True)
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(obj), "a number")
        raise JsonError(f"expected a JSON object, found {kind}")
    return obj


def string_list(obj: dict[str, Any], key: str) -> list[str]:
    """``obj[key]`` checked to be a list of strings."""
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'"{key}" must be a list of strings')
    return value


def token_list(obj: dict[str, Any], key: str = "tokens") -> list[str]:
    """``obj[key]`` checked to be a list of non-empty tokens without whitespace."""
    tokens = string_list(obj, key)
    if "" in tokens or _SPACE.search("".join(tokens)):
        raise ValueError("tokens must be non-empty and contain no whitespace")
    return tokens


def read_jsonl_sentences(path: str, *, encoding: str = "utf-8", require_tags: bool = True,
                         report: ReadReport | None = None) -> Iterator[Sentence]:
    """Stream labelled sentences from a JSON-lines file (``tokens`` and ``tags``, or ``ner_tags``
    holding strings as ``datasets``' ``to_json`` writes them); blank lines are skipped, and records
    without tokens counted in ``report`` as they are skipped."""
    for lineno, line in numbered_lines(path, encoding):
        if not line.strip():
            continue
        try:
            obj = parse_object(line)
            if "tokens" not in obj:
                raise ValueError('missing "tokens"')
            tokens = token_list(obj)
            tags = None
            key = "tags" if "tags" in obj else "ner_tags" if "ner_tags" in obj else None  # ner_tags: datasets' to_json
            if key is not None:
                tags = string_list(obj, key)
                if len(tags) != len(tokens):
                    raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
                for tag in tags:
                    check_tag(tag)
            elif require_tags:
                raise ValueError('missing "tags"')
        except ValueError as e:
            raise NerError(str(e), path=path, line=lineno) from None
        if not tokens:
            if report is not None:
                report.skip(EMPTY_RECORDS)
            continue
        meta = {"source": path, "line": lineno}
        yield Sentence(tokens=tokens, tags=tags, meta=meta)
