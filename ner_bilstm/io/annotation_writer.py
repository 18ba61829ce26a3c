"""Writing units in the annotation formats that go to one text stream: doccano and Prodigy JSON
lines (a record per line) and Label Studio's JSON array (a task per line). brat, a folder of
files, is written by ``brat.BratFolder``."""

from __future__ import annotations

from typing import TextIO

from .annotations import Unit
from .doccano import doccano_record
from .labelstudio import TaskArray, labelstudio_task
from .prodigy import prodigy_record
from .strict_json import dumps

STREAM_FORMATS = ("doccano", "label-studio", "prodigy")


class UnitStream:
    """Units written to ``out`` in ``fmt`` as they come; ``predicted`` marks a model's output (Label
    Studio then writes ``predictions``, with scores). ``close`` ends a Label Studio array."""

    def __init__(self, fmt: str, out: TextIO, predicted: bool = False):
        if fmt not in STREAM_FORMATS:
            raise ValueError(f"unknown annotation format {fmt!r}")
        self.fmt, self.out, self.predicted, self.count = fmt, out, predicted, 0
        self.array = TaskArray(out) if fmt == "label-studio" else None

    def write(self, unit: Unit) -> None:
        self.count += 1
        if self.fmt == "doccano":
            self.out.write(dumps(doccano_record(unit)) + "\n")
        elif self.fmt == "prodigy":
            self.out.write(dumps(prodigy_record(unit)) + "\n")
        else:
            self.array.write(dumps(labelstudio_task(unit, self.count, self.predicted)))  # type: ignore[union-attr]

    def close(self) -> None:
        if self.array is not None:
            self.array.close()
