"""The two phases of SGD: per-layer gradient signal-to-noise ratio over training epochs.

For layer ``l`` and epoch ``t``, let ``g_{l,b}`` (``b = 1..M``) be the mini-batch gradients
restricted to layer ``l``'s parameters that SGD used during that epoch.  Then

``SNR_l(t) = ‖ḡ_l‖² / tr Ĉ_l``,  ``ḡ_l = (1/M) Σ_b g_{l,b}``,
``tr Ĉ_l = (1/(M − 1)) Σ_b ‖g_{l,b} − ḡ_l‖²``

(unbiased sample covariance, divisor ``M − 1``; ``M ≥ 2`` batches per epoch are required).
Drift phase: ``SNR > 1``; diffusion phase: ``SNR < 1``.  The transition epoch
``t*_l = min{t : S_l(t) ≤ 1}`` uses the trailing moving average
``S_l(t) = mean(SNR_l(max(0, t−w+1)), …, SNR_l(t))`` of window ``w`` (default 3).
[paper: Shwartz-Ziv & Tishby 2017, §3 (phases of the mini-batch gradients); definitions with
explicit divisors derived here]

Compatibility mode (:func:`idnn_compat`): the IDNNs code (``idnns/plots/plot_gradients.py``)
plots, per layer, *cumulative sums over layers ``1..l``* of the norm of the mean gradient
``Σ_{k≤l} ‖ḡ_k‖`` and of ``Σ_{k≤l} √(tr C_k)`` with the biased divisor ``M``, shows the
square root of the latter as its "std" curve — a quarter power of the covariance trace for a
single layer — and the "SNR" ``(Σ‖ḡ_k‖)² / Σ√(tr C_k)``; it uses the weight matrices only.
This mode reproduces those curves for comparison with the paper's figures; it is not the
definition above.

**Fixed-point SNR** (:func:`fixed_point_snr`).  At fixed parameters ``θ`` draw ``R``
replications of ``M`` mini-batches of size ``B`` (indices i.i.d. uniform *with replacement*
by default, independently for every batch; ``replacement=False`` draws each batch as a
uniformly random ``B``-subset, batches still independent of each other), and record per
replication ``r`` and layer ``l`` (every network draws its own batches, so networks and
replications are all independent) the statistics of :func:`snr_from_batch_gradients`:
``A_{r,l} = ‖ḡ_l‖²`` and ``C_{r,l} = tr Ĉ_l`` (divisor ``M − 1``).  The exact per-layer
``|G_l|²``, ``tr Σ_l`` (divisor ``N``) and ``B_simple,l`` of the full data set come from
:func:`flatstart.montecarlo.confusion.exact_noise_scale` on exact per-sample gradients.

**SNR over training** (:func:`snr_training`).  Plain SGD (no momentum: the optimizer is
stateless, so training epoch by epoch is the same as one run), one seeded permutation per
epoch; per epoch the per-layer SNR of :func:`gradient_snr` (the ``M = n // B`` batch gradients
SGD used, at the moving iterate) and the exact noise scale at the parameters at the *start* of
the epoch (and at the end of training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_int, check_positive
from flatstart.montecarlo.confusion import exact_noise_scale, layer_groups
from flatstart.montecarlo.data import Dataset, as_dataset, batch_indices
from flatstart.montecarlo.losses import network_loss
from flatstart.montecarlo.optim import make_optimizer
from flatstart.montecarlo.per_sample import batch_gradients, stacked_params
from flatstart.montecarlo.training import check_training_loss, loss_and_grads

__all__ = [
    "FixedPointSNR",
    "SNRHistory",
    "SNRTraining",
    "fixed_point_snr",
    "gradient_snr",
    "gradient_snr_reference",
    "idnn_compat",
    "idnn_compat_from_history",
    "layer_moments",
    "snr_from_batch_gradients",
    "snr_training",
    "transition_epochs",
]


def _groups(n_params: int, groups: Sequence[int] | None) -> tuple[list[int], list[int]]:
    g = list(range(1, n_params + 1)) if groups is None else [int(v) for v in groups]
    if len(g) != n_params:
        raise ValueError(f"groups must give a layer for each of the {n_params} parameter "
                         f"tensors, got {len(g)}")
    return g, sorted(set(g))


def layer_moments(
    batch_grads: Sequence[Tensor], groups: Sequence[int] | None = None
) -> tuple[Tensor, Tensor, list[int]]:
    """Per-layer ``‖ḡ_l‖²`` and ``Σ_b ‖g_{l,b} − ḡ_l‖²`` from stacked batch gradients.

    Args:
        batch_grads: list of ``(count, M, *shape)`` tensors (``M`` batch gradients each).
        groups: layer index of each tensor (default: one layer per tensor).

    Returns:
        ``(mean_sq, sum_sq_dev, layers)`` with ``(count, n_layers)`` tensors.
    """
    g, layers = _groups(len(batch_grads), groups)
    ms, ss = [], []
    for lay in layers:
        flat = torch.cat([t.reshape(t.shape[0], t.shape[1], -1)
                          for t, li in zip(batch_grads, g, strict=True) if li == lay], dim=2)
        mean = flat.mean(dim=1)
        ms.append(mean.pow(2).sum(dim=1))
        ss.append((flat - mean[:, None]).pow(2).sum(dim=(1, 2)))
    return torch.stack(ms, dim=1), torch.stack(ss, dim=1), layers


def snr_from_batch_gradients(
    batch_grads: Sequence[Tensor], groups: Sequence[int] | None = None
) -> dict[str, Tensor]:
    """``SNR_l = ‖ḡ_l‖² / tr Ĉ_l`` (divisor ``M − 1``) from ``M`` batch gradients per network.

    Returns a dict with ``snr``, ``mean_sq``, ``trace_cov`` (each ``(count, n_layers)``) and
    ``layers``.  ``snr = inf`` where ``tr Ĉ = 0``.

    >>> g = torch.tensor([[[1.0, 0.0], [3.0, 0.0]]])   # one net, M = 2, mean (2, 0)
    >>> snr_from_batch_gradients([g])["snr"].tolist()  # 4 / ((1 + 1)/1)
    [[2.0]]
    """
    m = batch_grads[0].shape[1]
    if m < 2:
        raise ValueError(f"need at least 2 batch gradients per epoch, got M = {m}")
    mean_sq, ss, layers = layer_moments(batch_grads, groups)
    tr = ss / (m - 1)
    snr = torch.where(tr > 0, mean_sq / torch.where(tr > 0, tr, 1.0),
                      torch.full_like(tr, math.inf))
    return {"snr": snr, "mean_sq": mean_sq, "trace_cov": tr,
            "layers": torch.tensor(layers)}


class _Welford:
    """Streaming per-layer mean vector and sum of squared deviations (numerically stable)."""

    def __init__(self, shapes: list[tuple[int, int]], dtype: torch.dtype, device: Any) -> None:
        self.n = 0
        self.mean = [torch.zeros(c, p, dtype=dtype, device=device) for c, p in shapes]
        self.m2 = [torch.zeros(c, dtype=dtype, device=device) for c, _ in shapes]

    def add(self, flats: list[Tensor]) -> None:
        self.n += 1
        for i, g in enumerate(flats):
            delta = g - self.mean[i]
            self.mean[i] += delta / self.n
            self.m2[i] += (delta * (g - self.mean[i])).sum(dim=1)


@dataclass
class SNRHistory:
    """Per-epoch, per-layer gradient statistics recorded by :func:`gradient_snr`.

    Attributes:
        snr: ``(count, epochs, n_layers)`` ``‖ḡ‖²/tr Ĉ`` (divisor ``M − 1``).
        mean_sq: ``‖ḡ_l‖²``; trace_cov: ``tr Ĉ_l`` (divisor ``M − 1``); same shape.
        batches_per_epoch: ``M``.
        layers: layer index of each column.
        losses: ``(epochs, count)`` full-data loss at the end of each epoch.
        final_params: parameters after training.
    """

    snr: Tensor
    mean_sq: Tensor
    trace_cov: Tensor
    batches_per_epoch: int
    layers: list[int]
    losses: Tensor
    final_params: list[Tensor]
    config: dict[str, Any] = field(default_factory=dict)


def _layer_groups(nets: Any, n: int, weights_only: bool) -> list[int | None]:
    fn = getattr(nets, "parameter_layers", None)
    groups: list[int | None] = list(fn()) if callable(fn) else list(range(1, n + 1))
    if len(groups) != n:
        groups = list(range(1, n + 1))
    if weights_only:
        names_fn = getattr(nets, "parameter_names", None)
        if not callable(names_fn):
            raise ValueError("weights_only=True needs nets.parameter_names()")
        names = list(names_fn())
        groups = [gr if str(nm).startswith("W") else None for gr, nm in zip(groups, names,
                                                                            strict=True)]
    return groups


def gradient_snr(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | Tensor | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    loss: str = "mse",
    seed: int = 0,
    *,
    params: Sequence[Tensor] | None = None,
    weights_only: bool = False,
    **opt_kwargs: Any,
) -> SNRHistory:
    """Train all networks for ``epochs`` epochs and record each epoch's per-layer SNR.

    An epoch is ``M = n // batch_size`` steps over a fresh seeded permutation; the recorded
    ``g_{l,b}`` are the mini-batch gradients used for the updates (evaluated at the moving
    iterate, as in the paper).  Statistics are accumulated with Welford's update (no
    per-batch gradients stored).  Layers come from ``nets.parameter_layers()`` (weights,
    biases and norm affines of a layer pooled); ``weights_only`` keeps the weight matrices
    only (as the IDNNs code).

    Raises:
        ValueError: ``n // batch_size < 2`` (an epoch needs ≥ 2 batches), bad optimizer, ...
    """
    ds = as_dataset(data)
    epochs = check_int("epochs", epochs)
    batch_size = check_int("batch_size", batch_size)
    loss = check_training_loss(loss, "gradient_snr")
    seed = check_int("seed", seed, minimum=0)
    if batch_size > ds.n:
        raise ValueError(f"batch_size must be <= the number of samples n = {ds.n}, "
                         f"got {batch_size}")
    m = ds.n // batch_size
    if m < 2:
        raise ValueError(f"an epoch needs >= 2 batches: n // batch_size = {ds.n} // "
                         f"{batch_size} = {m}")
    theta = [p.detach().clone() for p in (nets.parameters() if params is None else params)]
    opt = make_optimizer(optimizer, theta, lr, **opt_kwargs)
    groups = _layer_groups(nets, len(theta), weights_only)
    layers = sorted({g for g in groups if g is not None})
    count = theta[0].shape[0]
    sizes = []
    for lay in layers:
        sizes.append((count, sum(p[0].numel() for p, g in zip(theta, groups, strict=True)
                                 if g == lay)))
    stream = batch_indices(ds.n, batch_size, epochs=epochs, shuffle=True, seed=seed)
    snr_l, ms_l, tr_l, loss_l = [], [], [], []
    for _ in range(epochs):
        acc = _Welford(sizes, theta[0].dtype, theta[0].device)
        for _b in range(m):
            idx = next(stream).to(ds.x.device)
            _, grads = loss_and_grads(nets, theta, ds.x[idx], ds.y[idx], loss)
            flats = [torch.cat([gr.reshape(count, -1) for gr, g in zip(grads, groups,
                                                                        strict=True)
                                if g == lay], dim=1) for lay in layers]
            acc.add(flats)
            opt.step(grads)
        mean_sq = torch.stack([mu.pow(2).sum(dim=1) for mu in acc.mean], dim=1)
        tr = torch.stack(acc.m2, dim=1).clamp_min(0) / (m - 1)
        snr_l.append(torch.where(tr > 0, mean_sq / torch.where(tr > 0, tr, 1.0),
                                 torch.full_like(tr, math.inf)))
        ms_l.append(mean_sq)
        tr_l.append(tr)
        with torch.no_grad():
            loss_l.append(network_loss(nets.forward(ds.x, params=theta), ds.y, loss))
    return SNRHistory(
        snr=torch.stack(snr_l, dim=1), mean_sq=torch.stack(ms_l, dim=1),
        trace_cov=torch.stack(tr_l, dim=1), batches_per_epoch=m, layers=layers,
        losses=torch.stack(loss_l), final_params=[p.detach().clone() for p in theta],
        config={"optimizer": optimizer, "lr": lr, "epochs": epochs, "batch_size": batch_size,
                "loss": loss, "seed": seed, "weights_only": weights_only, **opt_kwargs},
    )


def transition_epochs(snr: Tensor, window: int = 3, level: float = 1.0) -> Tensor:
    """First epoch at which the smoothed SNR is ``≤ level``, per network and layer.

    ``S(t)`` = trailing moving average of ``snr[..., t, :]`` over epochs
    ``max(0, t − window + 1) … t`` (``inf`` values propagate).  Returns a long tensor
    ``(..., n_layers)`` (the epoch axis removed) with ``−1`` where ``S`` never drops to
    ``level``.

    >>> s = torch.tensor([[[5.0], [3.0], [0.5], [0.1], [0.1]]])   # (count, epochs, layers)
    >>> transition_epochs(s, window=2).tolist()   # averages 5, 4, 1.75, 0.3 -> epoch 3
    [[3]]
    """
    window = check_int("window", window)
    if snr.dim() < 2:
        raise ValueError(f"snr must have shape (..., epochs, n_layers), got {tuple(snr.shape)}")
    e = snr.shape[-2]
    acc = torch.zeros_like(snr)
    for k in range(min(window, e)):
        acc[..., k:, :] += snr[..., : e - k, :]
    denom = torch.clamp(torch.arange(1, e + 1, device=snr.device), max=window).to(snr.dtype)
    smooth = torch.nan_to_num(acc / denom[:, None], nan=math.inf)
    below = smooth <= level
    first = torch.where(below.any(dim=-2), below.to(torch.int8).argmax(dim=-2),
                        torch.full(below.shape[:-2] + below.shape[-1:], -1))
    return first.long()


def idnn_compat(mean_norm: Tensor, trace_cov_biased: Tensor) -> dict[str, Tensor]:
    """The IDNNs plotting code's cumulative-over-layers curves (compatibility mode).

    Inputs ``(..., epochs, n_layers)``: ``‖ḡ_l‖`` and ``tr C_l`` with divisor ``M``.
    Outputs (same shape), cumulative over layers ``k ≤ l``: ``mean = Σ‖ḡ_k‖``,
    ``var = Σ √(tr C_k)``, ``std = √var`` (a quarter power of the trace for one layer),
    ``snr = mean² / var``.  Not a signal-to-noise ratio in the sense of :func:`gradient_snr`.

    >>> d = torch.float64
    >>> out = idnn_compat(torch.tensor([[1.0, 2.0]], dtype=d), torch.tensor([[16.0, 9.0]], dtype=d))
    >>> out["var"].tolist(), out["std"].tolist(), out["snr"].tolist()
    ([[4.0, 7.0]], [[2.0, 2.6457513110645907]], [[0.25, 1.2857142857142858]])
    """
    mean = torch.cumsum(mean_norm, dim=-1)
    var = torch.cumsum(trace_cov_biased.clamp_min(0).sqrt(), dim=-1)
    return {"mean": mean, "var": var, "std": var.sqrt(), "snr": mean.pow(2) / var}


def idnn_compat_from_history(h: SNRHistory) -> dict[str, Tensor]:
    """:func:`idnn_compat` from a :class:`SNRHistory` (converts ``tr Ĉ`` to divisor ``M``)."""
    m = h.batches_per_epoch
    return idnn_compat(h.mean_sq.sqrt(), h.trace_cov * (m - 1) / m)


def gradient_snr_reference(
    nets: Any,
    data: Dataset | tuple[Tensor, Tensor],
    optimizer: str = "sgd",
    lr: float | Tensor | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    loss: str = "mse",
    seed: int = 0,
    *,
    weights_only: bool = False,
    **opt_kwargs: Any,
) -> dict[str, Tensor]:
    """Slow reference for :func:`gradient_snr`: stores every batch gradient of an epoch and
    applies :func:`snr_from_batch_gradients` (two-pass formula instead of Welford)."""
    ds = as_dataset(data)
    theta = [p.detach().clone() for p in nets.parameters()]
    opt = make_optimizer(optimizer, theta, lr, **opt_kwargs)
    groups = _layer_groups(nets, len(theta), weights_only)
    keep = [i for i, g in enumerate(groups) if g is not None]
    m = ds.n // check_int("batch_size", batch_size)
    stream = batch_indices(ds.n, batch_size, epochs=epochs, shuffle=True, seed=seed)
    out: dict[str, list[Tensor]] = {"snr": [], "mean_sq": [], "trace_cov": []}
    for _ in range(epochs):
        stored: list[list[Tensor]] = []
        for _b in range(m):
            idx = next(stream)
            _, grads = loss_and_grads(nets, theta, ds.x[idx], ds.y[idx], loss)
            stored.append([grads[i].clone() for i in keep])
            opt.step(grads)
        stacked = [torch.stack([s[j] for s in stored], dim=1) for j in range(len(keep))]
        r = snr_from_batch_gradients(stacked, [int(groups[i]) for i in keep])  # type: ignore[arg-type]
        for key in out:
            out[key].append(r[key])
    return {k: torch.stack(v, dim=1) for k, v in out.items()}


# ---------------------------------------------------------------------------- fixed point
@dataclass
class FixedPointSNR:
    """Batch-gradient statistics at a fixed parameter point (see :func:`fixed_point_snr`).

    Attributes:
        mean_sq: ``(count, reps, n_layers)`` ``A = ‖ḡ_l‖²`` of each replication's ``M``
            batch gradients.
        trace_cov: same shape, ``C = tr Ĉ_l`` (divisor ``M − 1``).
        snr: ``A / C``.
        grad_sq_norm, trace_sigma, b_simple: ``(count, n_layers)`` exact ``|G_l|²``,
            ``tr Σ_l`` (divisor N) and ``B_simple,l`` of the full data set.
        layers: layer indices; batch_size ``B``; batches_per_rep ``M``; n ``N``;
        replacement: how batches were drawn; full_loss: ``(count,)`` loss at the point.
    """

    mean_sq: Tensor
    trace_cov: Tensor
    snr: Tensor
    grad_sq_norm: Tensor
    trace_sigma: Tensor
    b_simple: Tensor
    layers: list[int]
    batch_size: int
    batches_per_rep: int
    n: int
    replacement: bool
    full_loss: Tensor
    config: dict[str, Any] = field(default_factory=dict)


def fixed_point_snr(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], batch_size: int, batches_per_rep: int,
    reps: int, *, replacement: bool = True, seed: int = 0, loss: str = "mse",
    params: Sequence[Tensor] | None = None,
) -> FixedPointSNR:
    """Per-layer SNR statistics of ``reps × batches_per_rep`` independent mini-batches at
    fixed parameters, and the exact noise scale there (module docstring).

    Raises:
        ValueError: ``batches_per_rep < 2``, ``batch_size > n`` without replacement, ...
    """
    ds = as_dataset(data)
    m = check_int("batches_per_rep", batches_per_rep, minimum=2)
    r = check_int("reps", reps)
    theta = stacked_params(nets, params)
    grads = batch_gradients(nets, ds, batch_size, m * r, replacement=replacement, seed=seed,
                            loss=loss, params=theta, shared=False)
    count = theta[0].shape[0]
    groups = layer_groups(nets, len(theta))
    # (count, R*M, ...) -> (count*R, M, ...): replication r of network c is row c*R + r
    stacked = [g.reshape(count * r, m, *g.shape[2:]) for g in grads]
    st = snr_from_batch_gradients(stacked, groups)
    ns = exact_noise_scale(nets, ds, loss, theta)
    with torch.no_grad():
        full = network_loss(nets.forward(ds.x, params=theta), ds.y, loss)
    n_l = len(st["layers"])
    return FixedPointSNR(
        mean_sq=st["mean_sq"].reshape(count, r, n_l),
        trace_cov=st["trace_cov"].reshape(count, r, n_l),
        snr=st["snr"].reshape(count, r, n_l),
        grad_sq_norm=ns.layer_grad_sq_norm, trace_sigma=ns.layer_trace_cov,
        b_simple=ns.layer_b_simple, layers=[int(v) for v in st["layers"]],
        batch_size=int(batch_size), batches_per_rep=m, n=ds.n, replacement=bool(replacement),
        full_loss=full, config={"seed": seed, "loss": loss, "reps": r},
    )


@dataclass
class SNRTraining:
    """Result of :func:`snr_training`.

    Attributes:
        snr, mean_sq, trace_cov: ``(count, epochs, n_layers)`` as in
            :class:`SNRHistory`.
        b_simple: ``(count, epochs + 1, n_layers)`` exact ``B_simple,l`` at the start of
            every epoch and at the end of training.
        losses: ``(epochs + 1, count)`` full-data loss at the same points.
        layers, batch_size, batches_per_epoch, lr; final_params.
    """

    snr: Tensor
    mean_sq: Tensor
    trace_cov: Tensor
    b_simple: Tensor
    losses: Tensor
    layers: list[int]
    batch_size: int
    batches_per_epoch: int
    lr: float
    final_params: list[Tensor]


def snr_training(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], lr: float, epochs: int, batch_size: int,
    *, seed: int = 0, loss: str = "mse", params: Sequence[Tensor] | None = None,
) -> SNRTraining:
    """Plain SGD for ``epochs`` epochs recording per-layer SNR and exact ``B_simple,l``.

    Epoch ``e`` runs :func:`gradient_snr` for one epoch from the current
    parameters with batch-order seed ``seed · 100003 + e`` (SGD is stateless, so this is one
    continuous run); the noise scale is measured before each epoch and after the last.
    """
    ds = as_dataset(data)
    lr = check_positive("lr", lr)
    epochs = check_int("epochs", epochs)
    seed = check_int("seed", seed, minimum=0)
    theta = stacked_params(nets, params)
    snr, ms, tr, bs, losses = [], [], [], [], []
    layers: list[int] = []
    m = 0
    for e in range(epochs + 1):
        ns = exact_noise_scale(nets, ds, loss, theta)
        bs.append(ns.layer_b_simple)
        with torch.no_grad():
            losses.append(network_loss(nets.forward(ds.x, params=theta), ds.y, loss))
        if e == epochs:
            break
        h = gradient_snr(nets, ds, "sgd", lr, epochs=1, batch_size=batch_size, loss=loss,
                         seed=seed * 100003 + e, params=theta)
        snr.append(h.snr[:, 0])
        ms.append(h.mean_sq[:, 0])
        tr.append(h.trace_cov[:, 0])
        layers, m = list(h.layers), h.batches_per_epoch
        theta = h.final_params
    return SNRTraining(
        snr=torch.stack(snr, dim=1), mean_sq=torch.stack(ms, dim=1),
        trace_cov=torch.stack(tr, dim=1), b_simple=torch.stack(bs, dim=1),
        losses=torch.stack(losses), layers=layers, batch_size=int(batch_size),
        batches_per_epoch=m, lr=lr, final_params=theta,
    )
