"""Distributed training on CPU: two processes under torchrun with gloo."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

OPTIONS = ["--hidden", "32", "--word-dim", "24", "--batch-size", "16", "--seed", "3", "--lr", "0.01", "--patience", "20"]


def torchrun(corpus, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "ner_bilstm", "train",
            "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), *OPTIONS, *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_two_processes_write_one_model_whose_dev_f1_evaluate_confirms(corpus, tmp_path):
    out = tmp_path / "ddp"
    p = subprocess.run(torchrun(corpus, out, "--epochs", "3"), capture_output=True, text=True, timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("best dev F1") == 1  # only rank 0 prints
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ddp"]  # one model directory, nothing else
    assert sorted(x.name for x in out.iterdir()) == ["checkpoint", "config.json", "history.jsonl", "metrics.json",
                                                     "model.safetensors", "vocab.json"]
    reported = json.loads((out / "metrics.json").read_text())["dev"]["micro"]["f1"]
    r = CliRunner().invoke(app, ["evaluate", "--model", str(out), str(corpus["dev"]), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["micro"]["f1"] == reported
    assert len((out / "history.jsonl").read_text().splitlines()) == 3


def test_a_killed_rank_stops_the_job_with_an_error_and_a_resumable_checkpoint(corpus, tmp_path):
    out = tmp_path / "ddp"
    state = out / "checkpoint" / "state.safetensors"
    launcher = subprocess.Popen(torchrun(corpus, out, "--epochs", "200", "--checkpoint-every", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not state.exists() and time.time() < deadline and launcher.poll() is None:
            time.sleep(0.1)
        assert state.exists(), "no checkpoint was written"
        workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)
        _, err = launcher.communicate(timeout=180)  # the job must end, not hang
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    assert "Traceback" not in err.split("ChildFailedError")[0] or "failed" in err
    assert "failed" in err.lower()
    resumed = subprocess.run(torchrun(corpus, out, "--epochs", "3", "--resume"), capture_output=True, text=True,
                             timeout=600, env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (out / "model.safetensors").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_amp_loads_and_predicts_on_cpu(corpus, tmp_path):
    from ner_bilstm.artifact import load_model
    from ner_bilstm.inference import Predictor
    from ner_bilstm.io import read_source

    out = tmp_path / "gpu"
    r = CliRunner().invoke(app, ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out),
                                 *OPTIONS, "--epochs", "3", "--device", "cuda", "--amp"])
    assert r.exit_code == 0, r.output
    sentences = list(read_source(str(corpus["test"])))
    on_cpu = Predictor(load_model(out, device="cpu")).predict(sentences)
    on_gpu = Predictor(load_model(out, device="cuda")).predict(sentences)
    assert [p.tags for p in on_cpu] == [p.tags for p in on_gpu]


def test_seeds_under_torchrun_share_one_process_group(corpus, tmp_path):
    """--seeds trains every seed in the same process group; only rank 0 writes the summary and the kept model."""
    out = tmp_path / "seeds"
    command = [arg for arg in torchrun(corpus, out, "--epochs", "1", "--seeds", "1,2")]
    at = command.index("--seed")
    del command[at:at + 2]
    p = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("mean ± sd") == 1
    summary = json.loads((out / "seeds.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [1, 2]
    best = out / "seeds" / f"seed-{summary['best_seed']}"
    assert (out / "model.safetensors").read_bytes() == (best / "model.safetensors").read_bytes()
