"""--bf16: the LSTM layers train in bfloat16 under autocast; evaluation stays float32."""

import dataclasses

import pytest
import torch

from ner_bilstm import devices
from ner_bilstm.artifact import load_model
from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import LoadedSentences
from ner_bilstm.devices import resolve_bf16
from ner_bilstm.errors import NerError
from ner_bilstm.modules import BiRNNLayer
from ner_bilstm.sentence import Sentence
from ner_bilstm.setup import prepare

from .conftest import TINY, make_sentences

CPU = torch.device("cpu")


def test_auto_is_on_for_an_lstm_on_a_cpu_with_bfloat16_instructions(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: True)
    assert resolve_bf16("auto", CPU, "lstm") == "on"
    assert resolve_bf16("auto", CPU, "gru") == "off"  # torch does not autocast the GRU on CPU
    assert resolve_bf16("auto", torch.device("cuda"), "lstm") == "off"  # CUDA has --amp
    monkeypatch.setattr(devices, "native_bf16", lambda: False)  # emulated bfloat16 is slower than float32
    assert resolve_bf16("auto", CPU, "lstm") == "off"
    assert resolve_bf16("on", CPU, "lstm") == "on" and resolve_bf16("off", CPU, "lstm") == "off"


def test_a_bad_choice_is_refused():
    with pytest.raises(NerError, match="bf16 must be one of auto, on, off"):
        TrainConfig(bf16="yes").validate()


def _layers(seed: int = 0) -> tuple[BiRNNLayer, BiRNNLayer]:
    torch.manual_seed(seed)
    plain = BiRNNLayer(12, 16)
    half = BiRNNLayer(12, 16)
    half.load_state_dict(plain.state_dict())
    half.train_dtype = torch.bfloat16
    return plain, half


@pytest.mark.parametrize("equal", [True, False])
def test_training_runs_in_bfloat16_close_to_float32(equal):
    plain, half = _layers()
    x = torch.randn(5, 7, 12)
    lengths = torch.full((5,), 7) if equal else torch.tensor([7, 3, 5, 1, 6])
    outs, grads = [], []
    for layer in (plain, half):
        layer.train()
        out = layer(x, lengths, equal)
        out.pow(2).sum().backward()
        outs.append(out)
        grads.append(layer.fwd.weight_hh_l0.grad)
    assert outs[1].dtype == torch.float32 and grads[1].dtype == torch.float32
    assert not torch.equal(outs[0], outs[1])  # the bfloat16 path really ran
    assert (outs[0] - outs[1]).abs().max() < 0.05
    assert (grads[0] - grads[1]).norm() < 0.05 * grads[0].norm()


def test_evaluation_stays_float32_bit_for_bit():
    plain, half = _layers(1)
    x, lengths = torch.randn(4, 6, 12), torch.tensor([6, 2, 4, 5])
    plain.eval(), half.eval()
    with torch.no_grad():
        assert torch.equal(plain(x, lengths), half(x, lengths))


def _sentences() -> LoadedSentences:
    return LoadedSentences([Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 1)])


@pytest.mark.parametrize("char", ["cnn", "lstm"])
def test_prepare_sets_every_recurrent_layer(char):
    for choice, dtype in (("on", torch.bfloat16), ("off", None)):
        config = dataclasses.replace(TrainConfig(**TINY), char=char, bf16=choice)
        setup = prepare(config, _sentences(), CPU)
        layers = [m for m in setup.model.modules() if isinstance(m, BiRNNLayer)]
        assert len(layers) == (2 if char == "lstm" else 1)
        assert all(m.train_dtype == dtype for m in layers)
        assert setup.config.bf16 == choice


def test_auto_is_recorded_as_what_it_chose(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: False)
    assert prepare(TrainConfig(**TINY), _sentences(), CPU).config.bf16 == "off"
    monkeypatch.setattr(devices, "native_bf16", lambda: True)
    assert prepare(TrainConfig(**TINY), _sentences(), CPU).config.bf16 == "on"


def test_a_run_resumes_only_with_the_arithmetic_it_started_with_and_bit_for_bit(corpus, tmp_path):
    from ner_bilstm.config import load_config
    from ner_bilstm.errors import TrainingInterrupted
    from ner_bilstm.training import train

    config = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "bf16": "on"})
    reference = train(config, str(corpus["train"]), str(corpus["dev"]), tmp_path / "reference")
    steps = iter(range(1000))
    out = tmp_path / "interrupted"
    with pytest.raises(TrainingInterrupted):
        train(config, str(corpus["train"]), str(corpus["dev"]), out, should_stop=lambda: next(steps) == 7)
    off = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "bf16": "off"})
    with pytest.raises(NerError, match=r"bf16 \('on' then, 'off' now\).*give --bf16 as that run had it"):
        train(off, str(corpus["train"]), str(corpus["dev"]), out, resume=True)
    resumed = train(config, str(corpus["train"]), str(corpus["dev"]), out, resume=True)
    assert [(h.loss, h.dev_f1) for h in resumed.history] == [(h.loss, h.dev_f1) for h in reference.history]
    expected, got = load_model(tmp_path / "reference").model.state_dict(), load_model(out).model.state_dict()
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_a_checkpoint_from_before_the_option_resumes_in_float32(corpus, tmp_path):
    from ner_bilstm.config import load_config
    from ner_bilstm.training import train

    from .conftest import interrupted_before

    off = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "bf16": "off"})
    interrupted_before(off, corpus, tmp_path, ("bf16",))
    on = load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "bf16": "on"})
    with pytest.raises(NerError, match="that run trained in float32: resume it with --bf16 off"):
        train(on, str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True)
    assert len(train(off, str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True).history) == 2
