"""``ner-bilstm info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ner_bilstm.artifact import load_model

from .render import console


def info(
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    format: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Describe a model directory: configuration, labels, data and scores."""
    loaded = load_model(model)
    c = loaded.config
    params = sum(p.numel() for p in loaded.model.parameters())
    metrics_path = model / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    summary = {
        "model": c["model"], "parameters": params, "labels": loaded.vocab.labels.itos,
        "input_scheme": c["input_scheme"], "train_scheme": c["train_scheme"],
        "words": len(loaded.vocab.words), "chars": len(loaded.vocab.chars),
        "data": c.get("data", {}), "versions": c.get("versions", {}),
        "best_dev_f1": metrics.get("dev", {}).get("micro", {}).get("f1"),
        "test_f1": (metrics.get("test") or {}).get("micro", {}).get("f1"),
    }
    if format == "json":
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=str(model), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    m = c["model"]
    table.add_row("architecture", f"{m['char']} chars + {m['word_dim']}-d words{' + casing' if m['casing'] else ''} -> "
                  f"{m['layers']}x Bi{m['rnn'].upper()} {m['hidden']}{' + attention' if m['attention'] else ''} -> {m['head']}")
    table.add_row("parameters", f"{params:,}")
    table.add_row("vocabulary", f"{summary['words']:,} words, {summary['chars']:,} chars")
    table.add_row("labels", " ".join(summary["labels"]))
    table.add_row("schemes", f"input {summary['input_scheme'].upper()}, internal {summary['train_scheme'].upper()}")
    for role, fp in summary["data"].items():
        table.add_row(f"{role} data", f"{fp['path']} (sha256 {fp['sha256'][:12]})")
    if summary["best_dev_f1"] is not None:
        table.add_row("dev F1", f"{summary['best_dev_f1']:.2f}")
    if summary["test_f1"] is not None:
        table.add_row("test F1", f"{summary['test_f1']:.2f}")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in summary["versions"].items()))
    console.print(table)
