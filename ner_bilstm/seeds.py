"""Training one model per seed and summarising the spread: one seed's F1 proves nothing
(seeds move CoNLL-2003 F1 by about a point), a mean and standard deviation over seeds do.

Layout: ``OUTPUT/seeds/seed-N/`` holds each seed's model directory; the model with the best dev
F1 is copied to ``OUTPUT`` itself, so ``--model OUTPUT`` uses it; ``OUTPUT/seeds.json`` holds the
summary.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifact import CONFIG, HISTORY, METRICS, VOCAB, WEIGHTS
from .checkpoint import checkpoint_path
from .config import MAX_SEED, TrainConfig
from .devices import resolve_device
from .distributed import close_world, init_world
from .errors import NerError
from .events import Callback, SeedStarted, ignore
from .io.files import atomic_write, write_json
from .training import TrainResult, train

SUMMARY = "seeds.json"
MODEL_FILES = (CONFIG, VOCAB, METRICS, HISTORY, WEIGHTS)  # weights last, as save_model writes them


@dataclass
class Spread:
    """Mean, sample standard deviation (0 for one value), min and max of F1 values."""

    mean: float
    sd: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(round(statistics.fmean(values), 2), round(sd, 2), min(values), max(values))

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.sd:.2f}"


@dataclass
class SeedRun:
    """One seed's scores (micro F1 overall, F1 per type) and where its model is."""

    seed: int
    directory: str
    best_epoch: int
    epochs_run: int
    seconds: float
    dev_f1: float
    test_f1: float | None
    dev_types: dict[str, float]
    test_types: dict[str, float] | None


@dataclass
class SeedSummary:
    """The spread of dev and test F1 over seeds, overall and per type; ``best_seed`` has the best dev F1."""

    runs: list[SeedRun]
    best_seed: int
    dev: Spread
    test: Spread | None
    dev_types: dict[str, Spread]
    test_types: dict[str, Spread] | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


MAX_SEEDS = 1000


def parse_seeds(text: str) -> list[int]:
    """``"1,2,3"`` or ``"1-3"`` -> ``[1, 2, 3]``; seeds must be distinct integers in [0, 2**32)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first, last = (int(low), int(high)) if dash else (int(part), int(part))
        except ValueError:
            raise NerError(f"--seeds takes integers like 1,2,3 or 1-5, not {text!r}") from None
        if last < first:
            raise NerError(f"--seeds: the range {part!r} runs backwards")
        if len(seeds) + last - first >= MAX_SEEDS:  # checked before the list is built: 0-1000000000 must not hang
            raise NerError(f"--seeds: at most {MAX_SEEDS:,} seeds, not {text!r}")
        seeds.extend(range(first, last + 1))
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or max(seeds) > MAX_SEED:
        raise NerError(f"--seeds must list distinct integers from 0 to {MAX_SEED:,}, not {text!r}")
    return seeds


def _run_of(seed: int, directory: Path, result: TrainResult) -> SeedRun:
    test = result.test
    return SeedRun(
        seed, str(directory), result.best_epoch, len(result.history), result.seconds,
        result.best_dev.micro.f1, test.micro.f1 if test else None,
        {k: v.f1 for k, v in result.best_dev.types.items()}, {k: v.f1 for k, v in test.types.items()} if test else None,
    )


def _per_type(tables: list[dict[str, float]]) -> dict[str, Spread]:
    return {t: Spread.of([table.get(t, 0.0) for table in tables]) for t in sorted({t for table in tables for t in table})}


def summarise(runs: Sequence[SeedRun]) -> SeedSummary:
    """The spread over ``runs``; the best seed is the first with the highest dev F1."""
    best = max(runs, key=lambda r: r.dev_f1)
    tested = all(r.test_f1 is not None for r in runs)
    return SeedSummary(
        list(runs), best.seed, Spread.of([r.dev_f1 for r in runs]),
        Spread.of([r.test_f1 for r in runs]) if tested else None,  # type: ignore[misc]
        _per_type([r.dev_types for r in runs]), _per_type([r.test_types for r in runs]) if tested else None,  # type: ignore[misc]
    )


def train_seeds(
    config: TrainConfig,
    seeds: Sequence[int],
    train_path: str,
    dev_path: str,
    output: str | Path,
    test_path: str | None = None,
    *,
    callback: Callback | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> SeedSummary | None:
    """Train one model per seed (``config`` otherwise unchanged), copy the best-dev model to
    ``output`` and write the summary. Events are those of ``train`` plus ``SeedStarted`` before each run.
    With ``resume`` each seed with a checkpoint continues from it (one that had finished is only
    scored again; a changed configuration is refused). Returns None in the other processes of a
    distributed run, which write nothing."""
    output = Path(output)
    emit = callback or ignore
    world, _ = init_world(resolve_device(config.device))  # one process group for all the seeds
    if world.main and not resume:
        (output / SUMMARY).unlink(missing_ok=True)  # an earlier run's summary describes seeds this run overwrites
    try:
        runs = []
        for i, seed in enumerate(seeds):
            directory = output / "seeds" / f"seed-{seed}"
            again = resume and checkpoint_path(directory).is_file()
            if world.main:
                emit(SeedStarted(seed, i, len(seeds), again))
            result = train(dataclasses.replace(config, seed=seed), train_path, dev_path, directory, test_path,
                           callback=callback, resume=again, should_stop=should_stop)
            runs.append(_run_of(seed, directory, result))
    finally:
        close_world(world)
    if not world.main:
        return None
    summary = summarise(runs)
    best = output / "seeds" / f"seed-{summary.best_seed}"
    # Until the copy ends there are no weights and no summary: never one seed's files beside another's.
    (output / WEIGHTS).unlink(missing_ok=True)
    (output / SUMMARY).unlink(missing_ok=True)
    for name in MODEL_FILES:
        if (best / name).is_file():
            atomic_write(output / name, lambda tmp, src=best / name: shutil.copyfile(src, tmp))
    write_json(output / SUMMARY, summary.to_dict())
    return summary
