"""Input–output Jacobians ``∂f(x)/∂x`` of batched random networks and what is made of them.

Every function evaluates all ``count`` networks of a
:class:`~flatstart.montecarlo.networks.NetworkBatch` at once (networks and samples are
independent). :func:`input_jacobian` has three exact routes (written-out chain rule, autograd,
``torch.func``) and the slow reference :func:`input_jacobian_reference`
(``torch.autograd.functional.jacobian`` on ``nn.Module`` copies); the tests compare them.
:func:`jacobian_singular_values`, :func:`scalar_input_gradients` (``∂f/∂x`` of scalar-output
networks) and :func:`mask_jacobians` (``J = D_L W_L ⋯ D_1 W_1`` of plain MLPs) are built on the
product route. ``norm="batch"`` has no per-sample Jacobian and raises.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor
from torch.func import jacrev, jvp, vmap

from flatstart._checks import check_choice
from flatstart.montecarlo._batched import check_nets, chunked, require_per_sample
from flatstart.montecarlo.networks import BN_EPS, DEFAULT_MAX_BYTES, NetworkBatch

__all__ = [
    "JACOBIAN_METHODS",
    "input_jacobian",
    "input_jacobian_reference",
    "jacobian_singular_values",
    "mask_jacobians",
    "scalar_input_gradients",
]


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
    nets = check_nets(nets)
    require_per_sample(nets, "input_jacobian")
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
    return chunked(nets, xt, None, max_bytes, factor, fn)[0]


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
    nets = check_nets(nets)
    require_per_sample(nets, "input_jacobian")
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


def scalar_input_gradients(nets: NetworkBatch, x: Any) -> Tensor:
    r"""Gradients ``∂f_k(x)/∂x`` of every network's scalar output at one input ``x``.

    Row ``0`` of :func:`input_jacobian` (cotangent products
    ``e_1ᵀ ∏ J_l``, one batched pass for all networks) [derived: chain rule]. Returns a
    ``(count, n_0)`` tensor; ``x`` has shape ``(n_0,)`` or ``(1, n_0)``.

    >>> from flatstart.montecarlo.networks import chains
    >>> c = chains(count=3, depth=2, sigma=1.0, seed=0)
    >>> g = scalar_input_gradients(c, torch.ones(1))
    >>> p = c.parameters()
    >>> bool(torch.allclose(g.reshape(3), (p[0] * p[1]).reshape(3)))
    True
    """
    if nets.output_dim != 1:
        raise ValueError(f"nets must have a scalar output, got output_dim={nets.output_dim}")
    xt = torch.as_tensor(x, dtype=nets.dtype, device=nets.device).reshape(1, 1, -1)
    if xt.shape[-1] != nets.input_dim:
        raise ValueError(f"x must have {nets.input_dim} entries, got {xt.shape[-1]}")
    return input_jacobian(nets, xt[0], method="product")[:, 0, 0, :]


def mask_jacobians(nets: NetworkBatch, x: Any) -> Tensor:
    r"""Input–output Jacobians ``J = D_L W_L ⋯ D_1 W_1`` at one input, ``(count, n_L, n_0)``.

    For a bias-free plain MLP ``x_l = φ(W_l x_{l-1})`` (``φ`` linear or ReLU, no norm, no
    residual) the chain rule gives ``J = ∏ D_l W_l`` with ``D_l = diag(φ'(W_l x_{l-1}))``
    (``1[h > 0]`` for ReLU; the identity for a linear readout) [derived: chain rule], evaluated
    by :func:`input_jacobian` (``method="product"``), which is tested against the module
    reference :func:`input_jacobian_reference`.

    >>> from flatstart.montecarlo.networks import mlps
    >>> nets = mlps(count=2, width=3, depth=2, seed=0)
    >>> mask_jacobians(nets, torch.ones(3)).shape
    torch.Size([2, 3, 3])
    """
    if not isinstance(nets, NetworkBatch):
        raise TypeError(f"nets must be a NetworkBatch, got {type(nets).__name__}")
    if nets.bias or nets.norm is not None or any(s.residual for s in nets.layers):
        raise ValueError("mask_jacobians needs bias-free plain MLPs (no norm, no residual)")
    if nets.activation not in ("linear", "relu"):
        raise ValueError(f"activation must be 'linear' or 'relu', got {nets.activation!r}")
    xt = torch.as_tensor(x, dtype=nets.dtype, device=nets.device).reshape(1, -1)
    return input_jacobian(nets, xt, method="product")[:, 0]
