import copy
import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm import schemes
from ner_bilstm.modules.crf import CRF, viterbi


def random_crf(num_tags: int, seed: int, allowed=None) -> CRF:
    g = torch.Generator().manual_seed(seed)
    crf = CRF(num_tags, allowed)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return crf


def all_paths(crf: CRF, emissions: torch.Tensor, length: int):
    """Every tag sequence of ``length`` with its unnormalised score (forbidden moves included)."""
    one = torch.ones(1, length, dtype=torch.bool)
    for path in itertools.product(range(crf.num_tags), repeat=length):
        tags = torch.tensor([path])
        yield path, crf.path_score(emissions[:, :length], tags, one).item()


cases = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 10_000))


@settings(max_examples=40, deadline=None)
@given(cases)
def test_log_partition_and_viterbi_match_brute_force(case):
    num_tags, time, batch, seed = case
    crf = random_crf(num_tags, seed)
    g = torch.Generator().manual_seed(seed + 1)
    emissions = torch.randn(batch, time, num_tags, generator=g)
    lengths = torch.randint(1, time + 1, (batch,), generator=g)
    lengths[0] = time
    mask = torch.arange(time).unsqueeze(0) < lengths.unsqueeze(1)
    log_z = crf.log_partition(emissions, mask)
    paths, best = crf.decode(emissions, mask)
    logp = best - log_z
    for b in range(batch):
        n = int(lengths[b])
        scored = list(all_paths(crf, emissions[b : b + 1], n))
        brute = torch.logsumexp(torch.tensor([s for _, s in scored]), 0)
        assert torch.allclose(log_z[b], brute, atol=1e-4)
        best_path, best_score = max(scored, key=lambda x: x[1])
        assert tuple(paths[b, :n].tolist()) == best_path
        assert paths[b, n:].eq(0).all()
        assert abs(logp[b].item() - (best_score - brute.item())) < 1e-4


@settings(max_examples=30, deadline=None)
@given(cases)
def test_marginals_match_brute_force_and_sum_to_one(case):
    num_tags, time, _, seed = case
    crf = random_crf(num_tags, seed)
    emissions = torch.randn(1, time, num_tags, generator=torch.Generator().manual_seed(seed))
    mask = torch.ones(1, time, dtype=torch.bool)
    alpha, beta, log_z = crf.forward_backward(emissions, mask)
    marginals = (alpha + beta - log_z[:, None, None]).exp()[0]
    assert torch.allclose(marginals.sum(-1), torch.ones(time), atol=1e-5)
    brute = torch.zeros(time, num_tags)
    scored = list(all_paths(crf, emissions, time))
    z = torch.logsumexp(torch.tensor([s for _, s in scored]), 0)
    for path, s in scored:
        for t, tag in enumerate(path):
            brute[t, tag] += torch.exp(torch.tensor(s) - z)
    assert torch.allclose(marginals, brute, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000), st.sampled_from(["bioes", "iob2"]))
def test_constrained_decoding_never_emits_an_invalid_sequence(time, seed, scheme):
    labels = schemes.label_set(["A", "B"], scheme)
    crf = random_crf(len(labels), seed, schemes.allowed_transitions(labels, scheme))
    g = torch.Generator().manual_seed(seed)
    emissions = torch.randn(6, time, len(labels), generator=g) * 10
    lengths = torch.randint(1, time + 1, (6,), generator=g)
    mask = torch.arange(time).unsqueeze(0) < lengths.unsqueeze(1)
    mask[:, 0] = True
    paths, _ = crf.decode(emissions, mask)
    for b in range(6):
        tags = [labels[i] for i in paths[b, : int(mask[b].sum())].tolist()]
        assert schemes.is_valid(tags, scheme), tags


def test_constrained_nll_gives_invalid_paths_no_mass():
    labels = schemes.label_set(["A"], "bioes")
    crf = random_crf(len(labels), 0, schemes.allowed_transitions(labels, "bioes"))
    emissions = torch.randn(1, 3, len(labels))
    mask = torch.ones(1, 3, dtype=torch.bool)
    valid = [p for p in itertools.product(range(len(labels)), repeat=3) if schemes.is_valid([labels[i] for i in p], "bioes")]
    total = sum(torch.exp(-crf.nll(emissions, torch.tensor([p]), mask)).item() for p in valid)
    assert abs(total - 1.0) < 1e-4


