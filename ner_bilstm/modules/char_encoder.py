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
    (``packed_bilstm``): no step computes padding, and at this width (25 per direction) oneDNN's
    fused kernel over the padded batch, even in bfloat16, takes about 1.6 times as long. On other
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
        holds the first ``sizes[t]`` words' character t), both directions side by side; then
        ``packed_bilstm``."""
        order = torch.argsort(lengths, descending=True, stable=True)
        rank_of = torch.argsort(order)  # each word's place in the sorted order
        sorted_lengths = lengths.index_select(0, order)
        grid = torch.arange(int(sorted_lengths[0]), device=chars.device) < sorted_lengths.unsqueeze(1)  # (words, steps)
        step, rank = grid.t().nonzero(as_tuple=True)  # time-major: every real character
        sizes = grid.sum(0)
        offsets = torch.cumsum(sizes, 0) - sizes  # where each step's characters start
        x = self.dropout(self.embed(chars[order[rank], step]))  # (characters, char_dim)
        # The backward direction reads each word from its end: its step t is character length-1-t.
        mirror = offsets[sorted_lengths[rank] - 1 - step] + rank
        previous = torch.where(step > 0, offsets[(step - 1).clamp(min=0)] + rank, rank.numel())
        ends = offsets[lengths - 1] + rank_of
        fwd, bwd = self.rnn.fwd, self.rnn.bwd
        w_ih = torch.stack([gate_order(fwd.weight_ih_l0), gate_order(bwd.weight_ih_l0)]).transpose(1, 2)
        w_hh = torch.stack([gate_order(fwd.weight_hh_l0), gate_order(bwd.weight_hh_l0)]).transpose(1, 2)
        bias = torch.stack([gate_order(fwd.bias_ih_l0 + fwd.bias_hh_l0), gate_order(bwd.bias_ih_l0 + bwd.bias_hh_l0)])
        return packed_bilstm(torch.stack([x, x.index_select(0, mirror)]), w_ih, bias.unsqueeze(1), w_hh,
                             sizes.tolist(), previous, ends)


def packed_bilstm(inputs: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor, w_hh: torch.Tensor, sizes: list[int],
                  previous: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """LSTMs run side by side over packed sequences, with the gates as ``gate_order`` lays them out.

    ``inputs (directions, characters, in)``: step t is the next ``sizes[t]`` rows (non-increasing:
    the sequences sorted longest first, so a sequence leaves the batch when it ends and no step
    computes padding); ``w_ih (directions, in, 4 * hidden)``, ``bias (directions, 1, 4 * hidden)``
    (both biases), ``w_hh (directions, hidden, 4 * hidden)``; ``previous (characters,)`` the row of
    the same sequence one step earlier (``characters`` at step 0); ``ends (sequences,)`` the row of
    each sequence's last step, in the order the output should have. Returns
    ``(sequences, directions * hidden)``: each sequence's last hidden state of every direction.
    """
    if torch.is_grad_enabled() and any(t.requires_grad for t in (inputs, w_ih, bias, w_hh)):
        return _PackedLSTM.apply(inputs, w_ih, bias, w_hh, sizes, previous, ends)
    _, states, _, _ = _recurrence(inputs, w_ih, bias, w_hh, sizes)  # tagging: nothing to prepare for a backward pass
    return _last_states(states, ends)


def _recurrence(inputs: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor, w_hh: torch.Tensor,
                sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward recurrence of ``packed_bilstm``: ``gates (d, characters, 4 * hidden)`` (i, f, o
    and the g gate's sigmoid, activated), and the ``(d, characters, hidden)`` buffers of h, c2 = 2c
    and tanh(c) after each step."""
    d, total, _ = inputs.shape
    hidden = w_hh.size(1)
    gates = torch.baddbmm(bias, inputs, w_ih)  # activated in place, step by step
    states, cells, tanhs = (inputs.new_empty(d, total, hidden) for _ in range(3))
    G, H, C, T = (x.split(sizes, 1) for x in (gates, states, cells, tanhs))
    IG, FG, OG, SG = (x.split(sizes, 1) for x in gates.chunk(4, dim=2))  # per gate; SG: the g gate's sigmoid
    for t, n in enumerate(sizes):
        if t:
            torch.sigmoid(torch.baddbmm(G[t], H[t - 1][:, :n], w_hh), out=G[t])
            torch.mul(FG[t], C[t - 1][:, :n], out=C[t])
            C[t].addcmul_(IG[t], SG[t], value=4)
        else:
            G[t].sigmoid_()
            torch.mul(IG[t], SG[t], out=C[t]).mul_(4)
        C[t].sub_(IG[t], alpha=2)  # c2 = f c2 + 2 i g, with g = 2s - 1
        torch.sigmoid(C[t], out=T[t]).mul_(2).sub_(1)
        torch.mul(OG[t], T[t], out=H[t])
    return gates, states, cells, tanhs


