"""ner-bilstm: BiLSTM-CRF named-entity recognition you can train on a laptop CPU.

The Python API (``ner_bilstm.api``): ``load(path) -> Tagger``; ``tagger(text)`` and
``tagger.pipe(texts)`` give ``Document``s with ``Entity``s; ``train(...)``, ``evaluate(...)`` and
``report(...)`` take the command line's options as keywords. Names are imported on first use, so ``import
ner_bilstm`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "api", "train": "api", "evaluate": "api", "report": "api", "Tagger": "api", "ModelReport": "model_report",
    "Document": "documents", "Entity": "documents",
    "Scores": "evaluation", "Score": "evaluation",
    "TrainResult": "training", "SeedSummary": "seeds",
    "TrainConfig": "config", "ReaderOptions": "io", "NerError": "errors", "events": None,
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ner_bilstm' has no attribute {name!r}")
    module = _EXPORTS[name]
    value = importlib.import_module(f".{name}" if module is None else f".{module}", __name__)
    return value if module is None else getattr(value, name)


def __dir__() -> list[str]:
    return sorted(__all__)
