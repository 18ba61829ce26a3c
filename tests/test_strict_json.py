"""Strict JSON in and out: the depth limit, non-finite numbers, lone surrogates, exact numbers."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bilstm.io.strict_json import MAX_DEPTH, JsonError, JsonNumber, dumps, loads

# JSON number literals of every shape, including ones a float or int would rewrite.
number_texts = st.one_of(
    st.integers(-(10**50), 10**50).map(str),
    st.integers(4000, 6000).map(lambda n: "9" * n),
    st.builds(lambda i, f, e: f"{i}.{f}{e}", st.integers(-999, 999), st.text("0123456789", min_size=1, max_size=25),
              st.sampled_from(["", "e5", "E-7", "e+400", "e999", "E-999"])),
    st.sampled_from(["-0", "0.10", "1E5", "1e999", "-1e999", "2.50e-3", "0.0", "-0.0"]),
)
json_texts = st.recursive(
    st.one_of(number_texts, st.sampled_from(["true", "false", "null", '"a"', '"\\u00e9\\ud83d\\ude00"'])),
    lambda children: st.one_of(st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
                               st.dictionaries(st.text("abc", max_size=3), children, max_size=4).map(
                                   lambda d: "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in d.items()) + "}")),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)  # a 2,000-digit number is slow to print on a loaded machine
@given(json_texts)
def test_numbers_are_written_back_digit_for_digit(text):
    as_text = dict(parse_int=str, parse_float=str)
    assert json.loads(dumps(loads(text, exact_numbers=True)), **as_text) == json.loads(text, **as_text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_json_error(text):
    for exact in (True, False):
        try:
            value = loads(text, exact_numbers=exact)
        except JsonError as e:
            assert str(e) and "\n" not in str(e)
        else:
            dumps(value)  # whatever was accepted can be written


@pytest.mark.parametrize("exact", [True, False])
def test_the_depth_limit_is_exact(exact):
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH, exact_numbers=exact)
    for depth in (MAX_DEPTH + 1, 10 * MAX_DEPTH, 100_000):
        with pytest.raises(JsonError, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads("[" * depth + "]" * depth, exact_numbers=exact)
    with pytest.raises(JsonError) as e:
        loads('{"id": 7, "deep": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    assert e.value.partial == {"id": 7} and str(e.value).startswith('"deep": nested deeper')


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused_and_the_other_fields_kept(literal):
    with pytest.raises(JsonError, match=f'"x": {literal} is not a JSON number') as e:
        loads(f'{{"id": 1, "x": [1, {literal}], "t": "a"}}', exact_numbers=True)
    assert e.value.partial == {"id": 1, "t": "a"}


def test_lone_surrogates_are_refused_and_pairs_accepted():
    with pytest.raises(JsonError, match=r'"t": unpaired surrogate \\udc00') as e:
        loads('{"id": 1, "t": "a\\udc00b"}')
    assert e.value.partial == {"id": 1}
    with pytest.raises(JsonError, match="unpaired surrogate in a key"):
        loads('{"\\ud800": 1}')
    assert loads('{"t": "\\ud83d\\ude00"}') == {"t": "😀"}


def test_out_of_range_numbers_are_refused_without_exact_numbers():
    with pytest.raises(JsonError, match="the number 1e999 is out of range"):
        loads('{"lr": 1e999}')
    with pytest.raises(JsonError, match="an integer of 5,000 digits is too large"):
        loads('{"n": ' + "1" * 5000 + "}")
    assert loads('{"n": 1e999, "m": 0.10}', exact_numbers=True) == {"n": JsonNumber("1e999"), "m": JsonNumber("0.10")}


def test_dumps_never_writes_what_is_not_strict_json():
    for bad in (float("nan"), [float("inf")], {"a": "\ud800"}, "x\udfff"):
        with pytest.raises(ValueError):
            dumps(bad)
    assert dumps({"a": "東京", "n": JsonNumber("1e999"), "l": [JsonNumber("-0"), 1.5]}) == '{"a": "東京", "n": 1e999, "l": [-0, 1.5]}'


def test_a_key_given_twice_is_refused_and_the_other_fields_kept():
    """json keeps the last of two values for one key and drops the first silently."""
    with pytest.raises(JsonError, match='"meta": the key "k" appears twice in one object') as e:
        loads('{"id": 7, "meta": {"k": 1, "k": 2}, "text": "a"}')
    assert e.value.partial == {"id": 7, "text": "a"}
    with pytest.raises(JsonError, match='"id": appears twice in the object') as e:
        loads('{"id": 7, "text": "a", "id": 8}')
    assert e.value.partial == {"text": "a"}  # which id was meant is unknown
    with pytest.raises(JsonError, match='the key "a" appears twice'):
        loads('[1, {"a": 1, "a": 1}]')
    assert loads('{"a": {"b": 1}, "b": {"a": 2}}') == {"a": {"b": 1}, "b": {"a": 2}}  # the same key in two objects is fine
