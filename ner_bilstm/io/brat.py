"""brat standoff: a folder of ``NAME.txt`` texts, each with ``NAME.ann`` holding its entities as
``T`` lines (``T1<TAB>LABEL START END<TAB>TEXT``). A document is one unit, its whole text.

Offsets count characters of the text exactly as stored (a CRLF is two), so texts are read and
written without newline translation. Relations, events, attributes and notes are not entities:
they are counted and left out.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import NerError
from ..sentence import Sentence
from .annotations import Unit
from .files import make_folder, output_stream
from .spans import CharSpan, ReadReport, SpanError, align


def _read(path: Path, encoding: str) -> str:
    try:
        with open(path, encoding=encoding, newline="") as f:
            return f.read()  # a byte-order mark stays: brat counts it as the text's first character
    except FileNotFoundError:
        raise NerError("no such file", path=str(path)) from None
    except UnicodeDecodeError as e:
        raise NerError(f"not valid {encoding} text ({e.reason} at byte {e.start + 1})", path=str(path)) from None


_LINE_BREAK = re.compile(r"[\r\n]+")


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Characters ``start:end`` of ``text`` in pieces cut at line breaks, as brat stores an entity
    that crosses lines."""
    pieces, pos = [], start
    for m in _LINE_BREAK.finditer(text, start, end):
        pieces.append((pos, m.start()))
        pos = m.end()
    pieces.append((pos, end))
    return [(a, b) for a, b in pieces if a < b]


def _entity(line: str, text: str) -> CharSpan:
    """A ``T`` line as one span. Fragments that only whitespace separates (brat cuts an entity at
    line breaks) join into one; others are refused, since this tool tags contiguous spans."""
    fields = line.split("\t", 2)  # the entity's text may hold a tab
    if len(fields) < 2 or " " not in fields[1]:
        raise ValueError(f"expected 'T<n><TAB>LABEL START END<TAB>TEXT', found {line[:60]!r}")
    label, _, offsets = fields[1].partition(" ")
    try:
        pieces = [tuple(int(x) for x in piece.split()) for piece in offsets.split(";")]
    except ValueError:
        raise ValueError(f"expected offsets START END[;START END...], found {offsets!r}") from None
    if any(len(p) != 2 or not 0 <= p[0] < p[1] <= len(text) for p in pieces):
        raise ValueError(f"entity {label} ({offsets}) is outside the text ({len(text)} characters)")
    for (_, end), (start, _) in zip(pieces, pieces[1:]):
        if start < end or text[end:start].strip():
            raise ValueError(f"discontinuous entity {label} ({offsets}): this tool tags contiguous spans")
    mention = " ".join(text[a:b] for a, b in pieces)
    if len(fields) == 3 and fields[2] != mention:
        raise ValueError(f"entity text {fields[2][:40]!r} is not the .txt's characters ({offsets}) {mention[:40]!r} "
                         "(were the line endings changed?)")
    return CharSpan(pieces[0][0], pieces[-1][1], label)


