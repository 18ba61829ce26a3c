"""Training over several seeds: the summary's arithmetic, the model kept, resuming, the options."""

import json
import statistics
import time

import pytest
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

from ner_bilstm.artifact import load_model
from ner_bilstm.config import MAX_SEED, load_config
from ner_bilstm.errors import NerError
from ner_bilstm.seeds import MAX_SEEDS, parse_seeds, train_seeds

from .conftest import TINY

runner = CliRunner()
OPTIONS = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "epochs": 2}.items() if k != "seed"]


def train(corpus, out, *extra):
    return runner.invoke(app, ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--test", str(corpus["test"]),
                               "--output", str(out), *OPTIONS, *extra])


def test_seeds_summarise_and_keep_the_best_dev_model(corpus, tmp_path):
    out = tmp_path / "m"
    r = train(corpus, out, "--seeds", "3,1,2")
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "seeds.json").read_text())
    runs = {run["seed"]: run for run in summary["runs"]}
    assert list(runs) == [3, 1, 2]
    for seed, run in runs.items():
        metrics = json.loads((out / "seeds" / f"seed-{seed}" / "metrics.json").read_text())
        assert run["dev_f1"] == metrics["dev"]["micro"]["f1"] and run["test_f1"] == metrics["test"]["micro"]["f1"]
        assert json.loads((out / "seeds" / f"seed-{seed}" / "config.json").read_text())["training"]["seed"] == seed
    dev = [run["dev_f1"] for run in runs.values()]
    assert summary["dev"]["mean"] == round(statistics.fmean(dev), 2)
    assert summary["dev"]["sd"] == round(statistics.stdev(dev), 2)
    assert (summary["dev"]["min"], summary["dev"]["max"]) == (min(dev), max(dev))
    test = [run["test_f1"] for run in runs.values()]
    assert summary["test"]["mean"] == round(statistics.fmean(test), 2)
    assert set(summary["test_types"]) == {"LOC", "MISC", "ORG", "PER"}
    best = summary["best_seed"]
    assert runs[best]["dev_f1"] == max(dev)
    # The top-level directory is the best seed's model, byte for byte.
    assert (out / "model.safetensors").read_bytes() == (out / "seeds" / f"seed-{best}" / "model.safetensors").read_bytes()
    assert load_model(out).record.training["seed"] == best
    assert "mean ± sd" in r.output and f"seed {best}" in r.output


def test_resume_keeps_the_finished_seeds(corpus, tmp_path):
    out = tmp_path / "m"
    assert train(corpus, out, "--seeds", "1").exit_code == 0
    first = (out / "seeds" / "seed-1" / "model.safetensors").stat().st_mtime_ns
    trained = json.loads((out / "seeds.json").read_text())["runs"][0]["seconds"]
    time.sleep(0.2)  # a resume that restarted the clock would report less than the training took
    r = train(corpus, out, "--seeds", "1,2", "--resume")
    assert r.exit_code == 0, r.output
    assert "seed 1 (1 of 2) (resumed from its checkpoint)" in r.output
    assert (out / "seeds" / "seed-1" / "model.safetensors").stat().st_mtime_ns == first
    runs = json.loads((out / "seeds.json").read_text())["runs"]
    assert [run["seed"] for run in runs] == [1, 2]
    # The training's wall time, kept across the resume; less the test scoring, which on a loaded
    # machine can take a good part of it. A clock restarted by the resume would read about 0.
    assert runs[0]["seconds"] >= trained / 2


def test_a_fresh_run_removes_the_old_summary(corpus, tmp_path):
    out = tmp_path / "m"
    assert train(corpus, out, "--seeds", "1").exit_code == 0
    config = load_config(overrides={**TINY, "epochs": 2})
    with pytest.raises(NerError):  # fails inside the first seed, after the old seed-1 would have been overwritten
        train_seeds(config, [1], str(corpus["train"]), str(tmp_path / "missing.txt"), out)
    assert not (out / "seeds.json").exists()


@pytest.mark.parametrize("text, seeds", [("1,2,3", [1, 2, 3]), ("1-3", [1, 2, 3]), (" 7 , 2-3", [7, 2, 3]), ("0", [0])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "1,1", "a", "1-", "-1", "3,x", "5-1,7", "0-1000000000", f"1-{MAX_SEEDS + 1}", str(MAX_SEED + 1)])
def test_bad_seed_lists_are_refused(text):
    with pytest.raises(NerError):
        parse_seeds(text)
    assert len(parse_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS
    assert parse_seeds(str(MAX_SEED)) == [MAX_SEED]


def test_seed_and_seeds_together_is_a_usage_error(corpus, tmp_path):
    r = train(corpus, tmp_path / "m", "--seeds", "1,2", "--seed", "4")
    assert r.exit_code == 2 and "--seed or --seeds" in r.output
    r = train(corpus, tmp_path / "m", "--seeds", "1,1")
    assert r.exit_code == 2 and "distinct" in r.output
    assert not (tmp_path / "m").exists()
