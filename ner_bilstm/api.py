"""The Python API: the functions the command line calls, for programs.

    import ner_bilstm
    tagger = ner_bilstm.load("runs/demo")
    doc = tagger("Maria Lopez flew to Lisbon.")
    doc.entities, doc.to_dict()          # to_dict() is the JSON line `predict` writes

``ner_bilstm.train`` and ``ner_bilstm.evaluate`` take the CLI's options as keyword arguments and
return result objects; nothing here prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from .artifact import LoadedModel, load_model, model_files
from .config import load_config
from .documents import Document, predict_documents, text_document, tokens_document
from .errors import NerError
from .evaluation import Scores, evaluate_model
from .events import Callback
from .inference import Predictor, check_tagging_options, entity_types
from .io import ReaderOptions
from .io.files import refuse_overwrite
from .io.jsonl import token_list
from .model_report import ModelReport
from .seeds import SeedSummary, parse_seeds, train_seeds
from .tagging import WINDOW_BATCHES, tag_documents
from .training import TrainResult
from .training import train as train_model


class Tagger:
    """A trained model ready to tag: ``tagger("raw text")`` or ``tagger(["pre", "tokenised"])``
    gives a ``Document``; ``tagger.pipe(inputs)`` streams documents in input order. Texts are
    split and tokenised as `predict` does (by characters for a character-level model), long
    sentences tagged in pieces, and ``to_dict()`` of each result is `predict`'s JSON record."""

    def __init__(self, loaded: LoadedModel, *, batch_size: int = 256, nbest: int = 0, min_score: float = 0.0):
        check_tagging_options(batch_size, nbest, min_score)
        self.loaded, self.batch_size, self.nbest, self.min_score = loaded, batch_size, nbest, min_score
        self.predictor = Predictor(loaded, batch_size, nbest=nbest, min_score=min_score)

    @property
    def labels(self) -> list[str]:
        """The entity types the model tags."""
        return entity_types(self.loaded.vocab.labels.itos)

    @property
    def tokenization(self) -> str:
        """How raw text is split: "word", or "char" for a character-level model."""
        return self.loaded.record.tokenization

    def document(self, item: str | Sequence[str]) -> Document:
        """An untagged document from a raw text or a token list."""
        if isinstance(item, str):
            return text_document(item, self.tokenization)
        if isinstance(item, (bytes, Mapping)):  # a mapping would be read as its keys, bytes as numbers
            raise NerError(f"give a text (str) or a token list, not {type(item).__name__}")
        tokens = list(item)
        try:
            token_list({"tokens": tokens})
        except ValueError as e:
            raise NerError(f"a token list must hold non-empty strings without whitespace ({e})") from None
        return tokens_document(tokens, fields={"tokens": tokens})

    def __call__(self, item: str | Sequence[str]) -> Document:
        doc = self.document(item)
        predict_documents(self.predictor, [doc])
        return doc

    def pipe(self, items: Iterable[str | Sequence[str]], batch_size: int | None = None) -> Iterator[Document]:
        """Tag texts or token lists in input order with `predict`'s batching: ``batch_size``
        sentences per batch, up to 16 batches of documents at a time, each window as soon as its
        inputs have arrived (read ahead by a thread), so memory stays bounded."""
        if isinstance(items, str):
            raise NerError("pipe takes an iterable of texts or token lists; call the tagger on a single text")
        if batch_size is not None and batch_size < 1:
            raise NerError("batch_size must be >= 1")
        predictor = self.predictor
        if batch_size is not None and batch_size != self.batch_size:
            predictor = Predictor(self.loaded, batch_size, nbest=self.nbest, min_score=self.min_score)
        window = (batch_size or self.batch_size) * WINDOW_BATCHES
        for chunk in tag_documents(predictor, map(self.document, items), window):
            yield from chunk


