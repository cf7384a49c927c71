"""Single-sample SGD on finite sums of diagonal quadratics: Monte Carlo gaps and exact paths.

``F = (1/N) Σ_i f_i`` with ``f_i(w) = ½ Σ_c a_ic (w_c − b_ic)²``; SGD steps
``w ← w − lr ∇f_{i_k}(w)`` with ``i_k`` uniform on ``{0..N−1}``. Everything is measured with
torch: gradients by autograd, updates by :class:`flatstart.montecarlo.optim.SGD`, ``F*`` by an
exact Newton step with the autograd Hessian (``F`` is quadratic); no theory formula is used.

* :func:`quadratic_sgd_gaps` -- ``F(w_T) − F*`` of many independent seeded runs (one
  ``(runs, d)`` tensor);
* :func:`quadratic_sgd_path_moments` -- exact expectations over SGD index sequences by
  enumerating every path as one torch batch; slow reference
  :func:`quadratic_sgd_path_moments_reference` (a loop over paths with ``torch.optim.SGD``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flatstart._checks import check_int, check_positive
from flatstart.montecarlo.optim import SGD

__all__ = [
    "quadratic_sgd_gaps",
    "quadratic_sgd_path_moments",
    "quadratic_sgd_path_moments_reference",
]

_MAX_PATHS = 200_000


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
