"""What every JSON line the tool writes must be: UTF-8, strict RFC 8259 JSON, no unpaired surrogates."""

from __future__ import annotations

import json
import re
from typing import Any

_LONE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"{name} written: not JSON")


def _int(text: str) -> int | str:
    return int(text) if len(text) <= 4000 else text  # past CPython's int/str conversion limit: keep the digits


def _no_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            assert not _LONE.search(item), f"unpaired surrogate written: {item!r}"
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def strict_records(out: bytes) -> list[dict[str, Any]]:
    """Parse output that must be one strict JSON object per line."""
    text = out.decode("utf-8")  # raises on anything that is not UTF-8
    records = []
    for line in text.split("\n")[:-1] if text else []:
        record = json.loads(line, parse_constant=_refuse_constant, parse_int=_int)
        assert isinstance(record, dict), line[:200]
        _no_surrogates(record)
        records.append(record)
    assert not text or text.endswith("\n"), "the last line is not terminated"
    return records
