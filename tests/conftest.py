"""Shared fixtures: a tiny corpus written by the tests and a tiny model trained on it once."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

# Tests never touch the network: datasets and the hub read only local files.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

PEOPLE = ["Anna Berg", "John Smith", "Li Wei", "Maria Lopez", "Omar Haddad", "Peter Blackburn", "Sara Nilsen"]
ORGS = ["Northwind Bank", "Acme Corp", "United Nations", "Halden Rovers", "Reuters"]
PLACES = ["Paris", "Berlin", "New York", "Tokyo", "Lagos", "Lima"]
MISC = ["German", "French", "Olympic Games", "English"]
TEMPLATES = [
    "{PER} visited {LOC} on Monday .",
    "{PER} , chief of {ORG} , said the talks in {LOC} went well .",
    "The {MISC} delegation met {PER} at {ORG} .",
    "{ORG} shares rose 3.5 percent in {LOC} .",
    "Officials in {LOC} praised {PER} .",
    "It was a quiet day .",
    "{PER} joined {ORG} after the {MISC} .",
]


def make_sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    """``n`` IOB2-tagged sentences from the templates above."""
    rng = random.Random(seed)
    pools = {"PER": PEOPLE, "ORG": ORGS, "LOC": PLACES, "MISC": MISC}
    out = []
    for _ in range(n):
        pairs = []
        for word in rng.choice(TEMPLATES).split():
            if word.startswith("{"):
                label = word[1:-1]
                for i, token in enumerate(rng.choice(pools[label]).split()):
                    pairs.append((token, f"{'B' if i == 0 else 'I'}-{label}"))
            else:
                pairs.append((word, "O"))
        out.append(pairs)
    return out


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], sep: str = " ") -> Path:
    path.write_text("".join("".join(f"{t}{sep}{g}\n" for t, g in s) + "\n" for s in sentences), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    return {
        "train": write_conll(d / "train.txt", make_sentences(120, 1)),
        "dev": write_conll(d / "dev.txt", make_sentences(30, 2)),
        "test": write_conll(d / "test.txt", make_sentences(30, 3)),
    }


TINY = {"epochs": 4, "hidden": 32, "word_dim": 24, "char_filters": 16, "char_dim": 12, "batch_size": 8, "seed": 7,
        "patience": 10, "lr": 0.01}


@pytest.fixture(scope="session")
def tiny_model(corpus, tmp_path_factory) -> Path:
    """A small CRF model trained for a few epochs on the tiny corpus."""
    from ner_bilstm.config import load_config
    from ner_bilstm.training import train

    out = tmp_path_factory.mktemp("model") / "m"
    train(load_config(overrides=TINY), str(corpus["train"]), str(corpus["dev"]), out, test_path=str(corpus["test"]))
    return out


def interrupted_before(config, corpus: dict[str, Path], out: Path, options: tuple[str, ...]) -> None:
    """A checkpoint as a version from before ``options`` existed writes it: training stopped
    after 7 steps, then those training options removed from the checkpoint's identity."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ner_bilstm.errors import TrainingInterrupted
    from ner_bilstm.training import train

    steps = iter(range(1000))
    with pytest.raises(TrainingInterrupted):
        train(config, str(corpus["train"]), str(corpus["dev"]), out, should_stop=lambda: next(steps) == 7)
    path = out / "checkpoint" / "state.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["state"])
    for key in options:
        del meta["identity"]["training"][key]
    save_file(load_file(str(path)), str(path), metadata={"state": json.dumps(meta)})


def shared(*parts: str) -> Path:
    """A path in ../shared/data, or skip the test when the shared data is absent (a user's clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path
