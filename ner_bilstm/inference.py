"""Batched prediction: tags, entity spans and their probabilities."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .artifact import LoadedModel
from .batching import EncodedCorpus, length_batches
from .doc_memory import DocumentMemory, document_links
from .errors import NerError
from .schemes import Span, convert, parse_tag, spans_to_tags, tags_to_spans
from .sentence import Sentence

DECODE_BUDGET = 1 << 25  # float scores a decoding step may hold (128 MiB)
STATES_BUDGET = 1 << 26  # encoder state floats (256 MiB) the memory's fill pass keeps for the tag pass


@dataclass
class ScoredSpan:
    """A predicted entity over tokens ``token_start:token_end`` with its probability."""

    label: str
    token_start: int
    token_end: int
    score: float


@dataclass
class Prediction:
    """Tags in the model's input scheme and the entities they encode."""

    tags: list[str]
    entities: list[ScoredSpan]
    alternatives: list[tuple[list[str], float]] = field(default_factory=list)  # n-best: (tags, probability)

    @property
    def spans(self) -> list[Span]:
        return [Span(e.token_start, e.token_end, e.label) for e in self.entities]


class _SpanScorer:
    """Log-probability that one sentence has exactly a given entity span: the probability that
    tokens start..end-1 carry the span's tags, from the head's lattice (exact for the CRF; for the
    softmax head the same quantity under independent token distributions) and, in IOB2, that the
    next token does not continue the entity."""

    def __init__(self, labels: Sequence[str], scheme: str, alpha: np.ndarray, beta: np.ndarray, log_z: float,
                 emissions: np.ndarray, trans: np.ndarray, length: int):
        self.stoi = {t: i for i, t in enumerate(labels)}
        self.scheme, self.a, self.b, self.z, self.em, self.trans, self.n = scheme, alpha, beta, log_z, emissions, trans, length

    def path_logprob(self, start: int, ids: list[int]) -> float:
        score = self.a[start, ids[0]]
        for k in range(1, len(ids)):
            score += self.trans[ids[k - 1], ids[k]] + self.em[start + k, ids[k]]
        return float(score + self.b[start + len(ids) - 1, ids[-1]] - self.z)

    def __call__(self, span: Span) -> float:
        ids = [self.stoi[t] for t in spans_to_tags([Span(0, span.end - span.start, span.label)], span.end - span.start, self.scheme)]
        logp = self.path_logprob(span.start, ids)
        cont = self.stoi.get(f"I-{span.label}")
        if self.scheme == "iob2" and span.end < self.n and cont is not None:
            # Subtract the paths where the entity runs on past span.end.
            longer = self.path_logprob(span.start, [*ids, cont])
            p = math.exp(logp) - math.exp(longer)
            return math.log(max(p, 1e-12))
        return logp


MAX_NBEST = 100  # n-best lists past this are of no use, and their lattice grows with k


