"""Training and inference throughput on CoNLL-2003, side by side with flair, and the bare-BiLSTM ceiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from ner_bilstm.artifact import save_model
from ner_bilstm.batching import EncodedCorpus, length_batches
from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import LoadedSentences
from ner_bilstm.io import read_source
from ner_bilstm.optimization import train_step
from ner_bilstm.schemes import tags_to_spans
from ner_bilstm.setup import prepare
from ner_bilstm.training import set_seed

from .common import interleaved

FLAIR_DESCRIPTION = (
    "flair SequenceTagger: CharacterEmbeddings (char BiLSTM, 25-d chars, 25 hidden) + OneHotEmbeddings "
    "(100-d, training vocabulary) -> 1 x BiLSTM 200 per direction -> CRF, BIOES, mini-batch {batch}, SGD lr 0.1 "
    "(flair's defaults); ours: char BiLSTM (30-d chars, 25 hidden) + 100-d words + casing -> 1 x BiLSTM 200 -> CRF"
)


def flair_sentences(sentences, with_labels: bool):
    from flair.data import Sentence as FlairSentence

    out = []
    for s in sentences:
        fs = FlairSentence(list(s.tokens))
        if with_labels:
            for span in tags_to_spans(s.tags):
                fs[span.start : span.end].add_label("ner", span.label)
        out.append(fs)
    return out


def quiet_flair() -> None:
    """flair logs its whole vocabulary to stdout; keep the benchmark's output readable."""
    import logging

    import flair  # noqa: F401  (configures its logger on import; quieten it after)

    logging.getLogger("flair").setLevel(logging.WARNING)


def flair_tagger(train_sentences):
    from flair.data import Corpus, Dictionary
    from flair.datasets import SentenceDataset
    from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
    from flair.models import SequenceTagger

    corpus = Corpus(train=SentenceDataset(train_sentences), dev=SentenceDataset(train_sentences[:10]),
                    test=SentenceDataset(train_sentences[:10]), sample_missing_splits=False)
    chars = Dictionary()  # built here: flair's default character list is a download
    for sentence in train_sentences:
        for token in sentence:
            for c in token.text:
                chars.add_item(c)
    embeddings = StackedEmbeddings([
        OneHotEmbeddings.from_corpus(corpus, field="text", min_freq=1, embedding_length=100),
        CharacterEmbeddings(path_to_char_dict=chars),
    ])
    tags = corpus.make_label_dictionary("ner", add_unk=False)
    return SequenceTagger(hidden_size=200, embeddings=embeddings, tag_dictionary=tags, tag_type="ner",
                          use_crf=True, rnn_layers=1, tag_format="BIOES")


