"""Hugging Face ``datasets`` sources: hub names (``hf:NAME[:CONFIG]``), ``save_to_disk`` folders,
and parquet/arrow files or folders of them. Rows are read one at a time (Arrow is memory-mapped)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import NerError, first_line
from ..schemes import check_tag
from ..sentence import Sentence
from .jsonl import token_list
from .spans import EMPTY_RECORDS, ReadReport

DATA_FILE_SUFFIXES = (".parquet", ".arrow")
HUB_HINT = (
    "datasets>=4 no longer runs loading scripts, so use a parquet-backed dataset "
    "(for example hf:lhoestq/conll2003), or a local copy (save_to_disk folder or parquet files); "
    "offline, set HF_DATASETS_OFFLINE=1 and use the local cache"
)


def is_hf_source(path: str) -> bool:
    """True for ``hf:`` names, dataset folders and parquet/arrow files."""
    return path.startswith("hf:") or os.path.isdir(path) or path.lower().endswith(DATA_FILE_SUFFIXES)


def _pick_split(dataset: Any, split: str | None, source: str) -> Any:
    from datasets import DatasetDict

    if not isinstance(dataset, DatasetDict):
        return dataset
    if split in dataset:
        return dataset[split]
    if split is None and len(dataset) == 1:
        return next(iter(dataset.values()))
    if split == "validation" and "dev" in dataset:
        return dataset["dev"]
    raise NerError(f"no split {split!r}; the dataset has {', '.join(dataset)} (choose one with --split)", path=source)


def load_hf(source: str, split: str | None = None) -> Any:
    """The ``datasets.Dataset`` behind ``source``, for ``split``."""
    try:
        import datasets
    except ImportError:  # pragma: no cover
        raise NerError("reading Hugging Face datasets needs the 'datasets' package: pip install datasets", path=source) from None
    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()
    try:
        if source.startswith("hf:"):
            name, _, config = source[3:].partition(":")
            try:
                return datasets.load_dataset(name, config or None, split=split or "train")
            except ValueError as e:
                if "split" in str(e).lower():
                    raise NerError(f"{e} (choose one with --split)", path=source) from None
                raise NerError(f"cannot load this dataset: {e}; {HUB_HINT}", path=source) from None
            except Exception as e:  # network, missing repo, scripts: datasets raises many types
                raise NerError(f"cannot load this dataset ({type(e).__name__}: {first_line(e, 200)}); {HUB_HINT}",
                               path=source) from None
        path = Path(source)
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            return _pick_split(datasets.load_from_disk(str(path)), split, source)
        files = sorted(str(p) for p in path.rglob("*") if p.suffix in DATA_FILE_SUFFIXES) if path.is_dir() else [source]
        if not files:
            raise NerError("no parquet or arrow files here, and not a save_to_disk folder", path=source)
        if not path.exists():
            raise NerError("no such file", path=source)
        kind = "parquet" if files[0].endswith(".parquet") else "arrow"
        return datasets.load_dataset(kind, data_files={"train": files}, split="train")
    except NerError:
        raise
    except Exception as e:
        raise NerError(f"cannot read this dataset ({type(e).__name__}: {first_line(e, 200)})", path=source) from None


def tag_names(dataset: Any, column: str) -> list[str] | None:
    """Label names when ``column`` is a sequence of ``ClassLabel``, else None (strings expected)."""
    from datasets import ClassLabel

    inner = getattr(dataset.features[column], "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def named_tags(names: list[str], ids: list[Any]) -> list[str]:
    """A row's ClassLabel ids as their names; ValueError for an id that names none (datasets
    writes -1 for a token without a label, which a tagger cannot learn from)."""
    tags = []
    for t in ids:
        if type(t) is not int or not 0 <= t < len(names):
            hint = " (-1: the token has no label)" if t == -1 else ""
            raise ValueError(f"tag id {t!r} is not one of the {len(names)} ClassLabel names{hint}")
        tags.append(names[t])
    return tags


def read_hf(
    source: str,
    *,
    split: str | None = None,
    tokens_field: str = "tokens",
    tags_field: str | None = "ner_tags",
    require_tags: bool = True,
    report: ReadReport | None = None,
) -> Iterator[Sentence]:
    """Stream sentences from a ``datasets`` source; ``meta["line"]`` is the 1-based row number.
    Rows without tokens are counted in ``report`` as they are skipped. ``tags_field`` None reads
    no tags; unless ``require_tags``, a row whose ClassLabel ids are all -1 (datasets' "no label",
    as in an unlabelled test split) is read as untagged."""
    dataset = load_hf(source, split)
    columns = list(dataset.column_names)
    if tokens_field not in columns:
        raise NerError(f"no column {tokens_field!r} (columns: {', '.join(columns)}); choose it with --tokens-field", path=source)
    has_tags = tags_field is not None and tags_field in columns
    if require_tags and not has_tags:
        raise NerError(f"no column {tags_field!r} (columns: {', '.join(columns)}); choose it with --tags-field", path=source)
    names = tag_names(dataset, tags_field) if has_tags else None
    for row_number, row in enumerate(dataset, 1):
        try:
            tokens = token_list(row, tokens_field)  # as JSON lines check them: CoNLL could not carry a token with a space
        except ValueError as e:
            raise NerError(str(e), path=source, line=row_number) from None
        tags = None
        if has_tags:
            raw = row[tags_field]
            if not isinstance(raw, list) or len(raw) != len(tokens):
                raise NerError(f"{tags_field!r} must be a list as long as {tokens_field!r}", path=source, line=row_number)
            if names is not None and not require_tags and all(t == -1 for t in raw):
                tags = None
            elif names is not None:
                try:
                    tags = named_tags(names, raw)
                except ValueError as e:
                    raise NerError(str(e), path=source, line=row_number) from None
            elif all(isinstance(t, str) for t in raw):
                tags = raw
            else:
                raise NerError(f"{tags_field!r} holds {type(raw[0]).__name__} values but has no ClassLabel names; "
                               "it must hold tag strings", path=source, line=row_number)
            for tag in tags or ():
                try:
                    check_tag(tag)
                except ValueError as e:
                    raise NerError(str(e), path=source, line=row_number) from None
        if tokens:
            yield Sentence(tokens=tokens, tags=tags, meta={"source": source, "line": row_number})
        elif report is not None:
            report.skip(EMPTY_RECORDS)


def fingerprint(source: str, split: str | None) -> dict[str, Any]:
    """What identifies a datasets source: its name or path, split and datasets' own fingerprint."""
    dataset = load_hf(source, split)
    return {"path": source, "split": split, "fingerprint": getattr(dataset, "_fingerprint", None), "rows": len(dataset)}
