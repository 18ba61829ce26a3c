"""The HTML pages without a browser: span-error pairing, escaping, the report's sections and its
errors. (tests/test_browser.py opens the same pages in headless Chromium.)"""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

from ner_bilstm.artifact import read_history, read_metrics
from ner_bilstm.errors import NerError
from ner_bilstm.io.spans import CharSpan
from ner_bilstm.pages.marks import colours, marked_text
from ner_bilstm.schemes import Span
from ner_bilstm.span_errors import analyse, pair_spans

from .chromium import parse

runner = CliRunner()
EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))
HOSTILE = ['<script>document.body.setAttribute("data-pwned", "1")</script> Anna Berg visited Paris .',
           '<img src=x onerror="document.title=1"> & &amp; &lt; "quotes" \'single\' in Berlin',
           "</div></main><h1>not a heading</h1> Maria Lopez"]


@st.composite
def flat_spans(draw, length: int = 30):
    """Sorted, non-overlapping spans over ``length`` tokens with random types."""
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=12)))
    spans = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        if draw(st.booleans()):
            spans.append(Span(start, end, draw(st.sampled_from("ABC"))))
    return spans


@settings(max_examples=300, deadline=None)
@given(flat_spans(), flat_spans())
def test_every_gold_and_predicted_span_is_counted_exactly_once(gold, predicted):
    result = analyse([gold], [predicted]).errors
    paired = result.correct + result.type_errors + result.boundary_errors + result.boundary_type_errors
    assert (paired + result.missed_total, paired + result.spurious_total) == (len(gold), len(predicted))
    assert result.correct == len(set(gold) & set(predicted))
    pair = pair_spans(gold, predicted)
    for g, p in pair.overlapping:
        assert (g.start, g.end) != (p.start, p.end) and min(g.end, p.end) > max(g.start, p.start)
    assert pair.errors == 0 if gold == predicted else pair.errors > 0
    # As many overlapping pairs as there can be, among the spans without an exact partner.
    exact = {(g.start, g.end) for g, _ in pair.exact}
    rest_gold = [g for g in gold if (g.start, g.end) not in exact]
    rest_pred = [p for p in predicted if (p.start, p.end) not in exact]
    assert len(pair.overlapping) == most_pairs(rest_gold, rest_pred)


def most_pairs(gold: list[Span], predicted: list[Span]) -> int:
    """The largest number of disjoint overlapping (gold, predicted) pairs, by exhaustive search."""
    if not gold:
        return 0
    first, rest = gold[0], gold[1:]
    best = most_pairs(rest, predicted)
    for i, p in enumerate(predicted):
        if min(first.end, p.end) > max(first.start, p.start):
            best = max(best, 1 + most_pairs(rest, predicted[:i] + predicted[i + 1:]))
    return best


def test_the_kinds_of_error_are_told_apart():
    gold = [Span(0, 2, "PER"), Span(3, 4, "LOC"), Span(5, 8, "ORG"), Span(9, 10, "MISC"), Span(12, 13, "LOC")]
    predicted = [Span(0, 2, "PER"), Span(3, 4, "ORG"), Span(5, 7, "ORG"), Span(9, 11, "LOC"), Span(14, 15, "PER")]
    analysis = analyse([gold], [predicted])
    e = analysis.errors
    assert (e.correct, e.type_errors, e.boundary_errors, e.boundary_type_errors, e.missed_total, e.spurious_total) == (1, 1, 1, 1, 1, 1)
    assert e.confusion[("LOC", "ORG")] == 1 and e.missed["LOC"] == 1 and e.spurious["PER"] == 1
    assert e.boundary[("ORG", "ORG")] == 1 and e.boundary[("MISC", "LOC")] == 1
    assert analysis.worst[0].errors == 5


def test_a_prediction_over_two_gold_entities_pairs_with_one_and_the_most_pairs_are_made():
    merged = pair_spans([Span(0, 2, "LOC"), Span(2, 3, "ORG")], [Span(0, 3, "ORG")])
    assert merged.overlapping == [(Span(0, 2, "LOC"), Span(0, 3, "ORG"))] and merged.missed == [Span(2, 3, "ORG")]
    # Largest overlap first would pair (2,6) with (1,4) and leave two spans unpaired; two pairs can be made.
    chain = pair_spans([Span(0, 2, "PER"), Span(2, 6, "ORG")], [Span(1, 4, "ORG"), Span(5, 7, "ORG")])
    assert len(chain.overlapping) == 2 and not chain.missed and not chain.spurious


def test_types_named_like_the_outcomes_are_counted_as_types():
    spans = [Span(0, 1, "missed"), Span(2, 3, "spurious"), Span(4, 5, "micro")]
    e = analyse([spans], [spans]).errors
    assert (e.correct, e.missed_total, e.spurious_total) == (3, 0, 0)


