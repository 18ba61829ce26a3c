"""int8 inference on the CPU, from torch's own dynamic quantisation kernels.

Weights are stored as int8 (one scale per output row) and activations quantised on the fly; the
CRF (or softmax head), the embeddings and everything after the emissions stay float32, so
decoding and span probabilities are computed exactly as for the float model, from slightly
different emissions.

The linear layers (and a GRU) are torch's ``quantize_dynamic`` modules. The encoder's LSTMs are ``Int8LSTM``
(a char BiLSTM stays float32: its packed run, ``CharLSTM``, is the faster one):
torch's dynamic int8 LSTM multiplies the input weights one time step at a time, which on CPU is
barely faster than the float model's fused LSTM kernel; ``Int8LSTM`` makes the input projection
of every time step one int8 matrix product and only the recurrence step by step.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .errors import NerError
from .model import TaggerNetwork
from .modules.encoder import BiRNNLayer

QUANTIZED_LAYERS = {nn.GRU, nn.Linear}


def _packed(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``weight (out, in)`` as int8 with one symmetric scale per output row, packed for
    ``quantized.linear_dynamic`` with its float ``bias (out,)``."""
    scales = weight.detach().abs().amax(dim=1).clamp(min=1e-8) / 127.0
    q = torch.quantize_per_channel(weight.detach().float(), scales.double(), torch.zeros(weight.size(0), dtype=torch.long), 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(q, None if bias is None else bias.detach().float())


class Int8LSTM(nn.Module):
    """An inference-only copy of a one-layer, one-direction, batch-first ``nn.LSTM`` in int8:
    ``forward(x (batch, time, in)) -> (outputs (batch, time, hidden), None)``, the float module's
    call signature, so it stands in for it (``encoder.BiRNNLayer``).

    Every tanh is computed as ``2 * sigmoid(2x) - 1`` (the cell gate's factor 2 folded into its
    weights), so one sigmoid covers all four gates: torch's CPU tanh costs about five sigmoids.
    """

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first or lstm.proj_size or not lstm.bias:
            raise ValueError("Int8LSTM copies a one-layer, one-direction, batch-first LSTM with biases")
        self.hidden_size = size = lstm.hidden_size
        self.input_size = lstm.input_size
        scale = torch.ones(4 * size, 1)
        scale[2 * size : 3 * size] = 2.0  # gates in torch's order: input, forget, cell, output
        self._input = _packed(lstm.weight_ih_l0 * scale, (lstm.bias_ih_l0 + lstm.bias_hh_l0) * scale.squeeze(1))
        self._hidden = _packed(lstm.weight_hh_l0 * scale, None)

    def forward(self, x: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """``x (batch, time, in)`` -> ``(outputs (batch, time, hidden), None)``, from a zero state."""
        if state is not None:
            raise ValueError("Int8LSTM starts from a zero state")
        batch, time, _ = x.shape
        size = self.hidden_size
        gates_in = torch.ops.quantized.linear_dynamic(x.reshape(batch * time, -1).float().contiguous(), self._input, True)
        gates_in = gates_in.view(batch, time, 4 * size)
        out = x.new_empty(batch, time, size, dtype=torch.float32)
        c = x.new_zeros(batch, size, dtype=torch.float32)
        for t in range(time):
            gates = gates_in[:, t] if t == 0 else torch.ops.quantized.linear_dynamic(out[:, t - 1], self._hidden, True).add_(gates_in[:, t])
            s = gates.sigmoid_()
            i, f, g, o = s.split(size, dim=1)
            c = torch.addcmul(f * c, i, g, value=2.0).sub_(i)  # f*c + i*tanh(cell), tanh = 2*sigmoid(2x) - 1
            torch.addcmul(-o, o, c.mul(2.0).sigmoid_(), value=2.0, out=out[:, t])  # o * tanh(c)
        return out, None


def quantize(network: TaggerNetwork) -> TaggerNetwork:
    """A copy of ``network`` (on the CPU, in eval mode) whose LSTMs, GRUs and linear layers run in int8.

    The attention layer's projections are left in float32: torch does not quantise them dynamically.
    """
    if torch.backends.quantized.engine == "none":
        raise NerError("this torch build has no quantised CPU kernels")
    with warnings.catch_warnings():
        # torch points eager-mode quantisation users to torchao; the kernels are torch's own and stay.
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(network.eval(), QUANTIZED_LAYERS, dtype=torch.qint8, inplace=False)
    # The encoder's LSTMs only: a char BiLSTM stays float32, as its packed run on the CPU
    # (``CharLSTM``) is faster than int8 steps over the padded words.
    for layer in [m for m in quantized.encoder.modules() if isinstance(m, BiRNNLayer)]:
        for name in ("fwd", "bwd"):
            if type(getattr(layer, name)) is nn.LSTM:
                setattr(layer, name, Int8LSTM(getattr(layer, name)))
    return quantized.eval()
