"""Derivatives of batched random networks: gradients, Jacobians, per-sample gradients, Grams.

Every function evaluates all ``count`` networks of a
:class:`~flatstart.montecarlo.networks.NetworkBatch`
at once. Networks are independent, so the gradient of ``Σ_networks ℓ`` with respect to the
stacked parameters is, slice by slice, the gradient of each network's own loss.

Losses (``y`` the target, ``f(x_i)`` the output on sample ``i`` of a batch of ``N``):

* per-sample loss ``ℓ_i = ½ ‖f(x_i) − y_i‖²``;
* ``loss="mse"``: ``ℓ = (1/N) Σ_i ℓ_i = ½ mean_batch ‖f(x) − y‖²`` (the default);
* ``loss="sum"``: ``ℓ = Σ_i ℓ_i``.

Per-sample gradients are ``g_i = ∇_θ ℓ_i`` (so ``∇ℓ_mse = mean_i g_i``).

Every fast path has a slow reference in this module (``*_loop`` / ``*_reference``) built on
``nn.Module`` copies of single networks or on ``torch.func.vmap``; the tests compare them.
Large requests are split over networks so that the estimated memory stays below ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor
from torch.func import grad, jacrev, jvp, vmap

from flatstart._checks import check_choice, check_int
from flatstart.montecarlo.networks import BN_EPS, DEFAULT_MAX_BYTES, NetworkBatch
from flatstart.montecarlo.provenance import make_provenance

__all__ = [
    "LOSSES",
    "GradientNorms",
    "ChainGradients",
    "loss_values",
    "flat_loss",
    "layer_gradients",
    "layer_gradients_reference",
    "gradient_norms",
    "chain_gradients",
    "chain_gradients_reference",
    "JACOBIAN_METHODS",
    "input_jacobian",
    "input_jacobian_reference",
    "jacobian_singular_values",
    "PER_SAMPLE_METHODS",
    "per_sample_gradients",
    "per_sample_gradients_reference",
    "per_sample_gram",
    "per_sample_gram_reference",
    "cosines_from_gram",
]

LOSSES: tuple[str, ...] = ("mse", "sum")


# ---------------------------------------------------------------------- helpers
def _check_nets(nets: Any) -> NetworkBatch:
    if not isinstance(nets, NetworkBatch):
        raise TypeError(
            f"nets must be a NetworkBatch (from mlps or chains), got {type(nets).__name__}"
        )
    return nets


def _targets(nets: NetworkBatch, y: Any, batch: int) -> Tensor:
    """Targets as a ``(1 or count, batch, n_L)`` tensor."""
    t = torch.as_tensor(y, dtype=nets.dtype, device=nets.device)
    n_out = nets.output_dim
    if t.ndim == 0:
        return t.reshape(1, 1, 1).expand(1, batch, n_out)
    if t.ndim == 1:
        if n_out == 1 and t.shape[0] == batch:
            t = t.reshape(1, batch, 1)
        elif t.shape[0] == n_out:
            t = t.reshape(1, 1, n_out).expand(1, batch, n_out)
        else:
            raise ValueError(f"y of shape {tuple(t.shape)} does not fit batch={batch}, out={n_out}")
    elif t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or t.shape[1:] != (batch, n_out) or t.shape[0] not in (1, nets.count):
        raise ValueError(
            f"y must be a scalar or have shape ({batch}, {n_out}) or "
            f"({nets.count}, {batch}, {n_out}), got {tuple(torch.as_tensor(y).shape)}"
        )
    return t


def _inputs(nets: NetworkBatch, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    xt = nets.prepare_input(x)
    return xt, _targets(nets, y, xt.shape[-2])


def _slice_lead(t: Tensor, sl: slice, count: int) -> Tensor:
    return t[sl] if t.ndim == 3 and t.shape[0] == count and count > 1 else t


def _per_network_loss(out: Tensor, yt: Tensor, loss: str) -> Tensor:
    per_sample = 0.5 * (out - yt).square().sum(dim=-1)  # (count, batch)
    return per_sample.mean(dim=-1) if loss == "mse" else per_sample.sum(dim=-1)


def _chunked(
    nets: NetworkBatch,
    xt: Tensor,
    yt: Tensor | None,
    max_bytes: int,
    factor: float,
    fn: Callable[[NetworkBatch, Tensor, Tensor | None], list[Tensor]],
) -> list[Tensor]:
    """Apply ``fn`` to sub-batches of networks fitting ``max_bytes``, results stacked along dim 0.

    Every result of ``fn`` must have the sub-batch's network count as its leading dimension.
    Each chunk's results are written into outputs preallocated after the first chunk (no
    ``torch.cat``: the stacked result is held once, not twice, and never copied as a whole).
    """
    batch = xt.shape[-2]
    pieces = list(nets.chunks(batch=batch, max_bytes=max_bytes, factor=factor))
    if len(pieces) == 1:
        return fn(nets, xt, yt)
    n = nets.count
    out: list[Tensor] = []
    for sl, sub in pieces:
        res = fn(sub, _slice_lead(xt, sl, n), None if yt is None else _slice_lead(yt, sl, n))
        if not out:
            out = [torch.empty((n, *r.shape[1:]), dtype=r.dtype, device=r.device) for r in res]
        for o, r in zip(out, res, strict=True):
            assert r.shape[0] == sl.stop - sl.start, (r.shape, sl)
            o[sl].copy_(r)
    return out


def _leaf_params(nets: NetworkBatch, params: Sequence[Tensor] | None = None) -> list[Tensor]:
    ps = nets.parameters() if params is None else list(params)
    return [p.detach().requires_grad_(True) for p in ps]


# ---------------------------------------------------------------------- losses and gradients
def loss_values(nets: NetworkBatch, x: Any, y: Any, loss: str = "mse") -> Tensor:
    """Per-network loss ``ℓ`` (``(count,)`` tensor), ``½ mean_batch ‖f(x) − y‖²`` for ``"mse"``.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=2, depth=1, sigma=1.0, seed=0)
    >>> w = c.parameters()[0].reshape(2)
    >>> bool(torch.allclose(loss_values(c, 1.0, 0.0), 0.5 * w ** 2))
    True
    """
    nets = _check_nets(nets)
    loss = check_choice("loss", loss, LOSSES)
    xt, yt = _inputs(nets, x, y)
    with torch.no_grad():
        return _per_network_loss(nets.forward(xt), yt, loss)


def flat_loss(
    nets: NetworkBatch, x: Any, y: Any, index: int | None = 0, loss: str = "mse"
) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """Loss as a function of flat parameters, for curvature tools: returns ``(f, theta0)``.

    ``index=n``: ``f(θ)`` maps a flat ``(P,)`` vector to the scalar loss of network ``n``
    (its data slice when ``x``/``y`` are per network) and ``theta0 = flatten()[n]``.
    ``index=None``: ``f`` maps ``(count, P)`` to the ``(count,)`` losses of all networks and
    ``theta0 = flatten()``. ``f`` is differentiable (autograd and ``torch.func``).

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> f, theta = flat_loss(c, 1.0, 0.0, index=1)
    >>> bool(torch.isclose(f(theta), loss_values(c, 1.0, 0.0)[1]))
    True
    """
    nets = _check_nets(nets)
    loss = check_choice("loss", loss, LOSSES)
    xt, yt = _inputs(nets, x, y)
    if index is None:
        def f_all(theta: Tensor) -> Tensor:
            out = nets.forward(xt, params=nets.unflatten(theta))
            return _per_network_loss(out, yt, loss)

        return f_all, nets.flatten().detach().clone()
    n = check_int("index", index, minimum=0, maximum=nets.count - 1)
    xn = xt[n : n + 1] if xt.ndim == 3 and xt.shape[0] == nets.count else xt
    yn = yt[n : n + 1] if yt.shape[0] == nets.count else yt

    def f_one(theta: Tensor) -> Tensor:
        out = nets.forward(xn, params=nets.unflatten(theta.unsqueeze(0)))
        return _per_network_loss(out, yn, loss)[0]

    return f_one, nets.flatten()[n].detach().clone()


def layer_gradients(
    nets: NetworkBatch,
    x: Any,
    y: Any,
    loss: str = "mse",
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
        loss: ``"mse"`` (``½ mean_batch ‖f − y‖²``) or ``"sum"`` (``½ Σ_batch``).
        params: evaluate at these parameters instead of the stored ones.
        max_bytes: memory budget; larger requests are split over networks.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> g = layer_gradients(c, 1.0, 0.0)
    >>> [tuple(t.shape) for t in g]
    [(3, 1, 1), (3, 1, 1)]
    """
    nets = _check_nets(nets)
    loss = check_choice("loss", loss, LOSSES)
    xt, yt = _inputs(nets, x, y)
    if params is not None:
        nets = nets.with_parameters(params)

    def fn(sub: NetworkBatch, xs: Tensor, ys: Tensor | None) -> list[Tensor]:
        assert ys is not None
        ps = _leaf_params(sub)
        with torch.enable_grad():
            out = sub.forward(xs, params=ps)
            total = _per_network_loss(out, ys, loss).sum()
            return list(torch.autograd.grad(total, ps))

    return _chunked(nets, xt, yt, max_bytes, 4.0, fn)


