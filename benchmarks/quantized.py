"""int8 against float32 inference on CoNLL-2003 test: model-alone tokens/s at batch 256 and test F1.

Uses a trained default model: --model DIR, else runs/bench/conll2003 (the accuracy benchmark's
default row, its best seed), else trains one (seed 1) into runs/bench/quantize-base.
Writes benchmarks/results/quantized.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from ner_bilstm.artifact import load_model
from ner_bilstm.batching import EncodedCorpus, length_batches
from ner_bilstm.config import load_config
from ner_bilstm.evaluation import entity_scores
from ner_bilstm.inference import Predictor
from ner_bilstm.io import read_source
from ner_bilstm.quantization import Int8LSTM
from ner_bilstm.training import train

from .common import conll_arguments, interleaved, machine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "runs" / "bench" / "conll2003"
FALLBACK_MODEL = ROOT / "runs" / "bench" / "quantize-base"


def model_dir(data: Path, given: Path | None) -> Path:
    """The trained model to measure: given, the accuracy benchmark's, or one trained now."""
    for candidate in (given, DEFAULT_MODEL, FALLBACK_MODEL):
        if candidate is not None and (candidate / "model.safetensors").is_file():
            return candidate
    train(load_config(overrides={"seed": 1}), str(data / "train.txt"), str(data / "dev.txt"), FALLBACK_MODEL)
    return FALLBACK_MODEL


def run(data: Path, model: Path | None = None, rounds: int = 7) -> dict:
    """Tokens/s of emissions + Viterbi on pre-tensorised test batches, and test F1, for both models."""
    directory = model_dir(data, model)
    test = list(read_source(str(data / "test.txt")))
    models = {"float32": load_model(directory), "int8": load_model(directory, quantize=True)}
    gold = [s.tags for s in test]
    f1 = {name: entity_scores(gold, [p.spans for p in Predictor(m).predict(test)]).micro.f1 for name, m in models.items()}
    encoded = EncodedCorpus(test, models["float32"].vocab)
    batches = [encoded.batch(i) for i in length_batches(encoded.lengths, 256)]
    tokens = sum(encoded.lengths)

    def alone(network):
        @torch.inference_mode()
        def step() -> int:
            for batch in batches:
                network.decode(batch)
            return tokens
        return step

    rates = interleaved({name: alone(m.model) for name, m in models.items()}, rounds)
    return {"lstm_alone": lstm_alone(models["float32"].model, rounds),
            "model": str(directory.relative_to(ROOT)) if directory.is_relative_to(ROOT) else str(directory),
            "tokens": tokens, "tokens_per_second": rates, "speedup": rates["int8"] / rates["float32"], "test_f1": f1,
            "f1_difference": round(f1["int8"] - f1["float32"], 2), "quantized_engine": torch.backends.quantized.engine,
            "notes": "model alone: emissions + Viterbi, batch 256, inference_mode; int8 (`predict --quantize`): the linear "
                     "layers by torch's dynamic quantisation, the encoder's LSTMs as Int8LSTM on torch's int8 kernels "
                     "(a char BiLSTM stays float32, packed), CRF in float32."}


def lstm_alone(network, rounds: int, batch: int = 256, time: int = 20) -> dict:
    """The forward LSTM of ``network``'s first layer alone on a random (batch, time, in) input, as
    tokens/s: float32 (oneDNN's fused kernel), torch's dynamic int8 LSTM, and ``Int8LSTM``."""
    lstm = network.encoder.layers[0].fwd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_int8 = torch.ao.quantization.quantize_dynamic(nn.Sequential(lstm), {nn.LSTM}, dtype=torch.qint8)[0]
    x = torch.randn(batch, time, lstm.input_size, generator=torch.Generator().manual_seed(0))

    def rate(module):
        @torch.inference_mode()
        def step() -> int:
            module(x)
            return batch * time
        return step

    rates = interleaved({"float32": rate(lstm), "torch_dynamic_int8": rate(torch_int8), "int8lstm": rate(Int8LSTM(lstm))}, rounds)
    return {"shape": [batch, time, lstm.input_size], "tokens_per_second": rates,
            "int8lstm_speedup": rates["int8lstm"] / rates["float32"],
            "torch_dynamic_int8_speedup": rates["torch_dynamic_int8"] / rates["float32"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    args = conll_arguments(parser)
    if args is None:
        return 2
    result = {"machine": machine(), **run(args.data, args.model)}
    out = ROOT / "benchmarks" / "results" / "quantized.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
