"""Entity scores: the same figures as seqeval's classification_report, and shards that add up."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report

from ner_bilstm.evaluation import EntityCounts, EntityScorer, entity_scores
from ner_bilstm.schemes import Span, convert, spans_to_tags

TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "M-ORG", "B-ORG", "I-ORG"]


def seqeval_report(gold, predicted):
    """What entity_scores computed before it counted entities itself: seqeval's whole report."""
    scheme = EntityScorer(gold).written
    gold_tags = [convert(g, scheme) if scheme == "bioes" else list(g) for g in gold]
    pred_tags = [spans_to_tags(p, len(g), scheme) for p, g in zip(predicted, gold)]
    report = classification_report(gold_tags, pred_tags, output_dict=True, zero_division=0)

    def pick(d):
        return {"precision": round(100 * float(d["precision"]), 2), "recall": round(100 * float(d["recall"]), 2),
                "f1": round(100 * float(d["f1-score"]), 2), "support": int(d["support"])}

    return pick(report["micro avg"]), {k: pick(v) for k, v in sorted(report.items()) if not k.endswith(" avg")}


@st.composite
def corpora(draw):
    """Gold tag sequences in any (even ill-formed) mix of prefixes, and predicted spans for each."""
    gold = draw(st.lists(st.lists(st.sampled_from(TAGS), max_size=8), min_size=1, max_size=8))
    predicted = []
    for tags in gold:
        spans, pos = [], 0
        while pos < len(tags) and draw(st.booleans()):
            start = draw(st.integers(pos, len(tags) - 1))
            end = draw(st.integers(start + 1, len(tags)))
            spans.append(Span(start, end, draw(st.sampled_from(["PER", "LOC", "ORG", "MISC"]))))
            pos = end
        predicted.append(spans)
    return gold, predicted


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # seqeval's macro average of no entities
@settings(max_examples=200, deadline=None)
@given(corpora())
def test_scores_equal_seqevals_classification_report(case):
    gold, predicted = case
    ours = entity_scores(gold, predicted)
    micro, types = seqeval_report(gold, predicted)
    assert ours.to_dict()["micro"] == micro
    assert ours.to_dict()["types"] == types


@settings(max_examples=100, deadline=None)
@given(corpora(), st.integers(2, 4))
def test_shards_counts_add_up_to_the_whole(case, shards):
    gold, predicted = case
    scorer = EntityScorer(gold)
    whole = scorer.counts(range(len(gold)), predicted)
    parts = [scorer.counts(range(r, len(gold), shards), predicted[r::shards]) for r in range(shards)]
    assert sum(parts, EntityCounts()) == whole
    assert whole.scores(scorer.scheme) == entity_scores(gold, predicted)


def test_counts_per_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["S-ORG"]]
    counts = EntityScorer(gold).counts([0, 1], [[Span(0, 2, "PER"), Span(3, 4, "ORG")], []])
    assert counts.by_type == {"PER": (1, 1, 1), "LOC": (0, 0, 1), "ORG": (0, 1, 1)}
    micro = counts.scores("bioes").micro
    assert (micro.precision, micro.recall, micro.support) == (50.0, 33.33, 3)
