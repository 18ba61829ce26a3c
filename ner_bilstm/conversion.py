"""Converting data between formats (CoNLL, JSON lines, the annotation tools') and tag schemes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NerError
from .io import ANNOTATION_FORMATS
from .io.annotation_writer import UnitStream
from .io.annotations import sentence_unit
from .io.brat import BratFolder
from .io.conll import conll_lines, file_columns, sentence_comments
from .io.files import output_stream
from .io.strict_json import dumps
from .schemes import SCHEMES, convert, detect_scheme
from .sentence import Sentence

FORMATS = ("conll", "jsonl", *ANNOTATION_FORMATS)


@dataclass(frozen=True)
class Conversion:
    """What ``convert_sentences`` did: sentences written, the scheme found and the one written
    (None without tags), tags that changed, and the format."""

    sentences: int
    from_scheme: str | None
    to_scheme: str | None
    changed_tags: int
    format: str


def convert_sentences(
    sentences: Iterable[Sentence],
    dest: str | Path | None,
    *,
    to_scheme: str | None = None,
    to_format: str = "conll",
    tag_col: int = -1,
) -> Conversion:
    """Write ``sentences`` to ``dest`` (stdout for None) in ``to_format``, tags re-encoded in
    ``to_scheme`` (kept as they are when None). CoNLL input keeps its other columns; only the tag
    column changes. The file appears only when everything was written."""
    if to_format not in FORMATS:
        raise NerError(f"unknown output format {to_format!r}; choose one of {', '.join(FORMATS)}")
    if to_scheme is not None and to_scheme not in SCHEMES:
        raise NerError(f"unknown tag scheme {to_scheme!r}; choose one of {', '.join(SCHEMES)}")
    sentences = list(sentences)
    labelled = [s.tags for s in sentences if s.tags is not None]
    source_scheme = detect_scheme(labelled) if labelled else None
    changed = 0

    def converted(s: Sentence) -> Sentence:
        nonlocal changed
        if s.tags is None or to_scheme is None:
            return s
        new = convert(s.tags, to_scheme)
        changed += sum(a != b for a, b in zip(s.tags, new))
        return dataclasses.replace(s, tags=new)

    if to_format == "brat":
        if dest is None:
            raise NerError("brat output is a folder of .txt and .ann files: give one as the destination")
        with BratFolder(dest) as folder:
            for s in sentences:
                folder.write(sentence_unit(converted(s)))
    else:
        with output_stream(dest) as out:
            units = UnitStream(to_format, out) if to_format in ANNOTATION_FORMATS else None
            for s in map(converted, sentences):
                if units is not None:
                    units.write(sentence_unit(s))
                elif to_format == "jsonl":
                    record: dict[str, Any] = {"tokens": s.tokens}
                    if s.tags is not None:
                        record["tags"] = s.tags
                    out.write(dumps(record) + "\n")
                else:
                    rows = file_columns(s)
                    if s.tags is not None:
                        column = tag_col if "columns" in s.meta else -1  # the tag column of the file; else the tag is last
                        for row, tag in zip(rows, s.tags):
                            row[column] = tag
                    out.writelines(line + "\n" for line in conll_lines(rows, sentence_comments(s)))
            if units is not None:
                units.close()
    return Conversion(len(sentences), source_scheme, to_scheme or source_scheme, changed, to_format)
