"""Hostile and broken input through the real console script: one line on stderr and exit 1, or
handled correctly; never a traceback, never a partial output file."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))
SMALL = ["--epochs", "1", "--hidden", "16", "--word-dim", "16", "--char-dim", "8", "--batch-size", "16"]
GOOD = "Anna B-PER\nBerg I-PER\nvisited O\nParis B-LOC\n.\tO\n\nJohn B-PER\nleft O\n\n"


def train_case(files: dict[str, bytes | str], *extra: str):
    """(args, files): train on train.txt/dev.txt (GOOD unless given)."""
    return ["train", "--train", "{d}/train.txt", "--dev", "{d}/dev.txt", "--output", "{d}/out", *SMALL, *extra], \
        {"train.txt": GOOD, "dev.txt": GOOD, **files}


def junk_weights(d: Path, model: Path) -> None:
    torch.save({"x": torch.zeros(3)}, d / "m" / "model.safetensors")


def reshaped_weights(d: Path, model: Path) -> None:
    state = load_file(str(model / "model.safetensors"))
    state["projection.weight"] = torch.zeros(3, 3)
    save_file(state, str(d / "m" / "model.safetensors"))


def edit_config(change):
    def apply(d: Path, model: Path) -> None:
        path = d / "m" / "config.json"
        config = json.loads(path.read_text())
        change(config)
        path.write_text(json.dumps(config))
    return apply


CASES = {
    # training data
    "missing file": (["train", "--train", "{d}/missing.txt", "--dev", "{d}/dev.txt", "--output", "{d}/out"], {"dev.txt": GOOD},
                     "error", "missing.txt: no such file"),
    "directory instead of file": (["train", "--train", "{d}", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                                  {"dev.txt": GOOD}, "error", "no parquet or arrow files"),
    "latin-1 bytes": (*train_case({"train.txt": GOOD.replace("Paris", "Zürich").encode("latin-1")}), "error",
                      "not valid utf-8 text"),
    "latin-1 with --encoding": (*train_case({"train.txt": GOOD.replace("Paris", "Zürich").encode("latin-1"),
                                             "dev.txt": GOOD.encode("latin-1")}, "--encoding", "latin-1"), "ok", None),
    "byte-order mark": (*train_case({"train.txt": "\ufeff" + GOOD}), "ok", None),
    "NUL bytes": (*train_case({"train.txt": GOOD.replace("Berg", "Be\x00rg")}), "error", "NUL byte"),
    "empty file": (*train_case({"train.txt": ""}), "error", "has no sentences"),
    "only DOCSTART": (*train_case({"train.txt": "-DOCSTART- O\n\n\n-DOCSTART- O\n"}), "error", "has no sentences"),
    "CRLF and trailing spaces": (*train_case({"train.txt": GOOD.replace("\n", "  \r\n")}), "ok", None),
    "mixed tabs and spaces": (*train_case({"train.txt": GOOD.replace(" ", "\t", 2)}), "ok", None),
    "wrong column count": (*train_case({"train.txt": GOOD + "x y B-PER\n"}), "error", "expected 2 columns, found 3"),
    "tag valid in no scheme": (*train_case({"train.txt": GOOD + "x PERSON\n"}), "error", "not valid in any scheme"),
    "no entities in training": (*train_case({"train.txt": "a O\nb O\n"}), "error", "has no entities"),
    "no entities in dev": (*train_case({"dev.txt": "a O\nb O\n"}), "error", "dev set has no entities"),
    "dev labels unseen in training": (*train_case({"dev.txt": GOOD + "Acme B-ORG\n"}), "ok", "ORG 1"),
    "10,000-token sentence": (*train_case({"train.txt": GOOD + "".join(f"w{i} O\n" for i in range(10_000))}), "ok", None),
    "a megabyte-long token": (*train_case({"train.txt": GOOD + "x" * 1_000_000 + " O\n"}), "ok", None),
    "JSON line not an object": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                                {"t.jsonl": '[1, 2]\n', "dev.txt": GOOD}, "error", "t.jsonl:1: expected a JSON object"),
    "JSON line not JSON": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                           {"t.jsonl": '{"tokens": [\n', "dev.txt": GOOD}, "error", "t.jsonl:1: not valid JSON"),
    "JSON line tag count": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                            {"t.jsonl": '{"tokens": ["a"], "tags": ["O", "O"]}\n', "dev.txt": GOOD}, "error",
                            "1 tokens but 2 tags"),
    "unknown option value": (*train_case({}, "--head", "lstm"), "error", "head must be one of crf, softmax"),
    "unknown TOML key": (*train_case({"c.toml": "hiddden = 3\n"}, "--config", "{d}/c.toml"), "error", "unknown option 'hiddden'"),
    "broken TOML": (*train_case({"c.toml": "hidden = = 3\n"}, "--config", "{d}/c.toml"), "error", "not valid TOML"),
    "wrong TOML type": (*train_case({"c.toml": "hidden = 'big'\n"}, "--config", "{d}/c.toml"), "error", "hidden must be a int"),
    # model directories
    "model directory missing": (["predict", "--model", "{d}/nowhere"], {}, "error", "model directory not found"),
    "pickle instead of weights": (["predict", "--model", "{d}/m"], junk_weights, "error", "not a valid safetensors file"),
    "weights of the wrong shape": (["predict", "--model", "{d}/m"], reshaped_weights, "error", "projection.weight has shape"),
    "config not JSON": (["predict", "--model", "{d}/m"], lambda d, m: (d / "m" / "config.json").write_text("{"),
                        "error", "not valid JSON"),
    "config value of the wrong type": (["predict", "--model", "{d}/m"], edit_config(lambda c: c["model"].update(hidden="big")),
                                       "error", "'model.hidden' has the wrong type"),
    "config key missing": (["predict", "--model", "{d}/m"], edit_config(lambda c: c.pop("train_scheme")),
                           "error", "missing key 'train_scheme'"),
    "newer model format": (["predict", "--model", "{d}/m"], edit_config(lambda c: c.update(format_version=99)),
                           "error", "newer than this ner-bilstm reads"),
    # predict input and output
    "output into a missing folder": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/no/such/out.jsonl"],
                                     {"in.txt": "Anna Berg\n"}, "error", "the folder does not exist"),
    "binary junk as text": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/out.jsonl"],
                            {"in.txt": bytes(range(256)) * 4}, "error", "not valid utf-8"),
    "a 2 MB line": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/out.jsonl"],
                    {"in.txt": ("Anna Berg visited Paris , " * 80_000) + "\n"}, "ok", None),
    "evaluate with labels the model never saw": (["evaluate", "--model", "{model}", "{d}/gold.txt", "--format", "json"],
                                                 {"gold.txt": GOOD + "Acme B-ORG\nCorp I-ORG\n"}, "ok", '"ORG"'),
    "convert to an unknown scheme": (["convert", "{d}/in.txt", "{d}/out.txt", "--to-scheme", "iob3"], {"in.txt": GOOD},
                                     "error", "unknown tag scheme"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(name, tiny_model, tmp_path):
    args, files, outcome, expected = CASES[name]
    if callable(files):
        shutil.copytree(tiny_model, tmp_path / "m")
        files(tmp_path, tiny_model)
    else:
        for filename, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (tmp_path / filename).write_bytes(data)
    argv = [a.format(d=tmp_path, model=tiny_model) for a in args]
    p = subprocess.run([EXE, *argv], capture_output=True, text=True, timeout=600, errors="replace")
    assert "Traceback" not in p.stderr + p.stdout
    if outcome == "error":
        assert p.returncode == 1, (p.returncode, p.stderr, p.stdout[-500:])
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
        assert expected in lines[0], lines[0]
        for partial in ("out", "out.jsonl", "out.txt"):
            assert not (tmp_path / partial).exists(), f"partial output {partial} left behind"
    else:
        assert p.returncode == 0, p.stderr
        if expected:
            assert expected in p.stdout + p.stderr
