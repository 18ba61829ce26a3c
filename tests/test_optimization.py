"""The optimiser: Adam updating embedding tables row by row, and clipping with sparse gradients."""

import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import LoadedSentences
from ner_bilstm.optimization import RowAdam, clip_gradients, train_step
from ner_bilstm.sentence import Sentence
from ner_bilstm.setup import batch_size_for, prepare

from .conftest import TINY, make_sentences


def _sparse(rows: list[int], values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.tensor([rows]), values, shape, check_invariants=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=8), min_size=1, max_size=6), st.sampled_from([0.0, 0.01]))
def test_row_adam_is_lazy_adam_on_tables_and_adam_elsewhere(steps, weight_decay):
    """Against torch's SparseAdam (the same lazy update) for a table whose rows (repeated ones
    included) vary per step, with weight decay given to it as L2 on the rows, and torch's Adam for a
    dense parameter; untouched rows keep every bit. eps is tiny because SparseAdam places it differently."""
    g = torch.Generator().manual_seed(len(steps))
    table, dense = torch.nn.Parameter(torch.randn(12, 3, generator=g)), torch.nn.Parameter(torch.randn(5, generator=g))
    ref_table, ref_dense = torch.nn.Parameter(table.detach().clone()), torch.nn.Parameter(dense.detach().clone())
    ours = RowAdam([table, dense], lr=0.05, weight_decay=weight_decay, eps=1e-12)
    sparse_ref = torch.optim.SparseAdam([ref_table], lr=0.05, eps=1e-12)
    dense_ref = torch.optim.Adam([ref_dense], lr=0.05, weight_decay=weight_decay, eps=1e-12)
    before = table.detach().clone()
    for rows in steps:
        values = torch.randn(len(rows), 3, generator=g)
        dense_grad = torch.randn(5, generator=g)
        table.grad, dense.grad = _sparse(rows, values, (12, 3)), dense_grad.clone()
        ref = _sparse(rows, values, (12, 3)).coalesce()
        decayed = ref.values() + weight_decay * ref_table.detach()[ref.indices()[0]]
        ref_table.grad = torch.sparse_coo_tensor(ref.indices(), decayed, (12, 3), check_invariants=False)
        ref_dense.grad = dense_grad.clone()
        ours.step()
        sparse_ref.step()
        dense_ref.step()
    assert torch.allclose(dense, ref_dense, atol=1e-6)
    assert torch.allclose(table, ref_table, atol=1e-6)
    untouched = sorted(set(range(12)) - {r for rows in steps for r in rows})
    assert torch.equal(table[untouched], before[untouched])
    assert torch.equal(ours.state[table]["exp_avg"][untouched], torch.zeros(len(untouched), 3))


def test_a_row_keeps_its_value_and_moments_on_steps_that_do_not_touch_it():
    """What makes it lazy: dense Adam would go on moving row 0 by its momentum at the second step."""
    table = torch.nn.Parameter(torch.zeros(4, 2))
    opt = RowAdam([table], lr=0.1)
    table.grad = _sparse([0, 1], torch.ones(2, 2), (4, 2))
    opt.step()
    after_first = table.detach().clone()
    moments = opt.state[table]["exp_avg"].clone(), opt.state[table]["exp_avg_sq"].clone()
    table.grad = _sparse([1], torch.ones(1, 2), (4, 2))
    opt.step()
    assert torch.equal(table[0], after_first[0]) and not torch.equal(table[1], after_first[1])
    assert torch.equal(opt.state[table]["exp_avg"][0], moments[0][0]) and torch.equal(opt.state[table]["exp_avg_sq"][0], moments[1][0])


def test_row_adam_checkpoints_load_into_adam_and_back():
    """The state has Adam's layout (keys, shapes, dtypes): a checkpoint from before row updates
    resumes, and one after steps on as Adam's."""
    p = torch.nn.Parameter(torch.randn(6, 2))
    adam = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.randn(6, 2)
    adam.step()
    rows = RowAdam([p], lr=0.1)
    rows.load_state_dict(adam.state_dict())
    p.grad = _sparse([1, 4], torch.ones(2, 2), (6, 2))
    rows.step()
    ours, theirs = rows.state_dict()["state"][0], adam.state_dict()["state"][0]
    assert ours.keys() == theirs.keys()
    assert all(ours[k].shape == theirs[k].shape and ours[k].dtype == theirs[k].dtype for k in ours)
    assert float(ours["step"]) == 2
    again = torch.optim.Adam([p], lr=0.1)
    again.load_state_dict(rows.state_dict())
    p.grad = torch.ones(6, 2)
    again.step()
    assert float(again.state[p]["step"]) == 3 and torch.isfinite(p).all()


def test_row_adam_refuses_options_its_row_update_would_ignore():
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        RowAdam([torch.nn.Parameter(torch.zeros(2))], decoupled_weight_decay=True)


def test_clipping_coalesces_sparse_gradients_and_counts_repeated_rows_once():
    table, bias = torch.nn.Parameter(torch.zeros(5, 2)), torch.nn.Parameter(torch.zeros(2))
    table.grad = _sparse([3, 1, 3], torch.tensor([[3.0, 0.0], [0.0, 4.0], [3.0, 0.0]]), (5, 2))  # row 3 sums to (6, 0)
    bias.grad = torch.tensor([0.0, 0.0])
    norm = clip_gradients([table, bias], 1.0)
    assert norm == pytest.approx((36 + 16) ** 0.5)
    assert table.grad.is_sparse and table.grad.is_coalesced()
    assert table.grad.to_dense().norm().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("optimizer", ["lazyadam", "adam", "sgd"])
