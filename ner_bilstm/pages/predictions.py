"""`predict --output-format html`: one page for the whole input, written as documents are tagged.

The head (styles, legend) goes out first and each document as it comes, so memory does not grow
with the input and a browser shows a partial page of an interrupted run; ``close`` adds the
counts and ends the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TextIO

from ..documents import Document, display_spans
from .marks import CSS, SECURITY, colours, legend, marked_text


class PredictionPage:
    """Tagged documents written to ``out`` as one HTML page; ``types`` are the model's entity types."""

    def __init__(self, out: TextIO, types: Sequence[str], title: str = "ner-bilstm predictions"):
        self.out, self.palette = out, colours(types)
        self.documents = self.entities = self.errors = 0
        out.write(f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n{SECURITY}\n'
                  f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                  f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
                  f'<h1>{escape(title)}</h1>\n<p class="legend">entities: {legend(self.palette)}'
                  f' <span class="muted">(hover over an entity for its probability)</span></p>\n<main>\n')

    def write(self, doc: Document) -> None:
        """One document: its input line number and its text with the entities highlighted (an
        input that could not be read: its line and why)."""
        self.documents += 1
        if doc.error is not None:
            self.errors += 1
            self.out.write(f'<div class="doc error" id="doc-{self.documents}"><span class="ln">{doc.line}</span>'
                           f'<div class="text">{escape(doc.error)}</div></div>\n')
            return
        text, spans = display_spans(doc)
        self.entities += len(spans)
        self.out.write(f'<div class="doc" id="doc-{self.documents}"><span class="ln">{doc.line}</span>'
                       f'<div class="text">{marked_text(text, spans, self.palette)}</div></div>\n')

    def section(self, name: str) -> None:
        """A heading before the documents of the next input file."""
        self.out.write(f'<h2 class="file">{escape(name)}</h2>\n')

    def close(self) -> None:
        errors = f", {self.errors:,} unreadable" if self.errors else ""
        self.out.write(f'</main>\n<p class="muted" id="summary">{self.documents:,} documents, {self.entities:,} entities'
                       f"{errors}.</p>\n</body>\n</html>\n")
