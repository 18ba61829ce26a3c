"""The model report as one self-contained HTML page: Jinja2 fills ``templates/report.html.j2``
(autoescaped, so nothing the model directory or the data hold can become markup) with the
curves as inline SVG and the tables and sentences prepared here."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # Jinja2 (and its markupsafe) come with torch, yet are named in the report extra: we import them ourselves
    import jinja2
    from markupsafe import Markup
except ImportError:  # pragma: no cover
    jinja2 = None
    Markup = str

from ..errors import NerError
from ..evaluation import Scores
from ..model_report import ModelReport, WorstSentence
from ..span_errors import SpanErrors
from .curves import INSTALL, curves_svg
from .marks import CSS, SECURITY, colours, legend, marked_text

TEMPLATES = Path(__file__).parent / "templates"
TOTAL = "all types (micro)"  # the total row of a score table, named so no entity type can take it for its own


@dataclass(frozen=True)
class Cell:
    """A table cell: its text and an optional background (a heat-map shade)."""

    text: str
    shade: str = ""


def score_rows(scores: Scores) -> list[list[str]]:
    """Per-type rows, then the micro row: type, precision, recall, F1, support."""
    rows = [[t, f"{s.precision:.2f}", f"{s.recall:.2f}", f"{s.f1:.2f}", str(s.support)] for t, s in scores.types.items()]
    m = scores.micro
    return [*rows, [TOTAL, f"{m.precision:.2f}", f"{m.recall:.2f}", f"{m.f1:.2f}", str(m.support)]]


def _shade(count: int, largest: int, right: bool) -> str:
    if not count:
        return ""
    alpha = 0.15 + 0.7 * count / max(largest, 1)
    return f"rgba(44, 160, 44, {alpha:.2f})" if right else f"rgba(214, 39, 40, {alpha:.2f})"


def confusion_rows(errors: SpanErrors) -> list[tuple[str, list[Cell]]]:
    """The confusion matrix as (row name, cells): gold types then "spurious" as rows, predicted
    types then "missed" as columns; green on the diagonal, red elsewhere, each shade scaled to
    the largest count of its kind."""
    right = max((errors.confusion[(t, t)] for t in errors.types), default=0)
    wrong = max([n for (g, p), n in errors.confusion.items() if g != p] + [*errors.missed.values(), *errors.spurious.values()],
                default=0)

    def cell(n: int, diagonal: bool = False) -> Cell:
        return Cell(str(n) if n else "·", _shade(n, right if diagonal else wrong, diagonal))

    rows = [(g, [*(cell(errors.confusion[(g, p)], g == p) for p in errors.types), cell(errors.missed[g])]) for g in errors.types]
    rows.append(("spurious", [*(cell(errors.spurious[p]) for p in errors.types), Cell("")]))
    return rows


def boundary_rows(errors: SpanErrors) -> list[tuple[str, list[Cell]]]:
    """Overlapping pairs with other boundaries, gold type × predicted type."""
    largest = max(errors.boundary.values(), default=0)
    return [(g, [Cell(str(errors.boundary[(g, p)]) if errors.boundary[(g, p)] else "·",
                      _shade(errors.boundary[(g, p)], largest, False)) for p in errors.types]) for g in errors.types]


def error_summary(errors: SpanErrors) -> list[tuple[str, int, str]]:
    """Each kind of outcome, its count and what it means."""
    return [
        ("correct", errors.correct, "same boundaries, same type"),
        ("type errors", errors.type_errors, "same boundaries, other type"),
        ("boundary errors", errors.boundary_errors, "overlapping, same type, other boundaries"),
        ("boundary and type errors", errors.boundary_type_errors, "overlapping, other boundaries and type"),
        ("missed", errors.missed_total, "a gold entity no prediction pairs with"),
        ("spurious", errors.spurious_total, "a predicted entity no gold entity pairs with"),
    ]


def _what_went_wrong(sentence: WorstSentence) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sentence.errors.kinds().items() if n)


def worst_view(sentences: list[WorstSentence], palette: dict[str, str]) -> Iterator[dict[str, Any]]:
    for s in sentences:
        yield {"line": s.line, "errors": s.errors.errors, "kinds": _what_went_wrong(s),
               "gold": Markup(marked_text(s.text, s.gold, palette)), "predicted": Markup(marked_text(s.text, s.predicted, palette))}


def card_rows(report: ModelReport) -> dict[str, Any]:
    """The model card: architecture, size, labels, vectors, data, versions and the command line."""
    d = report.description
    r = d.record
    m = r.model
    char = {"cnn": f"CNN ({m.char_filters} filters over {m.char_dim}-d characters)",
            "lstm": f"BiLSTM ({m.char_hidden} per direction over {m.char_dim}-d characters)"}.get(m.char, "none")
    architecture = [
        ("tagging head", m.head.upper() if m.head == "crf" else m.head),
        ("encoder", f"{m.layers} × bidirectional {m.rnn.upper()}, {m.hidden} hidden"
                    + (f", {m.heads}-head attention" if m.attention else "")),
        ("word embeddings", f"{m.word_dim}-d, {d.words:,} words"),
        ("characters", f"{char}, {d.chars:,} characters"),
        ("casing feature", f"{m.casing_dim}-d" if m.casing else "no"),
        ("character bigrams", f"{m.bigram_dim}-d" if m.bigram_dim else "no"),
        ("dropout", f"{m.dropout}"),
        ("parameters", f"{d.parameters:,}"),
        ("entity types", ", ".join(r.entity_types)),
        ("tag schemes", f"data {r.input_scheme.upper()}, trained as {r.train_scheme.upper()}"),
        ("tokenisation", r.tokenization),
    ]
    vectors = None
    if r.embeddings is not None:
        v = r.embeddings.to_dict()
        vectors = [(k.replace("_", " "), str(val)) for k, val in v.items() if val is not None]
    data = [(role, f.get("path", ""), f.get("sha256", f.get("fingerprint", "")), f.get("documents", "")) for role, f in r.data.items()]
    command = shlex.join(r.command) if r.command else None
    return {"architecture": architecture, "vectors": vectors, "data": data, "versions": sorted(r.versions.items()),
            "command": command, "created": r.created, "training": sorted((k, repr(v) if isinstance(v, str) else str(v))
                                                                     for k, v in r.training.items())}


def render_report(report: ModelReport) -> str:
    """The report page as a string (curves drawn first, so a missing matplotlib fails fast)."""
    curves = Markup(curves_svg(report.history)) if report.history else None
    if jinja2 is None:
        raise NerError(f"the report page is written with Jinja2, which is not installed: {INSTALL}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    d = report.description
    palette = colours(d.record.entity_types)
    source = report.source
    metrics = report.metrics
    tables = []
    if metrics is not None:
        tables.append(("dev", f"dev (best epoch {metrics.best_epoch} of {metrics.epochs_run})", score_rows(metrics.dev)))
        if metrics.test is not None:
            tables.append(("test", "test (the best epoch's model)", score_rows(metrics.test)))
    if source is not None:
        tables.append(("source", f"{source.source} (tagged for this report)", score_rows(source.scores)))
    errors = source.analysis.errors if source is not None else None
    return env.get_template("report.html.j2").render(
        css=Markup(CSS), security=Markup(SECURITY), directory=report.directory, description=d, metrics=metrics,
        history=report.history, curves=curves, tables=tables, source=source, legend=Markup(legend(palette)),
        errors=errors, summary=error_summary(errors) if errors else None,
        has_errors=errors is not None and not errors.correct == errors.gold == errors.predicted,
        confusion=confusion_rows(errors) if errors else None, boundary=boundary_rows(errors) if errors else None,
        worst=list(worst_view(source.worst, palette)) if source else None, card=card_rows(report),
    )


def report_path(model: str | Path, source: str | Path | None, output: str | Path | None) -> Path:
    """Where the report goes: ``output``, else MODEL/report.html; refused (NerError) when that is a
    file the report reads, its labelled ``source`` or one of the model's files."""
    from ..artifact import model_files
    from ..io.files import refuse_overwrite

    target = Path(output) if output is not None else Path(model) / "report.html"
    refuse_overwrite(target, [*([source] if source is not None else []), *model_files(model)])
    return target


def write_report(report: ModelReport, target: str | Path) -> Path:
    """Render the report and write it to ``target`` atomically (its folder created); returns the path."""
    from ..io.files import write_bytes

    page = render_report(report)
    try:
        write_bytes(target, page.encode("utf-8"))
    except OSError as e:
        raise NerError(f"cannot write the report: {e.strerror or e}", path=str(target)) from None
    return Path(target)