def test_worst_sentences_come_most_errors_first_then_in_source_order():
    one, two = [Span(0, 1, "A")], [Span(0, 1, "A"), Span(2, 3, "B")]
    analysis = analyse([one, two, one, two, []], [[], [], [], [], []], worst=3)
    assert [(s.index, s.errors) for s in analysis.worst] == [(1, 2), (3, 2), (0, 1)]
    assert analysis.sentences == 5


@settings(max_examples=200, deadline=None)
# Browsers turn CR into LF and NUL into U+FFFD as they parse any page: that is no escaping matter.
@given(st.text(st.characters(blacklist_characters="\r\0"), min_size=1, max_size=40), st.data())
def test_marked_text_escapes_everything_and_keeps_the_text(text, data):
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [CharSpan(s, e, data.draw(st.sampled_from(["PER", "<b>&", '"x"'])), 0.5) for s, e in zip(cuts[::2], cuts[1::2]) if s < e]
    root = parse(f"<div>{marked_text(text, spans, colours(['PER']))}</div>")
    marks = list(root.iter("mark"))
    assert root.text(skip_class="lab") == text
    assert [(m.text(skip_class="lab"), m.attrs["data-label"]) for m in marks] == [(text[s.start:s.end], s.label) for s in spans]
    assert all(n.tag in ("#document", "div", "mark", "span") for n in root.iter())


def test_predict_html_escapes_the_input_and_marks_every_entity(tiny_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(HOSTILE) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", "--model", str(tiny_model), str(source), "--output-format", "html"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "<script" not in page and "<img" not in page and "<h1>not a heading" not in page
    docs = parse(page).with_class("doc")
    assert [d.with_class("text")[0].text(skip_class="lab") for d in docs] == HOSTILE
    records = [json.loads(x) for x in runner.invoke(app, ["predict", "--model", str(tiny_model), str(source)]).stdout.splitlines()]
    for doc, record in zip(docs, records, strict=True):
        marks = [(m.text(skip_class="lab"), m.attrs["data-label"]) for m in doc.iter("mark")]
        assert marks == [(e["text"], e["label"]) for e in record["entities"]]
        assert all(m.attrs["title"] == f"{e['label']}: p = {e['score']:.3f}" for m, e in zip(doc.iter("mark"), record["entities"]))


def test_report_has_every_section(tiny_model, corpus, tmp_path):
    target = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--model", str(tiny_model), str(corpus["dev"]), "--output", str(target), "--worst", "5"])
    assert result.exit_code == 0, result.output
    root = parse(target.read_text(encoding="utf-8"))
    sections = ("curves", "scores-dev", "scores-test", "scores-source", "outcomes", "confusion", "boundary", "worst", "card")
    for section in sections:
        assert root.by_id(section) is not None, section
    assert len(list(root.by_id("curves").iter("path"))) > 20  # axes, ticks and the curves themselves
    config = json.loads((tiny_model / "config.json").read_text())
    types = config["entity_types"]
    assert root.by_id("command-missing") is not None  # trained through the API: no command line to show
    assert [r.children[0].text() for r in root.by_id("confusion").iter("tr")][1:] == [*types, "spurious"]
    assert len(root.with_class("pair")) <= 5
    gold = sum(int(c.text()) for row in list(root.by_id("outcomes").iter("tr"))[1:] for c in row.children[1:2]
               if not row.children[0].text().startswith("spurious"))
    assert gold == sum(line.split()[-1].startswith("B-") for line in corpus["dev"].read_text().splitlines() if line.strip())


def test_the_ner_bilstm_command_line_that_trained_a_model_is_on_its_card(corpus, tmp_path):
    args = ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(tmp_path / "m"), "--epochs", "1",
            "--hidden", "16", "--word-dim", "8", "--char-filters", "4", "--char-dim", "4"]
    done = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "m" / "config.json").read_text())["command"] == ["ner-bilstm", *args]
    assert runner.invoke(app, ["report", "--model", str(tmp_path / "m")]).exit_code == 0
    page = parse((tmp_path / "m" / "report.html").read_text(encoding="utf-8"))
    assert page.by_id("command").text() == shlex.join(["ner-bilstm", *args])


def test_report_of_an_old_model_without_history_or_metrics(tiny_model, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_model, old)
    (old / "history.jsonl").unlink()
    (old / "metrics.json").unlink()
    result = runner.invoke(app, ["report", "--model", str(old)])
    assert result.exit_code == 0, result.output
    page = (old / "report.html").read_text(encoding="utf-8")
    assert 'id="curves-missing"' in page and "has no metrics.json" in page and 'id="command-missing"' in page


