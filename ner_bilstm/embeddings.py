"""Pretrained word vectors: text files (GloVe, word2vec, fastText ``.vec``, optionally gzip) and
named vectors installed as Python packages (``glove-6b-50d``). Only the vectors of the words the
caller asks for are kept."""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from .errors import NerError

_RUNS = re.compile(r"[^\W_]+")  # letters and digits, in any script


@dataclass
class Embeddings:
    """Vectors by word. ``dim`` and ``total`` (words in the source) are read from the source;
    ``name`` and ``version`` identify named vectors (None for a file); ``composed`` the words
    whose vector ``compose`` made from their pieces'."""

    vectors: dict[str, np.ndarray]
    dim: int
    total: int
    name: str | None = None
    version: str | None = None
    composed: set[str] = field(default_factory=set)

    def lookup(self, word: str) -> np.ndarray | None:
        """The vector of ``word`` exactly, else of its lower-cased form, else None."""
        v = self.vectors.get(word)
        return v if v is not None else self.vectors.get(word.lower())

    def __contains__(self, word: str) -> bool:
        return word in self.vectors or word.lower() in self.vectors

    def compose(self, pieces: Mapping[str, Sequence[str]], key: Callable[[str], str]) -> None:
        """Give the key of each token in ``pieces`` (token -> its ``word_parts``) that has no vector
        the mean of its pieces' vectors, when every piece has one. Where several tokens share a
        key, the one with the most pieces decides (then the first in code-point order), so the
        result does not depend on the order the corpus lists them in."""
        for token in sorted(pieces, key=lambda t: (-len(pieces[t]), t)):
            k = key(token)
            if k in self:  # its own vector, or one a token of the same key composed
                continue
            found = [self.lookup(p) for p in pieces[token]]
            if all(v is not None for v in found):
                self.vectors[k] = np.mean(np.stack(found), axis=0, dtype=np.float32)  # type: ignore[arg-type]
                self.composed.add(k)


@dataclass
class EmbeddingCoverage:
    """How much of a corpus pretrained vectors cover, as config.json records it: the share of
    training ``tokens`` with a vector, vocabulary ``words`` with one out of ``vocabulary``, the
    source's size (``file_words``) and ``dim``; ``name`` and ``version`` for named vectors."""

    tokens: float
    words: int
    vocabulary: int
    file_words: int
    dim: int
    name: str | None = None
    version: str | None = None
    composed: int = 0  # of the ``words``, those whose vector is the mean of their pieces' (Embeddings.compose)

    def to_dict(self) -> dict[str, Any]:
        out = {"tokens": self.tokens, "words": self.words, "vocabulary": self.vocabulary, "file_words": self.file_words, "dim": self.dim,
               "composed": self.composed}
        if self.name is not None:
            out.update(name=self.name, version=self.version)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmbeddingCoverage:
        """From a checked config.json entry; counts an older file lacks read as 0."""
        return cls(d["tokens"], d["words"], d.get("vocabulary", 0), d.get("file_words", 0), d["dim"], d.get("name"), d.get("version"),
                   d.get("composed", 0))


def pretrained_rows(vectors: Embeddings, vocabulary: Sequence[str], word_ids: Iterable[int]
                    ) -> tuple[torch.Tensor, torch.Tensor, EmbeddingCoverage]:
    """The rows of an embedding matrix over ``vocabulary`` that ``vectors`` fill: ``(matrix
    (words, dim), found (words,) bool, coverage)``. ``word_ids`` are the training tokens' ids,
    streamed, for the share of tokens covered; rows not found are left to the caller."""
    import torch

    matrix = torch.empty(len(vocabulary), vectors.dim)
    found = torch.zeros(len(vocabulary), dtype=torch.bool)
    for i, word in enumerate(vocabulary):
        v = vectors.lookup(word)
        if v is not None:
            matrix[i] = torch.from_numpy(v)
            found[i] = True
    hits = tokens = 0
    for i in word_ids:
        hits += bool(found[i])
        tokens += 1
    coverage = EmbeddingCoverage(round(hits / max(tokens, 1), 4), int(found.sum()), len(vocabulary), vectors.total, vectors.dim,
                                 vectors.name, vectors.version, sum(word in vectors.composed for word in vocabulary))
    return matrix, found, coverage


