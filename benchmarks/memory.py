"""Peak memory of one training epoch from corpora of 200 thousand and 5 million tokens.

The CoNLL-2003 training set, repeated, is written as Arrow files (datasets' save_to_disk) and
trained from with --lazy (streamed from the memory-mapped files) and without (loaded), and the
plain CoNLL file is trained from for reference. Each run is a separate process; its peak RSS is
measured by the OS. Writes benchmarks/results/memory.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def build(conll: Path, repeats: int, target: Path) -> int:
    """Write ``repeats`` copies of the CoNLL file's sentences as a datasets folder; returns tokens."""
    import datasets

    from ner_bilstm.io import read_conll

    if (target / "dataset_info.json").exists():
        return int(json.loads((target / "tokens.json").read_text()))

    def rows():
        for _ in range(repeats):
            for s in read_conll(str(conll)):
                yield {"tokens": s.tokens, "ner_tags": s.tags}

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.Value("string"))})
    dataset = datasets.Dataset.from_generator(rows, features=features, cache_dir=str(target.parent / "cache"))
    dataset.save_to_disk(str(target))
    tokens = 203_621 * repeats
    (target / "tokens.json").write_text(str(tokens))
    return tokens


def peak(args: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and seconds of one `ner-bilstm train` process."""
    exe = str(Path(sys.executable).parent / "ner-bilstm")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", MEASURE, exe, "train", *args], capture_output=True, text=True, check=True)
    code, rss = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"training failed: {args}")
    return round(int(rss) / 1024, 1), round(time.perf_counter() - start, 1)


def main() -> int:
    data = ROOT.parent / "shared" / "data" / "conll2003"
    if not (data / "train.txt").is_file():
        print(f"CoNLL-2003 not found in {data}", file=sys.stderr)
        return 2
    work = ROOT / "runs" / "memory"
    work.mkdir(parents=True, exist_ok=True)
    small_tokens = build(data / "train.txt", 1, work / "x1")
    large_tokens = build(data / "train.txt", 25, work / "x25")
    common = ["--dev", str(data / "dev.txt"), "--epochs", "1", "--checkpoint-every", "0", "--seed", "42"]
    runs = {
        "conll_file_200k": peak(["--train", str(data / "train.txt"), "--output", str(work / "m0"), *common]),
        "arrow_lazy_200k": peak(["--train", str(work / "x1"), "--output", str(work / "m1"), "--lazy", *common]),
        "arrow_lazy_5m": peak(["--train", str(work / "x25"), "--output", str(work / "m2"), "--lazy", *common]),
        "arrow_in_memory_5m": peak(["--train", str(work / "x25"), "--output", str(work / "m3"), *common]),
    }
    report = {
        "tokens": {"small": small_tokens, "large": large_tokens},
        "peak_rss_mib": {k: v[0] for k, v in runs.items()},
        "seconds": {k: v[1] for k, v in runs.items()},
        "lazy_growth_200k_to_5m": round(runs["arrow_lazy_5m"][0] / runs["arrow_lazy_200k"][0] - 1, 3),
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    (ROOT / "benchmarks" / "results" / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
