"""Tag schemes (IOB1, IOB2, BIOES and its aliases BMES/BILOU): detection, spans, conversion, constraints.

Every conversion goes through spans, so the output is always a valid sequence of the target
scheme whatever the input was (broken input is decoded leniently, as conlleval does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # torch is imported where it is used: reading and converting data never loads it
    import torch

SCHEMES = ("iob1", "iob2", "bioes", "bmes", "bilou")

# Prefix aliases: BMES writes M for I; BILOU writes L for E and U for S.
_CANONICAL = {"B": "B", "I": "I", "E": "E", "S": "S", "M": "I", "L": "E", "U": "S"}
_WRITE = {
    "iob1": {},
    "iob2": {},
    "bioes": {"B": "B", "I": "I", "E": "E", "S": "S"},
    "bmes": {"B": "B", "I": "M", "E": "E", "S": "S"},
    "bilou": {"B": "B", "I": "I", "E": "L", "S": "U"},
}


class Span(NamedTuple):
    """An entity: tokens ``start`` to ``end`` (end-exclusive) of type ``label``."""

    start: int
    end: int
    label: str


def parse_tag(tag: str) -> tuple[str, str]:
    """Split a tag into (canonical prefix, type); ``O`` gives ("O", "").

    Raises ValueError for a tag that belongs to no scheme.
    """
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix not in _CANONICAL:
        raise ValueError(f"tag {tag!r} is not valid in any scheme (expected O, or B-/I-/E-/S-/M-/L-/U- and a type)")
    return _CANONICAL[prefix], label


def check_tag(tag: str) -> None:
    """Raise ValueError when ``tag`` is not valid in any scheme."""
    parse_tag(tag)


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of tag sequences: BIOES-like if E/S/M/L/U prefixes occur,
    IOB1 if an I- tag starts an entity, else IOB2."""
    raw_prefixes: set[str] = set()
    i_starts = False
    for tags in sequences:
        prev_prefix, prev_label = "O", ""
        for tag in tags:
            prefix, label = parse_tag(tag)
            if tag != "O":
                raw_prefixes.add(tag.partition("-")[0])
            if prefix == "I" and tag.startswith("I-") and (prev_prefix == "O" or prev_label != label):
                i_starts = True
            prev_prefix, prev_label = prefix, label
    if raw_prefixes & {"L", "U"}:
        return "bilou"
    if "M" in raw_prefixes:
        return "bmes"
    if raw_prefixes & {"E", "S"}:
        return "bioes"
    return "iob1" if i_starts else "iob2"


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Decode entities from tags of any scheme, leniently (conlleval's rules).

    A chunk starts at B/S, at I/E whose type differs from the running chunk, or after O/E/S;
    it ends before O, B, S, a type change, or after E/S.
    """
    spans: list[Span] = []
    start, label = -1, ""
    for i, tag in enumerate(tags):
        prefix, typ = parse_tag(tag)
        if prefix == "O":
            if start >= 0:
                spans.append(Span(start, i, label))
            start = -1
            continue
        continues = start >= 0 and typ == label and prefix in ("I", "E")
        if not continues:
            if start >= 0:
                spans.append(Span(start, i, label))
            start, label = i, typ
        if prefix in ("E", "S"):
            spans.append(Span(start, i + 1, label))
            start = -1
    if start >= 0:
        spans.append(Span(start, len(tags), label))
    return spans


def spans_to_tags(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Encode non-overlapping spans as a tag sequence of ``scheme``."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    tags = ["O"] * length
    prev_end, prev_label = -1, ""
    for start, end, label in sorted(spans):
        if scheme == "iob1":
            first = "B" if (start == prev_end and label == prev_label) else "I"
            tags[start] = f"{first}-{label}"
            for i in range(start + 1, end):
                tags[i] = f"I-{label}"
        elif scheme == "iob2":
            tags[start] = f"B-{label}"
            for i in range(start + 1, end):
                tags[i] = f"I-{label}"
        else:
            w = _WRITE[scheme]
            if end - start == 1:
                tags[start] = f"{w['S']}-{label}"
            else:
                tags[start] = f"{w['B']}-{label}"
                for i in range(start + 1, end - 1):
                    tags[i] = f"{w['I']}-{label}"
                tags[end - 1] = f"{w['E']}-{label}"
        prev_end, prev_label = end, label
    return tags


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """Re-encode ``tags`` (any scheme) in ``scheme``, through their spans."""
    return spans_to_tags(tags_to_spans(tags), len(tags), scheme)


def label_set(types: Iterable[str], scheme: str) -> list[str]:
    """All tags of ``scheme`` over the entity ``types``: ``O`` first, then by type."""
    prefixes = {"iob1": "BI", "iob2": "BI"}.get(scheme)
    if prefixes is None:
        w = _WRITE[scheme]
        prefixes = [w[p] for p in "BIES"]
    return ["O"] + [f"{p}-{t}" for t in sorted(set(types)) for p in prefixes]


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """True when ``tags`` is exactly how ``scheme`` would encode its own spans."""
    return list(tags) == spans_to_tags(tags_to_spans(tags), len(tags), scheme)


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which moves a decoder may make in ``scheme`` (iob2 or a BIOES variant).

    Returns bool tensors ``start (tags,)``, ``trans (tags, tags)`` with trans[i, j] for i -> j,
    and ``end (tags,)``. Built by broadcasting, so thousands of labels cost no Python loop.
    """
    if scheme not in ("iob2", "bioes", "bmes", "bilou"):
        raise ValueError(f"constrained decoding needs an iob2 or bioes training scheme, not {scheme!r}")
    parsed = [parse_tag(t) for t in labels]
    types = {t: i for i, t in enumerate(sorted({t for _, t in parsed}))}

    import torch

    def where(prefixes: str) -> torch.Tensor:
        return torch.tensor([p in prefixes for p, _ in parsed], dtype=torch.bool)

    same_type = torch.tensor([types[t] for _, t in parsed])
    same_type = same_type.unsqueeze(1) == same_type.unsqueeze(0)
    inside = where("BI").unsqueeze(1)  # the move leaves an open entity
    if scheme == "iob2":
        opens = ~where("I")
        return opens, opens.unsqueeze(0) | (inside & same_type), torch.ones(len(labels), dtype=torch.bool)
    opens, closes = where("OBS"), where("OES")
    continues = where("IE").unsqueeze(0) & same_type
    return opens, torch.where(inside, continues, opens.unsqueeze(0)), closes
