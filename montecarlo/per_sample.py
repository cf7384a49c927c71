"""Per-sample and per-batch gradients of batched random networks, and their Gram matrices.

For network ``n`` and sample ``i`` of a batch, ``g_{n,i} = ∇_θ ℓ_i`` with ``ℓ_i`` the
per-sample loss of :mod:`flatstart.montecarlo.losses` (``loss=``; default
``"half_sq_norm"``: ``ℓ_i = ½ ‖f_n(x_i) − y_i‖²``, the convention of the NTK and Gram
literature; ``"mse"`` gives ``ℓ_i = mean_out (f_n(x_i) − y_i)²``, the per-sample term of
training's loss). One function per quantity, the convention is the ``loss`` argument:

* :func:`per_sample_gradients` -- routes ``"vjp"`` (default: ``torch.func.vmap`` over ``vjp``
  of the per-sample loss vector of the batch forward pass, with one-hot cotangents; valid for
  batch norm, where ``ℓ_i`` depends on the batch statistics), ``"vmap"`` (``vmap`` over networks
  of ``vmap`` over samples of ``grad`` of the single-sample forward), ``"layerwise"`` (the
  dense-layer identity ``∂ℓ_i/∂W_l = δ_{l,i} a_{l−1,i}ᵀ``, one backward pass) and
  ``"replica"`` (:func:`replica_gradients` with batches of one sample). Slow reference:
  :func:`per_sample_gradients_reference` (a loop over samples).
* :func:`per_sample_gram` -- ``K_{n,ij} = ⟨g_{n,i}, g_{n,j}⟩`` without materializing the
  gradients (layer-wise) or from them (``method="explicit"``); reference
  :func:`per_sample_gram_reference`. :func:`gram_from_gradients`, :func:`flat_per_sample` and
  :func:`cosines_from_gram` work on what the others return.
* :func:`ntk_gram` -- the Gram matrix in the NTK parametrization (chain rule of
  ``W_std = (σ_w/√n_in) W_ntk``); reference :func:`ntk_gram_reference`.
* :func:`replica_gradients` / :func:`batch_gradients` -- the gradients of the network loss
  (default ``"mse"``, as in :mod:`flatstart.montecarlo.training`) of many independent
  mini-batches in one backward pass; :func:`iid_batch_indices` draws the batches; reference
  :func:`batch_gradients_reference`.

**Replica gradients.** ``K`` separate batch gradients of every network are computed in one
backward pass: the ``count`` networks are replicated ``K`` times (``nets.select`` with
repeated indices) and replica ``(c, k)`` gets its own input batch ``x[k]`` (a
``(count·K, B, d)`` input); the loss of replica ``(c, k)`` depends only on its own parameter
slice, so the gradient of the summed losses is, slice by slice, the gradient of network ``c``
on batch ``k`` [derived, as in :mod:`flatstart.montecarlo.training`]. With ``B = 1`` this gives
exact per-sample gradients (for networks without batch-norm).

>>> from flatstart.montecarlo.networks import mlps
>>> nets = mlps(2, 4, 2, input_dim=3, output_dim=1, seed=0)
>>> x = torch.randn(5, 3, dtype=torch.float64); y = torch.randn(5, 1, dtype=torch.float64)
>>> K = per_sample_gram(nets, x, y, "mse")
>>> bool(torch.allclose(K, gram_from_gradients(per_sample_gradients(nets, x, y, "mse"))))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from torch import Tensor
from torch.func import grad, vmap

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo._batched import (
    check_nets,
    chunked,
    inputs,
    leaf_params,
    require_per_sample,
    targets,
)
from flatstart.montecarlo.data import Dataset, as_dataset
from flatstart.montecarlo.losses import check_loss, per_sample_loss
from flatstart.montecarlo.networks import DEFAULT_MAX_BYTES, NetworkBatch
from flatstart.montecarlo.training import loss_and_grads

__all__ = [
    "GRAM_METHODS",
    "PER_SAMPLE_METHODS",
    "batch_gradients",
    "batch_gradients_reference",
    "cosines_from_gram",
    "flat_per_sample",
    "gram_from_gradients",
    "iid_batch_indices",
    "ntk_gram",
    "ntk_gram_reference",
    "per_sample_gradients",
    "per_sample_gradients_reference",
    "per_sample_gram",
    "per_sample_gram_reference",
    "replica_gradients",
    "stacked_params",
]

PER_SAMPLE_METHODS: tuple[str, ...] = ("vjp", "vmap", "layerwise", "replica")
GRAM_METHODS: tuple[str, ...] = ("auto", "layerwise", "explicit")

_MAX_REPLICA_ELEMENTS = 4_000_000  # activations per chunk of replicas (memory guard)


# ---------------------------------------------------------------------------- inputs
def stacked_params(nets: Any, params: Sequence[Tensor] | None) -> list[Tensor]:
    """Detached stacked parameters ``(count, ...)``: ``params`` or ``nets.parameters()``."""
    if not hasattr(nets, "forward") or not hasattr(nets, "parameters"):
        raise TypeError(f"nets must be a NetworkBatch (flatstart.montecarlo.networks.mlps/"
                        f"chains), got {type(nets).__name__}")
    return [p.detach() for p in (nets.parameters() if params is None else params)]


def _loss(loss: Any, where: str) -> str:
    return check_loss(loss, where=f"per_sample.{where}")


def _data(nets: Any, x: Any, y: Any, loss: str) -> tuple[Tensor, Tensor]:
    """Inputs and targets: ``(batch, n_0)`` or ``(count, batch, n_0)`` and ``(1 or count, batch,
    k)`` (class labels ``(1 or count, batch)`` for cross-entropy) for a :class:`NetworkBatch`;
    tensors as given (1-D ``y`` as a column) for any other network batch."""
    if isinstance(nets, NetworkBatch):
        xt = nets.prepare_input(x)
        if loss != "cross_entropy":
            return xt, targets(nets, y, xt.shape[-2])
        labels = torch.as_tensor(y, device=nets.device)
        return xt, labels.reshape(1, -1) if labels.ndim == 1 else labels
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("x and y must be tensors")
    if y.dim() == 1 and loss != "cross_entropy":
        y = y[:, None]
    if x.shape[-2] != y.shape[-2 if loss != "cross_entropy" else -1]:
        raise ValueError(f"x and y must have the same number of samples, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    return x, y


def _split_targets(
    nets: NetworkBatch, xt: Tensor, yt: Tensor
) -> tuple[Tensor, int | None, Tensor, int | None]:
    per_net_x = xt.ndim == 3 and xt.shape[0] == nets.count and nets.count > 1
    x_dim: int | None = 0 if per_net_x else None
    xs = xt if x_dim == 0 else (xt[0] if xt.ndim == 3 else xt)
    y_dim: int | None = 0 if yt.shape[0] == nets.count and nets.count > 1 else None
    ys = yt if y_dim == 0 else yt[0]
    return xs, x_dim, ys, y_dim


def flat_per_sample(grads: Sequence[Tensor]) -> Tensor:
    """Concatenate per-sample gradients ``(count, N, *shape)`` into ``(count, N, P)``."""
    return torch.cat([g.reshape(g.shape[0], g.shape[1], -1) for g in grads], dim=2)


# ---------------------------------------------------------------------------- gradients
@overload
def per_sample_gradients(
    nets: Any, x: Any, y: Any, loss: str = ..., params: Sequence[Tensor] | None = ...,
    chunk_size: int | None = ..., *, flat: Literal[False] = ..., method: str = ...,
) -> list[Tensor]: ...


@overload
def per_sample_gradients(
    nets: Any, x: Any, y: Any, loss: str = ..., params: Sequence[Tensor] | None = ...,
    chunk_size: int | None = ..., *, flat: Literal[True], method: str = ...,
) -> Tensor: ...


def per_sample_gradients(
    nets: Any,
    x: Any,
    y: Any,
    loss: str = "half_sq_norm",
    params: Sequence[Tensor] | None = None,
    chunk_size: int | None = None,
    *,
    flat: bool = False,
    method: str = "vjp",
) -> list[Tensor] | Tensor:
    """Per-sample gradients ``g_{n,i} = ∇_θ ℓ_i`` of every network, ``(count, batch, *shape)``.

    ``ℓ_i`` is the per-sample loss ``loss`` (module docstring; default ``½‖f_n(x_i) − y_i‖²``)
    at ``params`` (default the stored parameters). Routes (all exact):

    * ``"vjp"`` (default): ``vmap`` over one-hot cotangents of the ``vjp`` of the per-sample
      loss vector of the batch forward pass (any network batch, batch norm included, where
      ``ℓ_i`` depends on the batch statistics); ``chunk_size`` bounds the vectorized
      cotangents;
    * ``"vmap"``: ``vmap`` over networks of ``vmap`` over samples of ``grad`` of the
      single-network, single-sample functional forward; ``chunk_size`` bounds the networks;
    * ``"layerwise"``: ``∂ℓ_i/∂W_l = δ_{l,i} a_{l−1,i}ᵀ`` and ``∂ℓ_i/∂b_l = δ_{l,i}`` with
      ``δ_{l,i} = ∂(Σ_j ℓ_j)/∂h_{l,i}`` (sample ``i``'s pre-activation affects only ``ℓ_i``;
      also with residual layers, and with ``u_i ⊙ ẑ_i``, ``u_i`` for a layer norm's affine),
      one forward and one backward pass -- usually the fastest;
    * ``"replica"``: :func:`replica_gradients` with batches of one sample.

    Per-network inputs ``(count, batch, n_0)`` and targets ``(count, batch, k)`` are accepted.
    ``"vmap"``, ``"layerwise"`` and ``"replica"`` need a :class:`NetworkBatch` without batch
    norm. Returns one tensor per parameter or, with ``flat=True``, ``(count, batch, P)``.
    [derived: autograd / chain rule]

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=2, depth=2, sigma=1.0, seed=0)
    >>> per_sample_gradients(c, torch.ones(5, 1), 0.0, flat=True).shape
    torch.Size([2, 5, 2])
    """
    loss = _loss(loss, "per_sample_gradients")
    method = check_choice("method", method, PER_SAMPLE_METHODS)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size)
    theta = stacked_params(nets, params)
    if method != "vjp":
        nets = check_nets(nets)
        require_per_sample(nets, f"per_sample_gradients(method={method!r})")
        if params is not None:
            nets = nets.with_parameters(theta)
    xt, yt = _data(nets, x, y, loss)
    if method == "vjp":
        out = _per_sample_vjp(nets, theta, xt, yt, loss, chunk_size)
    elif method == "vmap":
        out = _per_sample_vmap(nets, xt, yt, loss, chunk_size)
    elif method == "layerwise":
        out = _per_sample_layerwise(nets, xt, yt, loss)
    else:
        out = _per_sample_replica(nets, xt, yt, loss)
    return flat_per_sample(out) if flat else out


def _per_sample_vjp(nets: Any, theta: list[Tensor], xt: Tensor, yt: Tensor, loss: str,
                    chunk_size: int | None) -> list[Tensor]:
    """Jacobian of the per-sample loss vector by ``vmap`` over ``vjp`` with one-hot cotangents
    (sample ``i``'s cotangent is 1 in column ``i`` of every network, which by independence of
    the networks gives each network its own ``g_i``)."""
    count, n = theta[0].shape[0], xt.shape[-2]

    def f(*ps: Tensor) -> Tensor:
        return per_sample_loss(nets.forward(xt, params=list(ps)), yt, loss)

    res = torch.func.vjp(f, *theta)
    out, vjp_fn = res[0], res[1]
    eye = torch.eye(n, dtype=out.dtype, device=out.device)
    cot = eye[:, None, :].expand(n, count, n)
    grads = torch.func.vmap(vjp_fn, chunk_size=chunk_size)(cot)
    return [g.movedim(0, 1).contiguous() for g in grads]


def _per_sample_vmap(nets: NetworkBatch, xt: Tensor, yt: Tensor, loss: str,
                     chunk_size: int | None) -> list[Tensor]:
    xs, x_dim, ys, y_dim = _split_targets(nets, xt, yt)
    ps = tuple(p.detach() for p in nets.parameters())

    def sample_loss(p: tuple[Tensor, ...], xi: Tensor, yi: Tensor) -> Tensor:
        out = nets._forward_impl(xi.reshape(1, 1, -1), [q.unsqueeze(0) for q in p], False)[0]
        yy = yi.reshape(1, 1) if loss == "cross_entropy" else yi.reshape(1, 1, -1)
        return per_sample_loss(out, yy, loss).sum()

    per_net = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    return list(vmap(per_net, in_dims=(0, x_dim, y_dim), chunk_size=chunk_size)(ps, xs, ys))


@dataclass
class _Signals:
    """Layer inputs ``a_{l-1}``, backpropagated signals ``δ_l = ∂ℓ_i/∂h_l`` and, for layer norm
    with affine, ``u_l = ∂ℓ_i/∂z_l`` with the standardized ``ẑ_l`` (all detached)."""

    inputs: list[Tensor]
    deltas: list[Tensor]
    us: list[Tensor]
    zhats: list[Tensor]


def _signals(nets: NetworkBatch, xt: Tensor, yt: Tensor, loss: str) -> _Signals:
    """One forward and one backward pass of ``Σ_{n,i} ℓ_i`` w.r.t. the retained pre-activations."""
    ps = leaf_params(nets)
    with torch.enable_grad():
        out, trace = nets.forward(xt, params=ps, return_activations=True)
        total = per_sample_loss(out, yt, loss).sum()
        affine = nets.norm == "layer" and nets.norm_affine
        normed = [i for i, s in enumerate(nets.layers) if s.normed] if affine else []
        wrt = list(trace.pre) + [trace.normalized[i] for i in normed]
        grads = torch.autograd.grad(total, wrt)  # type: ignore[arg-type]
    depth = nets.depth
    zhats = [trace.standardized[i] for i in normed]
    return _Signals(
        inputs=[a.detach() for a in trace.post[:depth]],
        deltas=[g.detach() for g in grads[:depth]],
        us=[g.detach() for g in grads[depth:]],
        zhats=[z.detach() for z in zhats if z is not None],
    )


def _per_sample_layerwise(nets: NetworkBatch, xt: Tensor, yt: Tensor, loss: str) -> list[Tensor]:
    sig = _signals(nets, xt, yt, loss)
    grads = [
        d.unsqueeze(-1) * a.unsqueeze(-2)  # (count, batch, n_out, n_in): δ_i a_iᵀ
        for a, d in zip(sig.inputs, sig.deltas, strict=True)
    ]
    if nets.bias:
        grads += sig.deltas
    if nets.norm == "layer" and nets.norm_affine:
        grads += [u * z for u, z in zip(sig.us, sig.zhats, strict=True)] + sig.us
    return grads


def _per_sample_replica(nets: NetworkBatch, xt: Tensor, yt: Tensor, loss: str) -> list[Tensor]:
    if loss == "cross_entropy":
        raise ValueError("per_sample_gradients(method='replica') needs targets shaped like the "
                         "outputs, not loss='cross_entropy'")
    x4 = xt.unsqueeze(-2)  # (K = N, B = 1, n_0) or per network (count, N, 1, n_0)
    y4 = yt.unsqueeze(-2)
    if x4.ndim == 4 and y4.shape[0] == 1:
        y4 = y4.expand(x4.shape[0], *y4.shape[1:])
    elif x4.ndim == 3:
        y4 = y4[0] if y4.shape[0] == 1 else y4
        if y4.ndim == 4:  # per-network targets with shared inputs
            x4 = x4.unsqueeze(0).expand(y4.shape[0], *x4.shape)
    return replica_gradients(nets, x4, y4, loss)


def per_sample_gradients_reference(
    nets: NetworkBatch, x: Any, y: Any, loss: str = "half_sq_norm", *, flat: bool = False
) -> list[Tensor] | Tensor:
    """Slow reference for :func:`per_sample_gradients`: a Python loop over samples, each an
    autograd backward of ``Σ_networks ℓ_i`` (networks are batched, samples looped)."""
    loss = _loss(loss, "per_sample_gradients_reference")
    nets = check_nets(nets)
    require_per_sample(nets, "per_sample_gradients")
    xt, yt = inputs(nets, x, y)
    batch = xt.shape[-2]
    cols: list[list[Tensor]] = []
    for i in range(batch):
        ps = leaf_params(nets)
        xi = xt[..., i : i + 1, :]
        yi = yt[:, i : i + 1, :]
        with torch.enable_grad():
            out = nets.forward(xi, params=ps)
            total = per_sample_loss(out, yi, loss).sum()
            cols.append(list(torch.autograd.grad(total, ps)))
    grads = [torch.stack([c[k] for c in cols], dim=1) for k in range(len(cols[0]))]
    return flat_per_sample(grads) if flat else grads


# ---------------------------------------------------------------------------- batches
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
    loss = check_loss(loss, exclude=("cross_entropy",), where="per_sample.replica_gradients")
    theta = stacked_params(nets, params)
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
    groups = None if shared else stacked_params(nets, params)[0].shape[0]
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
    theta = stacked_params(nets, params)
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


# ---------------------------------------------------------------------------- Gram matrices
def gram_from_gradients(grads: Sequence[Tensor]) -> Tensor:
    """Gram matrices ``K_ij = ⟨g_i, g_j⟩`` ``(count, N, N)`` from per-sample gradients."""
    g = flat_per_sample(grads)
    return g @ g.transpose(1, 2)


#: Squared losses as multiples ``c`` of ``ℓ_i = ½‖f(x_i) − y_i‖²`` (``k`` outputs): their
#: gradients, hence their Grams (by ``c²``), scale with it.
_SQUARED = {"half_sq_norm": lambda k: 1.0, "half_sq_norm_sum": lambda k: 1.0,
            "mse": lambda k: 2.0 / k, "half_mse": lambda k: 1.0 / k}


def per_sample_gram(
    nets: Any,
    x: Any,
    y: Any,
    loss: str = "half_sq_norm",
    params: Sequence[Tensor] | None = None,
    *,
    method: str = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Tensor:
    """Gram matrices ``K[n, i, j] = ⟨g_{n,i}, g_{n,j}⟩`` of per-sample gradients, ``(count, N, N)``.

    ``method="layerwise"`` never materializes per-sample gradients. For a dense layer
    ``h_l = W_l a_{l−1} + b_l`` the per-sample gradient is ``δ_{l,i} a_{l−1,i}ᵀ`` (and
    ``δ_{l,i}`` for ``b_l``) with ``δ_{l,i} = ∂ℓ_i/∂h_{l,i}``, so [derived; the layer-wise
    identity used by BackPACK]

        ``K = Σ_l (A_{l−1} A_{l−1}ᵀ) ⊙ (D_l D_lᵀ)  (+ D_l D_lᵀ with biases)``

    and, for ``norm="layer"`` with affine ``z = γ ⊙ ẑ + β``, ``+ (U⊙Ẑ)(U⊙Ẑ)ᵀ + U Uᵀ`` with
    ``U_l = ∂ℓ/∂z_l``. All ``δ`` (and ``U``) come from one backward pass of ``Σ_{n,i} ℓ_i``
    with respect to the retained pre-activations; a squared loss ``ℓ_i = c ½‖f − y‖²``
    (``c = 2/k`` for ``"mse"``, ``1/k`` for ``"half_mse"``) is the ``½‖f − y‖²`` Gram times
    ``c²``; other losses use the ``δ`` of their own ``ℓ_i``. ``method="explicit"`` forms
    ``g gᵀ`` from :func:`per_sample_gradients` (``"vjp"``); ``"auto"`` takes the layer-wise
    route for a squared loss on a :class:`NetworkBatch` without batch norm, else the explicit
    one. Requests larger than ``max_bytes`` are split over networks (layer-wise route).

    >>> from flatstart.montecarlo.networks import mlps
    >>> nets = mlps(count=2, width=4, depth=3, seed=0)
    >>> x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> G = per_sample_gram(nets, x, 1.0)
    >>> g = per_sample_gradients(nets, x, 1.0, flat=True)
    >>> bool(torch.allclose(G, g @ g.transpose(1, 2)))
    True
    """
    loss = _loss(loss, "per_sample_gram")
    method = check_choice("method", method, GRAM_METHODS)
    if method == "auto":
        layerwise = isinstance(nets, NetworkBatch) and nets.norm != "batch" and loss in _SQUARED
        method = "layerwise" if layerwise else "explicit"
    if method == "explicit":
        return gram_from_gradients(per_sample_gradients(nets, x, y, loss, params))
    nets = check_nets(nets)
    require_per_sample(nets, "per_sample_gram(method='layerwise')")
    if params is not None:
        nets = nets.with_parameters(stacked_params(nets, params))
    xt, yt = _data(nets, x, y, loss)
    batch = xt.shape[-2]
    factor = 4.0 + 2.0 * batch / max(1, sum(nets.widths))
    scale = _SQUARED[loss](nets.output_dim) if loss in _SQUARED else None

    def fn(sub: NetworkBatch, xs: Tensor, ys: Tensor | None) -> list[Tensor]:
        assert ys is not None
        return [_gram_impl(sub, xs, ys, "half_sq_norm" if scale is not None else loss)]

    gram = chunked(nets, xt, yt, max_bytes, factor, fn)[0]
    return gram if scale is None or scale == 1.0 else gram * scale**2


def _gram_impl(nets: NetworkBatch, xt: Tensor, yt: Tensor, loss: str) -> Tensor:
    sig = _signals(nets, xt, yt, loss)
    gram: Tensor | None = None
    for i, (a, d) in enumerate(zip(sig.inputs, sig.deltas, strict=True)):
        if i == 0 and xt.ndim == 2:
            aa = (xt @ xt.T).unsqueeze(0)  # shared inputs: one (N, N) product
        else:
            aa = torch.bmm(a, a.transpose(1, 2))
        dd = torch.bmm(d, d.transpose(1, 2))
        term = aa * dd
        if nets.bias:
            term = term + dd
        gram = term if gram is None else gram + term
    assert gram is not None
    for u, zhat in zip(sig.us, sig.zhats, strict=True):
        uz = u * zhat
        gram = gram + torch.bmm(uz, uz.transpose(1, 2)) + torch.bmm(u, u.transpose(1, 2))
    return gram


def per_sample_gram_reference(nets: NetworkBatch, x: Any, y: Any,
                              loss: str = "half_sq_norm") -> Tensor:
    """Reference for :func:`per_sample_gram`: ``vmap`` per-sample gradients, then ``g gᵀ``."""
    g = per_sample_gradients(nets, x, y, loss, flat=True, method="vmap")
    assert isinstance(g, Tensor)
    return torch.bmm(g, g.transpose(1, 2))


def cosines_from_gram(gram: Tensor) -> Tensor:
    """Cosine similarities ``G_ij / √(G_ii G_jj)`` from Gram matrices ``(..., N, N)``.

    Entries involving a zero vector (``G_ii = 0``, e.g. a dead ReLU network) are undefined and
    returned as NaN on purpose (filter them; never silently 0).

    >>> cosines_from_gram(torch.tensor([[4.0, 2.0], [2.0, 1.0]]))
    tensor([[1., 1.],
            [1., 1.]])
    """
    if not isinstance(gram, Tensor) or gram.ndim < 2 or gram.shape[-1] != gram.shape[-2]:
        raise ValueError("gram must be a tensor of square matrices (..., N, N)")
    diag = torch.diagonal(gram, dim1=-2, dim2=-1)
    norms = diag.clamp(min=0).sqrt()
    denom = norms.unsqueeze(-1) * norms.unsqueeze(-2)
    cos = gram / denom
    cos = torch.where(denom > 0, cos, torch.full_like(cos, float("nan")))
    return cos.clamp(-1.0, 1.0)


# ---------------------------------------------------------------------------- NTK Gram
def _check_plain(nets: Any) -> NetworkBatch:
    if not isinstance(nets, NetworkBatch):
        raise TypeError(f"nets must be a NetworkBatch, got {type(nets).__name__}")
    if nets.bias or nets.norm is not None or nets.residual is not None:
        raise ValueError(
            "nets must be plain dense networks (bias=False, norm=None, residual=None) for the "
            f"NTK reparametrization, got bias={nets.bias}, norm={nets.norm!r}, "
            f"residual={nets.residual!r}"
        )
    if nets.output_dim != 1:
        raise ValueError(f"nets must have a scalar output (output_dim=1), got {nets.output_dim}")
    return nets


def ntk_gram(nets: NetworkBatch, x: Tensor, y: Tensor | None = None, gain: float = 2.0) -> Tensor:
    """Per-sample gradient Gram matrices in the NTK parametrization, ``(count, N, N)``.

    The networks use the standard parametrization ``h_l = W_l x_{l−1}`` with weights of
    variance ``gain/n_{l−1}`` (He: ``gain = 2``). Writing ``W_l = √(gain/n_{l−1}) V_l`` with
    ``V_l`` iid ``N(0, 1)`` gives the NTK parametrization, and by the chain rule
    ``∂/∂V_l = √(gain/n_{l−1}) ∂/∂W_l``; with ``∂ℓ_i/∂W_l = δ_{l,i} x_{l−1,i}ᵀ``
    [derived: chain rule]

        ``K = Σ_l (gain/n_{l−1}) (X_{l−1} X_{l−1}ᵀ) ⊙ (Δ_l Δ_lᵀ)``.

    ``y=None``: gradients of the scalar output ``f(x_i)`` (``δ = ∂f/∂h``); otherwise of the
    per-sample loss ``ℓ_i = ½(f(x_i) − y_i)²`` (``"half_sq_norm"``). Inputs are used as given
    (scale them by ``√(n_0/gain)`` to reproduce the NTK network on unit inputs exactly).

    >>> from flatstart.montecarlo.networks import mlps
    >>> nets = mlps(3, 8, 3, input_dim=4, output_dim=1, seed=0)
    >>> x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    >>> bool(torch.allclose(ntk_gram(nets, x), ntk_gram_reference(nets, x)))
    True
    """
    nets = _check_plain(nets)
    g = check_positive("gain", gain)
    ps = [p.detach().requires_grad_(True) for p in nets.parameters()]
    xt = nets.prepare_input(x)
    with torch.enable_grad():
        out, trace = nets.forward(xt, params=ps, return_activations=True)
        if y is None:
            total = out.sum()
        else:
            yt = torch.as_tensor(y, dtype=out.dtype, device=out.device).reshape(-1, 1)
            total = per_sample_loss(out, yt, "half_sq_norm").sum()
        deltas = torch.autograd.grad(total, list(trace.pre))
    gram: Tensor | None = None
    for a, d in zip(trace.post[: nets.depth], deltas, strict=True):
        a = a.detach()
        term = (g / a.shape[-1]) * (a @ a.transpose(-1, -2)) * (d @ d.transpose(-1, -2))
        gram = term if gram is None else gram + term
    assert gram is not None
    return gram


def ntk_gram_reference(
    nets: NetworkBatch, x: Tensor, y: Tensor | None = None, gain: float = 2.0
) -> Tensor:
    """Slow reference for :func:`ntk_gram`: a loop over networks and samples, autograd of
    each single output (or loss) w.r.t. NTK-parametrized leaves ``V_l = W_l/√(gain/n_{l−1})``."""
    nets = _check_plain(nets)
    xt = nets.prepare_input(x)
    if xt.ndim == 3:
        raise ValueError("ntk_gram_reference needs inputs shared by all networks (batch, n_0)")
    grams = []
    for k in range(nets.count):
        scales = [math.sqrt(gain / w.shape[-1]) for w in nets.parameters()]
        vs = [(w[k : k + 1] / s).detach().requires_grad_(True)
              for w, s in zip(nets.parameters(), scales, strict=True)]
        rows = []
        for i in range(xt.shape[0]):
            with torch.enable_grad():
                f = nets.forward(xt[i : i + 1], params=[v * s for v, s in zip(vs, scales,
                                                                               strict=True)])
                val = f.sum() if y is None else 0.5 * (f.sum() - float(y.reshape(-1)[i])) ** 2
                gr = torch.autograd.grad(val, vs)
            rows.append(torch.cat([t.reshape(-1) for t in gr]))
        gm = torch.stack(rows)
        grams.append(gm @ gm.T)
    return torch.stack(grams)
