"""The CRF's log partition function with its gradient written out: the forward-backward algorithm.

Autograd through the forward recursion records a dozen small operations per token and replays
them backward; the gradient of log Z is known in closed form (token marginals for the emissions,
expected transition counts for the transitions), so one backward recursion gives all of it.
Both run in float64: at these sizes (tags x tags products) it costs no more than float32, and a
float32 recursion loses paths whose scores fall more than about 87 behind and later recover.

Shapes: ``emissions (batch, time, tags)``, ``mask (batch, time)`` bool (left-aligned, ``mask[:, 0]``
True), ``start``/``end (tags,)``, ``trans (tags, tags)`` scoring move i -> j.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Forward:
    """The scaled forward pass: ``probs (batch, time, tags)`` each token's forward scores normalised
    to sum 1, ``norms (batch, time)`` the normalisers (1 past a row's end), ``steps (batch, time,
    tags)`` exp(emissions - per-token max), ``weights`` exp(trans), ``end_weights`` exp(end),
    ``final (batch,)`` the sum over the last forward scores times exp(end)."""

    probs: torch.Tensor
    norms: torch.Tensor
    steps: torch.Tensor
    weights: torch.Tensor
    end_weights: torch.Tensor
    final: torch.Tensor
    log_z: torch.Tensor


def scaled_forward(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, trans: torch.Tensor,
                   end: torch.Tensor) -> Forward:
    """The forward algorithm in probability space, renormalised at each token, in float64.

    Each step is one small matrix product, ``p @ exp(trans)``, times the token's exp(emissions);
    log Z is the sum of the logs of the normalisers. Emissions are shifted by their per-token
    maximum first, so nothing overflows; it is exact while one token's emission scores span less
    than about 700 (trained taggers stay far below: |score| < 50).
    """
    dtype = torch.float64
    em = emissions.detach().to(dtype)
    shift = em.amax(2, keepdim=True)  # any shift is exact
    steps = (em - shift).exp()
    weights = trans.detach().to(dtype).exp()  # forbidden moves: exp(-1e4) == 0
    full = bool(mask.all())  # equal lengths: no row ever needs its old state kept
    floor = torch.finfo(dtype).tiny  # a normaliser that underflowed: no 0/0
    p = start.detach().to(dtype).exp() * steps[:, 0]
    norm = p.sum(1, keepdim=True).clamp(min=floor)
    probs, norms = [p / norm], [norm]
    for t in range(1, steps.size(1)):
        q = (probs[-1] @ weights) * steps[:, t]
        norm = q.sum(1, keepdim=True).clamp(min=floor)
        if full:
            probs.append(q / norm)
        else:
            keep = mask[:, t : t + 1]
            norm = torch.where(keep, norm, 1.0)
            probs.append(torch.where(keep, q / norm, probs[-1]))
        norms.append(norm)
    end_weights = end.detach().to(dtype).exp()
    final = (probs[-1] * end_weights).sum(1).clamp(min=floor)
    norm_all = torch.cat(norms, 1)
    log_z = final.log() + norm_all.log().sum(1) + (shift.squeeze(2) * mask).sum(1)
    return Forward(torch.stack(probs, 1), norm_all, steps, weights, end_weights, final, log_z)


def marginals(fwd: Forward, mask: torch.Tensor, row_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of ``sum(row_weights * log Z)``: token marginals ``(batch, time, tags)`` (zero
    past each row's end) and expected transition counts ``(tags, tags)``, by the backward
    recursion over the forward pass's own normalisers."""
    probs, steps, norms = fwd.probs, fwd.steps, fwd.norms
    time = probs.size(1)
    # beta_hat[t] = beta[t] / (prod of the normalisers after t * final): then marginal = probs * beta_hat.
    beta = (fwd.end_weights * row_weights.unsqueeze(1) / fwd.final.unsqueeze(1))  # (batch, tags)
    betas = [beta]
    into = []  # per step t >= 1: exp(emissions[t]) * beta_hat[t] / norm[t], zero past the end
    weights_t = fwd.weights.t()
    # Past a row's end, and at tags no path reaches (probability 0), nothing flows back: their
    # backward scores could grow without bound and turn 0 * inf into NaN.
    live = mask.unsqueeze(2) & (probs > 0)
    full = bool(mask.all())  # equal lengths: no row ever needs its old state kept
    for t in range(time - 1, 0, -1):
        u = torch.where(live[:, t], steps[:, t] * beta / norms[:, t : t + 1], 0.0)
        into.append(u)
        beta = u @ weights_t if full else torch.where(mask[:, t : t + 1], u @ weights_t, beta)
        betas.append(beta)
    token = torch.where(live, torch.stack(betas[::-1], 1) * probs, 0.0)
    if time == 1:
        return token, torch.zeros_like(fwd.weights)
    u_all = torch.stack(into[::-1], 1)  # (batch, time - 1, tags)
    pairs = probs[:, :-1].reshape(-1, probs.size(2)).t() @ u_all.reshape(-1, probs.size(2))
    return token, pairs * fwd.weights


class LogPartition(torch.autograd.Function):
    """log Z per row, ``(batch,)``, differentiable (once) in the emissions and the three score tensors."""

    @staticmethod
    def forward(ctx, emissions, mask, start, trans, end):  # type: ignore[override]
        fwd = scaled_forward(emissions, mask, start, trans, end)
        ctx.fwd, ctx.mask = fwd, mask
        ctx.dtypes = (emissions.dtype, start.dtype, trans.dtype, end.dtype)
        # A copy, never fwd.log_z itself: the output must not be held by its own ctx (a cycle
        # that would keep every step's forward tensors alive until the garbage collector runs).
        return fwd.log_z.to(emissions.dtype, copy=True)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        fwd, mask = ctx.fwd, ctx.mask
        em_dtype, start_dtype, trans_dtype, end_dtype = ctx.dtypes
        token, pairs = marginals(fwd, mask, grad.to(fwd.probs.dtype))
        lengths = mask.sum(1)
        last = token.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, token.size(2))).squeeze(1)
        return (token.to(em_dtype), None, token[:, 0].sum(0).to(start_dtype), pairs.to(trans_dtype),
                last.sum(0).to(end_dtype))


def log_partition(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, trans: torch.Tensor,
                  end: torch.Tensor) -> torch.Tensor:
    """log Z per row, ``(batch,)``, in the emissions' dtype (see ``LogPartition``)."""
    return LogPartition.apply(emissions, mask, start, trans, end)
