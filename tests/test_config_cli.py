from dataclasses import fields

from ner_bilstm_cli.train import train

from ner_bilstm.config import TrainConfig


def test_every_training_option_is_on_the_command_line():
    import inspect

    cli = set(inspect.signature(train).parameters)
    assert {f.name for f in fields(TrainConfig)} <= cli
