"""``ner-bilstm evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ner_bilstm.artifact import load_model
from ner_bilstm.evaluation import evaluate_model

from .render import console, scores_table


def evaluate(
    source: str = typer.Argument(..., help="Labelled data: CoNLL file or .jsonl."),
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    format: str = typer.Option("table", "--format", help="table | json"),
    predictions: Path | None = typer.Option(None, "--predictions", help="Write tokens, gold and predicted tags as CoNLL."),
    split: str = typer.Option("test", help="Split of a datasets source."),
    tokens_field: str = typer.Option("tokens", help="Tokens column of a datasets source."),
    tags_field: str = typer.Option("ner_tags", help="Tags column of a datasets source."),
    token_col: int = typer.Option(0, help="CoNLL token column."),
    tag_col: int = typer.Option(-1, help="CoNLL tag column."),
    encoding: str = typer.Option("utf-8", help="Text encoding."),
    batch_size: int = typer.Option(256, help="Sentences per batch."),
) -> None:
    """Score a model on labelled data (seqeval, entity level, the data's own scheme)."""
    if format not in ("table", "json"):
        raise typer.BadParameter("choose table or json", param_hint="--format")
    loaded = load_model(model)
    scores = evaluate_model(loaded, source, predictions_path=predictions, token_col=token_col, tag_col=tag_col,
                            encoding=encoding, batch_size=batch_size, split=split, tokens_field=tokens_field,
                            tags_field=tags_field)
    if format == "json":
        print(json.dumps(scores, indent=2))
    else:
        console.print(scores_table(scores, f"{source}"))
