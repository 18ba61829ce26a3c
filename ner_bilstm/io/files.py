"""Opening user files with errors that name the file and line, and writing files atomically."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TextIO

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
    """Refuse, once and before any line is read, an encoding name Python does not know, one
    that does not turn bytes into text (base64, rot13, ...), or one whose line break is not the
    byte \\n (UTF-16, UTF-32, EBCDIC): files are split into lines as bytes."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise NerError(f"unknown encoding {encoding!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise NerError(f"{encoding!r} is not a text encoding")
    try:
        lines_split = info.decode(b"a\n")[0] == "a\n"
    except (UnicodeDecodeError, ValueError):
        lines_split = False
    if not lines_split:
        raise NerError(f"{encoding!r} does not read the byte \\n as a line break, so its lines cannot be read; "
                       f"convert the file to UTF-8 (iconv -f {encoding} -t utf-8)")


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


def current_umask() -> int:
    """The process's umask: from /proc on Linux; elsewhere by setting it and setting it back (which,
    for that instant, other threads would see)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file's path beside ``path``: when the block succeeds the file is fsynced and
    renamed over ``path``; when it fails it is removed. Readers never see a partial file.

    A symbolic link keeps pointing where it did: its target is replaced. A device or a FIFO
    (``/dev/null``, a named pipe) is written in place, as a shell redirection writes it: renaming a
    file over it would put a regular file where the device was."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode  # through links, /dev/stdout's to a pipe included
    except FileNotFoundError:
        mode = None  # a new file, or a link to one
    except OSError as e:
        raise NerError(f"cannot write: {e.strerror or e}", path=path) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise NerError("cannot write: is a directory", path=path)
    if mode is not None and not stat.S_ISREG(mode):
        yield path
        return
    target = os.path.realpath(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=os.path.dirname(target))
        os.close(fd)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would keep a model from its other users
    except OSError as e:
        raise NerError(f"cannot write: {e.strerror or e}", path=path) from None
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as e:
            raise NerError(f"cannot write: {e.strerror or e}", path=path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def refuse_overwrite(target: str | os.PathLike | None, reads: Iterable[str | os.PathLike]) -> None:
    """NerError when writing ``target`` would replace one of ``reads``, the files a command reads
    (its data, its model's files): its output goes to a new name or a file it does not need."""
    if target is None or os.fspath(target) == "-":
        return
    for read in reads:
        try:
            same = os.fspath(read) != "-" and os.path.samefile(read, target)  # through links, hard links too
        except OSError:  # one of them does not exist
            same = False
        if same:
            raise NerError(f"this command reads {os.fspath(read)}, which writing here would replace", path=os.fspath(target))


def make_folder(path: str | os.PathLike) -> None:
    """Create the folder ``path`` (and its parents) unless it exists; NerError when it cannot."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise NerError("cannot write: a file is in the way of this folder", path=os.fspath(path)) from None
    except OSError as e:
        raise NerError(f"cannot create the folder: {e.strerror or e}", path=os.fspath(path)) from None


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Write ``path`` whole or not at all through ``write(temporary_path)``, creating its folder."""
    make_folder(os.path.dirname(os.path.abspath(path)))
    with atomic_path(path) as tmp:
        write(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """``data`` into ``path``, atomically. (safetensors' own ``save_file`` renames a temporary file of
    its own, which a killed process leaves behind: serialise with ``safetensors.torch.save`` and write here.)"""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """``obj`` as indented JSON (non-ASCII kept), atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")

    atomic_write(path, write)


@contextlib.contextmanager
def output_stream(path: str | os.PathLike | None, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Standard output for None, else a text stream into ``path`` that appears only when the
    block succeeds (``atomic_path``), so a failed run never leaves a partial file behind."""
    if path is None:
        yield sys.stdout
        return
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise NerError("cannot write: the folder does not exist", path=os.fspath(path))
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="\n") as stream:
        yield stream
