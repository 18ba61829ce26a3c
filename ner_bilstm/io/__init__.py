"""Readers and writers for every data source the tool takes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NerError
from ..sentence import Sentence
from .conll import conll_lines, file_columns, read_conll
from .hf import is_hf_source, read_hf
from .jsonl import read_jsonl_sentences
from .text import split_sentences, tokenize

__all__ = [
    "INPUT_FORMATS",
    "ReaderOptions",
    "read_source",
    "read_conll",
    "conll_lines",
    "file_columns",
    "read_jsonl_sentences",
    "tokenize",
    "split_sentences",
    "source_format",
    "is_hf_source",
    "read_hf",
]

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
INPUT_FORMATS = ("auto", "text", "conll", "jsonl", "hf")  # what `predict` reads


def source_format(path: str) -> str:
    """``jsonl`` for JSON-lines file names, else ``conll``."""
    return "jsonl" if str(path).lower().endswith(JSONL_SUFFIXES) else "conll"


@dataclass(frozen=True)
class ReaderOptions:
    """How to read a labelled source, built once per command: the token and tag columns of a
    CoNLL file, its text encoding, and the split and columns of a datasets source."""

    token_col: int = 0
    tag_col: int = -1
    encoding: str = "utf-8"
    split: str | None = None
    tokens_field: str = "tokens"
    tags_field: str = "ner_tags"

    def __post_init__(self) -> None:
        for name, kind in (("token_col", int), ("tag_col", int), ("encoding", str), ("tokens_field", str), ("tags_field", str)):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise NerError(f"reader option {name} must be {kind.__name__}, not {value!r}")
        if self.split is not None and not isinstance(self.split, str):
            raise NerError(f"reader option split must be a string, not {self.split!r}")


def read_source(path: str | Path, options: ReaderOptions | None = None, *, require_tags: bool = True,
                **changes: Any) -> Iterator[Sentence]:
    """Stream sentences from a CoNLL file, a JSON-lines file (by extension), or a Hugging Face
    ``datasets`` source (``hf:NAME[:CONFIG]``, a ``save_to_disk`` folder, parquet/arrow files).
    ``changes`` override single fields of ``options`` (``read_source(path, split="train")``)."""
    o = dataclasses.replace(options or ReaderOptions(), **changes)
    path = str(path)
    if is_hf_source(path):
        return read_hf(path, split=o.split, tokens_field=o.tokens_field, tags_field=o.tags_field, require_tags=require_tags)
    if source_format(path) == "jsonl":
        return read_jsonl_sentences(path, encoding=o.encoding, require_tags=require_tags)
    return read_conll(path, token_col=o.token_col, tag_col=o.tag_col, encoding=o.encoding, require_tags=require_tags)
