"""The document memory: its links against brute force, its reads, and the model that uses it
(reproducible, resumable, batch-independent, whole -DOCSTART- blocks when streaming)."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm.artifact import load_model
from ner_bilstm.batching import EncodedCorpus, length_batches
from ner_bilstm.config import load_config
from ner_bilstm.doc_memory import MAX_PARTNERS, DocumentMemory, document_links, document_units, linkable
from ner_bilstm.documents import Document
from ner_bilstm.errors import NerError, TrainingInterrupted
from ner_bilstm.inference import Predictor
from ner_bilstm.io import read_source
from ner_bilstm.sentence import Sentence
from ner_bilstm.tagging import _whole_blocks, read_documents, tag_documents
from ner_bilstm.training import train

from .conftest import TINY, interrupted_before, make_sentences

WORDS = ["Paris", "paris", "PARIS", "the", "Acme", "acme", "Li", "x"]


def write_documents(path: Path, sentences: list, per_document: int) -> Path:
    """A CoNLL file whose sentences come in -DOCSTART- documents of ``per_document`` sentences."""
    lines = []
    for i, s in enumerate(sentences):
        if i % per_document == 0:
            lines.append("-DOCSTART- O\n\n")
        lines.append("".join(f"{t} {g}\n" for t, g in s) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def doc_corpus(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("doc-corpus")
    return {"train": write_documents(d / "train.txt", make_sentences(120, 1), 6),
            "dev": write_documents(d / "dev.txt", make_sentences(30, 2), 5),
            "test": write_documents(d / "test.txt", make_sentences(30, 3), 5)}


@pytest.fixture(scope="module")
def memory_model(doc_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("memory-model") / "m"
    train(load_config(overrides={**TINY, "epochs": 3}), str(doc_corpus["train"]), str(doc_corpus["dev"]), out)
    return out


def brute_partners(sentences, documents) -> dict[int, list[int]]:
    tokens = [(t, doc if doc is not None else ("own", i)) for i, (s, doc) in enumerate(zip(sentences, documents)) for t in s]
    out = {}
    for p, (t, doc) in enumerate(tokens):
        if not linkable(t):
            continue
        same = [q for q, (u, d) in enumerate(tokens) if q != p and d == doc and linkable(u) and u.lower() == t.lower()]
        if same:
            out[p] = sorted(same, key=lambda q: (abs(q - p), q))[:MAX_PARTNERS]
    return out


sentence_lists = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(sentence_lists, st.data())
def test_links_are_the_nearest_same_word_mentions_of_the_same_document(sentences, data):
    documents = data.draw(st.lists(st.sampled_from([None, 0, 1]), min_size=len(sentences), max_size=len(sentences)))
    links = document_links(sentences, documents)
    position_of = {int(slot): p for p, slot in enumerate(links.slot.tolist()) if slot >= 0}
    got = {p: [position_of[int(r)] for r in links.partners[links.ptr[p] : links.ptr[p + 1]]]
           for p in range(len(links.slot)) if links.slot[p] >= 0}
    assert got == brute_partners(sentences, documents)


def test_a_frequent_word_keeps_its_nearest_partners_only():
    sentences = [["Paris"] * 40]
    links = document_links(sentences, [None])
    assert int(links.ptr[20 + 1] - links.ptr[20]) == MAX_PARTNERS
    partners = sorted(links.partners[links.ptr[20] : links.ptr[21]].tolist())
    assert partners == [12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28]


@settings(max_examples=40, deadline=None)
@given(sentence_lists, st.data())
def test_a_read_is_the_mean_of_the_filled_partner_rows(sentences, data):
    links = document_links(sentences, [0] * len(sentences))
    memory = DocumentMemory(links, 3)
    n = len(links.slot)
    written = data.draw(st.lists(st.integers(0, n - 1), max_size=n))
    states = torch.randn(n, 3)
    memory.write(torch.tensor(written, dtype=torch.long), states[written])
    got = memory.read(torch.arange(n))
    for p in range(n):
        if links.slot[p] < 0:
            assert got[p].abs().sum() == 0
            continue
        rows = links.partners[links.ptr[p] : links.ptr[p + 1]].tolist()
        filled = [q for q in set(written) if int(links.slot[q]) in rows]
        assert got[p, 3] == (1.0 if filled else 0.0)
        expected = states[filled].mean(0) if filled else torch.zeros(3)
        assert torch.allclose(got[p, :3], expected, atol=1e-6)


def test_document_units_are_runs_of_one_document():
    sentences = [Sentence(["a"], meta=m) for m in ({}, {"document": 0}, {"document": 0}, {"document": 1}, {}, {})]
    assert document_units(sentences) == [[0], [1, 2], [3], [4], [5]]


def test_auto_turns_the_memory_on_for_documents_only(memory_model, tiny_model):
    with_docs = json.loads((memory_model / "config.json").read_text())
    assert with_docs["model"]["memory_dim"] == 100 and with_docs["training"]["doc_memory"] == "on"
    assert with_docs["format_version"] == 4 and with_docs["model"]["memory_scope"] == "linked"
    assert any(k.startswith("memory_head.") for k in load_model(memory_model).model.state_dict())
    plain = json.loads((tiny_model / "config.json").read_text())
    assert plain["model"]["memory_dim"] == 0 and plain["training"]["doc_memory"] == "off"
    assert plain["format_version"] == 1  # what older versions read
    assert load_model(tiny_model).model.memory_head is None


def test_on_and_off_override_auto(doc_corpus, corpus, tmp_path):
    train(load_config(overrides={**TINY, "epochs": 1, "doc_memory": "off"}), str(doc_corpus["train"]), str(doc_corpus["dev"]),
          tmp_path / "off")
    assert load_model(tmp_path / "off").model.memory_head is None
    train(load_config(overrides={**TINY, "epochs": 1, "doc_memory": "on"}), str(corpus["train"]), str(corpus["dev"]), tmp_path / "on")
    assert load_model(tmp_path / "on").model.memory_head is not None  # no documents: every token is on its own
    with pytest.raises(NerError, match="memory_dim must be at least 1"):
        load_config(overrides={"doc_memory": "on", "memory_dim": 0})


def test_seeded_training_with_the_memory_is_bit_exact_and_resumes_exactly(doc_corpus, memory_model, tmp_path):
    config = load_config(overrides={**TINY, "epochs": 3, "checkpoint_every": 4})
    again = tmp_path / "again"
    train(config, str(doc_corpus["train"]), str(doc_corpus["dev"]), again)
    expected = load_model(memory_model).model.state_dict()
    assert all(torch.equal(v, load_model(again).model.state_dict()[k]) for k, v in expected.items())
    steps = iter(range(1000))
    out = tmp_path / "stopped"
    with pytest.raises(TrainingInterrupted):  # in epoch 2, so the checkpoint holds a memory filled by epoch 1
        train(config, str(doc_corpus["train"]), str(doc_corpus["dev"]), out, should_stop=lambda: next(steps) == 21)
    from safetensors.torch import load_file

    state = load_file(str(out / "checkpoint" / "state.safetensors"))
    assert state["memory.filled"].any()
    train(config, str(doc_corpus["train"]), str(doc_corpus["dev"]), out, resume=True)
    got = load_model(out).model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in expected.items())


def test_a_document_gets_the_same_tags_alone_and_among_others_and_its_mentions_matter(memory_model, doc_corpus):
    loaded = load_model(memory_model)
    sentences = list(read_source(str(doc_corpus["test"])))
    units = document_units(sentences)
    together = Predictor(loaded, batch_size=64).predict(sentences)
    for unit in units[:3]:
        alone = Predictor(loaded, batch_size=2).predict([sentences[i] for i in unit])
        for i, a in zip(unit, alone):
            assert a.tags == together[i].tags
            assert all(abs(x.score - y.score) < 1e-3 for x, y in zip(a.entities, together[i].entities))
    # The context changes the scores: each sentence as a document of its own scores differently.
    own = Predictor(loaded, batch_size=64).predict(sentences, documents=[None] * len(sentences))
    scores = lambda preds: [e.score for p in preds for e in p.entities]  # noqa: E731
    assert scores(own) != scores(together)


def test_the_tag_pass_reuses_the_fill_pass_states_and_tags_as_if_it_encoded_again(memory_model, doc_corpus, monkeypatch):
    """Each batch is encoded once; past the budget of kept states a batch holding a linked token is
    encoded again, and the predictions (n-best lists included) are the same to the last bit."""
    from ner_bilstm import inference

    loaded = load_model(memory_model)
    sentences = list(read_source(str(doc_corpus["test"])))
    calls = []
    encode = loaded.model.states
    monkeypatch.setattr(loaded.model, "states", lambda batch: calls.append(batch.mask.numel()) or encode(batch))

    def run(budget: int, nbest: int = 0) -> tuple[list, int]:
        monkeypatch.setattr(inference, "STATES_BUDGET", budget)
        calls.clear()
        preds = Predictor(loaded, batch_size=8, nbest=nbest).predict(sentences)
        return [(p.tags, [(e.label, e.token_start, e.token_end, e.score) for e in p.entities], p.alternatives) for p in preds], len(calls)

    batches = len(length_batches([len(s) for s in sentences], 8))
    kept, encoded = run(inference.STATES_BUDGET)
    assert encoded == batches
    again, all_twice = run(0)
    assert batches < all_twice <= 2 * batches and again == kept
    width = loaded.model.encoder.output_size
    some, partly = run(3 * 8 * width)  # room for the states of a few short batches
    assert batches < partly < all_twice and some == kept
    assert run(inference.STATES_BUDGET, nbest=2)[0] == run(0, nbest=2)[0]


def test_streamed_conll_blocks_are_tagged_whole_whatever_the_window(memory_model, doc_corpus):
    loaded = load_model(memory_model)
    predictor = Predictor(loaded, batch_size=4)
    sentences = list(read_source(str(doc_corpus["test"])))
    whole = [p.tags for p in predictor.predict(sentences)]
    alone = [p.tags for p in predictor.predict(sentences, documents=[None] * len(sentences))]
    assert whole != alone
    for window, expected in ((1, alone), (5, whole), (7, whole), (1000, whole)):
        chunks = tag_documents(predictor, read_documents(str(doc_corpus["test"]), "conll"), window=window)
        got = [p.tags for chunk in chunks for d in chunk for p in d.predictions]
        assert got == expected  # blocks of 5 sentences fit a window of 5 or more: tagged whole, as in one call


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([None, 0, 1, 2]), max_size=30), st.lists(st.integers(1, 6), max_size=30), st.integers(1, 4))
def test_whole_blocks_keep_each_block_together_in_input_order(drawn, cuts, window):
    blocks: list = []  # consecutive equal draws are one block, numbered apart from any other
    for i, b in enumerate(drawn):
        blocks.append(None if b is None else blocks[-1] if i and drawn[i - 1] == b else 10 * i + b)
    docs = [Document(i, [Sentence(["a"], meta={} if b is None else {"source": "f", "document": b})]) for i, b in enumerate(blocks)]
    chunks, at = [], 0
    for size in cuts + [len(docs)]:
        if at < len(docs):
            chunks.append(docs[at : at + size])
            at += size
    groups = list(_whole_blocks(chunks, window))
    assert [d.line for g in groups for d in g] == list(range(len(docs)))
    runs: list[list[int]] = []  # consecutive sentences of one block, cut every `window`
    for i, b in enumerate(blocks):
        if b is not None and runs and blocks[runs[-1][0]] == b and len(runs[-1]) < window:
            runs[-1].append(i)
        elif b is not None:
            runs.append([i])
    where = {d.line: k for k, g in enumerate(groups) for d in g}
    for run in runs:
        assert len({where[i] for i in run}) == 1  # a piece is never split
    for g in groups:  # and two pieces of one block never share a group (they would link)
        pieces = [r for r in runs if r[0] in {d.line for d in g}]
        assert len({blocks[r[0]] for r in pieces}) == len(pieces)


def torchrun_train(corpus: dict[str, Path], out: Path, *options: str) -> None:
    """A small two-process training of ``corpus`` into ``out`` under torchrun, which must succeed."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "ner_bilstm", "train",
               "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), "--epochs", "2",
               "--hidden", "32", "--word-dim", "24", "--batch-size", "16", "--seed", "3", *options]
    p = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]


