"""The model directory: config.json, vocab.json, model.safetensors (+ metrics and history).

Loading validates every file before building anything and never unpickles.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from .errors import NerError
from .model import Tagger
from .model_check import FORMAT_VERSION, check_config, check_shapes, check_vocab, load_weights, read_header, read_json_file
from .vocab import Vocabularies

CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY = "config.json", "vocab.json", "model.safetensors", "metrics.json", "history.jsonl"
ATOMIC_NAMES = (CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY, "state.safetensors", "seeds.json")


def atomic_write(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` into a temporary file beside ``path``, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files that ``atomic_write`` left behind when a process was killed mid-write."""
    for path in Path(directory).rglob(".*"):
        if path.is_file() and any(path.name.startswith(f".{name}.") for name in ATOMIC_NAMES):
            path.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")

    atomic_write(path, write)


@dataclass
class LoadedModel:
    """A model ready for inference, with what is needed to read its outputs."""

    model: Tagger
    vocab: Vocabularies
    config: dict[str, Any]

    @property
    def input_scheme(self) -> str:
        return self.config["input_scheme"]

    @property
    def train_scheme(self) -> str:
        return self.config["train_scheme"]

    @property
    def max_word_chars(self) -> int:
        return self.config["training"].get("max_word_chars", 40)


def save_model(directory: Path, model: Tagger, vocab: Vocabularies, config: dict[str, Any]) -> None:
    """Write weights, vocabulary and configuration, each atomically. Weights go last so a
    directory with weights always has the matching JSON."""
    directory = Path(directory)
    version = FORMAT_VERSION if config["model"].get("bigram_dim") else 1
    write_json(directory / CONFIG, {"format_version": version, **config})
    write_json(directory / VOCAB, vocab.to_dict())
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))


def load_model(directory: str | Path, device: str = "cpu") -> LoadedModel:
    """Load a model directory, checking every file before anything is allocated (``model_check``):
    a corrupted or crafted directory is refused with one NerError naming the file and the key."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NerError("model directory not found", path=str(directory))
    cpath, vpath, wpath = directory / CONFIG, directory / VOCAB, directory / WEIGHTS
    config = check_config(read_json_file(cpath), cpath)
    vocab = check_vocab(read_json_file(vpath), vpath, config["train_scheme"])
    check_shapes(config, vocab, read_header(wpath), wpath)
    model = Tagger(config["model"], len(vocab.words), len(vocab.chars), vocab.labels.itos, config["train_scheme"], vocab.num_bigrams)
    load_weights(model, wpath)
    model.to(torch.device(device)).eval()
    return LoadedModel(model, vocab, config)


def read_scores(directory: str | Path) -> tuple[float | None, float | None]:
    """Best dev F1 and test F1 from metrics.json (None when absent)."""
    path = Path(directory) / METRICS
    if not path.is_file():
        return None, None
    metrics = read_json_file(path)
    scores = []
    for role in ("dev", "test"):
        part = metrics.get(role) if isinstance(metrics, dict) else None
        micro = part.get("micro") if isinstance(part, dict) else None
        f1 = micro.get("f1") if isinstance(micro, dict) else None
        if part is not None and (not isinstance(f1, (int, float)) or isinstance(f1, bool)):
            raise NerError(f"{role}.micro.f1 is missing or not a number", path=str(path))
        scores.append(f1)
    return scores[0], scores[1]
