import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner_bilstm import schemes
from ner_bilstm.schemes import Span, allowed_transitions, convert, detect_scheme, spans_to_tags, tags_to_spans


@st.composite
def span_sets(draw, max_len: int = 12):
    """A length and non-overlapping spans within it (adjacent same-type spans included)."""
    length = draw(st.integers(0, max_len))
    spans, pos = [], 0
    while pos < length:
        gap = draw(st.integers(0, 2))
        start = pos + gap
        if start >= length or draw(st.booleans()) is False and gap == 0 and spans:
            break
        end = draw(st.integers(start + 1, length))
        spans.append(Span(start, end, draw(st.sampled_from(["PER", "LOC", "ORG"]))))
        pos = end
    return length, spans


@given(span_sets(), st.sampled_from(schemes.SCHEMES))
def test_spans_survive_every_scheme(case, scheme):
    length, spans = case
    tags = spans_to_tags(spans, length, scheme)
    assert len(tags) == length
    assert tags_to_spans(tags) == spans
    assert schemes.is_valid(tags, scheme)


@given(span_sets(), st.sampled_from(schemes.SCHEMES), st.sampled_from(schemes.SCHEMES))
def test_conversion_round_trip(case, a, b):
    length, spans = case
    tags_a = spans_to_tags(spans, length, a)
    assert convert(convert(tags_a, b), a) == tags_a


@given(st.lists(st.sampled_from(["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y"]), max_size=10))
def test_any_sequence_converts_to_a_valid_one(tags):
    for scheme in ("iob2", "bioes"):
        out = convert(tags, scheme)
        assert schemes.is_valid(out, scheme)
        assert tags_to_spans(out) == tags_to_spans(tags)


def test_iob1_adjacent_entities_use_b():
    tags = spans_to_tags([Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")], 5, "iob1")
    assert tags == ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]


def test_lenient_decoding_matches_conlleval():
    assert tags_to_spans(["O", "I-PER", "I-PER", "B-PER", "O"]) == [Span(1, 3, "PER"), Span(3, 4, "PER")]
    assert tags_to_spans(["B-PER", "I-LOC"]) == [Span(0, 1, "PER"), Span(1, 2, "LOC")]
    assert tags_to_spans(["B-PER", "E-PER", "I-PER"]) == [Span(0, 2, "PER"), Span(2, 3, "PER")]


@pytest.mark.parametrize(
    "seqs, expected",
    [
        ([["I-ORG", "O", "I-PER"]], "iob1"),
        ([["B-ORG", "I-ORG", "O"]], "iob2"),
        ([["O", "O"]], "iob2"),
        ([["B-ORG", "E-ORG", "S-PER"]], "bioes"),
        ([["B-ORG", "M-ORG", "E-ORG"]], "bmes"),
        ([["U-PER", "B-ORG", "L-ORG"]], "bilou"),
    ],
)
def test_detect_scheme(seqs, expected):
    assert detect_scheme(seqs) == expected


@pytest.mark.parametrize("tag", ["PER", "X-PER", "B-", "b-PER", ""])
def test_invalid_tags_are_refused(tag):
    with pytest.raises(ValueError, match="not valid in any scheme"):
        schemes.parse_tag(tag)


@pytest.mark.parametrize("scheme", ["iob2", "bioes"])
def test_allowed_transitions_accept_exactly_the_valid_bigrams(scheme):
    labels = schemes.label_set(["A", "B"], scheme)
    start, trans, end = allowed_transitions(labels, scheme)
    for i, a in enumerate(labels):
        assert bool(start[i]) == any(schemes.is_valid(seq, scheme) for seq in [[a]] + [[a, y] for y in labels])
        assert bool(end[i]) == any(schemes.is_valid(seq, scheme) for seq in [[a]] + [[x, a] for x in labels])
        for j, b in enumerate(labels):
            # A bigram is allowed iff it occurs inside some valid sequence.
            occurs = any(
                schemes.is_valid(seq, scheme) for seq in ([a, b], [a, b, "O"]) + tuple([x, a, b, y] for x in labels for y in labels)
            )
            assert bool(trans[i, j]) == occurs, (a, b)