def check_tagging_options(batch_size: int, nbest: int, min_score: float) -> None:
    """Refuse, before anything is tagged, a batch size, n-best size or score floor that is out of
    range or of the wrong type (a float ``nbest`` would fail deep inside torch)."""
    def integer(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not integer(batch_size) or batch_size < 1:
        raise NerError(f"batch_size must be an integer of at least 1, not {batch_size!r}")
    if not integer(nbest) or not 0 <= nbest <= MAX_NBEST:
        raise NerError(f"nbest must be an integer from 0 to {MAX_NBEST}, not {nbest!r}")
    if not (integer(min_score) or isinstance(min_score, float)) or not 0.0 <= min_score <= 1.0:
        raise NerError(f"min_score must be a number from 0 to 1, not {min_score!r}")


class Predictor:
    """Tags sentences with a loaded model, in length-sorted batches, order preserved.

    ``nbest`` > 0 adds that many best tag sequences with their probabilities (CRF head only);
    ``min_score`` drops entities whose probability is lower (the tags stay the best path's).
    """

    def __init__(self, loaded: LoadedModel, batch_size: int = 256, nbest: int = 0, min_score: float = 0.0):
        check_tagging_options(batch_size, nbest, min_score)
        self.loaded = loaded
        self.model = loaded.model
        self.labels = loaded.vocab.labels.itos
        # Decoding holds (tags, tags, batch) scores per step (times k for n-best): with thousands of
        # tags, fewer sentences per batch keep that bounded.
        self.batch_size = max(1, min(batch_size, DECODE_BUDGET // (len(self.labels) ** 2 * max(1, nbest))))
        self.device = next(self.model.parameters()).device
        if nbest:
            self.model.head.check_nbest(nbest)
        self.nbest = nbest
        self.min_score = min_score

    @torch.inference_mode()
    def predict(self, sentences: Sequence[Sentence], documents: Sequence[Hashable | None] | None = None) -> list[Prediction]:
        """One Prediction per sentence; sentences with no tokens get an empty one.

        ``documents[i]`` names sentence i's document for a model with a document memory (default:
        ``meta["document"]``, which CoNLL files with -DOCSTART- lines give; None: on its own).
        Such a model first fills the memory of every sentence given, then tags, so pass whole
        documents: a sentence's tags then depend on its document only.
        """
        if documents is not None and len(documents) != len(sentences):
            raise ValueError(f"{len(documents)} document names for {len(sentences)} sentences")
        results: list[Prediction | None] = [None] * len(sentences)
        nonempty = [i for i, s in enumerate(sentences) if s.tokens]
        for i in range(len(sentences)):
            if not sentences[i].tokens:
                results[i] = Prediction([], [])
        corpus = EncodedCorpus([sentences[i] for i in nonempty], self.loaded.vocab, max_word_chars=self.loaded.max_word_chars)
        self.model.eval()
        batches = length_batches(corpus.lengths, self.batch_size)
        states: dict[int, torch.Tensor] = {}
        if self.model.memory_head is not None:
            names = documents if documents is not None else [s.meta.get("document") for s in sentences]
            states = self.fill_memory(corpus, batches, [sentences[i].tokens for i in nonempty], [names[i] for i in nonempty])
        for k, index in enumerate(batches):
            batch = corpus.batch(index).to(self.device)
            for row, pred in zip(index, self._predict_batch(batch, states.pop(k, None))):
                results[nonempty[row]] = pred
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def fill_memory(self, corpus: EncodedCorpus, batches: list[list[int]], tokens: list[list[str]],
                    documents: list[Hashable | None]) -> dict[int, torch.Tensor]:
        """Give ``corpus`` a document memory holding the states of all its linked tokens, encoding
        those of ``batches`` (the tag pass's) that hold a linked token. Returns their states
        ``(batch, time, width)`` by batch number, up to ``STATES_BUDGET`` floats, for the tag pass
        to reuse instead of encoding those batches again: the same batch gives the same states."""
        links = document_links(tokens, documents)
        corpus.memory = DocumentMemory(links, self.model.encoder.output_size)
        lengths = corpus.lengths
        owner = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths, dtype=torch.long))
        linked = set(torch.unique(owner[links.slot >= 0]).tolist())
        kept: dict[int, torch.Tensor] = {}
        budget = STATES_BUDGET
        for k, index in enumerate(batches):
            if linked.isdisjoint(index):
                continue
            batch = corpus.batch(index).to(self.device)
            states = self.model.states(batch)
            batch.memory.write(states)  # type: ignore[union-attr]
            if states.numel() <= budget:
                kept[k], budget = states, budget - states.numel()
        return kept

    def _predict_batch(self, batch, states: torch.Tensor | None = None) -> list[Prediction]:
        paths, em = self.model.decode(batch, states)
        head = self.model.head
        lattice = head.lattice(em, batch.mask)
        alpha, beta, log_z, em_np, trans = (x.cpu().numpy() for x in (lattice.log_alpha, lattice.log_beta, lattice.log_z,
                                                                       lattice.emissions, lattice.transitions))
        lengths = batch.mask.sum(1).tolist()
        paths = paths.cpu().tolist()
        out = []
        for row, n in enumerate(lengths):
            tags = [self.labels[t] for t in paths[row][:n]]
            spans = tags_to_spans(tags)
            scorer = _SpanScorer(self.labels, self.loaded.train_scheme, alpha[row], beta[row], log_z[row], em_np[row], trans, n)
            entities = [ScoredSpan(s.label, s.start, s.end, round(float(np.exp(scorer(s))), 4)) for s in spans]
            entities = [e for e in entities if e.score >= self.min_score]
            out.append(Prediction(spans_to_tags(spans, n, self.loaded.input_scheme), entities))
        if self.nbest:
            best_paths, logp = head.nbest(em, batch.mask, self.nbest)
            best_paths, probs = best_paths.cpu().tolist(), logp.exp().cpu().tolist()
            for row, n in enumerate(lengths):
                out[row].alternatives = [
                    (convert([self.labels[t] for t in best_paths[row][r][:n]], self.loaded.input_scheme), round(p, 6))
                    for r, p in enumerate(probs[row]) if p > 0
                ]
        return out


def entity_types(labels: Sequence[str]) -> list[str]:
    """The entity types a label list covers, sorted."""
    return sorted({parse_tag(t)[1] for t in labels if t != "O"})
