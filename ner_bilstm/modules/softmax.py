"""A per-token softmax head with the CRF's interface, so the network and inference never ask
which head they hold.

Shapes as in ``crf``: ``emissions (batch, time, tags)``, ``tags (batch, time)``, ``mask (batch, time)`` bool.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import NerError
from .crf import Lattice, check_inputs, viterbi

NO_NBEST = "--nbest needs a model with the CRF head"


class SoftmaxHead(nn.Module):
    """Independent token distributions ``softmax(emissions)``. It has no parameters; decoding still
    keeps to the scheme's allowed moves (``allowed`` as for ``CRF``), so every output is valid."""

    def __init__(self, num_tags: int, allowed: tuple[torch.Tensor, torch.Tensor, torch.Tensor]):
        super().__init__()
        self.num_tags = num_tags
        self.register_buffer("allowed_start", allowed[0].clone(), persistent=False)
        self.register_buffer("allowed_trans", allowed[1].clone(), persistent=False)
        self.register_buffer("allowed_end", allowed[2].clone(), persistent=False)
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def _logp(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_inputs(emissions, mask, self.num_tags)
        return emissions.float().log_softmax(-1).gather(2, tags.unsqueeze(2)).squeeze(2) * mask

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``tags`` per row, (batch,), in float32."""
        return -self._logp(emissions, tags, mask).sum(1)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean of ``nll`` over the batch, summed in one reduction."""
        return -self._logp(emissions, tags, mask).sum() / emissions.size(0)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(start, trans, end): 0 for allowed moves, -inf for forbidden ones."""
        neg = float("-inf")
        return (
            self._zero.expand(self.allowed_start.shape).masked_fill(~self.allowed_start, neg),
            self._zero.expand(self.allowed_trans.shape).masked_fill(~self.allowed_trans, neg),
            self._zero.expand(self.allowed_end.shape).masked_fill(~self.allowed_end, neg),
        )

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable valid path (batch, time) and its log-probability (batch,)."""
        check_inputs(emissions, mask, self.num_tags)
        return viterbi(emissions.log_softmax(-1), mask, *self.scores())

    def lattice(self, emissions: torch.Tensor, mask: torch.Tensor) -> Lattice:
        """The lattice of independent tokens: alpha holds each token's log-probabilities, and beta,
        log Z and the transitions are 0 (every path's probabilities sum to 1 already)."""
        check_inputs(emissions, mask, self.num_tags)
        logp = emissions.log_softmax(-1)
        zeros = torch.zeros_like(logp)
        return Lattice(logp, zeros, zeros[:, 0, 0], logp, zeros.new_zeros(self.num_tags, self.num_tags))

    def check_nbest(self, k: int) -> None:
        """Independent tokens have no n-best lattice worth the name: always refused."""
        raise NerError(NO_NBEST)

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NerError(NO_NBEST)
