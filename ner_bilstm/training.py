"""The training loop: data preparation, optimisation, early stopping on dev F1, the model directory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from . import __version__
from .artifact import (
    HISTORY,
    METRICS,
    LoadedModel,
    atomic_write,
    load_model,
    remove_stale_temporaries,
    save_model,
    write_json,
)
from .batching import Batch, EncodedCorpus, length_batches
from .checkpoint import LoopState, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import World, close_world, init_world, joined
from .embeddings import load_embeddings
from .errors import NerError, TrainingInterrupted, first_line
from .evaluation import entity_scores
from .inference import Predictor
from .io import is_hf_source, read_source
from .io.hf import fingerprint as hf_fingerprint
from .model import Tagger
from .schemes import convert, detect_scheme, label_set, tags_to_spans
from .sentence import Sentence
from .streaming import ArrowCorpus, StreamedSentences
from .vocab import Vocabularies

Callback = Callable[[str, dict[str, Any]], None]

# Options that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "threads", "device", "eval_batch_size", "checkpoint_every")


def write_history(output: Path, history: list[dict]) -> None:
    """history.jsonl, rewritten whole and atomically (it is small)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(h) + "\n" for h in history)

    atomic_write(output / HISTORY, write)


@dataclass
class EpochRecord:
    """One line of history.jsonl."""

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


@dataclass
class TrainResult:
    """What a finished training run reports."""

    output: Path
    best_epoch: int
    best_dev: dict[str, Any]
    test: dict[str, Any] | None
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0
    main: bool = True  # False in the other processes of a distributed run, which write nothing


def fingerprint(path: str, split: str | None = None) -> dict[str, Any]:
    """Path and sha256 of a data file (datasets' fingerprint for a datasets source), so a model
    records exactly what it was trained on."""
    if is_hf_source(path):
        return hf_fingerprint(path, split)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": str(path), "sha256": digest.hexdigest()}


def unseen_types(sentences: Sequence[Sentence], types: Sequence[str]) -> dict[str, int]:
    """Entities per type that ``types`` (the training set's) lacks: the model can never predict
    them, so they count as misses in evaluation."""
    known, counts = set(types), Counter()
    for s in sentences:
        counts.update(span.label for span in tags_to_spans(s.tags or []) if span.label not in known)
    return dict(sorted(counts.items()))


def split_for(config: TrainConfig, role: str) -> str:
    """Which split of a Hugging Face source serves as the training, dev or test set."""
    return {"training": config.train_split, "dev": config.dev_split, "test": config.test_split}[role]


