"""``ner-bilstm convert``."""

from __future__ import annotations

import typer

from ner_bilstm.conversion import convert_sentences
from ner_bilstm.io import read_source, source_format

from .render import err_console


def convert(
    source: str = typer.Argument(..., help="CoNLL file, .jsonl, or a datasets source (hf:NAME, folder, parquet)."),
    dest: str = typer.Argument(..., help="Output file; '-' for stdout."),
    to_scheme: str | None = typer.Option(None, "--to-scheme", help="iob1 | iob2 | bioes | bmes | bilou (default: keep)."),
    to_format: str | None = typer.Option(None, "--to-format", help="conll | jsonl (default: from DEST's extension)."),
    token_col: int = typer.Option(0, help="CoNLL token column."),
    tag_col: int = typer.Option(-1, help="CoNLL tag column (the one rewritten)."),
    split: str | None = typer.Option(None, help="Split of a datasets source."),
    tokens_field: str = typer.Option("tokens", help="Tokens column of a datasets source."),
    tags_field: str = typer.Option("ner_tags", help="Tags column of a datasets source."),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
) -> None:
    """Convert between CoNLL and JSON lines, and between tag schemes (other CoNLL columns are kept)."""
    fmt = to_format or ("jsonl" if dest != "-" and source_format(dest) == "jsonl" else "conll")
    sentences = read_source(source, token_col=token_col, tag_col=tag_col, encoding=encoding, require_tags=False,
                            split=split, tokens_field=tokens_field, tags_field=tags_field)
    report = convert_sentences(sentences, None if dest == "-" else dest, to_scheme=to_scheme, to_format=fmt, tag_col=tag_col)
    err_console.print(f"{report['sentences']:,} sentences, {(report['from_scheme'] or 'no tags').upper()} -> "
                      f"{(report['to_scheme'] or 'no tags').upper()} ({report['changed_tags']:,} tags changed), {fmt}: {dest}")
