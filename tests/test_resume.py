"""Crash safety: SIGKILL at random points, resume, and end with the same weights as an uninterrupted run."""

import dataclasses
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ner_bilstm.artifact import load_model
from ner_bilstm.errors import NerError

EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))
OPTIONS = ["--epochs", "12", "--hidden", "32", "--word-dim", "24", "--batch-size", "8", "--seed", "5", "--lr", "0.01",
           "--patience", "10"]


def command(corpus, out: Path, *extra: str) -> list[str]:
    return [EXE, "train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), *OPTIONS, *extra]


def weights(path: Path) -> dict:
    return load_model(path).model.state_dict()


def assert_loadable_or_absent(out: Path) -> None:
    """A killed run leaves a model directory that loads, or none (no weights yet); never a corrupt one."""
    if (out / "model.safetensors").exists():
        load_model(out)


def test_sigkill_at_random_points_then_resume_gives_bit_identical_weights(corpus, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(command(corpus, reference), check=True, capture_output=True, timeout=300)
    expected = weights(reference)

    out = tmp_path / "killed"
    state = out / "checkpoint" / "state.safetensors"
    rng = random.Random(11)
    kills = 0
    for attempt in range(4):
        before = state.stat().st_mtime_ns if state.exists() else None
        # Checkpoint after every step in some attempts, so kills also land inside checkpoint writes.
        extra = (["--resume"] if before is not None else []) + ["--checkpoint-every", "1" if attempt % 2 else "3"]
        proc = subprocess.Popen(command(corpus, out, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 240
        while proc.poll() is None and time.time() < deadline:  # wait for a new checkpoint: every attempt makes progress
            if state.exists() and state.stat().st_mtime_ns != before:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))  # an epoch of this corpus takes about 0.1 s: two attempts must not finish the 12
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert_loadable_or_absent(out)
    if proc.returncode != 0 or not (out / "metrics.json").exists():
        finish = subprocess.run(command(corpus, out, "--resume"), capture_output=True, text=True, timeout=300)
        assert finish.returncode == 0, finish.stderr
    assert kills >= 2
    assert not [p for p in out.rglob(".*") if p.is_file()]  # temporaries of killed writes are cleaned up
    got = weights(out)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    ref_history = [json.loads(x) for x in (reference / "history.jsonl").read_text().splitlines()]
    got_history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert [(h["epoch"], h["loss"], h["dev_f1"]) for h in got_history] == [(h["epoch"], h["loss"], h["dev_f1"]) for h in ref_history]
    assert json.loads((out / "metrics.json").read_text())["dev"] == json.loads((reference / "metrics.json").read_text())["dev"]


def test_sigint_and_sigterm_checkpoint_and_exit_130(corpus, tmp_path):
    for sig in (signal.SIGINT, signal.SIGTERM):
        out = tmp_path / sig.name
        proc = subprocess.Popen(command(corpus, out, "--epochs", "40", "--checkpoint-every", "0"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (out / "history.jsonl").exists() and time.monotonic() < deadline:  # training has begun: handlers are in place
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err.decode()
        assert b"resume with --resume" in err and b"Traceback" not in err
        assert (out / "checkpoint" / "state.safetensors").exists()
        done = subprocess.run(command(corpus, out, "--epochs", "3", "--resume"), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr


def test_resume_refuses_changed_settings_and_missing_checkpoints(corpus, tmp_path):
    from ner_bilstm_cli.main import app
    from typer.testing import CliRunner

    runner = CliRunner()
    out = tmp_path / "m"
    args = ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), *OPTIONS]
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 1 and "nothing to resume" in r.output
    assert runner.invoke(app, [*args, "--epochs", "1"]).exit_code == 0
    r = runner.invoke(app, [*args, "--resume", "--hidden", "48"])
    assert r.exit_code == 1 and "hidden (" in r.output and "48 now" in r.output
    (out / "model.safetensors").rename(out / "kept.safetensors")
    r = runner.invoke(app, [*args, "--resume", "--epochs", "3"])  # said before training on, not after
    assert r.exit_code == 1 and "missing model.safetensors" in r.output and len((out / "history.jsonl").read_text().splitlines()) == 1
    (out / "kept.safetensors").rename(out / "model.safetensors")
    (out / "checkpoint" / "state.safetensors").write_bytes(b"garbage")
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 1 and "unreadable checkpoint" in r.output
    assert NerError  # the error type the CLI turns into exit 1


def test_weight_average_is_what_dev_scores_and_survives_an_interruption(corpus, tmp_path):
    """--average: the kept model is the moving average (not the last weights), and a run stopped
    mid-epoch resumes to the same bytes as an uninterrupted one."""
    from safetensors.torch import load_file

    from ner_bilstm.config import load_config
    from ner_bilstm.errors import TrainingInterrupted
    from ner_bilstm.training import train

    from .conftest import TINY

    one = tmp_path / "one-epoch"
    train(load_config(overrides={**TINY, "epochs": 1, "average": 0.9}), str(corpus["train"]), str(corpus["dev"]), one)
    state = load_file(str(one / "checkpoint" / "state.safetensors"))
    saved = weights(one)
    assert all(torch.equal(saved[k], state[f"average.module.{k}"]) for k in saved)  # the average is kept ...
    assert not torch.equal(saved["projection.weight"], state["model.projection.weight"])  # ... not the last weights
    config = load_config(overrides={**TINY, "epochs": 2, "average": 0.9, "checkpoint_every": 5})
    reference = tmp_path / "reference"
    train(config, str(corpus["train"]), str(corpus["dev"]), reference)
    steps = iter(range(1000))
    out = tmp_path / "stopped"
    try:
        train(config, str(corpus["train"]), str(corpus["dev"]), out, should_stop=lambda: next(steps) == 17)
        raise AssertionError("the run should have been interrupted")
    except TrainingInterrupted:
        pass
    train(config, str(corpus["train"]), str(corpus["dev"]), out, resume=True)
    expected, got = weights(reference), weights(out)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_a_checkpoint_from_before_bigrams_and_averaging_still_resumes(corpus, tmp_path):
    from ner_bilstm.config import load_config
    from ner_bilstm.training import train

    from .conftest import TINY, interrupted_before

    config = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5})
    out = tmp_path / "old"
    interrupted_before(config, corpus, out, ("bigrams", "bigram_dim", "average"))
    changed = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "average": 0.5})
    with pytest.raises(NerError, match=r"average \(0\.0 then, 0\.5 now\)"):  # the old run had no averaging
        train(changed, str(corpus["train"]), str(corpus["dev"]), out, resume=True)
    result = train(config, str(corpus["train"]), str(corpus["dev"]), out, resume=True)
    assert len(result.history) == 2


