"""Timing helpers shared by the benchmarks: interleaved repetitions, medians, the machine."""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch


def interleaved(fns: dict[str, Callable[[], int]], rounds: int, warmup: int = 1) -> dict[str, float]:
    """Run each function in turn, ``rounds`` times, so machine noise hits all of them alike.

    Each function returns how many units (tokens, sentences, calls) it processed; the result is
    the median rate in units per second.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            units = fn()
            rates[name].append(units / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}


def write_readme_block(name: str, text: str) -> None:
    """Replace the README's text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if pattern.search(content):
        readme.write_text(pattern.sub(lambda m: m.group(1) + text + m.group(2), content), encoding="utf-8")


CONLL2003 = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def conll_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace | None:
    """Add ``--data`` (the CoNLL-2003 folder) to ``parser`` and parse; None, after one line on
    stderr, when the folder has no train.txt and test.txt."""
    parser.add_argument("--data", type=Path, default=CONLL2003, help="the CoNLL-2003 folder (train.txt, dev.txt, test.txt)")
    args = parser.parse_args()
    if not all((args.data / name).is_file() for name in ("train.txt", "test.txt")):
        print(f"CoNLL-2003 not found in {args.data}; pass --data DIR", file=sys.stderr)
        return None
    return args
