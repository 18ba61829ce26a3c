"""Hostile and broken input through the real console script (and the Python library), every case
in its own process under a 4 GiB address-space limit: one line on stderr and exit 1, or handled
correctly; never a traceback, never a partial output file, never an allocation the input size does
not justify. Cases fork from a warm process (tests/forked.py) unless they set the environment."""

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ner_bilstm.schemes import label_set

from . import forked
from .strict import strict_records

EXE = shutil.which("ner-bilstm", path=str(Path(sys.executable).parent))
MEMORY_LIMIT = 4 << 30  # bytes of address space for every case
SMALL = ["--epochs", "1", "--hidden", "16", "--word-dim", "16", "--char-dim", "8", "--batch-size", "16"]
GOOD = "Anna B-PER\nBerg I-PER\nvisited O\nParis B-LOC\n.\tO\n\nJohn B-PER\nleft O\n\n"
DEEP = b"[" * 100_000 + b"]" * 100_000


def train_case(files: dict[str, bytes | str], *extra: str):
    """(args, files): train on train.txt/dev.txt (GOOD unless given)."""
    return ["train", "--train", "{d}/train.txt", "--dev", "{d}/dev.txt", "--output", "{d}/out", *SMALL, *extra], \
        {"train.txt": GOOD, "dev.txt": GOOD, **files}


def jsonl_train_case(content: bytes | str) -> tuple[list[str], dict[str, bytes | str]]:
    """(args, files): train on a JSON-lines file."""
    return ["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out", *SMALL], \
        {"t.jsonl": content, "dev.txt": GOOD}


def junk_weights(d: Path, model: Path) -> None:
    torch.save({"x": torch.zeros(3)}, d / "m" / "model.safetensors")


def reshaped_weights(d: Path, model: Path) -> None:
    state = load_file(str(model / "model.safetensors"))
    state["projection.weight"] = torch.zeros(3, 3)
    save_file(state, str(d / "m" / "model.safetensors"))


def edit_weights(change):
    def apply(d: Path, model: Path) -> None:
        state = load_file(str(model / "model.safetensors"))
        change(state)
        save_file(state, str(d / "m" / "model.safetensors"))
    return apply


def write_weights_bytes(data: bytes):
    def apply(d: Path, model: Path) -> None:
        (d / "m" / "model.safetensors").write_bytes(data)
    return apply


def edit_json(name: str, change):
    def apply(d: Path, model: Path) -> None:
        path = d / "m" / name
        obj = json.loads(path.read_text())
        change(obj)
        path.write_text(json.dumps(obj))
    return apply


def edit_config(change):
    return edit_json("config.json", change)


def edit_vocab(change):
    return edit_json("vocab.json", change)


def edit_model(**values):
    return edit_config(lambda c: c["model"].update(values))


def raw_config(transform):
    """Rewrite config.json's text, for what json.dumps cannot write (NaN literals, huge nesting)."""
    def apply(d: Path, model: Path) -> None:
        path = d / "m" / "config.json"
        path.write_bytes(transform(path.read_bytes()))
    return apply