def layer_gradients_reference(nets: NetworkBatch, x: Any, y: Any, loss: str = "mse"
                              ) -> list[Tensor]:
    """Slow reference for :func:`layer_gradients`: a Python loop over ``nn.Module`` copies."""
    nets = _check_nets(nets)
    loss = check_choice("loss", loss, LOSSES)
    xt, yt = _inputs(nets, x, y)
    per_net: list[list[Tensor]] = []
    for n in range(nets.count):
        module = nets.to_module(n)
        xn = xt[n] if xt.ndim == 3 else xt
        yn = yt[n] if yt.shape[0] == nets.count else yt[0]
        out = module(xn)
        per_sample = 0.5 * (out - yn).square().sum(dim=-1)
        value = per_sample.mean() if loss == "mse" else per_sample.sum()
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
    nets: NetworkBatch, x: Any, y: Any, loss: str = "mse", *, max_bytes: int = DEFAULT_MAX_BYTES
) -> GradientNorms:
    """Per-layer and total gradient norms of every network (numpy float64, with provenance).

    ``per_layer[n, l−1] = ‖∂ℓ_n/∂θ_l‖₂`` and ``total[n] = ‖∂ℓ_n/∂θ‖₂ = √Σ_l per_layer²``.

    >>> from flatstart.montecarlo.networks import mlps
    >>> r = gradient_norms(mlps(count=2, width=3, depth=2, seed=0), torch.ones(4, 3), 0.0)
    >>> r.per_layer.shape, r.total.shape
    ((2, 2), (2,))
    """
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
    nets = _check_nets(nets)
    if not nets.is_chain:
        raise ValueError(f"nets must be width-1 chains, got widths {nets.widths}")
    xt = _chain_input(nets, x, "x")
    yt = _chain_input(nets, y, "y")
    depth, count = nets.depth, nets.count
    ps = _leaf_params(nets)
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
    nets = _check_nets(nets)
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