def _last_states(states: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """``(sequences, d * hidden)``: the rows ``ends`` of ``states (d, characters, hidden)``, directions side by side."""
    d, _, hidden = states.shape
    return states.index_select(1, ends).transpose(0, 1).reshape(ends.numel(), d * hidden)


def gate_order(weight: torch.Tensor) -> torch.Tensor:
    """Rows of an LSTM weight or bias in torch's gate order i, f, g, o, put in the order i, f, o, g
    with g doubled: as tanh(x) = 2 sigmoid(2x) - 1, one sigmoid then covers all four gates (on
    the CPU torch's tanh costs about four sigmoids)."""
    i, f, g, o = weight.chunk(4)
    return torch.cat([i, f, o, 2 * g])


class _PackedLSTM(torch.autograd.Function):
    """``packed_bilstm`` with its gradient written out (backpropagation through time, in reverse):
    at a width of 25, autograd's bookkeeping of a dozen small operations a step costs more than
    their arithmetic.

    Every step writes into buffers laid out like ``inputs`` (one row per character), so nothing is
    concatenated or zero-filled step by step, and what the recurrence does not need (the gates'
    derivatives, the weights' gradients) is one operation over all steps. The cell is carried
    doubled (``c2 = 2c``), so tanh(c) is 2 sigmoid(c2) - 1: every tanh is a sigmoid, and the g gate,
    kept as 4s - 2 = 2g, has the derivative 4 (s - s^2).
    """

    @staticmethod
    def forward(ctx, inputs, w_ih, bias, w_hh, sizes, previous, ends):  # type: ignore[override]
        hidden = w_hh.size(1)
        gates, states, cells, tanhs = _recurrence(inputs, w_ih, bias, w_hh, sizes)
        deriv = torch.addcmul(gates, gates, gates, value=-1)
        deriv[..., 3 * hidden :].mul_(4)
        gates[..., 3 * hidden :].mul_(4).sub_(2)  # the g gate as 2g, which the backward pass reads
        ctx.sizes = sizes
        ctx.save_for_backward(inputs, w_ih, w_hh, gates, deriv, states, cells, tanhs, previous, ends)
        return _last_states(states, ends)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        inputs, w_ih, w_hh, gates, deriv, states, cells, tanhs, previous, ends = ctx.saved_tensors
        sizes = ctx.sizes
        d, total, hidden = states.shape
        # Every row of dh is written before it is read: a sequence's last row from grad_out, the
        # others from the step after them. dc2 starts at zero where a sequence ends.
        dh_all, dc2_all = states.new_empty(d, total, hidden), states.new_zeros(d, total, hidden)
        dh_all.index_copy_(1, ends, grad_out.view(-1, d, hidden).transpose(0, 1))
        grad = torch.empty_like(gates)
        cell_grad = gates[..., 2 * hidden : 3 * hidden] * (1 - tanhs * tanhs)  # o (1 - tanh(c)^2)
        GR, D, C, T, P, DH, DC = (x.split(sizes, 1) for x in (grad, deriv, cells, tanhs, cell_grad, dh_all, dc2_all))
        GI, GF, GO, GG = (x.split(sizes, 1) for x in grad.chunk(4, dim=2))
        IG, FG, _, G2 = (x.split(sizes, 1) for x in gates.chunk(4, dim=2))
        w_hh_t = w_hh.transpose(1, 2)
        for t in range(len(sizes) - 1, -1, -1):
            n, dh, dc2 = sizes[t], DH[t], DC[t]
            dc2.addcmul_(dh, P[t], value=0.5)  # dc2 = dc / 2
            torch.mul(dc2, G2[t], out=GI[t])
            if t:
                torch.mul(dc2, C[t - 1][:, :n], out=GF[t])
            else:
                GF[t].zero_()
            torch.mul(dh, T[t], out=GO[t])
            torch.mul(dc2, IG[t], out=GG[t])
            GR[t].mul_(D[t])
            if t:  # the first n rows of step t - 1 are the same sequences
                torch.bmm(GR[t], w_hh_t, out=DH[t - 1][:, :n])
                torch.mul(dc2, FG[t], out=DC[t - 1][:, :n])
        starts = torch.cat([states, states.new_zeros(d, 1, hidden)], dim=1).index_select(1, previous)
        grad_inputs = torch.bmm(grad, w_ih.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        return (grad_inputs, torch.bmm(inputs.transpose(1, 2), grad), grad.sum(1, keepdim=True),
                torch.bmm(starts.transpose(1, 2), grad), None, None, None)
