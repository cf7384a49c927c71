"""Batched training of many independent networks, escape times from plateaus and saddles.

All networks of a :class:`~flatstart.montecarlo.networks.NetworkBatch` are trained at once: the loss
of network ``k`` depends only on its own parameters, so the gradient of the *sum* of the
per-network losses is, slice by slice, every network's own gradient; the optimizers of
:mod:`flatstart.montecarlo.optim` then update all slices elementwise.  Every network sees the same
mini-batch sequence (seeded), so training ``k`` networks together equals training each alone
(:func:`train_reference` is the loop over networks with ``torch.optim`` that checks this).

Losses are the names of :mod:`flatstart.montecarlo.losses` whose targets have the shape of the
outputs (every loss but ``"cross_entropy"``); the default ``"mse"`` is ``mean (f − y)²`` over
the batch and the output coordinates (``torch.nn.MSELoss()``, no factor ½).

:func:`saddle_escape_steps` runs the same optimizers on the one-parameter saddle
``f(θ) = −(λ/2)θ²`` (one parameter per ``λ``) and counts the steps to leave ``|θ| < R``.

>>> import torch
>>> from flatstart.montecarlo.networks import mlps
>>> from flatstart.montecarlo.data import teacher_dataset
>>> nets = mlps(4, 8, 2, input_dim=3, output_dim=1, seed=0)
>>> h = train(nets, teacher_dataset(32, 3, seed=1), "adam", lr=1e-2, steps=20, batch_size=8)
>>> tuple(h.losses.shape), bool((h.final_loss < h.initial_loss).all())
((20, 4), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_choice, check_int, check_positive, check_real
from flatstart.montecarlo.data import Dataset, as_dataset, batch_indices
from flatstart.montecarlo.losses import check_loss, network_loss
from flatstart.montecarlo.optim import make_optimizer, torch_reference_optimizer

__all__ = [
    "EscapeResult",
    "TrainHistory",
    "censored_median",
    "check_training_loss",
    "escape_times",
    "escape_times_reference",
    "grad_norms",
    "loss_and_grads",
    "saddle_escape_steps",
    "saddle_escape_steps_reference",
    "summarize_escape",
    "train",
    "train_reference",
]


def check_training_loss(loss: Any, where: str) -> str:
    """Canonical name of a training loss: targets shaped like the outputs (no cross-entropy)."""
    return check_loss(loss, exclude=("cross_entropy",), where=where)


# ---------------------------------------------------------------------------- gradients
def loss_and_grads(
    nets: Any, params: Sequence[Tensor], x: Tensor, y: Tensor, loss: str = "mse"
) -> tuple[Tensor, list[Tensor]]:
    """Per-network losses ``(count,)`` and stacked gradients (same shapes as ``params``).

    The gradient of ``Σ_k ℒ_k`` w.r.t. the stacked parameters is ``∇ℒ_k`` in slice ``k``
    because network ``k``'s loss depends only on slice ``k``.  [derived]  ``loss`` is a
    canonical name of :mod:`flatstart.montecarlo.losses`.
    """
    leaves = [p.detach().requires_grad_(True) for p in params]
    with torch.enable_grad():
        losses = network_loss(nets.forward(x, params=leaves), y, loss)
        grads = torch.autograd.grad(losses.sum(), leaves)
    return losses.detach(), list(grads)


def grad_norms(grads: Sequence[Tensor]) -> Tensor:
    """Per-network Euclidean norms ``(count,)`` of stacked gradients.

    >>> grad_norms([torch.tensor([[3.0], [0.0]]), torch.tensor([[4.0], [1.0]])]).tolist()
    [5.0, 1.0]
    """
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(dim=1) for g in grads)
    assert isinstance(sq, Tensor)
    return sq.sqrt()


# ---------------------------------------------------------------------------- training
@dataclass
class TrainHistory:
    """Result of :func:`train`.

    Attributes:
        steps: ``(R,)`` recorded iteration indices ``t`` (0-based).
        losses: ``(R, count)`` mini-batch loss ``ℒ_B(θ_t)`` of the batch used at step ``t``,
            evaluated before the update.
        grad_norms: ``(R, count)`` norm of that mini-batch gradient.
        full_losses: ``(R, count)`` full-data loss ``ℒ(θ_t)`` (only with ``full_loss=True``).
        initial_loss: ``(count,)`` full-data loss at ``θ_0``.
        final_loss: ``(count,)`` full-data loss at ``θ_T`` (after the last update).
        final_params: stacked parameters ``θ_T`` (detached copies).
        config: optimizer, lr, steps, batch size, loss, seed, hyperparameters.
        callback_results: return values of ``callback`` (recorded steps, then the end).
    """

    steps: Tensor
    losses: Tensor
    grad_norms: Tensor
    initial_loss: Tensor
    final_loss: Tensor
    final_params: list[Tensor]
    full_losses: Tensor | None = None
    config: dict[str, Any] = field(default_factory=dict)
    callback_results: list[Any] = field(default_factory=list)


def _check_nets(nets: Any) -> None:
    if not hasattr(nets, "forward") or not hasattr(nets, "parameters"):
        raise TypeError(
            f"nets must be a NetworkBatch (flatstart.montecarlo.networks.mlps/chains), got "
            f"{type(nets).__name__}"
        )


def _on_device(ds: Dataset, like: Tensor) -> Dataset:
    """The data set on the parameters' device (a copy only when needed)."""
    if ds.x.device == like.device:
        return ds
    return Dataset(ds.x.to(like.device), ds.y.to(like.device), ds.name, ds.seed, ds.info)


