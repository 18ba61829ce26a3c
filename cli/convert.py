"""``ner-bilstm convert``."""

from __future__ import annotations

import typer

from ner_bilstm.conversion import convert_sentences
from ner_bilstm.io import read_source, source_format

from . import options
from .render import err_console


def convert(
    source: str = typer.Argument(..., help="CoNLL file, .jsonl, or a datasets source (hf:NAME, folder, parquet)."),
    dest: str = typer.Argument(..., help="Output file; '-' for stdout."),
    to_scheme: str | None = typer.Option(None, "--to-scheme", help="iob1 | iob2 | bioes | bmes | bilou (default: keep)."),
    to_format: str | None = typer.Option(None, "--to-format", help="conll | jsonl (default: from DEST's extension)."),
    token_col: int = options.TOKEN_COL,
    tag_col: int = typer.Option(-1, help="CoNLL tag column (the one rewritten)."),
    split: str | None = options.SPLIT,
    tokens_field: str = options.TOKENS_FIELD,
    tags_field: str = options.TAGS_FIELD,
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
) -> None:
    """Convert between CoNLL and JSON lines, and between tag schemes (other CoNLL columns are kept)."""
    fmt = to_format or ("jsonl" if dest != "-" and source_format(dest) == "jsonl" else "conll")
    sentences = read_source(source, options.reader(token_col, tag_col, encoding, split, tokens_field, tags_field), require_tags=False)
    report = convert_sentences(sentences, None if dest == "-" else dest, to_scheme=to_scheme, to_format=fmt, tag_col=tag_col)
    err_console.print(f"{report['sentences']:,} sentences, {(report['from_scheme'] or 'no tags').upper()} -> "
                      f"{(report['to_scheme'] or 'no tags').upper()} ({report['changed_tags']:,} tags changed), {fmt}: {dest}")
