"""Every data source: Hugging Face datasets, pretrained embeddings, Chinese characters, conversion, statistics."""

import gzip
import json

import pytest
import torch
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

from ner_bilstm.artifact import load_model
from ner_bilstm.config import load_config
from ner_bilstm.errors import NerError
from ner_bilstm.io import ReaderOptions, read_source
from ner_bilstm.schemes import convert
from ner_bilstm.training import train

from .conftest import TINY, make_sentences, write_conll

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def as_dataset(sentences, class_label: bool):
    import datasets

    tokens = [[t for t, _ in s] for s in sentences]
    tags = [[g for _, g in s] for s in sentences]
    if not class_label:
        return datasets.Dataset.from_dict({"tokens": tokens, "ner_tags": tags})
    names = sorted({g for s in tags for g in s})
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    return datasets.Dataset.from_dict({"tokens": tokens, "ner_tags": [[names.index(g) for g in s] for s in tags]}, features=features)


@pytest.fixture(scope="module")
def hf_sources(tmp_path_factory):
    import datasets

    d = tmp_path_factory.mktemp("hf")
    train_s, dev_s = make_sentences(120, 1), make_sentences(30, 2)
    datasets.DatasetDict({"train": as_dataset(train_s, True), "validation": as_dataset(dev_s, True)}).save_to_disk(str(d / "disk"))
    as_dataset(train_s, False).to_parquet(str(d / "train.parquet"))
    as_dataset(dev_s, False).to_parquet(str(d / "dev.parquet"))
    as_dataset(train_s, False).to_json(str(d / "train.jsonl"))
    return {"disk": d / "disk", "train_parquet": d / "train.parquet", "dev_parquet": d / "dev.parquet", "json": d / "train.jsonl",
            "train_conll": write_conll(d / "train.txt", train_s), "dev_conll": write_conll(d / "dev.txt", dev_s)}


def test_save_to_disk_with_classlabels_and_parquet_with_strings_read_like_conll(hf_sources):
    conll = list(read_source(str(hf_sources["train_conll"])))
    from_disk = list(read_source(str(hf_sources["disk"]), split="train"))
    from_parquet = list(read_source(str(hf_sources["train_parquet"])))
    from_json = list(read_source(str(hf_sources["json"])))
    for sentences in (from_disk, from_parquet, from_json):
        assert [s.tokens for s in sentences] == [s.tokens for s in conll]
        assert [s.tags for s in sentences] == [s.tags for s in conll]
    assert [s.tokens for s in read_source(str(hf_sources["disk"]), split="validation")][0]


def test_training_from_datasets_equals_training_from_conll(hf_sources, tmp_path):
    cfg = load_config(overrides={**TINY, "epochs": 2})
    train(cfg, str(hf_sources["train_conll"]), str(hf_sources["dev_conll"]), tmp_path / "conll")
    train(cfg, str(hf_sources["disk"]), str(hf_sources["disk"]), tmp_path / "disk")
    a, b = load_model(tmp_path / "conll"), load_model(tmp_path / "disk")
    assert a.vocab.to_dict() == b.vocab.to_dict()
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    data = json.loads((tmp_path / "disk" / "config.json").read_text())["data"]
    assert data["train"]["split"] == "train" and data["dev"]["split"] == "validation" and data["train"]["rows"] == 120


def test_datasets_errors_are_one_line(hf_sources, tmp_path):
    r = run("info", hf_sources["disk"], "--split", "nope")
    assert r.exit_code == 1 and "no split 'nope'" in r.output and "train, validation" in r.output
    r = run("info", hf_sources["train_parquet"], "--tags-field", "labels", "--format", "json")
    assert r.exit_code == 0  # unlabelled reading is fine for info
    r = run("train", "--train", hf_sources["train_parquet"], "--dev", hf_sources["dev_parquet"], "--output", tmp_path / "m",
            "--tags-field", "labels")
    assert r.exit_code == 1 and "no column 'labels'" in r.output and len(r.output.strip().splitlines()) == 1
    r = run("info", "hf:no-such-user/no-such-dataset")
    assert r.exit_code == 1 and "parquet-backed" in r.output and "Traceback" not in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("info", empty)
    assert r.exit_code == 1 and "no parquet or arrow files" in r.output


