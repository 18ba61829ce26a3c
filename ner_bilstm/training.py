"""The training loop: epochs of steps, dev F1 after each, early stopping, checkpoints, and the
model directory's metrics. What is built before the first step lives in ``setup``; the step in
``optimization``."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .artifact import HISTORY, METRICS, LoadedModel, load_model, remove_stale_temporaries, save_model
from .augmentation import epoch_generator, replace_mentions
from .batching import EncodedCorpus, length_batches
from .checkpoint import LoopState, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .corpora import Corpora, load_corpora
from .data_parallel import spread
from .devices import denormals_flushed, resolve_device
from .distributed import World, close_world, init_world, joined
from .doc_memory import document_units
from .errors import NerError, TrainingInterrupted, first_line
from .evaluation import EntityCounts, EntityScorer, Scores, entity_scores
from .events import BatchDone, Callback, DataLoaded, EpochEnded, EpochRecord, EpochStarted, Resumed, Tested, ignore
from .inference import Predictor
from .io.files import atomic_write, make_folder, write_json
from .optimization import learning_rate, train_step
from .record import ModelRecord
from .setup import TrainingSetup, prepare

STOP_CHECK = 8  # steps between the distributed processes' agreement on a stop request (Ctrl-C)
# Options that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "threads", "device", "eval_batch_size", "checkpoint_every")


@dataclass
class TrainResult:
    """What a finished training run reports."""

    output: Path
    best_epoch: int
    best_dev: Scores
    test: Scores | None
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0
    main: bool = True  # False in the other processes of a distributed run, which write nothing


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def write_history(output: Path, history: list[dict]) -> None:
    """history.jsonl, rewritten whole and atomically (it is small)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(h) + "\n" for h in history)

    atomic_write(output / HISTORY, write)


