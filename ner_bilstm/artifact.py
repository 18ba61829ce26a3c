"""The model directory: config.json, vocab.json, model.safetensors (+ metrics and history).

Loading validates every file before building anything and never unpickles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from .devices import DEVICES, resolve_device
from .errors import NerError
from .evaluation import Scores
from .events import EpochRecord
from .io.files import write_bytes, write_json
from .io.strict_json import loads
from .model import TaggerNetwork
from .model_check import check_shapes, check_vocab, load_weights, optional, read_header, read_json_file, require
from .record import ModelRecord
from .vocab import Vocabularies

CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY = "config.json", "vocab.json", "model.safetensors", "metrics.json", "history.jsonl"
ATOMIC_NAMES = (CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY, "state.safetensors", "seeds.json")


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files that ``atomic_write`` left behind when a process was killed mid-write."""
    for path in Path(directory).rglob(".*"):
        if path.is_file() and any(path.name.startswith(f".{name}.") for name in ATOMIC_NAMES):
            path.unlink(missing_ok=True)


@dataclass
class LoadedModel:
    """A model ready for inference, with what is needed to read its outputs."""

    model: TaggerNetwork
    vocab: Vocabularies
    record: ModelRecord

    @property
    def input_scheme(self) -> str:
        return self.record.input_scheme

    @property
    def train_scheme(self) -> str:
        return self.record.train_scheme

    @property
    def max_word_chars(self) -> int:
        return self.record.max_word_chars


def build_tagger(record: ModelRecord, vocab: Vocabularies) -> TaggerNetwork:
    """The network a record and its vocabularies describe, freshly initialised."""
    return TaggerNetwork(record.model, len(vocab.words), len(vocab.chars), vocab.labels.itos, record.train_scheme, vocab.num_bigrams)


def save_model(directory: Path, model: TaggerNetwork, vocab: Vocabularies, record: ModelRecord) -> None:
    """Write weights, vocabulary and configuration, each atomically. Weights go last so a
    directory with weights always has the matching JSON."""
    directory = Path(directory)
    write_json(directory / CONFIG, record.to_dict())
    write_json(directory / VOCAB, vocab.to_dict())
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_bytes(directory / WEIGHTS, save(state, metadata={"format": "pt"}))


def load_model(directory: str | Path, device: str = "cpu", quantize: bool = False) -> LoadedModel:
    """Load a model directory onto ``device`` (cpu, cuda, cuda:1, or auto: CUDA when there is a GPU),
    checking every file before anything is allocated (``model_check``): a corrupted or crafted
    directory is refused with one NerError naming the file and the key. ``quantize``: int8
    recurrent and linear layers (``quantization``), CPU only."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NerError("model directory not found", path=str(directory))
    cpath, vpath, wpath = directory / CONFIG, directory / VOCAB, directory / WEIGHTS
    record = ModelRecord.from_dict(read_json_file(cpath), cpath)
    vocab = check_vocab(read_json_file(vpath), vpath, record.train_scheme)
    check_shapes(record, vocab, read_header(wpath), wpath)
    model = build_tagger(record, vocab)
    load_weights(model, wpath)
    if not isinstance(device, str):
        raise NerError(f"device must be a string (auto, cpu, cuda or cuda:N), not {device!r}")
    try:
        target = resolve_device(device) if device in DEVICES else torch.device(device)
    except RuntimeError:
        raise NerError(f"unknown device {device!r}: auto, cpu, cuda or cuda:N") from None
    if quantize and device == "auto":
        target = torch.device("cpu")  # int8 kernels are CPU kernels: auto means the CPU here
    if quantize and target.type != "cpu":
        raise NerError(f"a quantised model runs on the CPU, not {target}", path=str(directory))
    model.to(target).eval()
    if quantize:
        from .quantization import quantize as quantized

        model = quantized(model)
    return LoadedModel(model, vocab, record)


@dataclass
class ModelDescription:
    """What ``info --model`` shows: the record, the network's size and the scores in metrics.json."""

    record: ModelRecord
    parameters: int
    labels: list[str]
    words: int
    chars: int
    best_dev_f1: float | None
    test_f1: float | None

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "model": r.model.to_dict(), "parameters": self.parameters, "labels": self.labels, "input_scheme": r.input_scheme,
            "train_scheme": r.train_scheme, "tokenization": r.tokenization, "words": self.words, "chars": self.chars,
            "embeddings": r.embeddings.to_dict() if r.embeddings else None, "data": r.data, "versions": r.versions,
            "best_dev_f1": self.best_dev_f1, "test_f1": self.test_f1,
        }


