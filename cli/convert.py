"""``ner-bilstm convert``."""

from __future__ import annotations

import typer

from ner_bilstm.conversion import convert_sentences
from ner_bilstm.io import ReadReport, read_source, source_format

from . import options
from .render import err_console, read_note


def convert(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="CoNLL file, .jsonl, an annotation tool's export (doccano, Label Studio, "
                                           "Prodigy, a brat folder) or a datasets source (hf:NAME, folder, parquet)."),
    dest: str = typer.Argument(..., help="Output file ('-' for stdout); a folder for brat."),
    to_scheme: options.SCHEMES | None = typer.Option(None, "--to-scheme", help="Tag scheme to write (default: keep the source's)."),
    output_format: options.CONVERT_FORMAT | None = typer.Option(None, "--output-format",
                                                                help="Format to write (default: from DEST's extension)."),
    format_alias: options.CONVERT_FORMAT | None = options.output_format_alias("--to-format"),
    token_col: int = options.TOKEN_COL,
    tag_col: int = typer.Option(-1, help="CoNLL tag column (the one rewritten)."),
    split: str | None = options.SPLIT,
    tokens_field: str = options.TOKENS_FIELD,
    tags_field: str = options.TAGS_FIELD,
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
    input_format: options.SOURCE_FORMAT = options.SOURCE,
    tokenize: options.TOKENIZE = options.TOKENIZE_OPTION,
    label_map: str = options.LABEL_MAP,
) -> None:
    """Convert between CoNLL, JSON lines and the annotation tools' formats, and between tag schemes
    (other CoNLL columns are kept)."""
    by_name = "jsonl" if dest != "-" and source_format(dest) == "jsonl" else "conll"
    fmt = options.chosen_format(ctx, output_format, format_alias) or by_name
    reader = options.reader(token_col, tag_col, encoding, split, tokens_field, tags_field, input_format, tokenize, label_map)
    read = ReadReport()
    sentences = read_source(source, reader, require_tags=False, report=read)
    scheme = to_scheme.value if to_scheme else None
    done = convert_sentences(sentences, None if dest == "-" else dest, to_scheme=scheme, to_format=fmt, tag_col=tag_col)
    err_console.print(f"{done.sentences:,} sentences, {(done.from_scheme or 'no tags').upper()} -> "
                      f"{(done.to_scheme or 'no tags').upper()} ({done.changed_tags:,} tags changed), {fmt}: {dest}")
    read_note(source, read.summary())
