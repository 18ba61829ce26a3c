"""1 process against 2 DDP processes (torchrun, gloo) on CoNLL-2003, same seed and global batch.

Writes benchmarks/results/distributed.json: dev/test F1, epochs and wall time of each run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(nproc: int, data: Path) -> dict:
    out = ROOT / "runs" / f"conll2003-nproc{nproc}"
    exe = str(Path(sys.executable).parent / "ner-bilstm")
    command = [exe, "train", "--train", str(data / "train.txt"), "--dev", str(data / "dev.txt"), "--test", str(data / "test.txt"),
               "--output", str(out), "--seed", "42", "--nproc", str(nproc)]
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // nproc))}
    import subprocess

    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    return {"processes": nproc, "dev_f1": metrics["dev"]["micro"]["f1"], "test_f1": metrics["test"]["micro"]["f1"],
            "epochs_run": metrics["epochs_run"], "best_epoch": metrics["best_epoch"], "wall_seconds": round(wall, 1),
            "seconds_per_epoch": round(wall / metrics["epochs_run"], 2),
            "command": " ".join(c if not c.startswith(str(ROOT.parent)) else os.path.relpath(c, ROOT) for c in command[1:])}


def main() -> int:
    data = ROOT.parent / "shared" / "data" / "conll2003"
    if not (data / "train.txt").is_file():
        print(f"CoNLL-2003 not found in {data}", file=sys.stderr)
        return 2
    one, two = run(1, data), run(2, data)
    report = {"one_process": one, "two_processes": two, "dev_f1_difference": round(two["dev_f1"] - one["dev_f1"], 2),
              "speedup_per_epoch": round(one["seconds_per_epoch"] / two["seconds_per_epoch"], 2),
              "global_batch": 64, "cores": os.cpu_count()}
    (ROOT / "benchmarks" / "results" / "distributed.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
