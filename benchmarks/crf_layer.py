"""CRF layer against pytorch-crf: NLL forward+backward and Viterbi decoding, same parameters."""

from __future__ import annotations

import torch
from torchcrf import CRF as TorchCRF

from ner_bilstm.modules.crf import CRF

from .common import interleaved


def compare(batch: int, tags: int, length: int = 40, mixed: bool = False, rounds: int = 7, seed: int = 0) -> dict:
    """Time both CRFs on identical inputs and check they agree. Rows are all ``length`` long,
    or with ``mixed`` between length/2 and length (masked)."""
    g = torch.Generator().manual_seed(seed)
    ours, theirs = CRF(tags), TorchCRF(tags, batch_first=True)
    with torch.no_grad():
        for name in ("transitions", "start_transitions", "end_transitions"):
            value = torch.randn(getattr(ours, name).shape, generator=g)
            getattr(ours, name).copy_(value)
            getattr(theirs, name).copy_(value)
    emissions = torch.randn(batch, length, tags, generator=g, requires_grad=True)
    gold = torch.randint(0, tags, (batch, length), generator=g)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=g) if mixed else torch.full((batch,), length)
    lengths[0] = length
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)

    ll_ours = -ours.nll(emissions, gold, mask).sum().item()
    ll_theirs = theirs(emissions, gold, mask, reduction="sum").item()
    with torch.no_grad():
        paths, _ = ours.decode(emissions, mask)
        their_paths = theirs.decode(emissions, mask)
    same_paths = all(paths[b, : int(lengths[b])].tolist() == their_paths[b] for b in range(batch))
    rel = abs(ll_ours - ll_theirs) / abs(ll_theirs)

    reps = 10  # calls per timed sample, so one sample is tens of milliseconds

    def nll_ours() -> int:
        for _ in range(reps):
            emissions.grad = None
            ours.nll(emissions, gold, mask).sum().backward()
        return reps

    def nll_theirs() -> int:
        for _ in range(reps):
            emissions.grad = None
            (-theirs(emissions, gold, mask, reduction="sum")).backward()
        return reps

    @torch.inference_mode()
    def viterbi_ours() -> int:
        for _ in range(reps):
            ours.decode(emissions, mask)
        return reps

    @torch.inference_mode()
    def viterbi_theirs() -> int:
        for _ in range(reps):
            theirs.decode(emissions, mask)
        return reps

    rate = interleaved({"nll_ours": nll_ours, "nll_theirs": nll_theirs,
                        "viterbi_ours": viterbi_ours, "viterbi_theirs": viterbi_theirs}, rounds)
    return {
        "batch": batch, "tags": tags, "length": length, "mixed_lengths": mixed,
        "loglik_rel_diff": rel, "paths_identical": same_paths,
        "nll_ms": {"ours": 1000 / rate["nll_ours"], "pytorch_crf": 1000 / rate["nll_theirs"]},
        "viterbi_ms": {"ours": 1000 / rate["viterbi_ours"], "pytorch_crf": 1000 / rate["viterbi_theirs"]},
        "nll_speedup": rate["nll_ours"] / rate["nll_theirs"],
        "viterbi_speedup": rate["viterbi_ours"] / rate["viterbi_theirs"],
    }


def run() -> list[dict]:
    return [compare(b, t, mixed=m) for m in (False, True) for b in (32, 256) for t in (9, 17)]


if __name__ == "__main__":
    for row in run():
        print(row)
