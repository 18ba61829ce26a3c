"""Readers and writers for every data source the tool takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import NerError
from ..sentence import Sentence
from .conll import read_conll, write_conll
from .jsonl import read_jsonl_sentences
from .text import split_sentences, tokenize

__all__ = [
    "read_source",
    "read_conll",
    "write_conll",
    "read_jsonl_sentences",
    "tokenize",
    "split_sentences",
    "source_format",
]

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


def source_format(path: str) -> str:
    """``jsonl`` for JSON-lines file names, else ``conll``."""
    return "jsonl" if str(path).lower().endswith(JSONL_SUFFIXES) else "conll"


def read_source(
    path: str | Path,
    *,
    token_col: int = 0,
    tag_col: int = -1,
    encoding: str = "utf-8",
    require_tags: bool = True,
) -> Iterator[Sentence]:
    """Stream labelled sentences from a CoNLL or JSON-lines file (chosen by extension)."""
    path = str(path)
    if path.startswith("hf:"):
        raise NerError("Hugging Face sources (hf:NAME) are not supported yet", path=path)
    if source_format(path) == "jsonl":
        return read_jsonl_sentences(path, encoding=encoding, require_tags=require_tags)
    return read_conll(path, token_col=token_col, tag_col=tag_col, encoding=encoding, require_tags=require_tags)
