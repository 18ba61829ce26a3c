"""Character-level word encoders: ``(words, chars) ids -> (words, out_dim)``.

Both take a padded matrix of character ids (0 = padding) and the word lengths, and give each
word a vector that does not depend on how much padding its row carries.
"""

from __future__ import annotations

import torch
from torch import nn

from .dropout import Dropout
from .encoder import BiRNNLayer


class CharCNN(nn.Module):
    """Ma & Hovy (2016): character embeddings, one convolution (zero-padded, odd ``kernel``),
    max-pool over the word.

    The words are packed end to end, ``kernel // 2`` zero characters apart, so the convolution
    (one matrix product over stacked shifted copies, faster on CPU than a conv kernel at these
    sizes) never runs over the padding of short words: half the work of a padded batch. Each
    word still sees zeros past its ends, exactly as when convolving it alone.
    """

    def __init__(self, num_chars: int, char_dim: int = 30, filters: int = 50, kernel: int = 3, dropout: float = 0.5):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.kernel = kernel
        self.conv = nn.Linear(kernel * char_dim, filters)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, filters)``; an empty
        word is read as one padding character."""
        lengths = lengths.clamp(min=1, max=chars.size(1))
        half = self.kernel // 2
        real = torch.arange(chars.size(1), device=chars.device).unsqueeze(0) < lengths.unsqueeze(1)
        starts = half + torch.cumsum(lengths + half, 0) - (lengths + half)  # each word's first character
        at = (starts.unsqueeze(1) + torch.arange(chars.size(1), device=chars.device))[real]  # (characters,)
        size = int(starts[-1] + lengths[-1]) + half
        packed = chars.new_zeros(size).index_put_((at,), chars[real])
        x = self.dropout(self.embed(packed))  # (size, char_dim)
        windows = torch.cat([x[i : size - 2 * half + i] for i in range(self.kernel)], dim=1)  # centred at half..size-half
        h = self.conv(windows).index_select(0, at - half)  # (characters, filters)
        owner = torch.repeat_interleave(torch.arange(len(lengths), device=chars.device), lengths)
        pooled = h.new_full((len(lengths), h.size(1)), float("-inf"))
        return pooled.scatter_reduce(0, owner.unsqueeze(1).expand_as(h), h, "amax", include_self=True)


class CharLSTM(nn.Module):
    """Lample et al. (2016): a BiLSTM over characters; the word is its last forward and backward states.

    On the CPU the two directions run together, in float32, over the words packed by length
    (``last_states``): no step computes padding, and at this width (25 per direction) oneDNN's
    fused kernel over the padded batch, even in bfloat16, takes about 1.5 times as long. On other
    devices (cuDNN), and when its LSTMs are anything but float ``nn.LSTM`` modules, the layer runs
    as it is over the padded batch (``quantization`` leaves this one float32). Both give the same
    states, to float rounding.
    """

    def __init__(self, num_chars: int, char_dim: int = 30, hidden: int = 25, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.rnn = BiRNNLayer(char_dim, hidden, "lstm")
        self.hidden = hidden
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``chars (words, max_chars)``, ``lengths (words,)`` -> ``(words, 2 * hidden)``."""
        lengths = lengths.clamp(min=1, max=max(chars.size(1), 1))
        if chars.size(0) and chars.device.type == "cpu" and type(self.rnn.fwd) is nn.LSTM and type(self.rnn.bwd) is nn.LSTM:
            return self._packed(chars, lengths)
        return self._padded(chars, lengths)

    def _padded(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The layer over the padded batch, each word's states read at its own ends."""
        out = self.rnn(self.dropout(self.embed(chars)), lengths)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden)
        fwd_last = out[:, :, : self.hidden].gather(1, last).squeeze(1)
        return torch.cat([fwd_last, out[:, 0, self.hidden :]], dim=1)

    def _packed(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The words sorted by length, longest first, their characters laid out time-major (step t
        holds the first ``sizes[t]`` words' character t); one input product for every character
        and both directions, then ``last_states``."""
        order = torch.argsort(lengths, descending=True, stable=True)
        sorted_lengths = lengths.index_select(0, order)
        grid = torch.arange(int(sorted_lengths[0]), device=chars.device) < sorted_lengths.unsqueeze(1)  # (words, steps)
        step, rank = grid.t().nonzero(as_tuple=True)  # time-major: every real character
        sizes = grid.sum(0)
        x = self.dropout(self.embed(chars[order[rank], step]))  # (characters, char_dim)
        # The backward direction reads each word from its end: its step t is character length-1-t.
        mirror = (torch.cumsum(sizes, 0) - sizes)[sorted_lengths[rank] - 1 - step] + rank
        fwd, bwd = self.rnn.fwd, self.rnn.bwd
        weight = torch.cat([gate_order(fwd.weight_ih_l0), gate_order(bwd.weight_ih_l0)])
        bias = torch.cat([gate_order(fwd.bias_ih_l0 + fwd.bias_hh_l0), gate_order(bwd.bias_ih_l0 + bwd.bias_hh_l0)])
        gates = torch.addmm(bias, x, weight.t())  # (characters, 8 * hidden)
        inputs = torch.stack([gates[:, : 4 * self.hidden], gates[:, 4 * self.hidden :].index_select(0, mirror)])
        recurrent = torch.stack([gate_order(fwd.weight_hh_l0), gate_order(bwd.weight_hh_l0)]).transpose(1, 2)
        last = last_states(inputs, recurrent, sizes.tolist())  # (2, words, hidden), sorted order
        return torch.cat([last[0], last[1]], dim=1).index_select(0, torch.argsort(order))


def last_states(inputs: torch.Tensor, recurrent: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """LSTMs run side by side over packed sequences, with the gates as ``gate_order`` lays them out.

    ``inputs (directions, characters, 4 * hidden)``: each step's input products plus both biases,
    step t being the next ``sizes[t]`` rows (non-increasing: the sequences sorted longest first);
    ``recurrent (directions, hidden, 4 * hidden)``. Returns each sequence's last hidden state
    ``(directions, sequences, hidden)``. A sequence leaves the batch when it ends, so no step
    computes padding.
    """
    return _PackedLSTM.apply(inputs, recurrent, sizes)


def gate_order(weight: torch.Tensor) -> torch.Tensor:
    """Rows of an LSTM weight or bias in torch's gate order i, f, g, o, put in the order i, f, o, g
    with g doubled: as tanh(x) = 2 sigmoid(2x) - 1, one sigmoid then covers all four gates (on
    the CPU torch's tanh costs about four sigmoids)."""
    i, f, g, o = weight.chunk(4)
    return torch.cat([i, f, o, 2 * g])


class _PackedLSTM(torch.autograd.Function):
    """``last_states`` with its gradient written out (backpropagation through time, in reverse):
    at a width of 25, autograd's bookkeeping of a dozen small operations a step costs more than
    their arithmetic. The recurrent weight's gradient is one product over all steps at the end.

    The cell is carried doubled (``c2 = 2c``), so tanh(c) is 2 sigmoid(c2) - 1, and ``g2`` is 2g:
    every tanh becomes a sigmoid and two in-place scalings.
    """

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, recurrent: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        hidden = recurrent.size(1)
        last = inputs.new_empty(inputs.size(0), sizes[0], hidden)
        h = c2 = inputs.new_zeros(inputs.size(0), sizes[0], hidden)
        steps = []  # per step: the h and c2 it starts from, its gates (i, f, o, g2), tanh of its cell
        for t, x in enumerate(inputs.split(sizes, dim=1)):
            n = x.size(1)
            h, c2 = h[:, :n], c2[:, :n]
            gates = torch.baddbmm(x, h, recurrent).sigmoid_()
            i, f, o, g2 = gates.chunk(4, dim=2)
            g2.mul_(4).sub_(2)  # 2 tanh(z) from sigmoid(2z)
            c2_new = torch.addcmul(f * c2, i, g2)
            tanh_c = torch.sigmoid(c2_new).mul_(2).sub_(1)
            steps.append((h, c2, gates, tanh_c))
            h, c2 = o * tanh_c, c2_new
            after = sizes[t + 1] if t + 1 < len(sizes) else 0
            if after < n:
                last[:, after:n] = h[:, after:]  # the sequences that end here
        ctx.steps, ctx.sizes = steps, sizes
        ctx.save_for_backward(recurrent)
        return last

    @staticmethod
    def backward(ctx, grad_last: torch.Tensor):
        (recurrent,) = ctx.saved_tensors
        hidden = recurrent.size(1)
        grad_inputs, starts = [], []
        dh = dc2 = grad_last.new_zeros(grad_last.size(0), 0, hidden)  # gradients of h and of c2
        for t in range(len(ctx.sizes) - 1, -1, -1):
            h, c2, gates, tanh_c = ctx.steps[t]
            n = h.size(1)
            if dh.size(1) < n:  # sequences that end at step t: their gradient enters here
                dh = torch.cat([dh, grad_last[:, dh.size(1) : n]], dim=1)
                dc2 = torch.cat([dc2, dc2.new_zeros(dc2.size(0), n - dc2.size(1), hidden)], dim=1)
            i, f, o, g2 = gates.chunk(4, dim=2)
            dc2 = torch.addcmul(dc2, dh * o, 1 - tanh_c * tanh_c, value=0.5)  # dc2 = dc / 2
            grad = torch.empty_like(gates)
            gi, gf, go, gg = grad.chunk(4, dim=2)
            torch.mul(dc2, g2, out=gi)
            torch.mul(dc2, c2, out=gf)
            torch.mul(dh, tanh_c, out=go)
            sig = gates[..., : 3 * hidden]
            grad[..., : 3 * hidden].mul_(sig - sig * sig)
            torch.mul(dc2 * i, 1 - 0.25 * g2 * g2, out=gg)  # d/dz of 2 sigmoid(z) - 1 = (1 - g^2) / 2
            grad_inputs.append(grad)
            starts.append(h)
            dh = torch.bmm(grad, recurrent.transpose(1, 2))
            dc2 = dc2 * f
        grad_inputs.reverse()
        starts.reverse()
        grad_in = torch.cat(grad_inputs, dim=1)
        grad_recurrent = torch.bmm(torch.cat(starts, dim=1).transpose(1, 2), grad_in)
        return grad_in, grad_recurrent, None