def _init_params(nets: Any, params: Sequence[Tensor] | None) -> list[Tensor]:
    src = nets.parameters() if params is None else list(params)
    return [p.detach().clone() for p in src]


def _batch_stream(
    n: int, batch_size: int | None, steps: int, seed: int, shuffle: bool
) -> Iterator[Tensor | None]:
    """``steps`` index batches (``None`` = the full data set)."""
    if batch_size is None:
        for _ in range(steps):
            yield None
        return
    per_epoch = n // batch_size
    epochs = math.ceil(steps / per_epoch)
    it = batch_indices(n, batch_size, epochs=epochs, shuffle=shuffle, seed=seed)
    for _ in range(steps):
        yield next(it)


def _check_batch(batch_size: int | None, n: int) -> int | None:
    if batch_size is None:
        return None
    b = check_int("batch_size", batch_size)
    if b > n:
        raise ValueError(f"batch_size must be <= the number of samples n = {n}, got {batch_size}")
    return b


def _take(ds: Dataset, idx: Tensor | None) -> tuple[Tensor, Tensor]:
    if idx is None:
        return ds.x, ds.y
    idx = idx.to(ds.x.device)
    return ds.x[idx], ds.y[idx]


def train(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | Tensor | None = None,
    steps: int = 100,
    batch_size: int | None = None,
    loss: str = "mse",
    seed: int = 0,
    record_every: int = 1,
    *,
    params: Sequence[Tensor] | None = None,
    full_loss: bool = False,
    shuffle: bool = True,
    callback: Callable[[int, list[Tensor]], Any] | None = None,
    **opt_kwargs: Any,
) -> TrainHistory:
    """Train every network of ``nets`` at once (no Python loop over networks).

    Step ``t = 0, …, steps−1``: take mini-batch ``B_t`` (seeded shuffles, epochs of
    ``n // batch_size`` batches, the remainder dropped; ``batch_size=None`` = full-batch GD),
    compute each network's loss ``ℒ_{B_t}(θ_t)`` and gradient, and apply the optimizer.  The
    networks' stored parameters are not modified (training starts from a copy).

    Args:
        nets: a ``NetworkBatch``.
        data: a :class:`~flatstart.montecarlo.data.Dataset` or an ``(x, y)`` pair.
        optimizer: one of :data:`flatstart.montecarlo.optim.OPTIMIZERS`.
        lr: learning rate (> 0; tensor ``(count,)`` for per-network rates); ``None`` = torch's
            default for that optimizer.
        steps: number of updates (≥ 1).
        batch_size: mini-batch size (≤ n) or ``None`` for full batch.
        loss: a loss of :mod:`flatstart.montecarlo.losses` (not ``"cross_entropy"``).
        seed: seed of the batch order.
        record_every: record every this many steps (step 0 always recorded).
        params: starting parameters (default ``nets.parameters()``).
        full_loss: also record the full-data loss at recorded steps (one extra forward).
        shuffle: reshuffle each epoch (else fixed order).
        callback: called as ``callback(t, θ_t)`` at every recorded step ``t`` (before the
            update) and once more as ``callback(steps, θ_T)`` at the end; ``θ`` are the live
            stacked tensors (do not modify them).  Its return values are collected in
            ``history.callback_results``.
        **opt_kwargs: optimizer hyperparameters (torch.optim names).

    Returns:
        :class:`TrainHistory`.

    Raises:
        ValueError: unknown optimizer/loss, ``lr ≤ 0``, ``steps < 1``, ``batch_size > n``.
    """
    _check_nets(nets)
    ds = as_dataset(data)
    steps = check_int("steps", steps)
    record_every = check_int("record_every", record_every)
    loss = check_training_loss(loss, "train")
    batch_size = _check_batch(batch_size, ds.n)
    seed = check_int("seed", seed, minimum=0)
    theta = _init_params(nets, params)
    ds = _on_device(ds, theta[0])
    opt = make_optimizer(optimizer, theta, lr, **opt_kwargs)
    with torch.no_grad():
        initial = network_loss(nets.forward(ds.x, params=theta), ds.y, loss)
    rec_steps: list[int] = []
    rec_loss: list[Tensor] = []
    rec_gn: list[Tensor] = []
    rec_full: list[Tensor] = []
    cb_results: list[Any] = []
    for t, idx in enumerate(_batch_stream(ds.n, batch_size, steps, seed, shuffle)):
        xb, yb = _take(ds, idx)
        losses, grads = loss_and_grads(nets, theta, xb, yb, loss)
        if t % record_every == 0:
            if callback is not None:
                cb_results.append(callback(t, theta))
            rec_steps.append(t)
            rec_loss.append(losses)
            rec_gn.append(grad_norms(grads))
            if full_loss:
                if idx is None:
                    rec_full.append(losses)
                else:
                    with torch.no_grad():
                        rec_full.append(
                            network_loss(nets.forward(ds.x, params=theta), ds.y, loss)
                        )
        opt.step(grads)
    with torch.no_grad():
        final = network_loss(nets.forward(ds.x, params=theta), ds.y, loss)
    if callback is not None:
        cb_results.append(callback(steps, theta))
    config = {"optimizer": optimizer, "lr": lr if lr is not None else opt.lr, "steps": steps,
              "batch_size": batch_size, "loss": loss, "seed": seed, **opt_kwargs}
    return TrainHistory(
        steps=torch.tensor(rec_steps),
        losses=torch.stack(rec_loss),
        grad_norms=torch.stack(rec_gn),
        initial_loss=initial,
        final_loss=final,
        final_params=[p.detach().clone() for p in theta],
        full_losses=torch.stack(rec_full) if full_loss else None,
        config=config,
        callback_results=cb_results,
    )


