import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_train_evaluate_predict_info_end_to_end(corpus, tmp_path):
    out = tmp_path / "model"
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[model]\nhidden = 32\nword_dim = 24\nchar_filters = 16\n[training]\nepochs = 3\nbatch_size = 8\nlr = 0.01\n')
    r = run("train", "--train", corpus["train"], "--dev", corpus["dev"], "--test", corpus["test"], "--output", out,
            "--config", cfg, "--epochs", "2", "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "epoch 2" in r.output and "micro" in r.output
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["epochs"] == 2  # command line beats the TOML file
    assert config["model"]["hidden"] == 32  # the TOML file beats the defaults
    assert config["input_scheme"] == "iob2" and config["train_scheme"] == "bioes"
    assert len(config["data"]["train"]["sha256"]) == 64
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"loss", "dev_f1", "lr", "seconds"} <= set(history[0])

    r = run("evaluate", "--model", out, corpus["test"], "--format", "json", "--predictions", tmp_path / "pred.conll")
    assert r.exit_code == 0, r.output
    scores = json.loads(r.output)
    metrics = json.loads((out / "metrics.json").read_text())
    assert scores["micro"]["f1"] == metrics["test"]["micro"]["f1"]
    assert set(scores["types"]) == {"PER", "ORG", "LOC", "MISC"}
    assert "conlleval" in scores["mode"]
    lines = [ln.split() for ln in (tmp_path / "pred.conll").read_text().splitlines() if ln]
    assert all(len(cols) == 3 for cols in lines)

    r = run("evaluate", "--model", out, corpus["test"])
    assert r.exit_code == 0 and "micro" in r.output and "conlleval" in r.output

    r = run("info", "--model", out)
    assert r.exit_code == 0 and "BIOES" in r.output and "parameters" in r.output


def test_predict_jsonl_text_and_tokens(tiny_model):
    lines = [
        json.dumps({"id": "doc-1", "text": "Anna Berg visited Paris on Monday. Officials in Tokyo praised John Smith.",
                    "meta": {"k": [1, "é"]}}),
        json.dumps({"id": 2, "tokens": ["Maria", "Lopez", "joined", "Acme", "Corp", "."]}),
        json.dumps({"text": ""}),
    ]
    r = run("predict", "--model", tiny_model, "--with-tags", input="\n".join(lines) + "\n")
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.output.splitlines()]
    assert len(out) == 3
    first = out[0]
    assert first["id"] == "doc-1" and first["meta"] == {"k": [1, "é"]}
    for e in first["entities"]:
        assert first["text"][e["start"] : e["end"]] == e["text"]
        assert 0 < e["score"] <= 1
    assert {"Anna Berg", "Paris"} <= {e["text"] for e in first["entities"]}
    assert len(first["tokens"]) == len(first["tags"])
    second = out[1]
    assert second["id"] == 2 and "start" not in (second["entities"] or [{}])[0]
    assert out[2]["entities"] == []


def test_predict_bad_json_lines_give_error_records_or_fail_with_strict(tiny_model):
    body = '{"text": "Anna Berg"}\n[1,2]\n{"nope": 1, "id": 9}\nnot json\n{"tokens": "x"}\n'
    r = run("predict", "--model", tiny_model, "--input-format", "jsonl", input=body)
    assert r.exit_code == 0
    out = [json.loads(x) for x in r.output.splitlines()]
    assert len(out) == 5 and "entities" in out[0]
    assert [o.get("line") for o in out[1:]] == [2, 3, 4, 5]
    assert out[2]["id"] == 9 and "error" in out[2]
    r = run("predict", "--model", tiny_model, "--input-format", "jsonl", "--strict", input=body)
    assert r.exit_code == 1
    assert "-:2: expected a JSON object" in r.output


