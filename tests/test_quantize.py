"""int8 inference: `predict --quantize` and ``load(quantize=True)``."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

import ner_bilstm
from ner_bilstm.artifact import load_model
from ner_bilstm.batching import EncodedCorpus
from ner_bilstm.io import read_source
from ner_bilstm.quantization import Int8LSTM

runner = CliRunner()


def test_quantized_layers_are_int8_and_the_crf_stays_float(tiny_model):
    network = load_model(tiny_model, quantize=True).model
    assert all(type(layer.fwd) is Int8LSTM and type(layer.bwd) is Int8LSTM for layer in network.encoder.layers)
    assert "quantized" in type(network.projection).__module__
    assert network.crf.transitions.dtype == torch.float32
    assert not any("quantized" in type(m).__module__ for m in load_model(tiny_model).model.modules())  # the default is float


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 5), time=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_the_int8_lstm_follows_the_float_lstm(batch, time, seed):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(7, 16, batch_first=True).eval()
    x = torch.randn(batch, time, 7)
    with torch.inference_mode():
        expected, _ = lstm(x)
        got, state = Int8LSTM(lstm)(x)
    assert state is None and got.shape == expected.shape
    assert (got - expected).abs().max() < 0.05  # int8 weights and activations; the states stay in (-1, 1)


def test_the_int8_lstm_refuses_what_it_does_not_copy():
    with pytest.raises(ValueError, match="one-layer, one-direction"):
        Int8LSTM(torch.nn.LSTM(4, 8, bidirectional=True, batch_first=True))


def test_the_encoder_runs_in_int8_and_a_char_bilstm_stays_float32_and_packed(corpus, tmp_path):
    from ner_bilstm.config import load_config
    from ner_bilstm.modules.encoder import BiRNNLayer
    from ner_bilstm.training import train

    from .conftest import TINY

    train(load_config(overrides={**TINY, "epochs": 1, "char": "lstm"}), str(corpus["train"]), str(corpus["dev"]), tmp_path / "m")
    network = load_model(tmp_path / "m", quantize=True).model
    float_network = load_model(tmp_path / "m").model
    encoder = [m for m in network.encoder.modules() if isinstance(m, BiRNNLayer)]
    assert len(encoder) == 1 and type(encoder[0].fwd) is Int8LSTM and type(encoder[0].bwd) is Int8LSTM
    char = network.char_encoder.rnn
    assert type(char.fwd) is torch.nn.LSTM and type(char.bwd) is torch.nn.LSTM
    chars, lengths = torch.tensor([[3, 4, 5], [6, 0, 0]]), torch.tensor([3, 1])
    with torch.inference_mode():
        assert torch.equal(network.char_encoder(chars, lengths), float_network.char_encoder(chars, lengths))


def test_quantized_emissions_stay_close_and_the_tags_agree(tiny_model, corpus):
    float_net = load_model(tiny_model).model
    loaded = load_model(tiny_model, quantize=True)
    sentences = list(read_source(str(corpus["test"])))
    batch = EncodedCorpus(sentences, loaded.vocab).batch(range(len(sentences)))
    with torch.inference_mode():
        paths_f, em_f = float_net.decode(batch)
        paths_q, em_q = loaded.model.decode(batch)
    assert not torch.equal(em_f, em_q)  # it really ran in int8
    assert (em_f - em_q).abs().max() < 0.1 * em_f.abs().max()
    agree = (paths_f == paths_q)[batch.mask].float().mean()
    assert agree > 0.97, agree


def test_predict_quantize_writes_the_same_records_format_and_nearly_the_same_entities(tiny_model, corpus, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Maria Lopez visited Paris on Monday .\nOfficials in Berlin praised Anna Berg .\n")
    outs = []
    for extra in ([], ["--quantize"]):
        r = runner.invoke(app, ["predict", "--model", str(tiny_model), str(text), "--output-format", "jsonl", *extra])
        assert r.exit_code == 0, r.output
        outs.append([json.loads(line) for line in r.output.splitlines()])
    plain, quantized = outs
    assert [set(r) for r in plain] == [set(r) for r in quantized]
    assert [[(e["text"], e["label"]) for e in r["entities"]] for r in plain] == \
           [[(e["text"], e["label"]) for e in r["entities"]] for r in quantized]
    api = ner_bilstm.load(tiny_model, quantize=True)
    assert [d.to_dict() for d in api.pipe(text.read_text().splitlines())] == quantized


def test_quantize_on_cuda_is_a_usage_error(tiny_model, tmp_path):
    r = runner.invoke(app, ["predict", "--model", str(tiny_model), "--quantize", "--device", "cuda"], input="Anna Berg\n")
    assert r.exit_code == 2
    assert "--quantize" in r.output
