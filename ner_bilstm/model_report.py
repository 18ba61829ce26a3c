"""What `ner-bilstm report` shows about a model, gathered as one typed record: its description,
training history and scores, and, given labelled data, how its entities go wrong there.
``pages.report`` renders the record as HTML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .artifact import ModelDescription, TrainingMetrics, describe_model, load_model, read_history, read_metrics
from .errors import NerError
from .evaluation import Scores, score_tagged, tag_source
from .events import EpochRecord
from .inference import Prediction
from .io import ReaderOptions, ReadReport
from .io.spans import CharSpan, unit_text
from .schemes import Span, tags_to_spans
from .sentence import Sentence
from .span_errors import ErrorAnalysis, SentenceErrors, analyse


@dataclass(frozen=True)
class WorstSentence:
    """A sentence with errors, ready to show: its source ``line`` (when known), its text (tokens
    joined by spaces when it has none), gold and predicted entities as character spans (the
    predicted ones with their probabilities) and how they paired."""

    line: int | None
    text: str
    gold: list[CharSpan]
    predicted: list[CharSpan]
    errors: SentenceErrors


@dataclass
class SourceAnalysis:
    """A labelled source tagged by the model: its scores (as `evaluate` gives them), its span
    errors and its worst sentences; ``read_note`` says what reading it changed."""

    source: str
    scores: Scores
    analysis: ErrorAnalysis
    worst: list[WorstSentence]
    read_note: str = ""


@dataclass
class ModelReport:
    """Everything the report page shows about the model directory ``directory``."""

    directory: str
    description: ModelDescription
    history: list[EpochRecord]
    metrics: TrainingMetrics | None
    source: SourceAnalysis | None = None


def build_report(
    directory: str | Path,
    source: str | None = None,
    *,
    reader: ReaderOptions | None = None,
    batch_size: int = 256,
    device: str = "cpu",
    worst: int = 50,
) -> ModelReport:
    """Read a model directory's record, history and metrics; with a labelled ``source``, tag it and
    analyse the span errors (the ``worst`` sentences kept). Refused with a NerError like
    ``load_model`` when the directory is damaged."""
    if not isinstance(worst, int) or isinstance(worst, bool) or worst < 0:
        raise NerError(f"worst must be an integer of at least 0, not {worst!r}")
    loaded = load_model(directory, device=device if source is not None else "cpu")  # once: described, and tagging
    report = ModelReport(str(directory), describe_model(directory, loaded), read_history(directory), read_metrics(directory))
    if source is not None:
        read = ReadReport()
        sentences, predicted = tag_source(loaded, source, reader=reader, batch_size=batch_size, report=read)
        scores = score_tagged(sentences, predicted)
        analysis = analyse((tags_to_spans(s.tags) for s in sentences), (p.spans for p in predicted), worst)
        separator = "" if loaded.record.tokenization == "char" else " "  # characters of Chinese text join without spaces
        shown = [_worst_sentence(sentences[e.index], predicted[e.index], e, separator) for e in analysis.worst]
        report.source = SourceAnalysis(source, scores, analysis, shown, read.summary() or "")
    return report


def _worst_sentence(sentence: Sentence, prediction: Prediction, errors: SentenceErrors, separator: str) -> WorstSentence:
    text, offsets = unit_text(sentence, separator)

    def chars(span: Span, score: float | None = None) -> CharSpan:
        return CharSpan(offsets[span.start][0], offsets[span.end - 1][1], span.label, score)

    return WorstSentence(sentence.meta.get("line"), text, [chars(s) for s in errors.gold],
                         [chars(Span(e.token_start, e.token_end, e.label), e.score) for e in prediction.entities], errors)
