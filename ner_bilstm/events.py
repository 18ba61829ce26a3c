"""Progress events: what ``train`` and ``train_seeds`` report through their callback, in this order:
``SeedStarted`` (before each seed of ``train_seeds``), ``DataLoaded``, ``Resumed`` (with resume),
then per epoch ``EpochStarted``, one ``BatchDone`` per step and ``EpochEnded``; ``Tested`` last
when there is a test set. In a distributed run only the main process reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .embeddings import EmbeddingCoverage

if TYPE_CHECKING:
    from .evaluation import Scores


@dataclass(frozen=True)
class SeedStarted:
    """Seed ``seed``, the ``index``-th (from 0) of ``of``, starts; ``resume``: from its checkpoint."""

    seed: int
    index: int
    of: int
    resume: bool


@dataclass(frozen=True)
class DataLoaded:
    """The data is read and the model built: sentence counts, the training set's scheme and
    types, vocabulary sizes (``bigrams`` 0 and ``bigram_dim`` 0 without bigrams), and entity
    counts per type that dev or test has and training lacks (``unseen``: role -> type -> count),
    and per role the summary of what reading changed or left out (``notes``: spans aligned to
    tokens, records skipped, types renamed); ``linked``: training tokens the document memory
    links to other mentions (None without a memory); ``bf16``: the LSTM trains in bfloat16."""

    train: int
    dev: int
    test: int
    tokens: int
    scheme: str
    types: list[str]
    words: int
    chars: int
    bigrams: int
    bigram_dim: int
    device: str
    tokenization: str
    embeddings: EmbeddingCoverage | None
    unseen: dict[str, dict[str, int]]
    notes: dict[str, str]
    linked: int | None = None
    bf16: bool = False


@dataclass(frozen=True)
class Resumed:
    """Training continues in ``epoch`` after ``position`` batches; ``finished``: it had ended."""

    epoch: int
    position: int
    finished: bool


@dataclass(frozen=True)
class EpochStarted:
    """Epoch ``epoch`` of ``batches`` batches over ``sentences`` sentences; ``done`` batches are
    behind it already (a resumed epoch)."""

    epoch: int
    batches: int
    sentences: int
    done: int


@dataclass(frozen=True)
class BatchDone:
    """One optimisation step: its mean loss per sentence and its size."""

    loss: float
    sentences: int
    tokens: int


@dataclass
class EpochRecord:
    """One line of history.jsonl: an epoch's mean training loss, dev scores, learning rate and speed."""

    epoch: int
    loss: float
    dev_precision: float
    dev_recall: float
    dev_f1: float
    lr: float
    seconds: float
    sentences_per_second: float
    tokens_per_second: float
    best: bool


@dataclass(frozen=True)
class EpochEnded:
    """An epoch is trained and scored on dev."""

    record: EpochRecord


@dataclass(frozen=True)
class Tested:
    """The best model's test scores."""

    scores: Scores


Event = SeedStarted | DataLoaded | Resumed | EpochStarted | BatchDone | EpochEnded | Tested
Callback = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The callback of a caller that wants no progress."""
