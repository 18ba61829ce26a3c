"""Tagging documents from files or stdin: reading input units, predicting in windows, output records.

A document is one unit of input that gets one unit of output: a line of text, a JSON line, or
a CoNLL sentence. Documents are read lazily and tagged a window at a time, so memory stays
bounded however long the input is, and output order equals input order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from .errors import NerError
from .inference import Entity, Prediction, Predictor
from .io import JSONL_SUFFIXES, ReaderOptions
from .io.conll import conll_lines, file_columns, read_conll
from .io.files import check_encoding, decode_line, decode_lines, numbered_raw_lines
from .io.hf import is_hf_source, read_hf
from .io.jsonl import parse_object, token_list
from .io.strict_json import JsonError, dumps
from .io.text import split_sentences
from .sentence import Sentence

INPUT_FORMATS = ("auto", "text", "conll", "jsonl", "hf")
JSON_BLANK = b" \t\r"  # a JSON line holding only JSON's own whitespace is no document; any other line is one
MAX_SENTENCE_TOKENS = 256  # longer sentences of raw text or JSON lines are tagged in pieces


def _pieces(sentences: Iterable[Sentence]) -> list[Sentence]:
    return [piece for s in sentences for piece in s.chunks(MAX_SENTENCE_TOKENS)]


@dataclass
class Document:
    """One input unit. ``fields`` are the JSON object's keys, passed through to the output."""

    line: int
    sentences: list[Sentence] = field(default_factory=list)
    text: str | None = None
    fields: dict[str, Any] | None = None
    error: str | None = None
    predictions: list[Prediction] = field(default_factory=list)


def detect_input_format(path: str, first_line: str | None) -> str:
    """jsonl/conll/text from the file name, else from the first non-blank line."""
    lower = path.lower()
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith((".conll", ".iob", ".bio", ".bioes", ".tsv", ".conllu")):
        return "conll"
    if first_line is None:
        return "text"
    if first_line.lstrip().startswith("{"):
        return "jsonl"
    return "text"


def _jsonl_documents(lines: Iterable[tuple[int, bytes]], encoding: str, tokenization: str) -> Iterator[Document]:
    """One document per non-blank line; a line that cannot be read (bad bytes, bad JSON, a bad
    field) becomes an error document, so the stream goes on. Only JSON's own whitespace makes a
    line blank: a line of other whitespace (U+3000, U+2028, ...) gets its error record too."""
    for lineno, raw in lines:
        if not raw.strip(JSON_BLANK):
            continue
        try:
            obj = parse_object(decode_line(raw, encoding))
        except JsonError as e:
            yield Document(lineno, error=str(e), fields=e.partial)
            continue
        except ValueError as e:
            yield Document(lineno, error=str(e))
            continue
        try:
            if "error" in obj:
                raise ValueError('"error" is reserved for error records in the output; rename that key')
            if "tokens" in obj:
                tokens = token_list(obj)
                sentences = _pieces([Sentence(tokens=tokens)]) if tokens else []
                yield Document(lineno, sentences, fields=obj)
            elif "text" in obj:
                if not isinstance(obj["text"], str):
                    raise ValueError('"text" must be a string')
                yield Document(lineno, _pieces(split_sentences(obj["text"], tokenization=tokenization)), text=obj["text"], fields=obj)
            else:
                raise ValueError('expected a "text" or a "tokens" field')
        except ValueError as e:
            yield Document(lineno, error=str(e), fields=obj)


def read_documents(
    path: str,
    input_format: str = "auto",
    reader: ReaderOptions | None = None,
    tokenization: str = "word",
) -> Iterator[Document]:
    """Stream documents from ``path`` (``-`` for stdin) in ``input_format``, read with ``reader``
    (the encoding; a datasets source's split and tokens column). Raw text is tokenised by words,
    or by characters for a character-level model (``tokenization``).

    JSON lines never end the stream: each bad line becomes an error document. Text and CoNLL
    input in the wrong encoding is refused at its first bad line (NerError).
    """
    reader = reader or ReaderOptions()
    encoding = reader.encoding
    if input_format not in INPUT_FORMATS:
        raise NerError(f"unknown input format {input_format!r}; choose one of {', '.join(INPUT_FORMATS)}")
    if input_format in ("auto", "hf") and path != "-" and is_hf_source(path):
        for sentence in read_hf(path, split=reader.split, tokens_field=reader.tokens_field, require_tags=False):
            yield Document(sentence.meta["line"], [sentence], fields={"tokens": sentence.tokens})
        return
    if input_format == "conll":
        for sentence in read_conll(path, encoding=encoding, require_tags=False):
            yield Document(sentence.meta["line"], [sentence])
        return
    check_encoding(encoding)
    lines: Iterator[tuple[int, bytes]] = numbered_raw_lines(path)
    if input_format == "auto":
        buffered = []
        first = None
        for lineno, raw in lines:
            buffered.append((lineno, raw))
            if raw.strip():
                first = raw.decode(encoding, errors="replace")
                break
        input_format = detect_input_format(path, first)
        if input_format == "conll":
            raise NerError("CoNLL input is only detected by extension; pass --input-format conll", path=path)
        lines = chain(buffered, lines)
    if input_format == "jsonl":
        yield from _jsonl_documents(lines, encoding, tokenization)
        return
    for lineno, line in decode_lines(lines, encoding, path):
        yield Document(lineno, _pieces(split_sentences(line, tokenization=tokenization)), text=line)


