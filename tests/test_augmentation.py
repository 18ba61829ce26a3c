"""Mention replacement: what a replaced corpus may and may not change, and training with it staying
reproducible and resumable."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm.augmentation import epoch_generator, mention_groups, replace_mentions
from ner_bilstm.batching import EncodedCorpus
from ner_bilstm.config import load_config
from ner_bilstm.errors import NerError, TrainingInterrupted
from ner_bilstm.schemes import convert, label_set, tags_to_spans
from ner_bilstm.sentence import Sentence
from ner_bilstm.training import train
from ner_bilstm.vocab import Vocabularies

from .conftest import TINY, make_sentences

TYPES = ["LOC", "PER"]
LABELS = label_set(TYPES, "bioes")
CONFTEST_LABELS = label_set(["LOC", "MISC", "ORG", "PER"], "bioes")  # of conftest's make_sentences


def encoded(tagged: list[list[tuple[str, str]]], labels: list[str] = LABELS) -> EncodedCorpus:
    sentences = [Sentence([t for t, _ in s], [g for _, g in s]) for s in tagged]
    tags = [convert(s.tags, "bioes") for s in sentences]
    vocab = Vocabularies.build(((s.tokens, t) for s, t in zip(sentences, tags)), labels)
    return EncodedCorpus(sentences, vocab, tags)


@st.composite
def corpora(draw) -> list[list[tuple[str, str]]]:
    """Sentences of words w0..w9 with IOB2 mentions of up to 3 tokens."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        pairs: list[tuple[str, str]] = []
        for _ in range(draw(st.integers(1, 6))):
            word = lambda: f"w{draw(st.integers(0, 9))}"  # noqa: E731
            kind = draw(st.sampled_from(["O", *TYPES]))
            if kind == "O":
                pairs.append((word(), "O"))
            else:
                pairs += [(word(), f"{'B' if i == 0 else 'I'}-{kind}") for i in range(draw(st.integers(1, 3)))]
        out.append(pairs)
    return out


