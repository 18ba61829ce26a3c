import pytest
import torch

from ner_bilstm.modules.dropout import Dropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.7])
def test_dropout_rate_scale_and_eval_identity(p):
    torch.manual_seed(0)
    layer = Dropout(p)
    x = torch.ones(200, 500)
    y = layer(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.02  # inverted dropout keeps the expectation
    assert len(torch.unique(y)) == 2  # zeros and one scaled value
    layer.eval()
    assert torch.equal(layer(x), x)


def test_dropout_is_seeded_and_odd_sizes_work():
    layer = Dropout(0.5)
    torch.manual_seed(1)
    a = layer(torch.ones(3, 5, 7))
    torch.manual_seed(1)
    b = layer(torch.ones(3, 5, 7))
    assert torch.equal(a, b) and a.shape == (3, 5, 7)
    assert torch.equal(Dropout(0.0)(torch.ones(4)), torch.ones(4))


@pytest.mark.parametrize("p", [0.5, 0.25])
def test_every_position_of_the_random_words_is_unbiased(p):
    """Each mask element comes from one bit (p = 0.5) or one byte of a 63-bit random word: a
    position fed by the word's always-zero top bit would be dropped every time, or never."""
    from ner_bilstm.modules.dropout import keep_mask

    torch.manual_seed(3)
    keep, rate = keep_mask(torch.Size([63 * 64 * 500]), p, torch.device("cpu"))
    assert rate == 1 - p
    for period in (7, 8, 63, 64):
        columns = keep.view(-1, period).float().mean(0)
        assert ((columns - (1 - p)).abs() < 0.03).all(), (period, columns.min(), columns.max())


@pytest.mark.parametrize("p", [0.5, 0.25, 0.1])
def test_the_layer_applies_exactly_the_mask_keep_mask_draws(p):
    """The layer reads its scaled mask from a table; it must be keep_mask's mask times 1/rate."""
    from ner_bilstm.modules.dropout import keep_mask

    x = torch.randn(5, 13, 11)
    torch.manual_seed(4)
    keep, rate = keep_mask(x.shape, p, x.device)
    torch.manual_seed(4)
    y = Dropout(p)(x)
    assert torch.equal(y, x * (keep.float() * (1 / rate)))
    torch.manual_seed(4)
    assert torch.equal(Dropout(p)(x.double()), x.double() * (keep.double() * (1 / rate)))  # a table per dtype