def write_vectors(path, words, dim, header=False, gz=False, bad_line=None):
    gen = torch.Generator().manual_seed(0)
    lines = [f"{len(words)} {dim}"] if header else []
    for w in words:
        lines.append(w + " " + " ".join(f"{x:.4f}" for x in torch.randn(dim, generator=gen).tolist()))
    if bad_line is not None:
        lines.insert(bad_line[0], bad_line[1])
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["glove", "fasttext", "gzip"])
def test_pretrained_embeddings_initialise_extend_and_report_coverage(corpus, tmp_path, kind):
    words = ["anna", "berg", "paris", "visited", "monday", "tokyo", "lima", "officials", "unseenword"]
    name = {"glove": "vec.txt", "fasttext": "vec.vec", "gzip": "vec.txt.gz"}[kind]
    path = write_vectors(tmp_path / name, words, 12, header=kind == "fasttext", gz=kind == "gzip")
    dev = write_conll(tmp_path / "dev.txt", [[("unseenword", "O"), ("Paris", "B-LOC")]])
    out = tmp_path / "m"
    train(load_config(overrides={**TINY, "epochs": 1, "embeddings": str(path)}), str(corpus["train"]), str(dev), out)
    loaded = load_model(out)
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["word_dim"] == 12  # read from the file
    assert config["embeddings"]["dim"] == 12 and 0 < config["embeddings"]["tokens"] < 1
    assert "unseenword" in loaded.vocab.words.stoi  # a dev word with a vector joins the vocabulary
    # Words with vectors start from them (after one epoch they moved only a little).
    row = loaded.model.word_embed.weight[loaded.vocab.words.stoi["unseenword"]]
    assert row.shape == (12,)


@pytest.mark.parametrize("bad, message", [
    ((2, "paris 0.1 0.2"), "expected 12 values, found 2"),
    ((1, "berg " + " ".join(["0.5"] * 11) + " x1"), "not a number: 'x1'"),
])
def test_malformed_embedding_files_name_the_line(corpus, tmp_path, bad, message):
    path = write_vectors(tmp_path / "v.txt", ["anna", "berg", "tokyo"], 12, bad_line=bad)
    r = run("train", "--train", corpus["train"], "--dev", corpus["dev"], "--output", tmp_path / "m", "--embeddings", path,
            "--epochs", "1")
    assert r.exit_code == 1 and f"v.txt:{bad[0] + 1}: {message}" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


CHINESE = [
    ("高勇", "NAME"), ("李华", "NAME"), ("王芳", "NAME"), ("张伟", "NAME"),
    ("北京大学", "EDU"), ("清华大学", "EDU"), ("中国", "CONT"), ("美国", "CONT"),
]


def chinese_sentences(n, seed):
    import random

    rng = random.Random(seed)
    names = [w for w, t in CHINESE if t == "NAME"]
    schools = [w for w, t in CHINESE if t == "EDU"]
    countries = [w for w, t in CHINESE if t == "CONT"]
    out = []
    for _ in range(n):
        parts = [(rng.choice(names), "NAME"), ("毕业于", None), (rng.choice(schools), "EDU"), ("，", None),
                 (rng.choice(countries), "CONT"), ("国籍。", None)]
        sent = []
        for text, label in parts:
            for i, ch in enumerate(text):
                if label is None:
                    tag = "O"
                elif len(text) == 1:
                    tag = f"S-{label}"
                else:
                    tag = f"{'B' if i == 0 else 'E' if i == len(text) - 1 else 'M'}-{label}"
                sent.append((ch, tag))
        out.append(sent)
    return out