def load_sentences(path: str, config: TrainConfig, role: str) -> list[Sentence]:
    """All labelled sentences of ``path``; an empty source is an error."""
    sentences = list(read_source(path, token_col=config.token_col, tag_col=config.tag_col, encoding=config.encoding,
                                 split=split_for(config, role), tokens_field=config.tokens_field, tags_field=config.tags_field))
    if not sentences:
        raise NerError(f"the {role} set has no sentences", path=path)
    return sentences


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NerError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"ner_bilstm": __version__, "torch": torch.__version__, "seqeval": version("seqeval"), "python": platform.python_version()}


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum or Adam, using torch's fused kernels (10x faster steps on CPU) where they exist."""
    cls = torch.optim.SGD if config.optimizer == "sgd" else torch.optim.Adam
    kwargs = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "sgd":
        kwargs["momentum"] = config.momentum
    try:
        return cls(model.parameters(), fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return cls(model.parameters(), **kwargs)


@dataclass
class TrainingSetup:
    """Everything the training loop needs, built from the training sentences."""

    scheme: str
    types: list[str]
    labels: list[str]
    vocab: Vocabularies
    data: EncodedCorpus
    model: Tagger
    optimizer: torch.optim.Optimizer
    singleton: torch.Tensor  # (words,) bool: seen once in training, candidates for word dropout
    device: torch.device
    config: TrainConfig  # effective: word_dim follows the embeddings file
    trainer: torch.nn.Module  # what the step calls: the model, or its DistributedDataParallel wrapper
    scaler: torch.amp.GradScaler | None = None  # float16 loss scaling under --amp
    tokenization: str = "word"  # "char" when the training tokens are single characters (e.g. Chinese)
    embedding_coverage: dict | None = None
    singleton_bigrams: torch.Tensor | None = None  # (bigrams,) bool, like ``singleton``
    average: AveragedModel | None = None  # the moving average of the weights (--average)

    @property
    def scored(self) -> Tagger:
        """The weights that dev scores and the model directory keeps: the average when there is one."""
        return self.average.module if self.average is not None else self.model  # type: ignore[return-value]


def prepare(
    config: TrainConfig,
    sentences: Sequence[Sentence] | StreamedSentences,
    device: torch.device,
    source: str = "training data",
    other_sentences: Sequence[Sentence] = (),
) -> TrainingSetup:
    """Detect the scheme, build vocabularies, tensorise the corpus once, create model and optimiser.

    With pretrained embeddings, words of ``other_sentences`` (dev/test) that have a vector join
    the vocabulary (Lample et al., 2016), so they are not unknown at test time. Streamed
    sentences (``--lazy``) are read in a few passes and never held in memory.
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
    single = sum(count for word, count in vocab.word_counts.items() if len(word) == 1)
    tokenization = "char" if single / max(sum(vocab.word_counts.values()), 1) >= 0.9 else "word"
    if config.bigram_dim > 0 and (config.bigrams == "on" or (config.bigrams == "auto" and tokenization == "char")):
        vocab.add_bigrams((s.tokens for s in sentences), config.min_freq)
    else:
        config = dataclasses.replace(config, bigram_dim=0)
    pretrained, coverage = None, None
    if config.embeddings:
        keys = {vocab.word_key(t) for group in (sentences, other_sentences) for s in group for t in s.tokens}
        vectors = load_embeddings(config.embeddings, keys)
        config = dataclasses.replace(config, word_dim=vectors.dim)  # the vectors decide the dimension
        vocab.words.extend(sorted(k for k in keys if k in vectors))
        pretrained = torch.empty(len(vocab.words), vectors.dim)
        found = torch.zeros(len(vocab.words), dtype=torch.bool)
        for i, word in enumerate(vocab.words.itos):
            v = vectors.lookup(word)
            if v is not None:
                pretrained[i] = torch.from_numpy(v)
                found[i] = True
        hits, total = 0, 0
        for s in sentences:
            hits += sum(bool(found[vocab.word_id(t)]) for t in s.tokens)
            total += len(s)
        coverage = {"tokens": round(hits / max(total, 1), 4),
                    "words": int(found.sum()), "vocabulary": len(vocab.words), "file_words": vectors.total, "dim": vectors.dim}
        if vectors.name is not None:
            coverage.update(name=vectors.name, version=vectors.version)
    if isinstance(sentences, StreamedSentences):
        data = ArrowCorpus(sentences, vocab, config.train_scheme, config.max_word_chars)
    else:
        data = EncodedCorpus(sentences, vocab, [convert(s.tags, config.train_scheme) for s in sentences], config.max_word_chars)
    model = Tagger(config.model_config(), len(vocab.words), len(vocab.chars), labels, config.train_scheme, vocab.num_bigrams)
    if pretrained is not None:
        with torch.no_grad():
            rows = found.nonzero().squeeze(1)
            model.word_embed.weight[rows] = pretrained[rows]
    model = model.to(device)
    singleton = _singletons(vocab.words.stoi, vocab.word_counts)
    singleton_bigrams = _singletons(vocab.bigrams.stoi, vocab.bigram_counts) if vocab.bigrams is not None else None
    scaler = torch.amp.GradScaler("cuda") if config.amp and device.type == "cuda" else None
    average = AveragedModel(model, multi_avg_fn=moving_average(config.average)) if config.average else None
    return TrainingSetup(scheme, types, labels, vocab, data, model, make_optimizer(config, model), singleton.to(device), device,
                         config, model, scaler, tokenization, coverage,
                         singleton_bigrams.to(device) if singleton_bigrams is not None else None, average)


def _singletons(stoi: dict[str, int], counts: dict[str, int]) -> torch.Tensor:
    """``(entries,)`` bool: the entries seen once in training."""
    mask = torch.zeros(len(stoi), dtype=torch.bool)
    mask[[stoi[k] for k, n in counts.items() if n == 1]] = True
    return mask


def moving_average(decay: float) -> Callable:
    """The update of an exponential moving average whose decay warms up as ``(1 + n) / (10 + n)``
    until it reaches ``decay``: early steps forget fast, so the random initial weights do not
    dominate the average for thousands of steps."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        steps = int(n)
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + steps) / (10 + steps)))

    return update


