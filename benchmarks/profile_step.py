"""Where a default CoNLL-2003 training step spends its time: torch.profiler over 60 steps.

Writes benchmarks/results/profile.txt: the top operators by their own CPU time, and the share
of the LSTM's kernels. Run alone (no other torch process on the machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from ner_bilstm.batching import length_batches
from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import LoadedSentences
from ner_bilstm.io import read_source
from ner_bilstm.optimization import train_step
from ner_bilstm.setup import prepare
from ner_bilstm.training import set_seed

from .common import conll_arguments

ROOT = Path(__file__).resolve().parents[1]
LSTM_KERNELS = ("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")


def run(data: Path, steps: int = 60, rows: int = 25) -> str:
    config = TrainConfig()
    set_seed(config.seed)
    setup = prepare(config, LoadedSentences(list(read_source(str(data / "train.txt")))), torch.device("cpu"))
    config = setup.config  # the effective options (the batch size auto resolves to)
    batches = length_batches(setup.data.lengths, config.batch_size, torch.Generator().manual_seed(0))
    setup.model.train()

    def work(index_list: list[list[int]]) -> None:
        for index in index_list:
            train_step(setup, setup.data.batch(index), setup.config)

    work(batches[:20])  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        work(batches[20 : 20 + steps])
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    lstm = sum(e.self_cpu_time_total for e in events if e.key in LSTM_KERNELS)
    table = events.table(sort_by="self_cpu_time_total", row_limit=rows)
    return (f"{steps} default CoNLL-2003 training steps (batch {config.batch_size}); the LSTM kernels "
            f"({', '.join(LSTM_KERNELS)}) take {100 * lstm / total:.1f}% of the self CPU time.\n\n{table}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    args = conll_arguments(parser)
    if args is None:
        return 2
    report = run(args.data)
    (ROOT / "benchmarks" / "results" / "profile.txt").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