def test_chinese_character_model_tags_raw_text_with_exact_offsets(tmp_path):
    train_p = write_conll(tmp_path / "train.txt", chinese_sentences(150, 1))
    dev_p = write_conll(tmp_path / "dev.txt", chinese_sentences(30, 2))
    out = tmp_path / "zh"
    train(load_config(overrides={**TINY, "epochs": 8}), str(train_p), str(dev_p), out)
    config = json.loads((out / "config.json").read_text())
    assert config["tokenization"] == "char" and config["input_scheme"] == "bmes"
    # Character-level data gets bigram embeddings (bigrams auto): each character with the next.
    assert config["model"]["bigram_dim"] == 100
    vocab = json.loads((out / "vocab.json").read_text())
    assert "李 华" in vocab["bigrams"] and "。 " in vocab["bigrams"]  # the last character pairs with the end
    assert load_model(out).model.bigram_embed.weight.shape == (len(vocab["bigrams"]), 100)
    text = "李华毕业于清华大学，美国国籍。他用Python写代码。"
    r = runner.invoke(app, ["predict", "--model", str(out), "--with-tags"], input=json.dumps({"text": text}) + "\n")
    assert r.exit_code == 0, r.output
    record = json.loads(r.output)
    assert "Python" in record["tokens"]  # Latin words stay whole
    assert record["tokens"][:3] == ["李", "华", "毕"]
    found = {(e["text"], e["label"]) for e in record["entities"]}
    assert {("李华", "NAME"), ("清华大学", "EDU")} <= found
    for e in record["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    assert all(t[:2] in ("O", "B-", "M-", "E-", "S-") for t in record["tags"])


def test_conversion_round_trips_keep_other_columns(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n"
                      "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nSmith NNP I-NP B-PER\n\n")
    r = run("convert", source, tmp_path / "bioes.txt", "--to-scheme", "bioes")
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "bioes.txt").read_text().splitlines()
    assert lines[:3] == ["EU NNP I-NP S-ORG", "rejects VBZ I-VP O", "German JJ I-NP S-MISC"]
    assert lines[4:7] == ["Peter NNP I-NP B-PER", "Blackburn NNP I-NP E-PER", "Smith NNP I-NP S-PER"]
    r = run("convert", tmp_path / "bioes.txt", tmp_path / "back.txt", "--to-scheme", "iob1")
    original = [s for s in read_source(str(source))]
    back = [s for s in read_source(str(tmp_path / "back.txt"))]
    assert [s.meta["columns"] for s in back] == [s.meta["columns"] for s in original]
    r = run("convert", source, tmp_path / "x.jsonl", "--to-scheme", "iob2")
    records = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert records[1] == {"tokens": ["Peter", "Blackburn", "Smith"], "tags": ["B-PER", "I-PER", "B-PER"]}
    r = run("convert", tmp_path / "x.jsonl", tmp_path / "y.txt", "--to-scheme", "iob1")
    assert [s.tags for s in read_source(str(tmp_path / "y.txt"))] == [s.tags for s in original]
    for scheme in ("iob2", "bioes", "bmes", "bilou"):
        assert [convert(convert(s.tags, scheme), "iob1") for s in original] == [s.tags for s in original]
    r = run("convert", source, tmp_path / "z.txt", "--to-scheme", "nonsense")
    assert r.exit_code == 2 and "'nonsense' is not one of" in r.output and not (tmp_path / "z.txt").exists()


def test_info_on_a_source_counts_entities_and_invalid_tags(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("a B-PER\nb I-PER\nc O\nd I-LOC\n\ne B-ORG\n\n")
    r = run("info", path, "--format", "json")
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)
    assert stats["sentences"] == 2 and stats["tokens"] == 5 and stats["scheme"] == "iob1"
    assert stats["entities_per_type"] == {"LOC": 1, "ORG": 1, "PER": 1}
    r = run("info", path)
    assert r.exit_code == 0 and "entities" in r.output and "IOB1" in r.output
    path.write_text("a B-PER\nb O\nc I-LOC\n\n")
    stats = json.loads(run("info", path, "--format", "json").output)
    assert stats["scheme"] == "iob1" and stats["invalid_tags"] == 1  # IOB1 writes B- only between same-type entities
    path.write_text("a S-PER\nb O\nc M-LOC\n\n")
    stats = json.loads(run("info", path, "--format", "json").output)
    assert stats["scheme"] == "bmes" and stats["invalid_tags"] == 1 and stats["documents"] is None


