"""int8 inference: `predict --quantize` and ``load(quantize=True)``."""

import json

import torch
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

import ner_bilstm
from ner_bilstm.artifact import load_model
from ner_bilstm.batching import EncodedCorpus
from ner_bilstm.io import read_source

runner = CliRunner()


def test_quantized_layers_are_int8_and_the_crf_stays_float(tiny_model):
    network = load_model(tiny_model, quantize=True).model
    kinds = {type(m).__module__ for m in network.encoder.modules()}
    assert any("quantized" in k for k in kinds)  # the LSTMs were replaced
    assert "quantized" in type(network.projection).__module__
    assert network.crf.transitions.dtype == torch.float32
    assert not any("quantized" in type(m).__module__ for m in load_model(tiny_model).model.modules())  # the default is float


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
