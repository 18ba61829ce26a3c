"""Readers and writers for every data source the tool takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..sentence import Sentence
from .conll import read_conll, write_conll
from .hf import is_hf_source, read_hf
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
    "is_hf_source",
    "read_hf",
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
    split: str | None = None,
    tokens_field: str = "tokens",
    tags_field: str = "ner_tags",
) -> Iterator[Sentence]:
    """Stream sentences from a CoNLL file, a JSON-lines file (by extension), or a Hugging Face
    ``datasets`` source (``hf:NAME[:CONFIG]``, a ``save_to_disk`` folder, parquet/arrow files)."""
    path = str(path)
    if is_hf_source(path):
        return read_hf(path, split=split, tokens_field=tokens_field, tags_field=tags_field, require_tags=require_tags)
    if source_format(path) == "jsonl":
        return read_jsonl_sentences(path, encoding=encoding, require_tags=require_tags)
    return read_conll(path, token_col=token_col, tag_col=tag_col, encoding=encoding, require_tags=require_tags)
