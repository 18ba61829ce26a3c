"""A linear-chain CRF in plain torch, batched, with hard transition constraints.

Shapes: ``emissions (batch, time, tags)`` float, ``tags (batch, time)`` long,
``mask (batch, time)`` bool, True on real tokens. Every sequence must be a left-aligned prefix
of its row (``mask[:, 0]`` all True), so any length from 1 to ``time`` works in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .partition import log_partition

# Score of a forbidden move during training: finite so gradients stay defined, yet exp() is 0.
NEG = -1e4


@dataclass
class Lattice:
    """What the probability of any one tag path of a sentence needs, from a head's forward-backward pass.

    A path y over tokens s..e-1 has log-probability
    ``log_alpha[s, y_s] + sum(transitions[y_k-1, y_k] + emissions[k, y_k]) + log_beta[e-1, y_e-1] - log_z``.
    ``log_alpha, log_beta, emissions (batch, time, tags)``, ``log_z (batch,)``, ``transitions (tags, tags)``.
    """

    log_alpha: torch.Tensor
    log_beta: torch.Tensor
    log_z: torch.Tensor
    emissions: torch.Tensor
    transitions: torch.Tensor


def check_inputs(emissions: torch.Tensor, mask: torch.Tensor, num_tags: int) -> None:
    """Refuse emissions and a mask of the wrong shapes or types (both heads check with this)."""
    if emissions.dim() != 3 or emissions.size(2) != num_tags:
        raise ValueError(f"emissions must be (batch, time, {num_tags}), got {tuple(emissions.shape)}")
    if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(emissions.shape[:2])}")
    if emissions.size(1) == 0 or not bool(mask[:, 0].all()):
        raise ValueError("every sequence needs at least one token, and mask[:, 0] must be True")


def viterbi(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, trans: torch.Tensor, end: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best tag sequence per row: ``(paths (batch, time) long, 0 past the end; scores (batch,))``.

    ``trans (tags, tags)`` scores move i -> j; ``start``/``end (tags,)`` the first/last tag.
    Scores are kept tag-major, (tags, batch), so each step reduces (from, to, batch) over its
    leading axis, which torch vectorises; ``max`` with indices over a short trailing axis is
    several times slower. The forward pass keeps only the maxima; the backtrace recovers each
    row's argmax along its own path, one small step per token, vectorised over the batch.
    """
    steps = emissions.permute(1, 2, 0).unbind(0)  # time x (tags, batch)
    full = bool(mask.all())
    keep = mask.t().unsqueeze(1).unbind(0)  # time x (1, batch)
    trans_b = trans.unsqueeze(2)  # (from, to, 1)
    score = start.unsqueeze(1) + steps[0]
    history = [score]
    for t in range(1, len(steps)):
        nxt = (score.unsqueeze(1) + trans_b).amax(0) + steps[t]
        score = nxt if full else torch.where(keep[t], nxt, score)
        history.append(score)
    best_score, cur = (score + end.unsqueeze(1)).max(0)
    history = torch.stack(history).transpose(1, 2).contiguous().unbind(0)  # time x (batch, tags)
    into = trans.t().contiguous()  # into[j, i] = trans[i, j]
    path = [cur]
    for t in range(len(steps) - 1, 0, -1):
        prev = (history[t - 1] + into.index_select(0, cur)).argmax(1)
        cur = prev if full else torch.where(keep[t][0], prev, cur)
        path.append(cur)
    paths = torch.stack(path[::-1], dim=1)
    return (paths if full else paths.masked_fill(~mask, 0)), best_score


