"""Shared rich consoles, colours and tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ner_bilstm.evaluation import Scores

# markup=False: messages and tables carry user text (labels, paths, JSON keys), which must never be
# read as rich markup; the few styled prefixes ask for markup explicitly and escape what they embed.
console = Console(highlight=False, soft_wrap=True, markup=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

PALETTE = ("bold magenta", "bold cyan", "bold green", "bold yellow", "bold blue", "bold red",
           "bold bright_magenta", "bold bright_cyan", "bold bright_green", "bold bright_yellow")


def read_note(source: str, summary: str | None) -> None:
    """Tell, on stderr, what reading ``source`` changed or skipped (``ReadReport.summary``), if anything."""
    if summary:
        err_console.print(f"note: {source}: {summary}", markup=False, highlight=False)


def label_styles(labels: list[str]) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(sorted(labels))}


def scores_table(scores: Scores, title: str) -> Table:
    """Per-type and micro precision/recall/F1 as a table."""
    table = Table(title=title, caption=f"{scores.mode}; data scheme {scores.scheme.upper()}")
    for name in ("type", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name == "type" else "right")
    for label, s in scores.types.items():
        table.add_row(label, f"{s.precision:.2f}", f"{s.recall:.2f}", f"{s.f1:.2f}", str(s.support))
    m = scores.micro
    table.add_section()
    table.add_row("micro", f"{m.precision:.2f}", f"{m.recall:.2f}", f"{m.f1:.2f}", str(m.support), style="bold")
    return table


def seeds_table(summary) -> Table:
    """One row per seed, then mean ± sd and min-max of dev and test F1, then per type."""
    tested = summary.test is not None
    table = Table(title=f"{len(summary.runs)} seeds (the model kept: seed {summary.best_seed}, best dev F1)")
    for name in ("seed / type", "best epoch", "dev F1", *(("test F1",) if tested else ()), "seconds"):
        table.add_column(name, justify="right")
    for r in summary.runs:
        table.add_row(str(r.seed), str(r.best_epoch), f"{r.dev_f1:.2f}", *((f"{r.test_f1:.2f}",) if tested else ()),
                      f"{r.seconds:.0f}", style="bold" if r.seed == summary.best_seed else None)
    table.add_section()
    table.add_row("mean ± sd", "", str(summary.dev), *((str(summary.test),) if tested else ()), "", style="bold")
    table.add_row("min-max", "", f"{summary.dev.min:.2f}-{summary.dev.max:.2f}",
                  *((f"{summary.test.min:.2f}-{summary.test.max:.2f}",) if tested else ()), "")
    table.add_section()
    for label, dev in summary.dev_types.items():
        test = summary.test_types.get(label) if tested else None
        table.add_row(label, "", str(dev), *((str(test) if test else "",) if tested else ()), "")
    return table
