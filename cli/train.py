"""``ner-bilstm train``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ner_bilstm.config import TrainConfig, load_config
from ner_bilstm.errors import NerError
from ner_bilstm.events import BatchDone, DataLoaded, EpochEnded, EpochStarted, Event, Resumed, SeedStarted, Tested

from . import options
from .options import opt
from .render import console, err_console, scores_table, seeds_table


def launch_distributed(nproc: int) -> int:
    """Run this same command in ``nproc`` processes under torch.distributed.run (one node);
    returns its exit code."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "ner_bilstm", *args]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    code = subprocess.call(command, env=env)
    if code:
        err_console.print(f"[bold red]error:[/] distributed training failed (exit code {code}); "
                          "the last checkpoint resumes with --resume", markup=True)
    return 1 if code else 0


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


class SeedsView:
    """Renders a run over several seeds: a heading and a fresh TrainView per seed."""

    def __init__(self) -> None:
        self.view = TrainView()

    def __call__(self, event: Event) -> None:
        if isinstance(event, SeedStarted):
            self.view.close()
            self.view = TrainView()
            state = " (resumed from its checkpoint)" if event.resume else ""
            console.print(f"seed {event.seed} ({event.index + 1} of {event.of}){state}", style="bold")
        else:
            self.view(event)

    def close(self) -> None:
        self.view.close()


class TrainView:
    """Renders training events: a progress bar per epoch and a growing table of epochs."""

    def __init__(self) -> None:
        self.live = console.is_terminal
        self.table = Table(title="training")
        for name in ("epoch", "loss", "dev P", "dev R", "dev F1", "lr", "sent/s", "seconds", ""):
            self.table.add_column(name, justify="right")
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[rate]:.0f} sent/s"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self.display = Live(Group(self.table, self.progress), console=console, refresh_per_second=4) if self.live else None
        self.task = None
        self.loss_avg = 0.0
        self.seen = 0

    def __call__(self, event: Event) -> None:
        match event:
            case DataLoaded():
                self.data(event)
            case Resumed(epoch=epoch, position=position, finished=finished):
                console.print(f"resuming epoch {epoch} after {position} batches"
                              + (" (the run had already finished)" if finished else ""))
            case EpochStarted():
                if self.task is not None:
                    self.progress.remove_task(self.task)
                self.task = self.progress.add_task("", total=event.batches, completed=event.done, epoch=event.epoch,
                                                   loss=0.0, rate=0.0)
                self.loss_avg, self.seen = 0.0, 0
                self.progress.start_task(self.task)
            case BatchDone():
                self.seen += event.sentences
                self.loss_avg = 0.95 * self.loss_avg + 0.05 * event.loss if self.loss_avg else event.loss
                elapsed = self.progress.tasks[-1].elapsed or 1e-9
                self.progress.update(self.task, advance=1, loss=self.loss_avg, rate=self.seen / elapsed)
            case EpochEnded(record=r):
                row = (str(r.epoch), f"{r.loss:.3f}", f"{r.dev_precision:.2f}", f"{r.dev_recall:.2f}", f"{r.dev_f1:.2f}",
                       f"{r.lr:.4g}", f"{r.sentences_per_second:.0f}", f"{r.seconds:.1f}", "best" if r.best else "")
                self.table.add_row(*row)
                if not self.live:
                    console.print(f"epoch {row[0]}: loss {row[1]}  dev P {row[2]} R {row[3]} F1 {row[4]}  "
                                  f"lr {row[5]}  {row[6]} sent/s  {row[7]} s {row[8]}")
            case Tested(scores=scores):
                self.close()
                console.print(scores_table(scores, "test set (best model)"))

    def data(self, d: DataLoaded) -> None:
        bigrams = f", {d.bigrams:,} bigrams ({d.bigram_dim}-d)" if d.bigram_dim else ", no bigrams"
        console.print(
            f"train {d.train:,} sentences ({d.tokens:,} tokens), dev {d.dev:,}, test {d.test:,}; "
            f"scheme {d.scheme.upper()}; types {', '.join(d.types)}; "
            f"{d.words:,} words, {d.chars:,} chars{bigrams}; {d.tokenization} tokens; device {d.device}"
            + (" (LSTM trained in bfloat16)" if d.bf16 else "")
        )
        if d.linked is not None:
            console.print(f"document memory: {d.linked:,} training tokens ({100 * d.linked / max(d.tokens, 1):.1f}%) "
                          "linked to other mentions in their document")
        for role, note in d.notes.items():
            err_console.print(f"[yellow]note:[/] {role} data: {escape(note)}", markup=True)
        for role, counts in d.unseen.items():
            listed = ", ".join(f"{label} {n}" for label, n in counts.items())
            err_console.print(f"[yellow]note:[/] the {role} set has entity types the training set lacks ({escape(listed)}); "
                              "they count as misses", markup=True)
        if d.embeddings:
            e = d.embeddings
            named = f"{e.name} {e.version}, " if e.name else ""
            composed = f" ({e.composed:,} composed from their pieces)" if e.composed else ""
            console.print(f"embeddings: {named}{e.dim}-d, {e.words:,} of {e.vocabulary:,} vocabulary words found{composed}; "
                          f"coverage {100 * e.tokens:.1f}% of training tokens")
        if self.display:
            self.display.start()

    def close(self) -> None:
        if self.display and self.display.is_started:
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.task = None
            self.display.stop()


def configuration(path: Path | None, overrides: dict) -> TrainConfig:
    """The options of this run: the TOML file, then what was typed. When the result is refused but
    the file alone is not, the command line caused it: a usage error (exit 2, naming the option);
    otherwise the file is at fault (exit 1)."""
    try:
        return load_config(path, overrides)
    except NerError as e:
        load_config(path)  # raises the file's own error, if it has one
        key = e.message.split(" ", 1)[0]  # the checks name the option first: "hidden must be at least 1, not 0"
        raise typer.BadParameter(e.message, param_hint=f"--{key.replace('_', '-')}" if key in overrides else None) from None


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
    best = result.best_dev["micro"]
    console.print(f"best dev F1 {best['f1']:.2f} at epoch {result.best_epoch}; {result.seconds:.0f} s; model in {result.output}")
