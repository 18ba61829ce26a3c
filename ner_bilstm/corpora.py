"""The training, dev and test sets of a run, read once; whether training data is held in memory
or streamed from Arrow files (``--lazy``) is decided here and nowhere else."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .batching import EncodedCorpus
from .config import TrainConfig
from .errors import NerError
from .io import ReaderOptions, ReadReport, is_hf_source, read_source
from .record import fingerprint
from .schemes import convert, tags_to_spans
from .sentence import Sentence
from .streaming import ArrowCorpus, StreamedSentences
from .vocab import Vocabularies


class TrainingSentences(Protocol):
    """Labelled sentences that can be read several times and encoded into a training corpus."""

    def __iter__(self) -> Iterator[Sentence]: ...

    def encode(self, vocab: Vocabularies, train_scheme: str, max_word_chars: int) -> EncodedCorpus | ArrowCorpus: ...


@dataclass
class LoadedSentences:
    """Training sentences held in memory, tensorised once."""

    sentences: list[Sentence]

    def __iter__(self) -> Iterator[Sentence]:
        return iter(self.sentences)

    def __len__(self) -> int:
        return len(self.sentences)

    def encode(self, vocab: Vocabularies, train_scheme: str, max_word_chars: int) -> EncodedCorpus:
        return EncodedCorpus(self.sentences, vocab, [convert(s.tags, train_scheme) for s in self.sentences], max_word_chars)


ROLE_NAMES = {"train": "training", "dev": "dev", "test": "test"}  # role -> how messages name it


@dataclass
class Corpora:
    """A run's data: training sentences (in memory or streamed), dev and optional test sentences,
    and the source each role was read from."""

    train: TrainingSentences
    dev: list[Sentence]
    test: list[Sentence] | None
    sources: dict[str, str]
    reports: dict[str, ReadReport]

    def notes(self) -> dict[str, str]:
        """Per role, the one-line summary of what reading changed or left out (spans aligned to
        tokens, records skipped, types renamed); roles read as they are are left out."""
        return {role: line for role, report in self.reports.items() if (line := report.summary())}

    def fingerprints(self, config: TrainConfig) -> dict[str, dict[str, Any]]:
        """What each role was read from, as config.json records it (``record.fingerprint``)."""
        return {role: fingerprint(path, reader_for(config, role).split) for role, path in self.sources.items()}

    def evaluated(self) -> list[Sentence]:
        """Dev and test sentences together (their words may join the vocabulary with pretrained vectors)."""
        return self.dev + (self.test or [])

    def unseen_types(self, types: Sequence[str]) -> dict[str, dict[str, int]]:
        """Entities per type that dev or test has and ``types`` (the training set's) lacks: the model
        can never predict them, so they count as misses. Roles without any are left out."""
        out = {}
        for role, sentences in (("dev", self.dev), ("test", self.test or [])):
            known, counts = set(types), Counter()
            for s in sentences:
                counts.update(span.label for span in tags_to_spans(s.tags or []) if span.label not in known)
            if counts:
                out[role] = dict(sorted(counts.items()))
        return out


def reader_for(config: TrainConfig, role: str) -> ReaderOptions:
    """How to read the source of ``role`` (train, dev or test): the configured columns and fields,
    and the split of a datasets source that serves in that role."""
    split = {"train": config.train_split, "dev": config.dev_split, "test": config.test_split}[role]
    return ReaderOptions(token_col=config.token_col, tag_col=config.tag_col, encoding=config.encoding, split=split,
                         tokens_field=config.tokens_field, tags_field=config.tags_field, input_format=config.input_format,
                         tokenize=config.tokenize, label_map=config.label_map)


def load_sentences(path: str, config: TrainConfig, role: str, report: ReadReport) -> list[Sentence]:
    """All labelled sentences of ``path``, the source of ``role``; an empty source is an error."""
    sentences = list(read_source(path, reader_for(config, role), report=report))
    if not sentences:
        raise NerError(f"the {ROLE_NAMES[role]} set has no sentences", path=path)
    return sentences


def load_corpora(config: TrainConfig, train_path: str, dev_path: str, test_path: str | None) -> Corpora:
    """Read dev and test into memory, and training data too unless ``config.lazy``, which
    streams a datasets source instead."""
    train: TrainingSentences
    reports = {role: ReadReport() for role in ("train", "dev", "test")}
    if config.lazy:
        if not is_hf_source(train_path):
            raise NerError("--lazy reads a datasets source (a save_to_disk folder, parquet or arrow files, hf:NAME)",
                           path=train_path)
        options = reader_for(config, "train")
        train = StreamedSentences(train_path, options, reports["train"])
    else:
        train = LoadedSentences(load_sentences(train_path, config, "train", reports["train"]))
    dev = load_sentences(dev_path, config, "dev", reports["dev"])
    test = load_sentences(test_path, config, "test", reports["test"]) if test_path else None
    sources = {"train": train_path, "dev": dev_path, **({"test": test_path} if test_path else {})}
    return Corpora(train, dev, test, sources, reports)
