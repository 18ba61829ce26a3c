"""Label Studio's JSON export: an array of tasks, each ``{"id", "data": {"text": ...},
"annotations": [{"result": [{"type": "labels", "value": {"start", "end", "labels": [...]}}]}]}``.

The reader takes each task's first annotation that was not cancelled (none: the task is
unlabelled); the writer streams the
array, with ``annotations`` for labelled data and ``predictions`` (scores included) for a model's
output, which Label Studio imports as pre-annotations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from ..errors import NerError
from ..sentence import Sentence
from .annotations import Parsed, Unit, records_to_sentences, whole
from .files import numbered_lines
from .spans import CharSpan, ReadReport, locate
from .strict_json import loads


def _tasks(path: str, encoding: str) -> Iterator[tuple[int, Any]]:
    """(line, task) for each element of the file's JSON array (or its one task object)."""
    text = "\n".join(line for _, line in numbered_lines(path, encoding))
    decoder = json.JSONDecoder()  # finds where each task ends; strict_json then parses it
    pos = len(text) - len(text.lstrip())

    def line_at(i: int) -> int:
        return text.count("\n", 0, i) + 1

    try:
        if text[pos:pos + 1] == "{":
            end = decoder.raw_decode(text, pos)[1]
            yield line_at(pos), loads(text[pos:end], exact_numbers=True)
            pos = end
        elif text[pos:pos + 1] == "[":
            pos += 1
            while True:
                pos += len(text[pos:]) - len(text[pos:].lstrip())
                if text[pos:pos + 1] == "]":
                    pos += 1
                    break
                end = decoder.raw_decode(text, pos)[1]
                yield line_at(pos), loads(text[pos:end], exact_numbers=True)
                pos = end + len(text[end:]) - len(text[end:].lstrip())
                if text[pos:pos + 1] == ",":
                    pos += 1
                elif text[pos:pos + 1] != "]":
                    raise NerError("expected ',' or ']' after a task", path=path, line=line_at(pos))
        else:
            raise NerError("expected a JSON array of Label Studio tasks", path=path, line=line_at(pos))
    except json.JSONDecodeError as e:
        raise NerError(f"not valid JSON: {e.msg} (column {e.colno})", path=path, line=e.lineno) from None
    except RecursionError:
        raise NerError("nested too deeply", path=path, line=line_at(pos)) from None
    except ValueError as e:
        raise NerError(str(e), path=path, line=line_at(pos)) from None
    if text[pos:].strip():
        raise NerError("unexpected text after the tasks", path=path, line=line_at(pos))


def _text(data: dict[str, Any]) -> str:
    if isinstance(data.get("text"), str):
        return data["text"]
    strings = [v for v in data.values() if isinstance(v, str)]
    if len(strings) != 1:
        raise ValueError('expected the task\'s text in "data" under "text"')
    return strings[0]


def parse_task(task: Any, report: ReadReport) -> Parsed:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise ValueError('expected a task object with a "data" object')
    text = _text(task["data"])
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise ValueError('"annotations" must be a list of objects')
    annotations = [a for a in annotations if not a.get("was_cancelled")]
    tokens = task["data"].get("tokens")
    if tokens is not None and (not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)):
        raise ValueError('data.tokens must be a list of strings')
    fields = {k: task[k] for k in ("id", "meta") if k in task}
    offsets = locate(text, tokens) if tokens is not None else None
    if not annotations:
        return Parsed(text, None, offsets, fields)
    if len(annotations) > 1:
        report.skip("tasks with several annotations, the first used")
    result = annotations[0].get("result")
    if not isinstance(result, list):
        raise ValueError('an annotation\'s "result" must be a list')
    spans = []
    for item in result:
        if not isinstance(item, dict) or item.get("type") != "labels":
            report.skip("results other than labels ignored")
            continue
        value = item.get("value")
        labels = value.get("labels") if isinstance(value, dict) else None
        if not isinstance(labels, list) or len(labels) != 1:
            raise ValueError(f"a labels result must have one label in value.labels, not {labels!r}")
        span = CharSpan(whole(value.get("start"), "value.start"), whole(value.get("end"), "value.end"), labels[0])
        mention = value.get("text")
        if isinstance(mention, str) and 0 <= span.start < span.end <= len(text) and mention != text[span.start : span.end]:
            raise ValueError(f"value.text {mention[:40]!r} is not the text's characters [{span.start}, {span.end}) "
                             f"{text[span.start:span.end][:40]!r} (offsets counted in UTF-16 units, as old Label Studio versions did?)")
        spans.append(span)
    return Parsed(text, spans, offsets, fields)


def read_labelstudio(path: str, report: ReadReport, *, encoding: str = "utf-8", tokenization: str = "word",
                     require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences from a Label Studio JSON export; a task without an annotation is unlabelled (skipped,
    and counted, where labels are required)."""
    return records_to_sentences(_tasks(path, encoding), parse_task, path, report, tokenization, require_tags)


def labelstudio_task(unit: Unit, number: int, predicted: bool) -> dict[str, Any]:
    """The unit as a task: its spans as ``annotations``, or as ``predictions`` with scores."""
    result = []
    for i, s in enumerate(unit.spans or []):
        item: dict[str, Any] = {"id": f"e{i}", "from_name": "label", "to_name": "text", "type": "labels",
                                "value": {"start": s.start, "end": s.end, "text": unit.text[s.start:s.end], "labels": [s.label]}}
        if s.score is not None:
            item["score"] = s.score
        result.append(item)
    fields = unit.fields or {}
    task: dict[str, Any] = {"id": fields.get("id", number), "data": {"text": unit.text, "tokens": unit.tokens}}
    if "meta" in fields:
        task["meta"] = fields["meta"]
    if unit.spans is None:
        return task
    if predicted:
        task["predictions"] = [{"model_version": "ner-bilstm", "result": result}]
    else:
        task["annotations"] = [{"result": result}]
    return task


class TaskArray:
    """Writes Label Studio tasks to ``out`` as one JSON array, a task per line, as they come."""

    def __init__(self, out: TextIO):
        self.out, self.count = out, 0

    def write(self, line: str) -> None:
        self.out.write(("[\n" if not self.count else ",\n") + line)
        self.count += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.count else "[]\n")
