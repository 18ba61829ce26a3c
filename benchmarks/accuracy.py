"""Accuracy benchmark: the default configuration on a corpus of ../shared/data (no pretrained embeddings).

Trains to early stop, scores the best model on the test set, and writes
benchmarks/results/NAME_accuracy.json with the dataset statistics. Equivalent command line:
  ner-bilstm train --train DATA/train.txt --dev DATA/dev.txt --test DATA/test.txt --output runs/NAME
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from ner_bilstm.config import load_config
from ner_bilstm.io import read_source
from ner_bilstm.statistics import source_statistics
from ner_bilstm.training import train

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", default="conll2003", help="folder of ../shared/data (conll2003, wnut17, resume_zh)")
    parser.add_argument("--data", type=Path, help="the corpus folder (default ../shared/data/NAME)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.data = args.data or ROOT.parent / "shared" / "data" / args.name
    args.output = ROOT / "runs" / args.name
    if not (args.data / "train.txt").is_file():
        print(f"{args.name} not found in {args.data}; pass --data DIR", file=sys.stderr)
        return 2

    def progress(event: str, info: dict) -> None:
        if event == "epoch_end":
            r = info["record"]
            print(f"epoch {r.epoch:2d}  loss {r.loss:.3f}  dev F1 {r.dev_f1:.2f}  {r.sentences_per_second:.0f} sent/s"
                  f"  {r.seconds:.1f} s{'  best' if r.best else ''}", flush=True)

    config = load_config(overrides={"seed": args.seed})
    started = time.perf_counter()
    result = train(config, str(args.data / "train.txt"), str(args.data / "dev.txt"), args.output,
                   test_path=str(args.data / "test.txt"), callback=progress)
    wall = time.perf_counter() - started
    train_seconds = sum(r.seconds for r in result.history)
    data, out_dir = os.path.relpath(args.data, ROOT), os.path.relpath(args.output, ROOT)
    stats = {split: source_statistics(read_source(str(args.data / f"{split}.txt"))) for split in ("train", "dev", "test")}
    report = {
        "dataset": args.name,
        "command": f"ner-bilstm train --train {data}/train.txt --dev {data}/dev.txt --test {data}/test.txt "
                   f"--output {out_dir} --seed {args.seed}",
        "dev_f1": result.best_dev["micro"]["f1"],
        "test_f1": result.test["micro"]["f1"],
        "test_per_type": {k: v["f1"] for k, v in result.test["types"].items()},
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "wall_seconds": round(wall, 1),
        "train_sentences_per_second": round(sum(r.sentences_per_second for r in result.history) / len(result.history), 1),
        "epoch_seconds_incl_dev_eval": round(train_seconds / len(result.history), 1),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "statistics": {split: {k: v for k, v in st.items() if k != "tags"} for split, st in stats.items()},
    }
    out = ROOT / "benchmarks" / "results" / f"{args.name}_accuracy.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n| corpus | dev F1 | test F1 | epochs (best) | wall time | train sent/s |\n|---|---|---|---|---|---|")
    print(f"| {args.name} | {report['dev_f1']:.2f} | {report['test_f1']:.2f} | {report['epochs_run']} ({report['best_epoch']}) "
          f"| {wall / 60:.1f} min | {report['train_sentences_per_second']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
