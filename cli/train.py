"""``ner-bilstm train``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import typer

from ner_bilstm.config import TrainConfig, load_config
from ner_bilstm.errors import NerError

from . import options
from .options import opt
from .render import console, err_console, seeds_table
from .train_view import SeedsView, TrainView


def launch_distributed(nproc: int) -> int:
    """Run this same command in ``nproc`` processes under torch.distributed.run (one node);
    returns its exit code (130 when a signal stopped it)."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    # torchrun's own launcher, run in this process: a signal or a failed worker comes back here as an
    # exception, told in one line, where a torchrun process would print its traceback.
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # the launcher's notices, each logger at its own level: told below
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "ner_bilstm", *args]))
    except SignalException:
        # SIGTERM reached this process: the launcher handed it to the workers, which checkpointed,
        # stopped and said so (Ctrl-C reaches every process of the terminal's group by itself).
        return 130
    except ChildFailedError as e:
        codes = sorted({f.exitcode for f in e.failures.values()})
        if codes == [130]:
            return 130  # each process said why it stopped
        err_console.print(f"[bold red]error:[/] distributed training failed (exit code {', '.join(map(str, codes))})", markup=True)
        return 1
    return 0


class StopRequest:
    """Turns the first SIGINT/SIGTERM into a request the training loop polls between steps;
    a second SIGINT interrupts at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def configuration(path: Path | None, overrides: dict) -> TrainConfig:
    """The options of this run: the TOML file, then what was typed. When the result is refused but
    the file alone is not, the command line caused it: a usage error (exit 2, naming the option);
    otherwise the file is at fault (exit 1)."""
    try:
        return load_config(path, overrides)
    except NerError as e:
        load_config(path)  # raises the file's own error, if it has one
        typed = e.option if e.option in overrides else None
        raise typer.BadParameter(e.message, param_hint=f"--{typed.replace('_', '-')}" if typed else None) from None


def train(
    ctx: typer.Context,
    train: str = typer.Option(..., "--train", rich_help_panel="Data",
                              help="Training data: CoNLL file, .jsonl, doccano / Label Studio / Prodigy export, brat folder, "
                              "or hf:NAME / dataset folder / parquet."),
    dev: str = typer.Option(..., "--dev", rich_help_panel="Data", help="Dev data, used for early stopping."),
    test: str | None = typer.Option(None, "--test", rich_help_panel="Data", help="Test data, scored with the best model."),
    config: Path | None = typer.Option(None, "--config", rich_help_panel="Data",
                                       help="TOML file of options; command-line options override it."),
    head: options.HEAD | None = opt("head", "Model", help="Tagging head."),
    rnn: options.RNN | None = opt("rnn", "Model", help="Recurrent cell of the encoder."),
    layers: int | None = opt("layers", "Model", help="Encoder layers."),
    hidden: int | None = opt("hidden", "Model", help="Hidden units per direction."),
    char: options.CHAR | None = opt("char", "Model", help=(
        "Character encoder (auto: BiLSTM for word-level data, CNN for character-level data).")),
    word_dim: int | None = opt("word_dim", "Model", help="Word embedding size."),
    char_dim: int | None = opt("char_dim", "Model", help="Character embedding size."),
    char_filters: int | None = opt("char_filters", "Model", help="Character CNN filters."),
    char_hidden: int | None = opt("char_hidden", "Model", help="Character BiLSTM units per direction."),
    casing_dim: int | None = opt("casing_dim", "Model", help="Casing feature size."),
    heads: int | None = opt("heads", "Model", help="Attention heads."),
    bigrams: options.BIGRAMS | None = opt("bigrams", "Model", help="Token bigram embeddings (auto: for character-level data)."),
    bigram_dim: int | None = opt("bigram_dim", "Model", help="Bigram embedding size."),
    doc_memory: options.DOC_MEMORY | None = opt("doc_memory", "Model", help=(
        "A memory of other mentions of a word in its document (auto: when the training data has -DOCSTART- documents).")),
    memory_dim: int | None = opt("memory_dim", "Model", help="Hidden size of the document memory's scorer."),
    memory_scope: options.MEMORY_SCOPE | None = opt("memory_scope", "Model", help=(
        "Tokens the memory's scorer scores: linked (those with another mention in their document) or all "
        "(as models before format 4; to resume such a run).")),
    casing: bool | None = opt("casing", "Model", "--casing/--no-casing", help="Casing feature."),
    dropout: float | None = opt("dropout", "Model", help="Dropout rate."),
    attention: bool | None = opt("attention", "Model", "--attention/--no-attention", help="Self-attention over the encoder."),
    optimizer: options.OPTIMIZER | None = opt("optimizer", "Optimisation", help=(
        "Optimiser: adam; lazyadam, Adam that updates only the embedding rows a batch used (faster steps); or sgd (with --momentum).")),
    lr: float | None = opt("lr", "Optimisation", help="Learning rate."),
    embed_lr: float | None = opt("embed_lr", "Optimisation", help=(
        "Multiplier of the learning rate for the word (and bigram) embedding tables; below 1 keeps pretrained vectors "
        "closer to where they started (0 freezes them).")),
    momentum: float | None = opt("momentum", "Optimisation", help="SGD momentum."),
    weight_decay: float | None = opt("weight_decay", "Optimisation", help="L2 weight decay."),
    lr_decay: float | None = opt("lr_decay", "Optimisation", help="Learning-rate decay: lr / (1 + decay * epoch)."),
    batch_size: int | None = opt("batch_size", "Optimisation", help=(
        "Sentences per batch and process (0 = auto: for word-level data the largest of 64, 32 and 16 that gives 200 steps "
        "an epoch; 64 for character-level data). N processes (--nproc, torchrun) take N batches a step.")),
    epochs: int | None = opt("epochs", "Optimisation", help="Maximum epochs."),
    patience: int | None = opt("patience", "Optimisation", help="Stop after this many epochs without a better dev F1."),
    clip: float | None = opt("clip", "Optimisation", help="Gradient norm clipping (0 = off)."),
    average: float | None = opt("average", "Optimisation", help="Decay of a moving average of the weights, which dev scores and the "
                                         "model keeps (0 = off; 0.999 averages about the last thousand steps)."),
    word_dropout: float | None = opt("word_dropout", "Optimisation", help="Chance to replace a singleton word by <unk> in training."),
    replace_mentions: float | None = opt("replace_mentions", "Optimisation", help=(
        "Chance, each epoch, that a training mention reads as another training mention of the same type and length.")),
    locked_dropout: bool | None = opt("locked_dropout", "Optimisation", "--locked-dropout/--no-locked-dropout", help=(
        "One dropout mask per sentence for the word-level features and the encoder's output, the same at every token "
        "(locked dropout).")),
    min_freq: int | None = opt("min_freq", "Data", help="Words seen fewer times are unknown."),
    normalize_digits: bool | None = opt("normalize_digits", "Data", "--normalize-digits/--keep-digits",
                                        help="Map digits to 0 for word lookup."),
    lowercase: bool | None = opt("lowercase", "Data", "--lowercase/--cased",
                                 help="Look words up lower-cased (casing feature keeps the shape)."),
    scheme: options.SCHEME | None = opt("scheme", "Data", help="Input tag scheme (auto: detected from the data)."),
    train_scheme: options.TRAIN_SCHEME | None = opt("train_scheme", "Data", help="Internal tag scheme."),
    embeddings: str | None = opt("embeddings", "Model", help="Pretrained vectors: GloVe/word2vec text or fastText .vec, .gz ok."),
    compose_vectors: bool | None = opt("compose_vectors", "Model", "--compose-vectors/--no-compose-vectors", help=(
        "Give a word without a pretrained vector of its own the mean of its pieces' vectors, when each has one "
        "(realDonaldTrump: real, donald, trump).")),
    lazy: bool | None = opt("lazy", "Data", "--lazy/--in-memory", help="Stream a datasets training source from its Arrow files."),
    tokens_field: str | None = opt("tokens_field", "Data", help="Tokens column of a datasets source."),
    tags_field: str | None = opt("tags_field", "Data", help="Tags column of a datasets source."),
    train_split: str | None = opt("train_split", "Data", help="Split of a datasets source used for training."),
    dev_split: str | None = opt("dev_split", "Data", help="Split used as dev."),
    test_split: str | None = opt("test_split", "Data", help="Split used as test."),
    token_col: int | None = opt("token_col", "Data", help="CoNLL token column (0-based)."),
    tag_col: int | None = opt("tag_col", "Data", help="CoNLL tag column (-1 = last)."),
    encoding: str | None = opt("encoding", "Data", help="Text encoding of the data files."),
    input_format: options.SOURCE_FORMAT | None = opt("input_format", "Data", "--input-format",
                                                     help="Format of the data (auto: from each name and first record)."),
    tokenize: options.TOKENIZE | None = opt("tokenize", "Data", "--tokenize",
                                            help="How annotation-tool texts without tokens are split (words, characters, whitespace)."),
    label_map: str | None = opt("label_map", "Data", "--label-map", help=options.LABEL_MAP_HELP),
    seed: int | None = opt("seed", "Optimisation", help="Random seed (training is deterministic on CPU)."),
    seeds: str | None = typer.Option(None, "--seeds", rich_help_panel="Optimisation",
                                     help="Train one model per seed (1,2,3 or 1-3), summarise the spread "
                                     "of dev/test F1 in seeds.json and keep the model with the best dev F1."),
    device: options.DEVICE_CHOICE | None = opt("device", "Hardware", help="Where to train (auto: CUDA when there is a GPU)."),
    amp: bool | None = opt("amp", "Hardware", "--amp/--no-amp", help="Automatic mixed precision on CUDA."),
    bf16: options.BF16 | None = opt("bf16", "Hardware", help=(
        "Train the LSTM layers in bfloat16 (auto: on a CPU with bfloat16 instructions); evaluation stays float32.")),
    threads: int | None = opt("threads", "Hardware", help="CPU threads (0 = torch default)."),
    max_word_chars: int | None = opt("max_word_chars", "Data", help="Characters per word the character encoder reads."),
    eval_batch_size: int | None = opt("eval_batch_size", "Hardware", help="Sentences per batch when scoring dev/test."),
    output: Path = typer.Option(..., "--output", "-o", rich_help_panel="Output", help="Model directory to write."),
    checkpoint_every: int | None = opt("checkpoint_every", "Output", help="Steps between checkpoints (0 = only after each epoch)."),
    resume: bool = typer.Option(False, "--resume", rich_help_panel="Output",
                                help="Continue the interrupted run in --output exactly where it stopped."),
    nproc: int = typer.Option(1, "--nproc", rich_help_panel="Hardware",
                              help="Train with this many processes (DDP), launched through torch.distributed.run."),
) -> None:
    """Train a tagger and write its model directory. Ctrl-C or SIGTERM stops at the next step
    with a checkpoint (exit 130); --resume continues it."""
    from ner_bilstm.seeds import parse_seeds, train_seeds  # here, not at the top: torch loads only for commands that need it
    from ner_bilstm.training import train as run_training

    if seeds is not None:  # before the launch, so that one process, not every one, reports the mistake
        if options.typed(ctx, "seed"):
            raise typer.BadParameter("give --seed or --seeds, not both", param_hint="--seeds")
        try:
            seed_list = parse_seeds(seeds)
        except NerError as e:
            raise typer.BadParameter(str(e), param_hint="--seeds") from None
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise typer.Exit(launch_distributed(nproc))
    skip = ("ctx", "train", "dev", "output", "test", "config", "resume", "nproc", "seeds", "seed_list")
    cfg = configuration(config, options.given(ctx, {k: v for k, v in locals().items() if k not in skip}))
    view = SeedsView() if seeds is not None else TrainView()
    stop = StopRequest()
    try:
        with stop.installed():
            if seeds is not None:
                summary = train_seeds(cfg, seed_list, train, dev, output, test, callback=view, resume=resume, should_stop=stop)
            else:
                result = run_training(cfg, train, dev, output, test_path=test, callback=view, resume=resume, should_stop=stop)
    finally:
        view.close()
    if seeds is not None:
        if summary is not None:
            console.print(seeds_table(summary))
            console.print(f"model in {output} (seed {summary.best_seed}); every seed in {output / 'seeds'}; summary in "
                          f"{output / 'seeds.json'}")
        return
    if not result.main:
        return
    best = result.best_dev.micro
    console.print(f"best dev F1 {best.f1:.2f} at epoch {result.best_epoch}; {result.seconds:.0f} s; model in {result.output}")
