"""A long-lived process that loads mutated model directories for tests/test_hostile_properties.py.

Run under an address-space limit. Each stdin line is a JSON object {"config": TEXT, "vocab": TEXT}
holding the raw text of the two files; they are written beside the real weights, loaded, and,
when loading succeeds, the model must tag text and tokens into strict JSON records. One JSON
line answers each request: {"outcome": "refused", "message": ...}, {"outcome": "ok"} or
{"outcome": "crash", "error": ...} for anything but the tool's own one-line error.
"""

import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from ner_bilstm.artifact import load_model
from ner_bilstm.documents import Document, record_line
from ner_bilstm.errors import NerError
from ner_bilstm.inference import Predictor
from ner_bilstm.sentence import Sentence
from ner_bilstm.tagging import tag_documents

SAMPLES = ["Anna Berg visited Paris on Monday .", "Northwind Bank"]


def try_load(directory: Path) -> dict:
    try:
        loaded = load_model(directory)
    except NerError as e:
        message = str(e)
        return {"outcome": "refused", "message": message, "one_line": "\n" not in message, "names_file": message.startswith(str(directory))}
    predictor = Predictor(loaded, batch_size=8, nbest=2 if loaded.model.crf is not None else 0)
    docs = [Document(i, [Sentence(text.split())]) for i, text in enumerate(SAMPLES, 1)]
    lines = [record_line(doc, with_tags=True) for window in tag_documents(predictor, docs) for doc in window]
    records = [json.loads(line, parse_constant=lambda name: 1 / 0) for line in lines]
    if len(records) != 2 or any("error" in r for r in records):
        return {"outcome": "crash", "error": f"a loaded model did not tag: {lines}"}
    return {"outcome": "ok"}


def main() -> None:
    weights = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        shutil.copy(weights, directory / weights.name)
        for line in sys.stdin:
            request = json.loads(line)
            (directory / "config.json").write_text(request["config"], encoding="utf-8")
            (directory / "vocab.json").write_text(request["vocab"], encoding="utf-8")
            try:
                answer = try_load(directory)
            except BaseException:  # noqa: B036 - the test wants to see whatever escaped
                answer = {"outcome": "crash", "error": traceback.format_exc()}
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
