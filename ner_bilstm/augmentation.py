"""Mention replacement (Dai and Adel, 2020): each epoch a share of the training mentions is swapped
for another training mention of the same type and length, so that the tagger learns an entity from
its context and shape as well as from the names it has already seen."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .batching import EncodedCorpus
from .schemes import tags_to_spans


@dataclass(frozen=True)
class MentionGroup:
    """The training mentions of one type and length: ``starts (n,)`` their first tokens' flat
    positions in the encoded corpus."""

    label: str
    length: int
    starts: torch.Tensor


def mention_groups(corpus: EncodedCorpus, labels: Sequence[str]) -> list[MentionGroup]:
    """The mentions of ``corpus`` (read from its tags, ids into ``labels``) grouped by type and
    length. A mention alone in its group is left out: it has no other to be swapped with."""
    if corpus.tags is None:
        return []
    tags, starts = corpus.tags.tolist(), defaultdict(list)
    offset = 0
    for length in corpus.lengths:
        for span in tags_to_spans([labels[t] for t in tags[offset : offset + length]]):
            starts[(span.label, span.end - span.start)].append(offset + span.start)
        offset += length
    return [MentionGroup(label, length, torch.tensor(s, dtype=torch.long))
            for (label, length), s in sorted(starts.items()) if len(s) > 1]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of ``epoch``'s replacements: a function of the seed and the epoch alone, so a
    resumed run and every process of a distributed one draw the same."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)


def replace_mentions(corpus: EncodedCorpus, groups: Sequence[MentionGroup], rate: float,
                     generator: torch.Generator) -> EncodedCorpus:
    """A view of ``corpus`` in which each mention of ``groups``, with probability ``rate``, reads
    as another mention of its group (never itself): words and token types are copied from it,
    tags and lengths stay, as type and length are equal. The replaced tokens are unlinked from
    the document memory, as they are no longer the words the links were made from."""
    words, types = corpus.words.clone(), corpus.types.clone()
    replaced = torch.zeros(words.numel(), dtype=torch.bool)
    for group in groups:
        n = group.starts.numel()
        chosen = (torch.rand(n, generator=generator) < rate).nonzero().squeeze(1)
        other = (chosen + 1 + torch.randint(n - 1, (chosen.numel(),), generator=generator)) % n
        for k in range(group.length):
            target, source = group.starts[chosen] + k, group.starts[other] + k
            words[target], types[target] = corpus.words[source], corpus.types[source]
            replaced[target] = True
    view = copy.copy(corpus)
    view.words, view.types, view.unlinked = words, types, replaced
    return view
