"""Everything a training run builds before its first step: scheme and types, vocabularies, the
encoded corpus, the network (with pretrained rows), the optimiser and the weight average."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from .augmentation import MentionGroup, mention_groups
from .batching import EncodedCorpus
from .config import TrainConfig
from .corpora import LoadedSentences, TrainingSentences
from .data_parallel import StepSync
from .devices import resolve_bf16
from .doc_memory import DocumentMemory, document_links
from .embeddings import EmbeddingCoverage, corpus_vectors, pretrained_rows
from .errors import NerError
from .model import TaggerNetwork
from .optimization import make_optimizer, moving_average, singletons
from .record import ModelRecord
from .schemes import detect_scheme, label_set, tags_to_spans
from .sentence import Sentence
from .streaming import ArrowCorpus
from .vocab import Vocabularies

CHAR_LEVEL_SHARE = 0.9  # single-character tokens at least this share of the training tokens: character-level data


@dataclass
class TrainingSetup:
    """Everything the training loop needs, built from the training sentences."""

    scheme: str
    types: list[str]
    labels: list[str]
    vocab: Vocabularies
    data: EncodedCorpus | ArrowCorpus
    model: TaggerNetwork
    optimizer: torch.optim.Optimizer
    singleton: torch.Tensor  # (words,) bool: seen once in training, candidates for word dropout
    device: torch.device
    config: TrainConfig  # effective: word_dim follows the embeddings file, bigram_dim is 0 without bigrams
    trainer: torch.nn.Module  # what the step calls: the model, or its DistributedDataParallel wrapper
    scaler: torch.amp.GradScaler | None = None  # float16 loss scaling under --amp
    tokenization: str = "word"  # "char" when the training tokens are single characters (e.g. Chinese)
    embedding_coverage: EmbeddingCoverage | None = None
    singleton_bigrams: torch.Tensor | None = None  # (bigrams,) bool, like ``singleton``
    average: AveragedModel | None = None  # the moving average of the weights (--average)
    # Distributed only: averages the embedding rows a step touched and hands its document-memory writes to the other processes.
    step_sync: StepSync | None = None
    mentions: list[MentionGroup] = dataclasses.field(default_factory=list)  # what --replace-mentions swaps

    @property
    def scored(self) -> TaggerNetwork:
        """The weights that dev scores and the model directory keeps: the average when there is one."""
        return self.average.module if self.average is not None else self.model  # type: ignore[return-value]

    def record(self, data: dict[str, dict[str, Any]] | None = None) -> ModelRecord:
        """The config.json record of the model this setup trains; ``data`` the fingerprints per role."""
        return ModelRecord(self.config.model_config(), self.config.to_dict(), self.labels, self.types, self.scheme,
                           self.config.train_scheme, self.tokenization, self.embedding_coverage, data or {})


def tokenization_of(vocab: Vocabularies) -> str:
    """"char" when nearly every training token is one character (Chinese, Japanese), else "word"."""
    single = sum(count for word, count in vocab.word_counts.items() if len(word) == 1)
    return "char" if single / max(sum(vocab.word_counts.values()), 1) >= CHAR_LEVEL_SHARE else "word"


def char_encoder(choice: str, tokenization: str) -> str:
    """The character encoder a run builds: ``choice``, or for "auto" a BiLSTM where tokens are
    words (it reads a whole unseen or misspelt word: WNUT-17 dev F1 +2.7 over the CNN) and the
    CNN where a token is a single character (Resume dev F1 -0.8 with the BiLSTM)."""
    if choice != "auto":
        return choice
    return "cnn" if tokenization == "char" else "lstm"


AUTO_BATCH_SIZES = (64, 32, 16)
STEPS_PER_EPOCH = 200


def batch_size_for(sentences: int, tokenization: str) -> int:
    """The batch size of ``--batch-size 0`` (auto). Word-level data: the largest of 64, 32 and 16
    that still gives 200 steps an epoch, else 16, so a small corpus gets enough updates before
    the learning rate decays (WNUT-17, 3,394 sentences: dev F1 +1.8 at 16 against 64; CoNLL-2003
    keeps 64). Character-level data keeps 64: Resume's dev F1 fell 0.3 at 16."""
    if tokenization == "char":
        return AUTO_BATCH_SIZES[0]
    return next((b for b in AUTO_BATCH_SIZES if sentences >= b * STEPS_PER_EPOCH), AUTO_BATCH_SIZES[-1])


def _doc_memory(config: TrainConfig, sentences: TrainingSentences, source: str) -> str:
    """"on" or "off": whether this run's model has a document memory (auto: when the training
    sentences come in documents, as CoNLL files with -DOCSTART- lines do)."""
    if not isinstance(sentences, LoadedSentences):  # streamed datasets sources carry no documents
        if config.doc_memory == "on":
            raise NerError("--doc-memory on needs documents (-DOCSTART- lines), which a streamed (--lazy) source has not",
                           path=source)
        return "off"
    if config.doc_memory == "auto":
        return "on" if config.memory_dim and any("document" in s.meta for s in sentences) else "off"
    return config.doc_memory


