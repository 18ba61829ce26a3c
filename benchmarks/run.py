"""`make bench`'s speed half: the CRF layer against pytorch-crf, training and inference against flair,
data-parallel training, int8 inference, and training against the code of 2026-11-27.

Writes benchmarks/results.json, benchmarks/results.md and the README's speed table (between the
bench:speed markers). Data: ../shared/data/conll2003 (or --data DIR).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from . import crf_layer, distributed, quantized, speed, versus
from .common import conll_arguments, machine, write_readme_block

ROOT = Path(__file__).resolve().parents[1]


def markdown(results: dict) -> str:
    """The results as the table the README shows."""
    lines = ["| what | ner-bilstm | peer | ratio |", "|---|---|---|---|"]
    for row in results["crf"]:
        shape = f"batch {row['batch']}, {row['tags']} tags, length {row['length']}{' (mixed lengths)' if row['mixed_lengths'] else ''}"
        lines.append(f"| CRF NLL forward+backward, {shape} | {row['nll_ms']['ours']:.2f} ms | "
                     f"pytorch-crf {row['nll_ms']['pytorch_crf']:.2f} ms | **{row['nll_speedup']:.1f}×** |")
        lines.append(f"| CRF Viterbi, {shape} | {row['viterbi_ms']['ours']:.2f} ms | "
                     f"pytorch-crf {row['viterbi_ms']['pytorch_crf']:.2f} ms | **{row['viterbi_speedup']:.1f}×** |")
    t = results["speed"]["training"]
    lines.append(f"| training, CoNLL-2003, sentences/s (batch {t['batch_size']}) | {t['sentences_per_second']['ours']:,.0f} | "
                 f"flair {t['sentences_per_second']['flair']:,.0f} | **{t['speedup_vs_flair']:.1f}×** |")
    r = t["tokens_per_second"]
    bf16 = t.get("bf16") == "on"
    own = f"bare BiLSTM ceiling{' in bfloat16' if bf16 else ''} {r['ceiling_bf16' if bf16 else 'ceiling']:,.0f}"
    lines.append(f"| training, tokens/s{' (LSTM in bfloat16, the default here)' if bf16 else ''} | {r['ours']:,.0f} | {own} | "
                 f"**{100 * t['share_of_ceiling']:.0f}%** of ceiling |")
    if "ours_float32" in r:
        lines.append(f"| training with `--bf16 off` (float32), tokens/s | {r['ours_float32']:,.0f} | bare BiLSTM ceiling "
                     f"{r['ceiling']:,.0f} | **{100 * t['share_of_ceiling_float32']:.0f}%** of ceiling |")
        lines.append(f"| training, default against `--bf16 off`, tokens/s | {r['ours']:,.0f} | {r['ours_float32']:,.0f} | "
                     f"**{t['bf16_speedup']:.2f}×** |")
    lines.append(f"| training with `--optimizer lazyadam`, tokens/s | {r['ours_lazyadam']:,.0f} | {own} | "
                 f"**{100 * t['share_of_ceiling_lazyadam']:.0f}%** of ceiling |")
    if "ours_nomemory" in r:
        lines.append(f"| training with `--doc-memory off`, tokens/s | {r['ours_nomemory']:,.0f} | {own} | "
                     f"**{100 * t['share_of_ceiling_nomemory']:.0f}%** of ceiling |")
    if "ours_charcnn" in r:
        lines.append(f"| training with `--char cnn` (the default before 2026-12-01) against the default, tokens/s | "
                     f"{r['ours_charcnn']:,.0f} | {r['ours']:,.0f} | {t['char_lstm_cost']:.2f}× |")
    if results.get("versus"):
        v = results["versus"]
        lines.append(f"| training, sentences/s, against the code of 2026-11-27 ({v['commit']}, whose table measured 2,619), "
                     f"stepped in turn in one run | {v['sentences_per_second']['current']:,.0f} | "
                     f"{v['sentences_per_second']['reference']:,.0f} | **{v['ratio_median_of_rounds']:.2f}×** |")
    i = results["speed"]["inference"]
    r = i["tokens_per_second"]
    lines.append(f"| inference, model alone (batch 256), tokens/s | {r['model_alone']:,.0f} | | |")
    lines.append(f"| `predict` end to end, {i['tokens']:,} test tokens, tokens/s | {r['predict_cli']:,.0f} | "
                 f"flair end to end {r['flair_end_to_end']:,.0f} | **{i['predict_speedup_vs_flair']:.1f}×** |")
    lines.append(f"| `predict` end to end vs flair's predict in-process (model loaded) | {r['predict_cli']:,.0f} | "
                 f"{r['flair_in_process']:,.0f} | {i['predict_speedup_vs_flair_in_process']:.1f}× |")
    q = results["quantized"]
    lines.append(f"| `predict --quantize` (int8), model alone (batch 256), tokens/s | {q['tokens_per_second']['int8']:,.0f} | "
                 f"float32 {q['tokens_per_second']['float32']:,.0f} | **{q['speedup']:.2f}×** |")
    if "lstm_alone" in q:
        a = q["lstm_alone"]
        lines.append(f"| int8 LSTM alone (`Int8LSTM`, batch {a['shape'][0]}, length {a['shape'][1]}), tokens/s | "
                     f"{a['tokens_per_second']['int8lstm']:,.0f} | float32 {a['tokens_per_second']['float32']:,.0f} "
                     f"(torch's dynamic int8 LSTM {a['torch_dynamic_int8_speedup']:.2f}×) | **{a['int8lstm_speedup']:.2f}×** |")
    lines.append(f"| int8 CoNLL-2003 test F1 | {q['test_f1']['int8']:.2f} | float32 {q['test_f1']['float32']:.2f} | "
                 f"{q['f1_difference']:+.2f} |")
    d = results["distributed"]
    one, two, threads2 = d["throughput"]
    c = d["communication"]
    lines.append(f"| DDP training, 2 processes × 1 thread, sentences/s per epoch (dev scoring included; "
                 f"batch {c['batch_per_process']} per process) | "
                 f"{two['sentences_per_second']:,.0f} | 1 process × 1 thread {one['sentences_per_second']:,.0f} | "
                 f"**{d['two_processes_vs_one']:.2f}×** |")
    lines.append(f"| DDP 2 × 1 against 1 process × 2 threads | {two['sentences_per_second']:,.0f} | "
                 f"{threads2['sentences_per_second']:,.0f} | {d['two_processes_vs_two_threads']:.2f}× |")
    lines.append(f"| DDP floats exchanged per step and process (gradients, document memory) | {c['now_floats_per_step']:,} | "
                 f"every gradient dense {c['before_floats_per_step']:,} | {c['now_floats_per_step'] / c['before_floats_per_step']:.0%} |")
    m = results["machine"]
    lines.append("")
    lines.append(f"{m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads, torch {m['torch']}, "
                 f"Python {m['python']}; {results['date']}. Medians of interleaved repetitions.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    args = conll_arguments(parser)
    if args is None:
        return 2
    started = time.perf_counter()
    results = {"date": date.today().isoformat(), "machine": machine(), "crf": crf_layer.run(), "speed": speed.run(args.data),
               "quantized": quantized.run(args.data), "distributed": distributed.measure(args.data)}
    try:
        results["versus"] = versus.run(args.data)
    except (ValueError, RuntimeError) as error:  # no git history with the reference, or a side that stopped
        print(f"the run against {versus.REFERENCE} skipped: {error}", file=sys.stderr)
    results["seconds"] = round(time.perf_counter() - started, 1)
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (ROOT / "benchmarks" / "results.md").write_text(table)
    write_readme_block("speed", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
