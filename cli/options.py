"""Options several commands share: how to read a labelled source (one ``ReaderOptions`` per command)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import typer

from ner_bilstm.config import CHOICES, TrainConfig
from ner_bilstm.conversion import FORMATS
from ner_bilstm.errors import NerError
from ner_bilstm.io import INPUT_FORMATS, PREDICT_FORMATS, SOURCE_FORMATS, ReaderOptions
from ner_bilstm.io.files import check_encoding
from ner_bilstm.io.spans import TOKENIZERS
from ner_bilstm.label_map import parse_label_map
from ner_bilstm.schemes import SCHEMES as SCHEME_NAMES


def enum_of(name: str, values: Sequence[str]) -> type[Enum]:
    """``values`` as an Enum, which Typer validates (a bad choice exits 2), lists in help and completes."""
    return Enum(name, {value: value for value in values}, type=str)  # type: ignore[return-value]


def _choice(key: str) -> type[Enum]:
    return enum_of(key.title().replace("_", ""), CHOICES[key])


REPORT_FORMAT = enum_of("ReportFormat", ("table", "json"))
CONVERT_FORMAT = enum_of("ConvertFormat", FORMATS)
PREDICT_FORMAT = enum_of("PredictFormat", PREDICT_FORMATS)
INPUT_FORMAT = enum_of("InputFormat", INPUT_FORMATS)
SOURCE_FORMAT = enum_of("SourceFormat", SOURCE_FORMATS)
TOKENIZE = enum_of("Tokenize", TOKENIZERS)
SCHEMES = enum_of("Scheme", SCHEME_NAMES)


def output_format_alias(old: str) -> Any:
    """The hidden old name of ``--output-format`` (``--format``, ``--to-format``), still accepted."""
    return typer.Option(None, old, hidden=True)


CHOICE_ENUMS = {key: _choice(key) for key in ("head", "rnn", "char", "bigrams", "optimizer", "scheme", "train_scheme", "device",
                                              "doc_memory", "memory_scope", "bf16")}
CHOICE_ENUMS.update(input_format=SOURCE_FORMAT, tokenize=TOKENIZE)
HEAD, RNN, CHAR, BIGRAMS, OPTIMIZER, SCHEME, TRAIN_SCHEME, DEVICE_CHOICE, DOC_MEMORY, MEMORY_SCOPE, BF16 = list(CHOICE_ENUMS.values())[:11]
_DEFAULTS = TrainConfig()


def opt(key: str, panel: str, *decls: str, help: str) -> Any:
    """A `train` option for TrainConfig's ``key``, with TrainConfig's default (shown in the help),
    in the help panel ``panel``. Only values given on the command line override a TOML file
    (``given``)."""
    default = getattr(_DEFAULTS, key)
    if key in CHOICE_ENUMS:
        default = CHOICE_ENUMS[key](default)
    return typer.Option(default, *decls, help=help, rich_help_panel=panel)


def typed(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (or its environment variable), not defaulted."""
    # By the source's name: Typer may carry its own copy of click's ParameterSource enum.
    return getattr(ctx.get_parameter_source(name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")


def given(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The ``values`` typed on the command line (not defaults), choices as plain strings."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items() if typed(ctx, k)}

TOKEN_COL = typer.Option(0, help="CoNLL token column.")
TAG_COL = typer.Option(-1, help="CoNLL tag column.")
ENCODING = typer.Option("utf-8", help="Text encoding.")
SPLIT = typer.Option(None, help="Split of a datasets source.")
TOKENS_FIELD = typer.Option("tokens", help="Tokens column of a datasets source.")
TAGS_FIELD = typer.Option("ner_tags", help="Tags column of a datasets source.")
DEVICE = typer.Option("auto", help="Where to run (auto: CUDA when there is a GPU).")
SOURCE = typer.Option("auto", "--input-format", help="Format of the data (auto: from the name and the first record).")
TOKENIZE_OPTION = typer.Option("word", "--tokenize",
                               help="How annotation-tool texts without tokens are split: words, characters, or at whitespace.")


def check_label_map(value: str) -> str:
    """A ``--label-map`` that does not parse is a usage error (exit 2)."""
    try:
        parse_label_map(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    return value


LABEL_MAP_HELP = "Rename or drop entity types while reading: OLD=NEW,... (OLD= drops OLD)."
LABEL_MAP = typer.Option("", "--label-map", help=LABEL_MAP_HELP, callback=check_label_map)


def chosen_format(ctx: typer.Context, output_format: Enum | None, alias: Enum | None) -> str | None:
    """The format asked for: ``--output-format`` when typed, else its hidden old name, else the default."""
    chosen = output_format if typed(ctx, "output_format") or alias is None else alias
    return chosen.value if chosen is not None else None


def reader(token_col: int = 0, tag_col: int = -1, encoding: str = "utf-8", split: str | None = None,
           tokens_field: str = "tokens", tags_field: str = "ner_tags", input_format: Enum | str = "auto",
           tokenize: Enum | str = "word", label_map: str = "") -> ReaderOptions:
    """The command's reader options, from its parsed command-line values."""
    def plain(v: Enum | str) -> str:
        return v.value if isinstance(v, Enum) else v

    try:
        check_encoding(encoding)
    except NerError as e:
        raise typer.BadParameter(e.message, param_hint="--encoding") from None

    return ReaderOptions(token_col, tag_col, encoding, split, tokens_field, tags_field, plain(input_format), plain(tokenize),
                         label_map)
