import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from ner_bilstm.modules import CharLSTM
from ner_bilstm.modules.char_encoder import packed_bilstm


def _words(lengths: list[int], width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    chars = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        chars[i, :n] = torch.randint(1, 40, (n,), generator=g)
    return chars, torch.tensor(lengths)


def _encoder(dropout: float = 0.0) -> CharLSTM:
    torch.manual_seed(0)
    return CharLSTM(40, char_dim=6, hidden=5, dropout=dropout)


def test_each_word_gets_the_last_states_of_a_bidirectional_lstm_run_over_it_alone():
    encoder = _encoder().eval()
    chars, lengths = _words([3, 1, 7, 7, 2, 5, 1, 4], width=9)
    ref = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(ref, name).data.copy_(getattr(encoder.rnn.fwd, name))
        getattr(ref, name + "_reverse").data.copy_(getattr(encoder.rnn.bwd, name))
    with torch.no_grad():
        out = encoder(chars, lengths)
        for i, n in enumerate(lengths.tolist()):
            states, _ = ref(encoder.embed(chars[i : i + 1, :n]))
            expected = torch.cat([states[0, n - 1, :5], states[0, 0, 5:]])
            torch.testing.assert_close(out[i], expected, atol=1e-6, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=20), st.integers(0, 3))
def test_the_packed_run_equals_the_layer_over_the_padded_batch_values_and_gradients(lengths, extra):
    encoder = _encoder().train()  # no dropout, so both paths see the same inputs
    chars, lengths_t = _words(lengths, width=max(lengths) + extra, seed=len(lengths))
    outputs, grads = [], []
    for run in (encoder._packed, encoder._padded):
        encoder.zero_grad()
        out = run(chars, lengths_t)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in encoder.parameters()])
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-6, rtol=1e-5)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_the_written_out_gradient_of_the_packed_recurrence_passes_gradcheck():
    # Words of lengths 4, 3 and 2, sorted: steps of 3, 3, 2 and 1 characters (rows 0-2, 3-5, 6-7, 8).
    sizes = [3, 3, 2, 1]
    previous = torch.tensor([9, 9, 9, 0, 1, 2, 3, 4, 6])  # 9: the zero state before step 0
    ends = torch.tensor([5, 8, 7])  # the last rows of the 2-, 4- and 3-character words: the output's order
    g = torch.Generator().manual_seed(0)
    inputs, w_ih, bias, w_hh = (torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
                                for shape in ((2, 9, 3), (2, 3, 8), (2, 1, 8), (2, 2, 8)))
    assert torch.autograd.gradcheck(lambda *a: packed_bilstm(*a, sizes, previous, ends), (inputs, w_ih, bias, w_hh))


def test_the_cpu_takes_the_packed_run_and_an_int8_or_other_rnn_the_layer(monkeypatch):
    encoder = _encoder().eval()
    chars, lengths = _words([2, 5, 1], width=6)
    calls = []
    monkeypatch.setattr(encoder, "_packed", lambda *a: calls.append("packed") or torch.zeros(3, 10))
    monkeypatch.setattr(encoder, "_padded", lambda *a: calls.append("padded") or torch.zeros(3, 10))
    encoder(chars, lengths)
    encoder.rnn.fwd = nn.GRU(6, 5, batch_first=True)  # any module that is not a float nn.LSTM
    encoder(chars, lengths)
    assert calls == ["packed", "padded"]


def test_dropout_touches_only_real_characters_and_a_word_reads_only_its_own():
    encoder = _encoder(dropout=0.5).train()
    chars, lengths = _words([4, 2, 6], width=8)
    torch.manual_seed(1)
    alone = encoder(chars[2:], lengths[2:])
    torch.manual_seed(1)
    padded_more = encoder(torch.nn.functional.pad(chars[2:], (0, 5)), lengths[2:])
    assert torch.equal(alone, padded_more)  # padding columns draw no dropout and change nothing


@pytest.mark.parametrize("lengths", [[0], [0, 3]])
def test_an_empty_word_reads_as_one_padding_character(lengths):
    encoder = _encoder().eval()
    chars, lengths_t = _words(lengths, width=4)
    with torch.no_grad():
        out = encoder(chars, lengths_t)
        one = encoder(chars[:1], torch.tensor([1]))
    torch.testing.assert_close(out[0], one[0])


def _prepared(char: str, sentences: list) -> tuple:
    import dataclasses

    from ner_bilstm.config import TrainConfig
    from ner_bilstm.corpora import LoadedSentences
    from ner_bilstm.setup import prepare

    from .conftest import TINY

    setup = prepare(dataclasses.replace(TrainConfig(**TINY), char=char), LoadedSentences(sentences), torch.device("cpu"))
    return setup.config.char, setup.model.char_encoder, setup.record({}).model.char


def test_auto_reads_words_with_a_bilstm_and_single_characters_with_the_cnn_and_records_the_choice():
    from ner_bilstm.modules import CharCNN
    from ner_bilstm.sentence import Sentence

    from .conftest import make_sentences

    words = [Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 1)]
    chinese = [Sentence(list("北京欢迎你"), ["B-LOC", "I-LOC", "O", "O", "O"]), Sentence(list("我在上海"), ["O", "O", "B-LOC", "I-LOC"])]
    chosen, encoder, recorded = _prepared("auto", words)
    assert chosen == recorded == "lstm" and isinstance(encoder, CharLSTM)
    chosen, encoder, recorded = _prepared("auto", chinese)
    assert chosen == recorded == "cnn" and isinstance(encoder, CharCNN)
    assert _prepared("cnn", words)[0] == "cnn" and _prepared("lstm", chinese)[0] == "lstm"  # a choice given is kept
    assert _prepared("none", words)[1] is None


def test_a_model_whose_config_says_char_auto_is_refused_in_one_line(tiny_model, tmp_path):
    import json
    import shutil

    from ner_bilstm.artifact import load_model
    from ner_bilstm.errors import NerError

    copy = shutil.copytree(tiny_model, tmp_path / "m")
    config = json.loads((copy / "config.json").read_text())
    assert config["model"]["char"] == "lstm"  # what auto chose for this word-level corpus
    config["model"]["char"] = "auto"
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(NerError, match="model.char must be one of cnn, lstm, none, not 'auto'"):
        load_model(copy)


def test_tagging_skips_the_backward_preparation_and_gives_the_same_bits(monkeypatch):
    from ner_bilstm.modules import char_encoder

    encoder = _encoder().eval()
    chars, lengths = _words([3, 1, 7, 7, 2, 5], width=8)
    with_graph = encoder(chars, lengths)
    calls = []
    apply = char_encoder._PackedLSTM.apply
    monkeypatch.setattr(char_encoder._PackedLSTM, "apply", lambda *a: calls.append(1) or apply(*a))
    with torch.no_grad():
        without = encoder(chars, lengths)
    assert calls == [] and with_graph.grad_fn is not None
    assert torch.equal(with_graph.detach(), without)
