"""Options several commands share: how to read a labelled source (one ``ReaderOptions`` per command)."""

from __future__ import annotations

import typer

from ner_bilstm.io import ReaderOptions

TOKEN_COL = typer.Option(0, help="CoNLL token column.")
TAG_COL = typer.Option(-1, help="CoNLL tag column.")
ENCODING = typer.Option("utf-8", help="Text encoding.")
SPLIT = typer.Option(None, help="Split of a datasets source.")
TOKENS_FIELD = typer.Option("tokens", help="Tokens column of a datasets source.")
TAGS_FIELD = typer.Option("ner_tags", help="Tags column of a datasets source.")
DEVICE = typer.Option("auto", help="auto (CUDA when there is a GPU) | cpu | cuda.")


def reader(token_col: int = 0, tag_col: int = -1, encoding: str = "utf-8", split: str | None = None,
           tokens_field: str = "tokens", tags_field: str = "ner_tags") -> ReaderOptions:
    """The command's reader options, from its parsed command-line values."""
    return ReaderOptions(token_col, tag_col, encoding, split, tokens_field, tags_field)
