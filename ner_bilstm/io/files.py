"""Opening user files with errors that name the file and line."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from ..errors import NerError


def numbered_lines(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its line ending) from ``path`` (``-`` for stdin), streaming.

    Lines are decoded one at a time so a bad byte is reported at its own line; CRLF endings
    and a leading byte-order mark are accepted.
    """
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
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise NerError(f"not valid {encoding} text ({e.reason}); pass --encoding", path=path, line=lineno) from None
            except LookupError:
                raise NerError(f"unknown encoding {encoding!r}", path=path) from None
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield lineno, line.rstrip("\r\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


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
