"""ReLU arc-cosine kernels: infinite-width NNGP and NTK correlations for unit-norm inputs.

Network (NTK parametrization, He-normalised, no bias, ``L`` hidden ReLU layers):
``h¹ = W¹x/√n₀``, ``αˡ = √2 relu(hˡ)``, ``hˡ⁺¹ = Wˡ⁺¹αˡ/√n_l``, output
``f = W^{L+1}α^L/√n_L``, all weights iid ``N(0, 1)``, inputs with ``‖x‖² = n₀``. At infinite
width the pre-activations are Gaussian with correlation kernel
``Σ(ρ) = 2 E[relu(u)relu(v)] = (√(1−ρ²) + (π − arccos ρ)ρ)/π`` and
``Σ̇(ρ) = 2 E[relu'(u)relu'(v)] = (π − arccos ρ)/π`` for standard Gaussians with correlation ρ
(Cho & Saul 2009 arc-cosine kernels, times 2) [ref], so ``Σ(1) = Σ̇(1) = 1``.

Recursions (Jacot et al. 2018; Arora et al. 2019, with our indexing) [ref]:
``ρ₀`` = input cosine, ``ρ_l = Σ(ρ_{l−1})`` (l = 1..L) is the NNGP correlation after l
hidden layers; ``Θ₀ = ρ₀``, ``Θ_l = ρ_l + Θ_{l−1} Σ̇(ρ_{l−1})``. The output NTK is ``Θ_L``;
``Θ_L(1) = L + 1`` (one unit per weight matrix), so the per-example gradient norms are
``√(L+1)`` and the normalised NTK ``Θ_L(ρ₀)/(L+1)`` is the infinite-width cosine of the
per-example output gradients ``∇_θ f(x)``, ``∇_θ f(x')`` (GC §5) [ref].

Recursions and their unrolled form: docs/theory/rw.md#ntk-of-relu-nets-ref.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.special import ndtr

from flatstart._checks import check_int

__all__ = [
    "arccos_kernel",
    "arccos_kernel_derivative",
    "nngp_correlation",
    "normalized_ntk",
    "ntk",
    "ntk_reference",
]


def _rho_array(rho0: ArrayLike, name: str = "rho0") -> NDArray[np.float64]:
    try:
        arr = np.asarray(rho0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array in [-1, 1], got {rho0!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {rho0!r}")
    if np.any(np.abs(arr) > 1.0):
        raise ValueError(f"{name} must lie in [-1, 1], got {rho0!r}")
    return arr


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _out(arr: NDArray[np.float64]) -> Any:
    return float(arr) if arr.ndim == 0 else arr


def _sigma(rho: NDArray[np.float64]) -> NDArray[np.float64]:
    rho = np.clip(rho, -1.0, 1.0)
    return (np.sqrt(np.maximum(0.0, 1.0 - rho * rho)) + (np.pi - np.arccos(rho)) * rho) / np.pi


def _sigma_dot(rho: NDArray[np.float64]) -> NDArray[np.float64]:
    rho = np.clip(rho, -1.0, 1.0)
    return (np.pi - np.arccos(rho)) / np.pi


def arccos_kernel(rho: ArrayLike) -> Any:
    """He-normalised ReLU kernel ``Σ(ρ) = (√(1−ρ²) + (π − arccos ρ)ρ)/π`` [ref, Cho & Saul].

    ``Σ(ρ) = 2E[relu(u)relu(v)]`` for standard Gaussians with correlation ρ; ``Σ(1) = 1``,
    ``Σ(0) = 1/π``, ``Σ(−1) = 0``.

    >>> arccos_kernel(1.0), round(arccos_kernel(0.0), 12), arccos_kernel(-1.0)
    (1.0, 0.318309886184, 0.0)
    """
    return _out(_sigma(_rho_array(rho, "rho")))


def arccos_kernel_derivative(rho: ArrayLike) -> Any:
    """``Σ̇(ρ) = (π − arccos ρ)/π = 2E[relu'(u)relu'(v)] = dΣ/dρ`` [ref].

    >>> arccos_kernel_derivative(1.0), arccos_kernel_derivative(0.0)
    (1.0, 0.5)
    """
    return _out(_sigma_dot(_rho_array(rho, "rho")))


def nngp_correlation(rho0: ArrayLike, depth: int) -> Any:
    """Output NNGP correlation ``ρ_L``: ``ρ_l = Σ(ρ_{l−1})``, L hidden ReLU layers [ref].

    Vectorized over ``rho0 ∈ [−1, 1]``; ``depth = 0`` returns ``rho0`` (linear model).

    >>> round(nngp_correlation(0.0, 1), 12)
    0.318309886184
    """
    L = check_int("depth", depth, minimum=0)
    rho = _rho_array(rho0)
    for _ in range(L):
        rho = _sigma(rho)
    return _out(rho)


def ntk(rho0: ArrayLike, depth: int) -> Any:
    """Infinite-width NTK ``Θ_L(ρ₀)`` of a He ReLU net with L hidden layers, unit inputs.

    ``Θ₀ = ρ₀``, ``Θ_l = ρ_l + Θ_{l−1} Σ̇(ρ_{l−1})``, ``ρ_l = Σ(ρ_{l−1})`` [ref: Jacot et al.
    2018, Arora et al. 2019]; ``Θ_L(1) = L + 1``. The term ``ρ_l`` is the readout-type
    contribution of weight matrix l+1, and ``Θ_{l−1}Σ̇(ρ_{l−1})`` back-propagates the earlier
    matrices through a ReLU layer.

    >>> ntk(1.0, 3)
    4.0
    >>> round(ntk(0.0, 1), 12)  # Σ(0) + 0·Σ̇(0)
    0.318309886184
    """
    L = check_int("depth", depth, minimum=0)
    rho = _rho_array(rho0)
    theta = rho.copy()
    for _ in range(L):
        theta = _sigma(rho) + theta * _sigma_dot(rho)
        rho = _sigma(rho)
    return _out(theta)


def normalized_ntk(rho0: ArrayLike, depth: int) -> Any:
    """``Θ_L(ρ₀)/(L+1)``: infinite-width mean cosine of per-example output gradients [ref].

    >>> normalized_ntk(1.0, 5)
    1.0
    >>> round(normalized_ntk(0.0, 2), 6)
    0.22857
    """
    L = check_int("depth", depth, minimum=0)
    return _out(np.asarray(ntk(rho0, L), dtype=np.float64) / (L + 1))


def ntk_reference(rho0: float, depth: int) -> float:
    """Slow reference: NTK as the sum over weight matrices of Gaussian expectations.

    ``Θ_L = Σ_{k=1}^{L+1} ρ_{k−1} ∏_{l=k}^{L} Σ̇(ρ_{l−1})`` — matrix k contributes the
    input-side correlation ``ρ_{k−1}`` times the product of the derivative kernels of the
    layers above it (unrolled form of the recursion) [derived]; here ``Σ`` and ``Σ̇`` are
    evaluated independently of the closed forms: ``Σ`` by 1-D adaptive quadrature of the
    Gaussian expectation, ``Σ̇`` by Sheppard's orthant formula ``½ + arcsin(ρ)/π``.

    >>> abs(ntk_reference(0.3, 2) - ntk(0.3, 2)) < 1e-10
    True
    """
    L = check_int("depth", depth, minimum=0)
    r0 = float(_rho_array(rho0))

    def sig(rho: float) -> float:
        # 2 E[relu(u) relu(v)] = 2 ∫_0^∞ φ(z) z E[relu(ρz + sZ)] dz, s = √(1−ρ²),
        # E[relu(m + sZ)] = m Φ(m/s) + s φ(m/s)
        s = math.sqrt(max(0.0, 1.0 - rho * rho))

        def integrand(z: float) -> float:
            m = rho * z
            inner = max(m, 0.0) if s == 0.0 else m * ndtr(m / s) + s * _phi(m / s)
            return _phi(z) * z * inner

        return 2.0 * quad(integrand, 0.0, np.inf, epsabs=1e-14, epsrel=1e-13)[0]

    def sig_dot(rho: float) -> float:
        # Sheppard's orthant formula: 2 P(u > 0, v > 0) = 1/2 + arcsin(ρ)/π
        return 0.5 + math.asin(rho) / math.pi

    rhos = [r0]
    for _ in range(L):
        rhos.append(sig(rhos[-1]))
    total = 0.0
    for k in range(1, L + 2):
        term = rhos[k - 1]
        for l in range(k, L + 1):
            term *= sig_dot(rhos[l - 1])
        total += term
    return total
