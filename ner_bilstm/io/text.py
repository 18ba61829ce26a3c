"""Raw text: tokenisation and sentence splitting that keep exact character offsets."""

from __future__ import annotations

import re

from ..sentence import Sentence

_ABBREVIATIONS = (
    "Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Corp|Ltd|Co|Bros|Gen|Gov|Sen|Rep|Rev|Capt|Col|Lt|Sgt|Mt|Ft|"
    "vs|etc|No|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)

# Penn/CoNLL-like tokens: abbreviations and initials keep their dot, clitics split off,
# numbers with separators stay whole, any other non-space character is a token of its own.
_TOKEN = re.compile(
    rf"""
      (?:{_ABBREVIATIONS})\.(?=\s|$)
    | (?:[^\W\d_]\.){{2,}}
    | [^\W\d_]\.(?=\s+[^\W\d_])
    | \w+(?=n't\b)
    | n't\b
    | '(?:s|re|ve|ll|d|m)\b
    | \d+(?:[.,:/-]\d+)*
    | \w+(?:[-&]\w+)*(?:'(?!(?:s|re|ve|ll|d|m)\b)\w+)*
    | \.\.\.
    | \S
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Character-level models (Chinese and other unsegmented text): every character is a token,
# except runs of Latin letters, which stay whole words.
_CHAR_TOKEN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*|\S")
_SENTENCE_END = {".", "!", "?", "...", "。", "！", "？", "；"}
_CHAR_SENTENCE_END = {"。", "！", "？", "!", "?", "；"}
_CLOSERS = {'"', "'", ")", "]", "»", "”", "’", "」", "』", "）"}


def tokenize(text: str, tokenization: str = "word") -> list[tuple[str, int, int]]:
    """Split ``text`` into (token, start, end) with end-exclusive character offsets; with
    ``tokenization="char"`` into single characters (Latin words kept whole)."""
    pattern = _CHAR_TOKEN if tokenization == "char" else _TOKEN
    return [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]


_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")  # a blank line between two tokens


def split_sentences(text: str, meta: dict | None = None, tokenization: str = "word") -> list[Sentence]:
    """Tokenise ``text`` and cut it into sentences after ., ! or ? (and closing quotes)
    when the next token starts with an upper-case letter, a digit or a quote; in character
    mode after 。！？!?； whatever follows; and at a blank line (a paragraph break) always."""
    tokens = tokenize(text, tokenization)
    char_mode = tokenization == "char"
    sentences: list[Sentence] = []
    begin = 0
    i = 0
    while i < len(tokens):
        token = tokens[i][0]
        if i > begin and _PARAGRAPH_BREAK.search(text, tokens[i - 1][2], tokens[i][1]):
            sentences.append(_sentence(text, tokens[begin:i], meta))
            begin = i
        if token in (_CHAR_SENTENCE_END if char_mode else _SENTENCE_END):
            j = i + 1
            while j < len(tokens) and tokens[j][0] in _CLOSERS and tokens[j][1] == tokens[j - 1][2]:
                j += 1
            if j == len(tokens) or char_mode or _starts_sentence(tokens[j][0]):
                sentences.append(_sentence(text, tokens[begin:j], meta))
                begin = j
            i = j
        else:
            i += 1
    if begin < len(tokens):
        sentences.append(_sentence(text, tokens[begin:], meta))
    return sentences


def _starts_sentence(token: str) -> bool:
    c = token[0]
    return c.isupper() or c.isdigit() or c in "\"'“‘(["


def _sentence(text: str, tokens: list[tuple[str, int, int]], meta: dict | None) -> Sentence:
    return Sentence(
        tokens=[t for t, _, _ in tokens],
        text=text,
        offsets=[(s, e) for _, s, e in tokens],
        meta=dict(meta or {}),
    )