def train_reference(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | None = None,
    steps: int = 100,
    batch_size: int | None = None,
    loss: str = "mse",
    seed: int = 0,
    *,
    params: Sequence[Tensor] | None = None,
    shuffle: bool = True,
    **opt_kwargs: Any,
) -> tuple[Tensor, list[Tensor]]:
    """Slow reference for :func:`train`: a Python loop over networks, each trained alone with
    ``torch.optim`` (``foreach=False``) on its own ``(1, ...)`` parameter slices, same batches.

    Returns:
        ``(losses, final_params)``: ``losses`` ``(steps, count)`` mini-batch losses and the
        stacked final parameters.
    """
    _check_nets(nets)
    ds = as_dataset(data)
    steps = check_int("steps", steps)
    loss = check_training_loss(loss, "train_reference")
    batch_size = _check_batch(batch_size, ds.n)
    theta = _init_params(nets, params)
    count = theta[0].shape[0]
    all_losses = torch.empty(steps, count, dtype=theta[0].dtype)
    finals: list[list[Tensor]] = []
    for k in range(count):
        leaves = [p[k:k + 1].clone().requires_grad_(True) for p in theta]
        opt = torch_reference_optimizer(optimizer, leaves, lr, **opt_kwargs)
        for t, idx in enumerate(_batch_stream(ds.n, batch_size, steps, seed, shuffle)):
            xb, yb = _take(ds, idx)
            opt.zero_grad()
            lk = network_loss(nets.forward(xb, params=leaves), yb, loss)[0]
            lk.backward()
            all_losses[t, k] = lk.detach()
            opt.step()
        finals.append([p.detach() for p in leaves])
    stacked = [torch.cat([f[i] for f in finals]) for i in range(len(theta))]
    return all_losses, stacked


