"""Property tests of hostile input (hypothesis, bounded for CI):

- random streams of JSON lines (valid records, random bytes, deep nesting, lone surrogates,
  NaN/Infinity, huge numbers, huge objects, blank lines) through the console script (forked from
  a warm process, tests/forked.py): exit 0,
  one strict JSON line per non-blank input line, in order, every good record tagged exactly as
  when it is tagged alone;
- random mutations of config.json and vocab.json (types, signs, magnitudes, NaN, nesting)
  through ``load_model`` in a process under a 4 GiB address-space limit: the one-line error,
  or a model that tags.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import forked
from .strict import strict_records

EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))
MEMORY_LIMIT = 4 << 30

POOL = [
    b'{"id": 1, "text": "Anna Berg visited Paris on Monday ."}',
    b'{"id": "x", "tokens": ["John", "Smith", "joined", "Reuters"], "meta": {"n": [1, 2.5, null, true]}}',
    b'{"text": "Officials in Tokyo praised Li Wei . It was a quiet day .", "score": 0.10, "big": 1e999}',
    "{\"text\": \"Maria Lopez fährt nach Zürich 🚆 und 東京.\", \"k\": \"\\ud83d\\ude00\"}".encode(),
]


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def alone(tiny_model, tmp_path_factory) -> dict[bytes, bytes]:
    """Each pool record's output line when it is the whole input (one file each, tagged in turn)."""
    d = tmp_path_factory.mktemp("alone")
    paths = []
    for i, line in enumerate(POOL):
        paths.append(d / f"{i}.jsonl")
        paths[-1].write_bytes(line + b"\n")
    p = subprocess.run([EXE, "predict", "--model", str(tiny_model), *map(str, paths)], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = p.stdout.split(b"\n")[:-1]
    assert len(out) == len(POOL)
    return dict(zip(POOL, out))


def _nested(depth: int) -> bytes:
    return b'{"text": "Anna", "x": ' + b"[" * depth + b"]" * depth + b"}"


# (kind, line): kinds say what the output must be.
lines = st.one_of(
    st.sampled_from(POOL).map(lambda b: ("good", b)),
    st.binary(max_size=60).map(lambda b: ("random", b.replace(b"\n", b" "))),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")).map(lambda b: ("bad utf-8", b + b"\xff\xfe" + b)),
    st.integers(128, 3000).map(lambda n: ("error", _nested(n))),
    st.integers(1, 127).map(lambda n: ("tagged", _nested(n))),
    st.integers(0xD800, 0xDFFF).map(lambda c: ("error", b'{"id": 3, "text": "Paris \\u%04x"}' % c)),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b'{"a": Infinity}']).map(
        lambda v: ("error", b'{"text": "Anna", "v": ' + v + b"}")),
    st.one_of(st.integers(4000, 20000).map(lambda n: b"9" * n), st.sampled_from([b"1e999", b"-1E+400", b"0.1000", b"-0", b"2.50e-3"]))
    .map(lambda num: ("tagged", b'{"text": "Anna Berg", "n": ' + num + b"}")),
    st.integers(1000, 30000).map(lambda n: ("tagged", b'{"text": "Lima", ' + b", ".join(b'"k%d": %d' % (i, i) for i in range(n)) + b"}")),
    st.sampled_from([b"", b"   ", b"\t", b"\r", b" \t\r"]).map(lambda b: ("blank", b)),
    st.sampled_from(["\u3000", "\u2028", "\x0c", "\x1c", "\x85"]).map(lambda c: ("error", c.encode())),
)


