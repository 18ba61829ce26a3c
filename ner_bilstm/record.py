"""config.json, the record of how a model was made: its network, training options, labels and
schemes, versions, vectors and data fingerprints. Read and written here only."""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .config import MODEL_KEYS, ModelConfig
from .embeddings import EmbeddingCoverage
from .model_check import check_config

DEFAULT_MAX_WORD_CHARS = 40  # what models written before the option existed read


def current_versions() -> dict[str, str]:
    """Versions of what shapes a model's numbers: ner-bilstm, torch, seqeval and Python."""
    from importlib.metadata import version

    return {"ner_bilstm": __version__, "torch": torch.__version__, "seqeval": version("seqeval"), "python": platform.python_version()}


def fingerprint(path: str, split: str | None = None) -> dict[str, Any]:
    """Path and sha256 of a data file (of a brat folder's names and files in order; datasets'
    fingerprint for a datasets source), so a model records exactly what it was trained on."""
    from .io import is_brat, is_hf_source
    from .io.brat import brat_documents
    from .io.hf import fingerprint as hf_fingerprint

    digest = hashlib.sha256()

    def add(file: str | Path) -> None:
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)

    if is_brat(path):
        documents = brat_documents(path)
        for ann in documents:
            for file in (ann.with_suffix(".txt"), ann):
                digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
                add(file)
        return {"path": str(path), "sha256": digest.hexdigest(), "documents": len(documents)}
    if is_hf_source(path):
        return hf_fingerprint(path, split)
    add(path)
    return {"path": str(path), "sha256": digest.hexdigest()}


def current_command() -> list[str] | None:
    """The ``ner-bilstm`` command line this process runs (``ner-bilstm train ...``, also under
    torchrun or as ``python -m ner_bilstm``); None when the process is something else (a script
    or notebook using the Python API), whose command line would not say how the model was made."""
    if not sys.argv:
        return None
    program = Path(sys.argv[0])
    if program.name == "ner-bilstm":
        return ["ner-bilstm", *sys.argv[1:]]
    if program.name == "__main__.py" and program.parent.name == "ner_bilstm":
        return ["python", "-m", "ner_bilstm", *sys.argv[1:]]
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    """One model's config.json. ``training`` holds every training option as trained (a file from
    an older version may lack newer ones); ``data`` a fingerprint per role (train, dev, test)."""

    model: ModelConfig
    training: dict[str, Any]
    labels: list[str]
    entity_types: list[str]
    input_scheme: str
    train_scheme: str
    tokenization: str = "word"  # "char": raw text is split into characters at prediction time
    embeddings: EmbeddingCoverage | None = None
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=current_versions)
    created: str | None = field(default_factory=_now)
    command: list[str] | None = field(default_factory=current_command)  # the ner-bilstm command line that trained it

    @property
    def max_word_chars(self) -> int:
        return self.training.get("max_word_chars", DEFAULT_MAX_WORD_CHARS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of config.json."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "model": self.model.to_dict(), "training": self.training, "labels": self.labels, "entity_types": self.entity_types,
            "input_scheme": self.input_scheme, "train_scheme": self.train_scheme, "versions": self.versions,
            "tokenization": self.tokenization,
            "embeddings": self.embeddings.to_dict() if self.embeddings else None, "data": self.data,
        }
        if self.created is not None:
            out["created"] = self.created
        if self.command is not None:
            out["command"] = self.command
        return out

    @property
    def format_version(self) -> int:
        """The oldest model format that holds this model, so older versions read what they can:
        4 with a document memory scoring linked tokens, 3 with one scoring all, 2 with bigrams, else 1."""
        if self.model.memory_dim:
            return 4 if self.model.memory_scope == "linked" else 3
        return 2 if self.model.bigram_dim else 1

    @classmethod
    def from_dict(cls, raw: Any, path: Path) -> ModelRecord:
        """A record from config.json's parsed JSON, refused with a NerError naming the key when
        anything is missing, mistyped or out of range (``model_check.check_config``). Formats 1 and
        2 read as written, with the defaults of options they predate."""
        config = check_config(raw, path)
        model = config["model"]
        return cls(
            model=ModelConfig(**{k: model[k] for k in MODEL_KEYS}),
            training=config["training"],
            labels=list(config.get("labels") or []),
            entity_types=list(config.get("entity_types") or []),
            input_scheme=config["input_scheme"],
            train_scheme=config["train_scheme"],
            tokenization=config.get("tokenization", "word"),
            embeddings=EmbeddingCoverage.from_dict(config["embeddings"]) if config.get("embeddings") else None,
            data=config.get("data") or {},
            versions=config.get("versions") or {},
            created=config.get("created"),
            command=config.get("command"),
        )
