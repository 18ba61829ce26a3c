"""Where a tagger goes wrong, span by span: gold and predicted entities paired, a type-confusion
matrix with missed and spurious entities, and boundary errors counted apart from type errors.

Pairing, per sentence (both sides are flat, so each span overlaps few others):
1. spans with the same boundaries pair (a correct entity, or a type error when the types differ);
2. of the rest, as many overlapping spans as possible pair (a maximum matching; larger overlaps
   are tried first): a boundary error, or a boundary and type error;
3. a gold span left unpaired was missed; a predicted one left unpaired is spurious. An unpaired
   span may still overlap another: one prediction over two gold entities pairs with one of them.
Every gold and every predicted span lands in exactly one of these counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .schemes import Span


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

    def kinds(self) -> dict[str, int]:
        """How many errors of each kind: type, boundary, boundary and type, missed, spurious."""
        return {"type": len(self.exact) - self.correct, "boundary": sum(g.label == p.label for g, p in self.overlapping),
                "boundary and type": sum(g.label != p.label for g, p in self.overlapping), "missed": len(self.missed),
                "spurious": len(self.spurious)}

    @property
    def errors(self) -> int:
        return sum(self.kinds().values())


def _overlap(a: Span, b: Span) -> int:
    return min(a.end, b.end) - max(a.start, b.start)


def _max_matching(gold: list[Span], predicted: list[Span]) -> list[tuple[Span, Span]]:
    """A maximum matching of overlapping spans (augmenting paths; each span's candidates tried
    largest overlap first), as (gold, predicted) pairs in gold order."""
    candidates = {g: sorted((p for p in predicted if _overlap(g, p) > 0), key=lambda p: (-_overlap(g, p), p.start)) for g in gold}
    owner: dict[Span, Span] = {}  # predicted -> gold

    def augment(g: Span, seen: set[Span]) -> bool:
        for p in candidates[g]:
            if p not in seen:
                seen.add(p)
                if p not in owner or augment(owner[p], seen):
                    owner[p] = g
                    return True
        return False

    for g in gold:
        augment(g, set())
    return sorted(((g, p) for p, g in owner.items()), key=lambda pair: pair[0].start)


def pair_spans(gold: Sequence[Span], predicted: Sequence[Span], index: int = 0) -> SentenceErrors:
    """Pair one sentence's gold and predicted spans (see the module's rules)."""
    by_bounds = {(p.start, p.end): p for p in predicted}
    exact = [(g, by_bounds[(g.start, g.end)]) for g in gold if (g.start, g.end) in by_bounds]
    paired_gold = {g for g, _ in exact}
    paired_pred = {p for _, p in exact}
    overlapping = _max_matching([g for g in gold if g not in paired_gold], [p for p in predicted if p not in paired_pred])
    paired_gold.update(g for g, _ in overlapping)
    paired_pred.update(p for _, p in overlapping)
    return SentenceErrors(index, list(gold), list(predicted), exact, overlapping,
                          [g for g in gold if g not in paired_gold], [p for p in predicted if p not in paired_pred])


@dataclass
class SpanErrors:
    """Counts over a corpus: ``confusion[(gold, predicted)]`` counts pairs with the same boundaries
    (the diagonal is the correct entities), ``boundary[(gold, predicted)]`` overlapping pairs whose
    boundaries differ, ``missed[gold]`` and ``spurious[predicted]`` the unpaired spans by type.
    ``types`` is the order of rows and columns."""

    types: list[str]
    confusion: Counter = field(default_factory=Counter)
    boundary: Counter = field(default_factory=Counter)
    missed: Counter = field(default_factory=Counter)
    spurious: Counter = field(default_factory=Counter)
    gold: int = 0
    predicted: int = 0

    def add(self, sentence: SentenceErrors) -> None:
        self.gold += len(sentence.gold)
        self.predicted += len(sentence.predicted)
        self.confusion.update((g.label, p.label) for g, p in sentence.exact)
        self.boundary.update((g.label, p.label) for g, p in sentence.overlapping)
        self.missed.update(g.label for g in sentence.missed)
        self.spurious.update(p.label for p in sentence.spurious)

    @property
    def correct(self) -> int:
        return sum(n for (g, p), n in self.confusion.items() if g == p)

    @property
    def type_errors(self) -> int:
        """Right boundaries, wrong type."""
        return sum(n for (g, p), n in self.confusion.items() if g != p)

    @property
    def boundary_errors(self) -> int:
        """Right type, wrong boundaries."""
        return sum(n for (g, p), n in self.boundary.items() if g == p)

    @property
    def boundary_type_errors(self) -> int:
        """Wrong boundaries and wrong type."""
        return sum(n for (g, p), n in self.boundary.items() if g != p)

    @property
    def missed_total(self) -> int:
        return sum(self.missed.values())

    @property
    def spurious_total(self) -> int:
        return sum(self.spurious.values())


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