def load(path: str | Path, device: str = "auto", *, batch_size: int = 256, nbest: int = 0, min_score: float = 0.0,
         quantize: bool = False) -> Tagger:
    """The model directory ``path`` as a ``Tagger`` on ``device`` (auto: CUDA when there is a GPU);
    ``nbest``, ``min_score`` and ``quantize`` (int8 on the CPU) as `predict`'s options."""
    return Tagger(load_model(path, device=device, quantize=quantize), batch_size=batch_size, nbest=nbest, min_score=min_score)


def train(
    train: str | Path,
    dev: str | Path,
    output: str | Path,
    *,
    test: str | Path | None = None,
    config: str | Path | None = None,
    seeds: str | Sequence[int] | None = None,
    callback: Callback | None = None,
    resume: bool = False,
    **options: object,
) -> TrainResult | SeedSummary | None:
    """Train a model into ``output``, as `ner-bilstm train` does: ``options`` are its options by
    their Python names (``epochs=10``, ``head="softmax"``), over the TOML file ``config``. With
    ``seeds`` ("1,2,3" or [1, 2, 3]) one model per seed and their summary (``SeedSummary``);
    else a ``TrainResult``. Progress goes to ``callback(event)`` (``ner_bilstm.events``). Returns
    None in the other processes of a distributed run. Denormal floats count as zero while it trains
    (``ner_bilstm.devices.denormals_flushed``)."""
    cfg = load_config(config, options)
    paths = str(train), str(dev), output, str(test) if test is not None else None
    if seeds is not None:
        if not isinstance(seeds, str) and not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise NerError(f"seeds must be integers, not {list(seeds)!r}")  # int() would turn 1.7 into seed 1
        seed_list = parse_seeds(seeds) if isinstance(seeds, str) else parse_seeds(",".join(map(str, seeds)))
        return train_seeds(cfg, seed_list, *paths, callback=callback, resume=resume)
    result = train_model(cfg, *paths, callback=callback, resume=resume)
    return result if result.main else None


def _reader_options(reader: ReaderOptions | None, options: dict[str, object]) -> ReaderOptions:
    """``reader`` (default: the test split) with the reader options given as keywords."""
    try:
        return dataclasses.replace(reader or ReaderOptions(split="test"), **options)  # type: ignore[arg-type]
    except TypeError as e:
        raise NerError(f"unknown reader option ({e})") from None


def evaluate(
    model: str | Path | Tagger,
    source: str | Path,
    *,
    predictions: str | Path | None = None,
    batch_size: int = 256,
    device: str = "auto",
    reader: ReaderOptions | None = None,
    **reader_options: object,
) -> Scores:
    """Score ``model`` (a directory or a loaded Tagger) on the labelled ``source``, as `ner-bilstm
    evaluate` does; ``predictions`` writes token, gold and predicted tags as CoNLL. The source is
    read with ``reader`` or the reader options as keywords (``split="test"``, ``token_col=0``, ...)."""
    if not isinstance(model, Tagger):
        refuse_overwrite(predictions, [source, *model_files(model)])
    loaded = model.loaded if isinstance(model, Tagger) else load_model(model, device=device)  # a Tagger stays where it is
    options = _reader_options(reader, reader_options)
    return evaluate_model(loaded, str(source), predictions_path=predictions, reader=options, batch_size=batch_size)


def report(
    model: str | Path,
    source: str | Path | None = None,
    *,
    output: str | Path | None = None,
    worst: int = 50,
    batch_size: int = 256,
    device: str = "auto",
    reader: ReaderOptions | None = None,
    **reader_options: object,
) -> ModelReport:
    """Write the model directory's HTML report to ``output`` (default: MODEL/report.html), as
    `ner-bilstm report` does, with the error analysis on the labelled ``source`` when given
    (read like ``evaluate``'s); returns what the page shows as a ``ModelReport``."""
    from .model_report import build_report
    from .pages.report import report_path, write_report

    options = _reader_options(reader, reader_options)
    target = report_path(model, source, output)
    built = build_report(model, None if source is None else str(source), reader=options, batch_size=batch_size, device=device,
                         worst=worst)
    write_report(built, target)
    return built
