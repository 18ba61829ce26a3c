"""Entity-level scores with seqeval, in the gold data's own tag scheme."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NerError
from .io import ReaderOptions, ReadReport, conll_lines, read_source
from .io.files import atomic_write, refuse_overwrite
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

    def unknown(self, types: Sequence[str]) -> dict[str, int]:
        """Gold entities per type outside ``types`` (a model's): it can never predict them, so
        they count as misses."""
        return {t: s.support for t, s in self.types.items() if t not in types and s.support}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: v for k, v in out.items() if v is not None}


def _seqeval_scheme(scheme: str) -> str:
    # seqeval reads B/I/E/S prefixes; BMES and BILOU are written as BIOES (same spans).
    return "bioes" if scheme in ("bmes", "bilou") else scheme


def _chunks(tags: list[str]) -> set[tuple[str, int, int]]:
    """One sentence's entities as seqeval's default (conlleval) mode reads them: (type, first, last)."""
    from seqeval.metrics.sequence_labeling import get_entities  # seqeval pulls in scikit-learn (~0.7 s)

    return set(get_entities(tags))


@dataclass(frozen=True)
class EntityCounts:
    """seqeval's sufficient statistics: per entity type, how many entities were correct, predicted
    and gold. Counts of disjoint sets of sentences add up, so processes can each score a shard."""

    by_type: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def __add__(self, other: EntityCounts) -> EntityCounts:
        both = {**self.by_type}
        for t, c in other.by_type.items():
            both[t] = tuple(a + b for a, b in zip(both.get(t, (0, 0, 0)), c))  # type: ignore[assignment]
        return EntityCounts(both)

    def scores(self, scheme: str) -> Scores:
        """The scores seqeval's ``classification_report`` gives for these counts (same float
        operations); ``scheme`` is the gold data's."""
        def score(correct: int, predicted: int, gold: int) -> Score:
            precision = correct / predicted if predicted else 0.0
            recall = correct / gold if gold else 0.0
            f1 = 2.0 * precision * recall / (precision + recall) if precision + recall else 0.0
            return Score(round(100 * precision, 2), round(100 * recall, 2), round(100 * f1, 2), gold)

        total = [sum(c[k] for c in self.by_type.values()) for k in range(3)]
        return Scores(score(*total), {t: score(*c) for t, c in sorted(self.by_type.items())}, scheme)


class EntityScorer:
    """Scores predicted spans against fixed gold tags, sentence by sentence: the gold entities are
    read once, so scoring dev after every epoch reads only the predictions. Predictions are written
    in the scheme detected on the gold tags, so seqeval decodes both the way the data's scheme does."""

    def __init__(self, gold: Sequence[Sequence[str]]):
        self.lengths = [len(g) for g in gold]
        self.scheme = detect_scheme(gold)
        self.written = _seqeval_scheme(self.scheme)
        self.gold = [_chunks(convert(g, self.written) if self.written == "bioes" else list(g)) for g in gold]

    def counts(self, indices: Sequence[int], predicted: Sequence[Sequence[Span]]) -> EntityCounts:
        """The counts over gold sentences ``indices``, whose predictions are ``predicted`` (in that order)."""
        found: dict[str, list[int]] = {}
        for i, spans in zip(indices, predicted, strict=True):
            gold, guess = self.gold[i], _chunks(spans_to_tags(spans, self.lengths[i], self.written))
            for chunk in gold | guess:
                c = found.setdefault(chunk[0], [0, 0, 0])
                c[0] += chunk in gold and chunk in guess
                c[1] += chunk in guess
                c[2] += chunk in gold
        return EntityCounts({t: (c[0], c[1], c[2]) for t, c in found.items()})


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[Span]]) -> Scores:
    """Micro and per-type precision/recall/F1 (percent) of predicted spans against gold tags, as
    seqeval's default mode computes them (``EntityScorer``)."""
    scorer = EntityScorer(gold)
    return scorer.counts(range(len(gold)), predicted).scores(scorer.scheme)


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


def score_tagged(sentences: Sequence[Sentence], predicted: Sequence[Prediction]) -> Scores:
    """``entity_scores`` of predictions against the sentences' gold tags, with the counts of
    sentences and tokens scored."""
    scores = entity_scores([s.tags for s in sentences], [p.spans for p in predicted])
    return dataclasses.replace(scores, sentences=len(sentences), tokens=sum(len(s) for s in sentences))


def evaluate_model(
    loaded: LoadedModel,
    source: str,
    *,
    predictions_path: str | Path | None = None,
    reader: ReaderOptions | None = None,
    batch_size: int = 256,
    report: ReadReport | None = None,
) -> Scores:
    """Tag the labelled ``source`` with a loaded model (``tag_source``) and score it; optionally
    write ``token gold predicted`` CoNLL lines (predictions in the data's scheme) to ``predictions_path``."""
    refuse_overwrite(predictions_path, [source])
    sentences, predicted = tag_source(loaded, source, reader=reader, batch_size=batch_size, report=report)
    scores = score_tagged(sentences, predicted)
    if predictions_path is not None:
        scheme = scores.scheme

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                for s, p in zip(sentences, predicted):
                    rows = zip(s.tokens, s.tags, spans_to_tags(p.spans, len(s), scheme))
                    f.writelines(line + "\n" for line in conll_lines(rows))

        atomic_write(predictions_path, write)
    return scores