_END = object()


def _read_ahead(documents: Iterable[Document], window: int) -> Iterator[list[Document]]:
    """Group documents into lists of up to ``window``, without waiting for a full list.

    A thread reads ahead into a bounded queue; each list takes what has arrived (at least one
    document), so a fast input is tagged in big batches and a slow one (a terminal, `tail -f`)
    line by line, while memory stays bounded by the queue.
    """
    q: queue.Queue = queue.Queue(maxsize=2 * window)

    def reader() -> None:
        try:
            for doc in documents:
                q.put(doc)
            q.put(_END)
        except BaseException as e:  # handed to the consumer, which raises it
            q.put(e)

    threading.Thread(target=reader, daemon=True).start()
    while True:
        item = q.get()
        chunk: list[Document] = []
        while True:
            if item is _END or isinstance(item, BaseException):
                break
            chunk.append(item)
            if len(chunk) >= window:
                item = None
                break
            try:
                item = q.get_nowait()
            except queue.Empty:
                item = None
                break
        if chunk:
            yield chunk
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item


def tag_documents(predictor: Predictor, documents: Iterable[Document], window: int = 1024) -> Iterator[list[Document]]:
    """Fill in ``predictions`` for up to ``window`` documents at a time, as they arrive;
    yields each group, in input order."""
    for chunk in _read_ahead(documents, window):
        predictions = iter(predictor.predict([s for d in chunk for s in d.sentences]))
        for doc in chunk:
            doc.predictions = [next(predictions) for _ in doc.sentences]
        yield chunk


def display_spans(doc: Document) -> tuple[str, list[tuple[int, int, str]]]:
    """The document's text (tokens joined by spaces when it has none) and its entities as
    character spans (start, end, label) into that text."""
    if doc.text is not None:
        return doc.text, [(e["start"], e["end"], e["label"]) for e in document_entities(doc)]
    tokens = [t for s in doc.sentences for t in s.tokens]
    starts, pos = [], 0
    for token in tokens:
        starts.append(pos)
        pos += len(token) + 1
    spans = [(starts[e["token_start"]], starts[e["token_end"] - 1] + len(tokens[e["token_end"] - 1]), e["label"])
             for e in document_entities(doc)]
    return " ".join(tokens), spans


def document_entities(doc: Document) -> list[dict[str, Any]]:
    """Entities of a document with document-level token indices and, when there is text,
    character offsets (end-exclusive)."""
    out: list[dict[str, Any]] = []
    base = 0
    for sentence, pred in zip(doc.sentences, doc.predictions):
        for e in pred.entities:
            item: dict[str, Any] = {}
            if sentence.offsets is not None and sentence.text is not None:
                start, end = sentence.offsets[e.token_start][0], sentence.offsets[e.token_end - 1][1]
                item.update(text=sentence.text[start:end], label=e.label, start=start, end=end)
            else:
                item.update(text=" ".join(sentence.tokens[e.token_start : e.token_end]), label=e.label)
            item.update(token_start=base + e.token_start, token_end=base + e.token_end, score=e.score)
            out.append(item)
        base += len(sentence.tokens)
    return out


def document_record(doc: Document, with_tags: bool = False) -> dict[str, Any]:
    """The JSON object written for a document: pass-through fields plus entities, or an error
    record (``error`` and ``line`` first, then the fields that could be read)."""
    if doc.error is not None:
        fields = {k: v for k, v in (doc.fields or {}).items() if k not in ("error", "line")}
        return {"error": doc.error, "line": doc.line, **fields}
    if doc.fields is not None:
        record: dict[str, Any] = dict(doc.fields)
    elif doc.text is not None:
        record = {"text": doc.text}
    else:
        record = {"tokens": [t for s in doc.sentences for t in s.tokens]}
    record["entities"] = document_entities(doc)
    if with_tags:
        record["tokens"] = [t for s in doc.sentences for t in s.tokens]
        record["tags"] = [t for p in doc.predictions for t in p.tags]
    if any(p.alternatives for p in doc.predictions):
        record["nbest"] = [[{"tags": tags, "probability": prob} for tags, prob in p.alternatives] for p in doc.predictions]
    return record


def record_line(doc: Document, with_tags: bool = False) -> str:
    """The document's record as one line of strict JSON (no NaN, valid UTF-8, pass-through numbers
    digit for digit). A record that cannot be written so becomes an error record."""
    try:
        return dumps(document_record(doc, with_tags))
    except ValueError as e:
        return dumps(document_record(Document(doc.line, error=f"the result cannot be written as strict JSON: it holds {e}")))


def document_conll_lines(doc: Document) -> Iterator[str]:
    """CoNLL output of a document: its columns (or tokens) plus the predicted tag; a blank line after each sentence."""
    for sentence, pred in zip(doc.sentences, doc.predictions):
        rows = [[*cols, tag] for cols, tag in zip(file_columns(sentence, with_tags=False), pred.tags)]
        yield from conll_lines(rows, sentence.meta.get("comments", []))


__all__ = ["Document", "Entity", "read_documents", "tag_documents", "document_record", "record_line", "document_entities",
           "display_spans", "document_conll_lines"]