# ---------------------------------------------------------------------------- escape times
@dataclass
class EscapeResult:
    """Per-network escape times (right-censored at ``max_steps``).

    Attributes:
        times: ``(count,)`` long: escape iteration ``T_k``, or ``max_steps`` if censored.
        censored: ``(count,)`` bool: ``True`` where no escape happened within ``max_steps``.
        max_steps, criterion, threshold, optimizer, lr: the settings.
        depth: ``nets.depth`` (for :func:`summarize_escape`).
        final_loss: ``(count,)`` full-data loss when the run stopped.
        label: free-form dict of extra grouping keys.
    """

    times: Tensor
    censored: Tensor
    max_steps: int
    criterion: str
    threshold: float
    optimizer: str
    lr: Any
    depth: int | None = None
    final_loss: Tensor | None = None
    label: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.times.shape[0])


def _escape_setup(
    nets: Any, data: Any, threshold: float, max_steps: int, criterion: str, loss: str,
    batch_size: int | None, seed: int,
) -> tuple[Dataset, float, int, int | None, int, str]:
    _check_nets(nets)
    ds = as_dataset(data)
    threshold = check_positive("threshold", threshold)
    max_steps = check_int("max_steps", max_steps)
    check_choice("criterion", criterion, ["loss", "grad_norm"])
    if criterion == "grad_norm" and threshold <= 1:
        raise ValueError(f"threshold must be > 1 for criterion='grad_norm' (the factor by which "
                         f"the gradient norm must grow), got {threshold!r}")
    loss = check_training_loss(loss, "escape_times")
    batch_size = _check_batch(batch_size, ds.n)
    seed = check_int("seed", seed, minimum=0)
    return ds, threshold, max_steps, batch_size, seed, loss


