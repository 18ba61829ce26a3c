"""What a labelled data source holds: sizes, entities per type, tag scheme, scheme violations."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .schemes import detect_scheme, parse_tag, spans_to_tags, tags_to_spans
from .sentence import Sentence


@dataclass(frozen=True)
class SourceStatistics:
    """What ``info`` says of a labelled source; ``to_dict`` is its JSON. ``documents`` is None when
    the source marks none, ``scheme`` None without tags."""

    sentences: int
    documents: int | None
    tokens: int
    distinct_tokens: int
    single_character_tokens: float  # a share of the tokens, 0 to 1
    max_length: int
    mean_length: float
    scheme: str | None
    entities: int
    entities_per_type: dict[str, int]
    tags: dict[str, int]
    invalid_tags: int
    sentences_with_invalid_tags: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def source_statistics(sentences: Iterable[Sentence]) -> SourceStatistics:
    """Counts over ``sentences`` (one pass; tags optional).

    ``invalid_tags`` counts tags that differ from how the detected scheme writes the same
    entities (for example an ``I-`` that starts an entity in IOB2, or an ``M-`` after ``O`` in
    BMES); such tags are repaired when training.
    """
    sentences = list(sentences)
    entities: Counter = Counter()
    tags: Counter = Counter()
    words: Counter = Counter()
    lengths = [len(s) for s in sentences]
    labelled = [s.tags for s in sentences if s.tags is not None]
    scheme = detect_scheme(labelled) if labelled else None
    invalid, invalid_sentences = 0, 0
    for s in sentences:
        words.update(s.tokens)
        if s.tags is None:
            continue
        tags.update(s.tags)
        spans = tags_to_spans(s.tags)
        entities.update(span.label for span in spans)
        canonical = spans_to_tags(spans, len(s.tags), scheme)
        bad = sum(a != b for a, b in zip(s.tags, canonical))
        invalid += bad
        invalid_sentences += bad > 0
    tokens = sum(lengths)
    documents = {s.meta["document"] for s in sentences if "document" in s.meta}
    return SourceStatistics(
        sentences=len(sentences),
        documents=len(documents) or None,
        tokens=tokens,
        distinct_tokens=len(words),
        single_character_tokens=round(sum(c for w, c in words.items() if len(w) == 1) / max(tokens, 1), 4),
        max_length=max(lengths, default=0),
        mean_length=round(tokens / max(len(sentences), 1), 2),
        scheme=scheme,
        entities=sum(entities.values()),
        entities_per_type=dict(sorted(entities.items())),
        tags=dict(sorted(tags.items(), key=lambda kv: (parse_tag(kv[0])[1], kv[0]))),
        invalid_tags=invalid,
        sentences_with_invalid_tags=invalid_sentences,
    )
