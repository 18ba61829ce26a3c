"""CoNLL column files: one token per line, blank lines between sentences."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from ..errors import NerError
from ..schemes import check_tag
from ..sentence import Sentence
from .files import numbered_lines
from .spans import locate
from .strict_json import loads

TEXT_COMMENT = "# text = "  # CoNLL-U's comment for a sentence's text
TEXT_JSON_COMMENT = "# text_json = "  # the same as a JSON string, for a text a comment line cannot hold as it is


def read_conll(
    path: str,
    *,
    token_col: int = 0,
    tag_col: int = -1,
    encoding: str = "utf-8",
    require_tags: bool = True,
) -> Iterator[Sentence]:
    """Stream sentences from a CoNLL column file.

    Columns are split on whitespace; every token line must have as many columns as the
    first one. ``-DOCSTART-`` lines are not sentences: they start a new document, whose index
    (counting from 0) each sentence after them keeps in ``meta["document"]``. A line starting with ``#`` before a
    sentence's first token is a comment (kept in ``meta["comments"]``) unless it parses as
    a token line. Each sentence keeps its original columns in ``meta["columns"]`` and its
    first line number in ``meta["line"]``. A ``# text = `` (or ``# text_json = ``) comment
    whose text the tokens are gives the sentence its text and character offsets. With ``require_tags=False`` a one-column file
    gives sentences without tags.
    """
    ncols: int | None = None
    rows: list[list[str]] = []
    comments: list[str] = []
    first_line = 0
    document: int | None = None  # no -DOCSTART- line seen yet
    document_has_sentences = False

    def flush() -> Sentence | None:
        nonlocal rows, comments, document_has_sentences
        if not rows:
            return None
        document_has_sentences = True
        tokens = [r[token_col] for r in rows]
        tags = [r[tag_col] for r in rows] if ncols and ncols > 1 else None
        meta = {"source": path, "line": first_line, "columns": rows}
        if document is not None:
            meta["document"] = document
        if comments:
            meta["comments"] = comments
        text = comment_text(comments, tokens)
        rows, comments = [], []
        return Sentence(tokens=tokens, tags=tags, meta=meta, text=text[0] if text else None, offsets=text[1] if text else None)

    def parses(cols: list[str]) -> bool:
        if ncols is not None and len(cols) != ncols:
            return False
        if len(cols) < 2:
            return ncols == 1
        try:
            check_tag(cols[tag_col])
        except (ValueError, IndexError):
            return False
        return True

    for lineno, line in numbered_lines(path, encoding):
        if "\x00" in line:
            raise NerError("NUL byte in line (binary file?)", path=path, line=lineno)
        cols = line.split()
        if not cols:
            sentence = flush()
            if sentence is not None:
                yield sentence
            continue
        if cols[0] == "-DOCSTART-":
            sentence = flush()
            if sentence is not None:
                yield sentence
            if document is None:
                document = 0
            elif document_has_sentences:
                document += 1
            document_has_sentences = False
            continue
        if not rows and line.startswith("#") and (line.startswith((TEXT_COMMENT, TEXT_JSON_COMMENT)) or not parses(cols)):
            comments.append(line)
            continue
        if ncols is None:
            ncols = len(cols)
            for name, col in (("token", token_col), ("tag", tag_col)):
                if not -ncols <= col < ncols:
                    raise NerError(f"{name} column {col} does not exist: the line has {ncols} columns", path=path, line=lineno)
            if ncols < 2 and require_tags:
                raise NerError("expected a token and a tag column, found 1 column", path=path, line=lineno)
        elif len(cols) != ncols:
            raise NerError(f"expected {ncols} columns, found {len(cols)}: {line.strip()[:60]!r}", path=path, line=lineno)
        if ncols > 1:
            try:
                check_tag(cols[tag_col])
            except ValueError as e:
                raise NerError(str(e), path=path, line=lineno) from None
        if not rows:
            first_line = lineno
        rows.append(cols)
    sentence = flush()
    if sentence is not None:
        yield sentence


def conll_lines(rows: Iterable[Sequence[str]], comments: Sequence[str] = ()) -> Iterator[str]:
    """One sentence as CoNLL lines: its comment lines, one line of space-separated columns per
    token, then the blank line that ends it. Every CoNLL file the tool writes goes through here."""
    yield from comments
    for row in rows:
        yield " ".join(row)
    yield ""


def file_columns(sentence: Sentence, with_tags: bool = True) -> list[list[str]]:
    """Each token's columns as its CoNLL file had them, else the token and (when known and
    ``with_tags``) its tag."""
    columns = sentence.meta.get("columns")
    if columns is not None:
        return [list(cols) for cols in columns]
    if sentence.tags is None or not with_tags:
        return [[t] for t in sentence.tokens]
    return [[t, g] for t, g in zip(sentence.tokens, sentence.tags)]


def comment_text(comments: Sequence[str], tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]] | None:
    """The text a sentence's comments give and its tokens' offsets into it, or None when there is
    no text comment or the tokens are not that text's."""
    for comment in reversed(comments):
        try:
            if comment.startswith(TEXT_JSON_COMMENT):
                text = loads(comment[len(TEXT_JSON_COMMENT):])
                if not isinstance(text, str):
                    return None
            elif comment.startswith(TEXT_COMMENT):
                text = comment[len(TEXT_COMMENT):]
            else:
                continue
            return text, locate(text, tokens)
        except ValueError:
            return None
    return None


def sentence_comments(sentence: Sentence) -> list[str]:
    """The sentence's comment lines, with a text comment added when it has a text and none says it."""
    comments = list(sentence.meta.get("comments", []))
    text = sentence.text
    if text is None or any(c.startswith((TEXT_COMMENT, TEXT_JSON_COMMENT)) for c in comments):
        return comments
    plain = text == text.strip() and not any(ord(c) < 32 or c in "\x85\u2028\u2029" for c in text)
    return comments + [TEXT_COMMENT + text if plain else TEXT_JSON_COMMENT + json.dumps(text, ensure_ascii=False)]