@denormals_flushed()  # first, so that torch's worker threads inherit it
def train(
    config: TrainConfig,
    train_path: str,
    dev_path: str,
    output: str | Path,
    test_path: str | None = None,
    *,
    callback: Callback | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a tagger and write its model directory to ``output``.

    Progress goes to ``callback(event)`` (``events``); nothing is printed. A checkpoint is
    written every ``config.checkpoint_every`` steps and after each epoch; ``resume`` continues
    from it exactly (same seed and data give bit-identical weights). When ``should_stop()``
    turns true, a checkpoint is written at the next step boundary and TrainingInterrupted is raised.
    Denormal floats count as zero meanwhile (``devices.denormals_flushed``).
    """
    started = time.perf_counter()
    output = Path(output)
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    owns_world = not joined()  # a caller that set up the process group (train_seeds) also closes it
    world, device = init_world(resolve_device(config.device))
    emit = (callback if world.main else None) or ignore
    setup = None
    try:
        corpora = load_corpora(config, train_path, dev_path, test_path)
        setup = prepare(config, corpora.train, device, train_path, corpora.evaluated())
        run = Run(setup, corpora, output, world, emit, should_stop, started)
        run.start()
        return run.finish(run.loop(run.begin(resume)))
    except RuntimeError as e:
        if not world.distributed:
            raise
        raise NerError(f"a training process failed ({first_line(e)}); "
                       "the last checkpoint resumes with --resume", path=str(output)) from None
    finally:
        if setup is not None and setup.step_sync is not None:
            setup.step_sync.close()  # the model outlives the run: its gradient hooks go
        if owns_world:
            close_world(world)


@dataclass
class Run:
    """One training run once its data and model are built: the loop and what it writes."""

    setup: TrainingSetup
    corpora: Corpora
    output: Path
    world: World
    emit: Callback
    should_stop: Callable[[], bool] | None
    started: float  # perf_counter() when this process began
    earlier: float = 0.0  # wall seconds the interrupted runs had spent, up to their last checkpoint
    generator: torch.Generator = field(default_factory=torch.Generator)
    record: ModelRecord = field(init=False)  # config.json, made once the data is reported

    @property
    def config(self) -> TrainConfig:
        return self.setup.config

    @property
    def identity(self) -> dict[str, Any]:
        """What a checkpoint must share with the run that resumes it: options and data."""
        training = {k: v for k, v in self.config.to_dict().items() if k not in RESUMABLE_CHANGES}
        # The batches follow the number of processes; a single process records none, so its older checkpoints still match.
        processes = {"processes": self.world.size} if self.world.distributed else {}
        return {"training": training, "data": self.record.data, **processes}

    def elapsed(self) -> float:
        return self.earlier + time.perf_counter() - self.started

    def start(self) -> None:
        """Check the dev set, spread the model over the processes of a distributed run, report the
        data, and make the model's record (with the data's fingerprints)."""
        setup, world, config = self.setup, self.world, self.config
        if world.distributed:
            spread(setup, world, config)
        if not any(t != "O" for s in self.corpora.dev for t in s.tags):
            raise NerError("the dev set has no entities, so dev F1 cannot choose the best epoch", path=self.corpora.sources["dev"])
        vocab, test = setup.vocab, self.corpora.test
        self.emit(DataLoaded(
            len(setup.data), len(self.corpora.dev), len(test) if test else 0, sum(setup.data.lengths), setup.scheme, setup.types,
            len(vocab.words), len(vocab.chars), vocab.num_bigrams, config.bigram_dim, str(setup.device), setup.tokenization,
            setup.embedding_coverage, self.corpora.unseen_types(setup.types), self.corpora.notes(),
            setup.data.memory.links.size if setup.data.memory is not None else None,
            config.bf16 == "on" and "lstm" in (config.rnn, config.char),
        ))
        self.record = setup.record(self.corpora.fingerprints(config))

    def begin(self, resume: bool) -> LoopState:
        """The loop's state: fresh, or restored with every random state from the checkpoint; the
        output directory is readied (stale temporaries and an earlier run's metrics removed)."""
        self.generator.manual_seed(self.config.seed)
        state = LoopState()
        if resume:
            state, generator_state = load_checkpoint(self.output, self.setup.model, self.setup.optimizer, self.identity,
                                                     self.world.rank, self.setup.average, self.setup.data.memory)
            self.generator.set_state(generator_state)
            if state.best_epoch:  # the run ends by loading its best model: a damaged one is said now, not after training
                with torch.random.fork_rng(devices=[]):  # building the network draws random weights: the restored stream stays
                    load_model(self.output)
            self.emit(Resumed(state.epoch, state.position, state.finished))
        self.earlier = state.wall_seconds
        if self.world.main:
            make_folder(self.output)
            remove_stale_temporaries(self.output)
            if not resume:
                (self.output / METRICS).unlink(missing_ok=True)  # a previous run's scores are not this run's
            write_history(self.output, state.history)
        return state

    def loop(self, state: LoopState) -> LoopState:
        """Epochs until ``epochs`` or ``patience`` epochs without a better dev F1."""
        config, setup, world = self.config, self.setup, self.world
        predictor = Predictor(LoadedModel(setup.scored, setup.vocab, self.record), config.eval_batch_size)
        scorer = EntityScorer([s.tags for s in self.corpora.dev])
        while not state.finished and state.epoch <= config.epochs:
            epoch, lr = state.epoch, learning_rate(config, state.epoch)
            for group in setup.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            epoch_start = self.generator.get_state()
            # --batch-size is per process: N processes take a global batch of N times it per step.
            batches = length_batches(setup.data.lengths, config.batch_size * world.size, self.generator)
            data = setup.data
            if setup.mentions:
                assert isinstance(setup.data, EncodedCorpus)  # setup refuses streamed data with --replace-mentions
                data = replace_mentions(setup.data, setup.mentions, config.replace_mentions, epoch_generator(config.seed, epoch))
            self.emit(EpochStarted(epoch, len(batches), len(setup.data), state.position))
            setup.model.train()
            t0 = time.perf_counter()
            for step in range(state.position, len(batches)):
                if len(batches[step]) < world.size:
                    state.position = step + 1  # too small to give every process a row: skipped by all alike
                    continue
                index = world.shard(batches[step])
                batch = data.batch(index).to(setup.device)
                loss = train_step(setup, batch, config)
                if not math.isfinite(loss):
                    raise NerError(f"training diverged (loss {loss}) in epoch {epoch}; lower --lr")
                rows, tokens = len(index), int(batch.mask.sum())
                state.position, state.total_loss = step + 1, state.total_loss + loss * rows
                state.sentences, state.tokens = state.sentences + rows, state.tokens + tokens
                self.emit(BatchDone(loss, rows, tokens))
                # Processes agree on a stop request every STOP_CHECK steps: each check is a collective.
                asked = self.should_stop is not None and self.should_stop()
                agree = state.position % STOP_CHECK == 0 or step == len(batches) - 1  # the same steps on every process
                stopping = world.any(asked) if agree else asked and not world.distributed
                if stopping or (config.checkpoint_every and state.position % config.checkpoint_every == 0):
                    state.train_seconds += time.perf_counter() - t0
                    self.checkpoint(state, epoch_start)
                    t0 = time.perf_counter()  # throughput counts training, not checkpoint writes
                    if stopping:
                        raise TrainingInterrupted(f"interrupted in epoch {epoch}; resume with --resume", path=str(self.output))
            state.train_seconds += time.perf_counter() - t0
            state = self.end_epoch(state, lr, predictor, scorer)
            self.checkpoint(state, self.generator.get_state())
        return state

    def end_epoch(self, state: LoopState, lr: float, predictor: Predictor, scorer: EntityScorer) -> LoopState:
        """Score dev (``dev_counts``: every process ends with the same scores, so all take the same
        decisions), keep the model when dev F1 improved, record the epoch; returns the state for the next one."""
        config, epoch = self.config, state.epoch
        state.total_loss, state.sentences, state.tokens = self.world.all_sum([state.total_loss, state.sentences, state.tokens])
        eval_start = time.perf_counter()
        scores = self.dev_counts(predictor, scorer).scores(scorer.scheme)
        micro = scores.micro
        improved = micro.f1 > state.best_f1
        if improved:
            state.best_f1, state.best_epoch, state.best_dev, state.bad_epochs = micro.f1, epoch, scores.to_dict(), 0
            if self.world.main:
                save_model(self.output, self.setup.scored, self.setup.vocab, self.record)
        else:
            state.bad_epochs += 1
        seconds = max(state.train_seconds, 1e-9)
        record = EpochRecord(
            epoch, round(state.total_loss / max(state.sentences, 1), 4), micro.precision, micro.recall, micro.f1, lr,
            round(state.train_seconds + time.perf_counter() - eval_start, 2), round(state.sentences / seconds, 1),
            round(state.tokens / seconds, 1), improved,
        )
        state.history.append(dict(record.__dict__))
        if self.world.main:
            write_history(self.output, state.history)
        self.emit(EpochEnded(record))
        finished = state.bad_epochs >= config.patience or epoch == config.epochs
        return LoopState(epoch=epoch + 1, best_f1=state.best_f1, best_epoch=state.best_epoch, best_dev=state.best_dev,
                         bad_epochs=state.bad_epochs, history=state.history, finished=finished)

    def dev_counts(self, predictor: Predictor, scorer: EntityScorer) -> EntityCounts:
        """The dev set's entity counts. Each process tags and counts its share (sentences; whole
        documents for a document memory), about as many tokens as every other's, and the shares'
        counts are summed, in rank order, on every process."""
        dev, world = self.corpora.dev, self.world
        units = document_units(dev) if self.setup.model.memory_head is not None else [[i] for i in range(len(dev))]
        mine = [i for u in world.share_by_size(units, [sum(len(dev[i]) for i in u) for u in units]) for i in u]
        counts = scorer.counts(mine, [p.spans for p in predictor.predict([dev[i] for i in mine])])
        return sum(world.gather_objects(counts), EntityCounts())  # type: ignore[arg-type]

    def checkpoint(self, state: LoopState, epoch_generator: torch.Tensor) -> None:
        """Everything needed to resume exactly from ``state`` (every process's RNG under torchrun)."""
        state.wall_seconds = round(self.elapsed(), 3)
        rank_rng = rank_totals = None
        if self.world.distributed:
            rank_rng = self.world.gather(torch.get_rng_state())
            totals = torch.tensor([state.total_loss, state.sentences, state.tokens], dtype=torch.float64)
            rank_totals = torch.stack(self.world.gather(totals))  # each process's, summed at the epoch's end
        if self.world.main:
            save_checkpoint(self.output, self.setup.model, self.setup.optimizer, state, epoch_generator, self.identity, rank_rng,
                            self.setup.average, self.setup.data.memory, rank_totals)

    def finish(self, state: LoopState) -> TrainResult:
        """Score the best model on test and write metrics.json (the main process only)."""
        history = [EpochRecord(**h) for h in state.history]
        best_dev = Scores.from_dict(state.best_dev)  # the checkpoint keeps it as metrics.json does
        self.world.barrier()
        if not self.world.main:
            return TrainResult(self.output, state.best_epoch, best_dev, None, history, round(self.elapsed(), 1), main=False)
        best = load_model(self.output, device=str(self.setup.device))  # and so checked: the directory loads
        test_scores = None
        if self.corpora.test is not None:
            predicted = Predictor(best, self.config.eval_batch_size).predict(self.corpora.test)
            test_scores = entity_scores([s.tags for s in self.corpora.test], [p.spans for p in predicted])
            self.emit(Tested(test_scores))
        seconds = round(self.elapsed(), 1)
        write_json(self.output / METRICS, {
            "best_epoch": state.best_epoch, "epochs_run": len(history), "dev": state.best_dev,
            "test": test_scores.to_dict() if test_scores else None, "seconds": seconds,
        })
        return TrainResult(self.output, state.best_epoch, best_dev, test_scores, history, seconds)