def _entities(ann: Path, text: str, encoding: str, report: ReadReport) -> tuple[list[CharSpan], list[int]]:
    """The ``.ann`` file's entities and the line of each."""
    spans, lines = [], []
    for lineno, line in enumerate(_read(ann, encoding).split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if not line.startswith("T"):
            report.skip("annotations other than brat entities ignored")
            continue
        try:
            span = _entity(line, text)
        except ValueError as e:
            raise NerError(str(e), path=str(ann), line=lineno) from None
        spans.append(span)
        lines.append(lineno)
    return spans, lines


def brat_documents(source: str) -> list[Path]:
    """The ``.ann`` files of a brat folder (its sub-folders too, by name), or the one ``.ann`` given."""
    path = Path(source)
    if path.is_dir():
        return sorted(path.rglob("*.ann"))
    return [path.with_suffix(".ann")]


def is_brat(source: str) -> bool:
    """A ``.ann`` file, or a folder holding ``.ann`` files."""
    path = Path(source)
    return path.suffix == ".ann" or (path.is_dir() and next(path.rglob("*.ann"), None) is not None)


def read_brat(source: str, report: ReadReport, *, encoding: str = "utf-8", tokenization: str = "word",
              require_tags: bool = True) -> Iterator[Sentence]:
    """One sentence per document of a brat folder (or one ``.ann`` file), tokenised by ``tokenization``."""
    del require_tags  # every brat document is labelled: an empty .ann has no entities
    if Path(source).is_dir():
        unannotated = {t.with_suffix("") for t in Path(source).rglob("*.txt")} - {a.with_suffix("") for a in Path(source).rglob("*.ann")}
        if unannotated:
            report.skip("texts without an .ann file skipped", len(unannotated))
    for ann in brat_documents(source):
        txt = ann.with_suffix(".txt")
        text = _read(txt, encoding)
        spans, lines = _entities(ann, text, encoding, report)
        try:
            sentence = align(text, spans, report, tokenization=tokenization,
                             meta={"source": str(txt), "line": 1, "name": str(ann.relative_to(source) if Path(source).is_dir()
                                                                              else ann.name).removesuffix(".ann")})
        except SpanError as e:
            first, *other = (lines[i] for i in e.indexes)
            more = f" (the second on line {other[0]})" if other else ""
            raise NerError(f"{e}{more}", path=str(ann), line=first) from None
        except ValueError as e:
            raise NerError(str(e), path=str(ann)) from None
        if sentence.tokens:
            yield sentence
        else:
            report.skip("documents without tokens skipped")


def ann_lines(unit: Unit, shift: int = 0, first: int = 1) -> list[str]:
    """The unit's entities as ``T`` lines numbered from ``first``, offsets moved by ``shift`` (an
    entity that crosses a line break in fragments, as brat writes it)."""
    lines = []
    for i, s in enumerate(unit.spans or []):
        pieces = _fragments(unit.text, s.start, s.end)
        offsets = ";".join(f"{a + shift} {b + shift}" for a, b in pieces)
        lines.append(f"T{first + i}\t{s.label} {offsets}\t{' '.join(unit.text[a:b] for a, b in pieces)}")
    return lines


class BratFolder:
    """Writes units into a brat folder: ``write`` makes one document per unit (named by the unit or
    by its number); ``open_document`` starts a document that ``add`` streams units into, one after
    another with a line break between them, until ``close``. Each file appears whole or not at all."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NerError("brat output is a folder, and this is a file", path=str(self.folder))
        make_folder(self.folder)
        self.count = 0
        self.files: contextlib.ExitStack | None = None

    def write(self, unit: Unit) -> None:
        self.count += 1
        self.open_document(unit.name or f"{self.count:06d}")
        self.add(unit, final_newline=False)
        self.close()

    def open_document(self, name: str) -> None:
        self.close()
        self.files = contextlib.ExitStack()
        path = self.folder / name
        make_folder(path.parent)
        self.txt = self.files.enter_context(output_stream(path.with_name(path.name + ".txt")))
        self.ann = self.files.enter_context(output_stream(path.with_name(path.name + ".ann")))
        self.length, self.entities = 0, 0

    def add(self, unit: Unit, final_newline: bool = True) -> None:
        """Append the unit to the open document (and, by default, a line break after it)."""
        self.ann.writelines(line + "\n" for line in ann_lines(unit, self.length, self.entities + 1))
        self.txt.write(unit.text + ("\n" if final_newline else ""))
        self.length += len(unit.text) + final_newline
        self.entities += len(unit.spans or [])

    def close(self) -> None:
        if self.files is not None:
            self.files.close()
            self.files = None

    def __enter__(self) -> BratFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        """Keep the open document when the block succeeded; discard it when it failed."""
        if self.files is not None:
            files, self.files = self.files, None
            files.__exit__(*exc)