class CRF(nn.Module):
    """Linear-chain CRF with learned start/transition/end scores.

    ``allowed``, when given, is (start (tags,), trans (tags, tags), end (tags,)) bool tensors
    from ``schemes.allowed_transitions``; forbidden moves are never decoded and get no
    probability mass in training.
    """

    def __init__(self, num_tags: int, allowed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        if allowed is None:
            allowed = (
                torch.ones(num_tags, dtype=torch.bool),
                torch.ones(num_tags, num_tags, dtype=torch.bool),
                torch.ones(num_tags, dtype=torch.bool),
            )
        self.register_buffer("allowed_start", allowed[0].clone(), persistent=False)
        self.register_buffer("allowed_trans", allowed[1].clone(), persistent=False)
        self.register_buffer("allowed_end", allowed[2].clone(), persistent=False)

    def scores(self, forbidden: float = NEG) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(start, trans, end) with forbidden moves set to ``forbidden``."""
        return (
            self.start_transitions.masked_fill(~self.allowed_start, forbidden),
            self.transitions.masked_fill(~self.allowed_trans, forbidden),
            self.end_transitions.masked_fill(~self.allowed_end, forbidden),
        )

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per row, (batch,), by the scaled forward algorithm, with its gradient by the
        backward one (``modules.partition``), in float64."""
        return log_partition(emissions, mask, *self.scores())

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of ``tags`` per row, (batch,)."""
        start, trans, end = self.scores()
        maskf = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        # Lookups through F.embedding, whose backward (unlike indexing's) is deterministic on CPU.
        pairs = F.embedding(tags[:, :-1] * self.num_tags + tags[:, 1:], trans.reshape(-1, 1)).squeeze(2)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        score = F.embedding(tags[:, 0], start.unsqueeze(1)).squeeze(1) + (emit * maskf).sum(1)
        return score + (pairs * maskf[:, 1:]).sum(1) + F.embedding(last, end.unsqueeze(1)).squeeze(1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``tags`` per row, (batch,). Under autocast it still runs in
        float32/float64: half precision would lose the partition function."""
        check_inputs(emissions, mask, self.num_tags)
        with torch.autocast(emissions.device.type, enabled=False):
            emissions = emissions.float()
            return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean of ``nll`` over the batch: the training loss."""
        return self.nll(emissions, tags, mask).mean()

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Constrained Viterbi: best paths (batch, time) and their unnormalised scores (batch,);
        subtract ``log_partition`` for log-probabilities."""
        check_inputs(emissions, mask, self.num_tags)
        return viterbi(emissions, mask, *self.scores(float("-inf")))

    def forward_backward(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log forward and backward scores, both (batch, time, tags), and log Z (batch,).

        ``alpha[b, t, j]`` sums paths over tokens 0..t ending in j (emission at t included);
        ``beta[b, t, j]`` sums continuations after t from j to the end (end score included).
        Token marginals are ``exp(alpha + beta - logZ)``. Each step is a matrix product with
        exp(trans) between max-shifted exponentials, in float64; for inference, so no gradient is kept.
        """
        check_inputs(emissions, mask, self.num_tags)
        with torch.no_grad():
            start, trans, end = (x.double() for x in self.scores())
            em = emissions.double()
            weights, weights_t = trans.exp(), trans.t().exp()
            keep = mask.unsqueeze(2)

            def step(score: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
                top = score.amax(1, keepdim=True)
                return ((score - top).exp() @ w).log() + top

            alphas = [start + em[:, 0]]
            for t in range(1, em.size(1)):
                alphas.append(torch.where(keep[:, t], step(alphas[-1], weights) + em[:, t], alphas[-1]))
            end_b = end.expand_as(alphas[0])
            betas = [end_b]
            for t in range(em.size(1) - 2, -1, -1):
                betas.append(torch.where(keep[:, t + 1], step(em[:, t + 1] + betas[-1], weights_t), end_b))
            alpha, beta = torch.stack(alphas, 1), torch.stack(betas[::-1], 1)
            log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return alpha.to(emissions.dtype), beta.to(emissions.dtype), log_z.to(emissions.dtype)

    def lattice(self, emissions: torch.Tensor, mask: torch.Tensor) -> Lattice:
        """Forward-backward scores with the emissions and transitions they were computed from."""
        alpha, beta, log_z = self.forward_backward(emissions, mask)
        return Lattice(alpha, beta, log_z, emissions, self.scores()[1].detach())

    def check_nbest(self, k: int) -> None:
        """Refuse a ``k`` that ``nbest`` cannot serve."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best tag sequences per row: ``paths (batch, k, time)`` (0 past the end) and
        their log-probabilities ``(batch, k)``, best first; -inf marks ranks beyond the number of
        valid paths. Batched k-best Viterbi: each (position, tag) keeps its k best partial paths.
        """
        check_inputs(emissions, mask, self.num_tags)
        self.check_nbest(k)
        batch, time, n = emissions.shape
        with torch.no_grad():
            start, trans, end = self.scores(float("-inf"))
            neg = torch.full((batch, n, k), float("-inf"), dtype=emissions.dtype, device=emissions.device)
            score = neg.clone()
            score[:, :, 0] = start + emissions[:, 0]  # (batch, tag, rank)
            identity = (torch.arange(n, device=emissions.device).unsqueeze(1) * k
                        + torch.arange(k, device=emissions.device)).t().expand(batch, k, n)  # (batch, rank, tag)
            pointers = []
            for t in range(1, time):
                # candidates[b, i*k + r, j] = score[b, i, r] + trans[i, j]
                cand = (score.unsqueeze(3) + trans.view(1, n, 1, n)).reshape(batch, n * k, n)
                best, idx = cand.topk(k, dim=1)  # (batch, rank, tag), sorted
                nxt = best.transpose(1, 2) + emissions[:, t].unsqueeze(2)
                keep = mask[:, t].view(batch, 1, 1)
                score = torch.where(keep, nxt, score)
                pointers.append(torch.where(keep, idx, identity))
            final = (score + end.view(1, n, 1)).reshape(batch, n * k)
            top, flat = final.topk(min(k, n * k), dim=1)  # flat = tag * k + rank
            tag, rank = flat // k, flat % k
            path = [tag]
            for idx in reversed(pointers):
                prev = idx[torch.arange(batch, device=idx.device).unsqueeze(1), rank, tag]  # (batch, k)
                tag, rank = prev // k, prev % k
                path.append(tag)
            paths = torch.stack(path[::-1], dim=2)  # (batch, k, time)
            paths = paths.masked_fill(~mask.unsqueeze(1), 0)
            log_z = self.log_partition(emissions, mask)
        return paths, top - log_z.unsqueeze(1)
