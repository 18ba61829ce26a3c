"""Training rate of this checkout against an earlier commit's, stepped in turn in one run.

This machine's speed moves in phases (minutes to hours, up to about 3×), so a rate measured on one
day cannot be set against a rate measured on another. Running both codes in one run can: each side
is a process of its own (the two packages share a name), prepared once, then asked for
``steps`` default CoNLL-2003 training steps at a time, turn by turn, on the same batches.

    python -m benchmarks.versus --commit 1525125 [--rounds 21] [--steps 60] [--data DIR]

Writes benchmarks/results/versus.json. The reference must be a commit of this repository from
2026-11-26 on (both training APIs this project has had are known here).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from .common import conll_arguments, machine

ROOT = Path(__file__).resolve().parents[1]
# The code whose `make bench` measured 2,619 sentences/s, the figure issue 10's rate bar was set from.
REFERENCE = "1525125"


def worker(repo: Path, data: Path, steps: int) -> None:
    """Serve rounds of ``steps`` training steps for the package in ``repo``: one line out per line in."""
    sys.path.insert(0, str(repo))
    import torch

    import ner_bilstm
    from ner_bilstm.batching import length_batches
    from ner_bilstm.config import TrainConfig
    from ner_bilstm.io import read_source
    from ner_bilstm.training import set_seed

    if not Path(ner_bilstm.__file__).resolve().is_relative_to(repo.resolve()):
        raise SystemExit(f"imported {ner_bilstm.__file__}, not the package in {repo}")
    try:  # since 2026-11-27 (issue 11): setup.prepare over a corpus record, train_step in optimization
        from ner_bilstm.corpora import LoadedSentences
        from ner_bilstm.optimization import train_step
        from ner_bilstm.setup import prepare
    except ImportError:
        from ner_bilstm.training import prepare, train_step

        def LoadedSentences(sentences):  # noqa: N802  (stands in for the class)
            return sentences

    try:  # since 2026-12-03 training flushes denormal floats (as ``train`` does, before any parallel work)
        from ner_bilstm.devices import denormals_flushed

        denormals_flushed().__enter__()  # for the rest of this process, which only serves rounds
    except ImportError:
        pass
    config = TrainConfig()
    set_seed(config.seed)
    setup = prepare(config, LoadedSentences(list(read_source(str(data / "train.txt")))), torch.device("cpu"))
    config = getattr(setup, "config", config)  # the effective options, where the code has them
    batches = length_batches(setup.data.lengths, config.batch_size, torch.Generator().manual_seed(0))
    cursor = 0
    print(f"ready {len(setup.data)} {sum(setup.data.lengths)}", flush=True)
    for _ in sys.stdin:
        start, tokens = time.perf_counter(), 0
        setup.model.train()
        for index in batches[cursor : cursor + steps]:
            batch = setup.data.batch(index)
            train_step(setup, batch, config)
            tokens += int(batch.mask.sum())
        cursor = (cursor + steps) % (len(batches) - steps)
        print(f"{tokens} {time.perf_counter() - start:.6f}", flush=True)


def run(data: Path, commit: str = REFERENCE, rounds: int = 21, steps: int = 60) -> dict:
    """Median sentences/s of this checkout and of ``commit``, each round one turn of each."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit],
                                 capture_output=True, check=False)
        if archive.returncode:
            raise ValueError(f"git archive {commit}: {archive.stderr.decode().strip() or 'failed'}")
        reference = Path(tmp) / "reference"
        reference.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(reference, filter="data")
        sides = {"reference": reference, "current": ROOT}
        procs, sizes = {}, {}
        for name, repo in sides.items():  # prepared one after the other: two preparations at once slow both
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.versus", "--worker", str(repo), "--data", str(data),
                 "--steps", str(steps)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            _, sentences, tokens = _reply(procs[name], name, 3)
            sizes[name] = (int(sentences), int(tokens))
        rates: dict[str, list[float]] = {name: [] for name in sides}
        try:
            for round_ in range(rounds + 1):  # the first round warms up
                for name, proc in procs.items():
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                    tokens, seconds = _reply(proc, name, 2)
                    if round_:
                        sentences, all_tokens = sizes[name]
                        rates[name].append(int(tokens) / float(seconds) * sentences / all_tokens)
        finally:
            for proc in procs.values():
                proc.stdin.close()
                proc.wait()
    ratios = [c / r for c, r in zip(rates["current"], rates["reference"])]
    return {"commit": commit, "rounds": rounds, "steps_per_round": steps,
            "sentences_per_second": {name: statistics.median(r) for name, r in rates.items()},
            "ratio_median_of_rounds": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios)}


def _reply(proc: subprocess.Popen, name: str, fields: int) -> list[str]:
    """The next line a side writes, as its fields; a side that died (its traceback went to
    stderr) is a RuntimeError, so it is never taken for a missing commit."""
    reply = proc.stdout.readline().split()
    if len(reply) != fields:
        raise RuntimeError(f"the {name} side stopped (exit status {proc.wait()})")
    return reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default=REFERENCE, help=f"the reference commit (default {REFERENCE})")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--steps", type=int, default=60, help="training steps per side and round")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = conll_arguments(parser)
    if args is None:
        return 2
    if args.worker:
        worker(args.worker, args.data, args.steps)
        return 0
    try:
        result = run(args.data, args.commit, args.rounds, args.steps)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    result["machine"] = machine()
    out = ROOT / "benchmarks" / "results" / "versus.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["sentences_per_second"]
    print(f"this checkout {s['current']:,.0f} sentences/s, {args.commit} {s['reference']:,.0f}: "
          f"{result['ratio_median_of_rounds']:.2f}× (rounds {result['ratio_min']:.2f}–{result['ratio_max']:.2f}×); {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
