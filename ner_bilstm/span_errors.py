"""Where a tagger goes wrong, span by span: gold and predicted entities paired, a type-confusion
matrix with missed and spurious entities, and boundary errors counted apart from type errors.

Pairing, per sentence (both sides are flat, so each span overlaps few others):
1. spans with the same boundaries pair (a correct entity, or a type error when the types differ);
2. of the rest, overlapping spans pair, largest overlap first (a boundary error, or a boundary
   and type error);
3. a gold span left unpaired was missed; a predicted one left unpaired is spurious.
Every gold and every predicted span lands in exactly one of these counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .schemes import Span

MISSED, SPURIOUS = "missed", "spurious"


@dataclass(frozen=True)
class SentenceErrors:
    """One sentence's spans and how they paired. ``index`` is its position in the source;
    ``exact`` and ``overlapping`` hold (gold, predicted) pairs; errors are everything but the
    exact pairs of one type, each pair or unpaired span counted once."""

    index: int
    gold: list[Span]
    predicted: list[Span]
    exact: list[tuple[Span, Span]]
    overlapping: list[tuple[Span, Span]]
    missed: list[Span]
    spurious: list[Span]

    @property
    def correct(self) -> int:
        return sum(g.label == p.label for g, p in self.exact)

    @property
    def errors(self) -> int:
        return len(self.exact) - self.correct + len(self.overlapping) + len(self.missed) + len(self.spurious)


def pair_spans(gold: Sequence[Span], predicted: Sequence[Span], index: int = 0) -> SentenceErrors:
    """Pair one sentence's gold and predicted spans (see the module's rules)."""
    by_bounds = {(p.start, p.end): p for p in predicted}
    exact = [(g, by_bounds[(g.start, g.end)]) for g in gold if (g.start, g.end) in by_bounds]
    paired_gold = {g for g, _ in exact}
    paired_pred = {p for _, p in exact}
    candidates = sorted(
        ((min(g.end, p.end) - max(g.start, p.start), g, p)
         for g in gold if g not in paired_gold for p in predicted if p not in paired_pred
         if min(g.end, p.end) > max(g.start, p.start)),
        key=lambda c: (-c[0], c[1].start, c[2].start),
    )
    overlapping = []
    for _, g, p in candidates:
        if g not in paired_gold and p not in paired_pred:
            overlapping.append((g, p))
            paired_gold.add(g)
            paired_pred.add(p)
    overlapping.sort(key=lambda pair: pair[0].start)
    return SentenceErrors(index, list(gold), list(predicted), exact, overlapping,
                          [g for g in gold if g not in paired_gold], [p for p in predicted if p not in paired_pred])


@dataclass
class SpanErrors:
    """Counts over a corpus. ``confusion[(gold, predicted)]`` counts spans with the same boundaries,
    with ``(gold, MISSED)`` and ``(SPURIOUS, predicted)`` for the unpaired; ``boundary[(gold,
    predicted)]`` counts overlapping pairs whose boundaries differ. ``types`` is the row order."""

    types: list[str]
    confusion: Counter = field(default_factory=Counter)
    boundary: Counter = field(default_factory=Counter)
    gold: int = 0
    predicted: int = 0

    def add(self, sentence: SentenceErrors) -> None:
        self.gold += len(sentence.gold)
        self.predicted += len(sentence.predicted)
        self.confusion.update((g.label, p.label) for g, p in sentence.exact)
        self.boundary.update((g.label, p.label) for g, p in sentence.overlapping)
        self.confusion.update((g.label, MISSED) for g in sentence.missed)
        self.confusion.update((SPURIOUS, p.label) for p in sentence.spurious)

    @property
    def correct(self) -> int:
        return sum(n for (g, p), n in self.confusion.items() if g == p)

    @property
    def type_errors(self) -> int:
        """Right boundaries, wrong type."""
        return sum(n for (g, p), n in self.confusion.items() if g != p and MISSED != p and g != SPURIOUS)

    @property
    def boundary_errors(self) -> int:
        """Right type, wrong boundaries."""
        return sum(n for (g, p), n in self.boundary.items() if g == p)

    @property
    def boundary_type_errors(self) -> int:
        """Wrong boundaries and wrong type."""
        return sum(n for (g, p), n in self.boundary.items() if g != p)

    @property
    def missed(self) -> int:
        return sum(n for (_, p), n in self.confusion.items() if p == MISSED)

    @property
    def spurious(self) -> int:
        return sum(n for (g, _), n in self.confusion.items() if g == SPURIOUS)

    def rows(self) -> list[str]:
        """Gold types, then SPURIOUS: the confusion matrix's rows."""
        return [*self.types, SPURIOUS]

    def columns(self) -> list[str]:
        """Predicted types, then MISSED: the confusion matrix's columns."""
        return [*self.types, MISSED]


@dataclass
class ErrorAnalysis:
    """A corpus's span errors and its worst sentences (most errors first, then source order)."""

    errors: SpanErrors
    worst: list[SentenceErrors]
    sentences: int


def analyse(gold: Iterable[Sequence[Span]], predicted: Iterable[Sequence[Span]], worst: int = 50) -> ErrorAnalysis:
    """Pair every sentence's gold and predicted spans (parallel iterables) and count the errors;
    keeps the ``worst`` sentences with at least one error."""
    pairs = [pair_spans(g, p, i) for i, (g, p) in enumerate(zip(gold, predicted, strict=True))]
    types = sorted({s.label for pair in pairs for s in (*pair.gold, *pair.predicted)})
    errors = SpanErrors(types)
    for pair in pairs:
        errors.add(pair)
    ranked = sorted((p for p in pairs if p.errors), key=lambda p: (-p.errors, p.index))
    return ErrorAnalysis(errors, ranked[:worst], len(pairs))