def test_length_one_sequences_and_padding():
    crf = random_crf(3, 1)
    emissions = torch.randn(3, 5, 3)
    mask = torch.tensor([[1, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    nll = crf.nll(emissions, torch.zeros(3, 5, dtype=torch.long), mask)
    for b in range(3):
        n = int(mask[b].sum())
        alone = crf.nll(emissions[b : b + 1, :n], torch.zeros(1, n, dtype=torch.long), mask[b : b + 1, :n])
        assert torch.allclose(nll[b], alone[0], atol=1e-5)
    nll.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())


def test_vectorised_backtrace_matches_a_reference_loop():
    g = torch.Generator().manual_seed(3)
    emissions, trans = torch.randn(16, 9, 5, generator=g), torch.randn(5, 5, generator=g)
    start, end = torch.randn(5, generator=g), torch.randn(5, generator=g)
    lengths = torch.randint(1, 10, (16,), generator=g)
    mask = torch.arange(9).unsqueeze(0) < lengths.unsqueeze(1)
    paths, _ = viterbi(emissions, mask, start, trans, end)
    for b in range(16):
        n = int(lengths[b])
        score, pointers = start + emissions[b, 0], []
        for t in range(1, n):
            best, idx = (score.unsqueeze(1) + trans).max(0)
            pointers.append(idx)
            score = best + emissions[b, t]
        tag = int((score + end).argmax())
        ref = [tag]
        for idx in reversed(pointers):
            tag = int(idx[tag])
            ref.append(tag)
        assert paths[b, :n].tolist() == ref[::-1]


def test_bad_inputs_are_rejected_up_front():
    crf = CRF(3)
    import pytest

    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.randn(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        crf.decode(torch.randn(2, 4, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="mask\\[:, 0\\]"):
        crf.decode(torch.randn(2, 4, 3), torch.zeros(2, 4, dtype=torch.bool))


def reference_log_partition(crf: CRF, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The textbook forward algorithm: one logsumexp over (batch, tags, tags) per step."""
    start, trans, end = crf.scores()
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.size(1)):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], nxt, alpha)
    return torch.logsumexp(alpha + end, dim=1)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(1, 9), st.integers(0, 10_000), st.sampled_from([1.0, 10.0, 30.0]))
def test_fast_paths_equal_the_straightforward_ones(time, batch, seed, scale):
    """Scaled forward vs logsumexp; equal-length (no masking) vs padded batches; constrained labels."""
    labels = schemes.label_set(["A", "B"], "bioes")
    crf = random_crf(len(labels), seed, schemes.allowed_transitions(labels, "bioes"))
    g = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, time, len(labels), generator=g, dtype=torch.float64) * scale
    crf = crf.double()
    full = torch.ones(batch, time, dtype=torch.bool)
    ref = reference_log_partition(crf, emissions, full)
    fast = crf.log_partition(emissions, full)
    assert torch.allclose(fast, ref, rtol=1e-9, atol=1e-6 * scale)
    # The same rows padded to a longer batch take the masked path and must not change.
    padded = torch.cat([emissions, torch.randn(batch, 3, len(labels), generator=g, dtype=torch.float64)], 1)
    mask = torch.cat([full, torch.zeros(batch, 3, dtype=torch.bool)], 1)
    assert torch.allclose(crf.log_partition(padded, mask), fast, rtol=1e-12, atol=1e-9)
    paths_full, best_full = crf.decode(emissions, full)
    paths_pad, best_pad = crf.decode(padded, mask)
    assert torch.equal(paths_pad[:, :time], paths_full) and paths_pad[:, time:].eq(0).all()
    assert torch.allclose(best_pad, best_full)


def test_gradients_of_the_scaled_forward_match_the_reference():
    crf = random_crf(5, 3).double()
    emissions = torch.randn(4, 7, 5, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 3, 1, 5])
    mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    (g_fast,) = torch.autograd.grad(crf.log_partition(emissions, mask).sum(), emissions)
    (g_ref,) = torch.autograd.grad(reference_log_partition(crf, emissions, mask).sum(), emissions)
    assert torch.allclose(g_fast, g_ref, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6), st.integers(0, 10_000))
def test_nbest_matches_exhaustive_enumeration(num_tags, time, k, seed):
    crf = random_crf(num_tags, seed)
    g = torch.Generator().manual_seed(seed + 7)
    emissions = torch.randn(3, time, num_tags, generator=g)
    lengths = torch.randint(1, time + 1, (3,), generator=g)
    lengths[0] = time
    mask = torch.arange(time).unsqueeze(0) < lengths.unsqueeze(1)
    paths, logp = crf.nbest(emissions, mask, k)
    log_z = crf.log_partition(emissions, mask)
    for b in range(3):
        n = int(lengths[b])
        scored = sorted(all_paths(crf, emissions[b : b + 1], n), key=lambda x: -x[1])
        expected = scored[:k]
        got = [(tuple(paths[b, r, :n].tolist()), logp[b, r].item()) for r in range(min(k, len(scored)))]
        for (path, score), (got_path, got_logp) in zip(expected, got):
            assert abs(got_logp - (score - log_z[b].item())) < 1e-4
            assert got_path == path or abs(dict(scored)[got_path] - score) < 1e-5  # ties may swap
        assert len({p for p, _ in got}) == len(got)  # distinct paths
        assert torch.isinf(logp[b, len(scored):]).all() if k > len(scored) else True
    best, _ = crf.decode(emissions, mask)
    assert torch.equal(paths[:, 0], best)


def bioes_crf_and_batch(seed: int, scale: float, dtype=torch.float32):
    labels = schemes.label_set(["A", "B"], "bioes")
    crf = random_crf(len(labels), seed, schemes.allowed_transitions(labels, "bioes"))
    g = torch.Generator().manual_seed(seed)
    emissions = (torch.randn(4, 9, len(labels), generator=g, dtype=torch.float64) * scale).to(dtype)
    mask = torch.arange(9).unsqueeze(0) < torch.tensor([9, 4, 1, 6]).unsqueeze(1)
    return crf, emissions, mask


def test_the_written_out_gradient_is_autograds_in_every_input():
    """The backward recursion against finite differences, for emissions, start, transitions and end."""
    from ner_bilstm.modules.partition import log_partition

    crf, emissions, mask = bioes_crf_and_batch(4, 2.0, torch.float64)
    start, trans, end = (x.detach().clone().requires_grad_() for x in crf.double().scores())
    emissions.requires_grad_()
    assert torch.autograd.gradcheck(lambda e, s, t, n: log_partition(e, mask, s, t, n), (emissions, start, trans, end))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.5, 3.0, 10.0, 40.0]))
def test_float32_training_loss_and_gradients_match_float64(seed, scale):
    """Float32 emissions (training) get the float64 reference's log Z and gradients, even when a
    token's scores span far (scale 40: spans past 100, where a float32 recursion loses paths)."""
    crf, emissions, mask = bioes_crf_and_batch(seed, scale)
    weights = torch.rand(4, generator=torch.Generator().manual_seed(seed))
    reference = copy.deepcopy(crf).double()
    em32 = emissions.clone().requires_grad_()
    em64 = emissions.double().requires_grad_()
    fast = crf.log_partition(em32, mask)
    ref = reference_log_partition(reference, em64, mask)
    assert fast.dtype == torch.float32
    assert torch.allclose(fast.double(), ref, rtol=1e-6, atol=1e-4)
    (fast * weights).sum().backward()
    (ref * weights.double()).sum().backward()
    assert torch.isfinite(em32.grad).all()
    assert torch.allclose(em32.grad.double(), em64.grad, atol=1e-5)
    for name in ("transitions", "start_transitions", "end_transitions"):
        assert torch.allclose(getattr(crf, name).grad.double(), getattr(reference, name).grad, atol=1e-5), name


def test_the_forward_tensors_are_freed_with_the_graph():
    """The output is not held by its own autograd context: no cycle keeps a step's tensors alive."""
    import gc
    import weakref

    crf, emissions, mask = bioes_crf_and_batch(2, 1.0, torch.float64)  # float64: no dtype conversion to copy
    crf = crf.double()
    gc.disable()
    try:
        log_z = crf.log_partition(emissions.clone().requires_grad_(), mask)
        probs = weakref.ref(log_z.grad_fn.fwd.probs)
        log_z.sum().backward()
        del log_z
        assert probs() is None
    finally:
        gc.enable()