def test_a_failed_predict_leaves_no_partial_output_file(tiny_model, tmp_path):
    target = tmp_path / "out.jsonl"
    r = run("predict", "--model", tiny_model, "--input-format", "jsonl", "--strict", "--output", target,
            input='{"text": "Anna Berg"}\n[1]\n')
    assert r.exit_code == 1 and not target.exists()
    assert list(tmp_path.iterdir()) == []
    r = run("predict", "--model", tiny_model, "--output", target, input='Anna Berg\n')
    assert r.exit_code == 0 and json.loads(target.read_text())["text"] == "Anna Berg"


def test_predict_text_conll_and_pretty(tiny_model, corpus, tmp_path):
    text = tmp_path / "doc.txt"
    text.write_text("Peter Blackburn visited Berlin.\n\nReuters reported it.\n")
    r = run("predict", "--model", tiny_model, text, "--output-format", "jsonl")
    out = [json.loads(x) for x in r.output.splitlines()]
    assert len(out) == 3 and out[1] == {"text": "", "entities": []}
    r = run("predict", "--model", tiny_model, text, "--output-format", "pretty")
    assert r.exit_code == 0 and "entities:" in r.output
    assert r.output.splitlines()[1:] == ["Peter Blackburn[PER] visited Berlin[LOC].", "", "Reuters[ORG] reported it."]
    r = run("predict", "--model", tiny_model, corpus["test"], "--input-format", "conll", "--output-format", "conll",
            "--output", tmp_path / "o.conll")
    assert r.exit_code == 0, r.output
    rows = [ln.split() for ln in (tmp_path / "o.conll").read_text().splitlines() if ln]
    source = [ln.split() for ln in corpus["test"].read_text().splitlines() if ln]
    assert [r[:2] for r in rows] == source and all(len(r) == 3 for r in rows)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.txt", "no such file"),
        (lambda d: (d / "cols.txt").write_text("a B-PER\nb O x\n") and d / "cols.txt", "cols.txt:2: expected 2 columns"),
        (lambda d: (d / "tag.txt").write_text("a B-PER\nb FOO\n") and d / "tag.txt", "tag.txt:2: tag 'FOO' is not valid"),
        (lambda d: (d / "x.jsonl").write_text('{"tokens": ["a"], "tags": ["O"]}\n"str"\n') and d / "x.jsonl",
         "x.jsonl:2: expected a JSON object"),
    ],
)
def test_bad_training_input_is_one_line_and_exit_1(corpus, tmp_path, make, message):
    bad = make(tmp_path)
    r = run("train", "--train", bad, "--dev", corpus["dev"], "--output", tmp_path / "m", "--epochs", "1")
    assert r.exit_code == 1
    assert message in r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_broken_model_directories(tiny_model, corpus, tmp_path):
    for name in ("config.json", "vocab.json", "model.safetensors"):
        broken = tmp_path / name
        shutil.copytree(tiny_model, broken)
        (broken / name).unlink()
        r = run("evaluate", "--model", broken, corpus["test"])
        assert r.exit_code == 1 and f"missing {name}" in r.output, r.output
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_model, pickled)
    import torch

    torch.save({"x": torch.zeros(2)}, pickled / "model.safetensors")
    r = run("predict", "--model", pickled, input="hello\n")
    assert r.exit_code == 1 and "not a valid safetensors file" in r.output
    r = run("info", "--model", tmp_path / "nowhere")
    assert r.exit_code == 1 and "model directory not found" in r.output


