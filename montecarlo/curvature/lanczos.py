"""Batched Lanczos with full reorthogonalization, Ritz pairs, Gauss quadrature and broadening.

This module is pure linear algebra on a symmetric operator given as a function
``apply: (L, P) -> (L, P)`` that acts on ``L`` independent *lanes* at once (one lane per
network, or per network and probe vector). :mod:`flatstart.montecarlo.curvature` builds Hessian
operators and calls it; the tests also call it on explicit matrices.

Lanczos [ref: Lanczos 1950; Golub & Van Loan, *Matrix Computations*, 4th ed., §10.1]: from a
unit vector ``q_1`` build an orthonormal basis ``Q_m = [q_1 .. q_m]`` of the Krylov space
``span{q_1, A q_1, .., A^{m-1} q_1}`` with

    ``beta_j q_{j+1} = A q_j - alpha_j q_j - beta_{j-1} q_{j-1}``,  ``alpha_j = q_j^T A q_j``,

so that ``A Q_m = Q_m T_m + beta_m q_{m+1} e_m^T`` with ``T_m`` tridiagonal (diagonal
``alpha``, off-diagonal ``beta``). Here every new vector is orthogonalized against the whole
basis by classical Gram-Schmidt, with a second pass whenever the DGKS test asks for it
(the pass shrank ``w`` below ``1/sqrt(2)`` of its norm; "twice is enough" [ref: Daniel, Gragg,
Kaufman & Stewart 1976; Giraud, Langou & Rozloznik 2005]), which removes the ghost eigenvalues
of plain Lanczos. If ``beta_j`` vanishes
(breakdown) the Krylov space is invariant and the Ritz values are exact eigenvalues of ``A``.

Ritz pairs: ``T_m = S diag(theta) S^T``; the Ritz residual ``||A y_i - theta_i y_i|| =
|beta_m S_{m,i}|`` bounds the distance from ``theta_i`` to the spectrum of ``A`` [ref: Parlett,
*The Symmetric Eigenvalue Problem*, Thm 13.1.1 / Kahan].

Gauss quadrature [ref: Golub & Meurant, *Matrices, Moments and Quadrature*, 2010, Thm 6.2]:
with nodes ``theta_k`` and weights ``w_k = S_{1,k}^2``,
``sum_k w_k theta_k^p = e_1^T T_m^p e_1 = q_1^T A^p q_1`` for ``0 <= p <= 2m - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "LanczosRun",
    "gaussian_broadening",
    "all_ritz",
    "lanczos",
    "lane_ritz",
    "needed_steps",
    "ritz",
    "select_indices",
    "tridiagonal",
]

Apply = Callable[[torch.Tensor], torch.Tensor]

#: A lane whose new ``beta`` is below ``BREAKDOWN_FACTOR * eps * ||T||`` is treated as broken
#: down (invariant Krylov space). Missing a breakdown is harmless (the next vector is an
#: orthonormal continuation with a negligible coupling), so this only needs to be a few orders of
#: magnitude above round-off.
BREAKDOWN_FACTOR = 1e3

#: Second Gram-Schmidt pass when a pass shrank the vector below ``DGKS_ETA`` times its norm
#: [ref: Daniel, Gragg, Kaufman & Stewart 1976, Math. Comp. 30:772]: with this test two passes
#: are always enough, and the second is skipped when it cannot matter.
DGKS_ETA = 1.0 / math.sqrt(2.0)


@dataclass
class LanczosRun:
    """Tridiagonal matrices produced by :func:`lanczos` for ``L`` lanes.

    Attributes:
        alpha: ``(L, steps)`` float64 diagonals (CPU); entries past ``lengths`` are zero.
        beta: ``(L, steps)`` float64; ``beta[l, j]`` couples steps ``j`` and ``j + 1`` and
            ``beta[l, lengths[l] - 1]`` is the final residual norm ``beta_m``. A zero inside
            the length marks a restart after a breakdown (block-diagonal ``T``).
        lengths: ``(L,)`` int64, the number of Lanczos steps ``m`` of each lane.
        converged: ``(L,)`` bool, Ritz residual test passed (or the Krylov space was exhausted).
        basis: ``(L, steps + 1, P)`` orthonormal basis rows (lane ``l`` uses the first
            ``lengths[l]`` rows), or ``None``.
        applications: number of calls of ``apply`` (each call is one HVP per lane).
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    lengths: torch.Tensor
    converged: torch.Tensor
    basis: torch.Tensor | None
    applications: int


def tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Return the symmetric tridiagonal matrices ``T`` with diagonal ``alpha``.

    Args:
        alpha: ``(..., m)`` diagonal.
        beta: ``(..., m - 1)`` (or longer; extra entries ignored) off-diagonal.

    Returns:
        ``(..., m, m)`` tensor ``T`` with ``T[i, i] = alpha[i]`` and
        ``T[i, i + 1] = T[i + 1, i] = beta[i]`` [ref: Golub & Van Loan §10.1].

    >>> tridiagonal(torch.tensor([1.0, 2.0]), torch.tensor([3.0]))
    tensor([[1., 3.],
            [3., 2.]])
    """
    m = alpha.shape[-1]
    t = alpha.new_zeros((*alpha.shape, m))
    idx = torch.arange(m)
    t[..., idx, idx] = alpha
    if m > 1:
        off = beta[..., : m - 1]
        t[..., idx[:-1], idx[1:]] = off
        t[..., idx[1:], idx[:-1]] = off
    return t


def ritz(alpha: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return Ritz values (ascending) and eigenvectors ``S`` of the tridiagonal ``T``.

    ``T = S diag(theta) S^T`` (``torch.linalg.eigh``, batched over leading dimensions).

    >>> th, s = ritz(torch.tensor([2.0, 2.0], dtype=torch.float64),
    ...              torch.tensor([1.0], dtype=torch.float64))
    >>> th.tolist()
    [1.0, 3.0]
    """
    t = tridiagonal(alpha, beta)
    theta, s = torch.linalg.eigh(t)
    return theta, s


