"""Hutchinson's estimate of the Hessian trace, for one network or a batch of networks.

Tested against the trace of the dense Hessian. Shapes and conventions:
:mod:`flatstart.montecarlo.curvature`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int
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
from flatstart.montecarlo.curvature.operator import (
    BATCH_ELEMENTS,
    OPERATOR_METHODS,
    HessianOperator,
)
from flatstart.montecarlo.provenance import make_provenance

__all__ = ["TraceResult", "hutchinson_trace"]


@dataclass(frozen=True)
class TraceResult:
    """Hutchinson trace estimate.

    Attributes:
        estimate: ``mean_i z_i^T H z_i``, ``float`` or ``(count,)``.
        stderr: standard error ``std(z^T H z, ddof=1) / sqrt(probes)`` (``inf`` for one probe).
        probes: number of probe vectors.
        samples: the quadratic forms ``z_i^T H z_i``, ``(probes,)`` or ``(count, probes)``.
        probe_vectors: ``(probes, P)`` / ``(count, probes, P)`` if requested, else ``None``.
        hvps: HVPs per network.
    """

    estimate: Any
    stderr: Any
    probes: int
    samples: np.ndarray
    probe_vectors: np.ndarray | None
    distribution: str
    hvps: int
    seed: int
    dtype: str
    device: str
    torch_version: str
    provenance: dict[str, Any] = field(repr=False)


def hutchinson_trace(
    f: LossFunction,
    theta: torch.Tensor,
    probes: int = 100,
    seed: int = 0,
    *,
    distribution: str = "rademacher",
    batch_size: int | None = None,
    return_probes: bool = False,
    hvp_method: str = "cached",
) -> TraceResult:
    """Hutchinson's unbiased estimate of ``tr H`` with its standard error.

    ``tr H = E[z^T H z]`` for any ``z`` with ``E[z z^T] = I`` [ref: Hutchinson 1990, Commun.
    Stat. Simul. 19:433]; with Rademacher ``z`` the variance of one sample is
    ``2 (||H||_F^2 - sum_i H_ii^2)``, the smallest among such ``z`` (Gaussian: ``2 ||H||_F^2``).
    The estimate is the mean of ``probes`` samples and ``stderr = s / sqrt(probes)`` with the
    sample standard deviation ``s`` (``inf`` for a single probe). Probes are pushed through the
    cached HVP operator in batches of ``batch_size`` vectors.

    Args:
        f: loss (see :func:`hvp`).
        theta: ``(P,)`` or ``(count, P)``.
        probes: number of probe vectors (>= 1).
        seed: seed of the probes.
        distribution: ``"rademacher"`` or ``"gaussian"``.
        batch_size: vectors per batched HVP (default: memory-based).
        return_probes: keep the probe vectors in the result.
        hvp_method: operator method.

    Returns:
        A :class:`TraceResult`.

    >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    >>> hutchinson_trace(lambda t: 0.5 * t @ A @ t, torch.zeros(3, dtype=torch.float64),
    ...                  probes=5).estimate
    6.0
    """
    f = check_f(f)
    theta = check_theta(theta)
    probes = check_int("probes", probes, minimum=1)
    seed = check_seed(seed)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
    hvp_method = check_choice("hvp_method", hvp_method, OPERATOR_METHODS)
    batched = theta.ndim == 2
    count = int(theta.shape[0]) if batched else 1
    dim = int(theta.shape[-1])
    if batch_size is None:
        batch_size = max(1, min(probes, BATCH_ELEMENTS // (count * dim)))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    op = HessianOperator(f, theta, method=hvp_method, max_batch=batch_size)
    z = random_vectors((count, probes, dim), generator(seed), distribution, theta)
    hz = op.apply_rows(z)
    samples = (z * hz).sum(dim=2).detach().cpu().to(torch.float64).numpy()
    est = samples.mean(axis=1)
    if probes > 1:
        err = samples.std(axis=1, ddof=1) / math.sqrt(probes)
    else:
        err = np.full(count, np.inf)
    zs = z.detach().cpu().to(torch.float64).numpy() if return_probes else None
    return TraceResult(
        estimate=scalar(est, batched),
        stderr=scalar(err, batched),
        probes=probes,
        samples=squeeze(samples, batched),
        probe_vectors=None if zs is None else squeeze(zs, batched),
        distribution=distribution,
        hvps=op.hvps,
        provenance=make_provenance(
            "curvature.hutchinson_trace",
            {"probes": probes, "distribution": distribution},
            seed=seed,
            dtype=theta.dtype,
            device=theta.device,
        ),
        **result_meta(theta, seed),
    )
