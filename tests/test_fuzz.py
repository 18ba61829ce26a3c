"""Fuzzing (hypothesis, bounded for CI): the readers and the scheme converter raise nothing but
the tool's own user-error type, whatever bytes they are given."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner_bilstm.errors import NerError
from ner_bilstm.io import read_conll, read_jsonl_sentences
from ner_bilstm.schemes import convert, is_valid, tags_to_spans
from ner_bilstm.tagging import read_documents

FUZZ = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lines that look like real data, to get past the first checks, mixed with arbitrary bytes.
conll_lines = st.one_of(
    st.builds(lambda t, g: f"{t} {g}", st.text(min_size=1, max_size=8).filter(lambda s: s.strip() and " " not in s),
              st.sampled_from(["O", "B-PER", "I-LOC", "E-X", "S-Y", "M-Z", "BAD", "B-", "-DOCSTART-"])),
    st.just(""), st.just("-DOCSTART- -X- O O"), st.just("# comment"), st.text(max_size=20),
)
tag_lists = st.lists(st.one_of(st.sampled_from(["O", "B-A", "I-A", "E-A", "S-A", "M-B", "L-B", "U-B", "I-B"]), st.text(max_size=4)),
                     max_size=12)


def through_file(data: bytes, read) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "input"
        path.write_bytes(data)
        try:
            for _ in read(str(path)):
                pass
        except NerError:
            pass


@FUZZ
@given(st.lists(conll_lines, max_size=30), st.binary(max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_conll_reader_raises_only_user_errors(lines, noise, newline):
    text = newline.join(lines).encode("utf-8", "surrogatepass")
    through_file(text, read_conll)
    through_file(text + noise, read_conll)
    through_file(noise + text, lambda p: read_conll(p, tag_col=1, token_col=0))


json_lines = st.one_of(
    st.builds(lambda toks, tags: '{"tokens": ' + toks + ', "tags": ' + tags + '}',
              st.sampled_from(['["a"]', '["a", "b"]', '[]', '[1]', '"a"', '[""]', '["a b"]', "null"]),
              st.sampled_from(['["O"]', '["B-X", "I-X"]', '[]', '["BAD"]', "[1]", "{}", "null"])),
    st.text(max_size=30), st.just("{}"), st.just("[]"), st.just('{"text": 5}'), st.just(""),
)


@FUZZ
@given(st.lists(json_lines, max_size=20), st.binary(max_size=30))
def test_jsonl_readers_raise_only_user_errors(lines, noise):
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    for blob in (data, data + noise):
        through_file(blob, read_jsonl_sentences)
        through_file(blob, lambda p: read_documents(p, "jsonl"))
        through_file(blob, lambda p: read_documents(p, "text"))
        through_file(blob, lambda p: read_documents(p, "auto", tokenization="char"))


@FUZZ
@given(tag_lists, st.sampled_from(["iob1", "iob2", "bioes", "bmes", "bilou"]))
def test_scheme_conversion_raises_only_value_errors_and_gives_valid_output(tags, scheme):
    try:
        out = convert(tags, scheme)
    except ValueError as e:  # an invalid tag: the readers turn this into a NerError with file and line
        assert "not valid in any scheme" in str(e)
        return
    assert is_valid(out, scheme) and tags_to_spans(out) == tags_to_spans(tags)
