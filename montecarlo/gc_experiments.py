"""Monte Carlo measurements for the gradient-confusion (GC) claim family.

Small measurements on real torch networks and real SGD runs that the general modules
(:mod:`flatstart.montecarlo.confusion`, :mod:`flatstart.montecarlo.derivatives`,
:mod:`flatstart.montecarlo.training`) do not provide directly. Nothing here uses a theory formula:
every number is computed by running networks, autograd and SGD in torch.

* :func:`ntk_gram` -- per-sample gradient Gram matrices of He-initialized ReLU MLPs expressed in
  the NTK parametrization (chain rule of the reparametrization ``W_std = (σ_w/√n_in) W_ntk``).
* :func:`with_replacement_pair_products` -- inner products of the gradients of pairs of
  independent with-replacement mini-batches, from a per-sample Gram matrix.
* :func:`quadratic_sgd_gaps` -- many independent single-sample SGD runs (torch autograd +
  :class:`flatstart.montecarlo.optim.SGD`) on a finite sum of diagonal quadratics; ``F(w_T) − F*``.
* :func:`quadratic_sgd_path_moments` -- exact expectations over SGD index sequences by
  enumerating every path as one torch batch (autograd gradients, torch SGD steps).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_int, check_positive
from flatstart.montecarlo.networks import NetworkBatch
from flatstart.montecarlo.optim import SGD

__all__ = [
    "ntk_gram",
    "ntk_gram_reference",
    "quadratic_sgd_gaps",
    "quadratic_sgd_path_moments",
    "quadratic_sgd_path_moments_reference",
    "with_replacement_pair_products",
]

_MAX_PATHS = 200_000


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
    per-sample loss ``ℓ_i = ½(f(x_i) − y_i)²``. Inputs are used as given (scale them by
    ``√(n_0/gain)`` to reproduce the NTK network on unit inputs exactly).

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
            total = 0.5 * (out - yt).square().sum()
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


# ---------------------------------------------------------------------------- mini-batches
def with_replacement_pair_products(
    gram: Tensor, batch_size: int, pairs: int, seed: int = 0
) -> dict[str, Tensor]:
    """Gradients of pairs of independent with-replacement mini-batches, via the Gram matrix.

    Each batch draws ``batch_size`` indices iid uniform on ``{0..N−1}`` (seeded); with count
    vectors ``c₁, c₂`` the batch gradients ``ḡ = (1/B) Σ_b g_{i_b}`` satisfy
    ``⟨ḡ₁, ḡ₂⟩ = c₁ᵀ K c₂ / B²`` and ``‖ḡ‖² = cᵀ K c / B²`` for ``K_ij = ⟨g_i, g_j⟩``
    [derived: linearity of the batch gradient; valid without batch-norm].

    Args:
        gram: ``(N, N)`` Gram matrix of per-sample gradients (one network).
        batch_size: B ≥ 1; pairs: number of independent pairs; seed: index stream.

    Returns:
        ``inner`` ``⟨ḡ₁, ḡ₂⟩``, ``sq1`` ``‖ḡ₁‖²``, ``sq2`` ``‖ḡ₂‖²``, each ``(pairs,)``.

    >>> K = torch.eye(3, dtype=torch.float64)
    >>> r = with_replacement_pair_products(K, 1, 4, seed=0)
    >>> bool(torch.all(r["sq1"] == 1.0))
    True
    """
    if not isinstance(gram, Tensor) or gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise ValueError("gram must be a square (N, N) tensor")
    b = check_int("batch_size", batch_size)
    m = check_int("pairs", pairs)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    n = gram.shape[0]
    idx = torch.randint(0, n, (2, m, b), generator=gen).to(gram.device)
    counts = torch.zeros((2, m, n), dtype=gram.dtype, device=gram.device)
    counts.scatter_add_(2, idx, torch.ones_like(idx, dtype=gram.dtype))
    c1, c2 = counts[0], counts[1]
    k1, k2 = c1 @ gram, c2 @ gram
    return {
        "inner": (k1 * c2).sum(dim=1) / b**2,
        "sq1": (k1 * c1).sum(dim=1) / b**2,
        "sq2": (k2 * c2).sum(dim=1) / b**2,
    }


# ---------------------------------------------------------------------------- quadratics
def _quad(a: Any, b: Any, device: str | torch.device) -> tuple[Tensor, Tensor]:
    at = torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)
    bt = torch.as_tensor(np.asarray(b, dtype=np.float64), device=device)
    if at.ndim != 2 or at.shape != bt.shape:
        raise ValueError(f"a and b must both have shape (N, d), got {tuple(at.shape)} and "
                         f"{tuple(bt.shape)}")
    if not bool(torch.all(at > 0)):
        raise ValueError("a must be > 0 elementwise")
    return at, bt


def _component_losses(w: Tensor, at: Tensor, bt: Tensor, idx: Tensor) -> Tensor:
    """``f_{i}(w) = ½ Σ_c a_ic (w_c − b_ic)²`` for each row of ``w`` with its index ``idx``."""
    return 0.5 * (at[idx] * (w - bt[idx]).square()).sum(dim=-1)


def _index(w: Tensor, i: int) -> Tensor:
    return torch.full((w.shape[0],), i, dtype=torch.long, device=w.device)


def _full_loss(w: Tensor, at: Tensor, bt: Tensor) -> Tensor:
    """``F(w) = (1/N) Σ_i f_i(w)`` for each row of ``w``."""
    return 0.5 * (at[None] * (w[:, None, :] - bt[None]).square()).sum(dim=-1).mean(dim=-1)


def _f_star(at: Tensor, bt: Tensor) -> tuple[Tensor, Tensor]:
    """Minimizer and minimum of F, measured: one Newton step from 0 with the autograd Hessian
    (F is quadratic, so the step is exact), then ``F(w*)``."""
    d = at.shape[1]
    w0 = torch.zeros(d, dtype=at.dtype, device=at.device)

    def fn(w: Tensor) -> Tensor:
        return _full_loss(w[None], at, bt)[0]

    leaf = w0.clone().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(fn(leaf), leaf, create_graph=True)[0]
        h = torch.stack([torch.autograd.grad(g[c], leaf, retain_graph=True)[0]
                         for c in range(d)])
    g = g.detach()
    w_star = w0 - torch.linalg.solve(h, g)
    return w_star, fn(w_star)


def quadratic_sgd_gaps(
    a: Any, b: Any, w0: Any, lr: float, steps: int, runs: int, seed: int = 0,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """``F(w_T) − F*`` of ``runs`` independent single-sample SGD runs on ``F = (1/N)Σ f_i``.

    ``f_i(w) = ½ Σ_c a_ic (w_c − b_ic)²``; step ``w ← w − lr ∇f_{i_k}(w)`` with ``i_k`` iid
    uniform (seeded), the gradient by autograd and the update by
    :class:`flatstart.montecarlo.optim.SGD`; all runs form one ``(runs, d)`` tensor. ``F*`` is
    measured by an exact Newton step (autograd Hessian). [ref: SGD; GC §3 setting]

    >>> gaps = quadratic_sgd_gaps([[1.0]], [[0.0]], [1.0], 0.1, 1, 3)
    >>> [round(float(v), 12) for v in gaps]
    [0.405, 0.405, 0.405]
    """
    at, bt = _quad(a, b, device)
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, minimum=0)
    runs = check_int("runs", runs)
    n, d = at.shape
    start = torch.as_tensor(np.asarray(w0, dtype=np.float64), device=at.device).reshape(-1)
    if start.numel() != d:
        raise ValueError(f"w0 must have length d={d}, got {start.numel()}")
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    idx_all = torch.randint(0, n, (steps, runs), generator=gen).to(at.device)
    w = start.expand(runs, d).clone()
    opt = SGD([w], lr=lr)
    for k in range(steps):
        leaf = w.detach().requires_grad_(True)
        with torch.enable_grad():
            grad = torch.autograd.grad(_component_losses(leaf, at, bt, idx_all[k]).sum(), leaf)[0]
        opt.step([grad])
    _, f_star = _f_star(at, bt)
    with torch.no_grad():
        gap = _full_loss(w, at, bt) - f_star
    return np.asarray(gap.clamp_min(0.0).cpu().numpy(), dtype=np.float64)


def quadratic_sgd_path_moments(
    a: Any, b: Any, w1: Any, lr: float, steps: int, device: str | torch.device = "cpu"
) -> dict[str, np.ndarray]:
    """Exact expectations over single-sample SGD by enumerating all ``N^steps`` index paths.

    Every path (probability ``N^{−steps}``) is a row of one ``(N^steps, d)`` tensor, advanced by
    autograd gradients of ``f_{i_k}`` and :class:`flatstart.montecarlo.optim.SGD` steps.
    Returns, for ``k = 0..steps`` (iterate ``w_{k+1}`` in the 1-based indexing of GC Thm 3.2):
    ``grad_sq`` ``E‖∇F(w)‖²``, ``gap`` ``E F(w) − F*``, and ``eta`` the largest
    ``−⟨∇f_i(w), ∇f_j(w)⟩`` (i ≠ j) over all iterates of all paths (0 if none is negative).
    Refuses more than 200 000 paths. [derived: exact enumeration]

    >>> m = quadratic_sgd_path_moments([[1.0]], [[0.0]], [1.0], 0.1, 1)
    >>> [round(float(v), 12) for v in m["grad_sq"]]
    [1.0, 0.81]
    """
    at, bt = _quad(a, b, device)
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, minimum=0)
    n, d = at.shape
    if n**steps > _MAX_PATHS:
        raise ValueError(f"N^steps = {n**steps} paths is too many to enumerate (<= {_MAX_PATHS})")
    start = torch.as_tensor(np.asarray(w1, dtype=np.float64), device=at.device).reshape(-1)
    if start.numel() != d:
        raise ValueError(f"w1 must have length d={d}, got {start.numel()}")
    seqs = torch.tensor(list(itertools.product(range(n), repeat=steps)), dtype=torch.long,
                        device=at.device).reshape(n**steps, steps)
    w = start.expand(n**steps, d).clone()
    opt = SGD([w], lr=lr)
    _, f_star = _f_star(at, bt)
    grad_sq, gaps, eta = [], [], 0.0
    for k in range(steps + 1):
        leaf = w.detach().requires_grad_(True)
        with torch.enable_grad():
            big_f = _full_loss(leaf, at, bt)
            gF = torch.autograd.grad(big_f.sum(), leaf)[0]
            per = torch.stack([
                torch.autograd.grad(_component_losses(leaf, at, bt, _index(leaf, i)).sum(),
                                    leaf)[0]
                for i in range(n)], dim=1)  # (paths, N, d)
        grad_sq.append(float(gF.square().sum(dim=1).mean()))
        gaps.append(float((big_f.detach() - f_star).mean()))
        if n > 1:
            gram = per @ per.transpose(1, 2)
            off = gram[:, ~torch.eye(n, dtype=torch.bool, device=gram.device)]
            eta = max(eta, float(-off.min()))
        if k < steps:
            opt.step([per[torch.arange(per.shape[0], device=per.device), seqs[:, k]]])
    return {"grad_sq": np.array(grad_sq), "gap": np.array(gaps), "eta": np.array(max(0.0, eta))}


def quadratic_sgd_path_moments_reference(
    a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], w1: Sequence[float], lr: float,
    steps: int,
) -> dict[str, np.ndarray]:
    """Slow reference for :func:`quadratic_sgd_path_moments`: a Python loop over paths with
    plain ``torch.optim.SGD`` on a single leaf tensor (``grad_sq`` and ``gap`` only)."""
    at, bt = _quad(a, b, "cpu")
    n, d = at.shape
    _, f_star = _f_star(at, bt)
    g2 = np.zeros(steps + 1)
    gp = np.zeros(steps + 1)
    for seq in itertools.product(range(n), repeat=steps):
        w = torch.tensor(np.asarray(w1, dtype=np.float64)).reshape(1, d).requires_grad_(True)
        opt = torch.optim.SGD([w], lr=lr)
        for k in range(steps + 1):
            big_f = _full_loss(w, at, bt)
            (gF,) = torch.autograd.grad(big_f.sum(), w)
            g2[k] += float(gF.square().sum())
            gp[k] += float(big_f.detach().sum() - f_star)
            if k < steps:
                opt.zero_grad()
                _component_losses(w, at, bt, torch.tensor([seq[k]])).sum().backward()
                opt.step()
    total = n**steps
    return {"grad_sq": g2 / total, "gap": gp / total}
