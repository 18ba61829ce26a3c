"""Training configuration: defaults, TOML files and command-line overrides."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomllib

from .errors import NerError
from .io import SOURCE_FORMATS
from .io.files import check_encoding
from .io.spans import TOKENIZERS
from .label_map import parse_label_map

MEMORY_SCOPES = ("linked", "all")  # which tokens the document memory's head scores (doc_memory.MemoryHead)

CHOICES = {
    "head": ("crf", "softmax"),
    "rnn": ("lstm", "gru"),
    "char": ("auto", "cnn", "lstm", "none"),
    "bigrams": ("auto", "on", "off"),
    "doc_memory": ("auto", "on", "off"),
    "memory_scope": MEMORY_SCOPES,
    "optimizer": ("sgd", "adam", "lazyadam"),
    "scheme": ("auto", "iob1", "iob2", "bioes", "bmes", "bilou"),
    "train_scheme": ("bioes", "iob2"),
    "device": ("auto", "cpu", "cuda"),
    "bf16": ("auto", "on", "off"),
    "input_format": SOURCE_FORMATS,
    "tokenize": TOKENIZERS,
}


MAX_SEED = 2**32 - 1  # numpy's seeds stop there

# Upper bounds far past any useful tagger. They stop a typo (--hidden 100000000) or a crafted
# model directory from reaching the allocator.
LIMITS = {
    "layers": 32, "hidden": 8192, "word_dim": 8192, "char_dim": 1024, "char_filters": 4096, "char_hidden": 4096,
    "casing_dim": 1024, "heads": 64, "bigram_dim": 1024, "memory_dim": 4096, "max_word_chars": 10_000,
}


@dataclass(frozen=True)
class ModelConfig:
    """The options that shape the network, which must match when weights are loaded: what
    ``TaggerNetwork`` takes and config.json's "model" record. ``bigram_dim`` 0 means no bigrams,
    ``memory_dim`` 0 no document memory, whose head scores the tokens of ``memory_scope``
    (``doc_memory.MemoryHead``)."""

    head: str = "crf"
    rnn: str = "lstm"
    layers: int = 1
    hidden: int = 200
    word_dim: int = 100
    char: str = "cnn"
    char_dim: int = 30
    char_filters: int = 50
    char_hidden: int = 25
    casing: bool = True
    casing_dim: int = 8
    dropout: float = 0.5
    attention: bool = False
    heads: int = 4
    bigram_dim: int = 0
    memory_dim: int = 0
    memory_scope: str = "linked"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


MODEL_KEYS = tuple(f.name for f in fields(ModelConfig))


@dataclass
class TrainConfig:
    """Every training option. Defaults reach the CoNLL-2003 bar without tuning."""

    # model (defaults in ModelConfig)
    head: str = ModelConfig.head
    rnn: str = ModelConfig.rnn
    layers: int = ModelConfig.layers
    hidden: int = ModelConfig.hidden
    word_dim: int = ModelConfig.word_dim
    char: str = "auto"  # the character encoder; auto: a BiLSTM for word-level data, the CNN for character-level data (setup)
    char_dim: int = ModelConfig.char_dim
    char_filters: int = ModelConfig.char_filters
    char_hidden: int = ModelConfig.char_hidden
    casing: bool = ModelConfig.casing
    casing_dim: int = ModelConfig.casing_dim
    dropout: float = ModelConfig.dropout
    attention: bool = ModelConfig.attention
    heads: int = ModelConfig.heads
    bigrams: str = "auto"  # embeddings of token bigrams; auto: for character-level data (Chinese), where they help
    bigram_dim: int = 100  # the model's config records 0 when bigrams are off
    doc_memory: str = "auto"  # a memory of other mentions in the same document (doc_memory.py); auto: when the data has documents
    memory_dim: int = 100  # hidden width of the memory's scorer; the model's config records 0 when the memory is off
    memory_scope: str = ModelConfig.memory_scope  # "all": the memory scores every token, as format 3 did (to resume such a run)
    # optimisation
    optimizer: str = "adam"
    lr: float = 0.002
    embed_lr: float = 1.0  # multiplies lr for the word and bigram embedding tables (optimization.make_optimizer)
    lr_decay: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 0  # sentences per step and process; 0: auto, from the training set's size (setup.batch_size_for)
    epochs: int = 100  # only a cap: early stopping on dev F1 (patience) is what ends a run
    patience: int = 8
    clip: float = 5.0
    average: float = 0.0  # decay of a moving average of the weights, which dev scores and the model keeps (0: off)
    word_dropout: float = 0.5
    replace_mentions: float = 0.0  # chance, each epoch, that a training mention reads as another of its type and length
    locked_dropout: bool = False  # one dropout mask per sentence for word-level features (TaggerNetwork.lock_dropout)
    seed: int = 42
    # data
    min_freq: int = 1
    normalize_digits: bool = True
    lowercase: bool = True
    scheme: str = "auto"
    train_scheme: str = "bioes"
    token_col: int = 0
    tag_col: int = -1
    tokens_field: str = "tokens"
    tags_field: str = "ner_tags"
    train_split: str = "train"
    dev_split: str = "validation"
    test_split: str = "test"
    embeddings: str = ""
    compose_vectors: bool = False  # a word without a pretrained vector gets the mean of its pieces' (embeddings.corpus_vectors)
    lazy: bool = False  # stream a datasets source from its Arrow files instead of loading it
    encoding: str = "utf-8"
    input_format: str = "auto"  # of the train, dev and test sources (auto: each detected)
    tokenize: str = "word"  # how annotation-tool texts without tokens are split
    label_map: str = ""  # OLD=NEW,... renames entity types while reading (OLD= drops one)
    max_word_chars: int = 40
    # runtime
    device: str = "auto"
    amp: bool = False  # automatic mixed precision on CUDA (bfloat16 where supported, else float16 with loss scaling)
    bf16: str = "auto"  # the LSTM layers train in bfloat16 (devices.resolve_bf16; auto: on a CPU that computes it natively)
    threads: int = 0
    eval_batch_size: int = 256
    checkpoint_every: int = 1000  # steps between checkpoints (0: only after each epoch)

    def model_config(self) -> ModelConfig:
        return ModelConfig(**{k: getattr(self, k) for k in MODEL_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self, source: str = "configuration") -> TrainConfig:
        for key, choices in CHOICES.items():
            if getattr(self, key) not in choices:
                raise NerError(f"{key} must be one of {', '.join(choices)}, not {getattr(self, key)!r}", path=source, option=key)
        for key in ("layers", "hidden", "word_dim", "char_dim", "char_filters", "char_hidden", "casing_dim",
                    "epochs", "patience", "heads", "min_freq", "max_word_chars", "eval_batch_size"):
            if getattr(self, key) < 1:
                raise NerError(f"{key} must be at least 1, not {getattr(self, key)}", path=source, option=key)
        if self.batch_size < 0:
            raise NerError(f"batch_size must be at least 1 (or 0 for auto), not {self.batch_size}", path=source, option="batch_size")
        for key, limit in LIMITS.items():
            if getattr(self, key) > limit:
                raise NerError(f"{key} must be at most {limit:,}, not {getattr(self, key):,}", path=source, option=key)
        for key in ("dropout", "word_dropout", "average", "replace_mentions"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise NerError(f"{key} must be in [0, 1), not {getattr(self, key)}", path=source, option=key)
        if self.memory_dim < 0 or (self.doc_memory == "on" and self.memory_dim == 0):
            raise NerError(f"memory_dim must be at least 1 with doc_memory on (0 turns it off), not {self.memory_dim}",
                           path=source, option="memory_dim")
        if self.bigram_dim < 0 or (self.bigrams == "on" and self.bigram_dim == 0):
            raise NerError(f"bigram_dim must be at least 1 with bigrams on (0 turns them off), not {self.bigram_dim}",
                           path=source, option="bigram_dim")
        if not 0 <= self.seed <= MAX_SEED:
            raise NerError(f"seed must be from 0 to {MAX_SEED:,}, not {self.seed:,}", path=source, option="seed")
        if not 0 < self.lr < math.inf:
            raise NerError(f"lr must be a positive number, not {self.lr}", path=source, option="lr")
        for key in ("embed_lr", "lr_decay", "weight_decay", "clip"):
            if not 0 <= getattr(self, key) < math.inf:
                raise NerError(f"{key} must be a number of at least 0, not {getattr(self, key)}", path=source, option=key)
        if not 0 <= self.momentum < 1:
            raise NerError(f"momentum must be in [0, 1), not {self.momentum}", path=source, option="momentum")
        for key in ("threads", "checkpoint_every"):
            if getattr(self, key) < 0:
                raise NerError(f"{key} must be at least 0, not {getattr(self, key)}", path=source, option=key)
        try:
            check_encoding(self.encoding)
        except NerError as e:
            raise NerError(f"encoding must name a text encoding that lines can be read in ({e.message})",
                           path=source, option="encoding") from None
        try:
            parse_label_map(self.label_map)
        except ValueError as e:
            raise NerError(f"label_map must be OLD=NEW,...: {e}", path=source, option="label_map") from None
        if self.attention and (2 * self.hidden) % self.heads:
            raise NerError(f"heads ({self.heads}) must divide 2 * hidden ({2 * self.hidden})", path=source, option="heads")
        return self


def _coerce(key: str, value: Any, kind: type, source: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise NerError(f"{key} must be a {kind.__name__}, not {value!r}", path=source, option=key)
    return value


def option_types() -> dict[str, type]:
    """The Python type of every option, by name."""
    return {f.name: {"int": int, "float": float, "str": str, "bool": bool}[f.type] for f in fields(TrainConfig)}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the TOML file (flat keys, or inside [model]/[training]/[data] tables), then
    ``overrides`` whose value is not None."""
    kinds = option_types()
    values: dict[str, Any] = {}
    source = str(path) if path else "configuration"
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise NerError("no such file", path=str(path)) from None
        except tomllib.TOMLDecodeError as e:
            raise NerError(f"not valid TOML: {e}", path=str(path)) from None
        flat: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
        for key, value in flat.items():
            key = key.replace("-", "_")
            if key not in kinds:
                raise NerError(f"unknown option {key!r}", path=source)
            values[key] = _coerce(key, value, kinds[key], source)
    for key, value in (overrides or {}).items():
        if key not in kinds:
            raise NerError(f"unknown option {key!r}", path="command line")
        if value is not None:
            values[key] = _coerce(key, value, kinds[key], "command line")
    return TrainConfig(**values).validate(source)
