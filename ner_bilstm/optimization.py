"""One optimisation step and what it needs: the optimiser, gradient clipping, word dropout and the
moving average of the weights."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

from .batching import Batch
from .config import TrainConfig

if TYPE_CHECKING:
    from .model import TaggerNetwork
    from .setup import TrainingSetup


def make_optimizer(config: TrainConfig, model: TaggerNetwork) -> torch.optim.Optimizer:
    """SGD with momentum, Adam, or Adam that updates the embedding tables only on the rows a batch
    used (``lazyadam``: ``RowAdam`` over the model's sparse row gradients); torch's fused kernels
    (10x faster steps on CPU) where they exist."""
    cls, kwargs = {"sgd": (torch.optim.SGD, {"momentum": config.momentum}), "adam": (torch.optim.Adam, {}),
                   "lazyadam": (RowAdam, {})}[config.optimizer]
    model.sparse_rows(config.optimizer == "lazyadam")
    params: Any = model.parameters()
    if config.embed_lr != 1.0:  # one group otherwise, so that checkpoints keep their layout
        tables = [p for p, _ in model.row_tables().values()]
        table_ids = {id(p) for p in tables}
        params = [{"params": [p for p in model.parameters() if id(p) not in table_ids]},
                  {"params": tables, "lr": config.lr * config.embed_lr, "lr_scale": config.embed_lr}]
    try:
        return cls(params, lr=config.lr, weight_decay=config.weight_decay, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, lr=config.lr, weight_decay=config.weight_decay, **kwargs)


class RowAdam(torch.optim.Adam):
    """Adam that updates a parameter with a sparse gradient (an embedding table) only on the rows
    the step touched, moments included ("lazy" Adam, as torch's SparseAdam); dense-gradient
    parameters take torch's own Adam, fused where it can be.

    A CoNLL-2003 batch touches about 700 of 21,000 word rows, so a dense update of the table is
    most of the optimiser's work. Rows a batch did not use keep their values and moments, where
    Adam would go on moving them by their momentum: a different optimiser, not a faster Adam, hence
    an option. The state has Adam's layout, so checkpoints of either load into the other.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], **kwargs):
        unsupported = [k for k in ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay") if kwargs.get(k)]
        if unsupported:
            raise ValueError(f"RowAdam does not support {', '.join(unsupported)}")
        super().__init__(params, **kwargs)
        # GradScaler would hand a fused optimiser its found_inf to skip in-kernel; the row update
        # has no such check, so the scaler must skip the whole step itself.
        self._step_supports_amp_scaling = False

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("RowAdam takes no closure")
        rows = [(group, p, p.grad) for group in self.param_groups for p in group["params"] if p.grad is not None and p.grad.is_sparse]
        for _, p, _ in rows:
            p.grad = None  # hidden from Adam's dense step, which refuses sparse gradients
        try:
            super().step()
        finally:
            for _, p, grad in rows:
                p.grad = grad
        for group, p, grad in rows:
            self._update_rows(group, p, grad.coalesce())

    def _update_rows(self, group: dict, p: torch.Tensor, grad: torch.Tensor) -> None:
        """Adam's update of the rows of ``p`` that the coalesced sparse ``grad`` names."""
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])  # on CUDA a sync, as the step's loss.item() already is
        (beta1, beta2), lr, eps = group["betas"], float(group["lr"]), group["eps"]
        rows, g = grad.indices()[0], grad.values()
        if group["weight_decay"]:
            g = g.add(p.index_select(0, rows), alpha=group["weight_decay"])
        m = state["exp_avg"].index_select(0, rows).lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        denom = v.sqrt_().div_(math.sqrt(1 - beta2**step)).add_(eps)
        p.index_add_(0, rows, m.div_(denom), alpha=-lr / (1 - beta1**step))


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (from 1): ``lr / (1 + lr_decay * (epoch - 1))``."""
    return config.lr / (1 + config.lr_decay * (epoch - 1))


def moving_average(decay: float) -> Callable:
    """The update of an exponential moving average whose decay warms up as ``(1 + n) / (10 + n)``
    until it reaches ``decay``: early steps forget fast, so the random initial weights do not
    dominate the average for thousands of steps."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        steps = int(n)
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + steps) / (10 + steps)))

    return update


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most ``max_norm``; returns the norm before.

    Unlike ``clip_grad_norm_`` it leaves the gradients alone when the norm is already small
    (most steps), and it takes sparse row gradients (coalesced here, once, for the optimiser too).
    """
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    grads = [p.grad.values() if p.grad.is_sparse else p.grad for p in params]  # values(): a view, scaled in place
    norm = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
    if norm > max_norm:
        torch._foreach_mul_(grads, max_norm / (norm + 1e-6))
    return norm


def singletons(stoi: dict[str, int], counts: dict[str, int]) -> torch.Tensor:
    """``(entries,)`` bool: the entries seen once in training, which word dropout may hide."""
    mask = torch.zeros(len(stoi), dtype=torch.bool)
    mask[[stoi[k] for k, n in counts.items() if n == 1]] = True
    return mask


def drop_singletons(ids: torch.Tensor, singleton: torch.Tensor, rate: float) -> torch.Tensor:
    """``ids`` with each entry seen once in training replaced by <unk> (1) at ``rate``."""
    drop = singleton[ids] & (torch.rand(ids.shape, device=ids.device) < rate)
    return ids.masked_fill(drop, 1)


def train_step(setup: TrainingSetup, batch: Batch, config: TrainConfig) -> float:
    """One optimisation step on ``batch`` (word dropout, loss, backward, clipping, update); returns the loss."""
    if config.word_dropout > 0:
        batch.words = drop_singletons(batch.words, setup.singleton, config.word_dropout)
        if setup.singleton_bigrams is not None:
            batch.bigrams = drop_singletons(batch.bigrams, setup.singleton_bigrams, config.word_dropout)
    if setup.step_sync is not None:
        setup.step_sync.announce(batch)  # the exchange's row counts travel during the forward pass
    amp = config.amp and setup.device.type == "cuda"
    half = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    with torch.autocast(setup.device.type, dtype=half, enabled=amp):
        loss = setup.trainer(batch)
    setup.optimizer.zero_grad(set_to_none=True)
    scaler = setup.scaler if amp and half == torch.float16 else None
    (scaler.scale(loss) if scaler is not None else loss).backward()
    if setup.step_sync is not None:
        setup.step_sync(batch)  # before unscaling, as DDP's own all-reduce: every process then sees the same inf/NaN
    if scaler is not None:
        scaler.unscale_(setup.optimizer)
    if config.clip > 0:
        clip_gradients(setup.model.parameters(), config.clip)
    if scaler is not None:
        scaler.step(setup.optimizer)
        scaler.update()
    else:
        setup.optimizer.step()
    if setup.average is not None:
        setup.average.update_parameters(setup.model)
    return loss.item()
