"""``ner-bilstm report``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import options
from .render import err_console, read_note


def report(
    source: str | None = typer.Argument(None, help="Labelled data to analyse the errors on (as for evaluate); optional."),
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    output: Path | None = typer.Option(None, "--output", "-o", help="The HTML file to write ('-': stdout; default: MODEL/report.html)."),
    worst: int = typer.Option(50, "--worst", help="How many of the worst sentences to show."),
    split: str = typer.Option("test", help="Split of a datasets source."),
    tokens_field: str = options.TOKENS_FIELD,
    tags_field: str = options.TAGS_FIELD,
    token_col: int = options.TOKEN_COL,
    tag_col: int = options.TAG_COL,
    encoding: str = options.ENCODING,
    input_format: options.SOURCE_FORMAT = options.SOURCE,
    tokenize: options.TOKENIZE = options.TOKENIZE_OPTION,
    batch_size: int = typer.Option(256, help="Sentences per batch."),
    device: options.DEVICE_CHOICE = options.DEVICE,
) -> None:
    """Write a model's report as one self-contained HTML page: training curves, per-type scores and
    the model card; with labelled data, a span-level confusion matrix, boundary errors and the
    worst sentences with gold and predicted entities side by side. Needs matplotlib (the report extra)."""
    if worst < 0 or batch_size < 1:
        raise typer.BadParameter("--worst must be >= 0 and --batch-size >= 1")
    from ner_bilstm.artifact import HISTORY
    from ner_bilstm.errors import NerError
    from ner_bilstm.model_report import build_report
    from ner_bilstm.pages.curves import require_matplotlib
    from ner_bilstm.pages.report import render_report, report_path, write_report

    try:
        target = None if str(output) == "-" else report_path(model, source, output)
    except NerError as e:
        raise typer.BadParameter(str(e), param_hint="--output") from None
    if (model / HISTORY).is_file():
        require_matplotlib()  # the curves need it: say so before the data are tagged
    reader = options.reader(token_col, tag_col, encoding, split, tokens_field, tags_field, input_format, tokenize)
    built = build_report(model, source, reader=reader, batch_size=batch_size, device=device.value, worst=worst)
    if built.source is not None:
        read_note(source, built.source.read_note)
    if str(output) == "-":
        sys.stdout.write(render_report(built))
        return
    target = write_report(built, target)
    err_console.print(f"report: {target}", markup=False, highlight=False)
