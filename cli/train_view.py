"""How ``ner-bilstm train`` shows a run: its training events rendered as a progress bar per epoch
and a growing table of epochs (one view per seed for ``--seeds``)."""

from __future__ import annotations

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ner_bilstm.events import BatchDone, DataLoaded, EpochEnded, EpochStarted, Event, Resumed, SeedStarted, Tested

from .render import console, err_console, scores_table


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
