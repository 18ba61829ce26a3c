"""predict as a Unix tool, through the real console script in subprocesses."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))

MEASURE = """
import resource, subprocess, sys
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    code = subprocess.run(sys.argv[3:], stdin=src, stdout=dst).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_run(model, source: Path, target: Path, fmt: str = "jsonl") -> tuple[int, int]:
    """Exit code and peak RSS (KiB) of one `predict` run reading ``source`` on stdin."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(source), str(target), EXE, "predict", "--model", str(model),
                          "--output-format", fmt], capture_output=True, text=True, timeout=600)
    code, rss = out.stdout.split()
    return int(code), int(rss)


def write_lines(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "text": "Anna Berg visited Paris on Monday ."}) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "html"])
def test_a_long_stream_keeps_order_with_flat_memory(tiny_model, tmp_path, fmt):
    small, large = write_lines(tmp_path / "10k.jsonl", 10_000), write_lines(tmp_path / "50k.jsonl", 50_000)
    code_s, rss_small = peak_rss_run(tiny_model, small, tmp_path / "s.out", fmt)
    code_l, rss_large = peak_rss_run(tiny_model, large, tmp_path / "l.out", fmt)
    assert code_s == 0 and code_l == 0
    if fmt == "jsonl":
        ids = [json.loads(line)["id"] for line in (tmp_path / "l.out").open()]
    else:  # one page: a block per line showing its input line number, in order, then the summary
        page = (tmp_path / "l.out").read_text(encoding="utf-8")
        ids = [int(n) - 1 for n in re.findall(r'^<div class="doc" id="doc-\d+"><span class="ln">(\d+)</span>', page, re.M)]
        assert page.rstrip().endswith("</html>") and "50,000 documents" in page
    assert ids == list(range(50_000))
    # Five times the input, the same memory: bounded by the window, not by the input size.
    assert rss_large < rss_small * 1.15 + 20_000, (rss_small, rss_large)


def test_mixed_good_and_bad_lines_give_one_output_line_each(tiny_model):
    lines = ['{"id": 1, "text": "Anna Berg"}', "not json", "[1, 2]", '{"id": 4}', '{"id": 5, "tokens": ["Paris"]}',
             '{"id": 6, "text": 7}', "", '{"id": 8, "text": ""}']
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), "--input-format", "jsonl"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 7  # the blank line is not a document
    assert [("error" in o) for o in out] == [False, True, True, True, False, True, False]
    assert [o.get("line") for o in out if "error" in o] == [2, 3, 4, 6]
    assert out[3]["id"] == 4 and out[6] == {"id": 8, "text": "", "entities": []}


def test_pass_through_fields_and_unicode_survive_as_json_values(tiny_model):
    records = [
        {"id": "ü-1", "text": "Anna Berg fährt nach Zürich 🚆 und 東京.", "meta": {"nested": [1, 2.5, None, True, {"k": "v"}]},
         "big": 12345678901234567890, "float": 1.5e-10, "empty": {}},
        {"tokens": ["Li", "Wei", "ﬁ", "e\u0301"], "score": -0.0, "tags_in": ["x"]},
    ]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model)], input=body.encode(), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.decode("utf-8").splitlines()]
    for original, got in zip(records, out):
        assert list(got)[: len(original)] == list(original)  # key order kept
        for key, value in original.items():
            assert json.dumps(got[key], sort_keys=True) == json.dumps(value, sort_keys=True)
        for e in got["entities"]:
            if "start" in e:
                assert original["text"][e["start"] : e["end"]] == e["text"]


def test_head_ends_the_pipe_quietly(tiny_model, tmp_path):
    source = write_lines(tmp_path / "in.jsonl", 20_000)
    p = subprocess.run(f"'{EXE}' predict --model '{tiny_model}' < '{source}' | head -n 3", shell=True,
                       capture_output=True, text=True, timeout=300)
    assert len(p.stdout.splitlines()) == 3
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr and "Exception" not in p.stderr, p.stderr


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_ctrl_c_stops_cleanly_with_whole_lines(tiny_model, tmp_path):
    source = write_lines(tmp_path / "in.jsonl", 300_000)
    target = tmp_path / "out.jsonl"
    with source.open("rb") as src, target.open("wb") as dst:
        # As from a terminal: a suite started as a background job (`make test &`) has SIGINT
        # ignored, which children inherit and Python keeps, so predict would never see the signal.
        proc = subprocess.Popen([EXE, "predict", "--model", str(tiny_model)], stdin=src, stdout=dst, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while target.stat().st_size == 0 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    lines = target.read_text(encoding="utf-8").splitlines()
    assert 0 < len(lines) < 300_000
    assert [json.loads(x)["id"] for x in lines] == list(range(len(lines)))


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigterm_exits_130_and_leaves_no_partial_output_file(tiny_model, tmp_path):
    """A slow input (a FIFO held open): SIGTERM while predict waits for more must exit 130, like
    Ctrl-C, and leave neither --output nor its temporary file behind."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([EXE, "predict", "--model", str(tiny_model), str(fifo), "--output", str(tmp_path / "out.jsonl")],
                            stderr=subprocess.PIPE)
    with fifo.open("w") as writer:
        writer.write('{"text": "Anna Berg"}\n')
        writer.flush()
        time.sleep(3)  # torch imported, the model loaded, the line read: predict waits for the next
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and b"Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fifo"]


def test_nbest_and_min_score(tiny_model):
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), "--nbest", "3"],
                       input='{"text": "Anna Berg visited Paris."}\n', capture_output=True, text=True, timeout=120)
    record = json.loads(p.stdout)
    (alternatives,) = record["nbest"]
    probs = [a["probability"] for a in alternatives]
    assert len(alternatives) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), "--min-score", "1.0"],
                       input='{"text": "Anna Berg visited Paris."}\n', capture_output=True, text=True, timeout=120)
    assert json.loads(p.stdout)["entities"] == []


def test_several_files_with_an_output_dir(tiny_model, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.jsonl"
    a.write_text("Anna Berg visited Paris.\nJohn Smith joined Reuters.\n")
    b.write_text('{"text": "Li Wei"}\n')
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), str(a), str(b), "--output-dir", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert len((tmp_path / "out" / "a.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "out" / "b.jsonl").read_text())["text"] == "Li Wei"


def test_very_long_lines_are_tagged_in_pieces_with_exact_offsets(tiny_model):
    text = " ".join(["Anna Berg visited Paris on Monday ,"] * 300)  # one 2,100-token sentence
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), "--with-tags"], input=json.dumps({"text": text}) + "\n",
                       capture_output=True, text=True, timeout=120)
    record = json.loads(p.stdout)
    assert len(record["tokens"]) == len(record["tags"]) == 2100
    assert record["entities"]
    for e in record["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]


def test_each_line_is_answered_before_the_input_ends(tiny_model):
    proc = subprocess.Popen([EXE, "predict", "--model", str(tiny_model)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    watchdog = threading.Timer(60, proc.kill)  # a regression must fail the test, not hang it
    watchdog.start()
    try:
        for i in range(3):
            proc.stdin.write(json.dumps({"id": i, "text": "Anna Berg visited Paris."}) + "\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == i  # would block forever if output waited for a full batch
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        watchdog.cancel()
    assert proc.returncode == 0
