"""``ner-bilstm predict``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.text import Text

from ner_bilstm.artifact import load_model
from ner_bilstm.errors import NerError
from ner_bilstm.inference import Predictor, entity_types
from ner_bilstm.io.files import output_stream
from ner_bilstm.tagging import Document, conll_lines, display_spans, document_record, read_documents, tag_documents

from .render import console, err_console, label_styles

OUTPUT_FORMATS = ("jsonl", "conll", "pretty")


def _pretty(doc: Document, styles: dict[str, str]) -> Text:
    if doc.error is not None:
        return Text(f"line {doc.line}: {doc.error}", style="red")
    text, spans = display_spans(doc)
    out, pos = Text(), 0
    for start, end, label in spans:
        style = styles.get(label, "bold")
        out.append(text[pos:start])
        out.append(text[start:end], style=f"{style} underline")
        out.append(f"[{label}]", style=f"{style} dim")
        pos = end
    out.append(text[pos:])
    return out


def _write(doc: Document, fmt: str, out, with_tags: bool, styles: dict[str, str]) -> None:
    if fmt == "jsonl":
        out.write(json.dumps(document_record(doc, with_tags), ensure_ascii=False) + "\n")
    elif fmt == "conll":
        out.write("".join(line + "\n" for line in conll_lines(doc)))
    elif out is sys.stdout:
        console.print(_pretty(doc, styles), soft_wrap=True)
    else:
        out.write(_pretty(doc, styles).plain + "\n")


def predict(
    files: list[str] | None = typer.Argument(None, help="Files to tag; none or '-' reads stdin."),
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    input_format: str = typer.Option("auto", "--input-format", help="auto | text | conll | jsonl | hf"),
    output_format: str | None = typer.Option(None, "--output-format", help="jsonl | conll | pretty (default: pretty on a terminal)"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    with_tags: bool = typer.Option(False, "--with-tags", help="Add tokens and tags to JSON output."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first bad input line (exit 1) instead of writing an error record."),
    batch_size: int = typer.Option(256, help="Sentences per batch."),
    split: str | None = typer.Option(None, help="Split of a datasets source."),
    tokens_field: str = typer.Option("tokens", help="Tokens column of a datasets source."),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Report throughput on stderr."),
) -> None:
    """Tag text, CoNLL or JSON lines; one output unit per input unit, in order."""
    fmt = output_format or ("pretty" if output is None and sys.stdout.isatty() else "jsonl")
    if fmt not in OUTPUT_FORMATS:
        raise NerError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    loaded = load_model(model)
    predictor = Predictor(loaded, batch_size)
    styles = label_styles(entity_types(loaded.vocab.labels.itos))
    started, tokens, docs = time.perf_counter(), 0, 0
    with output_stream(output) as out:
        if fmt == "pretty" and out is sys.stdout:
            legend = Text("entities: ")
            for label, style in styles.items():
                legend.append(f" {label} ", style=f"{style} reverse")
                legend.append(" ")
            console.print(legend)
        for path in files or ["-"]:
            documents = read_documents(path, input_format, encoding, loaded.config.get("tokenization", "word"), split, tokens_field)
            for window in tag_documents(predictor, documents, window=batch_size * 16):
                for doc in window:
                    if doc.error is not None and (strict or fmt == "conll"):
                        raise NerError(doc.error, path=path, line=doc.line)
                    docs += 1
                    tokens += sum(len(s) for s in doc.sentences)
                    _write(doc, fmt, out, with_tags, styles)
                out.flush()
    if verbose:
        seconds = time.perf_counter() - started
        err_console.print(f"{docs:,} documents, {tokens:,} tokens in {seconds:.2f} s ({tokens / max(seconds, 1e-9):,.0f} tokens/s)")
