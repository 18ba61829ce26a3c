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


def test_locked_dropout_drops_the_same_features_at_every_token():
    torch.manual_seed(5)
    layer = Dropout(0.5, locked=True)
    y = layer(torch.ones(6, 9, 40))
    assert torch.equal(y, y[:, :1].expand_as(y))  # one mask per sentence
    assert not torch.equal(y[0, 0], y[1, 0])  # and a different one for each sentence
    assert abs((y == 0).float().mean().item() - 0.5) < 0.1 and set(torch.unique(y).tolist()) == {0.0, 2.0}
    flat = layer(torch.ones(64, 40))  # other ranks (packed characters) stay per element
    assert not torch.equal(flat, flat[:1].expand_as(flat))
    layer.eval()
    assert torch.equal(layer(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def _prepared(**options):
    import dataclasses

    from ner_bilstm.config import TrainConfig
    from ner_bilstm.corpora import LoadedSentences
    from ner_bilstm.sentence import Sentence
    from ner_bilstm.setup import prepare

    from .conftest import TINY, make_sentences

    sentences = LoadedSentences([Sentence([t for t, _ in s], [g for _, g in s]) for s in make_sentences(40, 1)])
    return prepare(dataclasses.replace(TrainConfig(**TINY), **options), sentences, torch.device("cpu"))


def test_the_option_locks_the_word_level_dropout_only():
    model = _prepared(locked_dropout=True, layers=2).model
    assert model.dropout.locked and model.encoder.dropout.locked
    assert not model.char_encoder.dropout.locked  # the character encoder keeps per-element dropout
    plain = _prepared().model
    assert not plain.dropout.locked and not plain.encoder.dropout.locked


def test_a_run_resumes_only_with_the_dropout_it_started_with(corpus, tmp_path):
    from ner_bilstm.config import load_config
    from ner_bilstm.errors import NerError
    from ner_bilstm.training import train

    from .conftest import TINY, interrupted_before

    def config(locked: bool):
        return load_config(overrides={**TINY, "epochs": 2, "checkpoint_every": 5, "locked_dropout": locked})

    interrupted_before(config(False), corpus, tmp_path, ("locked_dropout",))  # a checkpoint from before the option
    with pytest.raises(NerError, match=r"locked_dropout \(False then, True now\)"):
        train(config(True), str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True)
    resumed = train(config(False), str(corpus["train"]), str(corpus["dev"]), tmp_path, resume=True)
    fresh = train(config(False), str(corpus["train"]), str(corpus["dev"]), tmp_path / "fresh")
    locked = train(config(True), str(corpus["train"]), str(corpus["dev"]), tmp_path / "locked")
    assert [h.loss for h in resumed.history] == [h.loss for h in fresh.history]
    assert fresh.history[0].loss != locked.history[0].loss  # the option reaches training


def test_the_option_comes_from_a_toml_file_or_the_command_line(corpus, tmp_path):
    import json

    from ner_bilstm.config import load_config
    from ner_bilstm.errors import NerError

    from .test_cli import run

    (tmp_path / "on.toml").write_text("[training]\nlocked_dropout = true\nepochs = 1\nhidden = 16\nword_dim = 8\nchar_filters = 8\n")
    assert load_config(tmp_path / "on.toml").locked_dropout
    (tmp_path / "bad.toml").write_text("locked_dropout = 1\n")
    with pytest.raises(NerError, match="locked_dropout"):
        load_config(tmp_path / "bad.toml")
    for flag, expected in (("--no-locked-dropout", False), ("--locked-dropout", True)):
        out = tmp_path / flag
        r = run("train", "--train", corpus["train"], "--dev", corpus["dev"], "-o", out, "--config", tmp_path / "on.toml", flag)
        assert r.exit_code == 0, r.output
        assert json.loads((out / "config.json").read_text())["training"]["locked_dropout"] is expected
