"""Data-parallel training on CoNLL-2003 (torchrun, gloo): throughput, communication, agreement.

- throughput: sentences/s per epoch, dev scoring included (history.jsonl's epoch seconds), for
  1 process x 1 thread, 2 processes x 1 thread and 1 process x 2 threads; epochs 2..3 of a
  3-epoch run (epoch 1 warms up), same seed and the same batch per process (the default's).
  The layouts take turns for ROUNDS rounds, so the machine's drift over minutes meets them
  alike: a layout's rate is the median of its rounds', a ratio the median of the rounds' ratios.
- communication: floats each process exchanges per step: every gradient all-reduced densely
  (before), against the dense weights' all-reduce plus one message of the embedding tables'
  touched rows and the document memory's writes (now).
- agreement (--full): complete runs with 1 and 2 processes; dev and test F1 must agree within 1 point.

Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from .common import conll_arguments

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 3
ROUNDS = 3
LAYOUTS = [(1, 1), (2, 1), (1, 2)]  # (processes, threads)


def command(data: Path, out: Path, nproc: int, threads: int, *extra: str) -> tuple[list[str], dict[str, str]]:
    exe = str(Path(sys.executable).parent / "ner-bilstm")
    cmd = [exe, "train", "--train", str(data / "train.txt"), "--dev", str(data / "dev.txt"), "--output", str(out),
           "--seed", "42", "--nproc", str(nproc), "--threads", str(threads), *extra]
    return cmd, {**os.environ, "OMP_NUM_THREADS": str(threads)}


def shown(cmd: list[str]) -> str:
    return " ".join(c if not c.startswith(str(ROOT.parent)) else os.path.relpath(c, ROOT) for c in cmd[1:])


def throughput(data: Path, nproc: int, threads: int) -> dict:
    out = ROOT / "runs" / f"ddp-throughput-{nproc}x{threads}"
    cmd, env = command(data, out, nproc, threads, "--epochs", str(EPOCHS), "--patience", str(EPOCHS))
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    from ner_bilstm.io import read_source

    sentences = sum(1 for _ in read_source(str(data / "train.txt")))
    rates = [sentences / h["seconds"] for h in history[1:]]
    return {"processes": nproc, "threads": threads, "sentences_per_second": round(statistics.mean(rates), 1),
            "epoch_seconds": [h["seconds"] for h in history], "command": shown(cmd)}


def communication(data: Path, nproc: int = 2) -> dict:
    """Floats per process per step: the dense all-reduce of every gradient, against the dense
    all-reduce of the rest plus the all-gather of each process's touched embedding rows."""
    from ner_bilstm.batching import length_batches
    from ner_bilstm.config import TrainConfig
    from ner_bilstm.corpora import LoadedSentences
    from ner_bilstm.io import read_source
    from ner_bilstm.setup import prepare

    setup = prepare(TrainConfig(), LoadedSentences(list(read_source(str(data / "train.txt")))), torch.device("cpu"))
    tables = setup.model.row_tables()
    every = sum(p.numel() for p in setup.model.parameters())
    dense = sum(p.numel() for name, p in setup.model.named_parameters() if name not in tables)
    dim = setup.config.word_dim
    memory = setup.data.memory
    gathered, written = [], []
    for index in length_batches(setup.data.lengths, setup.config.batch_size * nproc, torch.Generator().manual_seed(42)):
        shares = [setup.data.batch(index[r::nproc]) for r in range(nproc)]
        gathered.append(nproc * max(len(torch.unique(b.words)) for b in shares) * (dim + 1))
        if memory is not None:
            written.append(nproc * max(len(b.memory.linked()[0]) for b in shares) * (memory.width + 1))
    rows, writes = statistics.mean(gathered), statistics.mean(written) if written else 0.0
    return {"before_floats_per_step": round(every + writes), "now_floats_per_step": round(dense + rows + writes),
            "now_dense_all_reduce": dense, "now_row_gather_mean": round(rows), "memory_writes_mean": round(writes),
            "processes": nproc, "batch_per_process": setup.config.batch_size}


def agreement(data: Path) -> dict:
    runs = {}
    for nproc in (1, 2):
        out = ROOT / "runs" / f"conll2003-nproc{nproc}"
        cmd, env = command(data, out, nproc, max(1, (os.cpu_count() or 2) // nproc), "--test", str(data / "test.txt"))
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        metrics = json.loads((out / "metrics.json").read_text())
        runs[nproc] = {"dev_f1": metrics["dev"]["micro"]["f1"], "test_f1": metrics["test"]["micro"]["f1"],
                       "epochs_run": metrics["epochs_run"], "best_epoch": metrics["best_epoch"],
                       "wall_seconds": round(time.perf_counter() - start, 1), "command": shown(cmd)}
    return {"one_process": runs[1], "two_processes": runs[2],
            "dev_f1_difference": round(runs[2]["dev_f1"] - runs[1]["dev_f1"], 2),
            "test_f1_difference": round(runs[2]["test_f1"] - runs[1]["test_f1"], 2)}


def measure(data: Path, rounds: int = ROUNDS) -> dict:
    """Throughput of the three layouts, in turns, and the communication per step."""
    runs: dict[tuple[int, int], list[dict]] = {layout: [] for layout in LAYOUTS}
    for _ in range(rounds):
        for layout in LAYOUTS:
            runs[layout].append(throughput(data, *layout))

    def summary(layout: tuple[int, int]) -> dict:
        r = runs[layout]
        return {"processes": layout[0], "threads": layout[1],
                "sentences_per_second": round(statistics.median(x["sentences_per_second"] for x in r), 1),
                "rounds": [x["sentences_per_second"] for x in r], "epoch_seconds": [x["epoch_seconds"] for x in r],
                "command": r[0]["command"]}

    def ratio(a: tuple[int, int], b: tuple[int, int]) -> float:
        return round(statistics.median(x["sentences_per_second"] / y["sentences_per_second"]
                                       for x, y in zip(runs[a], runs[b], strict=True)), 2)

    return {"throughput": [summary(layout) for layout in LAYOUTS], "rounds": rounds,
            "two_processes_vs_one": ratio((2, 1), (1, 1)), "two_processes_vs_two_threads": ratio((2, 1), (1, 2)),
            "communication": communication(data), "cores": os.cpu_count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also the complete runs that compare F1")
    args = conll_arguments(parser)
    if args is None:
        return 2
    report = measure(args.data)
    if args.full:
        report["agreement"] = agreement(args.data)
    (ROOT / "benchmarks" / "results" / "distributed.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
