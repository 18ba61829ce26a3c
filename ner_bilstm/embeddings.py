"""Pretrained word vectors: GloVe and word2vec text files, fastText ``.vec`` (with its header line),
optionally gzip-compressed. Only the vectors of words the caller asks for are parsed."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .errors import NerError


@dataclass
class Embeddings:
    """Vectors by word; ``dim`` is read from the file."""

    vectors: dict[str, np.ndarray]
    dim: int
    total: int  # words in the file

    def lookup(self, word: str) -> np.ndarray | None:
        """The vector of ``word`` exactly, else of its lower-cased form, else None."""
        v = self.vectors.get(word)
        return v if v is not None else self.vectors.get(word.lower())

    def __contains__(self, word: str) -> bool:
        return word in self.vectors or word.lower() in self.vectors


def _open(path: str):
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8", errors="strict")
        return open(path, encoding="utf-8")
    except FileNotFoundError:
        raise NerError("no such embeddings file", path=path) from None
    except OSError as e:
        raise NerError(f"cannot open embeddings file: {e.strerror}", path=path) from None


def read_embeddings(path: str, wanted: Iterable[str]) -> Embeddings:
    """Read the vectors of ``wanted`` words (and of their lower-cased forms) from ``path``.

    Every line's field count is checked against the dimension; the values of the lines that are
    kept are checked to be numbers. Errors name the file and line.
    """
    keys = set(wanted)
    keys |= {w.lower() for w in keys}
    vectors: dict[str, np.ndarray] = {}
    dim = 0
    total = 0
    lineno = 0
    try:
        with _open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip()
                if not line:
                    continue
                word, _, rest = line.partition(" ")
                if lineno == 1:
                    head = line.split()
                    if len(head) == 2 and head[0].isdigit() and head[1].isdigit():
                        dim = int(head[1])  # word2vec / fastText header: "<count> <dim>"
                        continue
                if not rest:
                    raise NerError("a word without a vector", path=path, line=lineno)
                fields = rest.count(" ") + 1
                if dim == 0:
                    dim = fields
                elif fields != dim:
                    raise NerError(f"expected {dim} values, found {fields}", path=path, line=lineno)
                total += 1
                if word in keys and word not in vectors:
                    try:
                        vectors[word] = np.array(rest.split(" "), dtype=np.float32)
                    except ValueError:
                        bad = next(v for v in rest.split(" ") if not _is_number(v))
                        raise NerError(f"not a number: {bad[:30]!r}", path=path, line=lineno) from None
                    if not np.isfinite(vectors[word]).all():
                        raise NerError("a value is NaN or too large for float32", path=path, line=lineno)
    except UnicodeDecodeError:
        raise NerError("not valid UTF-8 text", path=path, line=lineno + 1) from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise NerError(f"broken gzip file ({e})", path=path) from None
    if total == 0:
        raise NerError("no vectors in this file", path=path)
    return Embeddings(vectors, dim, total)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
