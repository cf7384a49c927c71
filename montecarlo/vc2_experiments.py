"""Measurements for the second half of the VC claims: Hessians, escape times, residual chains,
normalized nets.

Thin wrappers around real torch objects (:func:`flatstart.montecarlo.networks.chains`,
:func:`flatstart.montecarlo.networks.mlps`, :func:`flatstart.montecarlo.curvature.dense_hessian`,
:mod:`flatstart.montecarlo.optim`) that return plain numpy arrays (what a claim's ``simulate``
caches). No theory is used here.

* :func:`chain_hessian_samples`: dense Hessians of ``ℓ = ½(f(x) − y)²`` of many width-1 chains
  (batched HVPs on the cached double-backward graph), their eigenvalues, traces and the
  gradient norms.
* :func:`saddle_escape_steps`: a one-parameter torch model ``f(θ) = −(λ/2)θ²`` per λ, optimized
  by a batched torch optimizer, and the first step with ``|θ_t| ≥ R`` (right-censored).
* :func:`residual_chain_outputs`: ``f(x)`` of residual chains ``x_{l+1} = (1 + α w_l) x_l``.
* :func:`normalized_sq_norms`: ``‖x_L‖²/n_L`` of ReLU MLPs with or without normalization.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_positive, check_real
from flatstart.montecarlo.curvature import dense_hessian, flat_function_batch
from flatstart.montecarlo.networks import chains, mlps
from flatstart.montecarlo.optim import make_optimizer

__all__ = [
    "ChainHessianSamples",
    "chain_hessian_samples",
    "chain_hessian_samples_reference",
    "normalized_sq_norms",
    "residual_chain_outputs",
    "saddle_escape_steps",
    "saddle_escape_steps_reference",
]


@dataclass(frozen=True)
class ChainHessianSamples:
    """Hessian and gradient of ``ℓ = ½(f(x) − y)²`` at init, one row per chain (float64).

    Attributes:
        eigenvalues: ``(count, L)`` ascending eigenvalues of the dense Hessian.
        trace: ``(count,)`` ``tr H``.
        grad_norm: ``(count,)`` ``‖∇ℓ‖``.
        output: ``(count,)`` ``f(x)``.
        provenance: builder arguments.
    """

    eigenvalues: np.ndarray
    trace: np.ndarray
    grad_norm: np.ndarray
    output: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


def _half_sq(count: int) -> Any:
    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = out - y
        return 0.5 * (d * d).reshape(count, -1).sum(dim=1)

    return loss


def chain_hessian_samples(
    count: int,
    depth: int,
    *,
    sigma: float = 1.0,
    x: float = 1.0,
    y: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
) -> ChainHessianSamples:
    """Dense Hessians of ``count`` linear chains with ``N(0, σ²)`` weights (real torch nets).

    The chains come from :func:`~flatstart.montecarlo.networks.chains` (float64); the Hessian of
    ``ℓ = ½(f(x) − y)²`` is :func:`~flatstart.montecarlo.curvature.dense_hessian` (``L`` batched
    HVPs, autograd double backward), symmetrized and diagonalized with ``torch.linalg.eigvalsh``;
    the gradient by autograd. [derived: definitions]

    >>> r = chain_hessian_samples(3, 2, seed=0)
    >>> r.eigenvalues.shape, bool(np.allclose(r.trace, r.eigenvalues.sum(1)))
    ((3, 2), True)
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    sigma = check_positive("sigma", sigma)
    xv = check_real("x", x)
    yv = check_real("y", y)
    nets = chains(count=count, depth=depth, sigma=sigma, dtype=torch.float64, device=device,
                  seed=seed)
    xt = torch.full((1, 1), xv, dtype=torch.float64, device=nets.device)
    yt = torch.full((1, 1), yv, dtype=torch.float64, device=nets.device)
    f, theta = flat_function_batch(nets, xt, yt, loss=_half_sq(count))
    h = dense_hessian(f, theta, method="hvp")
    h = 0.5 * (h + h.transpose(-1, -2))
    ev = torch.linalg.eigvalsh(h)
    th = theta.clone().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(f(th).sum(), th)[0]
    with torch.no_grad():
        out = nets(xt).reshape(count)
    prov = {"builder": "chains", "count": count, "depth": depth, "sigma": sigma, "x": xv,
            "y": yv, "seed": seed, "device": str(device), "hessian": "dense_hessian(hvp)"}
    return ChainHessianSamples(
        eigenvalues=ev.cpu().numpy(),
        trace=torch.diagonal(h, dim1=-2, dim2=-1).sum(-1).cpu().numpy(),
        grad_norm=g.norm(dim=1).cpu().numpy(),
        output=out.cpu().numpy(),
        provenance=prov,
    )


