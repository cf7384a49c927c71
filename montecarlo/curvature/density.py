"""Hessian spectral density by stochastic Lanczos quadrature (SLQ).

Tested against the exact moments ``v^T H^p v``. Shapes and conventions:
:mod:`flatstart.montecarlo.curvature`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int, check_positive
from flatstart.montecarlo.curvature._common import (
    DISTRIBUTIONS,
    LossFunction,
    check_f,
    check_seed,
    check_theta,
    generator,
    random_vectors,
    result_meta,
    scalar,
    squeeze,
)
from flatstart.montecarlo.curvature.lanczos import all_ritz, gaussian_broadening, lanczos
from flatstart.montecarlo.curvature.operator import OPERATOR_METHODS, HessianOperator
from flatstart.montecarlo.provenance import make_provenance

__all__ = ["SLQ_BASIS_ELEMENTS", "DensityResult", "spectral_density"]

#: Default number of basis elements (``lanes * (steps + 1) * P``) per SLQ chunk (256 MiB fp64).
SLQ_BASIS_ELEMENTS = 2**25


@dataclass(frozen=True)
class DensityResult:
    """Stochastic Lanczos quadrature of the Hessian spectral density.

    Attributes:
        nodes: Ritz values per run, ``(runs, steps)`` or ``(count, runs, steps)``; entries past
            ``steps_used`` (early breakdown: exact quadrature) are 0 with weight 0.
        weights: squared first components of the eigenvectors of ``T``; each run sums to 1.
        grid: evaluation points, ``(g,)`` or ``(count, g)``.
        density: ``(1/runs) sum_r sum_k w_rk N(t; theta_rk, sigma^2)`` on ``grid``; it
            integrates to 1.
        sigma: Gaussian broadening, ``float`` or ``(count,)``.
        steps_used: Lanczos steps per run.
        probe_vectors: unit start vectors ``(runs, P)`` / ``(count, runs, P)`` if requested.
        hvps: HVPs per network.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: Any
    runs: int
    steps: int
    steps_used: np.ndarray
    probe_vectors: np.ndarray | None
    distribution: str
    hvps: int
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)

    def moment(self, p: int) -> Any:
        """Return ``mean_r sum_k w_rk theta_rk^p``, an estimate of ``tr(H^p) / P``.

        For each run it equals ``v^T H^p v`` exactly for ``p <= 2 * steps_used - 1``.
        """
        p = check_int("p", p, minimum=0)
        per_run = (self.weights * self.nodes**p).sum(axis=-1)
        out = per_run.mean(axis=-1)
        return float(out) if out.ndim == 0 else out


