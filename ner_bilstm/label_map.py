"""Renaming and dropping entity types while reading data (``--label-map OLD=NEW,...``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .schemes import parse_tag, tags_to_spans


def parse_label_map(text: str) -> dict[str, str]:
    """``"PER=PERSON,MISC="`` as {"PER": "PERSON", "MISC": ""} (an empty NEW drops the type);
    ValueError naming the bad item."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        old, sep, new = (x.strip() for x in item.partition("="))
        if not sep or not old:
            raise ValueError(f"{item!r} is not OLD=NEW (an empty NEW drops the label)")
        for name in (old, new):
            if name == "O" or any(c.isspace() for c in name):
                raise ValueError(f"{name!r} cannot be an entity type")
            if "=" in name:  # LOC==ORG, or LOC=ORG;MISC=PER: a typo, not a type
                raise ValueError(f"{name!r} cannot be an entity type (entries are OLD=NEW, separated by commas)")
        if old in mapping:
            raise ValueError(f"{old!r} is mapped twice")
        mapping[old] = new
    return mapping


def format_label_map(mapping: Mapping[str, str]) -> str:
    """The inverse of ``parse_label_map``."""
    return ",".join(f"{old}={new}" for old, new in mapping.items())


def relabel(tags: Sequence[str], mapping: Mapping[str, str], counts: dict[str, int] | None = None) -> list[str]:
    """``tags`` (any scheme) with each entity's type renamed by ``mapping`` or, mapped to "", made
    ``O``; spans stay spans: two touching entities that get the same type stay two (IOB1 gets a B-).
    ``counts`` adds up the entities changed, by "OLD -> NEW" or "OLD dropped"."""
    out = list(tags)
    prev_end, prev_label = -1, ""
    for span in tags_to_spans(tags):
        new = mapping.get(span.label, span.label)
        if counts is not None and span.label in mapping:
            key = f"{span.label} -> {new}" if new else f"{span.label} dropped"
            counts[key] = counts.get(key, 0) + 1
        if not new:
            out[span.start : span.end] = ["O"] * (span.end - span.start)
            continue
        if new != span.label:
            for i in range(span.start, span.end):
                out[i] = f"{tags[i].partition('-')[0]}-{new}"
        if span.start == prev_end and new == prev_label and parse_tag(tags[span.start])[0] in ("I", "E"):
            out[span.start] = f"B-{new}"
        prev_end, prev_label = span.end, new
    return out
