"""``ner-bilstm predict``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from ner_bilstm.errors import NerError
from ner_bilstm.io import PREDICT_FORMATS
from ner_bilstm.io.files import make_folder, output_stream, refuse_overwrite

from . import options
from .render import console, err_console, label_styles

if TYPE_CHECKING:
    from ner_bilstm.documents import Document


def _pretty(doc: Document, styles: dict[str, str]) -> Text:
    from ner_bilstm.documents import display_spans

    if doc.error is not None:
        return Text(f"line {doc.line}: {doc.error}", style="red")
    text, spans = display_spans(doc)
    out, pos = Text(), 0
    for start, end, label, _ in spans:
        style = styles.get(label, "bold")
        out.append(text[pos:start])
        out.append(text[start:end], style=f"{style} underline")
        out.append(f"[{label}]", style=f"{style} dim")
        pos = end
    out.append(text[pos:])
    return out


class Sink:
    """Where tagged documents go: ``out`` (a text stream) in jsonl, conll or pretty, an HTML page,
    or a doccano, Prodigy or Label Studio stream over it, or the open document of a brat folder."""

    def __init__(self, fmt: str, out, with_tags: bool = False, styles: dict[str, str] | None = None):
        from ner_bilstm.io.annotation_writer import STREAM_FORMATS, UnitStream
        from ner_bilstm.pages.predictions import PredictionPage

        self.fmt, self.out, self.with_tags, self.styles = fmt, out, with_tags, styles or {}
        self.units = UnitStream(fmt, out, predicted=True) if fmt in STREAM_FORMATS else None
        self.page = PredictionPage(out, list(self.styles)) if fmt == "html" else None

    def section(self, name: str) -> None:
        """The next documents come from the input file ``name`` (a heading on the HTML page)."""
        if self.page is not None:
            self.page.section(name)

    def put(self, doc: Document) -> None:
        from ner_bilstm.documents import document_conll_lines, document_unit, record_line

        if self.page is not None:
            self.page.write(doc)
        elif self.fmt == "brat":
            self.out.add(document_unit(doc))
        elif self.units is not None:
            self.units.write(document_unit(doc))
        elif self.fmt == "jsonl":
            self.out.write(record_line(doc, self.with_tags) + "\n")
        elif self.fmt == "conll":
            self.out.write("".join(line + "\n" for line in document_conll_lines(doc)))
        elif self.out is sys.stdout:
            console.print(_pretty(doc, self.styles), soft_wrap=True)
        else:
            self.out.write(_pretty(doc, self.styles).plain + "\n")

    def flush(self) -> None:
        if self.fmt != "brat":
            self.out.flush()

    def close(self) -> None:
        if self.units is not None:
            self.units.close()
        if self.page is not None:
            self.page.close()


def predict(
    files: list[str] | None = typer.Argument(None, help="Files to tag; none or '-' reads stdin."),
    model: Path = typer.Option(..., "--model", "-m", help="Model directory."),
    input_format: options.INPUT_FORMAT = typer.Option("auto", "--input-format",
                                                      help="Format of the input (auto: from the name or the first line)."),
    output_format: options.PREDICT_FORMAT | None = typer.Option(
        None, "--output-format", help="Format to write (default: pretty on a terminal, else jsonl; jsonl with --nbest or --with-tags)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    output_dir: Path | None = typer.Option(None, "--output-dir", help="Write one output file per input file into this folder."),
    with_tags: bool = typer.Option(False, "--with-tags", help="Add tokens and tags to JSON output."),
    nbest: int = typer.Option(0, "--nbest", help="Add the K best tag sequences with their probabilities (CRF head)."),
    min_score: float = typer.Option(0.0, "--min-score", help="Drop entities whose probability is lower."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first bad input line (exit 1) instead of writing an error record."),
    batch_size: int = typer.Option(256, help="Sentences per batch."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = its default)."),
    device: options.DEVICE_CHOICE = options.DEVICE,
    quantize: bool = typer.Option(False, "--quantize", help="Run the LSTM and linear layers in int8 (torch's int8 kernels, activations "
                                  "quantised on the fly; CPU only, the CRF stays float32)."),
    split: str | None = options.SPLIT,
    tokens_field: str = options.TOKENS_FIELD,
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Report throughput on stderr."),
) -> None:
    """Tag text, CoNLL or JSON lines; one output unit per input unit, in order, streamed. html
    writes one page with the entities highlighted (the probability on hover). The annotation
    formats (doccano, label-studio, prodigy, brat) write the entities as a tool imports them;
    brat writes NAME.txt and NAME.ann per input file into --output-dir."""
    if output is not None and output_dir is not None:
        raise typer.BadParameter("give --output or --output-dir, not both", param_hint="--output-dir")
    terminal = output is None and output_dir is None and sys.stdout.isatty()
    # A terminal gets the pretty view, unless what was asked for (--nbest, --with-tags) needs JSON lines.
    fmt = output_format.value if output_format else ("pretty" if terminal and not (nbest or with_tags) else "jsonl")
    if fmt == "brat" and output_dir is None:
        raise typer.BadParameter("brat output is a .txt and an .ann file per input file: give --output-dir", param_hint="--output-format")
    from ner_bilstm.inference import check_tagging_options  # here, not at the top: torch loads only for commands that need it

    try:
        check_tagging_options(batch_size, nbest, min_score)
    except NerError as e:
        raise typer.BadParameter(str(e)) from None
    written = PREDICT_FORMATS[fmt]
    for flag, asked in (("--nbest", nbest > 0), ("--with-tags", with_tags)):
        if asked and not written.extra_fields:
            raise typer.BadParameter(f"{flag} adds fields to JSON lines; --output-format {fmt} has no place for them",
                                     param_hint=flag)
    paths = files or ["-"]
    if output_dir is not None and (len({Path(p).stem + written.suffix for p in paths}) != len(paths) or "-" in paths):
        raise typer.BadParameter(f"needs input files whose outputs (NAME{written.suffix}) differ, not stdin", param_hint="--output-dir")
    from ner_bilstm.artifact import model_files  # here, not at the top: torch loads only for commands that need it

    reads = [*paths, *model_files(model)]
    for path in paths:
        target = output if output_dir is None else output_dir / (Path(path).stem + written.suffix)
        try:
            refuse_overwrite(target, reads)
        except NerError as e:
            raise typer.BadParameter(str(e), param_hint="--output" if output_dir is None else "--output-dir") from None
    # Here, not at the top: torch loads only for commands that need it.
    import torch

    from ner_bilstm.artifact import load_model
    from ner_bilstm.inference import Predictor, entity_types
    from ner_bilstm.io.brat import BratFolder
    from ner_bilstm.tagging import WINDOW_BATCHES, read_documents, tag_documents

    if threads:
        torch.set_num_threads(threads)
    if quantize and device.value == "cuda":
        raise typer.BadParameter("a quantised model runs on the CPU", param_hint="--quantize")
    loaded = load_model(model, device=device.value, quantize=quantize)
    predictor = Predictor(loaded, batch_size, nbest=nbest, min_score=min_score)
    styles = label_styles(entity_types(loaded.vocab.labels.itos))
    reader = options.reader(encoding=encoding, split=split, tokens_field=tokens_field)
    if output_dir is not None:
        make_folder(output_dir)
    started, counts = time.perf_counter(), [0, 0]

    def tag_into(sink: Sink, path: str) -> None:
        documents = read_documents(path, input_format.value, reader, loaded.record.tokenization)
        for window in tag_documents(predictor, documents, window=batch_size * WINDOW_BATCHES):
            for doc in window:
                if doc.error is not None and (strict or not written.error_records):
                    raise NerError(doc.error, path=path, line=doc.line)
                counts[0] += 1
                counts[1] += sum(len(s) for s in doc.sentences)
                sink.put(doc)
            sink.flush()

    if fmt == "brat":
        with BratFolder(output_dir) as folder:
            for path in paths:
                folder.open_document(Path(path).stem)
                tag_into(Sink(fmt, folder), path)
            folder.close()
    elif output_dir is not None:
        for path in paths:
            with output_stream(output_dir / (Path(path).stem + written.suffix)) as out:
                sink = Sink(fmt, out, with_tags, styles)
                tag_into(sink, path)
                sink.close()
    else:
        with output_stream(output) as out:
            if fmt == "pretty" and out is sys.stdout:
                legend = Text("entities: ")
                for label, style in styles.items():
                    legend.append(f" {label} ", style=f"{style} reverse")
                    legend.append(" ")
                console.print(legend)
            sink = Sink(fmt, out, with_tags, styles)
            for path in paths:
                if len(paths) > 1:
                    sink.section(path)
                tag_into(sink, path)
            sink.close()
    if verbose:
        seconds = time.perf_counter() - started
        err_console.print(f"{counts[0]:,} documents, {counts[1]:,} tokens in {seconds:.2f} s "
                          f"({counts[1] / max(seconds, 1e-9):,.0f} tokens/s)")