def test_console_script_and_module_entry_point(tiny_model):
    exe = shutil.which("ner-bilstm", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe, "console script not installed"
    p = subprocess.run([exe, "predict", "--model", str(tiny_model)], input="Anna Berg visited Paris.\n",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["text"] == "Anna Berg visited Paris."
    p = subprocess.run([sys.executable, "-m", "ner_bilstm", "info", "--model", str(tiny_model / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "model directory not found" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_honour_the_umask(corpus, tmp_path, umask, mode):
    """Model files, checkpoints and predict's output get 0666 minus the umask, as any file a user
    writes: a model trained by one user can be read by a service account (umask 0022)."""
    old = os.umask(umask)
    try:
        out = tmp_path / "m"
        r = run("train", "--train", corpus["train"], "--dev", corpus["dev"], "--output", out, "--epochs", "1",
                "--hidden", "16", "--word-dim", "8", "--char-filters", "8", "--batch-size", "16")
        assert r.exit_code == 0, r.output
        assert run("predict", "--model", out, corpus["test"], "--input-format", "conll", "-o", tmp_path / "p.jsonl").exit_code == 0
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()] + [tmp_path / "p.jsonl"]
    assert {p.name for p in files} >= {"config.json", "vocab.json", "model.safetensors", "metrics.json", "history.jsonl",
                                       "state.safetensors", "p.jsonl"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(mode) for p in files}


def test_predict_and_evaluate_take_a_device(tiny_model, corpus):
    r = run("evaluate", "--model", tiny_model, corpus["test"], "--device", "cpu", "--format", "json")
    assert r.exit_code == 0, r.output
    r = run("predict", "--model", tiny_model, corpus["test"], "--input-format", "conll", "--device", "cpu")
    assert r.exit_code == 0 and r.output.count("\n") == 30, r.output
    import torch

    if not torch.cuda.is_available():
        for command in (["evaluate", "--model", tiny_model, corpus["test"]], ["predict", "--model", tiny_model, corpus["test"]]):
            r = run(*command, "--device", "cuda")
            assert r.exit_code == 1 and "no CUDA device" in r.output, r.output


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_predict_and_evaluate_on_cuda_agree_with_cpu(tiny_model, corpus):
    outputs = {}
    for device in ("cpu", "cuda"):
        p = run("predict", "--model", tiny_model, corpus["test"], "--input-format", "conll", "--device", device)
        e = run("evaluate", "--model", tiny_model, corpus["test"], "--device", device, "--format", "json")
        assert p.exit_code == 0 and e.exit_code == 0, p.output + e.output
        outputs[device] = ([[x["label"] for x in json.loads(line)["entities"]] for line in p.output.splitlines()],
                           json.loads(e.output)["micro"]["f1"])
    assert outputs["cpu"] == outputs["cuda"]


EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))


def test_train_help_shows_every_default_and_every_choice():
    from ner_bilstm.config import CHOICES, TrainConfig

    p = subprocess.run([EXE, "train", "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"})
    assert p.returncode == 0
    flat = " ".join(p.stdout.split())
    for panel in ("Data", "Model", "Optimisation", "Output", "Hardware"):
        assert f"─ {panel} " in p.stdout, panel
    defaults = TrainConfig()
    for key in ("hidden", "word_dim", "lr", "batch_size", "epochs", "patience", "dropout", "seed", "checkpoint_every"):
        assert f"--{key.replace('_', '-')}" in flat and f"[default: {getattr(defaults, key)}]" in flat, key
    for key in ("head", "rnn", "char", "bigrams", "optimizer", "scheme", "train_scheme", "device"):
        assert "<" + "|".join(CHOICES[key]) + ">" in flat, key


def test_version_and_usage_errors_are_one_line_with_exit_2():
    p = subprocess.run([EXE, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("ner-bilstm ") and "torch " in p.stdout and "Python " in p.stdout
    train = ["train", "--train", "x", "--dev", "y", "-o", "z"]
    for args, said in (([*train, "--head", "bogus"], "'--head': 'bogus' is not one of 'crf', 'softmax'"),
                       ([*train, "--hidden", "0"], "--hidden: hidden must be at least 1"),
                       ([*train, "--batch-size", "-1"], "--batch-size: batch_size must be at least 1 (or 0 for auto)"),
                       ([*train, "--lr", "nan"], "--lr: lr must be a positive number, not nan"),
                       (["evaluate", "--bogus"], "No such option: --bogus"),
                       (["predict", "--model", "m", "--output-format", "xml"], "'xml' is not one of")):
        p = subprocess.run([EXE, *args], capture_output=True, text=True)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], (args, p.stderr)
    p = subprocess.run([EXE, "evaluate", "--model", "no/such/dir", "x.txt"], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.startswith("error: ")  # a data or model error: 1


def test_rates_and_counts_out_of_range_are_usage_errors_naming_the_option():
    """NaN, infinite or negative values gave tracebacks, diverged runs or a config.json holding NaN."""
    train = ["train", "--train", "x", "--dev", "y", "-o", "z"]
    for args, said in (([*train, "--embed-lr", "-0.5"], "embed_lr must be a number of at least 0, not -0.5"),
                       ([*train, "--clip", "inf"], "clip must be a number of at least 0, not inf"),
                       ([*train, "--lr-decay", "-1"], "lr_decay must be a number of at least 0"),
                       ([*train, "--weight-decay", "nan"], "weight_decay must be a number of at least 0, not nan"),
                       ([*train, "--momentum", "1"], "momentum must be in [0, 1), not 1.0"),
                       ([*train, "--patience", "0"], "patience must be at least 1, not 0"),
                       ([*train, "--threads", "-1"], "threads must be at least 0, not -1"),
                       (["predict", "--model", "m", "--threads", "-1"], "--threads"),
                       (["evaluate", "--model", "m", "x", "--batch-size", "0"], "--batch-size")):
        r = run(*args)
        flat = " ".join(r.output.replace("│", " ").split())  # the message as one line, out of rich's box
        option = next(a for a in args if a.startswith("--") and a not in ("--train", "--dev", "--model"))
        assert r.exit_code == 2 and said in flat and option in flat, (args, flat)


def test_old_option_names_still_work(tiny_model, corpus, tmp_path):
    new = run("evaluate", "--model", tiny_model, corpus["test"], "--output-format", "json")
    old = run("evaluate", "--model", tiny_model, corpus["test"], "--format", "json")
    assert new.exit_code == old.exit_code == 0 and json.loads(new.output) == json.loads(old.output)
    assert run("convert", corpus["test"], tmp_path / "a.out", "--to-format", "jsonl").exit_code == 0
    assert json.loads((tmp_path / "a.out").read_text().splitlines()[0])["tokens"]
    assert "--to-format" not in run("convert", "--help").output  # hidden: one documented name


def test_a_toml_file_and_the_command_line_are_checked_together(corpus, tmp_path):
    """hidden 150 from the file with --attention --heads 3 typed is valid (300 / 3); a file that is
    wrong by itself is the file's error (exit 1), a typed value that breaks it is a usage error (2)."""
    (tmp_path / "ok.toml").write_text("hidden = 150\nword_dim = 8\nchar_filters = 8\n")
    r = run("train", "--train", corpus["train"], "--dev", corpus["dev"], "-o", tmp_path / "m", "--config", tmp_path / "ok.toml",
            "--attention", "--heads", "3", "--epochs", "1")
    assert r.exit_code == 0, r.output
    (tmp_path / "bad.toml").write_text("attention = true\nheads = 3\n")
    assert run("train", "--train", "x", "--dev", "y", "-o", tmp_path / "n", "--config", tmp_path / "bad.toml").exit_code == 1
    r = run("train", "--train", "x", "--dev", "y", "-o", tmp_path / "n", "--config", tmp_path / "ok.toml", "--heads", "7", "--attention")
    assert r.exit_code == 2 and "heads" in r.output


def test_commands_that_need_no_model_start_without_torch(tmp_path):
    """Importing the CLI, the data readers and the scheme code loads no torch (about 1.4 s of every
    `convert`, `info SRC`, `--help` and usage error)."""
    code = ("import sys; import ner_bilstm_cli.main, ner_bilstm.io, ner_bilstm.conversion, ner_bilstm.statistics, "
            "ner_bilstm.evaluation, ner_bilstm.events; print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
