import json
import random
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner_bilstm.artifact import load_model
from ner_bilstm.config import load_config
from ner_bilstm.events import DataLoaded
from ner_bilstm.inference import Predictor
from ner_bilstm.io import read_source
from ner_bilstm.modules.encoder import BiRNNLayer, reverse_padded
from ner_bilstm.sentence import Sentence
from ner_bilstm.training import train

from .conftest import TINY, make_sentences, write_conll


def test_reverse_padded():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(x, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def test_reverse_padded_flips_feature_rows_and_their_gradient():
    torch.manual_seed(0)
    lengths = torch.tensor([5, 1, 3, 5])
    x = torch.randn(4, 5, 3, requires_grad=True)
    out = reverse_padded(x, lengths)
    for row, n in enumerate(lengths.tolist()):
        assert torch.equal(out[row, :n], x[row, :n].flip(0)) and torch.equal(out[row, n:], x[row, n:])
    upstream = torch.randn(4, 5, 3)
    out.backward(upstream)
    assert torch.equal(x.grad, reverse_padded(upstream, lengths))  # a permutation: each row's gradient copied back


def test_birnn_layer_equals_a_packed_bidirectional_lstm():
    torch.manual_seed(0)
    layer = BiRNNLayer(5, 4)
    ref = nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for suffix, rnn in (("", layer.fwd), ("_reverse", layer.bwd)):
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(ref, name + suffix).copy_(getattr(rnn, name))
    x = torch.randn(3, 6, 5)
    lengths = torch.tensor([6, 2, 4])
    packed, _ = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected, _ = pad_packed_sequence(packed, batch_first=True)
    got = layer(x, lengths)
    mask = (torch.arange(6).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
    assert torch.allclose(got * mask, expected * mask, atol=1e-6)
    full = torch.tensor([6, 6, 6])
    assert torch.allclose(layer(x, full, equal_lengths=True), layer(x, full), atol=1e-6)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_the_one_call_bidirectional_path_equals_two_directions(rnn):
    """Equal-length batches run both directions in one kernel call: same outputs and input
    gradients as the two separate calls; the LSTM's weight gradients are the same bits too."""
    import copy

    torch.manual_seed(0)
    fused = BiRNNLayer(12, 8, rnn)
    separate = copy.deepcopy(fused)
    x = torch.randn(4, 7, 12)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    a = fused(xa, torch.full((4,), 7), equal_lengths=True)
    b = separate(xb, torch.full((4,), 7), equal_lengths=False)  # reverse_padded: the general path
    assert torch.equal(a, b)
    weights = torch.randn(a.shape)
    (a * weights).sum().backward()
    (b * weights).sum().backward()
    assert torch.allclose(xa.grad, xb.grad, atol=1e-6)
    for p, q in zip(fused.parameters(), separate.parameters()):
        assert torch.equal(p.grad, q.grad) if rnn == "lstm" else torch.allclose(p.grad, q.grad, atol=1e-5)


def test_a_sentence_gets_the_same_result_alone_and_in_any_batch(tiny_model, corpus):
    loaded = load_model(tiny_model)
    sents = list(read_source(str(corpus["test"])))
    target = max(sents, key=len)
    mixed = [Sentence(["x"]), target, *sents[:20], Sentence(target.tokens[:2])]
    alone = Predictor(loaded, batch_size=1).predict([target])[0]
    for batch_size in (3, 7, 64):
        inside = Predictor(loaded, batch_size=batch_size).predict(mixed)[1]
        assert inside.tags == alone.tags
        assert [(e.label, e.token_start, e.token_end) for e in inside.entities] == [
            (e.label, e.token_start, e.token_end) for e in alone.entities
        ]
        for a, b in zip(inside.entities, alone.entities):
            assert abs(a.score - b.score) < 1e-3


def test_attention_and_gru_and_softmax_variants_are_batch_independent(corpus, tmp_path):
    cfg = load_config(overrides={**TINY, "epochs": 1, "attention": True, "rnn": "gru", "head": "softmax", "char": "lstm",
                                 "heads": 2, "optimizer": "sgd", "lr": 0.05})
    train(cfg, str(corpus["train"]), str(corpus["dev"]), tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    sents = list(read_source(str(corpus["dev"])))
    together = Predictor(loaded, batch_size=64).predict(sents)
    for s, p in zip(sents[:10], together[:10]):
        alone = Predictor(loaded, batch_size=1).predict([s])[0]
        assert alone.tags == p.tags
        assert all(abs(a.score - b.score) < 1e-3 for a, b in zip(alone.entities, p.entities))
        assert all(0.0 <= e.score <= 1.0 for e in p.entities)


def test_model_directory_round_trip_predicts_exactly_the_same(corpus, tmp_path):
    cfg = load_config(overrides={**TINY, "epochs": 2})
    trained: dict = {}

    def grab(event):
        if isinstance(event, DataLoaded):
            trained["seen"] = True

    train(cfg, str(corpus["train"]), str(corpus["dev"]), tmp_path / "m", callback=grab)
    loaded = load_model(tmp_path / "m")
    sents = list(read_source(str(corpus["test"])))
    again = load_model(tmp_path / "m")
    first = Predictor(loaded).predict(sents)
    second = Predictor(again).predict(sents)
    assert [p.tags for p in first] == [p.tags for p in second]
    assert [[e.score for e in p.entities] for p in first] == [[e.score for e in p.entities] for p in second]
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])
    assert sorted(f.name for f in (tmp_path / "m").iterdir()) == [
        "checkpoint", "config.json", "history.jsonl", "metrics.json", "model.safetensors", "vocab.json"]


def test_training_is_deterministic_with_a_seed(tmp_path):
    # Default model size: the parallel CPU kernels that break bit-equality only kick in at real sizes.
    rng = random.Random(5)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ") for _ in range(rng.randint(2, 12))) for _ in range(3000)]
    noisy = [[(rng.choice(words), t) for _, t in s] + [(rng.choice(words), "O") for _ in range(20)] for s in make_sentences(400, 11)]
    corpus = {"train": write_conll(tmp_path / "train.txt", noisy), "dev": write_conll(tmp_path / "dev.txt", make_sentences(20, 12))}
    cfg = load_config(overrides={"epochs": 2, "seed": 7, "batch_size": 64})
    a = train(cfg, str(corpus["train"]), str(corpus["dev"]), tmp_path / "a")
    b = train(cfg, str(corpus["train"]), str(corpus["dev"]), tmp_path / "b")
    assert [r.loss for r in a.history] == [r.loss for r in b.history]
    sa, sb = load_model(tmp_path / "a").model.state_dict(), load_model(tmp_path / "b").model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = train(load_config(overrides={"epochs": 2, "seed": 8, "batch_size": 64}), str(corpus["train"]), str(corpus["dev"]), tmp_path / "c")
    assert [r.loss for r in c.history] != [r.loss for r in a.history]


def test_tiny_model_learns(tiny_model):
    import json

    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert metrics["dev"]["micro"]["f1"] > 60
    assert metrics["test"]["micro"]["f1"] > 60


def test_clip_gradients_scales_only_above_the_limit():
    from ner_bilstm.optimization import clip_gradients

    a, b = torch.zeros(3, requires_grad=True), torch.zeros(4, requires_grad=True)
    a.grad, b.grad = torch.full((3,), 3.0), torch.full((4,), 4.0)
    norm = clip_gradients([a, b], 5.0)
    expected = (9 * 3 + 16 * 4) ** 0.5
    assert abs(norm - expected) < 1e-5
    total = torch.cat([a.grad, b.grad]).norm().item()
    assert abs(total - 5.0) < 1e-4
    a.grad, b.grad = torch.full((3,), 0.1), torch.full((4,), 0.1)
    clip_gradients([a, b], 5.0)
    assert torch.equal(a.grad, torch.full((3,), 0.1))


def test_bigrams_follow_the_data_unless_asked(corpus, tmp_path):
    """Word-level data has no bigram embeddings unless --bigrams on; a model without them still loads."""
    for setting, dim in (("auto", 0), ("on", 100)):
        out = tmp_path / setting
        events: dict = {}
        train(load_config(overrides={**TINY, "epochs": 1, "bigrams": setting}), str(corpus["train"]), str(corpus["dev"]), out,
              callback=lambda event, seen=events: seen.setdefault(type(event).__name__, event))
        config = json.loads((out / "config.json").read_text())
        assert config["model"]["bigram_dim"] == dim
        assert events["DataLoaded"].bigram_dim == dim and (events["DataLoaded"].bigrams > 2) == bool(dim)  # reported as trained
        assert ("bigrams" in json.loads((out / "vocab.json").read_text())) == bool(dim)
        assert (load_model(out).model.bigram_embed is not None) == bool(dim)


@pytest.mark.parametrize("name", ["v1-crf", "v1-softmax", "v2-bigrams", "v3-memory"])
def test_model_directories_written_before_still_load_and_predict_the_same(name):
    """Model directories written by ner-bilstm 36df8af (formats 1 and 2, both heads) and dd9edf6
    (format 3: a document memory scoring every token) load, and tag exactly as they did when they
    were written (tests/fixtures/models/*/expected.json, with the sentences' documents for format 3)."""
    directory = Path(__file__).parent / "fixtures" / "models" / name
    expected = json.loads((directory / "expected.json").read_text())
    predictions = Predictor(load_model(directory)).predict([Sentence(tokens=t) for t in expected["tokens"]],
                                                           documents=expected.get("documents"))
    assert [p.tags for p in predictions] == expected["tags"]
    assert [[e.score for e in p.entities] for p in predictions] == expected["scores"]
    assert any(t != "O" for tags in expected["tags"] for t in tags)  # the fixture tags entities: the check has teeth
