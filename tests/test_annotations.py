"""Annotation-tool formats: doccano, Label Studio, Prodigy and brat, read and written; character
spans aligned to tokens; the label map; round trips through CoNLL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

from ner_bilstm.conversion import convert_sentences
from ner_bilstm.errors import NerError
from ner_bilstm.io import ANNOTATION_FORMATS, ReadReport, detect_format, read_source
from ner_bilstm.io.annotations import Unit
from ner_bilstm.io.brat import BratFolder, ann_lines
from ner_bilstm.io.spans import CharSpan, align, char_spans, unit_text
from ner_bilstm.label_map import parse_label_map, relabel
from ner_bilstm.schemes import SCHEMES, spans_to_tags, tags_to_spans

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data" / "sample"


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def spans_of(sentence) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label) for s in char_spans(sentence)]


# ---------------------------------------------------------------- writing native files of each tool


def native(fmt: str, path: Path, records: list[tuple[str, list[tuple[int, int, str]]]]) -> Path:
    """``records`` (text, spans) as the tool itself would export them: no tokens anywhere."""
    if fmt == "doccano":
        path.write_text("".join(json.dumps({"text": t, "label": [list(s) for s in spans]}) + "\n" for t, spans in records))
    elif fmt == "prodigy":
        path.write_text("".join(json.dumps({"text": t, "spans": [{"start": a, "end": b, "label": lab} for a, b, lab in spans],
                                            "answer": "accept"}) + "\n" for t, spans in records))
    elif fmt == "label-studio":
        tasks = [{"id": i + 1, "data": {"text": t}, "annotations": [{"id": 9, "result": [
            {"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": a, "end": b, "text": t[a:b], "labels": [lab]}}
            for a, b, lab in spans]}]} for i, (t, spans) in enumerate(records)]
        path.write_text(json.dumps(tasks, indent=2))
    else:
        path.mkdir()
        for i, (t, spans) in enumerate(records):
            (path / f"doc{i:03d}.txt").write_bytes(t.encode())
            unit = Unit(t, [], [CharSpan(*span) for span in spans])
            (path / f"doc{i:03d}.ann").write_text("".join(line + "\n" for line in ann_lines(unit)))  # brat's own fragments
    return path


NATIVE_NAME = {"doccano": "data.jsonl", "prodigy": "data.jsonl", "label-studio": "export.json", "brat": "folder"}
RECORDS = [
    ("Maria Lopez flew to Lisbon.", [(0, 11, "PER"), (20, 26, "LOC")]),
    ("Das Haus von Müllers GmbH-Tochter.\nZweite Zeile.", [(13, 25, "ORG")]),
    ("  Nothing here. ", []),
]


@pytest.mark.parametrize("fmt", ANNOTATION_FORMATS)
def test_each_format_is_detected_read_and_aligned(fmt, tmp_path):
    source = native(fmt, tmp_path / NATIVE_NAME[fmt], RECORDS)
    assert detect_format(str(source)) == fmt
    report = ReadReport()
    sentences = list(read_source(source, report=report))
    assert [s.text for s in sentences] == [t for t, _ in RECORDS]
    assert [spans_of(s) for s in sentences] == [spans for _, spans in RECORDS]
    # "GmbH-Tochter" is one word token; the ORG span ends inside it, so it is split, and counted.
    assert sentences[1].tokens[3:6] == ["Müllers", "GmbH", "-Tochter"]
    assert sentences[1].tags[3:6] == ["B-ORG", "I-ORG", "O"]
    assert (report.cut_spans, report.split_tokens) == (1, 1)
    assert report.summary() == "1 span did not fall on token boundaries (1 token split)"


def test_alignment_trims_whitespace_and_counts_it():
    report = ReadReport()
    s = align("Visit New York now", [CharSpan(5, 14, "LOC")], report)
    assert s.tokens == ["Visit", "New", "York", "now"] and s.tags == ["O", "B-LOC", "I-LOC", "O"]
    assert spans_of(s) == [(6, 14, "LOC")] and report.trimmed_spans == 1
    char = align("北京欢迎你", [CharSpan(0, 2, "LOC")], ReadReport(), tokenization="char")
    assert char.tokens == list("北京欢迎你") and char.tags == ["B-LOC", "I-LOC", "O", "O", "O"]
    ws = align("e-mail:bob@x.org ok", [CharSpan(7, 16, "EMAIL")], ReadReport(), tokenization="whitespace")
    assert ws.tokens == ["e-mail:", "bob@x.org", "ok"]


@pytest.mark.parametrize("spans, message", [
    ([(0, 11, "PER"), (6, 19, "ORG")], "overlapping spans [0, 11) PER 'Maria Lopez' and [6, 19) ORG 'Lopez flew to'"),
    ([(0, 11, "PER"), (6, 11, "PER")], "nested spans [0, 11) PER 'Maria Lopez' and [6, 11) PER 'Lopez'"),
    ([(0, 99, "PER")], "outside the text"),
    ([(5, 6, "PER")], "covers only whitespace"),
    ([(0, 5, "B PER")], "without whitespace"),
])
def test_bad_spans_name_file_line_and_spans(spans, message, tmp_path):
    source = native("doccano", tmp_path / "d.jsonl", [("fine", []), ("Maria Lopez flew to Lisbon.", spans)])
    with pytest.raises(NerError) as e:
        list(read_source(source))
    assert str(e.value).startswith(f"{source}:2: ") and message in str(e.value)


def test_brat_errors_name_the_ann_lines(tmp_path):
    folder = native("brat", tmp_path / "b", [("Maria Lopez flew to Lisbon.", [(0, 11, "PER"), (20, 26, "LOC"), (6, 19, "ORG")])])
    with pytest.raises(NerError, match=r"doc000.ann:1: overlapping spans .*'Maria Lopez'.*'Lopez flew to'.*second on line 3"):
        list(read_source(folder))
    (folder / "doc000.ann").write_text("T1\tPER 0 5;12 16\tMaria flew\n")
    with pytest.raises(NerError, match=r"doc000.ann:1: discontinuous entity PER"):
        list(read_source(folder))
    (folder / "doc000.ann").write_text("T1\tPER 0 5;6 11\tMaria Lopez\n")  # fragments with only whitespace between: one span
    assert [spans_of(s) for s in read_source(folder)] == [[(0, 11, "PER")]]
    (folder / "doc000.ann").write_text("R1\tWorks Arg1:T1 Arg2:T2\nT1\tPER 0 5\tMaria\n#1\tNote T1\tx\n")
    report = ReadReport()
    [s] = read_source(folder, report=report)
    assert s.tags[0] == "B-PER" and report.skipped == {"annotations other than brat entities ignored": 2}
    (folder / "doc000.ann").write_text("T1\tPER 0 5\tMario\n")
    with pytest.raises(NerError, match=r"doc000.ann:1: entity text 'Mario' is not the .txt's characters"):
        list(read_source(folder))


def test_doccano_relation_export_entities(tmp_path):
    path = tmp_path / "rel.jsonl"
    path.write_text(json.dumps({"id": 3, "text": "Anna Berg met Li Wei.", "relations": [{"from_id": 1, "to_id": 2, "type": "met"}],
                                "entities": [{"id": 1, "label": "PER", "start_offset": 0, "end_offset": 9},
                                             {"id": 2, "label": "PER", "start_offset": 14, "end_offset": 20}]}) + "\n")
    assert detect_format(str(path)) == "doccano"
    report = ReadReport()
    [s] = read_source(path, report=report)
    assert spans_of(s) == [(0, 9, "PER"), (14, 20, "PER")] and report.summary() == "1 relation ignored"


def test_label_studio_and_prodigy_skip_what_is_not_an_accepted_annotation(tmp_path):
    tasks = [
        {"id": 1, "data": {"text": "Anna Berg"}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 0, "end": 9, "labels": ["PER"]}},
            {"type": "choices", "value": {"choices": ["news"]}}]}]},
        {"id": 2, "data": {"text": "not labelled yet"}, "annotations": []},
        {"id": 3, "data": {"text": "cancelled"}, "annotations": [{"was_cancelled": True, "result": []}]},
    ]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks, indent=1))
    report = ReadReport()
    assert [s.tags for s in read_source(path, report=report)] == [["B-PER", "I-PER"]]
    assert report.skipped == {"results other than labels ignored": 1, "records without an annotation skipped": 2}
    assert [s.tags for s in read_source(path, require_tags=False)] == [["B-PER", "I-PER"], None, None]  # convert keeps them
    tasks[0]["annotations"][0]["result"][0]["value"]["labels"] = ["PER", "ORG"]
    path.write_text(json.dumps(tasks, indent=1))
    with pytest.raises(NerError, match=r"ls.json:2: a labels result must have one label"):
        list(read_source(path))
    prodigy = tmp_path / "p.jsonl"
    prodigy.write_text('{"text": "Anna Berg", "spans": [{"start": 0, "end": 9, "label": "PER"}], "answer": "accept"}\n'
                       '{"text": "Anna Berg", "spans": [], "answer": "reject"}\n'
                       '{"text": "Li Wei", "tokens": [{"text": "Li", "start": 0, "end": 2}, {"text": "Wei", "start": 3, "end": 6}],'
                       ' "spans": [{"token_start": 0, "token_end": 1, "label": "PER"}]}\n')
    report = ReadReport()
    assert [s.tags for s in read_source(prodigy, report=report)] == [["B-PER", "I-PER"], ["B-PER", "I-PER"]]
    assert report.skipped == {"answers other than accept skipped": 1}


def test_hostile_annotation_files_give_one_line_errors(tmp_path):
    cases = {
        "ls.json": ('[{"data": {"text": "a"}, "annotations": 5}]', r"ls.json:1: \"annotations\" must be a list"),
        "deep.json": ("[" * 100_000, r"deep.json:1: nested"),
        "sur.json": ('[\n{"data": {"text": "Hi \\ud800"}}]', r"sur.json:2: .*surrogate"),
        "big.jsonl": ('{"text": "ab", "label": [[0, 1%s, "X"]]}' % ("0" * 5000), r"big.jsonl:1: an end must be an integer offset, not 100"),
        "gap.jsonl": ('{"text": "Hello, world", "tokens": [{"text": "Hello", "start": 0, "end": 5}, '
                      '{"text": "world", "start": 7, "end": 12}], "spans": []}', r"gap.jsonl:1: the tokens leave out ','"),
        "old.json": ('[{"data": {"text": "😀 Anna Berg"}, "annotations": [{"result": [{"type": "labels", '
                     '"value": {"start": 3, "end": 7, "text": "Anna", "labels": ["PER"]}}]}]}]', r"old.json:1: value.text 'Anna' .*UTF-16"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(NerError, match=message):
            list(read_source(tmp_path / name, input_format="prodigy" if name == "gap.jsonl" else "auto"))
    (tmp_path / "zero.jsonl").write_text('{"text": "ab", "label": [[-0, 1, "X"]]}\n')
    assert [s.tags for s in read_source(tmp_path / "zero.jsonl")] == [["B-X", "O"]]
    deep = tmp_path / "deep.conll"
    deep.write_text("# text_json = " + "[" * 100_000 + "\nx O\n")
    assert [s.text for s in read_source(deep)] == [None]


def test_brat_trimmed_overlaps_tabs_and_byte_order_marks(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "d.txt").write_text("New York City")
    (folder / "d.ann").write_text("T1\tLOC 0 8\tNew York\nT2\tLOC 3 13\t York City\n")
    with pytest.raises(NerError, match=r"d.ann:1: overlapping spans \[0, 8\) LOC 'New York' and \[4, 13\).*second on line 2"):
        list(read_source(folder))
    (folder / "d.ann").write_text("T1\tO 0 3\tNew\n")
    with pytest.raises(NerError, match=r"d.ann:1: span label"):
        list(read_source(folder))
    out = tmp_path / "out"
    convert_sentences(read_source(native("doccano", tmp_path / "t.jsonl", [("New\tYork is big", [(0, 8, "LOC")])])), out, to_format="brat")
    assert [spans_of(s) for s in read_source(out)] == [[(0, 8, "LOC")]]
    (folder / "d.txt").write_text("\ufeffHi Bob", encoding="utf-8")
    (folder / "d.ann").write_text("T1\tPER 4 7\tBob\n")  # brat counts the mark as a character
    assert [spans_of(s) for s in read_source(folder)] == [[(4, 7, "PER")]]


@pytest.mark.parametrize("fmt", ANNOTATION_FORMATS)
def test_unlabelled_texts_round_trip_unlabelled(fmt, tmp_path):
    source = tmp_path / "plain.conll"
    source.write_text("# text = Hi, Bob\nHi\n,\nBob\n\n")
    there = tmp_path / ("out" if fmt == "brat" else "out.json")
    convert_sentences(read_source(source, require_tags=False), there, to_format=fmt)
    [back] = read_source(there, require_tags=False)
    assert (back.text, back.tokens) == ("Hi, Bob", ["Hi", ",", "Bob"])
    assert back.tags is None or fmt == "brat"  # a brat document is always labelled: an empty .ann has no entities


def test_conll_text_comments_give_text_and_offsets(tmp_path):
    path = tmp_path / "t.conll"
    path.write_text('# text = New  York\nNew B-LOC\nYork I-LOC\n\n# text_json = "a\\nb"\na O\nb O\n\n# text = wrong\nx O\n\n')
    first, second, third = read_source(path)
    assert (first.text, first.offsets) == ("New  York", [(0, 3), (5, 9)])
    assert (second.text, second.offsets) == ("a\nb", [(0, 1), (2, 3)])
    assert third.text is None and third.meta["comments"] == ["# text = wrong"]


# ---------------------------------------------------------------- round trips


def _convert(sentences, dest: Path, fmt: str) -> Path:
    convert_sentences(sentences, dest, to_format=fmt)
    return dest


@pytest.mark.parametrize("fmt", ANNOTATION_FORMATS)
def test_conll_to_each_format_and_back_keeps_every_tag(fmt, tmp_path):
    original = list(read_source(DATA / "dev.txt"))
    there = _convert(original, tmp_path / ("out" if fmt == "brat" else "out.json"), fmt)
    # brat stores no tokens: what was written from tokens joined by spaces is read back at whitespace
    tokenize = "whitespace" if fmt == "brat" else "word"
    back = list(read_source(_convert(read_source(there, input_format=fmt, tokenize=tokenize), tmp_path / "back.conll", "conll")))
    assert [(s.tokens, s.tags) for s in back] == [(s.tokens, s.tags) for s in original]


@pytest.mark.parametrize("fmt", ANNOTATION_FORMATS)
def test_each_format_to_conll_and_back_keeps_spans_and_offsets(fmt, tmp_path):
    source = native(fmt, tmp_path / NATIVE_NAME[fmt], RECORDS)
    conll = _convert(read_source(source), tmp_path / "mid.conll", "conll")
    again = _convert(read_source(conll), tmp_path / ("again" if fmt == "brat" else "again.json"), fmt)
    final = list(read_source(again, input_format=fmt))
    assert [(s.text, spans_of(s)) for s in final] == RECORDS


_CHARS = st.sampled_from(list("abcXYZ09.,-'é北京 ") + [" ", " ", "\n", "\t", "\u3000", "\r\n"])


@st.composite
def texts_with_spans(draw):
    text = draw(st.lists(_CHARS, min_size=1, max_size=40).map("".join).filter(lambda t: t.strip()))
    visible = [i for i, c in enumerate(text) if not c.isspace()]
    cuts = sorted(set(draw(st.lists(st.sampled_from(visible), max_size=6))))
    spans, i = [], 0
    while i < len(cuts):  # spans from the cut points, in order, never overlapping
        start = cuts[i]
        end = draw(st.sampled_from(cuts[i:]))
        spans.append((start, end + 1, draw(st.sampled_from(["PER", "LOC", "ORG"]))))
        i = cuts.index(end) + 1
    return text, spans


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(texts_with_spans(), min_size=1, max_size=3), fmt=st.sampled_from(ANNOTATION_FORMATS),
       tokenize=st.sampled_from(["word", "char", "whitespace"]))
def test_random_texts_and_spans_survive_every_round_trip(records, fmt, tokenize, tmp_path_factory):
    d = tmp_path_factory.mktemp("rt")
    source = native(fmt, d / NATIVE_NAME[fmt], records)
    read = list(read_source(source, tokenize=tokenize))
    assert [(s.text, spans_of(s)) for s in read] == records  # every span exactly, whatever cuts tokens
    conll = _convert(read, d / "mid.conll", "conll")
    again = _convert(read_source(conll), d / ("again" if fmt == "brat" else "again.json"), fmt)
    final = list(read_source(again, input_format=fmt, tokenize=tokenize))  # brat has no tokens: tokenised again, alike
    assert [(s.text, spans_of(s)) for s in final] == records
    assert [(s.tokens, s.tags) for s in final] == [(s.tokens, s.tags) for s in read]


@settings(max_examples=60, deadline=None)
@given(tags=st.lists(st.sampled_from(["O", "B-A", "I-A", "B-B", "I-B", "B-C", "I-C"]), max_size=12),
       scheme=st.sampled_from(SCHEMES), mapping=st.dictionaries(st.sampled_from("ABC"), st.sampled_from(["A", "B", "X", ""])))
def test_relabel_maps_spans_in_every_scheme(tags, scheme, mapping):
    spans = tags_to_spans(tags)
    encoded = spans_to_tags(spans, len(tags), scheme)
    relabelled = relabel(encoded, mapping)
    expected = [(s.start, s.end, mapping.get(s.label, s.label)) for s in spans if mapping.get(s.label, s.label)]
    assert [tuple(s) for s in tags_to_spans(relabelled)] == expected


def test_label_map_parsing():
    assert parse_label_map(" PER=PERSON, MISC= ") == {"PER": "PERSON", "MISC": ""}
    for bad in ("PER", "=X", "A=B,A=C", "A=O", "A=B C"):
        with pytest.raises(ValueError):
            parse_label_map(bad)


# ---------------------------------------------------------------- writers


def test_writers_keep_tokens_scores_and_inclusive_token_end(tmp_path):
    unit = Unit("Anna  Berg.", [(0, 4), (6, 10), (10, 11)], [CharSpan(0, 10, "PER", 0.875)], {"id": 5})
    from ner_bilstm.io.doccano import doccano_record
    from ner_bilstm.io.labelstudio import labelstudio_task
    from ner_bilstm.io.prodigy import prodigy_record

    assert doccano_record(unit) == {"id": 5, "text": "Anna  Berg.", "tokens": ["Anna", "Berg", "."], "label": [[0, 10, "PER"]]}
    p = prodigy_record(unit)
    assert p["spans"] == [{"start": 0, "end": 10, "label": "PER", "token_start": 0, "token_end": 1, "score": 0.875}]
    assert [t["ws"] for t in p["tokens"]] == [True, False, False]
    task = labelstudio_task(unit, 1, predicted=True)
    assert task["id"] == 5 and task["predictions"][0]["result"][0]["score"] == 0.875
    assert task["predictions"][0]["result"][0]["value"] == {"start": 0, "end": 10, "text": "Anna  Berg", "labels": ["PER"]}
    with BratFolder(tmp_path / "b") as folder:
        folder.open_document("doc")
        folder.add(unit)
        folder.add(unit)
        folder.close()
    assert (tmp_path / "b" / "doc.txt").read_text() == "Anna  Berg.\nAnna  Berg.\n"
    assert (tmp_path / "b" / "doc.ann").read_text() == "T1\tPER 0 10\tAnna  Berg\nT2\tPER 12 22\tAnna  Berg\n"


def test_unit_text_of_a_token_list_joins_by_spaces():
    from ner_bilstm.sentence import Sentence

    s = Sentence(tokens=["Anna", "Berg", "!"], tags=["B-PER", "I-PER", "O"])
    assert unit_text(s) == ("Anna Berg !", [(0, 4), (5, 9), (10, 11)]) and spans_of(s) == [(0, 9, "PER")]


# ---------------------------------------------------------------- the command line


def test_convert_label_map_and_usage_errors(tmp_path):
    source = native("doccano", tmp_path / "d.jsonl", RECORDS)
    result = run("convert", source, tmp_path / "o.conll", "--label-map", "PER=PERSON,LOC=")
    assert result.exit_code == 0, result.output
    sentences = list(read_source(tmp_path / "o.conll"))
    assert sentences[0].tags == ["B-PERSON", "I-PERSON", "O", "O", "O", "O"]
    assert "PER -> PERSON: 1 span; LOC dropped: 1 span" in result.output
    bad = run("convert", source, tmp_path / "x.conll", "--label-map", "PER")
    assert bad.exit_code == 2 and "OLD=NEW" in bad.output
    assert run("convert", source, "-", "--output-format", "brat").exit_code == 1
    assert not (tmp_path / "x.conll").exists()


def test_train_from_doccano_and_brat_then_predict_doccano_back_through_convert(tmp_path):
    train = tmp_path / "train.jsonl"
    assert run("convert", DATA / "train.txt", train, "--output-format", "doccano").exit_code == 0
    dev = tmp_path / "dev"
    assert run("convert", DATA / "dev.txt", dev, "--output-format", "brat").exit_code == 0
    model = tmp_path / "m"
    result = run("train", "--train", train, "--dev", dev, "--output", model, "--epochs", "2", "--batch-size", "16",
                 "--hidden", "32", "--label-map", "MISC=")
    assert result.exit_code == 0, result.output
    config = json.loads((model / "config.json").read_text())
    assert config["training"]["label_map"] == "MISC=" and "MISC" not in config["entity_types"]
    assert config["data"]["dev"]["documents"] == 120
    assert "train data: MISC dropped:" in result.output
    scores = run("evaluate", "--model", model, dev, "--output-format", "json")
    assert scores.exit_code == 0 and "MISC" not in json.loads(scores.stdout)["types"]  # the model's label map applies
    text = tmp_path / "in.txt"
    text.write_text("Maria Lopez flew to Lisbon.\n\nKestrel Aerospace hired Jean-Luc Moreau.\n")
    predicted = run("predict", "--model", model, text, "--output-format", "doccano")
    assert predicted.exit_code == 0, predicted.output
    records = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [r["text"] for r in records] == ["Maria Lopez flew to Lisbon.", "", "Kestrel Aerospace hired Jean-Luc Moreau."]
    (tmp_path / "p.jsonl").write_text(predicted.stdout)
    back = run("convert", tmp_path / "p.jsonl", tmp_path / "p.conll")
    assert back.exit_code == 0, back.output
    sentences = list(read_source(tmp_path / "p.conll"))
    assert [s.text for s in sentences] == [records[0]["text"], records[2]["text"]]  # the empty line has no tokens
    assert [spans_of(s) for s in sentences] == [[tuple(x) for x in r["label"]] for r in (records[0], records[2])]
    assert "1 record without tokens skipped" in back.output
    out = tmp_path / "brat"
    assert run("predict", "--model", model, text, "--output-format", "brat", "--output-dir", out).exit_code == 0
    assert (out / "in.txt").read_text() == text.read_text()
    [document] = read_source(out)
    assert document.text == text.read_text()
    assert run("predict", "--model", model, text, "--output-format", "brat").exit_code == 2
    ls = run("predict", "--model", model, text, "--output-format", "label-studio")
    tasks = json.loads(ls.stdout)
    assert len(tasks) == 3 and all("predictions" in t for t in tasks)
    line = json.dumps({"id": 4, "text": "Hi, Maria Lopez!", "tokens": ["Hi", ",", "Maria", "Lopez", "!"]})
    again = run("predict", "--model", model, "--output-format", "doccano", input=line + "\n")
    record = json.loads(again.stdout)
    assert record["text"] == "Hi, Maria Lopez!" and record["id"] == 4  # the text of a token line is kept, not re-joined
    assert all(record["text"][a:b] in ("Maria", "Lopez", "Maria Lopez") for a, b, _ in record["label"])


def test_doccano_with_two_label_keys_and_brat_texts_without_ann_are_not_silently_dropped(tmp_path):
    from ner_bilstm.io import ReadReport

    (tmp_path / "d.jsonl").write_text('{"text": "Maria flew to Lisbon.", "label": [[0, 5, "PER"]], "labels": [[14, 20, "LOC"]]}\n')
    with pytest.raises(NerError, match=r"d.jsonl:1: give one of 'label', 'labels', not both"):
        list(read_source(str(tmp_path / "d.jsonl"), input_format="doccano"))
    brat = tmp_path / "brat"
    brat.mkdir()
    (brat / "a.txt").write_text("Maria flew.")
    (brat / "a.ann").write_text("T1\tPER 0 5\tMaria\n")
    (brat / "b.txt").write_text("Anna")
    report = ReadReport()
    assert len(list(read_source(str(brat), report=report))) == 1
    assert report.summary() == "1 text without an .ann file skipped"