@pytest.mark.parametrize("line", ['{"epoch": 2, "loss": "<script>"}', "[" * 100_000 + "]" * 100_000, "NaN", "\udcff\udcfe",
                                  "loss=NaN", "best=1"])
def test_a_malformed_history_line_is_refused_naming_file_and_line(tiny_model, tmp_path, line):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    lines = (broken / "history.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    lines[1] = {"loss=NaN": json.dumps({**record, "loss": float("nan")}), "best=1": json.dumps({**record, "best": 1})}.get(line, line)
    (broken / "history.jsonl").write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(NerError, match="malformed history record") as refused:
        read_history(broken)
    assert str(refused.value).startswith(f"{broken / 'history.jsonl'}:2: ")


@pytest.mark.parametrize("change", [("dev", "micro", "precision", "<b>x</b>"), ("test", "types", None, None),
                                    ("dev", "micro", "f1", None), ("seconds", None, None, "<script>"), ("best_epoch", None, None, "5"),
                                    ("dev", "micro", "support", True), ("dev", None, None, [])])
def test_malformed_metrics_are_refused_naming_the_key(tiny_model, tmp_path, change):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    metrics = json.loads((broken / "metrics.json").read_text())
    role, part, key, value = change
    if part is None:
        metrics[role] = value
    elif key is None:
        metrics[role][part] = {"PER": {"precision": 1}}
    else:
        metrics[role][part][key] = value
    (broken / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(NerError, match="metrics.json") as refused:
        read_metrics(broken)
    assert (key or part or role) in str(refused.value)


def test_a_damaged_model_directory_is_one_line_and_exit_1(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    metrics = json.loads((broken / "metrics.json").read_text())
    metrics["dev"]["micro"]["precision"] = "<b>x</b>"
    (broken / "metrics.json").write_text(json.dumps(metrics))
    done = subprocess.run([EXE, "report", "--model", str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "metrics.json" in done.stderr and "dev.micro.precision" in done.stderr and not (broken / "report.html").exists()


def test_without_matplotlib_the_report_says_which_install_brings_it(tiny_model, tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; sys.argv = ['ner-bilstm'] + sys.argv[1:]; "
            "from ner_bilstm_cli.main import main; main()")
    done = subprocess.run([sys.executable, "-c", code, "report", "--model", str(tiny_model), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert 'pip install "ner-bilstm[report]"' in done.stderr and not (tmp_path / "r.html").exists()


def test_report_usage_errors_exit_2(tiny_model):
    done = subprocess.run([EXE, "report", "--model", str(tiny_model), "--worst", "-1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--worst" in done.stderr


def test_the_python_api_writes_the_same_report(tiny_model, corpus, tmp_path):
    import ner_bilstm
    import ner_bilstm.model_report  # noqa: F401  (a submodule import must not shadow the function)

    built = ner_bilstm.report(tiny_model, corpus["dev"], output=tmp_path / "api.html", worst=3)
    assert isinstance(built, ner_bilstm.ModelReport) and callable(ner_bilstm.report)
    errors = built.source.analysis.errors
    assert errors.correct == round(built.source.scores.micro.recall * built.source.scores.micro.support / 100)
    assert len(built.source.worst) <= 3 and (tmp_path / "api.html").stat().st_size > 10_000
    with pytest.raises(ner_bilstm.NerError, match="unknown reader option"):
        ner_bilstm.report(tiny_model, corpus["dev"], output=tmp_path / "x.html", colour="red")


def test_character_level_sentences_are_shown_without_spaces_between_characters():
    from ner_bilstm.inference import Prediction, ScoredSpan
    from ner_bilstm.model_report import _worst_sentence
    from ner_bilstm.sentence import Sentence

    tags = ["B-NAME", "E-NAME", "O", "B-ORG", "I-ORG", "I-ORG", "E-ORG", "B-TITLE", "E-TITLE"]
    sentence = Sentence(tokens=list("高勇任北京大学教授"), tags=tags)
    prediction = Prediction(["O"] * 9, [ScoredSpan("ORG", 3, 5, 0.6)])
    errors = pair_spans([Span(0, 2, "NAME"), Span(3, 7, "ORG"), Span(7, 9, "TITLE")], [Span(3, 5, "ORG")])
    shown = _worst_sentence(sentence, prediction, errors, "")
    assert shown.text == "高勇任北京大学教授"
    assert [shown.text[s.start:s.end] for s in shown.gold] == ["高勇", "北京大学", "教授"]
    assert [(shown.text[s.start:s.end], s.score) for s in shown.predicted] == [("北京", 0.6)]