OLD = {
    # training data
    "missing file": (["train", "--train", "{d}/missing.txt", "--dev", "{d}/dev.txt", "--output", "{d}/out"], {"dev.txt": GOOD},
                     "error", "missing.txt: no such file"),
    "directory instead of file": (["train", "--train", "{d}", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                                  {"dev.txt": GOOD}, "error", "no parquet or arrow files"),
    "latin-1 bytes": (*train_case({"train.txt": GOOD.replace("Paris", "Zürich").encode("latin-1")}), "error",
                      "not valid utf-8 text"),
    "latin-1 with --encoding": (*train_case({"train.txt": GOOD.replace("Paris", "Zürich").encode("latin-1"),
                                             "dev.txt": GOOD.encode("latin-1")}, "--encoding", "latin-1"), "ok", None),
    "byte-order mark": (*train_case({"train.txt": "\ufeff" + GOOD}), "ok", None),
    "NUL bytes": (*train_case({"train.txt": GOOD.replace("Berg", "Be\x00rg")}), "error", "NUL byte"),
    "empty file": (*train_case({"train.txt": ""}), "error", "has no sentences"),
    "only DOCSTART": (*train_case({"train.txt": "-DOCSTART- O\n\n\n-DOCSTART- O\n"}), "error", "has no sentences"),
    "CRLF and trailing spaces": (*train_case({"train.txt": GOOD.replace("\n", "  \r\n")}), "ok", None),
    "mixed tabs and spaces": (*train_case({"train.txt": GOOD.replace(" ", "\t", 2)}), "ok", None),
    "wrong column count": (*train_case({"train.txt": GOOD + "x y B-PER\n"}), "error", "expected 2 columns, found 3"),
    "tag valid in no scheme": (*train_case({"train.txt": GOOD + "x PERSON\n"}), "error", "not valid in any scheme"),
    "no entities in training": (*train_case({"train.txt": "a O\nb O\n"}), "error", "has no entities"),
    "no entities in dev": (*train_case({"dev.txt": "a O\nb O\n"}), "error", "dev set has no entities"),
    "dev labels unseen in training": (*train_case({"dev.txt": GOOD + "Acme B-ORG\n"}), "ok", "ORG 1"),
    "10,000-token sentence": (*train_case({"train.txt": GOOD + "".join(f"w{i} O\n" for i in range(10_000))}), "ok", None),
    "a megabyte-long token": (*train_case({"train.txt": GOOD + "x" * 1_000_000 + " O\n"}), "ok", None),
    "JSON line not an object": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                                {"t.jsonl": '[1, 2]\n', "dev.txt": GOOD}, "error", "t.jsonl:1: expected a JSON object"),
    "JSON line not JSON": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                           {"t.jsonl": '{"tokens": [\n', "dev.txt": GOOD}, "error", "t.jsonl:1: not valid JSON"),
    "JSON line tag count": (["train", "--train", "{d}/t.jsonl", "--dev", "{d}/dev.txt", "--output", "{d}/out"],
                            {"t.jsonl": '{"tokens": ["a"], "tags": ["O", "O"]}\n', "dev.txt": GOOD}, "error",
                            "1 tokens but 2 tags"),
    "unknown TOML key": (*train_case({"c.toml": "hiddden = 3\n"}, "--config", "{d}/c.toml"), "error", "unknown option 'hiddden'"),
    "broken TOML": (*train_case({"c.toml": "hidden = = 3\n"}, "--config", "{d}/c.toml"), "error", "not valid TOML"),
    "wrong TOML type": (*train_case({"c.toml": "hidden = 'big'\n"}, "--config", "{d}/c.toml"), "error", "hidden must be a int"),
    # model directories
    "model directory missing": (["predict", "--model", "{d}/nowhere"], {}, "error", "model directory not found"),
    "pickle instead of weights": (["predict", "--model", "{d}/m"], junk_weights, "error", "not a valid safetensors file"),
    "weights of the wrong shape": (["predict", "--model", "{d}/m"], reshaped_weights, "error", "projection.weight has shape"),
    "config not JSON": (["predict", "--model", "{d}/m"], lambda d, m: (d / "m" / "config.json").write_text("{"),
                        "error", "not valid JSON"),
    "config value of the wrong type": (["predict", "--model", "{d}/m"], edit_config(lambda c: c["model"].update(hidden="big")),
                                       "error", "'model.hidden' has the wrong type"),
    "config key missing": (["predict", "--model", "{d}/m"], edit_config(lambda c: c.pop("train_scheme")),
                           "error", "missing key 'train_scheme'"),
    "newer model format": (["predict", "--model", "{d}/m"], edit_config(lambda c: c.update(format_version=99)),
                           "error", "newer than this ner-bilstm reads"),
    # predict input and output
    "output into a missing folder": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/no/such/out.jsonl"],
                                     {"in.txt": "Anna Berg\n"}, "error", "the folder does not exist"),
    "binary junk as text": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/out.jsonl"],
                            {"in.txt": bytes(range(256)) * 4}, "error", "not valid utf-8"),
    "a 2 MB line": (["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/out.jsonl"],
                    {"in.txt": ("Anna Berg visited Paris , " * 80_000) + "\n"}, "ok", None),
    "evaluate with labels the model never saw": (["evaluate", "--model", "{model}", "{d}/gold.txt", "--format", "json"],
                                                 {"gold.txt": GOOD + "Acme B-PROD\nCorp I-PROD\n"}, "ok",
                                                 "entity types the model was not trained on (PROD 1); they count as misses"),
}