# ---------------------------------------------------------------------- Jacobians
def _require_per_sample(nets: NetworkBatch, what: str) -> None:
    if nets.norm == "batch":
        raise ValueError(
            f"{what} is not defined per sample for norm='batch' (batch statistics couple the "
            "samples); use norm=None or norm='layer'"
        )


JACOBIAN_METHODS: tuple[str, ...] = ("auto", "product", "autograd", "vmap")


def input_jacobian(
    nets: NetworkBatch,
    x: Any,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    method: str = "auto",
) -> Tensor:
    """Input–output Jacobians ``J[n, b] = ∂f_n(x_b)/∂x_b``: a ``(count, batch, n_L, n_0)`` tensor.

    Samples and networks are independent, so every route handles all of them at once. Routes
    (all exact; ``method="auto"`` picks the fastest that applies):

    * ``"product"`` (nets without a norm): the chain rule written out,
      ``J = ∏_l (R_l + α_l D_l W_l)`` with ``D_l = diag φ'(h_l)`` (``1[h > 0]`` for ReLU,
      ``1 − tanh² h`` for tanh, ``I`` for linear layers and the readout), ``R_l = I`` and
      ``α_l = α`` for residual layers (``R_l = 0``, ``α_l = 1`` otherwise), evaluated by batched
      matrix products from the output side (cotangents, when ``n_L ≤ n_0``) or from the input
      side (tangents, otherwise). [derived: chain rule]
    * ``"autograd"`` (any per-sample architecture, e.g. layer norm): each sample is repeated
      ``min(n_L, n_0)`` times along the batch; one reverse pass of ``Σ_k f_k(x^{(k)})`` gives
      row ``k`` of ``J`` when ``n_L ≤ n_0``, else one forward-mode pass with the basis tangent
      ``e_k`` on copy ``k`` gives column ``k``. [derived: autograd]
    * ``"vmap"``: ``torch.func.jacrev`` / ``vmap(jvp)`` (the former default; slow for many nets).

    Args:
        nets: the networks (not ``norm="batch"``: its Jacobian is not per sample).
        x: inputs ``(batch, n_0)`` or ``(count, batch, n_0)``.
        max_bytes: memory budget; larger requests are split over networks.
        method: ``"auto"``, ``"product"``, ``"autograd"`` or ``"vmap"``.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> J = input_jacobian(c, 1.0)
    >>> p = c.parameters()
    >>> bool(torch.allclose(J.reshape(3), (p[0] * p[1]).reshape(3)))
    True
    """
    nets = _check_nets(nets)
    _require_per_sample(nets, "input_jacobian")
    method = check_choice("method", method, JACOBIAN_METHODS)
    if method == "auto":
        method = "product"
    xt = nets.prepare_input(x)
    n_in, n_out = nets.input_dim, nets.output_dim
    impl = {"product": _jacobian_product, "autograd": _jacobian_autograd,
            "vmap": _jacobian_vmap}[method]

    def fn(sub: NetworkBatch, xs: Tensor, _: Tensor | None) -> list[Tensor]:
        with torch.no_grad() if method == "product" else contextlib.nullcontext():
            return [impl(sub, xs)]

    factor = 4.0 * min(n_in, n_out)
    return _chunked(nets, xt, None, max_bytes, factor, fn)[0]