def test_a_training_step_updates_only_the_word_rows_its_batch_used(optimizer):
    """lazyadam leaves every row its batch did not use alone, step after step; Adam and SGD keep
    moving a row by its momentum once it has one."""
    sentences = [Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 3)]
    config = TrainConfig(**{**TINY, "optimizer": optimizer, "word_dropout": 0.0, "lr": 0.01})
    setup = prepare(config, LoadedSentences(sentences), torch.device("cpu"))
    setup.model.train()
    weight = setup.model.word_embed.weight
    before = weight.detach().clone()
    batch = setup.data.batch(list(range(8)))
    train_step(setup, batch, config)
    used = set(torch.unique(batch.words).tolist())
    changed = set((weight != before).any(dim=1).nonzero().flatten().tolist())
    assert weight.grad.is_sparse == (optimizer == "lazyadam")
    assert changed == used - {0}  # every used row but padding, and no other: moments start at zero
    after_first = weight.detach().clone()
    second = setup.data.batch(list(range(8, 16)))
    train_step(setup, second, config)
    only_first = sorted(used - set(torch.unique(second.words).tolist()) - {0})
    assert only_first
    rested = torch.equal(weight[only_first], after_first[only_first])
    assert rested == (optimizer == "lazyadam")


@pytest.mark.parametrize("optimizer", ["adam", "lazyadam", "sgd"])
def test_embed_lr_scales_the_first_step_of_the_tables_and_nothing_else(optimizer):
    """A first step moves the embedding tables by embed_lr times what it would have, every other
    parameter by exactly as much."""
    sentences = [Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 3)]

    def step(scale: float) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        config = TrainConfig(**{**TINY, "optimizer": optimizer, "word_dropout": 0.0, "embed_lr": scale})
        setup = prepare(config, LoadedSentences(sentences), torch.device("cpu"))
        setup.model.train()
        before = {n: p.detach().clone() for n, p in setup.model.named_parameters()}
        train_step(setup, setup.data.batch(list(range(8))), config)
        return {n: p.detach() - before[n] for n, p in setup.model.named_parameters()}

    full, scaled = step(1.0), step(0.25)
    assert full["word_embed.weight"].abs().sum() > 0
    for name, delta in full.items():
        expected = delta * 0.25 if name == "word_embed.weight" else delta
        torch.testing.assert_close(scaled[name], expected, rtol=1e-4, atol=1e-7, msg=name)


@pytest.mark.parametrize(("sentences", "tokenization", "expected"), [
    (14_041, "word", 64), (12_800, "word", 64), (12_799, "word", 32), (6_400, "word", 32), (6_399, "word", 16),
    (3_394, "word", 16), (5, "word", 16), (3_821, "char", 64), (100, "char", 64),
])
def test_auto_batch_size_gives_word_level_corpora_200_steps_an_epoch(sentences, tokenization, expected):
    assert batch_size_for(sentences, tokenization) == expected


def test_auto_batch_size_is_resolved_before_training_and_recorded_as_chosen():
    sentences = [Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 3)]
    auto = prepare(TrainConfig(**{**TINY, "batch_size": 0}), LoadedSentences(sentences), torch.device("cpu"))
    assert auto.config.batch_size == 16 and auto.record({}).training["batch_size"] == 16
    given = prepare(TrainConfig(**{**TINY, "batch_size": 8}), LoadedSentences(sentences), torch.device("cpu"))
    assert given.config.batch_size == 8
    assert TrainConfig().batch_size == 0  # auto is the default


# A fresh process: multiplies 2**20 denormal floats, enough that torch splits the work between
# its threads, and prints how many stayed nonzero: without training, or ("train") at the first
# step of a training run, then after it with Python's floats (which run on the main thread).
DENORMAL_PROBE = """
import sys, torch
def survivors():
    return int((torch.full((1 << 20,), 1e-39) * 0.5).count_nonzero())
if sys.argv[1] == "train":
    from ner_bilstm.api import train
    from ner_bilstm.events import BatchDone
    seen = []
    train(sys.argv[2], sys.argv[3], sys.argv[4], epochs=1, hidden=16, word_dim=8, char_dim=8, char_filters=8,
          batch_size=8, callback=lambda e: seen.append(survivors()) if isinstance(e, BatchDone) and not seen else None)
    print(seen[0], int(sys.float_info.min / 2 != 0.0))
else:
    print(survivors())
"""


@pytest.mark.skipif(not torch.set_flush_denormal(False), reason="this CPU cannot flush denormals")
def test_training_flushes_denormals_on_every_thread_and_restores_python_floats(corpus, tmp_path):
    """Adam's averages of untouched embedding rows decay into the denormal range, where x86
    arithmetic is slow; training flushes them on every thread, starting before torch starts its
    worker threads so that they inherit it, and leaves the calling thread as it found it."""
    def probe(*args: str) -> list[int]:
        out = subprocess.run([sys.executable, "-c", DENORMAL_PROBE, *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return [int(x) for x in out.stdout.split()]

    assert probe("no") == [1 << 20]  # without training they survive: the probe can tell
    during, python_floats_denormal_after = probe("train", str(corpus["train"]), str(corpus["dev"]), str(tmp_path / "m"))
    assert during == 0 and python_floats_denormal_after == 1
