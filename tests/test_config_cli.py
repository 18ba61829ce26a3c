from dataclasses import fields

from ner_bilstm_cli.train import train

from ner_bilstm.config import TrainConfig


def test_every_training_option_is_on_the_command_line():
    import inspect

    cli = set(inspect.signature(train).parameters)
    assert {f.name for f in fields(TrainConfig)} <= cli


def test_a_refused_value_names_its_option():
    """The CLI turns a refused typed value into a usage error naming the option (``NerError.option``)."""
    import pytest

    from ner_bilstm.config import load_config
    from ner_bilstm.errors import NerError

    bad = {"hidden": 0, "batch_size": -1, "layers": 100, "dropout": 1.0, "memory_dim": -1, "bigram_dim": -1, "seed": -1,
           "lr": float("nan"), "clip": -1.0, "momentum": 2.0, "threads": -1, "encoding": "utf-16", "label_map": "=",
           "heads": 7, "head": "svm", "epochs": "many"}
    for key, value in bad.items():
        with pytest.raises(NerError) as refused:
            load_config(overrides={key: value, **({"attention": True} if key == "heads" else {})})
        assert refused.value.option == key, (key, refused.value.message)
