"""Entities highlighted in text, as HTML: one colour per type, the type as a label, the score on
hover. Everything the user gave us is escaped here, the one place text becomes HTML."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from ..io.spans import CharSpan

# Light backgrounds that keep black text readable; a type's colour is its place among the sorted types.
PALETTE = ("#7aecec", "#feca74", "#aa9cfc", "#bfe1d9", "#ff9561", "#c887fb", "#9cc9cc", "#ffeb80", "#e4e7d2", "#f0a8a8",
           "#a6e22d", "#ddd6fe")

# No script may run and nothing may load: a page shows only what is in it.
SECURITY = ('<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">")

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 1.5em auto; max-width: 72em;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.muted { color: #777; }
mark.ent { padding: .1em .3em; margin: 0 .1em; border-radius: .3em; line-height: 2.1; color: #111;
           box-decoration-break: clone; -webkit-box-decoration-break: clone; }
mark.ent .lab { font-size: .65em; font-weight: 700; text-transform: uppercase; margin-left: .4em; vertical-align: middle;
                letter-spacing: .03em; }
.legend mark.ent { line-height: 1.6; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.doc { display: flex; align-items: baseline; gap: 1em; border-bottom: 1px solid #eee; padding: .25em 0; }
.doc .ln { color: #999; min-width: 4em; text-align: right; font-variant-numeric: tabular-nums; user-select: none; }
.doc.error .text { color: #b00; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 700; border-top: 2px solid #bbb; }
"""


def colours(types: Iterable[str]) -> dict[str, str]:
    """A background colour per entity type, by its place among the sorted types."""
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(sorted(set(types)))}


def mark(text: str, label: str, colour: str, title: str) -> str:
    """One entity: its text on its type's colour, the type as a small label, ``title`` on hover."""
    return (f'<mark class="ent" data-label="{escape(label)}" style="background:{colour}" title="{escape(title)}">'
            f'{escape(text)}<span class="lab">{escape(label)}</span></mark>')


def hover(span: CharSpan) -> str:
    """What hovering over an entity shows: its type and, for a prediction, its probability."""
    return span.label if span.score is None else f"{span.label}: p = {span.score:.3f}"


def marked_text(text: str, spans: Sequence[CharSpan], palette: dict[str, str]) -> str:
    """``text`` as HTML with ``spans`` (sorted, not overlapping) highlighted; a type missing from
    ``palette`` is grey."""
    out, pos = [], 0
    for span in spans:
        out.append(escape(text[pos:span.start]))
        out.append(mark(text[span.start:span.end], span.label, palette.get(span.label, "#ddd"), hover(span)))
        pos = span.end
    out.append(escape(text[pos:]))
    return "".join(out)


def legend(palette: dict[str, str]) -> str:
    """Each type's colour, as a row of labelled marks."""
    return " ".join(f'<mark class="ent key" style="background:{c}">{escape(t)}</mark>' for t, c in palette.items())
