"""The ``ner-bilstm`` command line: one thin function per command over the library."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from ner_bilstm.errors import NerError, TrainingInterrupted

from .render import err_console

app = typer.Typer(
    name="ner-bilstm",
    help="Named-entity recognition with BiLSTM-CRF taggers: train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user errors into one line on stderr and exit 1; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TrainingInterrupted as e:
            err_console.print(f"[bold yellow]stopped:[/] {escape(str(e))}", markup=True)
            raise typer.Exit(130) from None
        except NerError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None

    return wrapper


def register() -> None:
    from . import convert, evaluate, info, predict, train

    app.command("train")(user_errors(train.train))
    app.command("evaluate")(user_errors(evaluate.evaluate))
    app.command("predict")(user_errors(predict.predict))
    app.command("info")(user_errors(info.info))
    app.command("convert")(user_errors(convert.convert))


register()


def main() -> None:
    """Run the app, then leave without the interpreter's teardown: unloading torch takes
    ~0.3 s, a sixth of tagging the CoNLL-2003 test set. Everything is flushed first, and
    files the commands write are closed (and renamed into place) before they return."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON, CoNLL and tables go out as UTF-8, whatever the locale says
    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except BrokenPipeError:
        code = 0  # the reader went away (e.g. `| head`): end quietly
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stderr.flush()
    os._exit(code)
