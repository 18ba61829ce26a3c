"""Opening user files with errors that name the file and line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

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
