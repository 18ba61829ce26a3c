"""The optimiser: Adam updating embedding tables row by row, and clipping with sparse gradients."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import LoadedSentences
from ner_bilstm.optimization import RowAdam, clip_gradients, train_step
from ner_bilstm.sentence import Sentence
from ner_bilstm.setup import prepare

from .conftest import TINY, make_sentences


def _sparse(rows: list[int], values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.tensor([rows]), values, shape, check_invariants=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=8), min_size=1, max_size=6), st.sampled_from([0.0, 0.01]))
def test_row_adam_is_lazy_adam_on_tables_and_adam_elsewhere(steps, weight_decay):
    """Against torch's SparseAdam (the same lazy update) for a table whose rows (repeated ones
    included) vary per step, and torch's Adam for a dense parameter; untouched rows keep every bit."""
    g = torch.Generator().manual_seed(len(steps))
    table, dense = torch.nn.Parameter(torch.randn(12, 3, generator=g)), torch.nn.Parameter(torch.randn(5, generator=g))
    ref_table, ref_dense = torch.nn.Parameter(table.detach().clone()), torch.nn.Parameter(dense.detach().clone())
    ours = RowAdam([table, dense], lr=0.05, weight_decay=weight_decay)
    reference = [torch.optim.Adam([ref_dense], lr=0.05, weight_decay=weight_decay)]
    if not weight_decay:  # SparseAdam has no weight decay; the decayed case checks the dense part and laziness only
        reference.append(torch.optim.SparseAdam([ref_table], lr=0.05))
    before = table.detach().clone()
    for rows in steps:
        values = torch.randn(len(rows), 3, generator=g)
        dense_grad = torch.randn(5, generator=g)
        table.grad, dense.grad = _sparse(rows, values, (12, 3)), dense_grad.clone()
        ref_table.grad, ref_dense.grad = _sparse(rows, values, (12, 3)), dense_grad.clone()
        ours.step()
        for opt in reference:
            opt.step()
    assert torch.allclose(dense, ref_dense, atol=1e-6)
    if not weight_decay:
        assert torch.allclose(table, ref_table, atol=1e-6)
    untouched = sorted(set(range(12)) - {r for rows in steps for r in rows})
    assert torch.equal(table[untouched], before[untouched])
    assert torch.equal(ours.state[table]["exp_avg"][untouched], torch.zeros(len(untouched), 3))
    touched = sorted({r for rows in steps for r in rows})
    assert not torch.equal(table[touched], before[touched])


def test_row_adam_checkpoints_load_into_adam_and_back():
    """The state has Adam's layout: a checkpoint from before row updates resumes, and one after reads as Adam's."""
    p = torch.nn.Parameter(torch.randn(6, 2))
    adam = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.randn(6, 2)
    adam.step()
    rows = RowAdam([p], lr=0.1)
    rows.load_state_dict(adam.state_dict())
    p.grad = _sparse([1, 4], torch.ones(2, 2), (6, 2))
    rows.step()
    assert float(rows.state[p]["step"]) == 2
    torch.optim.Adam([p], lr=0.1).load_state_dict(rows.state_dict())


def test_clipping_coalesces_sparse_gradients_and_counts_repeated_rows_once():
    table, bias = torch.nn.Parameter(torch.zeros(5, 2)), torch.nn.Parameter(torch.zeros(2))
    table.grad = _sparse([3, 1, 3], torch.tensor([[3.0, 0.0], [0.0, 4.0], [3.0, 0.0]]), (5, 2))  # row 3 sums to (6, 0)
    bias.grad = torch.tensor([0.0, 0.0])
    norm = clip_gradients([table, bias], 1.0)
    assert norm == pytest.approx((36 + 16) ** 0.5)
    assert table.grad.is_sparse and table.grad.is_coalesced()
    assert table.grad.to_dense().norm().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_training_step_updates_only_the_word_rows_its_batch_used(optimizer):
    sentences = [Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 3)]
    config = TrainConfig(**{**TINY, "optimizer": optimizer, "word_dropout": 0.0, "lr": 0.01})
    setup = prepare(config, LoadedSentences(sentences), torch.device("cpu"))
    setup.model.train()
    weight = setup.model.word_embed.weight
    before = weight.detach().clone()
    batch = setup.data.batch(list(range(8)))
    train_step(setup, batch, config)
    used = torch.unique(batch.words)
    changed = (weight != before).any(dim=1).nonzero().flatten()
    if optimizer == "adam":
        assert weight.grad.is_sparse
        assert set(changed.tolist()) == set(used.tolist()) - {0}  # every used row but padding, and no other
        second = setup.data.batch(list(range(8, 16)))
        train_step(setup, second, config)  # rows neither batch used keep every bit
        other = sorted(set(range(len(weight))) - set(used.tolist()) - set(torch.unique(second.words).tolist()))
        assert other and torch.equal(weight[other], before[other])
    else:
        assert not weight.grad.is_sparse and set(changed.tolist()) <= set(used.tolist())
