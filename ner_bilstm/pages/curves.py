"""Training curves as inline SVG, drawn with matplotlib: loss, dev precision/recall/F1 with the
best epoch marked, and the learning rate, per epoch.

matplotlib is an optional dependency (the ``report`` extra); a missing one is a NerError saying
which install brings it. The figure is built without pyplot (no global state, no display) and
written with a fixed hash salt and no date, so the same history gives the same SVG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ..errors import NerError
from ..events import EpochRecord

INSTALL = 'pip install "ner-bilstm[report]"'


def require_matplotlib() -> None:
    """Raise a NerError naming the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NerError(f"the report draws its curves with matplotlib, which is not installed: {INSTALL}") from None


def curves_svg(history: Sequence[EpochRecord]) -> str:
    """The three panels as one ``<svg>`` element (text kept as text, so it stays small and searchable)."""
    require_matplotlib()
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    epochs = [h.epoch for h in history]
    best = [h for h in history if h.best]
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "ner-bilstm", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False}):
        fig = Figure(figsize=(11, 3.1), layout="constrained")
        loss, dev, lr = fig.subplots(1, 3)
        loss.plot(epochs, [h.loss for h in history], color="#444", marker=".")
        loss.set(title="training loss (per sentence)", xlabel="epoch")
        for name, colour in (("precision", "#1f77b4"), ("recall", "#ff7f0e"), ("f1", "#2ca02c")):
            dev.plot(epochs, [getattr(h, f"dev_{name}") for h in history], label=name if name != "f1" else "F1", color=colour,
                     marker="." if name == "f1" else None, linewidth=2 if name == "f1" else 1)
        if best:
            last = best[-1]
            dev.axvline(last.epoch, color="#999", linestyle="--", linewidth=1)
            dev.plot([last.epoch], [last.dev_f1], marker="*", markersize=13, color="#d62728", linestyle="none",
                     label=f"best: epoch {last.epoch}, F1 {last.dev_f1:.2f}")
        dev.set(title="dev scores (%)", xlabel="epoch")
        dev.legend(loc="lower right", fontsize=8, frameon=False)
        lr.plot(epochs, [h.lr for h in history], color="#9467bd", marker=".")
        lr.set(title="learning rate", xlabel="epoch")
        lr.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        for ax in (loss, dev, lr):
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]