def chain_hessian_samples_reference(
    count: int, depth: int, *, sigma: float = 1.0, x: float = 1.0, y: float = 0.0,
    seed: int = 0,
) -> ChainHessianSamples:
    """Slow reference: one ``nn.Module`` per chain and ``torch.autograd.functional.hessian``."""
    nets = chains(count=count, depth=depth, sigma=sigma, dtype=torch.float64, seed=seed)
    xt = torch.full((1, 1), float(x), dtype=torch.float64)
    yt = torch.full((1, 1), float(y), dtype=torch.float64)
    evs, trs, gns, outs = [], [], [], []
    for k in range(count):
        mod = nets.to_module(k)
        names = [n for n, _ in mod.named_parameters()]
        theta = torch.cat([p.detach().reshape(-1) for p in mod.parameters()])

        def loss(t: torch.Tensor, mod: Any = mod, names: list[str] = names) -> torch.Tensor:
            params = {n: t[i].reshape(1, 1) for i, n in enumerate(names)}
            out = torch.func.functional_call(mod, params, (xt,))
            return 0.5 * ((out - yt) ** 2).sum()

        h = torch.autograd.functional.hessian(loss, theta)
        th = theta.clone().requires_grad_(True)
        g = torch.autograd.grad(loss(th), th)[0]
        evs.append(torch.linalg.eigvalsh(h).numpy())
        trs.append(float(torch.trace(h)))
        gns.append(float(g.norm()))
        with torch.no_grad():
            outs.append(float(mod(xt).reshape(())))
    return ChainHessianSamples(np.stack(evs), np.array(trs), np.array(gns), np.array(outs),
                               {"reference": True})


def _escape_setup(
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
    lam, th0, r, max_steps = _escape_setup(lams, theta0, radius, max_steps, device)
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
    from flatstart.montecarlo.optim import torch_reference_optimizer

    lam, th0, r, max_steps = _escape_setup(lams, theta0, radius, max_steps, "cpu")
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


def residual_chain_outputs(
    count: int,
    depth: int,
    alpha: float,
    *,
    sigma: float | None = None,
    bound: float | None = None,
    x: float = 1.0,
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """``f(x) = ∏_l (1 + α w_l) x`` of ``count`` linear residual chains (real torch nets).

    Built by :func:`~flatstart.montecarlo.networks.chains` with ``residual=α`` (every layer
    ``x_l = x_{l-1} + α w_l x_{l-1}``); ``N(0, σ²)`` (``sigma``) or ``U(−a, a)`` (``bound``)
    weights. Returns float64 ``(count,)``.

    >>> residual_chain_outputs(2, 3, 0.5, sigma=1.0, seed=0).shape
    (2,)
    """
    count = check_int("count", count)
    depth = check_int("depth", depth)
    alpha = check_positive("alpha", alpha)
    xv = check_real("x", x)
    nets = chains(count=count, depth=depth, sigma=sigma, bound=bound, residual=alpha,
                  dtype=torch.float64, device=device, seed=seed)
    with torch.no_grad():
        out = nets(torch.full((1, 1), xv, dtype=torch.float64, device=nets.device))
    return out.reshape(count).cpu().numpy().astype(np.float64)


def normalized_sq_norms(
    count: int,
    width: int,
    depth: int,
    norm: str | None = "layer",
    *,
    init: str = "he_normal",
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """``‖x_L‖²/n`` of ``count`` bias-free ReLU MLPs of width ``n`` (real torch nets).

    :func:`~flatstart.montecarlo.networks.mlps` with ``input_dim = width``, every layer hidden
    (``x_l = relu(norm(W_l x_{l-1}))``, ``norm`` = ``"layer"``, ``"batch"`` or ``None``; the
    affine map of the norm at its init ``γ = 1, β = 0``), evaluated on the input
    ``x_0 = (1, …, 1)`` (``‖x_0‖²/n = 1``). Batch norm needs a batch: ``x_0`` and ``width − 1``
    further inputs ``e_1, …`` scaled to norm ``√n``; the value of ``x_0`` is returned.

    >>> normalized_sq_norms(2, 4, 3, seed=0).shape
    (2,)
    """
    count = check_int("count", count)
    width = check_int("width", width)
    depth = check_int("depth", depth)
    if norm is not None:
        norm = check_choice("norm", norm, ("layer", "batch"))
    nets = mlps(count=count, width=width, depth=depth, activation="relu", init=init,
                input_dim=width, norm=norm, dtype=torch.float64, device=device, seed=seed)
    x0 = torch.ones((1, width), dtype=torch.float64, device=nets.device)
    if norm == "batch":
        extra = torch.eye(width, dtype=torch.float64, device=nets.device)[: width - 1]
        x0 = torch.cat([x0, extra * width**0.5], dim=0)
    with torch.no_grad():
        xl = nets(x0)[:, 0, :]  # (count, width)
    return (xl.square().sum(dim=1) / width).cpu().numpy().astype(np.float64)
