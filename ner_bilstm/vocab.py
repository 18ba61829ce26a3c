"""Word, character and label vocabularies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAD, UNK = "<pad>", "<unk>"
_DIGIT = re.compile(r"\d")

# Casing classes (index 0 is padding), after Reimers & Gurevych (2017).
CASINGS = ("<pad>", "numeric", "mainly_numeric", "lower", "upper", "title", "has_digit", "other")


def casing(token: str) -> int:
    """Index into CASINGS describing the shape of ``token``."""
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        return 1
    if digits / max(len(token), 1) > 0.5:
        return 2
    if token.islower():
        return 3
    if token.isupper():
        return 4
    if token[:1].isupper():
        return 5
    if digits:
        return 6
    return 7


class Vocab:
    """A string <-> index map. One ``build`` with the default ``specials`` puts padding at index 0
    and the unknown entry at 1."""

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate entries")

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, s: str) -> bool:
        return s in self.stoi

    def get(self, s: str, default: int = 1) -> int:
        return self.stoi.get(s, default)

    def extend(self, entries) -> None:
        """Append entries not already present."""
        for s in entries:
            if s not in self.stoi:
                self.stoi[s] = len(self.itos)
                self.itos.append(s)

    @classmethod
    def build(cls, counts: Counter, min_freq: int = 1, specials: Sequence[str] = (PAD, UNK)) -> Vocab:
        """Entries seen at least ``min_freq`` times, most frequent first (ties alphabetical)."""
        kept = sorted((s for s, c in counts.items() if c >= min_freq and s not in specials), key=lambda s: (-counts[s], s))
        return cls([*specials, *kept])


@dataclass
class Vocabularies:
    """Everything that maps strings to model inputs and outputs."""

    words: Vocab
    chars: Vocab
    labels: Vocab
    word_counts: dict[str, int]
    normalize_digits: bool = True
    lowercase: bool = False
    bigrams: Vocab | None = None  # token bigrams (a token and the next one), when the model uses them
    bigram_counts: dict[str, int] | None = None

    def word_key(self, token: str) -> str:
        """The form a token is counted and looked up by."""
        if self.normalize_digits:
            token = _DIGIT.sub("0", token)
        return token.lower() if self.lowercase else token

    def word_id(self, token: str) -> int:
        """Exact (digit-normalised) lookup, then lower-cased, then the unknown word."""
        key = self.word_key(token)
        i = self.words.stoi.get(key)
        if i is None:
            i = self.words.stoi.get(key.lower(), 1)
        return i

    @property
    def num_bigrams(self) -> int:
        return len(self.bigrams) if self.bigrams is not None else 0

    def bigram_keys(self, tokens: Sequence[str]) -> list[str]:
        """Each token's key joined by a space to the next one's ("" after the last token)."""
        keys = [self.word_key(t) for t in tokens]
        return [f"{a} {b}" for a, b in zip(keys, [*keys[1:], ""])]

    def bigram_ids(self, tokens: Sequence[str]) -> list[int]:
        get = self.bigrams.stoi.get  # type: ignore[union-attr]
        return [get(k, 1) for k in self.bigram_keys(tokens)]

    def add_bigrams(self, sentences: Iterable[Sequence[str]], min_freq: int = 1) -> None:
        """Count the bigrams of the training sentences' tokens and make their vocabulary."""
        counts: Counter = Counter()
        for tokens in sentences:
            counts.update(self.bigram_keys(tokens))
        self.bigrams = Vocab.build(counts, min_freq)
        self.bigram_counts = {b: counts[b] for b in self.bigrams.itos[2:]}

    def char_ids(self, token: str) -> list[int]:
        get = self.chars.stoi.get
        return [get(c, 1) for c in token]

    @classmethod
    def build(
        cls,
        sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
        labels: Sequence[str],
        *,
        min_freq: int = 1,
        char_min_freq: int = 1,
        normalize_digits: bool = True,
        lowercase: bool = False,
    ) -> Vocabularies:
        """Count words and characters of (tokens, tags) pairs; ``labels`` is the full tag set."""
        vocab = cls(Vocab([]), Vocab([]), Vocab(labels), {}, normalize_digits, lowercase)
        words: Counter = Counter()
        chars: Counter = Counter()
        for tokens, _ in sentences:
            for token in tokens:
                words[vocab.word_key(token)] += 1
                chars.update(token)
        vocab.words = Vocab.build(words, min_freq)
        vocab.chars = Vocab.build(chars, char_min_freq)
        vocab.word_counts = {w: words[w] for w in vocab.words.itos[2:]}
        return vocab

    def to_dict(self) -> dict:
        out = {
            "words": self.words.itos,
            "word_counts": [self.word_counts.get(w, 0) for w in self.words.itos],
            "chars": self.chars.itos,
            "labels": self.labels.itos,
            "normalize_digits": self.normalize_digits,
            "lowercase": self.lowercase,
        }
        if self.bigrams is not None:
            out["bigrams"] = self.bigrams.itos
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Vocabularies:
        words = Vocab(d["words"])
        return cls(
            words=words,
            chars=Vocab(d["chars"]),
            labels=Vocab(d["labels"]),
            word_counts={w: c for w, c in zip(words.itos, d["word_counts"]) if c},
            normalize_digits=bool(d["normalize_digits"]),
            lowercase=bool(d.get("lowercase", False)),
            bigrams=Vocab(d["bigrams"]) if "bigrams" in d else None,
        )
