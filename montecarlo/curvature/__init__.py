"""Curvature of real networks: Hessian-vector products, dense Hessians, Lanczos, Hutchinson, SLQ.

Every function takes a loss ``f`` of a *flat* parameter vector and the point ``theta``:

* single network: ``theta`` of shape ``(P,)`` and ``f(theta)`` a scalar (0-d or one element);
* many independent networks at once: ``theta`` of shape ``(count, P)`` and ``f(theta)`` of shape
  ``(count,)``, where ``f(theta)[i]`` depends on ``theta[i]`` only. The Hessian of
  ``sum_i f(theta)[i]`` is then block diagonal, so one batched HVP gives every network's HVP and
  Lanczos, Hutchinson and SLQ run for all networks at once with batched tensor operations.

:func:`flat_function` turns an ``nn.Module`` + loss + data into such an ``f``;
:func:`flat_function_batch` does the same for a network batch (``nets.parameters()`` a list of
tensors with leading dimension ``count`` and ``nets.forward(x, params=...)`` returning
``(count, batch, out)``).

The rooms, in the layout of ``curvlinops`` (an operator, and algorithms that only apply it):

* :mod:`~flatstart.montecarlo.curvature.operator`: Hessian-vector products, the cached
  :class:`HessianOperator`, the dense reference;
* :mod:`~flatstart.montecarlo.curvature.eigen`: extreme eigenvalues (Lanczos, ARPACK, power
  iteration);
* :mod:`~flatstart.montecarlo.curvature.trace`: Hutchinson's trace;
* :mod:`~flatstart.montecarlo.curvature.density`: spectral density (SLQ);
* :mod:`~flatstart.montecarlo.curvature.lanczos`: the batched Lanczos linear algebra;
* :mod:`~flatstart.montecarlo.curvature.flat`: the flat-parameter adapter of modules and
  network batches (losses by name from :mod:`flatstart.montecarlo.losses`);
* :mod:`~flatstart.montecarlo.curvature.chain_hessians`: dense Hessians of many random chains.

Every public name is importable from ``flatstart.montecarlo.curvature`` itself.

Fast paths and their slow references (tested against each other):

* :func:`hvp` forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) and
  reverse-over-reverse; :func:`hvp_operator` caches the double-backward graph at ``theta`` and
  batches vectors (``is_grads_batched``). Reference: :func:`dense_hessian` (``torch.func.hessian``
  or a loop of HVPs).
* :func:`extreme_eigenvalues` Lanczos with full reorthogonalization (``method="lanczos"``) vs
  ARPACK (``method="eigsh"``) vs ``torch.linalg.eigvalsh`` of the dense Hessian; baseline
  :func:`power_iteration` (PyHessian style).
* :func:`hutchinson_trace` vs the trace of the dense Hessian; :func:`spectral_density` (SLQ) vs
  the exact moments ``v^T H^p v``.

float64 is recommended (the functions keep ``theta``'s dtype); CUDA works when ``theta`` lives
there. Random vectors are drawn on the CPU from ``torch.Generator().manual_seed(seed)`` and
moved to ``theta``'s device, so a seed gives the same vectors on every device; network 0 of a
batch sees the same random numbers as a single-network call with the same seed.
"""

from __future__ import annotations

from flatstart.montecarlo.curvature.chain_hessians import (
    ChainHessianSamples,
    chain_hessian_samples,
    chain_hessian_samples_reference,
)
from flatstart.montecarlo.curvature.density import DensityResult, spectral_density
from flatstart.montecarlo.curvature.eigen import (
    EigenResult,
    PowerResult,
    extreme_eigenvalues,
    power_iteration,
)
from flatstart.montecarlo.curvature.flat import (
    BatchFlatFunction,
    FlatFunction,
    flat_function,
    flat_function_batch,
)
from flatstart.montecarlo.curvature.operator import (
    HessianOperator,
    dense_hessian,
    hvp,
    hvp_operator,
)
from flatstart.montecarlo.curvature.trace import TraceResult, hutchinson_trace

__all__ = [
    "BatchFlatFunction",
    "ChainHessianSamples",
    "DensityResult",
    "EigenResult",
    "FlatFunction",
    "HessianOperator",
    "PowerResult",
    "TraceResult",
    "chain_hessian_samples",
    "chain_hessian_samples_reference",
    "dense_hessian",
    "extreme_eigenvalues",
    "flat_function",
    "flat_function_batch",
    "hutchinson_trace",
    "hvp",
    "hvp_operator",
    "power_iteration",
    "spectral_density",
]
