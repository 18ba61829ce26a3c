"""Strict JSON (RFC 8259) in and out, whatever a hostile line holds.

Reading refuses, with a plain reason, what Python's ``json`` would accept or crash on: ``NaN``
and ``Infinity`` (not JSON), nesting deeper than ``MAX_DEPTH`` levels, and strings holding an
unpaired surrogate escape (``"\\ud800"``: valid JSON grammar, but no UTF-8 can carry it).
Numbers can keep their exact text (``JsonNumber``), so that ``0.10``, ``1e999``, ``-0`` or a
5,000-digit integer passed through ``predict`` is written back digit for digit. Writing never
produces ``NaN``/``Infinity`` and always yields text that encodes as UTF-8.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

MAX_DEPTH = 128  # levels of nested objects and arrays in one JSON text, the outermost counting as one
_MAX_INT_DIGITS = 4000  # below CPython's int/str conversion limit (4300)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a code point no UTF-8 can carry
_MAYBE_SURROGATE = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")  # an escape that may decode to one, or one as is


class JsonNumber:
    """A JSON number kept as its text, because an int or a float would write it back otherwise."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class _NonFinite:
    """What the decoder makes of ``NaN``/``Infinity``/``-Infinity``, so the fault can be located."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class JsonError(ValueError):
    """Why a JSON text was refused. When the text is an object and only some of its values are
    at fault, ``partial`` holds the object without them (to pass through in an error record)."""

    def __init__(self, message: str, partial: dict[str, Any] | None = None):
        super().__init__(message)
        self.partial = partial


def _exact_int(text: str) -> int | JsonNumber:
    return JsonNumber(text) if len(text) > _MAX_INT_DIGITS or text == "-0" else int(text)


def _exact_float(text: str) -> float | JsonNumber:
    value = float(text)
    return value if math.isfinite(value) and repr(value) == text else JsonNumber(text)


def _plain_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise JsonError(f"an integer of {len(text):,} digits is too large")
    return int(text)


def _plain_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"the number {text[:40]} is out of range")
    return value


class _Repeated(dict):
    """An object that named a key twice (``twice``): json would keep the last value and drop the
    first without a word; ``loads`` refuses it, like NaN, keeping the line's other fields."""

    twice: str


_parse = threading.local()  # .repeated: the text being parsed has an object with a key twice


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    repeated = _Repeated(obj)
    repeated.twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    _parse.repeated = True
    return repeated


_EXACT = json.JSONDecoder(parse_int=_exact_int, parse_float=_exact_float, parse_constant=_NonFinite, object_pairs_hook=_object)
_PLAIN = json.JSONDecoder(parse_int=_plain_int, parse_float=_plain_float, parse_constant=_NonFinite, object_pairs_hook=_object)


def _show(key: str) -> str:
    """A key for a message: quoted and shortened."""
    return json.dumps(key if len(key) <= 40 else key[:40] + "…", ensure_ascii=False)


def _key_fault(key: str) -> str | None:
    return "unpaired surrogate in a key (not encodable as UTF-8)" if LONE_SURROGATE.search(key) else None


def _fault(value: Any, depth: int) -> str | None:
    """The first reason ``value`` (at nesting ``depth``) cannot be strict JSON, or None."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            lone = LONE_SURROGATE.search(item)
            if lone:
                return f"unpaired surrogate \\u{ord(lone.group()):04x} in a string (not encodable as UTF-8)"
        elif isinstance(item, _NonFinite):
            return f"{item.name} is not a JSON number"
        elif isinstance(item, (dict, list)):
            if level > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, _Repeated):
                return f"the key {_show(item.twice)} appears twice in one object"
            if isinstance(item, dict):
                fault = next(filter(None, map(_key_fault, item)), None)
                if fault:
                    return fault
                item = list(item.values())
            stack.extend((v, level + 1) for v in reversed(item))  # reversed: the first fault in reading order is found first
    return None


def loads(text: str, *, exact_numbers: bool = False) -> Any:
    """Parse one strict JSON text. With ``exact_numbers``, numbers that int/float would not
    write back identically become ``JsonNumber``; without, an out-of-range number is refused.
    Raises ``JsonError`` naming the fault (and the top-level key that holds it)."""
    _parse.repeated = False
    try:
        value = (_EXACT if exact_numbers else _PLAIN).decode(text)
    except json.JSONDecodeError as e:
        raise JsonError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels") from None
    suspect = (text.count("[") + text.count("{") > MAX_DEPTH or "NaN" in text or "Infinity" in text
               or _MAYBE_SURROGATE.search(text) is not None or _parse.repeated)
    if not suspect:
        return value
    if not isinstance(value, dict):
        fault = _fault(value, 1)
        if fault:
            raise JsonError(fault)
        return value
    bad: dict[str, str] = {}
    if isinstance(value, _Repeated):
        bad[value.twice] = "appears twice in the object"
    for key, item in value.items():
        fault = _key_fault(key) or _fault(item, 2)
        if fault and key not in bad:
            bad[key] = fault
    if bad:
        key, fault = next(iter(bad.items()))
        where = "" if _key_fault(key) else f"{_show(key)}: "
        more = f" (and {len(bad) - 1} more field{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else ""
        raise JsonError(f"{where}{fault}{more}", partial={k: v for k, v in value.items() if k not in bad})
    return value


class _HasNumberText(Exception):
    """Raised from the fast encoder on meeting a JsonNumber: the slow path writes it."""


def _default(value: Any) -> Any:
    if isinstance(value, JsonNumber):
        raise _HasNumberText
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_default)


def _encode_with_numbers(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_ENCODER.encode(str(k))}: {_encode_with_numbers(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_encode_with_numbers(v) for v in value) + "]"
    return _ENCODER.encode(value)


def dumps(value: Any) -> str:
    """One line of strict JSON, non-ASCII kept as is. Raises ValueError (never writes) when
    ``value`` holds NaN, an infinity, an unpaired surrogate or a type JSON has no form for."""
    try:
        try:
            text = _ENCODER.encode(value)
        except _HasNumberText:
            text = _encode_with_numbers(value)
    except ValueError as e:
        reason = "a non-finite number (NaN or infinity)" if "Out of range float" in str(e) else str(e)
        raise ValueError(reason) from None
    except TypeError as e:
        raise ValueError(str(e)) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"an unpaired surrogate \\u{ord(text[e.start]):04x}") from None
    return text