def spectral_density(
    f: LossFunction,
    theta: torch.Tensor,
    runs: int = 10,
    steps: int = 80,
    seed: int = 0,
    *,
    sigma: float | None = None,
    sigma_rel: float = 0.01,
    grid: Any = None,
    grid_points: int = 1001,
    distribution: str = "rademacher",
    batch_size: int | None = None,
    return_probes: bool = False,
    hvp_method: str = "cached",
) -> DensityResult:
    """Hessian spectral density by stochastic Lanczos quadrature (SLQ).

    For each run a unit probe ``v = z / ||z||`` (Rademacher or Gaussian ``z``, so
    ``E[v v^T] = I / P``) starts ``m = steps`` Lanczos steps with full reorthogonalization;
    ``T_m = S diag(theta) S^T`` gives nodes ``theta_k`` and weights ``w_k = S_{1k}^2``, the
    Gauss quadrature of the spectral measure of ``H`` seen from ``v``: ``sum_k w_k
    theta_k^p = v^T H^p v`` for ``p <= 2m - 1`` [ref: Golub & Meurant 2010, Thm 6.2;
    Ghorbani, Krishnan & Xiao 2019, ICML, §2; Lin, Saad & Yang 2016]. Averaging over runs
    estimates ``(1/P) sum_i delta(t - lambda_i)``; the reported density is the Gaussian
    broadening ``phi(t) = (1/runs) sum_r sum_k w_rk N(t; theta_rk, sigma^2)``, which integrates
    to 1. Default ``sigma = sigma_rel * (max node - min node)`` per network (``sigma_rel`` times
    ``max(|node|, 1)`` if all nodes coincide); default grid: ``grid_points`` points from
    ``min node - 6 sigma`` to ``max node + 6 sigma``. A run whose Krylov space is exhausted
    (breakdown) stops early with an exact quadrature; its unused nodes have weight 0.
    ``steps`` is clipped to ``P``. All runs (and all networks of a batch) share batched HVPs;
    ``batch_size`` runs are processed at a time to bound the memory of the Lanczos bases.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        runs: number of probe vectors (>= 1).
        steps: Lanczos steps per run (>= 1).
        seed: seed of the probes.
        sigma: broadening (> 0); overrides ``sigma_rel``.
        sigma_rel: broadening relative to the spectral range (> 0).
        grid: 1-D evaluation points shared by all networks (default: per-network grid).
        grid_points: size of the default grid (>= 2).
        distribution: ``"rademacher"`` or ``"gaussian"`` probes.
        batch_size: runs per chunk (default: memory-based).
        return_probes: keep the unit probe vectors.
        hvp_method: operator method.

    Returns:
        A :class:`DensityResult`.

    >>> A = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> res = spectral_density(lambda t: 0.5 * t @ A @ t, torch.zeros(2, dtype=torch.float64),
    ...                        runs=2, steps=2)
    >>> np.round(res.nodes, 12).tolist(), round(res.moment(1), 12)
    ([[1.0, 2.0], [1.0, 2.0]], 1.5)
    """
    f = check_f(f)
    theta = check_theta(theta)
    runs = check_int("runs", runs, minimum=1)
    steps_req = check_int("steps", steps, minimum=1)
    seed = check_seed(seed)
    sigma_rel = check_positive("sigma_rel", sigma_rel)
    if sigma is not None:
        sigma = check_positive("sigma", sigma)
    grid_points = check_int("grid_points", grid_points, minimum=2)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
    hvp_method = check_choice("hvp_method", hvp_method, OPERATOR_METHODS)
    grid_arr: np.ndarray | None = None
    if grid is not None:
        grid_arr = np.asarray(grid, dtype=np.float64)
        if grid_arr.ndim != 1 or grid_arr.size < 2 or not np.all(np.isfinite(grid_arr)):
            raise ValueError(f"grid must be a finite 1-D array of >= 2 points, got {grid!r}")
    batched = theta.ndim == 2
    count = int(theta.shape[0]) if batched else 1
    dim = int(theta.shape[-1])
    steps_eff = min(steps_req, dim)
    if batch_size is None:
        batch_size = max(1, min(runs, SLQ_BASIS_ELEMENTS // (count * (steps_eff + 1) * dim)))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    op = HessianOperator(f, theta, method=hvp_method)

    z = random_vectors((count, runs, dim), generator(seed), distribution, theta)
    v = z / z.norm(dim=2, keepdim=True)
    nodes = np.zeros((count, runs, steps_eff))
    weights = np.zeros((count, runs, steps_eff))
    used = np.zeros((count, runs), dtype=np.int64)
    for start in range(0, runs, batch_size):
        chunk = v[:, start : start + batch_size]
        r = chunk.shape[1]

        def apply(x: torch.Tensor, r: int = r) -> torch.Tensor:
            return op.apply_rows(x.reshape(count, r, dim)).reshape(count * r, dim)

        run = lanczos(apply, chunk.reshape(count * r, dim), steps_eff)
        for lane, (th, s, _) in enumerate(all_ritz(run)):
            i, j = divmod(lane, r)
            m = th.shape[0]
            nodes[i, start + j, :m] = th.numpy()
            weights[i, start + j, :m] = (s[0, :] ** 2).numpy()
            used[i, start + j] = m

    sig = np.zeros(count)
    grids = []
    dens = []
    for i in range(count):
        live = weights[i] > 0
        lo = float(nodes[i][live].min()) if live.any() else 0.0
        hi = float(nodes[i][live].max()) if live.any() else 0.0
        if sigma is not None:
            sig[i] = sigma
        elif hi > lo:
            sig[i] = sigma_rel * (hi - lo)
        else:
            sig[i] = sigma_rel * max(abs(hi), 1.0)
        g = (
            grid_arr
            if grid_arr is not None
            else np.linspace(lo - 6 * sig[i], hi + 6 * sig[i], grid_points)
        )
        d = gaussian_broadening(nodes[i].reshape(-1), weights[i].reshape(-1) / runs, g, sig[i])
        grids.append(g)
        dens.append(d)
    probe_np = v.detach().cpu().to(torch.float64).numpy() if return_probes else None
    return DensityResult(
        nodes=squeeze(nodes, batched),
        weights=squeeze(weights, batched),
        grid=squeeze(np.stack(grids), batched),
        density=squeeze(np.stack(dens), batched),
        sigma=scalar(sig, batched),
        runs=runs,
        steps=steps_eff,
        steps_used=squeeze(used, batched),
        probe_vectors=None if probe_np is None else squeeze(probe_np, batched),
        distribution=distribution,
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.spectral_density",
            {"runs": runs, "steps": steps_eff, "sigma": sigma, "sigma_rel": sigma_rel},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **result_meta(theta, seed),
    )
