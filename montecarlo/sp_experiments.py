"""Measurements for the SP claim family: batch-gradient SNR at a fixed point, and SGD runs
that record the per-layer SNR together with the exact noise scale at every epoch.

Everything here *measures* (torch only, no theory).

**Replica gradients.** ``K`` separate batch gradients of every network are computed in one
backward pass: the ``count`` networks are replicated ``K`` times (``nets.select`` with
repeated indices) and replica ``(c, k)`` gets its own input batch ``x[k]`` (a
``(count·K, B, d)`` input); the loss of replica ``(c, k)`` depends only on its own parameter
slice, so the gradient of the summed losses is, slice by slice, the gradient of network ``c``
on batch ``k`` [derived, as in :mod:`flatstart.montecarlo.training`].  With ``B = 1`` this gives
exact per-sample gradients (for networks without batch-norm) and is much faster on a CPU than the
``vmap``-over-``vjp`` route of :func:`flatstart.montecarlo.confusion.per_sample_gradients`.
:func:`batch_gradients_reference` is the slow loop (one backward pass per batch).

**Fixed-point SNR** (:func:`fixed_point_snr`).  At fixed parameters ``θ`` draw ``R``
replications of ``M`` mini-batches of size ``B`` (indices i.i.d. uniform *with replacement*
by default, independently for every batch; ``replacement=False`` draws each batch as a
uniformly random ``B``-subset, batches still independent of each other), and record per
replication ``r`` and layer ``l`` (every network draws its own batches, so networks and
replications are all independent) the statistics of
:func:`flatstart.montecarlo.phases.snr_from_batch_gradients`: ``A_{r,l} = ‖ḡ_l‖²`` and
``C_{r,l} = tr Ĉ_l`` (divisor ``M − 1``).  The exact per-layer ``|G_l|²``, ``tr Σ_l``
(divisor ``N``) and ``B_simple,l`` of the full data set come from
:func:`flatstart.montecarlo.confusion.noise_scale` on exact per-sample gradients.

**SNR over training** (:func:`snr_training`).  Plain SGD (no momentum: the optimizer is
stateless, so training epoch by epoch is the same as one run), one seeded permutation per
epoch; per epoch the per-layer SNR of :func:`flatstart.montecarlo.phases.gradient_snr` (the ``M = n
// B`` batch gradients SGD used, at the moving iterate) and the exact noise scale at the
parameters at the *start* of the epoch (and at the end of training).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo.confusion import NoiseScale, layer_groups, noise_scale
from flatstart.montecarlo.data import Dataset, as_dataset
from flatstart.montecarlo.phases import gradient_snr, snr_from_batch_gradients
from flatstart.montecarlo.training import LOSSES, loss_and_grads, network_losses, per_sample_losses

__all__ = [
    "FixedPointSNR",
    "SNRTraining",
    "batch_gradients",
    "batch_gradients_reference",
    "exact_noise_scale",
    "fixed_point_snr",
    "iid_batch_indices",
    "per_sample_gradients_layerwise",
    "per_sample_gradients_replica",
    "replica_gradients",
    "snr_training",
]

_MAX_REPLICA_ELEMENTS = 4_000_000  # activations per chunk of replicas (memory guard)


def _theta(nets: Any, params: Sequence[Tensor] | None) -> list[Tensor]:
    if not hasattr(nets, "forward") or not hasattr(nets, "select"):
        raise TypeError(f"nets must be a NetworkBatch "
                        f"(flatstart.montecarlo.networks.mlps/chains), got "
                        f"{type(nets).__name__}")
    return [p.detach() for p in (nets.parameters() if params is None else params)]


def replica_gradients(
    nets: Any, x: Tensor, y: Tensor, loss: str = "mse", params: Sequence[Tensor] | None = None,
) -> list[Tensor]:
    """Gradient of every network on each of ``K`` batches: list of ``(count, K, *shape)``.

    ``x``: ``(K, B, n_0)`` and ``y``: ``(K, B, k)`` (the same batches for every network), or
    ``(count, K, B, n_0)`` and ``(count, K, B, k)`` (network ``c`` gets its own batches
    ``x[c]``); entry ``[c, k]`` is the gradient of network ``c``'s mean loss over its batch
    ``k`` (see the module docstring; computed in chunks of replicas to bound memory).  Not for
    batch-norm networks with ``B = 1``.

    >>> from flatstart.montecarlo.networks import mlps
    >>> nets = mlps(2, 4, 2, input_dim=3, output_dim=1, seed=0)
    >>> x = torch.randn(5, 2, 3, dtype=torch.float64); y = torch.randn(5, 2, 1, dtype=torch.float64)
    >>> [tuple(g.shape) for g in replica_gradients(nets, x, y)]
    [(2, 5, 4, 3), (2, 5, 1, 4)]
    """
    check_choice("loss", loss, LOSSES)
    theta = _theta(nets, params)
    count = theta[0].shape[0]
    if x.dim() == 3 and y.dim() == 3:
        x, y = x.unsqueeze(0).expand(count, *x.shape), y.unsqueeze(0).expand(count, *y.shape)
    if (x.dim() != 4 or y.dim() != 4 or x.shape[:3] != y.shape[:3]
            or x.shape[0] != count):
        raise ValueError(f"x and y must have shapes (K, B, n_0) and (K, B, k), or (count={count}, "
                         f"K, B, n_0) and (count, K, B, k), with equal K, B; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    k_all, b = x.shape[1], x.shape[2]
    width = sum(getattr(nets, "widths", [x.shape[3]]))
    chunk = max(1, min(k_all, _MAX_REPLICA_ELEMENTS // max(1, count * b * width)))
    parts: list[list[Tensor]] = []
    for start in range(0, k_all, chunk):
        kk = min(chunk, k_all - start)
        rep = torch.arange(count, device=theta[0].device).repeat_interleave(kk)
        sub = nets.select(rep)
        ps = [p[rep] for p in theta]
        xs = x[:, start:start + kk].reshape(count * kk, b, x.shape[3])
        ys = y[:, start:start + kk].reshape(count * kk, b, y.shape[3])
        _, grads = loss_and_grads(sub, ps, xs, ys, loss)
        parts.append([g.reshape(count, kk, *g.shape[1:]) for g in grads])
    return [torch.cat([p[i] for p in parts], dim=1) for i in range(len(theta))]


def per_sample_gradients_replica(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], loss: str = "mse",
    params: Sequence[Tensor] | None = None,
) -> list[Tensor]:
    """Exact per-sample gradients ``(count, N, *shape)`` via :func:`replica_gradients` with
    batches of one sample (same result as
    :func:`flatstart.montecarlo.confusion.per_sample_gradients`
    for networks without batch-norm)."""
    ds = as_dataset(data)
    if getattr(nets, "norm", None) == "batch":
        raise ValueError("per_sample_gradients_replica: batch-norm networks have no "
                         "single-sample gradients; use "
                         "flatstart.montecarlo.confusion.per_sample_gradients")
    return replica_gradients(nets, ds.x[:, None, :], ds.y[:, None, :], loss, params)


def per_sample_gradients_layerwise(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], loss: str = "mse",
    params: Sequence[Tensor] | None = None,
) -> list[Tensor]:
    """Exact per-sample gradients ``(count, N, *shape)`` of networks without normalization
    layers from one forward and one backward pass: ``∂ℓ_i/∂W_l = δ_{l,i} a_{l−1,i}ᵀ`` and
    ``∂ℓ_i/∂b_l = δ_{l,i}`` with ``δ_{l,i} = ∂(Σ_j ℓ_j)/∂h_{l,i}`` (sample ``i``'s
    pre-activation affects only ``ℓ_i``) [derived: chain rule; also with residual layers,
    where ``h_l = W_l a_{l−1} + b_l`` is still the only place ``W_l`` enters].
    :func:`per_sample_gradients_replica` is the reference.

    Raises:
        ValueError: networks with a normalization layer.
    """
    ds = as_dataset(data)
    check_choice("loss", loss, LOSSES)
    if getattr(nets, "norm", None) is not None:
        raise ValueError(f"per_sample_gradients_layerwise needs nets without normalization, "
                         f"got norm={nets.norm!r}")
    theta = _theta(nets, params)
    leaves = [p.clone().requires_grad_(True) for p in theta]
    with torch.enable_grad():
        out, trace = nets.forward(ds.x, params=leaves, return_activations=True)
        total = per_sample_losses(out, ds.y, loss).sum()
        deltas = torch.autograd.grad(total, list(trace.pre))
    depth = len(deltas)
    grads = [d.detach().unsqueeze(-1) * a.detach().unsqueeze(-2)
             for d, a in zip(deltas, list(trace.post)[:depth], strict=True)]
    if getattr(nets, "bias", False):
        grads += [d.detach() for d in deltas]
    if len(grads) != len(theta):
        raise ValueError(f"per_sample_gradients_layerwise: unsupported parameter layout "
                         f"({len(theta)} tensors, {len(grads)} gradients)")
    return grads


def exact_noise_scale(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], loss: str = "mse",
    params: Sequence[Tensor] | None = None,
) -> NoiseScale:
    """:func:`flatstart.montecarlo.confusion.noise_scale` (``ddof = 0``) from exact
    per-sample gradients (:func:`per_sample_gradients_layerwise`, or the replica route for
    layer-norm networks):
    ``B_simple,l = tr Σ_l / |G_l|²`` per network and layer."""
    if getattr(nets, "norm", None) is None:
        grads = per_sample_gradients_layerwise(nets, data, loss, params)
    else:
        grads = per_sample_gradients_replica(nets, data, loss, params)
    return noise_scale(nets, data, loss, params=params, grads=grads)


def iid_batch_indices(
    n: int, batch_size: int, batches: int, *, replacement: bool = True, seed: int = 0,
    groups: int | None = None,
) -> Tensor:
    """``(batches, batch_size)`` indices (``(groups, batches, batch_size)`` when ``groups`` is
    given): independent batches of i.i.d. uniform indices (``replacement=True``) or of
    uniformly random ``batch_size``-subsets of ``range(n)``.

    >>> iid_batch_indices(10, 3, 4, seed=0).shape
    torch.Size([4, 3])
    >>> bool((iid_batch_indices(5, 5, 3, replacement=False).sort(dim=1).values
    ...       == torch.arange(5)).all())
    True
    """
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    batches = check_int("batches", batches)
    lead = (batches,) if groups is None else (check_int("groups", groups), batches)
    g = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    if replacement:
        return torch.randint(0, n, (*lead, batch_size), generator=g)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n = {n} without replacement, got {batch_size}")
    return torch.rand(*lead, n, generator=g).argsort(dim=-1)[..., :batch_size]


def _indices(nets: Any, params: Sequence[Tensor] | None, n: int, batch_size: int,
             batches: int, replacement: bool, seed: int, shared: bool) -> Tensor:
    groups = None if shared else _theta(nets, params)[0].shape[0]
    return iid_batch_indices(n, batch_size, batches, replacement=replacement, seed=seed,
                             groups=groups)


def batch_gradients(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], batch_size: int, batches: int, *,
    replacement: bool = True, seed: int = 0, loss: str = "mse",
    params: Sequence[Tensor] | None = None, shared: bool = False,
) -> list[Tensor]:
    """Gradients ``(count, batches, *shape)`` of independent mini-batches at fixed params
    (indices from :func:`iid_batch_indices`). ``shared=False`` (default): every network draws
    its own batches, so the networks' statistics are independent; ``shared=True``: all
    networks see the same batches."""
    ds = as_dataset(data)
    idx = _indices(nets, params, ds.n, batch_size, batches, replacement, seed, shared)
    idx = idx.to(ds.x.device)
    return replica_gradients(nets, ds.x[idx], ds.y[idx], loss, params)


def batch_gradients_reference(
    nets: Any, data: Dataset | tuple[Tensor, Tensor], batch_size: int, batches: int, *,
    replacement: bool = True, seed: int = 0, loss: str = "mse",
    params: Sequence[Tensor] | None = None, shared: bool = False,
) -> list[Tensor]:
    """Slow reference for :func:`batch_gradients`: one :func:`loss_and_grads` per network
    and batch."""
    ds = as_dataset(data)
    theta = _theta(nets, params)
    count = theta[0].shape[0]
    idx = _indices(nets, params, ds.n, batch_size, batches, replacement, seed, shared)
    if shared:
        idx = idx.unsqueeze(0).expand(count, *idx.shape)
    per_net: list[list[Tensor]] = []
    for c in range(count):
        one = [p[c:c + 1] for p in theta]
        sub = nets.select([c])
        rows = []
        for b in range(batches):
            i = idx[c, b].to(ds.x.device)
            rows.append(loss_and_grads(sub, one, ds.x[i], ds.y[i], loss)[1])
        per_net.append([torch.cat([r[j] for r in rows], dim=0) for j in range(len(theta))])
    return [torch.stack([pn[j] for pn in per_net], dim=0) for j in range(len(theta))]


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
    theta = _theta(nets, params)
    grads = batch_gradients(nets, ds, batch_size, m * r, replacement=replacement, seed=seed,
                            loss=loss, params=theta, shared=False)
    count = theta[0].shape[0]
    groups = layer_groups(nets, len(theta))
    # (count, R*M, ...) -> (count*R, M, ...): replication r of network c is row c*R + r
    stacked = [g.reshape(count * r, m, *g.shape[2:]) for g in grads]
    st = snr_from_batch_gradients(stacked, groups)
    ns = exact_noise_scale(nets, ds, loss, theta)
    with torch.no_grad():
        full = network_losses(nets.forward(ds.x, params=theta), ds.y, loss)
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
            :class:`flatstart.montecarlo.phases.SNRHistory`.
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

    Epoch ``e`` runs :func:`flatstart.montecarlo.phases.gradient_snr` for one epoch from the current
    parameters with batch-order seed ``seed · 100003 + e`` (SGD is stateless, so this is one
    continuous run); the noise scale is measured before each epoch and after the last.
    """
    ds = as_dataset(data)
    lr = check_positive("lr", lr)
    epochs = check_int("epochs", epochs)
    seed = check_int("seed", seed, minimum=0)
    theta = _theta(nets, params)
    snr, ms, tr, bs, losses = [], [], [], [], []
    layers: list[int] = []
    m = 0
    for e in range(epochs + 1):
        ns = exact_noise_scale(nets, ds, loss, theta)
        bs.append(ns.layer_b_simple)
        with torch.no_grad():
            losses.append(network_losses(nets.forward(ds.x, params=theta), ds.y, loss))
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
