"""int8 inference on the CPU: torch's dynamic quantisation of the recurrent and linear layers.

Weights are stored as int8 and activations quantised on the fly, per batch; the CRF (or softmax
head), the embeddings and everything after the emissions stay float32, so decoding and span
probabilities are computed exactly as for the float model, from slightly different emissions.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .errors import NerError
from .model import TaggerNetwork

QUANTIZED_LAYERS = {nn.LSTM, nn.GRU, nn.Linear}


def quantize(network: TaggerNetwork) -> TaggerNetwork:
    """A copy of ``network`` (on the CPU, in eval mode) whose LSTM/GRU and linear layers run in int8.

    The attention layer's projections are left in float32: torch does not quantise them dynamically.
    """
    if torch.backends.quantized.engine == "none":
        raise NerError("this torch build has no quantised CPU kernels")
    with warnings.catch_warnings():
        # torch points eager-mode quantisation users to torchao; the kernels are torch's own and stay.
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(network.eval(), QUANTIZED_LAYERS, dtype=torch.qint8, inplace=False)
    return quantized.eval()