def escape_times(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | Tensor | None = None,
    threshold: float = 1e-2,
    max_steps: int = 1000,
    criterion: str = "loss",
    *,
    batch_size: int | None = None,
    loss: str = "mse",
    seed: int = 0,
    params: Sequence[Tensor] | None = None,
    **opt_kwargs: Any,
) -> EscapeResult:
    """Iterations each network needs to leave its initial plateau, right-censored at a cap.

    With ``θ_t`` the iterate after ``t`` updates and ``ℒ`` the *full-data* loss:

    * ``criterion="loss"``: ``T = min{t ∈ {0, …, max_steps} : ℒ(θ_t) < threshold}``;
    * ``criterion="grad_norm"``: ``T = min{t : ‖∇ℒ(θ_t)‖ ≥ threshold · ‖∇ℒ(θ_0)‖}`` (the
      gradient norm grows by the factor ``threshold > 1`` when the iterate leaves a flat
      saddle; a network whose gradient stays exactly 0, e.g. a dead ReLU net, never escapes).

    Networks with no such ``t ≤ max_steps`` are censored: ``times = max_steps``,
    ``censored = True`` (never dropped).  Updates use mini-batches when ``batch_size`` is
    given (the criterion is still evaluated on the full data); the run stops early once every
    network has escaped.  [derived: definitions used by this package]

    Raises:
        ValueError: ``max_steps < 1``, ``threshold ≤ 0``, unknown criterion/optimizer, ...
    """
    ds, threshold, max_steps, batch_size, seed, loss = _escape_setup(
        nets, data, threshold, max_steps, criterion, loss, batch_size, seed)
    theta = _init_params(nets, params)
    ds = _on_device(ds, theta[0])
    count = theta[0].shape[0]
    opt = make_optimizer(optimizer, theta, lr, **opt_kwargs)
    times = torch.full((count,), max_steps, dtype=torch.long)
    escaped = torch.zeros(count, dtype=torch.bool)
    g0: Tensor | None = None
    batches = _batch_stream(ds.n, batch_size, max_steps, seed, True)
    full = torch.empty(0)
    for t in range(max_steps + 1):
        full, grads = loss_and_grads(nets, theta, ds.x, ds.y, loss)
        if criterion == "loss":
            hit = full < threshold
        else:
            gn = grad_norms(grads)
            if g0 is None:
                g0 = gn
            hit = (gn >= threshold * g0) & (gn > 0)
        hit = hit.cpu()
        new = hit & ~escaped
        times[new] = t
        escaped |= hit
        if bool(escaped.all()) or t == max_steps:
            break
        idx = next(batches)
        if idx is not None:
            xb, yb = _take(ds, idx)
            _, grads = loss_and_grads(nets, theta, xb, yb, loss)
        opt.step(grads)
    return EscapeResult(
        times=times, censored=~escaped, max_steps=max_steps, criterion=criterion,
        threshold=threshold, optimizer=optimizer, lr=lr, depth=getattr(nets, "depth", None),
        final_loss=full.detach().cpu(),
    )


def escape_times_reference(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | None = None,
    threshold: float = 1e-2,
    max_steps: int = 1000,
    criterion: str = "loss",
    *,
    batch_size: int | None = None,
    loss: str = "mse",
    seed: int = 0,
    params: Sequence[Tensor] | None = None,
    **opt_kwargs: Any,
) -> EscapeResult:
    """Slow reference for :func:`escape_times`: one network at a time, ``torch.optim``, and a
    direct scan of every iterate up to ``max_steps`` (no early stop)."""
    ds, threshold, max_steps, batch_size, seed, loss = _escape_setup(
        nets, data, threshold, max_steps, criterion, loss, batch_size, seed)
    theta = _init_params(nets, params)
    count = theta[0].shape[0]
    times = torch.full((count,), max_steps, dtype=torch.long)
    censored = torch.ones(count, dtype=torch.bool)
    for k in range(count):
        leaves = [p[k:k + 1].clone().requires_grad_(True) for p in theta]
        opt = torch_reference_optimizer(optimizer, leaves, lr, **opt_kwargs)
        batches = _batch_stream(ds.n, batch_size, max_steps, seed, True)
        g0 = None
        for t in range(max_steps + 1):
            opt.zero_grad()
            lk = network_loss(nets.forward(ds.x, params=leaves), ds.y, loss)[0]
            lk.backward()
            gn = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in leaves if p.grad is not None))
            g0 = gn if g0 is None else g0
            if criterion == "loss":
                hit = float(lk.detach()) < threshold
            else:
                hit = gn >= threshold * g0 and gn > 0
            if hit and bool(censored[k]):
                times[k] = t
                censored[k] = False
            if t == max_steps:
                break
            idx = next(batches)
            if idx is not None:
                opt.zero_grad()
                xb, yb = _take(ds, idx)
                network_loss(nets.forward(xb, params=leaves), yb, loss)[0].backward()
            opt.step()
    return EscapeResult(times=times, censored=censored, max_steps=max_steps, criterion=criterion,
                        threshold=threshold, optimizer=optimizer, lr=lr,
                        depth=getattr(nets, "depth", None))


