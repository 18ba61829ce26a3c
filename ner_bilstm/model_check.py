"""Checking a model directory before anything is allocated.

A model directory is input like any other: it may be truncated, corrupted or crafted. Its
JSON files are read as strict JSON and checked key by key (types, choices, ranges); the
weights' names, dtypes and shapes come from the safetensors header alone; the network is then
built on the ``meta`` device, which allocates nothing, and its shapes compared with the file's.
Only when all of that agrees is the real network built, so loading allocates no more than the
files hold.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open

from .config import CHOICES, LIMITS, MODEL_KEYS, TrainConfig, option_types
from .errors import NerError
from .io.strict_json import JsonError, loads
from .model import TaggerNetwork
from .schemes import SCHEMES, label_set, parse_tag
from .vocab import PAD, UNK, Vocabularies

if TYPE_CHECKING:
    from .config import ModelConfig
    from .record import ModelRecord

FORMAT_VERSION = 4  # 2: bigram embeddings, 3: document memory, 4: its head on linked tokens only (a model with none is written as 1)
MAX_LABELS = 4096  # a CRF over more tags would be absurd; the softmax head keeps labels² masks
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
TOKENIZATIONS = ("word", "char")
MODEL_CHARS = tuple(c for c in CHOICES["char"] if c != "auto")


def read_json_file(path: Path) -> Any:
    """A model directory's JSON file, parsed strictly (no NaN, bounded nesting)."""
    if not path.is_file():
        raise NerError(f"model directory is missing {path.name}", path=str(path.parent))
    try:
        return loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise NerError(f"not valid JSON: not UTF-8 text ({e.reason} at byte {e.start + 1})", path=str(path)) from None
    except JsonError as e:
        message = str(e) if str(e).startswith("not valid JSON") else f"not valid JSON: {e}"
        raise NerError(message, path=str(path)) from None


def require(obj: Any, key: str, kind: type | tuple, path: Path, where: str = "") -> Any:
    """``obj[key]``, which must exist and be of ``kind`` (a bool is never taken for a number)."""
    name = f"{where}{key}"
    if not isinstance(obj, dict) or key not in obj:
        raise NerError(f"missing key {name!r}", path=str(path))
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))):
        raise NerError(f"key {name!r} has the wrong type", path=str(path))
    return value


def optional(obj: dict, key: str, kind: type | tuple, path: Path, where: str = "") -> Any:
    """``obj[key]`` checked as ``require`` does when it is present and not null; else None."""
    return require(obj, key, kind, path, where) if key in obj and obj[key] is not None else None


def check_config(config: Any, path: Path) -> dict[str, Any]:
    """Refuse a config.json whose keys are missing, mistyped, out of range or unknown choices;
    returns it, with the defaults of model keys an older format lacks filled in."""
    version = require(config, "format_version", int, path)
    if version > FORMAT_VERSION:
        raise NerError(f"model format {version} is newer than this ner-bilstm reads ({FORMAT_VERSION}); upgrade ner-bilstm",
                       path=str(path))
    model = require(config, "model", dict, path)
    model.setdefault("bigram_dim", 0)  # models from before bigrams
    model.setdefault("memory_dim", 0)  # models from before the document memory
    model.setdefault("memory_scope", "all" if version <= 3 else "linked")  # format 3's memory head scored every token
    kinds = option_types()
    for key in MODEL_KEYS:
        require(model, key, (int, float) if kinds[key] is float else kinds[key], path, "model.")
    training = require(config, "training", dict, path)
    max_chars = optional(training, "max_word_chars", int, path, "training.")
    # Choices, ranges and upper bounds have one home: the training configuration's own checks.
    extra = {} if max_chars is None else {"max_word_chars": max_chars}
    TrainConfig(**{k: model[k] for k in MODEL_KEYS}, **extra).validate(str(path))
    if model["char"] not in MODEL_CHARS:  # "auto" is for training; a model holds what it chose
        raise NerError(f"model.char must be one of {', '.join(MODEL_CHARS)}, not {model['char']!r}", path=str(path))
    for key, choices in (("input_scheme", SCHEMES), ("train_scheme", CHOICES["train_scheme"])):
        if require(config, key, str, path) not in choices:
            raise NerError(f"{key} must be one of {', '.join(choices)}, not {config[key]!r}", path=str(path))
    if config.get("tokenization", "word") not in TOKENIZATIONS:
        raise NerError(f"tokenization must be one of {', '.join(TOKENIZATIONS)}, not {config['tokenization']!r}", path=str(path))
    embeddings = optional(config, "embeddings", dict, path)
    if embeddings is not None:
        for key in ("dim", "words"):
            require(embeddings, key, int, path, "embeddings.")
        require(embeddings, "tokens", (int, float), path, "embeddings.")
        for key in ("vocabulary", "file_words", "composed"):
            optional(embeddings, key, int, path, "embeddings.")
        for key in ("name", "version"):
            optional(embeddings, key, str, path, "embeddings.")
    for key in ("labels", "entity_types", "command"):
        if not all(isinstance(v, str) for v in optional(config, key, list, path) or []):
            raise NerError(f"{key} must be a list of strings", path=str(path))
    optional(config, "created", str, path)
    for role, fingerprint in (optional(config, "data", dict, path) or {}).items():
        require(fingerprint if isinstance(fingerprint, dict) else None, "path", str, path, f"data.{role}.")
        optional(fingerprint, "sha256", str, path, f"data.{role}.")
    for name, value in (optional(config, "versions", dict, path) or {}).items():
        if not isinstance(value, str):
            raise NerError(f"key 'versions.{name}' has the wrong type", path=str(path))
    return config


