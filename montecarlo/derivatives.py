"""Gradients of batched random networks: loss values, per-layer gradients, chain derivatives.

Every function evaluates all ``count`` networks of a
:class:`~flatstart.montecarlo.networks.NetworkBatch`
at once. Networks are independent, so the gradient of ``Σ_networks ℒ`` with respect to the
stacked parameters is, slice by slice, the gradient of each network's own loss.

Losses are the names of :mod:`flatstart.montecarlo.losses` (``y`` the target, ``f(x_i)`` the
output on sample ``i`` of a batch of ``N``); the default here is

* ``loss="half_sq_norm"``: ``ℒ = (1/N) Σ_i ½ ‖f(x_i) − y_i‖² = ½ mean_batch ‖f(x) − y‖²``;
* ``loss="half_sq_norm_sum"`` (old spelling ``"sum"``): ``ℒ = Σ_i ½ ‖f(x_i) − y_i‖²``;

``"half_mse"`` and ``"logistic"`` are accepted too. This module used to call
``"half_sq_norm"`` ``"mse"``; since ``"mse"`` now means ``mean_batch mean_out (f − y)²``
everywhere, ``loss="mse"`` raises here (a ``ValueError`` naming ``"half_sq_norm"``) instead of
changing meaning.

Per-sample gradients and their Gram matrices live in :mod:`flatstart.montecarlo.per_sample`,
input–output Jacobians in :mod:`flatstart.montecarlo.jacobians`.

Every fast path has a slow reference in this module (``*_reference``) built on ``nn.Module``
copies of single networks; the tests compare them. Large requests are split over networks so
that the estimated memory stays below ``max_bytes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_int
from flatstart.montecarlo._batched import check_nets, chunked, inputs, leaf_params
from flatstart.montecarlo.curvature.flat import BatchFlatFunction
from flatstart.montecarlo.losses import check_loss, network_loss
from flatstart.montecarlo.networks import DEFAULT_MAX_BYTES, NetworkBatch
from flatstart.montecarlo.provenance import make_provenance

__all__ = [
    "GradientNorms",
    "ChainGradients",
    "loss_values",
    "flat_loss",
    "layer_gradients",
    "layer_gradients_reference",
    "gradient_norms",
    "chain_gradients",
    "chain_gradients_reference",
]

def _loss(loss: Any, where: str) -> str:
    """Canonical name of ``loss`` for this module: targets shaped like the outputs (no
    cross-entropy), old spelling ``"sum"`` accepted, ``"mse"`` refused (module docstring)."""
    return check_loss(loss, exclude=("mse", "cross_entropy"), aliases={"sum": "half_sq_norm_sum"},
                      refused={"mse": "half_sq_norm"}, where=f"derivatives.{where}")


# ---------------------------------------------------------------------- losses and gradients
def loss_values(nets: NetworkBatch, x: Any, y: Any, loss: str = "half_sq_norm") -> Tensor:
    """Per-network loss ``ℓ`` (``(count,)`` tensor), ``½ mean_batch ‖f(x) − y‖²`` by default.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=2, depth=1, sigma=1.0, seed=0)
    >>> w = c.parameters()[0].reshape(2)
    >>> bool(torch.allclose(loss_values(c, 1.0, 0.0), 0.5 * w ** 2))
    True
    """
    nets = check_nets(nets)
    loss = _loss(loss, "loss_values")
    xt, yt = inputs(nets, x, y)
    with torch.no_grad():
        return network_loss(nets.forward(xt), yt, loss)


def flat_loss(
    nets: NetworkBatch, x: Any, y: Any, index: int | None = 0, loss: str = "half_sq_norm"
) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """Loss as a function of flat parameters, for curvature tools: returns ``(f, theta0)``.

    ``index=n``: ``f(θ)`` maps a flat ``(P,)`` vector to the scalar loss of network ``n``
    (its data slice when ``x``/``y`` are per network) and ``theta0 = flatten()[n]``.
    ``index=None``: ``f`` maps ``(count, P)`` to the ``(count,)`` losses of all networks and
    ``theta0 = flatten()``. ``f`` is differentiable (autograd and ``torch.func``). Built on the
    one flat-parameter adapter,
    :class:`~flatstart.montecarlo.curvature.flat.BatchFlatFunction` (``index=None`` returns
    one).

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> f, theta = flat_loss(c, 1.0, 0.0, index=1)
    >>> bool(torch.isclose(f(theta), loss_values(c, 1.0, 0.0)[1]))
    True
    """
    nets = check_nets(nets)
    loss = _loss(loss, "flat_loss")
    xt, yt = inputs(nets, x, y)
    if index is None:
        f_all = BatchFlatFunction(nets, xt, yt, loss)
        return f_all, f_all.theta
    n = check_int("index", index, minimum=0, maximum=nets.count - 1)
    xn = xt[n : n + 1] if xt.ndim == 3 and xt.shape[0] == nets.count else xt
    yn = yt[n : n + 1] if yt.shape[0] == nets.count else yt
    f_n = BatchFlatFunction(nets.select([n]), xn, yn, loss)

    def f_one(theta: Tensor) -> Tensor:
        return f_n(theta.unsqueeze(0))[0]

    return f_one, f_n.theta[0]


def layer_gradients(
    nets: NetworkBatch,
    x: Any,
    y: Any,
    loss: str = "half_sq_norm",
    *,
    params: Sequence[Tensor] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Tensor]:
    """Gradients ``∂ℓ/∂θ`` of every network's loss, one tensor per parameter (leading ``count``).

    One backward pass of ``Σ_networks ℓ`` (networks are independent, so each slice is that
    network's own gradient). Order and shapes as :meth:`NetworkBatch.parameters`.
    [derived: chain rule via autograd]

    Args:
        nets: the networks.
        x: inputs ``(batch, n_0)`` or ``(count, batch, n_0)``.
        y: targets: scalar, ``(batch, n_L)`` or ``(count, batch, n_L)``.
        loss: ``"half_sq_norm"`` (``½ mean_batch ‖f − y‖²``), ``"half_sq_norm_sum"``
            (``½ Σ_batch``; old spelling ``"sum"``), ``"half_mse"`` or ``"logistic"``.
        params: evaluate at these parameters instead of the stored ones.
        max_bytes: memory budget; larger requests are split over networks.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> g = layer_gradients(c, 1.0, 0.0)
    >>> [tuple(t.shape) for t in g]
    [(3, 1, 1), (3, 1, 1)]
    """
    nets = check_nets(nets)
    loss = _loss(loss, "layer_gradients")
    xt, yt = inputs(nets, x, y)
    if params is not None:
        nets = nets.with_parameters(params)

    def fn(sub: NetworkBatch, xs: Tensor, ys: Tensor | None) -> list[Tensor]:
        assert ys is not None
        ps = leaf_params(sub)
        with torch.enable_grad():
            out = sub.forward(xs, params=ps)
            total = network_loss(out, ys, loss).sum()
            return list(torch.autograd.grad(total, ps))

    return chunked(nets, xt, yt, max_bytes, 4.0, fn)


def layer_gradients_reference(nets: NetworkBatch, x: Any, y: Any, loss: str = "half_sq_norm"
                              ) -> list[Tensor]:
    """Slow reference for :func:`layer_gradients`: a Python loop over ``nn.Module`` copies."""
    nets = check_nets(nets)
    loss = _loss(loss, "layer_gradients_reference")
    xt, yt = inputs(nets, x, y)
    per_net: list[list[Tensor]] = []
    for n in range(nets.count):
        module = nets.to_module(n)
        xn = xt[n] if xt.ndim == 3 else xt
        yn = yt[n] if yt.shape[0] == nets.count else yt[0]
        value = network_loss(module(xn), yn, loss)
        grads = dict(
            zip(
                [name for name, _ in module.named_parameters()],
                torch.autograd.grad(value, list(module.parameters())),
                strict=True,
            )
        )
        per_net.append(_module_grads_in_order(nets, grads))
    return [torch.stack([g[k] for g in per_net]) for k in range(len(per_net[0]))]


def _module_grads_in_order(nets: NetworkBatch, grads: dict[str, Tensor]) -> list[Tensor]:
    """Reorder ``to_module`` parameter gradients into :meth:`NetworkBatch.parameters` order."""
    def prefix(i: int) -> str:
        return f"{i}.body." if nets.layers[i].residual else f"{i}."

    out = [grads[prefix(i) + "0.weight"] for i in range(nets.depth)]
    if nets.bias:
        out += [grads[prefix(i) + "0.bias"] for i in range(nets.depth)]
    normed = [i for i, s in enumerate(nets.layers) if s.normed]
    if nets.norm is not None and nets.norm_affine:
        out += [grads[prefix(i) + "1.weight"] for i in normed]
        out += [grads[prefix(i) + "1.bias"] for i in normed]
    return out


@dataclass(frozen=True)
class GradientNorms:
    """Euclidean norms of loss gradients, per layer and in total.

    Attributes:
        per_layer: ``(count, depth)``: ``‖∂ℓ/∂θ_l‖`` over all parameters of layer ``l``
            (weights, bias and norm affine of that layer).
        weights: ``(count, depth)``: ``‖∂ℓ/∂W_l‖_F`` (weights only).
        total: ``(count,)``: ``‖∂ℓ/∂θ‖`` over all parameters.
        provenance: how the networks were made and the loss used.
    """

    per_layer: np.ndarray
    weights: np.ndarray
    total: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


def gradient_norms(
    nets: NetworkBatch, x: Any, y: Any, loss: str = "half_sq_norm", *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> GradientNorms:
    """Per-layer and total gradient norms of every network (numpy float64, with provenance).

    ``per_layer[n, l−1] = ‖∂ℓ_n/∂θ_l‖₂`` and ``total[n] = ‖∂ℓ_n/∂θ‖₂ = √Σ_l per_layer²``.

    >>> from flatstart.montecarlo.networks import mlps
    >>> r = gradient_norms(mlps(count=2, width=3, depth=2, seed=0), torch.ones(4, 3), 0.0)
    >>> r.per_layer.shape, r.total.shape
    ((2, 2), (2,))
    """
    loss = _loss(loss, "gradient_norms")
    grads = layer_gradients(nets, x, y, loss, max_bytes=max_bytes)
    count, depth = nets.count, nets.depth
    sq = torch.zeros((count, depth), dtype=torch.float64, device=grads[0].device)
    for g, layer in zip(grads, nets.parameter_layers(), strict=True):
        sq[:, layer - 1] += g.reshape(count, -1).double().square().sum(dim=1)
    wsq = torch.stack([g.reshape(count, -1).double().square().sum(dim=1) for g in grads[:depth]], 1)
    prov = make_provenance(
        "gradient_norms", {"loss": loss, "networks": nets.provenance()},
        seed=nets.seed, dtype=nets.dtype, device=nets.device,
    )
    return GradientNorms(
        per_layer=sq.sqrt().cpu().numpy(),
        weights=wsq.sqrt().cpu().numpy(),
        total=sq.sum(dim=1).sqrt().cpu().numpy(),
        provenance=prov,
    )


# ---------------------------------------------------------------------- chains
@dataclass(frozen=True)
class ChainGradients:
    """Outputs and per-layer weight derivatives of width-1 chains (numpy float64).

    Attributes:
        output: ``(count,)`` chain outputs ``f(x)``.
        df_dw: ``(count, depth)``: ``∂f/∂w_i``.
        dl_dw: ``(count, depth)``: ``∂ℓ/∂w_i`` with ``ℓ = ½ (f(x) − y)²``, i.e. ``(f − y) ∂f/∂w_i``.
        provenance: networks, ``x`` and ``y``.
    """

    output: np.ndarray
    df_dw: np.ndarray
    dl_dw: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


def _chain_input(nets: NetworkBatch, v: Any, name: str) -> Tensor:
    t = torch.as_tensor(v, dtype=nets.dtype, device=nets.device)
    if t.ndim == 0 or t.numel() == 1:
        return t.reshape(1, 1, 1)
    if t.numel() == nets.count:
        return t.reshape(nets.count, 1, 1)
    raise ValueError(
        f"{name} must be a scalar or have count={nets.count} entries, got {tuple(t.shape)}"
    )


def chain_gradients(nets: NetworkBatch, x: Any = 1.0, y: Any = 0.0) -> ChainGradients:
    """``f``, ``∂f/∂w_i`` and ``∂ℓ/∂w_i`` of all width-1 chains as ``(count, depth)`` arrays.

    One forward and one backward pass over all chains (elementwise, one leaf per layer);
    ``∂ℓ/∂w_i = (f − y) ∂f/∂w_i`` by the chain rule. ``x``, ``y``: scalars or one per chain.
    [derived: chain rule]

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=4, depth=3, sigma=1.0, seed=0)
    >>> r = chain_gradients(c, x=1.0, y=0.0)
    >>> w = torch.stack([p.reshape(4) for p in c.parameters()], 1).numpy()
    >>> bool(np.allclose(r.df_dw[:, 0], w[:, 1] * w[:, 2]))
    True
    """
    nets = check_nets(nets)
    if not nets.is_chain:
        raise ValueError(f"nets must be width-1 chains, got widths {nets.widths}")
    xt = _chain_input(nets, x, "x")
    yt = _chain_input(nets, y, "y")
    depth, count = nets.depth, nets.count
    ps = leaf_params(nets)
    with torch.enable_grad():
        out = nets.forward(xt, params=ps)  # (count, 1, 1)
        dfs = torch.autograd.grad(out.sum(), ps[:depth])
    # (depth, count) layout: contiguous writes; the results are its (count, depth) views.
    df_t = torch.stack([d.reshape(count) for d in dfs], dim=0).detach()
    f = out.detach().reshape(count)
    r = f - yt.reshape(-1)
    dl_t = df_t * r
    prov = make_provenance(
        "chain_gradients",
        {"x": xt.reshape(-1).tolist() if xt.numel() <= 16 else "per-chain",
         "y": yt.reshape(-1).tolist() if yt.numel() <= 16 else "per-chain",
         "networks": nets.provenance()},
        seed=nets.seed, dtype=nets.dtype, device=nets.device,
    )
    return ChainGradients(
        output=f.double().cpu().numpy(),
        df_dw=df_t.double().cpu().numpy().T,
        dl_dw=dl_t.double().cpu().numpy().T,
        provenance=prov,
    )


def chain_gradients_reference(nets: NetworkBatch, x: float = 1.0, y: float = 0.0) -> ChainGradients:
    """Slow reference for :func:`chain_gradients`: one ``nn.Module`` chain at a time."""
    nets = check_nets(nets)
    if not nets.is_chain:
        raise ValueError(f"nets must be width-1 chains, got widths {nets.widths}")
    xs = torch.tensor([[float(x)]], dtype=nets.dtype, device=nets.device)
    outs, dfs, dls = [], [], []
    for n in range(nets.count):
        module = nets.to_module(n)
        out = module(xs).reshape(())
        g = _module_grads_in_order(
            nets, dict(zip([k for k, _ in module.named_parameters()],
                           torch.autograd.grad(out, list(module.parameters())), strict=True))
        )
        df = torch.stack([t.reshape(()) for t in g[: nets.depth]])
        outs.append(out.detach())
        dfs.append(df)
        dls.append((out.detach() - y) * df)
    return ChainGradients(
        output=torch.stack(outs).double().numpy(),
        df_dw=torch.stack(dfs).double().numpy(),
        dl_dw=torch.stack(dls).double().numpy(),
    )