# ---------------------------------------------------------------------------- saddles
def _saddle_setup(
    lams: Any, theta0: float, radius: float, max_steps: int, device: str
) -> tuple[torch.Tensor, float, float, int]:
    lam = torch.as_tensor(np.asarray(lams, dtype=np.float64), device=device).reshape(-1)
    if lam.numel() == 0 or not bool(torch.isfinite(lam).all()) or not bool((lam > 0).all()):
        raise ValueError(f"lams must be a non-empty array of finite values > 0, got {lams!r}")
    th0 = check_real("theta0", theta0)
    if th0 == 0.0:
        raise ValueError("theta0 must be nonzero (0 is the saddle itself: no escape)")
    r = check_positive("radius", radius)
    return lam, th0, r, check_int("max_steps", max_steps)


def saddle_escape_steps(
    lams: Any,
    optimizer: str = "sgd",
    lr: float = 0.1,
    theta0: float = 1e-3,
    radius: float = 1.0,
    max_steps: int = 10_000,
    *,
    device: str = "cpu",
    **opt_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Steps a torch optimizer needs to leave ``|θ| < R`` on ``f_k(θ) = −(λ_k/2) θ²``.

    One scalar parameter per ``λ_k`` (a ``(count, 1)`` float64 tensor), gradients by autograd
    of ``Σ_k f_k``, updates by :func:`flatstart.montecarlo.optim.make_optimizer` (torch.optim's
    rules). ``T_k = min{t : |θ_t| ≥ R}``; runs not escaped after ``max_steps`` updates are censored
    (``steps = max_steps``, ``censored = True``). [derived: definitions]

    Returns:
        ``(steps, censored)``: float64 and bool arrays of shape ``(count,)``.

    >>> s, c = saddle_escape_steps([1.0], "sgd", lr=1.0, theta0=0.25, radius=1.0)
    >>> s.tolist(), c.tolist()
    ([2.0], [False])
    """
    lam, th0, r, max_steps = _saddle_setup(lams, theta0, radius, max_steps, device)
    count = lam.numel()
    theta = torch.full((count, 1), th0, dtype=torch.float64, device=lam.device)
    opt = make_optimizer(optimizer, [theta], lr, **opt_kwargs)
    steps = torch.full((count,), float(max_steps), dtype=torch.float64)
    done = torch.zeros(count, dtype=torch.bool)
    for t in range(1, max_steps + 1):
        leaf = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = (-0.5 * lam * leaf.reshape(-1) ** 2).sum()
            (g,) = torch.autograd.grad(loss, leaf)
        opt.step([g])
        hit = (theta.detach().abs().reshape(-1) >= r).cpu() & ~done
        steps[hit] = float(t)
        done |= hit
        if bool(done.all()):
            break
    return steps.numpy(), (~done).numpy()


def saddle_escape_steps_reference(
    lams: Any, optimizer: str = "sgd", lr: float = 0.1, theta0: float = 1e-3,
    radius: float = 1.0, max_steps: int = 10_000, **opt_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow reference: one ``torch.optim`` optimizer and one scalar leaf per λ, in a loop."""
    lam, th0, r, max_steps = _saddle_setup(lams, theta0, radius, max_steps, "cpu")
    steps, cens = [], []
    for lk in lam.tolist():
        p = torch.tensor([th0], dtype=torch.float64, requires_grad=True)
        opt = torch_reference_optimizer(optimizer, [p], lr, **opt_kwargs)
        t_hit = None
        for t in range(1, max_steps + 1):
            opt.zero_grad()
            (-0.5 * lk * p[0] ** 2).backward()
            opt.step()
            if abs(float(p.detach()[0])) >= r:
                t_hit = t
                break
        steps.append(float(max_steps if t_hit is None else t_hit))
        cens.append(t_hit is None)
    return np.array(steps), np.array(cens)


# ---------------------------------------------------------------------------- summaries
def censored_median(times: Tensor, censored: Tensor, cap: int) -> tuple[float | None, str]:
    """Median of right-censored times (all censored at the common ``cap``).

    Order the times with censored values placed last (they are only known to exceed the cap).
    For ``n`` odd the median is the order statistic ``T_((n+1)/2)``; for ``n`` even the mean
    of ``T_(n/2)`` and ``T_(n/2+1)``.  If an order statistic it needs is censored the median is
    not identified: more than half censored → ``(None, "> cap")``; exactly half censored
    (``n`` even) → ``(None, ">= (T_(n/2) + cap)/2")``, a lower bound.  [derived]

    >>> censored_median(torch.tensor([3, 10, 10]), torch.tensor([False, True, True]), 10)
    (None, '> 10')
    >>> censored_median(torch.tensor([3, 5, 10]), torch.tensor([False, False, True]), 10)
    (5.0, '5')
    """
    n = int(times.numel())
    if n == 0:
        raise ValueError("times must be non-empty")
    order = sorted(zip(censored.tolist(), times.tolist(), strict=True), key=lambda c: (c[0], c[1]))
    vals = [(float(t), bool(c)) for c, t in order]
    if n % 2 == 1:
        v, c = vals[(n - 1) // 2]
        return (None, f"> {cap}") if c else (v, f"{v:g}")
    (v1, c1), (v2, c2) = vals[n // 2 - 1], vals[n // 2]
    if c1:
        return None, f"> {cap}"
    if c2:
        return None, f">= {(v1 + cap) / 2:g}"
    m = (v1 + v2) / 2
    return m, f"{m:g}"


def summarize_escape(
    results: Sequence[EscapeResult] | Mapping[Any, EscapeResult],
) -> list[dict[str, Any]]:
    """Table of escape times grouped by (depth, optimizer): one dict per group.

    Keys: ``depth, optimizer, n, censored, censored_fraction, median`` (float or ``None``
    when not identified), ``median_str`` (e.g. ``"> 1000"``), ``max_steps``, ``q25, q75``
    (censoring-aware in the same way, ``None`` when censored).  Results with the same key are
    pooled (their caps must agree).

    >>> r = EscapeResult(torch.tensor([1, 3, 9]), torch.tensor([False, False, True]), 9,
    ...                  "loss", 0.1, "sgd", 0.1, depth=2)
    >>> row = summarize_escape([r])[0]; row["median"], row["censored"]
    (3.0, 1)
    """
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not items:
        raise ValueError("results must be a non-empty list of EscapeResult")
    groups: dict[tuple[Any, str], list[EscapeResult]] = {}
    for r in items:
        if not isinstance(r, EscapeResult):
            raise TypeError(f"results must contain EscapeResult, got {type(r).__name__}")
        groups.setdefault((r.depth, r.optimizer), []).append(r)
    rows = []
    for (depth, opt), rs in groups.items():
        caps = {r.max_steps for r in rs}
        if len(caps) != 1:
            raise ValueError(f"pooled results for depth={depth}, optimizer={opt!r} have "
                             f"different max_steps {sorted(caps)}")
        cap = caps.pop()
        times = torch.cat([r.times for r in rs])
        cens = torch.cat([r.censored for r in rs])
        med, med_s = censored_median(times, cens, cap)
        quart = []
        for q in (0.25, 0.75):
            key = sorted(zip(cens.tolist(), times.tolist(), strict=True))
            i = min(len(key) - 1, max(0, math.ceil(q * len(key)) - 1))
            c, t = key[i]
            quart.append(None if c else float(t))
        rows.append({
            "depth": depth, "optimizer": opt, "n": int(times.numel()),
            "censored": int(cens.sum()), "censored_fraction": float(cens.double().mean()),
            "median": med, "median_str": med_s, "q25": quart[0], "q75": quart[1],
            "max_steps": cap,
        })
    return rows