@dataclass
class Case:
    """One hostile input: ``args`` for the console script (``{d}``: the case's folder, ``{model}``:
    a trained model), or Python code for the library when ``api`` is set. ``error``: the expected
    one-line message (exit ``code``: 1 for bad data, 2 for a bad command line); else the run must
    succeed, ``expect`` appear in its output and ``check`` accept its stdout."""

    args: list[str]
    files: dict[str, bytes | str] | Callable[[Path, Path], None] = field(default_factory=dict)
    error: str | None = None
    expect: str | None = None
    stdin: bytes | None = None
    env: dict[str, str] | None = None
    check: Callable[[bytes], None] | None = None
    api: bool = False
    code: int = 1


def model_dir(change, *command: str, error: str, code: int = 1) -> Case:
    """A copy of the trained model, changed by ``change``, given to ``command`` (predict by default)."""
    return Case(list(command or ["predict"]) + ["--model", "{d}/m"], change, error=error, code=code)


GOOD_LINE = b'{"id": "first", "text": "Anna Berg visited Paris ."}'
LAST_LINE = b'{"id": "last", "tokens": ["John", "Smith", "left", "Lima"]}'


def stream(hostile: bytes, error: str | None = None, keep: bytes | None = None, *extra: str) -> Case:
    """predict reads a good line, the hostile one and a good line: three strict JSON lines come
    back, the good ones tagged; the middle one an error record holding ``error`` at line 2, or a
    tagged record whose raw text holds ``keep``."""
    def check(out: bytes) -> None:
        records = strict_records(out)
        assert len(records) == 3, out[:500]
        first, middle, last = records
        assert first["id"] == "first" and "entities" in first and last["id"] == "last" and "entities" in last
        if error is not None:
            assert middle["line"] == 2 and error in middle["error"], middle
        else:
            assert "entities" in middle and "error" not in middle, middle
            assert keep is None or keep in out.split(b"\n")[1], out.split(b"\n")[1][:300]
    body = b"\n".join([GOOD_LINE, hostile, LAST_LINE]) + b"\n"
    return Case(["predict", "--model", "{model}", "--input-format", "jsonl", *extra], stdin=body, check=check)


def api(code: str, files: dict[str, bytes | str] | Callable[[Path, Path], None] | None = None, *,
        error: str | None = None, expect: str | None = None) -> Case:
    """Library code in a fresh interpreter; a NerError becomes the one-line error, anything else a traceback."""
    return Case([code], files or {}, error=error, expect=expect, api=True)


API_PROGRAM = """
import sys
from ner_bilstm.errors import NerError
try:
{body}
except NerError as e:
    print(f"error: {{e}}", file=sys.stderr)
    sys.exit(1)
"""