def _act_derivative(nets: NetworkBatch, z: Tensor) -> Tensor | None:
    """``φ'(z)`` as autograd computes it (``None`` for the identity)."""
    if nets.activation == "relu":
        return (z > 0).to(z.dtype)
    if nets.activation == "tanh":
        y = torch.tanh(z)
        return 1 - y * y
    return None


@dataclass
class _LayerJac:
    """Per-layer factors of ``J_l = R_l + α_l D_l Γ_l N_l W_l`` (see :func:`input_jacobian`)."""

    w: Tensor  # (count, n_l, n_{l-1})
    d: Tensor | None  # φ'(z_l), (count, batch, n_l)
    gamma: Tensor | None  # (count, n_l)
    zhat: Tensor | None  # standardized h_l, (count, batch, n_l)
    inv_s: Tensor | None  # 1/√(var + ε), (count, batch, 1)
    scale: float | None  # α for residual layers
    residual: bool


def _layer_factors(nets: NetworkBatch, xs: Tensor) -> tuple[list[_LayerJac], int, int]:
    ps = [p.detach() for p in nets.parameters()]
    _, trace = nets._forward_impl(xs, ps, True)
    assert trace is not None
    count, batch = trace.pre[0].shape[0], trace.pre[0].shape[1]
    depth = nets.depth
    k = depth * (2 if nets.bias else 1)
    gammas: dict[int, Tensor] = {}
    if nets.norm is not None and nets.norm_affine:
        gammas = dict(zip(nets._normed_layers, ps[k : k + len(nets._normed_layers)],
                          strict=True))
    factors = []
    for i, spec in enumerate(nets.layers):
        h = trace.pre[i]
        z = trace.normalized[i] if spec.normed else h
        assert z is not None
        zhat = inv_s = None
        if spec.normed:
            zhat = trace.standardized[i]
            mean = h.mean(dim=-1, keepdim=True)
            inv_s = 1.0 / torch.sqrt((h - mean).square().mean(dim=-1, keepdim=True) + BN_EPS)
        w = ps[i]
        factors.append(_LayerJac(
            w=w.expand(count, *w.shape[1:]),
            d=_act_derivative(nets, z) if spec.activation else None,
            gamma=gammas.get(i),
            zhat=zhat,
            inv_s=inv_s,
            scale=nets.residual if spec.residual else None,
            residual=spec.residual,
        ))
    return factors, count, batch