def test_a_checkpoint_written_by_an_earlier_version_resumes_where_it_stopped(tmp_path, monkeypatch):
    """tests/fixtures/checkpoints/interrupted was written by ner-bilstm 36df8af: the TINY model on the
    conftest corpus (relative paths train.txt, dev.txt), stopped after 20 steps, in epoch 2. This
    version reads it, goes on from that step (keeping the finished epoch's record) and ends with a
    model that loads. (Bit-exactness against an uninterrupted run holds within one version, tested
    above: since the packed character CNN and the float32 CRF, a run's arithmetic differs from 36df8af's.)"""
    from ner_bilstm.config import load_config
    from ner_bilstm.events import EpochStarted, Resumed
    from ner_bilstm.training import train

    from .conftest import TINY, make_sentences, write_conll

    monkeypatch.chdir(tmp_path)
    write_conll(Path("train.txt"), make_sentences(120, 1))
    write_conll(Path("dev.txt"), make_sentences(30, 2))
    shutil.copytree(Path(__file__).parent / "fixtures" / "checkpoints" / "interrupted", "resumed")
    config = load_config(overrides={**TINY, "epochs": 2, "bf16": "off", "char": "cnn"})  # as that version trained
    with pytest.raises(NerError, match=r"char \('cnn' then, 'lstm' now\).*resume it with --char cnn"):
        train(dataclasses.replace(config, char="auto"), "train.txt", "dev.txt", "resumed", resume=True)
    events: list = []
    resumed = train(config, "train.txt", "dev.txt", "resumed", resume=True, callback=events.append)
    assert Resumed(epoch=2, position=5, finished=False) in events  # it went on from the checkpoint, not from scratch
    assert not any(isinstance(e, EpochStarted) and e.epoch == 1 for e in events)
    assert len(resumed.history) == 2 and resumed.history[0].loss == 10.8345  # epoch 1 as the old version recorded it
    assert load_model("resumed").model.training is False


def test_a_checkpoint_names_a_change_in_the_number_of_processes():
    from ner_bilstm.checkpoint import _differences

    one = {"training": {"hidden": 8}, "data": {"train": "abc"}}  # one process records none
    assert _differences(one, {**one, "processes": 2}) == ["processes (1 then, 2 now)"]
    assert _differences({**one, "processes": 2}, {**one, "processes": 2}) == []