def clip_gradients(parameters, max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most ``max_norm``; returns the norm before.

    Unlike ``clip_grad_norm_`` it leaves the gradients alone when the norm is already small
    (most steps), which saves a pass over the dense embedding gradient.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads:
            g.mul_(scale)
    return norm


def _drop_singletons(ids: torch.Tensor, singleton: torch.Tensor, rate: float) -> torch.Tensor:
    """``ids`` with each entry seen once in training replaced by <unk> (1) at ``rate``."""
    drop = singleton[ids] & (torch.rand(ids.shape, device=ids.device) < rate)
    return ids.masked_fill(drop, 1)


def train_step(setup: TrainingSetup, batch: Batch, config: TrainConfig) -> float:
    """One optimisation step on ``batch`` (word dropout, loss, backward, clipping, update); returns the loss."""
    if config.word_dropout > 0:
        batch.words = _drop_singletons(batch.words, setup.singleton, config.word_dropout)
        if setup.singleton_bigrams is not None:
            batch.bigrams = _drop_singletons(batch.bigrams, setup.singleton_bigrams, config.word_dropout)
    amp = config.amp and setup.device.type == "cuda"
    half = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    with torch.autocast(setup.device.type, dtype=half, enabled=amp):
        loss = setup.trainer(batch)
    setup.optimizer.zero_grad(set_to_none=True)
    scaler = setup.scaler if amp and half == torch.float16 else None
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(setup.optimizer)
    else:
        loss.backward()
    if config.clip > 0:
        clip_gradients(setup.model.parameters(), config.clip)
    if scaler is not None:
        scaler.step(setup.optimizer)
        scaler.update()
    else:
        setup.optimizer.step()
    if setup.average is not None:
        setup.average.update_parameters(setup.model)
    return loss.item()


def train(
    config: TrainConfig,
    train_path: str,
    dev_path: str,
    output: str | Path,
    test_path: str | None = None,
    callback: Callback | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a tagger and write its model directory to ``output``.

    Progress goes to ``callback(event, info)`` with events ``data``, ``resume``,
    ``epoch_start``, ``batch``, ``epoch_end`` and ``test``; nothing is printed. A checkpoint
    is written every ``config.checkpoint_every`` steps and after each epoch; ``resume``
    continues from it exactly (same seed and data give bit-identical weights). When
    ``should_stop()`` turns true, a checkpoint is written at the next step boundary and
    TrainingInterrupted is raised.
    """
    started = time.perf_counter()
    output = Path(output)
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    owns_world = not joined()  # a caller that set up the process group (train_seeds) also closes it
    world, device = init_world(resolve_device(config.device))
    emit = (callback if world.main else None) or (lambda event, info: None)
    try:
        return _train(config, train_path, dev_path, output, test_path, emit, resume, should_stop, world, device, started)
    except RuntimeError as e:
        if not world.distributed:
            raise
        raise NerError(f"a training process failed ({first_line(e)}); "
                       "the last checkpoint resumes with --resume", path=str(output)) from None
    finally:
        if owns_world:
            close_world(world)


def _train(config: TrainConfig, train_path: str, dev_path: str, output: Path, test_path: str | None, emit: Callback,
           resume: bool, should_stop: Callable[[], bool] | None, world: World, device: torch.device,
           started: float) -> TrainResult:
    """The body of ``train`` once the process knows its place among the training processes."""

    if config.lazy:
        if not is_hf_source(train_path):
            raise NerError("--lazy reads a datasets source (a save_to_disk folder, parquet or arrow files, hf:NAME)",
                           path=train_path)
        train_sents = StreamedSentences(train_path, config.train_split, config.tokens_field, config.tags_field)
    else:
        train_sents = load_sentences(train_path, config, "training")
    dev_sents = load_sentences(dev_path, config, "dev")
    test_sents = load_sentences(test_path, config, "test") if test_path else None

    setup = prepare(config, train_sents, device, train_path, dev_sents + (test_sents or []))
    if len(setup.data) == 0:
        raise NerError("the training set has no sentences", path=train_path)
    config = setup.config
    if world.distributed:
        world.same_everywhere(json.dumps(setup.vocab.to_dict()), "vocabularies")
        # Identical starting weights (DDP also broadcasts rank 0's); dropout streams differ per rank.
        setup.trainer = torch.nn.parallel.DistributedDataParallel(setup.model)
        torch.manual_seed(config.seed + world.rank)
    scheme, types, labels, vocab, train_data = setup.scheme, setup.types, setup.labels, setup.vocab, setup.data
    model, optimizer = setup.model, setup.optimizer
    dev_gold = [s.tags for s in dev_sents]
    if not any(t != "O" for tags in dev_gold for t in tags):
        raise NerError("the dev set has no entities, so dev F1 cannot choose the best epoch", path=dev_path)
    unseen = {role: unseen_types(sents, types) for role, sents in (("dev", dev_sents), ("test", test_sents or []))}
    emit("data", {
        "train": len(setup.data), "dev": len(dev_sents), "test": len(test_sents) if test_sents else 0,
        "tokens": sum(train_data.lengths), "scheme": scheme, "types": types, "words": len(vocab.words),
        "chars": len(vocab.chars), "bigrams": vocab.num_bigrams, "bigram_dim": config.bigram_dim,
        "device": str(device), "tokenization": setup.tokenization,
        "embeddings": setup.embedding_coverage, "unseen": {k: v for k, v in unseen.items() if v},
    })

    model_record = {
        "model": config.model_config(),
        "training": config.to_dict(),
        "labels": labels,
        "entity_types": types,
        "input_scheme": scheme,
        "train_scheme": config.train_scheme,
        "versions": _versions(),
        "tokenization": setup.tokenization,
        "embeddings": setup.embedding_coverage,
        "data": {role: fingerprint(path, split_for(config, name)) for role, name, path in
                 (("train", "training", train_path), ("dev", "dev", dev_path), ("test", "test", test_path)) if path},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    identity = {"training": {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES},
                "data": model_record["data"]}
    generator = torch.Generator().manual_seed(config.seed)
    state = LoopState()
    if resume:
        state, generator_state = load_checkpoint(output, model, optimizer, identity, world.rank, setup.average)
        generator.set_state(generator_state)
        emit("resume", {"epoch": state.epoch, "position": state.position, "finished": state.finished})
    earlier = state.wall_seconds  # what the interrupted runs had spent, up to their last checkpoint

    def elapsed() -> float:
        return earlier + time.perf_counter() - started
    if world.main:
        output.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(output)
        if not resume:
            (output / METRICS).unlink(missing_ok=True)  # a previous run's scores are not this run's
        write_history(output, state.history)
    loaded = LoadedModel(setup.scored, vocab, model_record)
    predictor = Predictor(loaded, config.eval_batch_size)

    def checkpoint(epoch_start_generator: torch.Tensor) -> None:
        state.wall_seconds = round(elapsed(), 3)
        rank_rng = world.gather(torch.get_rng_state()) if world.distributed else None
        if world.main:
            save_checkpoint(output, model, optimizer, state, epoch_start_generator, identity, rank_rng, setup.average)

    while not state.finished and state.epoch <= config.epochs:
        epoch = state.epoch
        lr = config.lr / (1 + config.lr_decay * (epoch - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        epoch_start = generator.get_state()
        batches = length_batches(train_data.lengths, config.batch_size, generator)
        emit("epoch_start", {"epoch": epoch, "batches": len(batches), "sentences": len(train_data), "done": state.position})
        model.train()
        t0 = time.perf_counter()
        for step in range(state.position, len(batches)):
            if len(batches[step]) < world.size:
                state.position = step + 1  # too small to give every process a row: skipped by all alike
                continue
            index = world.shard(batches[step])
            batch = train_data.batch(index).to(device)
            loss = train_step(setup, batch, config)
            if not math.isfinite(loss):
                raise NerError(f"training diverged (loss {loss}) in epoch {epoch}; lower --lr")
            rows, toks = len(index), int(batch.mask.sum())
            state.position = step + 1
            state.total_loss += loss * rows
            state.sentences += rows
            state.tokens += toks
            emit("batch", {"loss": loss, "sentences": rows, "tokens": toks})
            stopping = world.any(should_stop is not None and should_stop())
            if stopping or (config.checkpoint_every and state.position % config.checkpoint_every == 0):
                state.train_seconds += time.perf_counter() - t0
                checkpoint(epoch_start)
                t0 = time.perf_counter()  # throughput counts training, not checkpoint writes
                if stopping:
                    raise TrainingInterrupted(f"interrupted in epoch {epoch}; resume with --resume", path=str(output))
        state.train_seconds += time.perf_counter() - t0
        state.total_loss, state.sentences, state.tokens = world.all_sum([state.total_loss, state.sentences, state.tokens])

        # Every process scores dev with its (identical) model, so all take the same decisions.
        eval_start = time.perf_counter()
        dev_pred = predictor.predict(dev_sents)
        scores = entity_scores(dev_gold, [p.spans for p in dev_pred])
        micro = scores["micro"]
        improved = micro["f1"] > state.best_f1
        if improved:
            state.best_f1, state.best_epoch, state.best_dev, state.bad_epochs = micro["f1"], epoch, scores, 0
            if world.main:
                save_model(output, setup.scored, vocab, model_record)
        else:
            state.bad_epochs += 1
        seconds = max(state.train_seconds, 1e-9)
        record = EpochRecord(
            epoch, round(state.total_loss / max(state.sentences, 1), 4), micro["precision"], micro["recall"], micro["f1"], lr,
            round(state.train_seconds + time.perf_counter() - eval_start, 2), round(state.sentences / seconds, 1),
            round(state.tokens / seconds, 1), improved,
        )
        state.history.append(dict(record.__dict__))
        if world.main:
            write_history(output, state.history)
        emit("epoch_end", {"record": record})
        finished = state.bad_epochs >= config.patience or epoch == config.epochs
        state = LoopState(epoch=epoch + 1, best_f1=state.best_f1, best_epoch=state.best_epoch, best_dev=state.best_dev,
                          bad_epochs=state.bad_epochs, history=state.history, finished=finished)
        checkpoint(generator.get_state())
    history = [EpochRecord(**h) for h in state.history]
    best_epoch, best_dev = state.best_epoch, state.best_dev
    world.barrier()
    if not world.main:
        return TrainResult(output, best_epoch, best_dev, None, history, round(elapsed(), 1), main=False)

    best = load_model(output, device=str(device))
    test_scores = None
    if test_sents is not None:
        test_pred = Predictor(best, config.eval_batch_size).predict(test_sents)
        test_scores = entity_scores([s.tags for s in test_sents], [p.spans for p in test_pred])
        emit("test", {"scores": test_scores})
    seconds = round(elapsed(), 1)
    write_json(output / METRICS, {
        "best_epoch": best_epoch, "epochs_run": len(history), "dev": best_dev, "test": test_scores, "seconds": seconds,
    })
    return TrainResult(output, best_epoch, best_dev, test_scores, history, seconds)