def _norm_rows(v: Tensor, f: _LayerJac) -> Tensor:
    """Rows times ``N = (1/s)(I − 11ᵀ/n − ẑẑᵀ/n)`` (symmetric): the layer-norm Jacobian."""
    assert f.zhat is not None and f.inv_s is not None
    zh = f.zhat.unsqueeze(-2)  # (count, batch, 1, n)
    proj = (v * zh).mean(dim=-1, keepdim=True)
    return (v - v.mean(dim=-1, keepdim=True) - zh * proj) * f.inv_s.unsqueeze(-2)


def _jacobian_product(nets: NetworkBatch, xs: Tensor) -> Tensor:
    """``J = ∏ (R_l + α_l D_l Γ_l N_l W_l)`` by batched matmuls (any per-sample net)."""
    factors, count, batch = _layer_factors(nets, xs)
    n_in, n_out = nets.input_dim, nets.output_dim
    if n_out <= n_in:
        # cotangent rows C_l = ∂f/∂x_l, (count, batch, n_L, n_l), from the output side
        c: Tensor | None = None
        for f in reversed(factors):
            n_l, n_prev = f.w.shape[1], f.w.shape[2]
            if c is None and f.zhat is None:  # C_{L-1} = (α) D_L W_L (+ I): no identity product
                m = f.w.unsqueeze(1)  # (count, 1, n_L, n_{L-1})
                if f.gamma is not None:
                    m = f.gamma.reshape(count, 1, n_l, 1) * m
                m = m.expand(count, batch, n_l, n_prev) if f.d is None else f.d.unsqueeze(-1) * m
                if f.scale is not None:
                    m = f.scale * m
                if f.residual:
                    m = m + torch.eye(n_l, dtype=m.dtype, device=m.device)
                c = m
                continue
            if c is None:
                c = torch.eye(n_l, dtype=f.w.dtype, device=f.w.device).expand(
                    count, batch, n_l, n_l)
            ch = c if f.d is None else c * f.d.unsqueeze(-2)
            if f.gamma is not None:
                ch = ch * f.gamma.reshape(count, 1, 1, n_l)
            if f.zhat is not None:
                ch = _norm_rows(ch, f)
            if f.scale is not None:
                ch = f.scale * ch
            new = torch.bmm(ch.reshape(count, -1, n_l), f.w).reshape(count, batch, n_out, n_prev)
            c = new + c if f.residual else new
        assert c is not None
        return c.contiguous()
    # tangent rows T_l = (∂x_l/∂x)ᵀ, (count, batch, n_0, n_l), from the input side
    t: Tensor | None = None
    for f in factors:
        n_l, n_prev = f.w.shape[1], f.w.shape[2]
        if t is None:
            u = f.w.transpose(1, 2).unsqueeze(1)  # (count, 1, n_0, n_1)
        else:
            u = torch.bmm(t.reshape(count, -1, n_prev), f.w.transpose(1, 2)).reshape(
                count, batch, n_in, n_l)
        if f.zhat is not None:
            u = _norm_rows(u, f)
        if f.gamma is not None:
            u = u * f.gamma.reshape(count, 1, 1, n_l)
        if f.d is not None:
            u = u * f.d.unsqueeze(-2)
        if f.scale is not None:
            u = f.scale * u
        if f.residual:
            u = u + (torch.eye(n_prev, dtype=u.dtype, device=u.device) if t is None else t)
        t = u.expand(count, batch, n_in, n_l)
    assert t is not None
    return t.transpose(-1, -2).contiguous()