LATIN1 = {"PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}
CJK_LINE = '{"id": 1, "text": "Anna Berg fährt nach 東京 🚆."}\n'.encode()
NAN_CONFIG = raw_config(lambda b: b.replace(b'"dropout": 0.5', b'"dropout": NaN'))


def utf8_jsonl(out: bytes) -> None:
    (record,) = strict_records(out)
    assert "東京" in record["text"] and "🚆" in record["text"]


def many_labels(d: Path, model: Path) -> None:
    """A model directory whose CRF has 4,093 tags (1,023 types in BIOES) and weights to match."""
    labels = label_set([f"T{i}" for i in range(1023)], "bioes")
    state = load_file(str(model / "model.safetensors"))
    n, width = len(labels), state["projection.weight"].shape[1]
    state.update({"projection.weight": torch.randn(n, width), "projection.bias": torch.zeros(n), "crf.transitions": torch.randn(n, n),
                  "crf.start_transitions": torch.zeros(n), "crf.end_transitions": torch.zeros(n)})
    save_file(state, str(d / "m" / "model.safetensors"))
    edit_vocab(lambda v: v.update(labels=labels))(d, model)


def utf8_conversion(out: bytes) -> None:
    assert strict_records(out) == [{"tokens": ["東京", "🚆"], "tags": ["B-LOC", "O"]}]


def hostile_api_lines(d: Path, model: Path) -> None:
    (d / "in.jsonl").write_bytes(b"\n".join([GOOD_LINE, DEEP, b'{"text": "a\\udc00"}', b"caf\xe9", LAST_LINE]))


MORE = {
    # predict: a hostile JSON line is one error record, and the stream goes on
    "a key twice in one JSON line": stream(b'{"id": 2, "text": "Anna", "text": "Berg"}', '"text": appears twice in the object'),
    "JSON line nested 100,000 levels deep": stream(b'{"id": 2, "x": ' + DEEP + b"}", "nested deeper than 128 levels"),
    "lone surrogate escape in the text": stream(b'{"id": 2, "text": "Paris \\ud800 nice"}', "unpaired surrogate \\ud800"),
    "lone surrogate escape in a pass-through key": stream(b'{"id": 2, "\\udfff": 1, "text": "a"}', "unpaired surrogate in a key"),
    "undecodable bytes in one JSON line": stream(b'{"id": 2, "text": "caf\xe9"}', "not valid utf-8 text"),
    "NaN in a pass-through field": stream(b'{"id": 2, "text": "a", "x": NaN}', '"x": NaN is not a JSON number'),
    "Infinity in a pass-through field": stream(b'{"id": 2, "text": "a", "x": [1, Infinity]}', "Infinity is not a JSON number"),
    "-Infinity in a pass-through field": stream(b'{"id": 2, "text": "a", "x": -Infinity}', "-Infinity is not a JSON number"),
    "1e999 passes through digit for digit": stream(b'{"id": 2, "text": "a", "z": 1e999}', keep=b'"z": 1e999,'),
    "a 5,000-digit integer passes through": stream(b'{"id": 2, "text": "a", "n": ' + b"7" * 5000 + b"}",
                                                   keep=b'"n": ' + b"7" * 5000 + b","),
    "0.10, -0, 1E5 and a 40-digit integer kept": stream(b'{"text": "a", "f": [0.10, -0, 1E5, ' + b"1" * 40 + b"]}",
                                                        keep=b'"f": [0.10, -0, 1E5, ' + b"1" * 40 + b"]"),
    "nesting at the limit (128 levels)": stream(b'{"text": "a", "x": ' + b"[" * 127 + b"]" * 127 + b"}", keep=b"[[[["),
    "nesting one level past the limit": stream(b'{"text": "a", "x": ' + b"[" * 128 + b"]" * 128 + b"}", "nested deeper than 128"),
    "an object of 100,000 keys": stream(b'{"text": "a", ' + b", ".join(b'"k%d": %d' % (i, i) for i in range(100_000)) + b"}",
                                        keep=b'"k99999": 99999'),
    "NUL and control characters escaped in the text": stream(b'{"id": 2, "text": "Anna\\u0000Berg\\u001b[31m"}', keep=b"\\u0000"),
    "an input key named error": stream(b'{"error": "mine", "text": "Bob"}', '"error" is reserved for error records'),
    "an input key named line": stream(b'{"line": 99, "text": "Bob"}', keep=b'{"line": 99, "text": "Bob", "entities": '),
    "a line of Unicode whitespace": stream("\u3000\u2028".encode(), "not valid JSON"),
    "--strict stops at a deep line": Case(["predict", "--model", "{model}", "--strict"], stdin=GOOD_LINE + b"\n" + DEEP + b"\n",
                                          error="-:2: nested deeper than 128 levels"),
    "UTF-8 output under a latin-1 locale": Case(["predict", "--model", "{model}"], stdin=CJK_LINE, env=LATIN1, check=utf8_jsonl),
    "text that decodes to a lone surrogate": Case(["predict", "--model", "{model}", "{d}/in.txt", "--encoding", "unicode_escape"],
                                                  {"in.txt": "Anna Berg\nParis \\ud800 nice\n"},
                                                  error="in.txt:2: decodes to an unpaired surrogate \\ud800 at character 7"),
    "a codec that is not a text encoding": Case(["predict", "--model", "{model}", "{d}/in.txt", "--encoding", "rot13"],
                                                {"in.txt": "Anna Berg\n"}, error="'rot13' is not a text encoding", code=2),
    "a 4,093-label model under the memory limit": Case(["predict", "--model", "{d}/m"], many_labels,
                                                       stdin=b'{"text": "Anna Berg visited Paris ."}\n', expect='"entities": ['),
    "CoNLL input in latin-1": Case(["predict", "--model", "{model}", "{d}/in.conll", "--input-format", "conll"],
                                   {"in.conll": "Zürich\n".encode("latin-1")},
                                   error="in.conll:1: not valid utf-8 text (invalid start byte at byte 2); pass --encoding"),
    # training data
    "training JSON line nested 100,000 deep": Case(*jsonl_train_case(b'{"tokens": ' + DEEP + b"}\n"),
                                                   error="nested deeper than 128 levels"),
    "training token with a lone surrogate": Case(*jsonl_train_case('{"tokens": ["\\ud83d"], "tags": ["O"]}\n'),
                                                 error="t.jsonl:1: \"tokens\": unpaired surrogate"),
    "training JSON line with NaN": Case(*jsonl_train_case('{"tokens": ["a"], "tags": ["O"], "w": NaN}\n'),
                                        error="t.jsonl:1: \"w\": NaN is not a JSON number"),
    "rich markup in an entity type": Case(*train_case({"train.txt": GOOD + "Acme B-[/x]\n\n"}), expect="[/x]"),
    "--hidden 100000000": Case(*train_case({}, "--hidden", "100000000"), error="--hidden: hidden must be at most 8,192, not 100,000,000",
                               code=2),
    "--layers 1000000": Case(*train_case({}, "--layers", "1000000"), error="--layers: layers must be at most 32", code=2),
    "unknown option value": Case(*train_case({}, "--head", "lstm"), error="'--head': 'lstm' is not one of 'crf', 'softmax'", code=2),
    "convert to an unknown scheme": Case(["convert", "{d}/in.txt", "{d}/out.txt", "--to-scheme", "iob3"], {"in.txt": GOOD},
                                         error="'iob3' is not one of", code=2),
    "embeddings holding NaN": Case(*train_case({"vec.txt": "anna 0.1 0.2\nparis nan 0.3\n"}, "--embeddings", "{d}/vec.txt"),
                                   error="vec.txt:2: a value is NaN or too large for float32"),
    "unknown encoding": Case(*train_case({}, "--encoding", "utf-99"), error="--encoding: encoding must name a text encoding that "
                             "lines can be read in (unknown encoding 'utf-99')", code=2),
    "predict in UTF-16": Case(["predict", "--model", "{model}", "{d}/in.txt", "--encoding", "utf-16"],
                              {"in.txt": "Anna Berg\nParis\n".encode("utf-16")},
                              error="'utf-16' does not read the byte \\n as a line break", code=2),
    # model directories: refused before anything is allocated
    "config: hidden 10^8": model_dir(edit_model(hidden=10**8), error="config.json: hidden must be at most 8,192"),
    "config: char_filters 10^7": model_dir(edit_model(char_filters=10**7), error="char_filters must be at most 4,096"),
    "config: word_dim 10^9": model_dir(edit_model(word_dim=10**9), error="word_dim must be at most 8,192"),
    "config: layers 10^6": model_dir(edit_model(layers=10**6), error="layers must be at most 32"),
    "config: hidden in bounds, not the weights'": model_dir(edit_model(hidden=8000),
                                                           error="config.json model.hidden = 8000 gives (32000, 82)"),
    "config: 32 layers, weights of 1": model_dir(edit_model(layers=32), error="model.layers = 32, but the weights are for layers = 1"),
    "config: the other head": model_dir(edit_model(head="softmax"), error='model.head = "softmax", but the weights are for head = "crf"'),
    "config: negative dimension": model_dir(edit_model(casing_dim=-8), error="casing_dim must be at least 1, not -8"),
    "config: NaN dropout": model_dir(NAN_CONFIG, error="config.json: not valid JSON: \"model\": NaN is not a JSON number"),
    "config: a 5,000-digit integer": model_dir(raw_config(lambda b: b.replace(b'"layers": 1', b'"layers": ' + b"9" * 5000)),
                                               error="an integer of 5,000 digits is too large"),
    "config: nested 100,000 deep": model_dir(raw_config(lambda b: b.replace(b'"format_version"', b'"x": ' + DEEP + b', "format_version"')),
                                             error="config.json: not valid JSON: nested deeper than 128 levels"),
    "config: unknown train scheme": model_dir(edit_config(lambda c: c.update(train_scheme="iob9")), error="train_scheme must be one of"),
    "config: unknown tokenization": model_dir(edit_config(lambda c: c.update(tokenization="bytes")), error="tokenization must be one of"),
    "config: max_word_chars -1": model_dir(edit_config(lambda c: c["training"].update(max_word_chars=-1)),
                                           error="max_word_chars must be at least 1"),
    "config: not UTF-8": model_dir(raw_config(lambda b: b.replace(b'"crf"', b'"\xff"')), error="config.json: not valid JSON: not UTF-8"),
    "vocab: words not strings": model_dir(edit_vocab(lambda v: v["words"].__setitem__(5, 5)), error="words must be a list of strings"),
    "vocab: a duplicate word": model_dir(edit_vocab(lambda v: v["words"].__setitem__(5, v["words"][6])), error="duplicate entries"),
    "vocab: a label of another scheme": model_dir(edit_vocab(lambda v: v["labels"].__setitem__(1, "M-PER")),
                                                  error="labels are not the BIOES tag set of their types (check B-LOC, M-PER)"),
    "vocab: no unknown-word entry": model_dir(edit_vocab(lambda v: v["words"].__setitem__(1, "<unknown>")),
                                              error="words must start with '<pad>' and '<unk>'"),
    "vocab: a type without its S- tag": model_dir(edit_vocab(lambda v: v["labels"].remove("S-PER")),
                                                  error="labels are not the BIOES tag set of their types (check S-PER)"),
    "config: heads that cannot divide, two keys off": model_dir(edit_model(heads=3, casing=False, layers=2),
                                                                error="the weights are not those of the network config.json"),
    "vocab: one word more than the weights": model_dir(edit_vocab(lambda v: (v["words"].append("zz"), v["word_counts"].append(1))),
                                                       error="vocab.json's"),
    "vocab: 100,000 labels": model_dir(edit_vocab(lambda v: v.update(labels=["O"] + [f"S-T{i}" for i in range(100_000)])),
                                       error="labels must hold 1 to 4,096 tags, not 100,001"),
    "vocab: word counts misaligned": model_dir(edit_vocab(lambda v: v["word_counts"].pop()), error="word_counts must hold one count"),
    "weights holding NaN": model_dir(edit_weights(lambda s: s["projection.bias"].fill_(float("nan"))),
                                     error="weight projection.bias holds NaN or infinite values"),
    "weights as integers": model_dir(edit_weights(lambda s: s.update({"projection.bias": s["projection.bias"].long()})),
                                     error="weight projection.bias has dtype I64"),
    "truncated weights file": model_dir(lambda d, m: (d / "m" / "model.safetensors").write_bytes(
        (m / "model.safetensors").read_bytes()[:5000]), error="not a valid safetensors file"),
    "weights header claiming 2^60 bytes": model_dir(write_weights_bytes(struct.pack("<Q", 1 << 60) + b"{}"),
                                                    error="not a valid safetensors file"),
    "evaluate with an inflated model": Case(["evaluate", "--model", "{d}/m", "{d}/gold.txt"], edit_model(hidden=10**8),
                                            error="hidden must be at most"),
    "evaluate on gold JSON lines nested deep": Case(["evaluate", "--model", "{model}", "{d}/gold.jsonl"],
                                                    {"gold.jsonl": b'{"tokens": ["Anna"], "tags": ["B-PER"]}\n{"x": ' + DEEP + b"}\n"},
                                                    error="gold.jsonl:2: nested deeper than 128 levels"),
    "evaluate on gold JSON lines with a lone surrogate": Case(["evaluate", "--model", "{model}", "{d}/gold.jsonl"],
                                                              {"gold.jsonl": '{"tokens": ["\\udc00"], "tags": ["O"]}\n'},
                                                              error='gold.jsonl:1: "tokens": unpaired surrogate'),
    "info with an inflated model": model_dir(edit_model(word_dim=10**9), "info", error="word_dim must be at most"),
    "info with metrics.json not JSON": model_dir(lambda d, m: (d / "m" / "metrics.json").write_text("{"), "info",
                                                 error="metrics.json: not valid JSON"),
    "info with a string F1": model_dir(edit_json("metrics.json", lambda x: x["dev"]["micro"].update(f1="high")), "info",
                                       error="metrics.json: key 'dev.micro.f1' has the wrong type"),
    "info with a malformed embeddings record": model_dir(edit_config(lambda c: c.update(embeddings={"dim": "big"})), "info",
                                                         error="key 'embeddings.dim' has the wrong type"),
    # convert and info on data
    "convert a JSON line nested 100,000 deep": Case(["convert", "{d}/in.jsonl", "{d}/out.txt"], {"in.jsonl": b'{"tokens": ' + DEEP + b"}"},
                                                    error="in.jsonl:1: nested deeper than 128 levels"),
    "convert a token with a lone surrogate": Case(["convert", "{d}/in.jsonl", "{d}/out.txt"],
                                                  {"in.jsonl": '{"tokens": ["a\\udc00"], "tags": ["O"]}\n'}, error="unpaired surrogate"),
    "convert to stdout under a latin-1 locale": Case(["convert", "{d}/in.txt", "-", "--to-format", "jsonl"],
                                                     {"in.txt": "東京 B-LOC\n🚆 O\n\n"}, env=LATIN1, check=utf8_conversion),
    "convert JSON lines with NaN": Case(["convert", "{d}/in.jsonl", "{d}/out.txt"],
                                        {"in.jsonl": '{"tokens": ["a"], "tags": ["O"], "w": NaN}\n'},
                                        error='in.jsonl:1: "w": NaN is not a JSON number'),
    "info on JSON lines with Infinity": Case(["info", "{d}/in.jsonl"], {"in.jsonl": '{"tokens": ["a"], "tags": ["O"], "p": Infinity}\n'},
                                             error="in.jsonl:1: \"p\": Infinity is not a JSON number"),
    "rich markup in a JSON key": Case(["info", "{d}/in.jsonl"], {"in.jsonl": '{"tokens": ["a"], "tags": ["O"], "[/x]": NaN}\n'},
                                      error='in.jsonl:1: "[/x]": NaN is not a JSON number'),
    "predict onto its own input": Case(["predict", "--model", "{model}", "{d}/in.txt", "--output", "{d}/in.txt"],
                                       {"in.txt": "Anna Berg\n"}, error="this command reads", code=2),
    "predict --output-dir onto its own input": Case(["predict", "--model", "{model}", "{d}/in.jsonl", "--output-dir", "{d}"],
                                                    {"in.jsonl": '{"text": "Anna Berg"}\n'}, error="this command reads", code=2),
    "predict --output-dir, two inputs to one output": Case(["predict", "--model", "{model}", "{d}/s.txt", "{d}/s.jsonl", "--output-dir",
                                                            "{d}/od"], {"s.txt": "Anna\n", "s.jsonl": '{"text": "Paris"}\n'},
                                                           error="whose outputs (NAME.jsonl) differ", code=2),
    "evaluate --predictions onto the gold data": Case(["evaluate", "--model", "{model}", "{d}/in.txt", "--predictions", "{d}/in.txt"],
                                                      {"in.txt": GOOD}, error="this command reads", code=2),
    "report onto its labelled data": Case(["report", "--model", "{model}", "{d}/in.txt", "--output", "{d}/in.txt"], {"in.txt": GOOD},
                                          error="in.txt: this command reads", code=2),
    "predict onto a file of its model": model_dir(lambda d, m: (d / "in.txt").write_text("Anna\n"), "predict", "{d}/in.txt",
                                                  "--output", "{d}/m/metrics.json", error="metrics.json, which writing here would", code=2),
    "evaluate --predictions onto a file of its model": model_dir(lambda d, m: None, "evaluate", "{d}/gold.txt", "--predictions",
                                                                 "{d}/m/vocab.json", error="vocab.json, which writing here would", code=2),
    "convert into a place the system refuses": Case(["convert", "{d}/in.txt", "/proc/out.txt"], {"in.txt": GOOD},
                                                    error="/proc/out.txt: cannot write: No such file or directory"),
    "convert to brat under a file": Case(["convert", "{d}/in.txt", "{d}/in.txt/b", "--output-format", "brat"], {"in.txt": GOOD},
                                         error="in.txt/b: cannot create the folder: Not a directory"),
    "train into a model folder under a file": Case(["train", "--train", "{d}/train.txt", "--dev", "{d}/train.txt",
                                                    "--output", "{d}/train.txt/m", "--epochs", "1"], {"train.txt": GOOD},
                                                   error="train.txt/m: cannot create the folder: Not a directory"),
    "info on a base64 encoding": Case(["info", "{d}/in.txt", "--encoding", "base64"], {"in.txt": GOOD},
                                      error="--encoding: 'base64' is not a text encoding", code=2),
    "info on binary junk": Case(["info", "{d}/in.txt"], {"in.txt": bytes(range(128, 256))}, error="in.txt:1: not valid utf-8 text"),
    # the Python library
    "API: load_model of an inflated directory": api('from ner_bilstm.artifact import load_model\nload_model("{d}/m")',
                                                    edit_model(hidden=10**8), error="hidden must be at most"),
    "API: load_model of NaN weights": api('from ner_bilstm.artifact import load_model\nload_model("{d}/m")',
                                          edit_weights(lambda s: s["crf.transitions"].fill_(float("inf"))), error="holds NaN or infinite"),
    "API: read_source on a deep JSON line": api('from ner_bilstm.io import read_source\nlist(read_source("{d}/t.jsonl"))',
                                                {"t.jsonl": b'{"tokens": ["a"], "tags": ["O"]}\n' + DEEP + b"\n"},
                                                error="t.jsonl:2: nested deeper than 128 levels"),
    "API: read_documents keeps going": api('from ner_bilstm.tagging import read_documents\n'
                                           'print([d.line for d in read_documents("{d}/in.jsonl") if d.error])',
                                           hostile_api_lines, expect="[2, 3, 4]"),
    "API: load_config refuses hidden 10^8": api('from ner_bilstm.config import load_config\nload_config(overrides={{"hidden": 10**8}})',
                                                error="hidden must be at most"),
    "API: record_line never writes NaN": api(
        "from ner_bilstm.inference import Prediction, ScoredSpan\nfrom ner_bilstm.sentence import Sentence\n"
        "from ner_bilstm.documents import Document, record_line\n"
        'doc = Document(7, [Sentence(["Paris"])], predictions=[Prediction(["S-LOC"], [ScoredSpan("LOC", 0, 1, float("nan"))])])\n'
        "print(record_line(doc))", expect='{"error": "the result cannot be written as strict JSON: it holds a non-finite number'),
}

CASES = {**{name: Case(args, files, error=expected if outcome == "error" else None, expect=None if outcome == "error" else expected)
            for name, (args, files, outcome, expected) in OLD.items()}, **MORE}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_the_suite_covers_every_command_and_the_library():
    commands = {c.args[0] for c in CASES.values() if not c.api}
    assert commands == {"train", "evaluate", "predict", "convert", "info", "report"}
    assert len(CASES) >= 60 and sum(c.api for c in CASES.values()) >= 5


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(name, tiny_model, tmp_path):
    case = CASES[name]
    if callable(case.files):
        shutil.copytree(tiny_model, tmp_path / "m")
        case.files(tmp_path, tiny_model)
        (tmp_path / "gold.txt").write_text(GOOD)
    else:
        for filename, content in case.files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (tmp_path / filename).write_bytes(data)
    if case.api:
        body = textwrap.indent(case.args[0].format(d=tmp_path, model=tiny_model), "    ")
        command = [sys.executable, "-c", API_PROGRAM.format(body=body)]
    else:
        command = [EXE, *(a.format(d=tmp_path, model=tiny_model) for a in case.args)]
    if case.env:  # read as the interpreter starts: only a new process sees it
        p = subprocess.run(command, input=case.stdin, capture_output=True, timeout=600, env={**os.environ, **case.env},
                           preexec_fn=limit_memory)
    else:
        code = command[2] if case.api else None
        p = forked.run(["-c"] if case.api else command, code=code, input=case.stdin, memory_limit=MEMORY_LIMIT)
    stdout, stderr = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr + stdout, stderr[-3000:]
    if case.error is not None:
        assert p.returncode == case.code, (p.returncode, stderr, stdout[-500:])
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert case.error in lines[0], lines[0]
        for partial in ("out", "out.jsonl", "out.txt"):
            assert not (tmp_path / partial).exists(), f"partial output {partial} left behind"
        if isinstance(case.files, dict):  # a refused command leaves its inputs as they were
            for filename, content in case.files.items():
                data = content.encode("utf-8") if isinstance(content, str) else content
                assert (tmp_path / filename).read_bytes() == data, f"{filename} changed"
    else:
        assert p.returncode == 0, stderr[-3000:]
        if case.expect:
            assert case.expect in stdout + stderr, (stdout + stderr)[-2000:]
        if case.check:
            case.check(p.stdout)
