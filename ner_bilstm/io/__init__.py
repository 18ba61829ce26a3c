"""Readers and writers for every data source the tool takes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NerError
from ..label_map import format_label_map, parse_label_map, relabel
from ..sentence import Sentence
from .brat import is_brat, read_brat
from .conll import conll_lines, file_columns, read_conll
from .doccano import LABEL_KEYS, read_doccano
from .files import numbered_lines
from .hf import is_hf_source, read_hf
from .jsonl import read_jsonl_sentences
from .labelstudio import read_labelstudio
from .prodigy import read_prodigy
from .spans import TOKENIZERS, ReadReport
from .strict_json import loads
from .text import split_sentences, tokenize

__all__ = [
    "INPUT_FORMATS",
    "SOURCE_FORMATS",
    "ANNOTATION_FORMATS",
    "ReaderOptions",
    "ReadReport",
    "detect_format",
    "read_source",
    "read_conll",
    "conll_lines",
    "file_columns",
    "read_jsonl_sentences",
    "tokenize",
    "split_sentences",
    "source_format",
    "is_hf_source",
    "is_brat",
    "read_hf",
]

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
INPUT_FORMATS = ("auto", "text", "conll", "jsonl", "hf")  # what `predict` reads
ANNOTATION_FORMATS = ("doccano", "label-studio", "prodigy", "brat")  # annotation tools' formats, read and written


@dataclass(frozen=True)
class PredictFormat:
    """How `predict` writes tagged documents in one format: the suffix of the file ``--output-dir``
    writes per input, whether an input line that cannot be read stays in the output as an error
    record (else it stops the run), and whether a record has room for ``--nbest`` and
    ``--with-tags`` fields."""

    suffix: str
    error_records: bool = False
    extra_fields: bool = False


PREDICT_FORMATS = {
    "jsonl": PredictFormat(".jsonl", error_records=True, extra_fields=True), "conll": PredictFormat(".conll"),
    "pretty": PredictFormat(".txt", error_records=True), "html": PredictFormat(".html", error_records=True),
    **{name: PredictFormat(".json" if name == "label-studio" else ".txt" if name == "brat" else ".jsonl")
       for name in ANNOTATION_FORMATS},  # brat: the .txt, its .ann beside it
}
SOURCE_FORMATS = ("auto", "conll", "jsonl", *ANNOTATION_FORMATS, "hf")  # what labelled data is read from


def source_format(path: str) -> str:
    """``jsonl`` for JSON-lines file names, else ``conll``."""
    return "jsonl" if str(path).lower().endswith(JSONL_SUFFIXES) else "conll"


def _first_record(path: str, encoding: str) -> str:
    try:
        return next((line for _, line in numbered_lines(path, encoding) if line.strip()), "")
    except NerError:
        return ""  # the reader names the problem


def detect_format(path: str, encoding: str = "utf-8") -> str:
    """The format of a labelled source: brat for a ``.ann`` file or a folder of them, ``hf`` for a
    datasets source; a JSON file by its first record (a ``.json`` array: Label Studio; Prodigy
    ``spans`` or token objects; doccano ``label`` or a ``text`` without ``tags``; else this tool's
    ``tokens``/``tags`` lines); anything else CoNLL."""
    if is_brat(path):
        return "brat"
    if is_hf_source(path):
        return "hf"
    if source_format(path) == "conll":
        return "conll"
    first = _first_record(path, encoding).lstrip()
    if first.startswith("[") and path.lower().endswith(".json"):  # an array: Label Studio exports .json files
        return "label-studio"
    try:
        record = loads(first, exact_numbers=True)
    except ValueError:
        return "jsonl"  # whichever reader takes it names the fault
    if not isinstance(record, dict):
        return "jsonl"
    tokens = record.get("tokens")
    if "spans" in record or (isinstance(tokens, list) and tokens and isinstance(tokens[0], dict)):
        return "prodigy"
    if record.keys() & set(LABEL_KEYS) or ("text" in record and not record.keys() & {"tags", "ner_tags"}):
        return "doccano"
    if "data" in record:
        return "label-studio"
    return "jsonl"


@dataclass(frozen=True)
class ReaderOptions:
    """How to read a labelled source, built once per command: the token and tag columns of a
    CoNLL file, its text encoding, the split and columns of a datasets source, the format
    (auto: detected), how annotation-tool texts are split into tokens, and the label map."""

    token_col: int = 0
    tag_col: int = -1
    encoding: str = "utf-8"
    split: str | None = None
    tokens_field: str = "tokens"
    tags_field: str = "ner_tags"
    input_format: str = "auto"
    tokenize: str = "word"
    label_map: str = ""

    def __post_init__(self) -> None:
        for name, kind in (("token_col", int), ("tag_col", int), ("encoding", str), ("tokens_field", str), ("tags_field", str),
                           ("input_format", str), ("tokenize", str), ("label_map", str)):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise NerError(f"reader option {name} must be {kind.__name__}, not {value!r}")
        if self.split is not None and not isinstance(self.split, str):
            raise NerError(f"reader option split must be a string, not {self.split!r}")
        for name, choices in (("input_format", SOURCE_FORMATS), ("tokenize", TOKENIZERS)):
            if getattr(self, name) not in choices:
                raise NerError(f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        try:
            object.__setattr__(self, "label_map", format_label_map(parse_label_map(self.label_map)))
        except ValueError as e:
            raise NerError(f"label map: {e}") from None

    @property
    def labels(self) -> dict[str, str]:
        """The label map as {OLD: NEW} ("" drops OLD)."""
        return parse_label_map(self.label_map)


def read_source(path: str | Path, options: ReaderOptions | None = None, *, require_tags: bool = True,
                report: ReadReport | None = None, **changes: Any) -> Iterator[Sentence]:
    """Stream sentences from a labelled source in ``options.input_format`` (by default detected:
    ``detect_format``): CoNLL, this tool's JSON lines, doccano, Label Studio, Prodigy, brat, or a
    Hugging Face ``datasets`` source (``hf:NAME[:CONFIG]``, a ``save_to_disk`` folder, parquet or
    arrow files). Character spans are aligned to tokens, and entity types renamed or dropped by
    ``options.label_map``; ``report`` counts what either changed. ``changes`` override single fields
    of ``options`` (``read_source(path, split="train")``)."""
    o = dataclasses.replace(options or ReaderOptions(), **changes)
    path = str(path)
    report = report if report is not None else ReadReport()
    fmt = detect_format(path, o.encoding) if o.input_format == "auto" else o.input_format
    sentences: Iterator[Sentence]
    if fmt == "hf":
        sentences = read_hf(path, split=o.split, tokens_field=o.tokens_field, tags_field=o.tags_field, require_tags=require_tags,
                            report=report)
    elif fmt == "jsonl":
        sentences = read_jsonl_sentences(path, encoding=o.encoding, require_tags=require_tags, report=report)
    elif fmt == "conll":
        sentences = read_conll(path, token_col=o.token_col, tag_col=o.tag_col, encoding=o.encoding, require_tags=require_tags)
    else:
        read = {"doccano": read_doccano, "label-studio": read_labelstudio, "prodigy": read_prodigy, "brat": read_brat}[fmt]
        sentences = read(path, report, encoding=o.encoding, tokenization=o.tokenize, require_tags=require_tags)
    return _relabelled(sentences, o.labels, report) if o.label_map else sentences


def _relabelled(sentences: Iterator[Sentence], mapping: dict[str, str], report: ReadReport) -> Iterator[Sentence]:
    for sentence in sentences:
        if sentence.tags is not None:
            sentence.tags = relabel(sentence.tags, mapping, report.relabelled)
        yield sentence
    counted = report.relabelled  # by "OLD -> NEW" or "OLD dropped"
    report.unmatched_labels = [old for old, new in mapping.items()  # most likely a typo
                               if f"{old} -> {new}" not in counted and f"{old} dropped" not in counted]