def model_files(directory: str | Path) -> list[Path]:
    """The files of a model directory that loading, describing or resuming it reads."""
    from .checkpoint import checkpoint_path

    return [Path(directory) / name for name in (CONFIG, VOCAB, WEIGHTS, METRICS, HISTORY)] + [checkpoint_path(Path(directory))]


def describe_model(directory: str | Path, loaded: LoadedModel | None = None) -> ModelDescription:
    """Describe a model directory, loading it (refused like ``load_model`` when anything is wrong)
    unless the caller has ``loaded`` it already."""
    loaded = loaded or load_model(directory)
    metrics = read_metrics(directory)
    best_dev_f1 = metrics.dev.micro.f1 if metrics else None
    test_f1 = metrics.test.micro.f1 if metrics and metrics.test else None
    return ModelDescription(loaded.record, sum(p.numel() for p in loaded.model.parameters()), loaded.vocab.labels.itos,
                            len(loaded.vocab.words), len(loaded.vocab.chars), best_dev_f1, test_f1)


@dataclass(frozen=True)
class TrainingMetrics:
    """metrics.json: the best epoch, epochs run, the best dev scores and the test scores (None when
    the model had no test set), and the run's seconds."""

    best_epoch: int
    epochs_run: int
    dev: Scores
    test: Scores | None
    seconds: float | None


def _scores(raw: Any, path: Path, where: str) -> Scores:
    """A Scores record from metrics.json's ``where`` part, every number checked."""
    require(raw if isinstance(raw, dict) else None, "types", dict, path, where)
    for name, part in (("micro", raw.get("micro")), *((f"types.{t}", v) for t, v in raw["types"].items())):
        if not isinstance(part, dict):
            raise NerError(f"key '{where}{name}' has the wrong type", path=str(path))
        for key in ("precision", "recall", "f1"):
            require(part, key, (int, float), path, f"{where}{name}.")
        require(part, "support", int, path, f"{where}{name}.")
    for key in ("scheme", "mode"):
        require(raw, key, str, path, where)
    try:
        return Scores.from_dict(raw)
    except TypeError as e:
        raise NerError(f"malformed scores at '{where.rstrip('.')}' ({e})", path=str(path)) from None


def read_metrics(directory: str | Path) -> TrainingMetrics | None:
    """metrics.json of a model directory (None when absent), refused with a NerError naming the
    key when anything is missing or mistyped."""
    path = Path(directory) / METRICS
    if not path.is_file():
        return None
    raw = read_json_file(path)
    if not isinstance(raw, dict):
        raise NerError("metrics must be a JSON object", path=str(path))
    test = optional(raw, "test", dict, path)
    return TrainingMetrics(require(raw, "best_epoch", int, path), require(raw, "epochs_run", int, path),
                           _scores(require(raw, "dev", dict, path), path, "dev."),
                           _scores(test, path, "test.") if test is not None else None, optional(raw, "seconds", (int, float), path))


def read_history(directory: str | Path) -> list[EpochRecord]:
    """history.jsonl of a model directory, one record per epoch ([] when absent), parsed strictly
    (no NaN, bounded nesting); a malformed line is refused with a NerError naming it."""
    path = Path(directory) / HISTORY
    if not path.is_file():
        return []
    fields = {f.name: f.type for f in dataclasses.fields(EpochRecord)}
    history = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = loads(line.decode("utf-8"))
                if not isinstance(raw, dict) or set(raw) != set(fields):
                    raise ValueError(f"expected the keys {', '.join(sorted(fields))}")
                for key, value in raw.items():
                    kind = {"bool": bool, "int": int}.get(fields[key], (int, float))
                    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                        raise ValueError(f"{key} must be {'true or false' if kind is bool else 'a number'}")
                history.append(EpochRecord(**raw))
            except ValueError as e:  # JsonError and UnicodeDecodeError included
                raise NerError(f"malformed history record: {e}", path=str(path), line=lineno) from None
    return history