def mentions(corpus: EncodedCorpus, words: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """Every mention of ``corpus`` as (type, its word ids in ``words``), in order."""
    out, offset, tags = [], 0, corpus.tags.tolist()
    for length in corpus.lengths:
        for span in tags_to_spans([LABELS[t] for t in tags[offset : offset + length]]):
            out.append((span.label, tuple(words[offset + span.start : offset + span.end].tolist())))
        offset += length
    return out


@settings(max_examples=60, deadline=None)
@given(corpora(), st.floats(0.0, 0.99), st.integers(0, 2**32 - 1))
def test_a_replaced_mention_reads_as_another_of_its_type_and_length(tagged, rate, seed):
    """Tags, lengths and every token outside a mention stay; a replaced mention carries the words of
    a different mention of its type and length, its token types with them; only replaced tokens are
    unlinked from the document memory."""
    corpus = encoded(tagged)
    groups = mention_groups(corpus, LABELS)
    view = replace_mentions(corpus, groups, rate, epoch_generator(seed, 1))
    assert view.lengths == corpus.lengths and torch.equal(view.tags, corpus.tags)
    assert torch.equal(view.words[~view.unlinked], corpus.words[~view.unlinked])
    assert torch.equal(view.types[~view.unlinked], corpus.types[~view.unlinked])
    before, after = mentions(corpus, corpus.words), mentions(view, view.words)
    assert [label for label, _ in after] == [label for label, _ in before]
    for (label, words), (_, was) in zip(after, before):
        assert len(words) == len(was)
        assert (label, words) in before  # some training mention of the same type and length
    # A token type is the token's string: words and types move together.
    table = {int(t): int(w) for t, w in zip(corpus.types, corpus.words)}
    assert all(table[int(t)] == int(w) for t, w in zip(view.types, view.words))
    # Replaced positions are whole mentions of a group with another member, and nothing else.
    starts = {int(s): g.length for g in groups for s in g.starts}
    replaced = view.unlinked.nonzero().squeeze(1).tolist()
    i = 0
    while i < len(replaced):
        assert replaced[i] in starts
        length = starts[replaced[i]]
        assert replaced[i : i + length] == list(range(replaced[i], replaced[i] + length))
        i += length


def test_every_mention_with_a_partner_is_replaced_at_rate_one_and_none_at_zero():
    corpus = encoded(make_sentences(40, 1), CONFTEST_LABELS)
    groups = mention_groups(corpus, CONFTEST_LABELS)
    none = replace_mentions(corpus, groups, 0.0, epoch_generator(1, 1))
    assert not none.unlinked.any() and torch.equal(none.words, corpus.words)
    every = replace_mentions(corpus, groups, 1.0 - 1e-9, epoch_generator(1, 1))
    assert int(every.unlinked.sum()) == sum(g.starts.numel() * g.length for g in groups)
    assert not torch.equal(every.words, corpus.words)


def test_the_replacements_follow_the_seed_and_the_epoch():
    corpus = encoded(make_sentences(40, 1), CONFTEST_LABELS)
    groups = mention_groups(corpus, CONFTEST_LABELS)
    first, again = (replace_mentions(corpus, groups, 0.5, epoch_generator(3, 2)) for _ in range(2))
    assert torch.equal(first.words, again.words)
    assert not torch.equal(first.words, replace_mentions(corpus, groups, 0.5, epoch_generator(3, 3)).words)
    assert not torch.equal(first.words, replace_mentions(corpus, groups, 0.5, epoch_generator(4, 2)).words)


def test_training_with_replaced_mentions_is_bit_exact_and_resumes_to_the_same_bytes(corpus, tmp_path):
    """A document corpus (so the memory's unlinking is exercised), trained twice and once
    interrupted mid-epoch and resumed: all three end with the same weights, which differ from a
    run without replacement."""
    from ner_bilstm.artifact import load_model

    train_path = tmp_path / "train.txt"
    docs = make_sentences(120, 1)
    text = "".join(("-DOCSTART- O\n\n" if i % 10 == 0 else "") + "".join(f"{t} {g}\n" for t, g in s) + "\n"
                   for i, s in enumerate(docs))
    train_path.write_text(text, encoding="utf-8")
    config = load_config(overrides={**TINY, "epochs": 2, "replace_mentions": 0.5, "checkpoint_every": 5})
    runs = {}
    for name in ("one", "two"):
        train(config, str(train_path), str(corpus["dev"]), tmp_path / name)
        runs[name] = load_model(tmp_path / name)
    assert runs["one"].model.memory_head is not None
    steps = iter(range(1000))
    with pytest.raises(TrainingInterrupted):
        train(config, str(train_path), str(corpus["dev"]), tmp_path / "stopped", should_stop=lambda: next(steps) == 17)
    train(config, str(train_path), str(corpus["dev"]), tmp_path / "stopped", resume=True)
    plain = tmp_path / "plain"
    train(load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5}), str(train_path), str(corpus["dev"]), plain)
    expected = runs["one"].model.state_dict()
    for other in (runs["two"].model.state_dict(), load_model(tmp_path / "stopped").model.state_dict()):
        assert all(torch.equal(other[k], expected[k]) for k in expected)
    assert not torch.equal(load_model(plain).model.state_dict()["projection.weight"], expected["projection.weight"])


def test_replacement_refuses_what_it_cannot_do(corpus, tmp_path):
    """Bigrams across a swapped mention's edges would be stale: one clear error, not a silent mistake."""
    config = load_config(overrides={**TINY, "epochs": 1, "replace_mentions": 0.3, "bigrams": "on"})
    with pytest.raises(NerError, match="bigrams off"):
        train(config, str(corpus["train"]), str(corpus["dev"]), tmp_path / "m")
    with pytest.raises(NerError, match=r"replace_mentions must be in \[0, 1\)"):
        load_config(overrides={"replace_mentions": 1.0})


def test_the_command_line_takes_the_rate(corpus, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    out = tmp_path / "m"
    args = ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), "--epochs", "1",
            "--hidden", "16", "--batch-size", "16"]
    r = CliRunner().invoke(app, [*args, "--replace-mentions", "1.5"])
    assert r.exit_code == 2 and "replace-mentions" in r.output, r.output
    r = CliRunner().invoke(app, [*args, "--replace-mentions", "0.3"])
    assert r.exit_code == 0, r.output
    import json

    assert json.loads((out / "config.json").read_text())["training"]["replace_mentions"] == 0.3