def _blank(raw: bytes, first: bool) -> bool:
    """Blank: nothing but JSON's own whitespace (after a byte-order mark on the first line)."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return not raw.strip(b" \t\r")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(lines, min_size=1, max_size=10))
def test_a_hostile_stream_never_ends_early(tiny_model, alone, stream):
    body = b"".join(raw + b"\n" for _, raw in stream)
    p = forked.run([EXE, "predict", "--model", str(tiny_model), "--input-format", "jsonl"], input=body, timeout=300,
                   memory_limit=MEMORY_LIMIT)
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr[-2000:]
    records = strict_records(p.stdout)
    raw_out = p.stdout.split(b"\n")[:-1]
    expected = [(n, kind, raw) for n, (kind, raw) in enumerate(stream, 1) if not _blank(raw, n == 1)]
    assert len(records) == len(expected), (len(records), len(expected))
    for (n, kind, raw), record, out in zip(expected, records, raw_out):
        if kind == "good":
            assert out == alone[raw]  # tagged exactly as when alone
        elif kind == "tagged":
            assert "entities" in record and "error" not in record, record.get("error")
            number = raw.split(b'"n": ')[-1][:-1] if b'"n": ' in raw else None
            assert number is None or b'"n": ' + number + b"," in out  # digit for digit
        elif kind in ("error", "bad utf-8"):
            assert record["line"] == n and record["error"], record
        else:  # random bytes: an error record for its line, or (rarely) a record that was valid
            assert record.get("line") == n if "error" in record else "entities" in record


# Mutations of the model directory's JSON files.
RAW = "\u0000raw:"  # a string value replaced by raw JSON text after dumping (NaN, 1e999, deep nesting)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3),
    st.sampled_from([-1, 0, 2**31, 2**63, 10**8, 10**12, 10**400, -(10**9), 8192, 8193, 4096]),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=6),
    st.lists(st.integers(-2, 2), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["crf", "softmax", "gru", "lstm", "cnn", "none", "iob2", "bioes", "char", "word", "O", "B-PER", "<unk>",
                     "\ud800", RAW + "NaN", RAW + "-Infinity", RAW + "1e999", RAW + "9" * 5000, RAW + "[" * 500 + "]" * 500]),
)
operations = st.sampled_from(["replace", "negate", "scale", "delete", "truncate", "extend", "shuffle"])


def _containers(obj, path=()):
    """Every (path, value) inside ``obj``: the places a mutation can hit."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _containers(v, (*path, k))
    elif isinstance(obj, list) and obj:
        for i in sorted({0, min(1, len(obj) - 1), len(obj) // 2, len(obj) - 1}):
            yield from _containers(obj[i], (*path, i))


def _mutate(obj, rng: random.Random, op: str, value):
    targets = [p for p, _ in _containers(obj) if p]
    path = rng.choice(targets)
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key, old = path[-1], parent[path[-1]]
    if op == "delete":
        del parent[key]
    elif op == "negate" and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[key] = -old
    elif op == "scale" and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[key] = old * rng.choice([10, 1000, 10**6, 10**9])
    elif op == "truncate" and isinstance(old, list):
        parent[key] = old[: rng.randrange(len(old) + 1)]
    elif op == "extend" and isinstance(old, list):
        parent[key] = old + [value] * rng.choice([1, 2, 5000])
    elif op == "shuffle" and isinstance(old, list):
        parent[key] = rng.sample(old, len(old))
    else:
        parent[key] = value


def _dump(obj) -> str:
    text = json.dumps(obj)  # ASCII: a lone surrogate becomes the escape a hostile file would hold
    while '"\\u0000raw:' in text:
        start = text.index('"\\u0000raw:')
        end = text.index('"', start + 1)
        text = text[:start] + json.loads(text[start:end + 1])[len(RAW):] + text[end + 1:]
    return text


@pytest.fixture(scope="module")
def loader(tiny_model):
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("load_worker.py")), str(tiny_model / "model.safetensors")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=limit_memory)
    config = json.loads((tiny_model / "config.json").read_text())
    vocab = json.loads((tiny_model / "vocab.json").read_text())

    def load(config_text: str, vocab_text: str) -> dict:
        worker.stdin.write(json.dumps({"config": config_text, "vocab": vocab_text}) + "\n")
        worker.stdin.flush()
        answer = worker.stdout.readline()
        assert answer, f"the loading process died (exit {worker.poll()})"
        return json.loads(answer)

    yield load, config, vocab
    worker.stdin.close()
    worker.wait(timeout=60)


def test_the_unmutated_directory_loads(loader):
    load, config, vocab = loader
    assert load(json.dumps(config), json.dumps(vocab)) == {"outcome": "ok"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["config", "vocab"]), operations, values), min_size=1, max_size=3), st.randoms())
def test_a_mutated_model_directory_loads_or_is_refused_in_one_line(loader, mutations, rng):
    load, config, vocab = loader
    files = {"config": json.loads(json.dumps(config)), "vocab": json.loads(json.dumps(vocab))}
    for name, op, value in mutations:
        _mutate(files[name], rng, op, value)
    answer = load(_dump(files["config"]), _dump(files["vocab"]))
    assert answer["outcome"] in ("ok", "refused"), answer.get("error")
    if answer["outcome"] == "refused":
        assert answer["one_line"] and answer["names_file"], answer

