"""Entity-level scores with seqeval, in the gold data's own tag scheme."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NerError
from .io import ReaderOptions, ReadReport, conll_lines, read_source
from .io.files import atomic_write
from .schemes import Span, convert, detect_scheme, spans_to_tags

if TYPE_CHECKING:
    from .artifact import LoadedModel
    from .inference import Prediction
    from .sentence import Sentence

SEQEVAL_MODE = "seqeval default mode (conlleval-compatible, lenient chunking)"


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 in percent, over ``support`` gold entities."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """Entity-level scores: ``micro`` over all types and one ``Score`` per type, in the gold data's
    ``scheme``; ``sentences`` and ``tokens`` scored, when known. ``to_dict`` is the JSON `evaluate` writes."""

    micro: Score
    types: dict[str, Score]
    scheme: str
    mode: str = SEQEVAL_MODE
    sentences: int | None = None
    tokens: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        return cls(Score(**d["micro"]), {k: Score(**v) for k, v in d["types"].items()}, d["scheme"], d["mode"],
                   d.get("sentences"), d.get("tokens"))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: v for k, v in out.items() if v is not None}


def _seqeval_scheme(scheme: str) -> str:
    # seqeval reads B/I/E/S prefixes; BMES and BILOU are written as BIOES (same spans).
    return "bioes" if scheme in ("bmes", "bilou") else scheme


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[Span]]) -> dict:
    """Micro and per-type precision/recall/F1 (percent) of predicted spans against gold tags.

    Predictions are written in the scheme detected on ``gold``, so seqeval decodes both the
    same way the data's own scheme does. Returns ``{"micro": {...}, "types": {TYPE: {...}},
    "scheme": ..., "mode": ...}``; each score dict has precision, recall, f1, support.
    """
    from seqeval.metrics import classification_report  # imported here: it pulls in scikit-learn (~0.7 s)

    scheme = _seqeval_scheme(detect_scheme(gold))
    gold_tags = [convert(g, scheme) if scheme == "bioes" else list(g) for g in gold]
    pred_tags = [spans_to_tags(p, len(g), scheme) for p, g in zip(predicted, gold)]
    report = classification_report(gold_tags, pred_tags, output_dict=True, zero_division=0)

    def pick(d: dict) -> dict:
        return {
            "precision": round(100 * float(d["precision"]), 2),
            "recall": round(100 * float(d["recall"]), 2),
            "f1": round(100 * float(d["f1-score"]), 2),
            "support": int(d["support"]),
        }

    types = {k: pick(v) for k, v in sorted(report.items()) if not k.endswith(" avg")}
    micro = pick(report["micro avg"]) if "micro avg" in report else pick({"precision": 0, "recall": 0, "f1-score": 0, "support": 0})
    return {"micro": micro, "types": types, "scheme": detect_scheme(gold), "mode": SEQEVAL_MODE}


def tag_source(
    loaded: LoadedModel,
    source: str,
    *,
    reader: ReaderOptions | None = None,
    batch_size: int = 256,
    report: ReadReport | None = None,
) -> tuple[list[Sentence], list[Prediction]]:
    """The labelled ``source`` (read with ``reader``) and a loaded model's predictions for it. Entity
    types are renamed or dropped, and annotation-tool texts tokenised, as the model's training data
    were (its label map and tokenisation), where ``reader`` leaves them at their defaults;
    ``report`` counts what reading changed."""
    from .inference import Predictor

    reader = reader or ReaderOptions()
    trained = loaded.record.training
    if not reader.label_map and trained.get("label_map"):
        reader = dataclasses.replace(reader, label_map=trained["label_map"])
    if reader.tokenize == ReaderOptions.tokenize and trained.get("tokenize", ReaderOptions.tokenize) != ReaderOptions.tokenize:
        reader = dataclasses.replace(reader, tokenize=trained["tokenize"])
    sentences = list(read_source(source, reader, report=report))
    if not sentences:
        raise NerError("no sentences to evaluate", path=source)
    return sentences, Predictor(loaded, batch_size).predict(sentences)


def score_tagged(sentences: Sequence[Sentence], predicted: Sequence[Prediction]) -> dict:
    """``entity_scores`` of predictions against the sentences' gold tags, with the counts of
    sentences and tokens scored."""
    scores = entity_scores([s.tags for s in sentences], [p.spans for p in predicted])
    scores.update(sentences=len(sentences), tokens=sum(len(s) for s in sentences))
    return scores


def evaluate_model(
    loaded: LoadedModel,
    source: str,
    *,
    predictions_path: str | Path | None = None,
    reader: ReaderOptions | None = None,
    batch_size: int = 256,
    report: ReadReport | None = None,
) -> dict:
    """Tag the labelled ``source`` with a loaded model (``tag_source``) and score it; optionally
    write ``token gold predicted`` CoNLL lines (predictions in the data's scheme) to ``predictions_path``."""
    sentences, predicted = tag_source(loaded, source, reader=reader, batch_size=batch_size, report=report)
    scores = score_tagged(sentences, predicted)
    if predictions_path is not None:
        scheme = scores["scheme"]

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                for s, p in zip(sentences, predicted):
                    rows = zip(s.tokens, s.tags, spans_to_tags(p.spans, len(s), scheme))
                    f.writelines(line + "\n" for line in conll_lines(rows))

        atomic_write(predictions_path, write)
    return scores