def prepare(
    config: TrainConfig,
    sentences: TrainingSentences,
    device: torch.device,
    source: str = "training data",
    other_sentences: Sequence[Sentence] = (),
) -> TrainingSetup:
    """Detect the scheme, build vocabularies, tensorise the corpus once, create model and optimiser.

    With pretrained embeddings, words of ``other_sentences`` (dev/test) that have a vector (their
    own, or one composed from their pieces) join the vocabulary (Lample et al., 2016), so they
    are not unknown at test time. Streamed sentences (``--lazy``) are read in a few passes and
    never held in memory.
    """
    scheme = detect_scheme(s.tags for s in sentences) if config.scheme == "auto" else config.scheme
    types = sorted({span.label for s in sentences for span in tags_to_spans(s.tags)})
    if not types:
        raise NerError("the training set has no entities", path=source)
    labels = label_set(types, config.train_scheme)
    vocab = Vocabularies.build(
        ((s.tokens, s.tags) for s in sentences), labels, min_freq=config.min_freq,
        normalize_digits=config.normalize_digits, lowercase=config.lowercase,
    )
    tokenization = tokenization_of(vocab)
    config = dataclasses.replace(config, char=char_encoder(config.char, tokenization))
    if config.bigram_dim > 0 and (config.bigrams == "on" or (config.bigrams == "auto" and tokenization == "char")):
        vocab.add_bigrams((s.tokens for s in sentences), config.min_freq)
    else:
        config = dataclasses.replace(config, bigram_dim=0)
    matrix, found, coverage = None, None, None
    if config.embeddings:
        tokens = (t for group in (sentences, other_sentences) for s in group for t in s.tokens)
        vectors, keys = corpus_vectors(config.embeddings, tokens, vocab.word_key, config.compose_vectors)
        config = dataclasses.replace(config, word_dim=vectors.dim)  # the vectors decide the dimension
        vocab.words.extend(sorted(k for k in keys if k in vectors))
        matrix, found, coverage = pretrained_rows(vectors, vocab.words.itos, (vocab.word_id(t) for s in sentences for t in s.tokens))
    else:  # nothing to compose without vectors: recorded off, as runs before the option were, so it never blocks a resume
        config = dataclasses.replace(config, compose_vectors=False)
    config = dataclasses.replace(config, doc_memory=_doc_memory(config, sentences, source))
    if config.doc_memory == "off":  # the scope is moot without a memory: kept at its default, it never blocks a resume
        config = dataclasses.replace(config, memory_dim=0, memory_scope=TrainConfig.memory_scope)
    config = dataclasses.replace(config, bf16=resolve_bf16(config.bf16, device, config.rnn))
    data = sentences.encode(vocab, config.train_scheme, config.max_word_chars)
    if len(data) == 0:
        raise NerError("the training set has no sentences", path=source)
    if config.batch_size == 0:
        config = dataclasses.replace(config, batch_size=batch_size_for(len(data), tokenization))
    mentions = _mentions(config, data, labels, source)
    model = TaggerNetwork(config.model_config(), len(vocab.words), len(vocab.chars), labels, config.train_scheme, vocab.num_bigrams)
    model.train_recurrent_in(torch.bfloat16 if config.bf16 == "on" else None)
    model.lock_dropout(config.locked_dropout)
    if model.memory_head is not None:
        assert isinstance(sentences, LoadedSentences) and isinstance(data, EncodedCorpus)
        data.memory = DocumentMemory(document_links([s.tokens for s in sentences], [s.meta.get("document") for s in sentences]),
                                     model.encoder.output_size)
    if matrix is not None and found is not None:
        with torch.no_grad():
            rows = found.nonzero().squeeze(1)
            model.word_embed.weight[rows] = matrix[rows]
    model = model.to(device)
    singleton = singletons(vocab.words.stoi, vocab.word_counts)
    singleton_bigrams = singletons(vocab.bigrams.stoi, vocab.bigram_counts) if vocab.bigrams is not None else None
    scaler = torch.amp.GradScaler("cuda") if config.amp and device.type == "cuda" else None
    average = AveragedModel(model, multi_avg_fn=moving_average(config.average)) if config.average else None
    return TrainingSetup(scheme, types, labels, vocab, data, model, make_optimizer(config, model), singleton.to(device), device,
                         config, model, scaler, tokenization, coverage,
                         singleton_bigrams.to(device) if singleton_bigrams is not None else None, average, mentions=mentions)


def _mentions(config: TrainConfig, data: EncodedCorpus | ArrowCorpus, labels: list[str], source: str) -> list[MentionGroup]:
    """The training mentions ``--replace-mentions`` swaps (none when it is off)."""
    if not config.replace_mentions:
        return []
    if not isinstance(data, EncodedCorpus):
        raise NerError("--replace-mentions needs the training data in memory, not streamed (--lazy)", path=source)
    if data.bigrams is not None:  # a swapped mention would leave the bigrams across its edges stale
        raise NerError("--replace-mentions does not work with bigram embeddings; add --bigrams off", path=source)
    return mention_groups(data, labels)
