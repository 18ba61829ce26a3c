"""Run the console script, or a ``python -c`` program, in a process forked from a server that has
torch and ner-bilstm imported already: the same code, argv, stdio and memory limit as a fresh
process, without paying the 1.5 s import per case (the hostile suite runs over a hundred).

Only for runs whose environment is the test process's own: variables read while the interpreter
or a module starts (PYTHONIOENCODING, LC_ALL, COLUMNS) need a real new process."""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

PRELOAD = ["pytest", "torch", "ner_bilstm_cli.main", "ner_bilstm.training", "ner_bilstm.tagging", "ner_bilstm.evaluation",
           "ner_bilstm.conversion", "ner_bilstm.artifact", "ner_bilstm.streaming", "seqeval.metrics"]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _stdio(fd: int, writing: bool, like: io.TextIOWrapper, line_buffering: bool) -> io.TextIOWrapper:
    """A text stream on ``fd`` built the way the interpreter builds sys.stdin/stdout/stderr."""
    raw = io.FileIO(fd, "wb" if writing else "rb", closefd=False)
    buffer = io.BufferedWriter(raw) if writing else io.BufferedReader(raw)
    return io.TextIOWrapper(buffer, encoding=like.encoding, errors=like.errors, line_buffering=line_buffering)


def _child(argv: list[str], code: str | None, stdin: str, stdout: str, stderr: str, memory_limit: int | None) -> None:
    if memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY), (2, stderr, os.O_WRONLY)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = sys.__stdin__ = _stdio(0, False, sys.__stdin__ or sys.stdin, False)
    sys.stdout = sys.__stdout__ = _stdio(1, True, sys.__stdout__, False)
    sys.stderr = sys.__stderr__ = _stdio(2, True, sys.__stderr__, True)
    sys.argv = list(argv)
    status = 0
    try:
        if code is None:
            from ner_bilstm_cli.main import main

            main()  # leaves through os._exit with the command's status
        else:
            exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as e:  # as the interpreter reports it
        if isinstance(e.code, int) or e.code is None:
            status = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(status)


def run(argv: list[str], *, code: str | None = None, input: bytes | None = None, timeout: float = 600,
        memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """Run ``ner-bilstm argv[1:]`` (or the program ``code`` as ``python -c``) in a forked process;
    the result as ``subprocess.run(..., capture_output=True)`` gives it (bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / name for name in ("stdin", "stdout", "stderr")]
        paths[0].write_bytes(input or b"")
        paths[1].touch()
        paths[2].touch()
        process = _context.Process(target=_child, args=(argv, code, *map(str, paths), memory_limit))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(argv, timeout)
        status = process.exitcode
        return subprocess.CompletedProcess(argv, status, paths[1].read_bytes(), paths[2].read_bytes())
