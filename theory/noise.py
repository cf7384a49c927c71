"""Gradient noise scale (McCandlish, Kaplan, Amodei et al. 2018) and related identities.

Notation: per-sample gradients ``g_1..g_N`` (rows of a matrix), their mean
``G = (1/N)Σ g_i`` and covariance ``Σ``. ``B_simple = tr Σ/|G|²`` [ref, McCandlish et al.
2018, eq. 2.8 with the Hessian replaced by the identity].

Exact identity [derived]: with ``Σ_N = (1/N)Σ(g_i − G)(g_i − G)ᵀ`` (divisor N),

``(1/(N(N−1))) Σ_{i≠j}⟨g_i, g_j⟩ = |G|² − tr Σ_N/(N−1) = |G|² − tr S/N``,

``S = N Σ_N/(N−1)`` the unbiased (divisor N−1) covariance. Proof: ``Σ_{i≠j}⟨g_i,g_j⟩ =
‖Σ g_i‖² − Σ‖g_i‖² = N²|G|² − (N|G|² + N tr Σ_N)``.

Population statements for a batch ``ḡ_B`` of B iid draws with mean G and covariance Σ:
``E ḡ_B = G``, ``Cov ḡ_B = Σ/B``, ``E‖ḡ_B‖² = |G|² + tr Σ/B`` [ref]. Hence the per-layer
signal-to-noise ratio ``‖E ḡ_B‖²/tr Cov ḡ_B = B|G|²/tr Σ = B/B_simple`` exactly (SP §6)
[derived], the two-batch estimators (McCandlish App. A) are unbiased, and the cosine of two
independent batch gradients is ``≈ 1/(1 + B_simple/B)`` as a ratio of expectations.

Derivations, step by step: docs/theory/sp.md#noise-scale-mccandlish-et-al-2018-ref.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from flatstart._checks import check_int, check_positive

__all__ = [
    "b_simple",
    "layer_snr",
    "mean_pairwise_inner_product",
    "minibatch_pair_cosine",
    "pairwise_identity_sides",
    "two_batch_estimates",
]


def _positive_array(name: str, value: ArrayLike, *, allow_zero: bool = False) -> Any:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if np.any(arr < 0) or (not allow_zero and np.any(arr == 0)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return arr


def _out(arr: NDArray[np.float64]) -> Any:
    return float(arr) if np.ndim(arr) == 0 else arr


def b_simple(trace_sigma: ArrayLike, grad_norm_sq: ArrayLike) -> Any:
    """Simple noise scale ``B_simple = tr Σ/|G|²`` [ref: McCandlish et al. 2018, eq. 2.8].

    Args:
        trace_sigma: ``tr Σ ≥ 0`` of the per-sample gradient covariance.
        grad_norm_sq: ``|G|² > 0`` of the true gradient.

    >>> b_simple(12.0, 3.0)
    4.0
    """
    t = _positive_array("trace_sigma", trace_sigma, allow_zero=True)
    g = _positive_array("grad_norm_sq", grad_norm_sq)
    return _out(np.asarray(t / g, dtype=np.float64))


def mean_pairwise_inner_product(
    N: int, G_norm_sq: float, trace_sigma: float, *, ddof: int = 0
) -> float:
    """``(1/(N(N−1))) Σ_{i≠j}⟨g_i, g_j⟩`` from ``|G|²`` and ``tr Σ`` [derived, exact].

    ``= |G|² − tr Σ/(N−1)`` when ``Σ`` has divisor N (``ddof=0``), and
    ``= |G|² − tr S/N`` when it has divisor ``N−1`` (``ddof=1``).

    >>> mean_pairwise_inner_product(3, 2.0, 4.0)
    0.0
    """
    n = check_int("N", N, minimum=2)
    g = check_positive("G_norm_sq", G_norm_sq, allow_zero=True)
    t = check_positive("trace_sigma", trace_sigma, allow_zero=True)
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    return g - t / (n - 1) if ddof == 0 else g - t / n


def pairwise_identity_sides(gradients: ArrayLike) -> tuple[float, float]:
    """Both sides of the pairwise identity for a matrix of per-sample gradients (N, P).

    ``lhs = (1/(N(N−1))) Σ_{i≠j}⟨g_i, g_j⟩`` computed directly from the Gram matrix;
    ``rhs = |G|² − tr Σ_N/(N−1)`` from the mean and the divisor-N covariance. float64.

    >>> lhs, rhs = pairwise_identity_sides([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> lhs, round(rhs, 12)
    (0.6666666666666666, 0.666666666667)
    """
    g = np.asarray(gradients, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] < 2:
        raise ValueError(f"gradients must be a 2-D (N, P) array with N >= 2, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("gradients must be finite (no NaN/inf)")
    n = g.shape[0]
    gram = g @ g.T
    lhs = float((gram.sum() - np.trace(gram)) / (n * (n - 1)))
    mean = g.mean(axis=0)
    trace_sigma_n = float(np.sum((g - mean) ** 2) / n)
    rhs = float(mean @ mean) - trace_sigma_n / (n - 1)
    return lhs, rhs


def minibatch_pair_cosine(B: ArrayLike, b_simple_value: ArrayLike) -> Any:
    """``≈ 1/(1 + B_simple/B)``: cosine of two independent batch gradients of size B.

    Ratio of expectations [derived]: for independent batches ``E⟨ḡ₁, ḡ₂⟩ = |G|²`` and
    ``E‖ḡ‖² = |G|² + tr Σ/B``, so ``E⟨ḡ₁,ḡ₂⟩/√(E‖ḡ₁‖²E‖ḡ₂‖²) = 1/(1 + B_simple/B)``.
    ``E[cos]`` itself differs (ratio of random variables); the approximation is good when
    ``‖ḡ‖`` concentrates (many parameters, weakly correlated coordinates).

    >>> minibatch_pair_cosine(32, 32.0)
    0.5
    """
    b = _positive_array("B", B)
    s = _positive_array("b_simple", b_simple_value, allow_zero=True)
    return _out(np.asarray(1.0 / (1.0 + s / b), dtype=np.float64))


def layer_snr(
    B: ArrayLike, b_simple_value: ArrayLike, N: int | None = None, replacement: bool = True
) -> Any:
    """Population SNR of a batch gradient ``‖E ḡ_B‖²/tr Cov ḡ_B`` for B draws from N samples.

    * ``replacement=True`` (B iid draws, ``Cov ḡ_B = Σ/B``): ``B/B_simple`` exactly
      [derived]; ``N`` is not needed.
    * ``replacement=False`` (a uniformly random B-subset of the N samples): the
      finite-population correction ``Cov ḡ_B = (Σ_N/B)(N − B)/(N − 1)`` [ref: Cochran,
      *Sampling Techniques*, Thm 2.2] gives ``(B/B_simple)(N − 1)/(N − B)``, with
      ``Σ_N`` (divisor N) the covariance in ``B_simple = tr Σ_N/|G|²``; ``B = N`` gives
      ``inf`` (the full batch has no noise). Requires ``2 ≤ N`` and ``B ≤ N``.

    The empirical epoch SNR ``‖mean_b ḡ_b‖²/tr Cov_b ḡ_b`` over K batches estimates it with
    bias (the numerator includes the noise ``tr Σ/(KB)``).

    Args:
        B: batch size(s) ≥ 1.
        b_simple_value: noise scale(s) ``B_simple > 0``.
        N: population size (required when ``replacement=False``).
        replacement: iid draws (True) or a random subset (False).

    >>> layer_snr(64, 16.0)
    4.0
    >>> layer_snr(16, 16.0, N=31, replacement=False)  # (16/16)·30/15
    2.0
    """
    b = _positive_array("B", B)
    s = _positive_array("b_simple", b_simple_value)
    if not isinstance(replacement, (bool, np.bool_)):
        raise TypeError(f"replacement must be a bool, got {replacement!r}")
    snr = np.asarray(b / s, dtype=np.float64)
    if replacement:
        if N is not None:
            check_int("N", N, minimum=1)
        return _out(snr)
    if N is None:
        raise ValueError("N (the population size) is required when replacement=False, got None")
    n = check_int("N", N, minimum=2)
    if np.any(b > n) or np.any(b != np.round(b)):
        raise ValueError(f"B must be an integer in [1, N={n}] without replacement, got {B!r}")
    with np.errstate(divide="ignore"):
        factor = np.where(b == n, np.inf, (n - 1.0) / np.maximum(n - b, 1e-300))
    return _out(np.asarray(snr * factor, dtype=np.float64))


def two_batch_estimates(
    B_small: int, B_big: int, norm_sq_small: ArrayLike, norm_sq_big: ArrayLike
) -> tuple[Any, Any]:
    """Unbiased estimates ``(|G|², tr Σ)`` from ``|ḡ_small|²`` and ``|ḡ_big|²`` [ref, derived].

    McCandlish et al. (2018, App. A): with ``E|ḡ_B|² = |G|² + tr Σ/B``,
    ``|G|² ≈ (B_big|ḡ_big|² − B_small|ḡ_small|²)/(B_big − B_small)`` and
    ``tr Σ ≈ (|ḡ_small|² − |ḡ_big|²)/(1/B_small − 1/B_big)``; each is unbiased by linearity
    (their ratio, an estimate of B_simple, is not).

    >>> two_batch_estimates(1, 2, 5.0, 3.0)
    (1.0, 4.0)
    """
    bs = check_int("B_small", B_small, minimum=1)
    bb = check_int("B_big", B_big, minimum=1)
    if bb <= bs:
        raise ValueError(f"B_big must be > B_small = {bs}, got {B_big!r}")
    s = np.asarray(norm_sq_small, dtype=np.float64)
    b = np.asarray(norm_sq_big, dtype=np.float64)
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(b))):
        raise ValueError("norm_sq_small and norm_sq_big must be finite")
    g2 = (bb * b - bs * s) / (bb - bs)
    tr = (s - b) / (1.0 / bs - 1.0 / bb)
    return _out(np.asarray(g2)), _out(np.asarray(tr))