def _jacobian_autograd(nets: NetworkBatch, xs: Tensor) -> Tensor:
    """Jacobians by one reverse (or forward-mode) pass over ``min(n_L, n_0)`` sample copies."""
    ps = [p.detach() for p in nets.parameters()]
    count = nets.count
    x3 = xs if xs.ndim == 3 else xs.unsqueeze(0)
    batch = x3.shape[1]
    n_in, n_out = nets.input_dim, nets.output_dim
    k = min(n_in, n_out)
    rep = x3.unsqueeze(1).expand(count, k, batch, n_in).reshape(count, k * batch, n_in)
    if n_out <= n_in:
        xr = rep.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = nets._forward_impl(xr, ps, False)[0].reshape(count, k, batch, n_out)
            seed = torch.diagonal(out, dim1=1, dim2=3).sum()  # Σ_k f_k(x^{(k)}) on copy k
            (g,) = torch.autograd.grad(seed, xr)
        return g.reshape(count, k, batch, n_in).transpose(1, 2).contiguous()
    eye = torch.eye(n_in, dtype=xs.dtype, device=xs.device)
    tangent = eye.reshape(1, n_in, 1, n_in).expand(count, n_in, batch, n_in)
    with warnings.catch_warnings():  # torch's forward-AD import warns about torch.jit
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*",
                                category=DeprecationWarning)
        with torch.no_grad(), fwAD.dual_level():
            dual = fwAD.make_dual(rep.contiguous(),
                                  tangent.reshape(count, n_in * batch, n_in).contiguous())
            out = nets._forward_impl(dual, ps, False)[0]
            cols = fwAD.unpack_dual(out).tangent
    assert cols is not None
    return cols.reshape(count, n_in, batch, n_out).permute(0, 2, 3, 1).contiguous()


def _jacobian_vmap(sub: NetworkBatch, xs: Tensor) -> Tensor:
    """``torch.func`` Jacobians: ``jacrev`` (``n_L ≤ n_0``) or ``vmap(jvp)`` over input basis."""
    n_in, n_out = sub.input_dim, sub.output_dim
    ps = [p.detach() for p in sub.parameters()]
    x3 = xs if xs.ndim == 3 else xs.unsqueeze(0)
    x3 = x3.expand(sub.count, *x3.shape[1:]).contiguous()

    def f(xx: Tensor) -> Tensor:
        return sub._forward_impl(xx, ps, False)[0]

    if n_out <= n_in:
        jac = jacrev(lambda xx: f(xx).sum(dim=(0, 1)))(x3)  # (out, count, batch, in)
        return jac.permute(1, 2, 0, 3)
    basis = torch.eye(n_in, dtype=x3.dtype, device=x3.device)

    def column(v: Tensor) -> Tensor:
        return jvp(f, (x3,), (v.expand_as(x3),))[1]

    with warnings.catch_warnings():  # torch's forward-AD import warns about torch.jit
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*",
                                category=DeprecationWarning)
        cols = vmap(column)(basis)  # (in, count, batch, out)
    return cols.permute(1, 2, 3, 0)


def input_jacobian_reference(nets: NetworkBatch, x: Any) -> Tensor:
    """Slow reference for :func:`input_jacobian`: ``torch.autograd.functional.jacobian``
    per network and sample on ``nn.Module`` copies."""
    nets = _check_nets(nets)
    _require_per_sample(nets, "input_jacobian")
    xt = nets.prepare_input(x)
    rows = []
    for n in range(nets.count):
        module = nets.to_module(n)
        xn = xt[n] if xt.ndim == 3 else xt
        rows.append(
            torch.stack(
                [
                    torch.autograd.functional.jacobian(lambda v, m=module: m(v[None])[0], xn[b])
                    for b in range(xn.shape[0])
                ]
            )
        )
    return torch.stack(rows)


