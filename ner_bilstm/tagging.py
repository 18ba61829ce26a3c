"""Tagging documents from files or stdin: reading input units and predicting them in windows.

A document is one unit of input that gets one unit of output: a line of text, a JSON line, or
a CoNLL sentence. Documents are read lazily and tagged a window at a time, so memory stays
bounded however long the input is, and output order equals input order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import chain

from .documents import Document, conll_document, predict_documents, text_document, tokens_document
from .errors import NerError
from .inference import Predictor
from .io import INPUT_FORMATS, JSONL_SUFFIXES, ReaderOptions
from .io.conll import read_conll
from .io.files import check_encoding, decode_line, decode_lines, numbered_raw_lines
from .io.hf import is_hf_source, read_hf
from .io.jsonl import parse_object, token_list
from .io.strict_json import JsonError

WINDOW_BATCHES = 16  # documents are tagged this many batches at a time (a window), as they arrive
JSON_BLANK = b" \t\r"  # a JSON line holding only JSON's own whitespace is no document; any other line is one


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
                yield tokens_document(token_list(obj), lineno, fields=obj)
            elif "text" in obj:
                if not isinstance(obj["text"], str):
                    raise ValueError('"text" must be a string')
                yield text_document(obj["text"], tokenization, lineno, fields=obj)
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
    if input_format == "hf" and (path == "-" or not is_hf_source(path)):
        raise NerError("not a datasets source (a save_to_disk folder, parquet or arrow files, hf:NAME)", path=path)
    if input_format in ("auto", "hf") and path != "-" and is_hf_source(path):
        for sentence in read_hf(path, split=reader.split, tokens_field=reader.tokens_field, tags_field=None, require_tags=False):
            yield Document(sentence.meta["line"], [sentence], fields={"tokens": sentence.tokens})
        return
    if input_format == "auto" and detect_input_format(path, None) == "conll":  # by its name: .conll, .iob, ...
        input_format = "conll"
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
        lines = chain(buffered, lines)
    if input_format == "jsonl":
        yield from _jsonl_documents(lines, encoding, tokenization)
        return
    for lineno, line in decode_lines(lines, encoding, path):
        yield text_document(line, tokenization, lineno)


_END = object()


def _read_ahead(documents: Iterable[Document], window: int) -> Iterator[list[Document]]:
    """Group documents into lists of up to ``window``, without waiting for a full list.

    A thread reads ahead into a bounded queue; each list takes what has arrived (at least one
    document), so a fast input is tagged in big batches and a slow one (a terminal, `tail -f`)
    line by line, while memory stays bounded by the queue. A consumer that stops early (a
    ``pipe()`` left unfinished) stops the thread too, at its next full queue.
    """
    q: queue.Queue = queue.Queue(maxsize=2 * window)
    stopped = threading.Event()

    def put(item: object) -> bool:
        while not stopped.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for doc in documents:
                if not put(doc):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, which raises it
            put(e)

    threading.Thread(target=reader, daemon=True).start()
    try:
        yield from _chunks(q, window)
    finally:
        stopped.set()


def _chunks(q: queue.Queue, window: int) -> Iterator[list[Document]]:
    """Lists of what has arrived in ``q`` (at least one document, at most ``window``) until its end."""
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


def _whole_blocks(chunks: Iterable[list[Document]], window: int) -> Iterator[list[Document]]:
    """The same documents, regrouped so that the sentences of a -DOCSTART- block of CoNLL input
    are tagged together, whatever the read-ahead's timing: a block is held back until it ends, and
    one longer than ``window`` sentences goes in pieces of ``window``, each in a group of its own."""
    held: list[Document] = []  # the open block's sentences, fewer than window
    try:
        for chunk in chunks:
            ready: list[Document] = []
            for doc in chunk:
                block = conll_document(doc)
                if held and block != conll_document(held[0]):
                    ready, held = ready + held, []
                if block is None:
                    ready.append(doc)
                    continue
                held.append(doc)
                if len(held) == window:
                    if ready:
                        yield ready
                    yield held
                    ready, held = [], []
            if ready:
                yield ready
    except Exception:  # the input failed at a bad line: what came before it is still tagged
        if held:
            yield held
        raise
    if held:
        yield held


def tag_documents(predictor: Predictor, documents: Iterable[Document], window: int = 1024) -> Iterator[list[Document]]:
    """Fill in ``predictions`` for up to ``window`` documents at a time, as they arrive (read
    ahead by a thread); yields each group, in input order. With a document memory, the sentences
    of a -DOCSTART- block are tagged together (``_whole_blocks``)."""
    chunks = _read_ahead(documents, window)
    if predictor.model.memory_head is not None:
        chunks = _whole_blocks(chunks, window)
    for chunk in chunks:
        predict_documents(predictor, chunk)
        yield chunk


__all__ = ["INPUT_FORMATS", "read_documents", "tag_documents", "detect_input_format"]
