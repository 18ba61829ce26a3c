"""The ``ner-bilstm`` command line: one thin function per command over the library."""

from __future__ import annotations

import functools
import os
import signal
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
    pretty_exceptions_show_locals=False,
)


def versions() -> str:
    """ner-bilstm's version with those of torch and Python (torch's from its metadata, which is
    faster than importing it; from the module when the metadata is missing)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from ner_bilstm import __version__

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        import torch

        torch_version = torch.__version__
    return f"ner-bilstm {__version__} (torch {torch_version}, Python {platform.python_version()})"


def _show_version(value: bool) -> None:
    if value:
        print(versions())
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the versions and exit."),
) -> None:
    """Named-entity recognition with BiLSTM-CRF taggers: train, evaluate, predict."""


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user errors (and the system's refusals) into one line on stderr and exit 1;
    Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TrainingInterrupted as e:
            if os.environ.get("RANK", "0") == "0":  # one line for a distributed run, not one per process
                err_console.print(f"[bold yellow]stopped:[/] {escape(str(e))}", markup=True)
            raise typer.Exit(130) from None
        except NerError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            if os.environ.get("RANK", "0") == "0":
                err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except OSError as e:  # the system refused a read or write the library did not foresee (a full disk, ...)
            where = f"{e.filename}: " if e.filename else ""
            err_console.print(f"[bold red]error:[/] {escape(where)}{escape(e.strerror or str(e))}", markup=True)
            raise typer.Exit(1) from None

    return wrapper


def register() -> None:
    from . import convert, evaluate, info, predict, report, train

    app.command("train")(user_errors(train.train))
    app.command("evaluate")(user_errors(evaluate.evaluate))
    app.command("predict")(user_errors(predict.predict))
    app.command("info")(user_errors(info.info))
    app.command("convert")(user_errors(convert.convert))
    app.command("report")(user_errors(report.report))


register()


def usage_error(e: Exception) -> int:
    """A click error (unknown option, bad choice or value, missing argument) as one line on stderr;
    its exit code (2 for usage errors). Ctrl-C at a prompt (Abort) is 130."""
    if type(e).__name__ == "Abort":
        err_console.print("interrupted", highlight=False)
        return 130
    message = e.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
    if message:  # empty: the command was given no arguments and its help is already on screen
        ctx = getattr(e, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err_console.print(f"[bold red]error:[/] {escape(message)}{escape(hint)}", markup=True)
    return getattr(e, "exit_code", 2)


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C: the command unwinds (a half-written --output file is removed) and exits 130."""
    raise KeyboardInterrupt


def main() -> None:
    """Run the app, then leave without the interpreter's teardown: unloading torch takes
    ~0.3 s, a sixth of tagging the CoNLL-2003 test set. Everything is flushed first, and
    files the commands write are closed (and renamed into place) before they return."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON, CoNLL and tables go out as UTF-8, whatever the locale says
    signal.signal(signal.SIGTERM, _terminated)  # train installs its own while it trains (a checkpoint, then 130)
    try:
        result = app(standalone_mode=False)  # usage errors come back here, to be told in one line
        code = result if isinstance(result, int) else 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except BrokenPipeError:
        code = 0  # the reader went away (e.g. `| head`): end quietly
    except Exception as e:
        if type(e).__name__ != "Abort" and not hasattr(e, "format_message"):  # not click's: a bug, which keeps its traceback
            raise
        code = usage_error(e)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stderr.flush()
    os._exit(code)