def test_two_processes_share_one_memory_and_score_dev_by_whole_documents(doc_corpus, tmp_path):
    """Each process writes the rows of its own sentences; the step hands them over, so after an
    epoch rank 0's memory (the checkpoint's) holds every linked token, not half of them."""
    from ner_bilstm_cli.main import app
    from safetensors.torch import load_file
    from typer.testing import CliRunner

    out = tmp_path / "ddp"
    torchrun_train(doc_corpus, out, "--lr", "0.01")
    filled = load_file(str(out / "checkpoint" / "state.safetensors"))["memory.filled"]
    assert filled.numel() > 50 and bool(filled.all())
    reported = json.loads((out / "metrics.json").read_text())["dev"]["micro"]["f1"]
    r = CliRunner().invoke(app, ["evaluate", "--model", str(out), str(doc_corpus["dev"]), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["micro"]["f1"] == reported  # dev scored in shards of whole documents, as evaluate scores it


def test_two_processes_train_when_their_batches_have_no_linked_tokens(corpus, tmp_path):
    """Without documents nothing is linked, so the memory's scorer sees no rows; under DDP it must
    still give its parameters a gradient each step, or the processes wait for each other forever."""
    out = tmp_path / "ddp"
    torchrun_train(corpus, out, "--doc-memory", "on")
    assert load_model(out).model.memory_head is not None
    assert len((out / "history.jsonl").read_text().splitlines()) == 2


def test_a_bad_line_inside_a_block_still_tags_the_sentences_before_it(memory_model, tmp_path):
    text = "-DOCSTART- O\n\nAnna B-PER\nsaid O\n\nAnna B-PER\nleft O\n\nbad line with too many columns\n"
    path = tmp_path / "bad.conll"
    path.write_text(text, encoding="utf-8")
    predictor = Predictor(load_model(memory_model), batch_size=4)
    tagged = []
    with pytest.raises(NerError):
        for chunk in tag_documents(predictor, read_documents(str(path), "conll"), window=16):
            tagged += [d.tokens for d in chunk]
    assert tagged == [["Anna", "said"], ["Anna", "left"]]


def test_document_names_must_match_the_sentences(memory_model):
    with pytest.raises(ValueError, match="2 document names for 1 sentences"):
        Predictor(load_model(memory_model)).predict([Sentence(["Anna"])], documents=[0, 0])


def test_a_checkpoint_from_before_the_memory_resumes_with_the_memory_off(doc_corpus, tmp_path):
    config = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "doc_memory": "off"})
    out = tmp_path / "old"
    interrupted_before(config, doc_corpus, out, ("doc_memory", "memory_dim"))
    with pytest.raises(NerError, match="predates the document memory: resume it with --doc-memory off"):
        train(load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5}), str(doc_corpus["train"]),
              str(doc_corpus["dev"]), out, resume=True)
    assert len(train(config, str(doc_corpus["train"]), str(doc_corpus["dev"]), out, resume=True).history) == 2