def jacobian_singular_values(
    nets: NetworkBatch, x: Any, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Tensor:
    """Singular values (descending) of every input–output Jacobian.

    Returns a ``(count, batch, min(n_L, n_0))`` tensor.

    >>> from flatstart.montecarlo.networks import mlps
    >>> s = jacobian_singular_values(mlps(count=2, width=3, depth=2, seed=0), torch.ones(1, 3))
    >>> s.shape
    torch.Size([2, 1, 3])
    """
    return torch.linalg.svdvals(input_jacobian(nets, x, max_bytes=max_bytes))


# ---------------------------------------------------------------------- per-sample gradients
def _split_targets(
    nets: NetworkBatch, xt: Tensor, yt: Tensor
) -> tuple[Tensor, int | None, Tensor, int | None]:
    per_net_x = xt.ndim == 3 and xt.shape[0] == nets.count and nets.count > 1
    x_dim: int | None = 0 if per_net_x else None
    xs = xt if x_dim == 0 else (xt[0] if xt.ndim == 3 else xt)
    y_dim: int | None = 0 if yt.shape[0] == nets.count and nets.count > 1 else None
    ys = yt if y_dim == 0 else yt[0]
    return xs, x_dim, ys, y_dim


PER_SAMPLE_METHODS: tuple[str, ...] = ("vmap", "layerwise")


def per_sample_gradients(
    nets: NetworkBatch,
    x: Any,
    y: Any,
    chunk_size: int | None = None,
    *,
    flat: bool = False,
    method: str = "vmap",
) -> list[Tensor] | Tensor:
    """Per-sample gradients ``g_{n,i} = ∇_θ ℓ_i`` with ``ℓ_i = ½ ‖f_n(x_i) − y_i‖²``.

    ``method="vmap"`` (default): ``torch.func`` -- ``vmap`` over networks of ``vmap`` over
    samples of ``grad`` of the single-network, single-sample functional forward; ``chunk_size``
    bounds how many networks are vectorized at once. ``method="layerwise"``: the dense-layer
    identity ``∂ℓ_i/∂W_l = δ_{l,i} a_{l−1,i}ᵀ`` (``δ`` from one backward pass, as in
    :func:`per_sample_gram`), usually much faster. Returns one tensor per parameter of shape
    ``(count, batch, *param_shape)`` or, with ``flat=True``, a ``(count, batch, P)`` tensor.
    [derived: autograd / chain rule]

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=2, depth=2, sigma=1.0, seed=0)
    >>> per_sample_gradients(c, torch.ones(5, 1), 0.0, flat=True).shape
    torch.Size([2, 5, 2])
    """
    nets = _check_nets(nets)
    _require_per_sample(nets, "per_sample_gradients")
    method = check_choice("method", method, PER_SAMPLE_METHODS)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size)
    xt, yt = _inputs(nets, x, y)
    if method == "layerwise":
        out = _per_sample_layerwise(nets, xt, yt)
        if flat:
            return torch.cat([g.reshape(g.shape[0], g.shape[1], -1) for g in out], dim=-1)
        return out
    xs, x_dim, ys, y_dim = _split_targets(nets, xt, yt)
    ps = tuple(p.detach() for p in nets.parameters())

    def sample_loss(p: tuple[Tensor, ...], xi: Tensor, yi: Tensor) -> Tensor:
        out = nets._forward_impl(xi.reshape(1, 1, -1), [q.unsqueeze(0) for q in p], False)[0]
        return 0.5 * (out.reshape(-1) - yi).square().sum()

    per_net = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    grads = vmap(per_net, in_dims=(0, x_dim, y_dim), chunk_size=chunk_size)(ps, xs, ys)
    out = list(grads)
    if flat:
        return torch.cat([g.reshape(g.shape[0], g.shape[1], -1) for g in out], dim=-1)
    return out


def per_sample_gradients_reference(
    nets: NetworkBatch, x: Any, y: Any, *, flat: bool = False
) -> list[Tensor] | Tensor:
    """Slow reference for :func:`per_sample_gradients`: a Python loop over samples, each an
    autograd backward of ``Σ_networks ℓ_i`` (networks are batched, samples looped)."""
    nets = _check_nets(nets)
    _require_per_sample(nets, "per_sample_gradients")
    xt, yt = _inputs(nets, x, y)
    batch = xt.shape[-2]
    cols: list[list[Tensor]] = []
    for i in range(batch):
        ps = _leaf_params(nets)
        xi = xt[..., i : i + 1, :]
        yi = yt[:, i : i + 1, :]
        with torch.enable_grad():
            out = nets.forward(xi, params=ps)
            total = (0.5 * (out - yi).square().sum(dim=-1)).sum()
            cols.append(list(torch.autograd.grad(total, ps)))
    grads = [torch.stack([c[k] for c in cols], dim=1) for k in range(len(cols[0]))]
    if flat:
        return torch.cat([g.reshape(g.shape[0], g.shape[1], -1) for g in grads], dim=-1)
    return grads