def _strings(raw: dict, key: str, path: Path) -> list[str]:
    values = require(raw, key, list, path)
    if not all(isinstance(v, str) for v in values):
        raise NerError(f"{key} must be a list of strings", path=str(path))
    return values


def check_vocab(raw: Any, path: Path, train_scheme: str) -> Vocabularies:
    """Vocabularies from vocab.json, refused unless every list is well-formed: unique strings,
    padding and unknown entries first, labels that are tags of the model's training scheme."""
    words, chars, labels = _strings(raw, "words", path), _strings(raw, "chars", path), _strings(raw, "labels", path)
    counts = require(raw, "word_counts", list, path)
    if len(counts) != len(words) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise NerError("word_counts must hold one count (an integer >= 0) per word", path=str(path))
    require(raw, "normalize_digits", bool, path)
    optional(raw, "lowercase", bool, path)
    bigrams = _strings(raw, "bigrams", path) if "bigrams" in raw else None
    for key, entries in (("words", words), ("chars", chars), ("bigrams", bigrams)):
        if entries is not None and entries[:2] != [PAD, UNK]:
            raise NerError(f"{key} must start with {PAD!r} and {UNK!r}", path=str(path))
    if not 1 <= len(labels) <= MAX_LABELS:
        raise NerError(f"labels must hold 1 to {MAX_LABELS:,} tags, not {len(labels):,}", path=str(path))
    try:
        types = {parse_tag(label)[1] for label in labels} - {""}
    except ValueError as e:
        raise NerError(f"labels: {e}", path=str(path)) from None
    # Decoding and scoring need every tag of every type, in the scheme the model was trained in.
    complete = set(label_set(sorted(types), train_scheme))
    if set(labels) != complete:
        odd = sorted(set(labels) ^ complete)
        raise NerError(f"labels are not the {train_scheme.upper()} tag set of their types (check {', '.join(odd[:4])})",
                       path=str(path))
    try:
        return Vocabularies.from_dict(raw)
    except ValueError as e:  # duplicate entries
        raise NerError(f"malformed vocabulary: {e}", path=str(path)) from None


def read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Name -> (dtype, shape) of every tensor in a safetensors file, from its header only."""
    if not path.is_file():
        raise NerError(f"model directory is missing {path.name}", path=str(path.parent))
    try:
        with safe_open(str(path), "pt") as f:
            header = {}
            for name in f.keys():
                part = f.get_slice(name)
                header[name] = (part.get_dtype(), tuple(part.get_shape()))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise NerError(f"not a valid safetensors file ({e})", path=str(path)) from None
    for name, (dtype, _) in header.items():
        if dtype not in FLOAT_DTYPES:
            raise NerError(f"weight {name} has dtype {dtype}; expected one of {', '.join(FLOAT_DTYPES)}", path=str(path))
    return header


def _meta_shapes(model: ModelConfig, words: int, chars: int, labels: list[str], scheme: str,
                 bigrams: int = 0) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the network a configuration describes, built on the meta device (no memory)."""
    with torch.device("meta"):
        skeleton = TaggerNetwork(model, words, chars, labels, scheme, bigrams)
    return {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}


def _probe(model: ModelConfig, words: int, chars: int, labels: list[str], scheme: str,
           bigrams: int = 0, **change: Any) -> dict[str, tuple[int, ...]] | None:
    """``_meta_shapes`` of a what-if configuration (``model`` with ``change``), None when that
    configuration cannot be built (say, attention heads that do not divide the width)."""
    try:
        return _meta_shapes(dataclasses.replace(model, **change), words, chars, labels, scheme, bigrams)
    except (ValueError, AssertionError, KeyError, RuntimeError):
        return None


