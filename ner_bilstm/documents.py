"""A tagged document and how it is written: its entities with character offsets, the JSON record
`predict` writes (and the Python API returns), CoNLL lines and display spans.

A document is one unit of input that gets one unit of output: a text, a token list, a JSON line,
a CoNLL sentence. Long sentences are tagged in pieces of at most ``MAX_SENTENCE_TOKENS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .inference import Prediction, Predictor
from .io.annotations import Unit
from .io.conll import conll_lines, file_columns
from .io.spans import CharSpan, locate, unit_text
from .io.strict_json import dumps
from .io.text import split_sentences
from .sentence import Sentence

MAX_SENTENCE_TOKENS = 256  # longer sentences of raw text or JSON lines are tagged in pieces


@dataclass(frozen=True)
class Entity:
    """An entity of a document: its ``text``, ``label``, character offsets ``start:end`` into the
    document's text (None for a token list), token offsets ``token_start:token_end`` into the
    document's tokens (both end-exclusive), and ``score``, the model's probability of exactly this span."""

    text: str
    label: str
    start: int | None
    end: int | None
    token_start: int
    token_end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        """As in predict's JSON records (no ``start``/``end`` without a text)."""
        out: dict[str, Any] = {"text": self.text, "label": self.label}
        if self.start is not None:
            out.update(start=self.start, end=self.end)
        out.update(token_start=self.token_start, token_end=self.token_end, score=self.score)
        return out


@dataclass
class Document:
    """One input unit and, once tagged, its predictions (one per sentence piece). ``fields`` are a
    JSON line's keys, passed through to the output; ``error`` marks an input that could not be read."""

    line: int = 0
    sentences: list[Sentence] = field(default_factory=list)
    text: str | None = None
    fields: dict[str, Any] | None = None
    error: str | None = None
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        return [t for s in self.sentences for t in s.tokens]

    @property
    def entities(self) -> list[Entity]:
        """Entities with document-level token offsets and, when there is text, character offsets."""
        out: list[Entity] = []
        base = 0
        for sentence, pred in zip(self.sentences, self.predictions):
            for e in pred.entities:
                start = end = None
                if sentence.offsets is not None and sentence.text is not None:
                    start, end = sentence.offsets[e.token_start][0], sentence.offsets[e.token_end - 1][1]
                    text = sentence.text[start:end]
                else:
                    text = " ".join(sentence.tokens[e.token_start : e.token_end])
                out.append(Entity(text, e.label, start, end, base + e.token_start, base + e.token_end, e.score))
            base += len(sentence.tokens)
        return out

    def to_dict(self, with_tags: bool = False) -> dict[str, Any]:
        """The JSON object `predict` writes: pass-through fields plus entities (``with_tags``: and
        tokens and tags), or an error record (``error`` and ``line`` first, then the fields that
        could be read)."""
        if self.error is not None:
            fields = {k: v for k, v in (self.fields or {}).items() if k not in ("error", "line")}
            return {"error": self.error, "line": self.line, **fields}
        if self.fields is not None:
            record: dict[str, Any] = dict(self.fields)
        elif self.text is not None:
            record = {"text": self.text}
        else:
            record = {"tokens": self.tokens}
        record["entities"] = [e.to_dict() for e in self.entities]
        if with_tags:
            record["tokens"] = self.tokens
            record["tags"] = [t for p in self.predictions for t in p.tags]
        if any(p.alternatives for p in self.predictions):
            record["nbest"] = [[{"tags": tags, "probability": prob} for tags, prob in p.alternatives] for p in self.predictions]
        return record


def _pieces(sentences: Sequence[Sentence]) -> list[Sentence]:
    return [piece for s in sentences for piece in s.chunks(MAX_SENTENCE_TOKENS)]


def text_document(text: str, tokenization: str = "word", line: int = 0, fields: dict[str, Any] | None = None) -> Document:
    """A raw text as a document: split into sentences and tokens (by characters for a
    character-level model) with exact character offsets."""
    return Document(line, _pieces(split_sentences(text, tokenization=tokenization)), text=text, fields=fields)


def tokens_document(tokens: list[str], line: int = 0, fields: dict[str, Any] | None = None) -> Document:
    """A token list (already checked: non-empty tokens without whitespace) as a document."""
    return Document(line, _pieces([Sentence(tokens=tokens)]) if tokens else [], fields=fields)


def conll_document(doc: Document) -> tuple | None:
    """The -DOCSTART- block a document (a CoNLL sentence) belongs to, as (file, index); None for
    any other document."""
    meta = doc.sentences[0].meta if doc.sentences else {}
    return (meta.get("source"), meta["document"]) if "document" in meta else None


def predict_documents(predictor: Predictor, documents: Sequence[Document]) -> None:
    """Fill in every document's ``predictions``, all sentences in one call (batched by length).
    A document memory links mentions within a document, or within a -DOCSTART- block of CoNLL
    sentences (``conll_document``)."""
    names = [conll_document(d) or ("unit", k) for k, d in enumerate(documents) for _ in d.sentences]
    predictions = iter(predictor.predict([s for d in documents for s in d.sentences], names))
    for doc in documents:
        doc.predictions = [next(predictions) for _ in doc.sentences]


def record_line(doc: Document, with_tags: bool = False) -> str:
    """The document's record as one line of strict JSON (no NaN, valid UTF-8, pass-through numbers
    digit for digit). A record that cannot be written so becomes an error record."""
    try:
        return dumps(doc.to_dict(with_tags))
    except ValueError as e:
        return dumps(Document(doc.line, error=f"the result cannot be written as strict JSON: it holds {e}").to_dict())


def display_spans(doc: Document) -> tuple[str, list[CharSpan]]:
    """The document's text (tokens joined by spaces when it has none) and its entities as
    scored character spans into that text."""
    entities = doc.entities
    if doc.text is not None:
        return doc.text, [CharSpan(e.start, e.end, e.label, e.score) for e in entities]  # type: ignore[arg-type]
    tokens = doc.tokens
    starts, pos = [], 0
    for token in tokens:
        starts.append(pos)
        pos += len(token) + 1
    return " ".join(tokens), [CharSpan(starts[e.token_start], starts[e.token_end - 1] + len(tokens[e.token_end - 1]), e.label, e.score)
                              for e in entities]


def document_unit(doc: Document) -> Unit:
    """The tagged document as an annotation-format unit: its text (tokens joined by spaces when it
    has none), token offsets, entities as scored character spans, and its JSON line's keys."""
    given = (doc.fields or {}).get("text")
    if doc.text is not None:
        text, offsets = doc.text, [o for s in doc.sentences for o in (s.offsets or [])]
    elif isinstance(given, str) and _tokens_of(given, doc.tokens):  # a JSON line with tokens and their text
        text, offsets = given, locate(given, doc.tokens)
    else:
        text, offsets = unit_text(Sentence(tokens=doc.tokens))
    spans = [CharSpan(offsets[e.token_start][0], offsets[e.token_end - 1][1], e.label, e.score) for e in doc.entities]
    return Unit(text, offsets, spans, doc.fields)


def _tokens_of(text: str, tokens: list[str]) -> bool:
    try:
        locate(text, tokens)
    except ValueError:
        return False
    return True


def document_conll_lines(doc: Document) -> Iterator[str]:
    """CoNLL output of a document: its columns (or tokens) plus the predicted tag; a blank line after each sentence."""
    for sentence, pred in zip(doc.sentences, doc.predictions):
        rows = [[*cols, tag] for cols, tag in zip(file_columns(sentence, with_tags=False), pred.tags)]
        yield from conll_lines(rows, sentence.meta.get("comments", []))