def per_sample_gram(
    nets: NetworkBatch, x: Any, y: Any, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Tensor:
    """Gram matrices ``G[n, i, j] = ⟨g_{n,i}, g_{n,j}⟩`` of per-sample gradients, ``(count, N, N)``.

    Never materializes per-sample gradients. For a dense layer ``h_l = W_l a_{l−1} + b_l`` the
    per-sample gradient is ``δ_{l,i} a_{l−1,i}ᵀ`` (and ``δ_{l,i}`` for ``b_l``) with
    ``δ_{l,i} = ∂ℓ_i/∂h_{l,i}``, so [derived; the layer-wise identity used by BackPACK]

        ``G = Σ_l (A_{l−1} A_{l−1}ᵀ) ⊙ (D_l D_lᵀ)  (+ D_l D_lᵀ with biases)``

    and, for ``norm="layer"`` with affine ``z = γ ⊙ ẑ + β``, ``+ (U⊙Ẑ)(U⊙Ẑ)ᵀ + U Uᵀ`` with
    ``U_l = ∂ℓ/∂z_l``. All ``δ`` (and ``U``) come from one backward pass of ``Σ_{n,i} ℓ_i``
    with respect to the retained pre-activations. ``norm="batch"`` raises ``ValueError``.

    >>> from flatstart.montecarlo.networks import mlps
    >>> nets = mlps(count=2, width=4, depth=3, seed=0)
    >>> x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> G = per_sample_gram(nets, x, 1.0)
    >>> g = per_sample_gradients(nets, x, 1.0, flat=True)
    >>> bool(torch.allclose(G, g @ g.transpose(1, 2)))
    True
    """
    nets = _check_nets(nets)
    _require_per_sample(nets, "per_sample_gram")
    xt, yt = _inputs(nets, x, y)
    batch = xt.shape[-2]
    factor = 4.0 + 2.0 * batch / max(1, sum(nets.widths))

    def fn(sub: NetworkBatch, xs: Tensor, ys: Tensor | None) -> list[Tensor]:
        assert ys is not None
        return [_gram_impl(sub, xs, ys)]

    return _chunked(nets, xt, yt, max_bytes, factor, fn)[0]


@dataclass
class _Signals:
    """Layer inputs ``a_{l-1}``, backpropagated signals ``δ_l = ∂ℓ_i/∂h_l`` and, for layer norm
    with affine, ``u_l = ∂ℓ_i/∂z_l`` with the standardized ``ẑ_l`` (all detached)."""

    inputs: list[Tensor]
    deltas: list[Tensor]
    us: list[Tensor]
    zhats: list[Tensor]


def _signals(nets: NetworkBatch, xt: Tensor, yt: Tensor) -> _Signals:
    """One forward and one backward pass of ``Σ_{n,i} ℓ_i`` w.r.t. the retained pre-activations."""
    ps = _leaf_params(nets)
    with torch.enable_grad():
        out, trace = nets.forward(xt, params=ps, return_activations=True)
        total = 0.5 * (out - yt).square().sum()
        affine = nets.norm == "layer" and nets.norm_affine
        normed = [i for i, s in enumerate(nets.layers) if s.normed] if affine else []
        targets = list(trace.pre) + [trace.normalized[i] for i in normed]
        grads = torch.autograd.grad(total, targets)  # type: ignore[arg-type]
    depth = nets.depth
    zhats = [trace.standardized[i] for i in normed]
    return _Signals(
        inputs=[a.detach() for a in trace.post[:depth]],
        deltas=[g.detach() for g in grads[:depth]],
        us=[g.detach() for g in grads[depth:]],
        zhats=[z.detach() for z in zhats if z is not None],
    )


def _gram_impl(nets: NetworkBatch, xt: Tensor, yt: Tensor) -> Tensor:
    sig = _signals(nets, xt, yt)
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


def _per_sample_layerwise(nets: NetworkBatch, xt: Tensor, yt: Tensor) -> list[Tensor]:
    sig = _signals(nets, xt, yt)
    grads = [
        d.unsqueeze(-1) * a.unsqueeze(-2)  # (count, batch, n_out, n_in): δ_i a_iᵀ
        for a, d in zip(sig.inputs, sig.deltas, strict=True)
    ]
    if nets.bias:
        grads += sig.deltas
    if nets.norm == "layer" and nets.norm_affine:
        grads += [u * z for u, z in zip(sig.us, sig.zhats, strict=True)] + sig.us
    return grads


def per_sample_gram_reference(nets: NetworkBatch, x: Any, y: Any) -> Tensor:
    """Reference for :func:`per_sample_gram`: ``vmap`` per-sample gradients, then ``g gᵀ``."""
    g = per_sample_gradients(nets, x, y, flat=True, method="vmap")
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