def _project_out(w: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """One classical Gram-Schmidt pass ``w - Q^T (Q w)``; ``w`` (L, P), ``Q`` (L, j, P)."""
    c = torch.bmm(basis, w.unsqueeze(2))
    return w - torch.bmm(basis.transpose(1, 2), c).squeeze(2)


def _orthogonalize(w: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Remove from each row of ``w`` its components along ``basis``, twice."""
    return _project_out(_project_out(w, basis), basis)


def select_indices(m: int, k: int, which: str) -> list[int]:
    if which == "largest":
        return list(range(max(m - k, 0), m))
    if which == "smallest":
        return list(range(min(k, m)))
    lo = list(range(min(k, m)))
    hi = list(range(max(m - k, 0), m))
    return lo + hi


def needed_steps(k: int, which: str, dim: int) -> int:
    """Number of Ritz values needed before the ``k`` wanted ones can be read off."""
    return min(2 * k, dim) if which == "both" else k


def lanczos(
    apply: Apply,
    v0: torch.Tensor,
    max_steps: int,
    *,
    which: str | None = None,
    k: int = 1,
    tol: float = 1e-10,
    generator: torch.Generator | None = None,
    keep_basis: bool = False,
) -> LanczosRun:
    """Run batched Lanczos with full reorthogonalization on ``L`` lanes.

    Args:
        apply: symmetric operator, ``(L, P) -> (L, P)``, lanes independent. Lanes that have
            stopped are fed zero rows.
        v0: ``(L, P)`` nonzero starting vectors (normalized here).
        max_steps: at most this many steps (HVPs per lane); clipped to ``P``.
        which: ``None`` for a fixed number of steps (quadrature mode: a lane stops at a
            breakdown, since its quadrature is then exact), or ``"largest"``, ``"smallest"``,
            ``"both"`` for eigenvalue mode: a lane stops when the Ritz residuals
            ``|beta_m S_{m,i}|`` of its ``k`` wanted Ritz values (per end) are all
            ``<= tol * max_i |theta_i|`` (tested every step up to ``m = 20``, then every
            ``ceil(m / 20)`` steps, so that the tridiagonal eigensolves stay cheap); after a
            breakdown with too few Ritz values it restarts with a random vector orthogonal to
            the basis (``beta = 0``), which also resolves repeated eigenvalues.
        k: wanted Ritz values per end (eigenvalue mode).
        tol: relative residual tolerance (eigenvalue mode).
        generator: CPU generator for restart vectors.
        keep_basis: return the basis (needed for Ritz vectors).

    Returns:
        A :class:`LanczosRun`.

    >>> a = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
    >>> run = lanczos(lambda x: x @ a, torch.ones(1, 5, dtype=torch.float64), 5)
    >>> ritz(run.alpha[0, :5], run.beta[0, :5])[0].round(decimals=10).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    if v0.ndim != 2:
        raise ValueError(f"v0 must have shape (lanes, P), got {tuple(v0.shape)}")
    lanes, dim = v0.shape
    steps = min(int(max_steps), dim)
    dev, dt = v0.device, v0.dtype
    eps = torch.finfo(dt).eps
    norms = v0.norm(dim=1)
    if bool((norms == 0).any()) or not bool(torch.isfinite(norms).all()):
        raise ValueError("v0 must have finite nonzero rows")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    need = needed_steps(k, which, dim) if which is not None else 0

    cap = min(steps + 1, 32)
    basis = v0.new_zeros(lanes, cap, dim)
    q = v0 / norms[:, None]
    basis[:, 0] = q
    alpha = torch.zeros(lanes, steps, dtype=torch.float64)
    beta = torch.zeros(lanes, steps, dtype=torch.float64)
    lengths = torch.zeros(lanes, dtype=torch.int64)
    active = torch.ones(lanes, dtype=torch.bool)
    converged = torch.zeros(lanes, dtype=torch.bool)
    anorm = torch.zeros(lanes, dtype=torch.float64)
    q_prev = torch.zeros_like(q)
    b_prev = torch.zeros(lanes, dtype=dt, device=dev)
    calls = 0

    for j in range(steps):
        m = j + 1
        act_dev = active.to(dev)
        q = q * act_dev[:, None].to(dt)
        w = apply(q)
        calls += 1
        a = (w * q).sum(dim=1)
        w = w - a[:, None] * q - b_prev[:, None] * q_prev
        before = w.norm(dim=1)
        w = _project_out(w, basis[:, :m])
        b = w.norm(dim=1)
        if bool((b < DGKS_ETA * before).any()):  # DGKS: a second pass where it is needed
            w = _project_out(w, basis[:, :m])
            b = w.norm(dim=1)
        a_c = a.detach().to("cpu", torch.float64)
        b_c = b.detach().to("cpu", torch.float64)
        if not bool(torch.isfinite(a_c[active]).all() and torch.isfinite(b_c[active]).all()):
            raise ValueError("the operator returned non-finite values (Hessian-vector product)")
        alpha[active, j] = a_c[active]
        beta[active, j] = b_c[active]
        lengths[active] = m
        prev_c = beta[:, j - 1] if j > 0 else torch.zeros(lanes, dtype=torch.float64)
        anorm = torch.where(active, torch.maximum(anorm, a_c.abs() + b_c + prev_c), anorm)
        broke = active & (b_c <= BREAKDOWN_FACTOR * eps * anorm)

        stop = torch.zeros(lanes, dtype=torch.bool)
        restart = torch.zeros(lanes, dtype=torch.bool)
        if which is not None:
            test = active & ~broke
            due = m <= 20 or m % -(-m // 20) == 0 or m == steps
            if m >= need and bool(test.any()) and due:
                idx = torch.nonzero(test).squeeze(1)
                theta, s = ritz(alpha[idx, :m], beta[idx, :m])
                res = (b_c[idx, None] * s[:, m - 1, :]).abs()
                sel = select_indices(m, k, which)
                scale = theta.abs().amax(dim=1, keepdim=True)
                ok = (res[:, sel] <= tol * scale).all(dim=1)
                stop[idx[ok]] = True
                converged[idx[ok]] = True
            for lane in torch.nonzero(broke).squeeze(1).tolist():
                if m < need and m < dim and m < steps:
                    restart[lane] = True
                else:  # exact (invariant subspace), unless too few Ritz values remain
                    stop[lane] = True
                    converged[lane] = m >= need or m >= dim
        else:
            stop |= broke
            converged |= broke & (lengths > 0)

        q_next = w / b.clamp_min(torch.finfo(dt).tiny)[:, None]
        b_next = b.clone()
        for lane in torch.nonzero(restart).squeeze(1).tolist():
            z = torch.randn(dim, generator=gen, dtype=torch.float64).to(dev, dt)
            z = _orthogonalize(z[None, :], basis[lane : lane + 1, :m])[0]
            zn = z.norm()
            if float(zn) == 0.0:  # pragma: no cover - basis already spans the space
                stop[lane] = True
                converged[lane] = True
                continue
            q_next[lane] = z / zn
            b_next[lane] = 0.0
            beta[lane, j] = 0.0
        active &= ~stop
        if not bool(active.any()) or m == steps:
            break
        if m + 1 > basis.shape[1]:
            grown = basis.new_zeros(lanes, min(2 * basis.shape[1], steps + 1), dim)
            grown[:, : basis.shape[1]] = basis
            basis = grown
        act_dev = active.to(dev)[:, None].to(dt)
        q_prev = q
        q = q_next * act_dev
        b_prev = b_next * act_dev[:, 0]
        basis[:, m] = q

    return LanczosRun(
        alpha=alpha,
        beta=beta,
        lengths=lengths,
        converged=converged,
        basis=basis if keep_basis else None,
        applications=calls,
    )


def lane_ritz(run: LanczosRun, lane: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Return ``(theta, S, beta_m)`` of one lane of a :class:`LanczosRun` (float64, CPU)."""
    m = int(run.lengths[lane])
    theta, s = ritz(run.alpha[lane, :m], run.beta[lane, :m])
    return theta, s, float(run.beta[lane, m - 1])


def all_ritz(run: LanczosRun) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """:func:`lane_ritz` for every lane, with one batched ``eigh`` per distinct length."""
    out: list[Any] = [None] * len(run.lengths)
    for m in torch.unique(run.lengths).tolist():
        lanes = torch.nonzero(run.lengths == m).squeeze(1)
        theta, s = ritz(run.alpha[lanes, :m], run.beta[lanes, :m])
        for j, lane in enumerate(lanes.tolist()):
            out[lane] = (theta[j], s[j], float(run.beta[lane, m - 1]))
    return out


def gaussian_broadening(
    nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float
) -> np.ndarray:
    """Return ``phi(t) = sum_k w_k N(t; theta_k, sigma^2)`` on ``grid``.

    ``N(t; mu, s^2) = exp(-(t - mu)^2 / (2 s^2)) / sqrt(2 pi s^2)``; with ``sum_k w_k = 1`` the
    density integrates to 1 over the real line [ref: Lin, Saad & Yang 2016, SIAM Rev. 58, §3].

    Args:
        nodes: ``(n,)`` quadrature nodes.
        weights: ``(n,)`` weights.
        grid: ``(g,)`` evaluation points.
        sigma: broadening standard deviation (> 0).

    >>> d = gaussian_broadening(np.array([0.0]), np.array([1.0]), np.linspace(-8, 8, 2001), 1.0)
    >>> round(float(np.trapezoid(d, np.linspace(-8, 8, 2001))), 10)
    1.0
    """
    diff = (grid[:, None] - nodes[None, :]) / sigma
    kern = np.exp(-0.5 * diff * diff) / (sigma * math.sqrt(2.0 * math.pi))
    return np.asarray(kern @ weights, dtype=np.float64)
