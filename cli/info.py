"""``ner-bilstm info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from . import options
from .render import console, read_note


def info(
    ctx: typer.Context,
    source: str | None = typer.Argument(None, help="A data source to describe (CoNLL, .jsonl, datasets source)."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A model directory to describe."),
    output_format: options.REPORT_FORMAT = typer.Option("table", "--output-format", help="How to print the description."),
    format_alias: options.REPORT_FORMAT | None = options.output_format_alias("--format"),
    split: str | None = options.SPLIT,
    tokens_field: str = options.TOKENS_FIELD,
    tags_field: str = options.TAGS_FIELD,
    token_col: int = options.TOKEN_COL,
    tag_col: int = options.TAG_COL,
    encoding: str = options.ENCODING,
) -> None:
    """Describe a data source (sizes, entities, scheme, invalid tags) or a model directory (--model)."""
    format = options.chosen_format(ctx, output_format, format_alias)
    if (source is None) == (model is None):
        raise typer.BadParameter("give either a data source or --model DIR")
    if model is not None:
        _model_info(model, format)
        return
    from ner_bilstm.io import ReadReport, read_source
    from ner_bilstm.statistics import source_statistics

    reader = options.reader(token_col, tag_col, encoding, split, tokens_field, tags_field)
    read = ReadReport()
    stats = source_statistics(read_source(source, reader, require_tags=False, report=read))
    read_note(source, read.summary())
    if format == "json":
        print(json.dumps(stats.to_dict(), indent=2, ensure_ascii=False))
        return
    table = Table(title=source, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("sentences", f"{stats.sentences:,}" + (f" in {stats.documents:,} documents" if stats.documents else ""))
    table.add_row("tokens", f"{stats.tokens:,} ({stats.distinct_tokens:,} distinct)")
    table.add_row("sentence length", f"mean {stats.mean_length}, max {stats.max_length}")
    table.add_row("single-character tokens", f"{100 * stats.single_character_tokens:.1f}%")
    table.add_row("tag scheme", (stats.scheme or "no tags").upper())
    table.add_row("entities", f"{stats.entities:,}")
    for label, count in stats.entities_per_type.items():
        table.add_row(f"  {label}", f"{count:,}")
    table.add_row("invalid tags", f"{stats.invalid_tags:,} in {stats.sentences_with_invalid_tags:,} sentences")
    console.print(table)


def _model_info(model: Path, format: str) -> None:
    from ner_bilstm.artifact import describe_model

    described = describe_model(model)
    if format == "json":
        print(json.dumps(described.to_dict(), indent=2, ensure_ascii=False))
        return
    r, m = described.record, described.record.model
    table = Table(title=str(model), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("architecture", f"{m.char} chars + {m.word_dim}-d words{' + casing' if m.casing else ''} -> "
                  f"{m.layers}x Bi{m.rnn.upper()} {m.hidden}{' + attention' if m.attention else ''} -> {m.head}"
                  f"{f' + document memory ({m.memory_dim}, {m.memory_scope} tokens)' if m.memory_dim else ''}")
    table.add_row("parameters", f"{described.parameters:,}")
    table.add_row("vocabulary", f"{described.words:,} words, {described.chars:,} chars; {r.tokenization} tokens")
    if r.embeddings:
        e = r.embeddings
        named = f"{e.name} {e.version or ''}, " if e.name else ""
        composed = f" ({e.composed:,} composed from their pieces)" if e.composed else ""
        table.add_row("embeddings", f"{named}{e.dim}-d, {e.words:,} words found{composed}, {100 * e.tokens:.1f}% of training tokens")
    table.add_row("labels", " ".join(described.labels))
    table.add_row("schemes", f"input {r.input_scheme.upper()}, internal {r.train_scheme.upper()}")
    for role, fp in r.data.items():
        ident = f"sha256 {fp['sha256'][:12]}" if fp.get("sha256") else f"split {fp.get('split')}, {fp.get('rows')} rows"
        table.add_row(f"{role} data", f"{fp['path']} ({ident})")
    if described.best_dev_f1 is not None:
        table.add_row("dev F1", f"{described.best_dev_f1:.2f}")
    if described.test_f1 is not None:
        table.add_row("test F1", f"{described.test_f1:.2f}")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in r.versions.items()))
    console.print(table)
