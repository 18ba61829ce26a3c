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
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import MODEL_KEYS, option_types
from .errors import NerError
from .model import Tagger
from .vocab import Vocabularies

FORMAT_VERSION = 1
CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY = "config.json", "vocab.json", "model.safetensors", "metrics.json", "history.jsonl"
ATOMIC_NAMES = (CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY, "state.safetensors")


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
    write_json(directory / CONFIG, {"format_version": FORMAT_VERSION, **config})
    write_json(directory / VOCAB, vocab.to_dict())
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise NerError(f"model directory is missing {path.name}", path=str(path.parent))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NerError(f"not valid JSON: {e}", path=str(path)) from None


def _require(obj: Any, key: str, kind: type | tuple, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise NerError(f"missing key {key!r}", path=str(path))
    if not isinstance(obj[key], kind) or (isinstance(obj[key], bool) and kind is not bool):
        raise NerError(f"key {key!r} has the wrong type", path=str(path))
    return obj[key]


def load_model(directory: str | Path, device: str = "cpu") -> LoadedModel:
    """Load and validate a model directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NerError("model directory not found", path=str(directory))
    config = _read_json(directory / CONFIG)
    cpath, vpath, wpath = directory / CONFIG, directory / VOCAB, directory / WEIGHTS
    version = _require(config, "format_version", int, cpath)
    if version > FORMAT_VERSION:
        raise NerError(f"model format {version} is newer than this ner-bilstm reads ({FORMAT_VERSION}); upgrade ner-bilstm",
                       path=str(cpath))
    model_cfg = _require(config, "model", dict, cpath)
    kinds = option_types()
    for key in MODEL_KEYS:
        _require(model_cfg, key, (int, float) if kinds[key] is float else kinds[key], cpath)
    _require(config, "training", dict, cpath)
    for key in ("input_scheme", "train_scheme"):
        _require(config, key, str, cpath)
    raw_vocab = _read_json(vpath)
    for key in ("words", "chars", "labels", "word_counts"):
        _require(raw_vocab, key, list, vpath)
    try:
        vocab = Vocabularies.from_dict(raw_vocab)
    except (KeyError, TypeError, ValueError) as e:
        raise NerError(f"malformed vocabulary: {e}", path=str(vpath)) from None
    if not wpath.is_file():
        raise NerError(f"model directory is missing {WEIGHTS}", path=str(directory))
    try:
        model = Tagger(model_cfg, len(vocab.words), len(vocab.chars), vocab.labels.itos, config["train_scheme"])
    except (KeyError, ValueError, TypeError) as e:
        raise NerError(f"inconsistent configuration: {e}", path=str(cpath)) from None
    try:
        state = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as e:
        raise NerError(f"not a valid safetensors file ({e})", path=str(wpath)) from None
    expected = model.state_dict()
    if set(state) != set(expected):
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        raise NerError(f"weights do not match the configuration (missing {missing[:3]}, unexpected {extra[:3]})", path=str(wpath))
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            need = tuple(expected[key].shape)
            raise NerError(f"weight {key} has shape {tuple(tensor.shape)}, the configuration needs {need}", path=str(wpath))
    model.load_state_dict(state)
    model.to(torch.device(device)).eval()
    return LoadedModel(model, vocab, config)
