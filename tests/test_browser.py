"""The pages in a real browser: headless Chromium (Debian's package, which `make test` installs
when it can) loads each page; we check the DOM it built and a screenshot of what it drew.
Skipped where there is no Chromium."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ner_bilstm.pages.marks import colours

from . import chromium
from .test_pages import HOSTILE

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "ner-bilstm"


@pytest.fixture(scope="module")
def browser() -> str:
    exe = chromium.find()
    if exe is None:
        pytest.skip("no Chromium here (make test installs Debian's chromium package where it can)")
    return exe


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """What `make demo` writes, into a temporary folder (the recipe itself, run by make)."""
    if not (ROOT / ".venv" / "bin").samefile(Path(sys.executable).parent):
        pytest.skip("make demo runs in the project's .venv; this suite runs elsewhere")
    target = tmp_path_factory.mktemp("demo") / "demo"
    done = subprocess.run(["make", "-s", "demo", f"DEMO={target}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def looked_at(browser: str, page: Path, tmp_path: Path, height: int = 1600):
    """The DOM Chromium built from ``page`` and a screenshot of it, checked not to be blank."""
    root = chromium.parse(chromium.dump_dom(browser, page, tmp_path / "profile"))
    png = chromium.screenshot(browser, page, tmp_path / "shot.png", tmp_path / "profile", height=height)
    drawn, distinct = chromium.drawn_share(png)
    assert drawn > 0.03 and distinct > 50, (drawn, distinct)
    return root, png


def test_make_demo_writes_a_report_that_shows_curves_tables_and_confusion(browser, demo, tmp_path):
    page = demo / "report.html"
    assert page.is_file()
    root, png = looked_at(browser, page, tmp_path, height=2400)
    curves = root.by_id("curves")
    assert curves is not None and len(list(curves.iter("svg"))) == 1
    assert sum(1 for p in curves.iter("path") if len(p.attrs.get("d", "")) > 40) >= 3  # the curves drawn, not only axes
    types = json.loads((demo / "config.json").read_text())["entity_types"]
    for table in ("scores-dev", "scores-test", "scores-source"):
        rows = [[c.text() for c in tr.iter("td")] for tr in root.by_id(table).iter("tr")][1:]
        assert [r[0] for r in rows] == [*types, "all types (micro)"], table
        assert all(0 <= float(v) <= 100 for r in rows for v in r[1:4])
    confusion = [[c.text() for c in tr.children if hasattr(c, "tag")] for tr in root.by_id("confusion").iter("tr")]
    assert confusion[0][1:] == [*types, "missed"] and [r[0] for r in confusion[1:]] == [*types, "spurious"]
    assert sum(int(confusion[i + 1][i + 1]) for i in range(len(types))) > 0  # the diagonal: entities found
    assert chromium.has_colour(png, "#2ca02c")  # the F1 curve, drawn by the browser


def test_predict_html_shows_every_entity_highlighted(browser, demo, tmp_path):
    text = ROOT / "data" / "sample" / "text.txt"
    page = tmp_path / "out.html"
    with page.open("w") as out:
        subprocess.run([EXE, "predict", "--model", demo, text, "--output-format", "html"], stdout=out, check=True, timeout=120)
    records = [json.loads(x) for x in subprocess.run([EXE, "predict", "--model", demo, text], capture_output=True, text=True,
                                                     check=True, timeout=120).stdout.splitlines()]
    root, png = looked_at(browser, page, tmp_path, height=1400)
    docs = root.with_class("doc")
    assert len(docs) == len(records) == sum(1 for line in text.read_text().splitlines() if line.strip())
    palette = colours(json.loads((demo / "config.json").read_text())["entity_types"])
    for doc, record in zip(docs, records):
        assert doc.with_class("text")[0].text(skip_class="lab") == record["text"]
        marks = [(m.text(skip_class="lab"), m.attrs["data-label"], m.attrs["style"]) for m in doc.iter("mark")]
        assert marks == [(e["text"], e["label"], f"background:{palette[e['label']]}") for e in record["entities"]]
    seen = {e["label"] for r in records for e in r["entities"]}
    # Each type's highlight is on screen below the header (whose legend shows every colour anyway).
    assert all(chromium.has_colour(png, palette[label], below=140) for label in seen)


def test_hostile_input_shows_as_text_and_never_runs(browser, tiny_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(HOSTILE) + "\n", encoding="utf-8")
    page = tmp_path / "hostile.html"
    with page.open("w") as out:
        subprocess.run([EXE, "predict", "--model", tiny_model, source, "--output-format", "html"], stdout=out, check=True, timeout=120)
    root, _ = looked_at(browser, page, tmp_path, height=600)
    assert not list(root.iter("script")) and not list(root.iter("img")) and len(list(root.iter("h1"))) == 1
    assert not any("data-pwned" in n.attrs for n in root.iter())
    assert [d.with_class("text")[0].text(skip_class="lab") for d in root.with_class("doc")] == HOSTILE
