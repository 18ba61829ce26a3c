"""Training checkpoints for exact resume: one safetensors file holding the model, the optimiser,
every random state and the loop's position, written atomically. Nothing in it is unpickled."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .doc_memory import DocumentMemory
from .errors import NerError
from .io.files import write_bytes

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "state.safetensors"
CHECKPOINT_VERSION = 1
# Training options a checkpoint may predate, at the values that reproduce what it did
# (with bigram_dim 0 the bigrams setting changes nothing).
LEGACY_TRAINING = {"bigram_dim": 0, "average": 0.0, "input_format": "auto", "tokenize": "word", "label_map": "",
                   "doc_memory": "off", "memory_dim": 0, "bf16": "off", "locked_dropout": False,
                   "embed_lr": 1.0, "compose_vectors": False, "replace_mentions": 0.0}


@dataclass
class LoopState:
    """Where the training loop is: ``position`` batches of ``epoch`` are done."""

    epoch: int = 1
    position: int = 0
    total_loss: float = 0.0
    sentences: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    wall_seconds: float = 0.0  # wall time of the run up to this state, across resumes
    best_f1: float = -1.0
    best_epoch: int = 0
    best_dev: dict = field(default_factory=dict)
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)
    finished: bool = False


def checkpoint_path(output: Path) -> Path:
    return Path(output) / CHECKPOINT_DIR / CHECKPOINT_FILE


def save_checkpoint(output: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: LoopState,
                    epoch_generator: torch.Tensor, identity: dict[str, Any], rank_rng: list[torch.Tensor] | None = None,
                    average: torch.nn.Module | None = None, memory: DocumentMemory | None = None,
                    rank_totals: torch.Tensor | None = None) -> None:
    """Write the full training state atomically (temporary file, fsync, rename).

    ``epoch_generator`` is the batch-order generator's state at the start of ``state.epoch``;
    ``identity`` (configuration and data fingerprints) is checked on resume; ``rank_rng`` holds
    every training process's torch RNG state under torchrun, and ``rank_totals (processes, 3)`` each
    one's running loss, sentences and tokens of the epoch (summed only at its end); ``average`` the
    moving average of the weights; ``memory`` the training corpus's document memory.
    """
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if average is not None:
        tensors.update({f"average.{k}": v.detach().cpu().contiguous() for k, v in average.state_dict().items()})
    if memory is not None:
        tensors.update({f"memory.{k}": v for k, v in memory.state_dict().items()})
    opt = optimizer.state_dict()
    extra: dict[str, Any] = {}
    for index, slots in opt["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                extra[f"{index}.{name}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    for rank, rng in enumerate(rank_rng or []):
        tensors[f"rng.torch.{rank}"] = rng
    tensors["rng.epoch_generator"] = epoch_generator
    if rank_totals is not None:
        tensors["loop.rank_totals"] = rank_totals.to(torch.float64)
    np_state = np.random.get_state()
    meta = {
        "version": CHECKPOINT_VERSION,
        "loop": asdict(state),
        "identity": identity,
        "param_groups": opt["param_groups"],
        "optimizer_scalars": extra,
        "python_random": random.getstate(),
        "numpy_random": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    path = checkpoint_path(output)
    write_bytes(path, save(tensors, metadata={"state": json.dumps(meta)}))


def load_checkpoint(output: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    identity: dict[str, Any], rank: int = 0,
                    average: torch.nn.Module | None = None,
                    memory: DocumentMemory | None = None) -> tuple[LoopState, torch.Tensor]:
    """Restore model, optimiser and random states; returns the loop state and the epoch's
    batch-order generator state. Refuses a checkpoint of a different configuration or data."""
    path = checkpoint_path(output)
    if not path.is_file():
        raise NerError("nothing to resume: no checkpoint here", path=str(path.parent))
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = json.loads(f.metadata()["state"])
    except (SafetensorError, OSError, KeyError, ValueError, RecursionError) as e:
        raise NerError(f"unreadable checkpoint ({e})", path=str(path)) from None
    if meta.get("version") != CHECKPOINT_VERSION:
        raise NerError(f"checkpoint format {meta.get('version')} is not {CHECKPOINT_VERSION}", path=str(path))
    old = meta["identity"]
    training = old.get("training")
    predates_memory = isinstance(training, dict) and "doc_memory" not in training
    predates_scope = isinstance(training, dict) and bool(training.get("memory_dim")) and "memory_scope" not in training
    predates_bf16 = isinstance(training, dict) and "bf16" not in training
    if isinstance(training, dict):  # options added since that checkpoint, at the values that reproduce it
        now = identity.get("training", {})
        scope = "all" if predates_scope else now.get("memory_scope")  # without a memory the scope is moot
        old["training"] = {**LEGACY_TRAINING, "bigrams": now.get("bigrams"), "memory_scope": scope, **training}
    changed = _differences(old, identity)
    if changed:
        hint = ""
        if predates_memory and any(c.startswith("doc_memory (") for c in changed):
            hint = "; that run predates the document memory: resume it with --doc-memory off"
        elif predates_scope and any(c.startswith("memory_scope (") for c in changed):
            hint = "; that run's memory head scores every token: resume it with --memory-scope all"
        elif any(c.startswith("char ('cnn' then") for c in changed):
            hint = "; the character encoder's default (auto) is a BiLSTM for word-level data since 2026-12-01: resume it with --char cnn"
        elif any(c.startswith("batch_size (64 then") for c in changed):
            hint = "; the batch size's default (auto) follows the training set's size since 2026-12-02: resume it with --batch-size 64"
        elif any(c.startswith("bf16 (") for c in changed):
            hint = ("; that run trained in float32: resume it with --bf16 off" if predates_bf16
                    else "; give --bf16 as that run had it (auto depends on the CPU and the device)")
        raise NerError(f"cannot resume: {'; '.join(changed)} differ from the interrupted run{hint}", path=str(path))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    if average is not None:
        average.load_state_dict({k[len("average."):]: v for k, v in tensors.items() if k.startswith("average.")})
    if memory is not None:
        try:
            memory.load_state_dict({name: tensors[f"memory.{name}"] for name in ("values", "filled")})
        except (KeyError, ValueError) as e:
            raise NerError(f"the checkpoint's document memory does not fit this run ({e})", path=str(path)) from None
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    for key, value in meta["optimizer_scalars"].items():
        index, name = key.split(".", 1)
        opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors.get(f"rng.torch.{rank}", tensors["rng.torch"]))
    version, internal, gauss = meta["python_random"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = meta["numpy_random"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    state = LoopState(**meta["loop"])
    if "loop.rank_totals" in tensors:  # this process's own running sums (the loop state holds rank 0's)
        loss, sentences, tokens = tensors["loop.rank_totals"][rank].tolist()
        state.total_loss, state.sentences, state.tokens = loss, int(sentences), int(tokens)
    return state, tensors["rng.epoch_generator"]


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two identities: each training option by name with both values, else the part's name."""
    out = []
    for part in sorted(set(old) | set(new)):
        a, b = old.get(part), new.get(part)
        if a == b:
            continue
        if part == "training" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"{k} ({a.get(k)!r} then, {b.get(k)!r} now)" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif part == "processes":  # recorded only for several
            out.append(f"processes ({a or 1} then, {b or 1} now)")
        else:
            out.append(part)
    return out