def emissions_with_and_without_memory(loaded, sentences) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of ``sentences``: emissions with the filled memory, without any, the real-token
    mask and the linked-token mask, all over (batch, time)."""
    corpus = EncodedCorpus(sentences, loaded.vocab, max_word_chars=loaded.max_word_chars)
    Predictor(loaded).fill_memory(corpus, [list(range(len(sentences)))], [s.tokens for s in sentences],
                                  [s.meta.get("document") for s in sentences])
    batch = corpus.batch(range(len(sentences)))
    network = loaded.model.eval()
    with torch.no_grad():
        with_memory = network.emissions(batch)
        rows, batch.memory = batch.memory, None
        without = network.emissions(batch)
    linked = torch.zeros(batch.mask.numel(), dtype=torch.bool)
    linked[rows.linked()[0]] = True
    return with_memory, without, batch.mask, linked.view_as(batch.mask)


def test_the_head_changes_the_scores_of_linked_tokens_only(memory_model, doc_corpus):
    loaded = load_model(memory_model)
    sentences = list(read_source(str(doc_corpus["test"])))
    with_memory, without, real, linked = emissions_with_and_without_memory(loaded, sentences)
    assert torch.equal(with_memory[real & ~linked], without[real & ~linked])
    assert linked.any() and (with_memory[linked] - without[linked]).abs().amax(dim=1).min() > 0
    with torch.no_grad():  # without a document the head adds nothing at all
        alone = EncodedCorpus(sentences, loaded.vocab).batch(range(len(sentences)))
        assert torch.equal(without[real], loaded.model.projection(loaded.model.states(alone))[real])


def test_a_format_3_model_reads_with_its_head_on_every_token(memory_model, doc_corpus, tmp_path):
    old = tmp_path / "format3"
    shutil.copytree(memory_model, old)
    config = json.loads((old / "config.json").read_text())
    config["format_version"] = 3
    del config["model"]["memory_scope"]
    (old / "config.json").write_text(json.dumps(config))
    loaded = load_model(old)
    assert loaded.model.memory_head.scope == "all" and loaded.record.format_version == 3
    with_memory, without, real, linked = emissions_with_and_without_memory(loaded, list(read_source(str(doc_corpus["test"]))))
    # Every token gets the head's scores, with a zero context where it has none.
    assert not torch.equal(with_memory[linked], without[linked])
    assert torch.equal(with_memory[real & ~linked], without[real & ~linked])
    sentences = list(read_source(str(doc_corpus["test"])))
    new = load_model(memory_model)
    with torch.no_grad():
        alone = EncodedCorpus(sentences, new.vocab).batch(range(len(sentences)))
        assert not torch.allclose(loaded.model.emissions(alone)[real], new.model.emissions(alone)[real])


def test_a_checkpoint_from_before_the_scope_resumes_with_the_head_on_every_token(doc_corpus, tmp_path):
    config = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "memory_scope": "all"})
    out = tmp_path / "old"
    interrupted_before(config, doc_corpus, out, ("memory_scope",))
    with pytest.raises(NerError, match="resume it with --memory-scope all"):
        train(load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5}), str(doc_corpus["train"]),
              str(doc_corpus["dev"]), out, resume=True)
    assert len(train(config, str(doc_corpus["train"]), str(doc_corpus["dev"]), out, resume=True).history) == 2
    assert load_model(out).model.memory_head.scope == "all"