def test_docstart_lines_number_the_documents(tmp_path):
    """Sentences before the first -DOCSTART- belong to no document; a -DOCSTART- with no sentences opens none."""
    path = tmp_path / "d.txt"
    path.write_text("a O\n\n-DOCSTART- -X- O\n\nb B-PER\n\nc O\n\n-DOCSTART- -X- O\n\n-DOCSTART- -X- O\n\nd O\n")
    assert [(s.tokens[0], s.meta.get("document")) for s in read_source(str(path))] == [("a", None), ("b", 0), ("c", 0), ("d", 1)]
    r = run("info", path)
    assert r.exit_code == 0 and "4 in 2 documents" in r.output, r.output


def test_lazy_training_streams_a_datasets_source_like_loading_it(hf_sources, tmp_path):
    from ner_bilstm.batching import EncodedCorpus
    from ner_bilstm.schemes import label_set
    from ner_bilstm.streaming import ArrowCorpus, StreamedSentences
    from ner_bilstm.vocab import Vocabularies

    stream = StreamedSentences(str(hf_sources["disk"]), ReaderOptions(split="train"))
    sentences = list(read_source(str(hf_sources["disk"]), split="train"))
    labels = label_set(["LOC", "MISC", "ORG", "PER"], "bioes")
    vocab = Vocabularies.build(((s.tokens, s.tags) for s in stream), labels)
    assert vocab.to_dict() == Vocabularies.build(((s.tokens, s.tags) for s in sentences), labels).to_dict()
    lazy = ArrowCorpus(stream, vocab, "bioes")
    eager = EncodedCorpus(sentences, vocab, [convert(s.tags, "bioes") for s in sentences])
    assert list(lazy.lengths) == eager.lengths
    for index in ([0, 5, 17], list(range(40, 72))):
        a, b = lazy.batch(index), eager.batch(index)
        for name in ("words", "casing", "mask", "tags"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        # The same characters for every token (the distinct-word table may be ordered differently).
        chars_a = [a.chars[t][: a.char_lengths[t]].tolist() for t in a.type_index[a.mask].tolist()]
        chars_b = [b.chars[t][: b.char_lengths[t]].tolist() for t in b.type_index[b.mask].tolist()]
        assert chars_a == chars_b
    result = train(load_config(overrides={**TINY, "epochs": 3, "lazy": True}), str(hf_sources["disk"]),
                   str(hf_sources["dev_conll"]), tmp_path / "lazy")
    assert result.history[-1].loss < result.history[0].loss and result.best_dev.micro.f1 > 30
    r = run("train", "--train", hf_sources["train_conll"], "--dev", hf_sources["dev_conll"], "--output", tmp_path / "x", "--lazy")
    assert r.exit_code == 1 and "--lazy reads a datasets source" in r.output


def test_lazy_training_applies_the_label_map_like_loading(hf_sources):
    from ner_bilstm.batching import EncodedCorpus
    from ner_bilstm.schemes import label_set
    from ner_bilstm.streaming import ArrowCorpus, StreamedSentences
    from ner_bilstm.vocab import Vocabularies

    options = ReaderOptions(split="train", label_map="MISC=,PER=PERSON")
    stream = StreamedSentences(str(hf_sources["disk"]), options)
    sentences = list(read_source(str(hf_sources["disk"]), options))
    assert {t for s in stream for t in s.tags} == {t for s in sentences for t in s.tags} == {
        "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PERSON", "I-PERSON"}
    vocab = Vocabularies.build(((s.tokens, s.tags) for s in sentences), label_set(["LOC", "ORG", "PERSON"], "bioes"))
    lazy, eager = ArrowCorpus(stream, vocab, "bioes"), EncodedCorpus(sentences, vocab, [convert(s.tags, "bioes") for s in sentences])
    assert torch.equal(lazy.batch(list(range(30))).tags, eager.batch(list(range(30))).tags)


def test_a_label_id_that_names_no_class_is_refused_with_its_row(tmp_path):
    """datasets writes -1 for a token without a label: reading it as the last class name would
    teach the tagger a tag nobody gave."""
    import datasets

    from ner_bilstm.batching import Batch
    from ner_bilstm.schemes import label_set
    from ner_bilstm.streaming import ArrowCorpus, StreamedSentences
    from ner_bilstm.vocab import Vocabularies

    names = ["O", "B-PER", "I-PER"]
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    good = {"tokens": [["Anna", "Berg"], ["x"]], "ner_tags": [[1, 2], [0]]}
    datasets.Dataset.from_dict(good, features=features).save_to_disk(str(tmp_path / "good"))
    bad = {"tokens": [["Anna", "Berg"], [], ["Anna", "said"]], "ner_tags": [[1, 2], [], [1, -1]]}
    datasets.Dataset.from_dict(bad, features=features).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(NerError, match=r"bad:3: tag id -1 is not one of the 3 ClassLabel names \(-1: the token has no label\)"):
        list(read_source(str(tmp_path / "bad")))
    r = run("info", tmp_path / "bad")
    assert r.exit_code == 1 and "tag id -1" in r.output and len(r.output.strip().splitlines()) == 1
    # Streamed (--lazy): the row's number in the source, past the empty row the corpus skips.
    vocab = Vocabularies.build(((s.tokens, s.tags) for s in read_source(str(tmp_path / "good"))), label_set(["PER"], "bioes"))
    lazy = ArrowCorpus(StreamedSentences(str(tmp_path / "bad"), ReaderOptions()), vocab, "bioes")
    assert isinstance(lazy.batch([0]), Batch)
    with pytest.raises(NerError, match=r"bad:3: tag id -1"):
        lazy.batch([1])
    # An unlabelled split (every id -1) reads as untagged where tags are optional, and predict reads no tags at all.
    from ner_bilstm.tagging import read_documents

    unlabelled = {"tokens": [["Anna", "Berg"], ["Paris"]], "ner_tags": [[-1, -1], [-1]]}
    datasets.Dataset.from_dict(unlabelled, features=features).save_to_disk(str(tmp_path / "test"))
    assert [s.tags for s in read_source(str(tmp_path / "test"), require_tags=False)] == [None, None]
    assert [d.tokens for d in read_documents(str(tmp_path / "test"))] == [["Anna", "Berg"], ["Paris"]]
    assert [d.tokens for d in read_documents(str(tmp_path / "bad"))] == [["Anna", "Berg"], ["Anna", "said"]]


def test_records_without_tokens_are_counted_by_every_reader(tmp_path):
    import itertools

    import datasets

    from ner_bilstm.io import ReadReport
    from ner_bilstm.streaming import StreamedSentences

    rows = {"tokens": [["Anna", "Berg"], [], ["Paris"]], "ner_tags": [["B-PER", "I-PER"], [], ["B-LOC"]]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "disk"))
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"tokens": t, "tags": g}) + "\n" for t, g in zip(*rows.values())))
    for source in (tmp_path / "disk", tmp_path / "t.jsonl"):
        report = ReadReport()
        assert len(list(read_source(str(source), report=report))) == 2
        assert report.summary() == "1 record without tokens skipped", source
    # Streamed (--lazy): read in several passes, counted once, from a pass that reads to the end.
    report = ReadReport()
    stream = StreamedSentences(str(tmp_path / "disk"), ReaderOptions(), report)
    list(itertools.islice(stream, 1))
    assert report.summary() is None
    list(stream), list(stream)
    assert report.summary() == "1 record without tokens skipped"
    r = run("info", tmp_path / "t.jsonl")
    assert r.exit_code == 0 and "note: " in r.output and "1 record without tokens skipped" in r.output


def test_a_datasets_token_with_a_space_is_refused_as_in_json_lines(tmp_path):
    """CoNLL cannot carry "Maria Lopez" as one token: convert wrote a file it could not read back."""
    import datasets

    datasets.Dataset.from_dict({"tokens": [["Maria Lopez", "x"]], "ner_tags": [["B-PER", "O"]]}).to_parquet(str(tmp_path / "s.parquet"))
    with pytest.raises(NerError, match=r"s.parquet:1: tokens must be non-empty and contain no whitespace"):
        list(read_source(str(tmp_path / "s.parquet")))