def word_parts(token: str) -> list[str]:
    """The pieces a token is written in: its runs of letters and digits, split where a lower-case
    letter meets a capital ("realDonaldTrump"), before the capital that starts a word after an
    acronym ("CNNPolitics") and between letters and digits. Empty when the token is its own
    only piece, as then there is nothing to compose it from. Read in NFC, so an accent written
    as a combining mark stays in its letter's piece."""
    token = unicodedata.normalize("NFC", token)
    out: list[str] = []
    for run in _RUNS.findall(token):
        start = 0
        for i in range(1, len(run)):
            a, b = run[i - 1], run[i]
            camel = b.isupper() and (a.islower() or (a.isupper() and i + 1 < len(run) and run[i + 1].islower()))
            if camel or a.isdigit() != b.isdigit():
                out.append(run[start:i])
                start = i
        out.append(run[start:])
    return [] if out == [token] else out


def corpus_vectors(source: str, tokens: Iterable[str], key: Callable[[str], str], compose: bool = True
                   ) -> tuple[Embeddings, set[str]]:
    """The vectors of a corpus's tokens from ``source``, by their lookup ``key``, and the set of
    keys. With ``compose``, a token with no vector whose pieces (``word_parts``) all have one
    gets their mean: hashtags and user names ("realDonaldTrump", "CNNPolitics") are how new
    names are written in social media, and GloVe has their pieces but not them."""
    tokens = set(tokens)
    keys = {key(t) for t in tokens}
    pieces = {t: p for t in tokens if (p := word_parts(t))} if compose else {}
    vectors = load_embeddings(source, keys | {p for ps in pieces.values() for p in ps})
    vectors.compose(pieces, key)
    return vectors, keys


def wanted_keys(words: Iterable[str]) -> set[str]:
    """The words, and their lower-cased forms (what ``Embeddings.lookup`` falls back to)."""
    keys = set(words)
    return keys | {w.lower() for w in keys}


def load_embeddings(source: str, wanted: Iterable[str]) -> Embeddings:
    """Vectors of ``wanted`` words from named vectors (``glove-6b-50d``) or a vectors file."""
    from .named_vectors import NAMED_VECTORS, read_named

    if source in NAMED_VECTORS:
        return read_named(NAMED_VECTORS[source], wanted)
    return read_embeddings(source, wanted)


def _open(path: str):
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig", errors="strict")
        return open(path, encoding="utf-8-sig")
    except FileNotFoundError:
        from .named_vectors import NAMED_VECTORS

        raise NerError(f"no such embeddings file (named vectors: {', '.join(NAMED_VECTORS)})", path=path) from None
    except OSError as e:
        raise NerError(f"cannot open embeddings file: {e.strerror}", path=path) from None


def read_embeddings(path: str, wanted: Iterable[str]) -> Embeddings:
    """Read the vectors of ``wanted`` words (and of their lower-cased forms) from a text file.

    Each line is a word and ``dim`` numbers separated by single spaces. The numbers are the last
    ``dim`` fields, so a word may itself contain spaces (GloVe 840B has such tokens). ``dim`` comes
    from a word2vec/fastText header ("<count> <dim>") or else from the first line. A line with
    fewer than ``dim`` numbers is an error; one with more fields is a word with spaces (so a
    damaged line can only spoil the vector of a word no corpus has). The values of the lines
    that are kept are checked to be finite numbers. Errors name the file and line.
    """
    keys = wanted_keys(wanted)
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
                if lineno == 1:
                    head = line.split()
                    if len(head) == 2 and head[0].isdigit() and head[1].isdigit():
                        dim = int(head[1])
                        continue
                spaces = line.count(" ")
                if spaces == 0:
                    raise NerError("a word without a vector", path=path, line=lineno)
                if dim == 0:
                    dim = spaces  # the first line decides: a word, then its numbers
                if spaces < dim:
                    raise NerError(f"expected {dim} values, found {spaces}", path=path, line=lineno)
                if spaces == dim:
                    word, _, rest = line.partition(" ")
                else:  # the word has spaces of its own
                    rest = line.split(" ", spaces - dim + 1)[-1]
                    word = line[: len(line) - len(rest) - 1]
                total += 1
                if word in keys and word not in vectors:
                    vectors[word] = _parse_vector(rest, path, lineno)
    except UnicodeDecodeError:
        raise NerError("not valid UTF-8 text", path=path, line=lineno + 1) from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise NerError(f"broken gzip file ({e})", path=path) from None
    if total == 0:
        raise NerError("no vectors in this file", path=path)
    return Embeddings(vectors, dim, total)


def _parse_vector(text: str, path: str, line: int) -> np.ndarray:
    fields = text.split(" ")
    try:
        with np.errstate(over="ignore"):  # 1e39 becomes inf, refused below in one line, not with numpy's warning
            vector = np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(v for v in fields if not _is_number(v))
        raise NerError(f"not a number: {bad[:30]!r}", path=path, line=line) from None
    if not np.isfinite(vector).all():
        raise NerError("a value is NaN or too large for float32", path=path, line=line)
    return vector


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