def run(data: Path, rounds: int = 5) -> dict:
    """Interleaved measurements of training steps (ours, flair, bare BiLSTM) and inference."""
    torch.manual_seed(0)
    config = TrainConfig()
    set_seed(config.seed)
    train = list(read_source(str(data / "train.txt")))
    test = list(read_source(str(data / "test.txt")))
    setup = prepare(config, LoadedSentences(train), torch.device("cpu"))
    config = setup.config  # the effective options (bigrams off for word-level data), which the saved model must record
    batches = length_batches(setup.data.lengths, config.batch_size, torch.Generator().manual_seed(0))
    width = setup.model.encoder.layers[0].fwd.input_size  # words + characters + casing

    # Training: the same sentences in the same order for ours and for the ceiling; flair gets its own batches.
    cursor = {"ours": 0, "ceiling": 0, "flair": 0}
    per_round = 60

    def next_batches(name: str, n: int) -> list[list[int]]:
        start = cursor[name]
        cursor[name] = (start + n) % (len(batches) - n)
        return batches[start : start + n]

    set_seed(config.seed)
    lazy_config = replace(config, optimizer="lazyadam")
    lazy = prepare(lazy_config, LoadedSentences(train), torch.device("cpu"))
    cursor["ours_lazyadam"] = 0
    set_seed(config.seed)
    plain_config = replace(config, doc_memory="off", memory_dim=0)
    plain = prepare(plain_config, LoadedSentences(train), torch.device("cpu"))
    cursor["ours_nomemory"] = 0
    set_seed(config.seed)
    float_config = replace(config, bf16="off")
    float32 = prepare(float_config, LoadedSentences(train), torch.device("cpu"))
    cursor["ours_float32"] = 0
    set_seed(config.seed)
    cnn_config = replace(config, char="cnn")
    cnn = prepare(cnn_config, LoadedSentences(train), torch.device("cpu"))
    cursor["ours_charcnn"] = 0
    cursor["ceiling_bf16"] = 0

    def steps(trainer, trainer_config: TrainConfig, name: str) -> Callable[[], int]:
        def run_steps() -> int:
            trainer.model.train()
            tokens = 0
            for index in next_batches(name, per_round):
                batch = trainer.data.batch(index)
                train_step(trainer, batch, trainer_config)
                tokens += int(batch.mask.sum())
            return tokens

        return run_steps

    lstm = torch.nn.LSTM(width, config.hidden, num_layers=config.layers, bidirectional=True, batch_first=True)

    def ceiling(name: str, bf16: bool) -> Callable[[], int]:
        def ceiling_step() -> int:
            tokens = 0
            for index in next_batches(name, per_round):
                lengths = [setup.data.lengths[i] for i in index]
                x = torch.randn(len(index), max(lengths), width, requires_grad=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    out, _ = lstm(x)
                out.float().sum().backward()
                tokens += sum(lengths)
            return tokens

        return ceiling_step

    quiet_flair()
    flair_train = flair_sentences(train, with_labels=True)
    tagger = flair_tagger(flair_train)
    flair_opt = torch.optim.SGD(tagger.parameters(), lr=0.1)
    flair_batch = 32
    flair_order = torch.randperm(len(flair_train), generator=torch.Generator().manual_seed(0)).tolist()

    def flair_step() -> int:
        tagger.train()
        tokens = 0
        for _ in range(3):
            start = cursor["flair"]
            cursor["flair"] = (start + flair_batch) % (len(flair_order) - flair_batch)
            chunk = [flair_train[i] for i in flair_order[start : start + flair_batch]]
            flair_opt.zero_grad()
            loss, count = tagger.forward_loss(chunk)
            (loss / count).backward()
            torch.nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
            flair_opt.step()
            tokens += sum(len(s) for s in chunk)
        return tokens

    token_rates = interleaved({"ours": steps(setup, config, "ours"), "ours_lazyadam": steps(lazy, lazy_config, "ours_lazyadam"),
                               "ours_nomemory": steps(plain, plain_config, "ours_nomemory"),
                               "ours_float32": steps(float32, float_config, "ours_float32"),
                               "ours_charcnn": steps(cnn, cnn_config, "ours_charcnn"),
                               "ceiling": ceiling("ceiling", False), "ceiling_bf16": ceiling("ceiling_bf16", True),
                               "flair": flair_step}, rounds)
    # Ours is measured against the bare LSTM in the arithmetic it trains in (--bf16).
    own = token_rates["ceiling_bf16" if config.bf16 == "on" else "ceiling"]
    avg_len = sum(setup.data.lengths) / len(setup.data)
    flair_avg_len = sum(len(s) for s in flair_train) / len(flair_train)
    training = {
        "tokens_per_second": token_rates,
        "sentences_per_second": {"ours": token_rates["ours"] / avg_len, "flair": token_rates["flair"] / flair_avg_len},
        "speedup_vs_flair": token_rates["ours"] / token_rates["flair"],
        "share_of_ceiling": token_rates["ours"] / own,
        "share_of_ceiling_lazyadam": token_rates["ours_lazyadam"] / own,
        "share_of_ceiling_nomemory": token_rates["ours_nomemory"] / own,
        "share_of_ceiling_float32": token_rates["ours_float32"] / token_rates["ceiling"],
        "bf16_speedup": token_rates["ours"] / token_rates["ours_float32"],
        "char_lstm_cost": token_rates["ours_charcnn"] / token_rates["ours"],
        "bf16": config.bf16,
        "document_memory": config.doc_memory,
        "batch_size": config.batch_size,
        "ceiling": f"bare nn.LSTM({width}, {config.hidden}, bidirectional) forward+backward on the same batch shapes",
        "flair": FLAIR_DESCRIPTION.format(batch=flair_batch),
    }

    # Inference: the model alone on pre-tensorised test batches, and end to end through the CLI.
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        save_model(model_dir, setup.model, setup.vocab, setup.record())
        test_data = EncodedCorpus(test, setup.vocab, max_word_chars=config.max_word_chars)
        test_batches = [test_data.batch(i) for i in length_batches(test_data.lengths, 256)]
        test_tokens = sum(test_data.lengths)
        setup.model.eval()

        @torch.inference_mode()
        def model_alone() -> int:
            for batch in test_batches:
                setup.model.decode(batch)
            return test_tokens

        jsonl = Path(tmp) / "test.jsonl"
        jsonl.write_text("".join(json.dumps({"tokens": s.tokens}) + "\n" for s in test))
        exe = str(Path(sys.executable).parent / "ner-bilstm")

        def cli_predict() -> int:
            subprocess.run([exe, "predict", "--model", str(model_dir), str(jsonl), "--output", os.devnull], check=True)
            return test_tokens

        flair_model = Path(tmp) / "flair.pt"
        tagger.save(flair_model)
        flair_script = Path(__file__).with_name("flair_predict.py")

        def flair_cli() -> int:
            subprocess.run([sys.executable, str(flair_script), str(flair_model), str(jsonl), os.devnull], check=True)
            return test_tokens

        flair_test = flair_sentences(test, with_labels=False)
        tagger.eval()

        def flair_in_process() -> int:
            tagger.predict(flair_test, mini_batch_size=32)
            return test_tokens

        rates = interleaved({"model_alone": model_alone, "predict_cli": cli_predict, "flair_end_to_end": flair_cli,
                             "flair_in_process": flair_in_process}, max(2, rounds - 2))
    inference = {
        "tokens": test_tokens,
        "tokens_per_second": rates,
        "predict_speedup_vs_flair": rates["predict_cli"] / rates["flair_end_to_end"],
        "predict_speedup_vs_flair_in_process": rates["predict_cli"] / rates["flair_in_process"],
        "notes": "model_alone: emissions + Viterbi, batch 256, inference_mode. predict_cli: `ner-bilstm predict` on the "
                 "test set as JSON lines (tokens), process start to exit, entity scores included. flair_end_to_end: "
                 "benchmarks/flair_predict.py, process start to exit (load the saved tagger, read the same JSON lines, "
                 "SequenceTagger.predict with mini-batch 32, write JSON lines). flair_in_process: predict alone, model "
                 "already loaded.",
    }
    return {"training": training, "inference": inference}


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    start = time.perf_counter()
    print(json.dumps(run(root.parent / "shared" / "data" / "conll2003"), indent=2))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
