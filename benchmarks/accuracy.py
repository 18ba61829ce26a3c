"""Accuracy benchmark: every score a mean ± sd over seeds, each seed's model selected on dev only.

Two tables: accuracy on the three corpora of ../shared/data, with and without the named vectors
glove-6b-50d, and ablations on CoNLL-2003, Resume and WNUT-17 with glove-6b-50d. Each row is one command (printed in the tables):
  ner-bilstm train --train DATA/train.txt --dev DATA/dev.txt --test DATA/test.txt \\
      --output runs/bench/KEY --seeds 1,2,3 [OPTIONS]
Finished seeds are kept in runs/bench/KEY/seeds/, so an interrupted benchmark continues where it
stopped. Writes benchmarks/results/accuracy.json, benchmarks/results/accuracy.md and the README's
tables (between the bench:accuracy markers).

  python -m benchmarks.accuracy                 # everything (hours on 2 cores)
  python -m benchmarks.accuracy --only conll2003 wnut17-glove
  python -m benchmarks.accuracy --report        # tables from the runs finished so far
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ner_bilstm.config import load_config
from ner_bilstm.errors import NerError
from ner_bilstm.events import EpochEnded, Event, SeedStarted
from ner_bilstm.seeds import SUMMARY, Spread, parse_seeds, train_seeds

from .common import machine, write_readme_block

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "bench"
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"
SEEDS = (1, 2, 3)
GLOVE = {"embeddings": "glove-6b-50d"}
# A word without a vector of its own gets the mean of its pieces' (an option; see the README's Composed vectors).
COMPOSED = {**GLOVE, "compose_vectors": True}
COMPOSED_LABEL = "a word without a vector gets the mean of its pieces' vectors (`--compose-vectors`, not the default)"


@dataclass(frozen=True)
class Run:
    """One row: a corpus and the options that differ from the defaults."""

    key: str
    corpus: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)

    def command(self, seeds: str) -> str:
        data = f"../shared/data/{self.corpus}"
        flags = " ".join(_flag(k, v) for k, v in self.options.items())
        return (f"ner-bilstm train --train {data}/train.txt --dev {data}/dev.txt --test {data}/test.txt "
                f"--output runs/bench/{self.key} --seeds {seeds}" + (f" {flags}" if flags else ""))


def _flag(key: str, value: Any) -> str:
    name = key.replace("_", "-")
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no-{name}"
    return f"--{name} {value}"


ACCURACY = [
    Run("conll2003", "conll2003", "CoNLL-2003"),
    Run("conll2003-glove", "conll2003", "CoNLL-2003", GLOVE),
    Run("wnut17", "wnut17", "WNUT-17"),
    Run("wnut17-glove", "wnut17", "WNUT-17", GLOVE),
    Run("resume_zh", "resume_zh", "Resume (zh, characters)"),
]
NO_MEMORY = {"doc_memory": "off"}
LOCKED = {"locked_dropout": True}
CHAR_CNN = {"char": "cnn"}  # the default before 2026-12-01, on which the rows measured before then ran
CHAR_CNN_LABEL = "char CNN instead of char BiLSTM (the default before 2026-12-01)"
CHAR_LSTM = {"char": "lstm"}
CHAR_LSTM_LABEL = "char BiLSTM instead of char CNN"
LOCKED_LABEL = "locked dropout: one mask per sentence for the word-level features and the encoder's output"
FLOAT32 = "LSTM trained in float32 (`--bf16 off`; the default on this CPU until 2026-12-01)"
LAZY_LABEL = "lazyadam: Adam only on the embedding rows a batch used"
BATCH64 = {"batch_size": 64}  # the default before 2026-12-02, on which the rows measured before then ran
BATCH64_LABEL = "batch 64 (the default before 2026-12-02)"
EMBED_LR_LABEL = "pretrained table at 0.3 of the learning rate (`--embed-lr 0.3`)"
MENTIONS = {"replace_mentions": 0.3}
MENTIONS_LABEL = ("mention replacement: each epoch 30% of the training mentions read as another of their type and length "
                  "(`--replace-mentions 0.3`)")
# One change from the table's first row per row (each table's first row is its base).
ABLATIONS = {
    "CoNLL-2003": [
        Run("conll2003", "conll2003",
            "default (char BiLSTM: auto, for word-level data; document memory: auto, on for -DOCSTART- documents; "
            "LSTM trained in bfloat16: auto, on for this CPU)"),
        Run("conll2003-charcnn", "conll2003", CHAR_CNN_LABEL, CHAR_CNN),
        Run("conll2003-nochar", "conll2003", "no character features", {"char": "none"}),
        Run("conll2003-nomemory-charlstm", "conll2003", "no document memory", NO_MEMORY),
        Run("conll2003-charlstm-softmax", "conll2003", "softmax head instead of CRF", {"head": "softmax"}),
        Run("conll2003-charlstm-gru", "conll2003", "GRU instead of LSTM", {"rnn": "gru"}),
        Run("conll2003-charlstm-attention", "conll2003", "with the attention layer", {"attention": True}),
        Run("conll2003-charlstm-nocasing", "conll2003", "no casing feature", {"casing": False}),
        Run("conll2003-charlstm-float32", "conll2003", FLOAT32, {"bf16": "off"}),
        Run("conll2003-charlstm-locked", "conll2003", LOCKED_LABEL, LOCKED),
        Run("conll2003-charlstm-lazyadam", "conll2003", LAZY_LABEL, {"optimizer": "lazyadam"}),
        Run("conll2003-glove", "conll2003", "with glove-6b-50d", GLOVE),
        Run("conll2003-glove-composed", "conll2003", f"with glove-6b-50d, {COMPOSED_LABEL}", COMPOSED),
    ],
    # The ablations of the char CNN default (until 2026-12-01), kept with the flag that
    # reproduces them until they are rerun on the char BiLSTM.
    "CoNLL-2003 with the char CNN": [
        Run("conll2003-charcnn", "conll2003", "char CNN (the default before 2026-12-01)", CHAR_CNN),
        *(Run(f"conll2003-{key}", "conll2003", label, {**CHAR_CNN, **options}) for key, label, options in (
            ("float32", FLOAT32, {"bf16": "off"}),
            ("nomemory", "no document memory", NO_MEMORY),
            ("softmax", "softmax head instead of CRF", {"head": "softmax"}),
            ("gru", "GRU instead of LSTM", {"rnn": "gru"}),
            ("attention", "with the attention layer", {"attention": True}),
            ("nocasing", "no casing feature", {"casing": False}),
            ("charcnn-glove", "with glove-6b-50d", GLOVE),
            ("lazyadam", LAZY_LABEL, {"optimizer": "lazyadam"}),
            ("locked", LOCKED_LABEL, LOCKED),
        )),
    ],
    # The ablations of the default before the document memory (2026-11-27 to 2026-12-01), kept
    # with the flags that reproduce them.
    "CoNLL-2003 with the char CNN, without the document memory": [
        Run("conll2003-nomemory", "conll2003", "no document memory (the default before 2026-12-01)", {**CHAR_CNN, **NO_MEMORY}),
        *(Run(f"conll2003-nomemory-{key}", "conll2003", label, {**CHAR_CNN, **NO_MEMORY, **options}) for key, label, options in (
            ("softmax", "softmax head instead of CRF", {"head": "softmax"}),
            ("gru", "GRU instead of LSTM", {"rnn": "gru"}),
            ("attention", "with the attention layer", {"attention": True}),
            ("charlstm", CHAR_LSTM_LABEL, CHAR_LSTM),
            ("nochar", "no character features", {"char": "none"}),
            ("nocasing", "no casing feature", {"casing": False}),
            ("glove", "with glove-6b-50d", GLOVE),
            ("lazyadam", LAZY_LABEL, {"optimizer": "lazyadam"}),
        )),
    ],
    # Bigrams are the ingredient of the default that only character-level data turns on, and
    # the char CNN the one it keeps there.
    "Resume (zh, characters)": [
        Run("resume_zh", "resume_zh", "default (char CNN and bigrams: auto for character-level data; LSTM trained in bfloat16; "
            "batch size: auto, 64 for character-level data)"),
        Run("resume_zh-float32", "resume_zh", FLOAT32, {"bf16": "off"}),
        Run("resume_zh-nobigrams", "resume_zh", "no bigram embeddings", {"bigrams": "off"}),
        Run("resume_zh-lazyadam", "resume_zh", LAZY_LABEL, {"optimizer": "lazyadam"}),
        Run("resume_zh-locked", "resume_zh", LOCKED_LABEL, LOCKED),
        Run("resume_zh-charlstm", "resume_zh", CHAR_LSTM_LABEL, CHAR_LSTM),
        Run("resume_zh-batch16", "resume_zh", "batch 16 (what auto picks for word-level data of this size)", {"batch_size": 16}),
    ],
    # WNUT-17's rows measured at batch 64 (the default before 2026-12-02) keep the flag that reproduces them.
    "WNUT-17": [
        Run("wnut17", "wnut17", "default (char BiLSTM; batch size: auto, 16 for these 3,394 sentences)"),
        Run("wnut17-batch64", "wnut17", BATCH64_LABEL, BATCH64),
        Run("wnut17-charcnn", "wnut17", f"{CHAR_CNN_LABEL}, at batch 64", {**CHAR_CNN, **BATCH64}),
    ],
    "WNUT-17 with glove-6b-50d": [
        Run("wnut17-glove", "wnut17", "default (char BiLSTM; batch size: auto, 16 for these 3,394 sentences) with glove-6b-50d",
            GLOVE),
        Run("wnut17-glove-composed", "wnut17", COMPOSED_LABEL, COMPOSED),
        Run("wnut17-glove-batch64", "wnut17", BATCH64_LABEL, {**GLOVE, **BATCH64}),
        Run("wnut17-glove-embedlr", "wnut17", EMBED_LR_LABEL, {**GLOVE, "embed_lr": 0.3}),
        Run("wnut17-glove-locked", "wnut17", LOCKED_LABEL, {**GLOVE, **LOCKED}),
        Run("wnut17-glove-mentions", "wnut17", MENTIONS_LABEL, {**GLOVE, **MENTIONS}),
    ],
    "WNUT-17 with glove-6b-50d at batch 64": [
        Run("wnut17-glove-batch64", "wnut17", BATCH64_LABEL, {**GLOVE, **BATCH64}),
        Run("wnut17-glove-charcnn", "wnut17", CHAR_CNN_LABEL, {**GLOVE, **CHAR_CNN, **BATCH64}),
        Run("wnut17-glove-batch64-locked", "wnut17", LOCKED_LABEL, {**GLOVE, **LOCKED, **BATCH64}),
        Run("wnut17-glove-charcnn-locked", "wnut17", f"{LOCKED_LABEL}, with the char CNN",
            {**GLOVE, **CHAR_CNN, **LOCKED, **BATCH64}),
        Run("wnut17-glove-batch64-embedlr", "wnut17", EMBED_LR_LABEL, {**GLOVE, **BATCH64, "embed_lr": 0.3}),
    ],
}
ALL = {run.key: run for run in [*(r for rows in ABLATIONS.values() for r in rows), *ACCURACY]}  # a shared key keeps its ACCURACY label


def train_run(run: Run, seeds: list[int], corpora: Path) -> None:
    data = corpora / run.corpus

    def progress(event: Event) -> None:
        if isinstance(event, SeedStarted):
            print(f"[{run.key}] seed {event.seed}{' (resumed)' if event.resume else ''}", flush=True)
        elif isinstance(event, EpochEnded):
            r = event.record
            print(f"[{run.key}] epoch {r.epoch:2d}  loss {r.loss:.3f}  dev F1 {r.dev_f1:.2f}  "
                  f"{r.sentences_per_second:.0f} sent/s  {r.seconds:.1f} s{'  best' if r.best else ''}", flush=True)

    config = load_config(overrides={**run.options, "checkpoint_every": 0})
    train_seeds(config, seeds, str(data / "train.txt"), str(data / "dev.txt"), RUNS / run.key, str(data / "test.txt"),
                callback=progress, resume=True)


def collect(run: Run) -> dict[str, Any] | None:
    """The finished run's summary with each seed's wall time and training speed, None when absent."""
    path = RUNS / run.key / SUMMARY
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    speeds = []
    for seed_run in summary["runs"]:
        history_path = RUNS / run.key / "seeds" / f"seed-{seed_run['seed']}" / "history.jsonl"
        history = [json.loads(line) for line in history_path.read_text().splitlines()]
        speeds.append(sum(h["sentences_per_second"] for h in history) / len(history))
    seeds = ",".join(str(r["seed"]) for r in summary["runs"])
    return {"key": run.key, "corpus": run.corpus, "label": run.label, "options": run.options, "command": run.command(seeds),
            "summary": summary, "seconds_per_seed": [r["seconds"] for r in summary["runs"]],
            "sentences_per_second": round(sum(speeds) / len(speeds))}


def _spread(s: dict[str, float]) -> str:
    return str(Spread(**s))


def markdown(results: dict[str, Any]) -> str:
    """The README's tables."""
    rows = results["runs"]
    out = ["| corpus | vectors | dev F1 | test F1 | test min–max | epochs run (best), mean | wall time per seed | training speed |",
           "|---|---|---|---|---|---|---|---|"]
    for run in ACCURACY:
        r = rows.get(run.key)
        if r is None:
            continue
        s = r["summary"]
        epochs = sum(x["epochs_run"] for x in s["runs"]) / len(s["runs"])
        best = sum(x["best_epoch"] for x in s["runs"]) / len(s["runs"])
        wall = sum(r["seconds_per_seed"]) / len(r["seconds_per_seed"]) / 60
        out.append(f"| {run.label} | {run.options.get('embeddings', 'none')} | {_spread(s['dev'])} | **{_spread(s['test'])}** | "
                   f"{s['test']['min']:.2f}–{s['test']['max']:.2f} | {epochs:.0f} ({best:.0f}) | {wall:.1f} min | "
                   f"{r['sentences_per_second']:,} sentences/s |")
    for corpus, ablation in ABLATIONS.items():
        out += ["", f"Ablation on {corpus} (one change from the first row per row):", "",
                "| configuration | dev F1 | test F1 | test Δ vs first row | wall time per seed |", "|---|---|---|---|---|"]
        base = rows.get(ablation[0].key)
        for run in ablation:
            r = rows.get(run.key)
            if r is None:
                continue
            s = r["summary"]
            delta = f"{s['test']['mean'] - base['summary']['test']['mean']:+.2f}" if base and run is not ablation[0] else ""
            wall = sum(r["seconds_per_seed"]) / len(r["seconds_per_seed"]) / 60
            out.append(f"| {run.label} | {_spread(s['dev'])} | {_spread(s['test'])} | {delta} | {wall:.1f} min |")
    out += ["", "Commands (each trains seeds 1, 2 and 3; `runs/bench/KEY/seeds.json` holds every seed's scores):", "", "```sh"]
    out += [r["command"] for key, r in rows.items()]
    m = results["machine"]
    out += ["```", "", f"{m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads, torch {m['torch']}, "
            f"Python {m['python']}; {results['date']}. Mean ± sample standard deviation over seeds; "
            "each seed's model is the epoch with the best dev F1."]
    cpus = {r.get("cpu", m["cpu"]) for r in rows.values()}
    dates: dict[str, list[str]] = {}
    for key, r in rows.items():
        day = r.get("date", results["date"])
        dates.setdefault(f"{day} on {r.get('cpu', m['cpu'])}" if len(cpus) > 1 else day, []).append(key)
    if len(dates) > 1:
        what = "days and machines" if len(cpus) > 1 else "days"
        out += ["", f"Rows measured on different {what} (the code changed between them): " +
                "; ".join(f"{day}: {', '.join(keys)}" for day, keys in sorted(dates.items(), reverse=True)) + "."]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(ALL), help="train only these rows")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--report", action="store_true", help="only write the tables from the finished runs")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the folder of the corpora")
    args = parser.parse_args()
    try:
        seeds = parse_seeds(args.seeds)
    except NerError as e:
        parser.error(str(e))
    keys = args.only or list(ALL)
    missing = sorted({ALL[key].corpus for key in keys if not (args.data / ALL[key].corpus / "train.txt").is_file()})
    if missing and not args.report:
        print(f"corpora not found in {args.data}: {', '.join(missing)}; pass --data DIR", file=sys.stderr)
        return 2
    started = time.perf_counter()
    trained = [] if args.report else keys
    for key in trained:
        train_run(ALL[key], seeds, args.data)
    # Rows whose runs are not on this disk keep their figures from the last results file, with their date.
    earlier = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}
    today, cpu = date.today().isoformat(), machine()["cpu"]
    earlier_cpu = earlier.get("machine", {}).get("cpu", cpu)
    runs = {}
    for key in ALL:
        fresh = collect(ALL[key])
        if fresh is not None:
            before = earlier["runs"].get(key)
            # A run on disk that was not trained now keeps the day it was measured.
            same = key not in trained and before is not None and before.get("summary") == fresh["summary"]
            runs[key] = {**fresh, "date": before.get("date", earlier.get("date", today)) if same else today,
                         "cpu": before.get("cpu", earlier_cpu) if same else cpu}
        elif key in earlier["runs"]:  # its command as this script writes it now (the same training)
            before = earlier["runs"][key]
            seeds_run = ",".join(str(r["seed"]) for r in before["summary"]["runs"])
            runs[key] = {"date": earlier.get("date", ""), "cpu": earlier_cpu, **before, "label": ALL[key].label,
                         "options": ALL[key].options,
                         "command": ALL[key].command(seeds_run)}
    results = {"date": today, "machine": machine(), "runs": runs,
               "seconds": round(time.perf_counter() - started, 1)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    RESULTS.with_suffix(".md").write_text(table)
    write_readme_block("accuracy", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
