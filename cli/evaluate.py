"""``ner-bilstm evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ner_bilstm.errors import NerError
from ner_bilstm.evaluation import evaluate_model
from ner_bilstm.io import ReadReport
from ner_bilstm.io.files import refuse_overwrite

from . import options
from .render import console, read_note, scores_table


def evaluate(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="Labelled data: CoNLL file, .jsonl, an annotation tool's export or a brat folder, "
                                           "or a datasets source."),
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    output_format: options.REPORT_FORMAT = typer.Option("table", "--output-format", help="How to print the scores."),
    format_alias: options.REPORT_FORMAT | None = options.output_format_alias("--format"),
    predictions: Path | None = typer.Option(None, "--predictions", help="Write tokens, gold and predicted tags as CoNLL."),
    split: str = typer.Option("test", help="Split of a datasets source."),
    tokens_field: str = options.TOKENS_FIELD,
    tags_field: str = options.TAGS_FIELD,
    token_col: int = options.TOKEN_COL,
    tag_col: int = options.TAG_COL,
    encoding: str = options.ENCODING,
    input_format: options.SOURCE_FORMAT = options.SOURCE,
    tokenize: options.TOKENIZE = options.TOKENIZE_OPTION,
    batch_size: int = typer.Option(256, min=1, help="Sentences per batch."),
    device: options.DEVICE_CHOICE = options.DEVICE,
) -> None:
    """Score a model on labelled data (seqeval, entity level, the data's own scheme)."""
    from ner_bilstm.artifact import load_model, model_files  # here, not at the top: torch loads only for commands that need it
    from ner_bilstm.inference import entity_types

    try:
        refuse_overwrite(predictions, [source, *model_files(model)])
    except NerError as e:
        raise typer.BadParameter(str(e), param_hint="--predictions") from None
    loaded = load_model(model, device=device.value)
    reader = options.reader(token_col, tag_col, encoding, split, tokens_field, tags_field, input_format, tokenize)
    read = ReadReport()
    scores = evaluate_model(loaded, source, predictions_path=predictions, reader=reader, batch_size=batch_size, report=read)
    read_note(source, read.summary())
    unknown = scores.unknown(entity_types(loaded.vocab.labels.itos))
    if unknown:
        listed = ", ".join(f"{label} {n}" for label, n in unknown.items())
        read_note(source, f"entity types the model was not trained on ({listed}); they count as misses")
    if options.chosen_format(ctx, output_format, format_alias) == "json":
        print(json.dumps(scores.to_dict(), indent=2))
    else:
        console.print(scores_table(scores, f"{source}"))
