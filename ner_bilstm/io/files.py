"""Opening user files with errors that name the file and line."""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

from ..errors import NerError
from .strict_json import LONE_SURROGATE


def numbered_raw_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, line as bytes without its line ending) from ``path`` (``-`` for
    stdin), streaming; CRLF endings and a leading UTF-8 byte-order mark are removed."""
    stream: BinaryIO
    if path == "-":
        stream = sys.stdin.buffer
    else:
        if os.path.isdir(path):
            raise NerError("is a directory, expected a file", path=path)
        try:
            stream = open(path, "rb")
        except FileNotFoundError:
            raise NerError("no such file", path=path) from None
        except OSError as e:
            raise NerError(f"cannot open: {e.strerror}", path=path) from None
    try:
        for lineno, raw in enumerate(stream, 1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            yield lineno, raw.rstrip(b"\r\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def check_encoding(encoding: str) -> None:
    """Refuse, once and before any line is read, an encoding name Python does not know or one
    that does not turn bytes into text (base64, rot13, ...)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise NerError(f"unknown encoding {encoding!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise NerError(f"{encoding!r} is not a text encoding")


def decode_line(raw: bytes, encoding: str) -> str:
    """One line as text; a ValueError names the first bad byte, or the unpaired surrogate that
    a lax codec (unicode_escape, ...) produced and no output could carry."""
    try:
        line = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"not valid {encoding} text ({e.reason} at byte {e.start + 1})") from None
    lone = LONE_SURROGATE.search(line)
    if lone:
        raise ValueError(f"decodes to an unpaired surrogate \\u{ord(lone.group()):04x} at character {lone.start() + 1}")
    return line


def decode_lines(lines: Iterable[tuple[int, bytes]], encoding: str, path: str) -> Iterator[tuple[int, str]]:
    """Decode numbered raw lines; the first bad one refuses the whole input (NerError naming
    file and line), as a text or CoNLL file in the wrong encoding is wrong throughout."""
    for lineno, raw in lines:
        try:
            yield lineno, decode_line(raw, encoding)
        except ValueError as e:
            raise NerError(f"{e}; pass --encoding", path=path, line=lineno) from None


def numbered_lines(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded line without its line ending) from ``path`` (``-`` for stdin), streaming."""
    check_encoding(encoding)
    yield from decode_lines(numbered_raw_lines(path), encoding, path)


@contextlib.contextmanager
def output_stream(path: str | os.PathLike | None, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Standard output for None, else a temporary file beside ``path`` that replaces it only
    when the block succeeds, so a failed run never leaves a partial file behind."""
    if path is None:
        yield sys.stdout
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise NerError("cannot write: the folder does not exist", path=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