def _causes(record: ModelRecord, vocab: Vocabularies, name: str, base: tuple[int, ...], found: tuple[int, ...]) -> str:
    """The configured values that set the axes where tensor ``name`` (``base`` as configured)
    differs from the file's shape ``found``: each value is changed on a meta build in turn, to
    see which axes move."""
    model, scheme, labels = record.model, record.train_scheme, vocab.labels.itos
    sizes = (len(vocab.words), len(vocab.chars), labels)
    wrong = {axis for axis, (a, b) in enumerate(zip(base, found)) if a != b} if len(base) == len(found) else set(range(len(base)))

    def moves(shape: tuple[int, ...] | None) -> bool:  # None: the what-if could not be built, so it tells nothing
        return shape is not None and any(shape[axis] != base[axis] for axis in wrong)

    causes = [f"config.json model.{key} = {getattr(model, key)}"
              for key in ("word_dim", "char_dim", "char_filters", "char_hidden", "casing_dim", "hidden", "bigram_dim", "memory_dim")
              if moves((_probe(model, *sizes, scheme, vocab.num_bigrams, **{key: 2 * getattr(model, key)}) or {}).get(name))]
    extra = ["B-ZZ", "I-ZZ", "E-ZZ", "S-ZZ"] if scheme == "bioes" else ["B-ZZ", "I-ZZ"]
    bigrams = vocab.num_bigrams
    for what, probe in (("words", (sizes[0] + 1, sizes[1], labels, bigrams)), ("chars", (sizes[0], sizes[1] + 1, labels, bigrams)),
                        ("labels", (sizes[0], sizes[1], [*labels, *extra], bigrams)), ("bigrams", (*sizes, bigrams + 1))):
        if moves((_probe(model, *probe[:3], scheme, probe[3]) or {}).get(name)):
            causes.append(f"vocab.json's {len(getattr(vocab, what)):,} {what}")
    return (" and ".join(causes) + (" give" if len(causes) > 1 else " gives")) if causes else "config.json and vocab.json give"


def _structure(record: ModelRecord, vocab: Vocabularies, header: dict[str, Any]) -> str:
    """The one structural key (layers, head, rnn, char, casing, attention) whose other value
    would give the file's set of tensors, if there is one."""
    model = record.model
    sizes = (len(vocab.words), len(vocab.chars), vocab.labels.itos, record.train_scheme, vocab.num_bigrams)
    alternatives = {"layers": range(1, LIMITS["layers"] + 1), "head": CHOICES["head"], "rnn": CHOICES["rnn"], "char": MODEL_CHARS,
                    "casing": (True, False), "attention": (True, False)}
    for key, values in alternatives.items():
        for value in values:
            if value != getattr(model, key) and set(_probe(model, *sizes, **{key: value}) or ()) == set(header):
                return (f"config.json has model.{key} = {json.dumps(getattr(model, key))}, "
                        f"but the weights are for {key} = {json.dumps(value)}")
    return "the weights are not those of the network config.json describes"


def check_shapes(record: ModelRecord, vocab: Vocabularies, header: dict[str, tuple[str, tuple[int, ...]]],
                 weights: Path) -> None:
    """Build the network on the meta device and refuse weights whose names or shapes differ,
    naming the configured values that disagree with the file."""
    if record.model.bigram_dim and vocab.bigrams is None:
        raise NerError(f"config.json has model.bigram_dim = {record.model.bigram_dim}, but vocab.json has no bigrams",
                       path=str(weights.parent))
    try:
        expected = _meta_shapes(record.model, len(vocab.words), len(vocab.chars), vocab.labels.itos, record.train_scheme,
                                vocab.num_bigrams)
    except (ValueError, KeyError, TypeError) as e:
        raise NerError(f"inconsistent configuration: {e}", path=str(weights.parent / "config.json")) from None
    if set(header) != set(expected):
        missing, extra = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
        raise NerError(f"{_structure(record, vocab, header)} (missing {missing[:2]}, unexpected {extra[:2]})", path=str(weights))
    for name, shape in expected.items():
        found = header[name][1]
        if found != shape:
            raise NerError(f"weight {name} has shape {found}, but {_causes(record, vocab, name, shape, found)} {shape}",
                           path=str(weights))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Copy a checked safetensors file into ``model`` one tensor at a time (so loading never holds
    a second copy of the weights), refusing any tensor with NaN or an infinity."""
    target = model.state_dict()
    try:
        with safe_open(str(path), "pt") as f:
            for name in f.keys():
                tensor = f.get_tensor(name)
                if not bool(torch.isfinite(tensor).all()):
                    raise NerError(f"weight {name} holds NaN or infinite values", path=str(path))
                target[name].copy_(tensor)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise NerError(f"not a valid safetensors file ({e})", path=str(path)) from None
