"""The Python API gives exactly what the command line gives."""

import json

import pytest
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

import ner_bilstm
from ner_bilstm.errors import NerError
from ner_bilstm.events import EpochEnded

from .conftest import TINY, write_conll
from .test_sources import chinese_sentences

runner = CliRunner()

TEXTS = [
    "Maria Lopez, the new chief of Northwind Bank, flew to Lisbon on Monday.",
    "It was a quiet day.",
    "Officials in Berlin praised Anna Berg . John Smith joined Acme Corp after the Olympic Games .",
    "Omar Haddad  visited\tNew York — and Tokyo, with Li Wei.",
    " ".join(["Anna Berg visited Paris on Monday ."] * 290),  # 2,030 tokens: tagged in 256-token pieces
]


def cli_records(model, path, *extra):
    r = runner.invoke(app, ["predict", "--model", str(model), str(path), "--output-format", "jsonl", *extra])
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in r.output.splitlines()]


@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("zh")
    train_p = write_conll(d / "train.txt", chinese_sentences(150, 1))
    dev_p = write_conll(d / "dev.txt", chinese_sentences(30, 2))
    ner_bilstm.train(train_p, dev_p, d / "m", **{**TINY, "epochs": 6})
    return d / "m"


def test_raw_text_and_token_lists_give_predicts_records(tiny_model, tmp_path):
    tagger = ner_bilstm.load(tiny_model)
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    expected = cli_records(tiny_model, tmp_path / "in.txt")
    assert [tagger(text).to_dict() for text in TEXTS] == expected
    assert [doc.to_dict() for doc in tagger.pipe(TEXTS, batch_size=2)] == expected
    assert any(r["entities"] for r in expected) and len(expected[-1]["entities"]) > 500  # the long line is tagged whole

    token_lists = [text.split() for text in TEXTS]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"tokens": t}) + "\n" for t in token_lists), encoding="utf-8")
    expected = cli_records(tiny_model, tmp_path / "in.jsonl")
    assert [doc.to_dict() for doc in tagger.pipe(token_lists)] == expected
    doc = tagger(token_lists[0])
    assert doc.tokens == token_lists[0] and all(e.start is None for e in doc.entities)


def test_documents_carry_typed_entities_with_offsets_into_the_text(tiny_model):
    doc = ner_bilstm.load(tiny_model)("Officials in Berlin praised Anna Berg .")
    assert doc.text.startswith("Officials") and doc.tokens[2] == "Berlin" and len(doc.sentences) == 1
    for e in doc.entities:
        assert isinstance(e, ner_bilstm.Entity)
        assert doc.text[e.start:e.end] == e.text == " ".join(doc.tokens[e.token_start:e.token_end])
        assert 0.0 <= e.score <= 1.0


def test_a_character_level_model_splits_chinese_text_as_predict_does(char_model, tmp_path):
    texts = ["李华毕业于清华大学，美国国籍。", "王芳毕业于北京大学，中国国籍。她用Python写代码。"]
    (tmp_path / "zh.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    tagger = ner_bilstm.load(char_model)
    assert tagger.tokenization == "char"
    expected = cli_records(char_model, tmp_path / "zh.txt")
    assert [tagger(t).to_dict() for t in texts] == expected
    assert any(e["label"] == "NAME" for r in expected for e in r["entities"])


def test_nbest_and_min_score_as_in_the_cli(tiny_model, tmp_path):
    (tmp_path / "in.txt").write_text(TEXTS[2] + "\n", encoding="utf-8")
    assert ner_bilstm.load(tiny_model, nbest=3)(TEXTS[2]).to_dict() == cli_records(tiny_model, tmp_path / "in.txt", "--nbest", "3")[0]
    kept = ner_bilstm.load(tiny_model, min_score=0.9)(TEXTS[2]).entities
    assert all(e.score >= 0.9 for e in kept)


def test_train_and_evaluate_take_the_cli_options_and_return_results(corpus, tmp_path):
    epochs = []
    result = ner_bilstm.train(corpus["train"], corpus["dev"], tmp_path / "m", test=corpus["test"],
                              callback=lambda e: epochs.append(e.record.epoch) if isinstance(e, EpochEnded) else None,
                              **{**TINY, "epochs": 2})
    assert epochs == [1, 2] and result.best_epoch in (1, 2) and result.test is not None
    scores = ner_bilstm.evaluate(tmp_path / "m", corpus["test"])
    assert scores.micro.f1 == result.test.micro.f1 and set(scores.types) == {"PER", "ORG", "LOC", "MISC"}
    r = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m"), str(corpus["test"]), "--format", "json"])
    assert json.loads(r.output) == scores.to_dict()
    summary = ner_bilstm.train(corpus["train"], corpus["dev"], tmp_path / "s", seeds=[1, 2], **{**TINY, "epochs": 1})
    assert [run.seed for run in summary.runs] == [1, 2]
    with pytest.raises(NerError, match="unknown option 'epoch'"):
        ner_bilstm.train(corpus["train"], corpus["dev"], tmp_path / "x", epoch=3)


def test_bad_input_is_one_clear_error(tiny_model):
    tagger = ner_bilstm.load(tiny_model)
    with pytest.raises(NerError, match="without whitespace"):
        tagger(["two words", "x"])
    with pytest.raises(NerError, match="no such|not found"):
        ner_bilstm.load("no/such/model")
    assert sorted(dir(ner_bilstm)) == sorted(ner_bilstm.__all__) and "load" in ner_bilstm.__all__


def test_tagging_options_of_the_wrong_type_or_range_are_refused_up_front(tiny_model, tmp_path):
    """A float or bool nbest failed deep inside torch; a million-best list ran out of memory after a minute."""
    for options in ({"nbest": 2.5}, {"nbest": True}, {"nbest": 10**6}, {"batch_size": 2.5}, {"batch_size": 0},
                    {"min_score": True}, {"min_score": "0.5"}, {"device": None}):
        with pytest.raises(NerError):
            ner_bilstm.load(tiny_model, **options)
    gold = tmp_path / "gold.txt"
    gold.write_text("Anna B-PER\nBerg I-PER\n\n")
    with pytest.raises(NerError, match="batch_size must be an integer"):
        ner_bilstm.evaluate(tiny_model, gold, batch_size="8")
    with pytest.raises(NerError, match="this command reads"):
        ner_bilstm.evaluate(tiny_model, gold, predictions=gold)
    assert gold.read_text() == "Anna B-PER\nBerg I-PER\n\n"


def test_report_refuses_a_negative_worst(tiny_model):
    with pytest.raises(NerError, match="worst must be an integer of at least 0, not -1"):
        ner_bilstm.report(tiny_model, worst=-1)


def test_a_mapping_bytes_or_float_seeds_are_refused_not_misread(tiny_model, corpus, tmp_path):
    tagger = ner_bilstm.load(tiny_model)
    for item in ({"text": "Anna Berg"}, b"Anna Berg"):
        with pytest.raises(NerError, match="give a text"):
            tagger(item)
    with pytest.raises(NerError, match="seeds must be integers"):
        ner_bilstm.train(corpus["train"], corpus["dev"], tmp_path / "m", seeds=[1.7, 2.2], **TINY)


def test_an_unfinished_pipe_stops_its_reader_thread(tiny_model):
    import threading
    import time

    tagger = ner_bilstm.load(tiny_model, batch_size=4)
    before = threading.active_count()
    documents = tagger.pipe("Anna Berg went home ." for _ in range(100_000))
    next(documents)
    documents.close()
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
