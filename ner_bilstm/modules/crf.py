"""A linear-chain CRF in plain torch, batched, with hard transition constraints.

Shapes: ``emissions (batch, time, tags)`` float, ``tags (batch, time)`` long,
``mask (batch, time)`` bool, True on real tokens. Every sequence must be a left-aligned prefix
of its row (``mask[:, 0]`` all True), so any length from 1 to ``time`` works in one batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# Score of a forbidden move during training: finite so gradients stay defined, yet exp() is 0.
NEG = -1e4


def _check(emissions: torch.Tensor, mask: torch.Tensor, num_tags: int) -> None:
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
    The backtrace runs over time once, vectorised over the batch.
    """
    batch, time, _ = emissions.shape
    lengths = mask.sum(1)
    score = start + emissions[:, 0]
    backpointers = []
    for t in range(1, time):
        best, idx = (score.unsqueeze(2) + trans).max(1)
        backpointers.append(idx)
        score = torch.where(mask[:, t, None], best + emissions[:, t], score)
    score = score + end
    best_score, cur = score.max(1)
    paths = torch.zeros(batch, time, dtype=torch.long, device=emissions.device)
    for t in range(time - 1, -1, -1):
        active = t < lengths
        paths[:, t] = torch.where(active, cur, 0)
        if t > 0:
            prev = backpointers[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1)
            cur = torch.where(active, prev, cur)
    return paths, best_score


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
        """log Z per row, (batch,), by the forward algorithm in log space."""
        start, trans, end = self.scores()
        full = bool(mask.all())  # equal lengths: no row ever needs its old alpha kept
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = nxt if full else torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

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
        """Negative log-likelihood of ``tags`` per row, (batch,)."""
        _check(emissions, mask, self.num_tags)
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Constrained Viterbi: (paths (batch, time), log-probabilities of those paths (batch,))."""
        _check(emissions, mask, self.num_tags)
        paths, best = viterbi(emissions, mask, *self.scores(float("-inf")))
        return paths, best - self.log_partition(emissions, mask)

    def forward_backward(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log forward and backward scores, both (batch, time, tags), and log Z (batch,).

        ``alpha[b, t, j]`` sums paths over tokens 0..t ending in j (emission at t included);
        ``beta[b, t, j]`` sums continuations after t from j to the end (end score included).
        Token marginals are ``exp(alpha + beta - logZ)``.
        """
        _check(emissions, mask, self.num_tags)
        start, trans, end = self.scores()
        time = emissions.size(1)
        alphas = [start + emissions[:, 0]]
        for t in range(1, time):
            nxt = torch.logsumexp(alphas[-1].unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alphas.append(torch.where(mask[:, t, None], nxt, alphas[-1]))
        end_b = end.expand_as(alphas[0])
        betas = [end_b]
        for t in range(time - 2, -1, -1):
            nxt = torch.logsumexp(trans + (emissions[:, t + 1] + betas[-1]).unsqueeze(1), dim=2)
            betas.append(torch.where(mask[:, t + 1, None], nxt, end_b))
        alpha = torch.stack(alphas, 1)
        beta = torch.stack(betas[::-1], 1)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return alpha, beta, log_z
