"""Medians: of Gamma laws (Choi 1994), and the mean–median and Cornish–Fisher relations.

The median of a product of uniforms is the exponential of minus a Gamma median (``−log|U| ~
Exp(1)``), and the median of a long product of any factors is, to first order, the exponential of
the median of a sum of logs: what these functions give.

* :func:`gamma_median`, :func:`gamma_median_shape` — ``λ(n)``, the median of Gamma(n + 1, 1)
  (``gamma_median_shape(k)`` = the median of Gamma(k, 1)), float or mpmath ``dps``;
* :func:`choi_bounds`, :func:`choi_series` — Choi's (1994) bounds
  ``n + 2/3 < λ(n) ≤ min(n + log 2, n + 2/3 + 1/(2n + 2))`` and the expansion
  ``λ(n) = n + Σ_j c_j n^{−j}`` (:data:`CHOI_COEFFICIENTS`);
* :func:`mean_median_bound` — ``|median − mean| ≤ sd`` for any law with a finite variance;
* :func:`cornish_fisher_median_shift` — the median of a sum from its cumulants,
  ``median ≈ κ₁ − κ₃/(6κ₂)``.

Derivations, step by step: docs/theory/p.md#gamma-medians-choi-1994 and
docs/theory/p.md#median-inequalities-and-the-cornishfisher-median.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from flatstart._checks import check_int, check_positive, check_real

__all__ = [
    "CHOI_COEFFICIENTS",
    "choi_bounds",
    "choi_series",
    "cornish_fisher_median_shift",
    "gamma_median",
    "gamma_median_shape",
    "mean_median_bound",
]

Array = NDArray[np.float64]
_LOG2 = math.log(2.0)


# --------------------------------------------------------------------------------------------
# Gamma medians (Choi 1994)
# --------------------------------------------------------------------------------------------

#: Coefficients ``c_j`` of ``λ(n) = n + Σ_j c_j n^{−j}`` (``c_0 = 2/3``), Choi (1994); ``c_4`` is
#: obtained here from the expansion of the median of Gamma(k) in powers of ``1/k`` (recalled from
#: the literature, coefficient ``−19006408/15345358875`` of ``k^{−4}``) re-expanded at
#: ``k = n + 1``, and checked against 60-digit numerics (residual ``O(n^{−5})``).
CHOI_COEFFICIENTS: tuple[Fraction, ...] = (
    Fraction(2, 3),
    Fraction(8, 405),
    Fraction(-64, 5103),
    Fraction(2**7 * 23, 3**9 * 5**2),
    Fraction(-20182528, 15345358875),
)


def _check_n(name: str, n: Any, *, strict: bool) -> Array:
    try:
        arr = np.asarray(n, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array, got {n!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {n!r}")
    if np.any(arr <= 0) if strict else np.any(arr < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {n!r}")
    return arr


def gamma_median(n: ArrayLike, *, dps: int | None = None) -> Any:
    """``λ(n)`` = median of Gamma(n + 1, 1), real ``n ≥ 0``.

    The convention of docs/theory/p.md#gamma-medians-choi-1994.

    Float path: ``scipy.special.gammaincinv(n + 1, ½)``. ``dps=`` path (scalar ``n``): solve
    ``P(n + 1, x) = ½`` (regularized lower incomplete gamma) with ``mpmath.findroot`` at ``dps``
    digits and return an ``mpmath.mpf``; for ``n ≥ 10⁶`` (where ``mpmath.gammainc`` stops
    converging) Choi's series through ``c₄/n⁴`` is used when its truncation error
    (≈ 6.7·10⁻⁴/n⁵) is below ``10^{−dps}·n``, else ``ValueError`` [ref: Choi 1994, Proc. AMS
    121, 245–251].

    >>> round(float(gamma_median(0)), 14)             # Exp(1): log 2
    0.69314718055995
    """
    arr = _check_n("n", n, strict=False)
    if dps is None:
        out = special.gammaincinv(arr + 1.0, 0.5)
        if np.any(~np.isfinite(out)):
            raise ValueError(f"gammaincinv failed for n={n!r}")
        return out[()] if out.ndim == 0 else out
    d = check_int("dps", dps, minimum=15, maximum=1000)
    if arr.ndim != 0:
        raise ValueError(f"n must be a scalar when dps is given, got shape {arr.shape}")
    return _gamma_median_mp(float(arr), d)


def _gamma_median_mp(n: float, dps: int) -> mpmath.mpf:
    if n >= 1e6:
        # mpmath.gammainc does not converge for shapes beyond ~3e6; Choi's series with the
        # verified c_0..c_4 has truncation error ≈ 6.7e-4 / n^5 (next coefficient, observed).
        if 1e-3 / n**5 > 10.0 ** (-dps) * n:
            raise ValueError(f"n={n!r} with dps={dps} is beyond the reach of the dps path")
        with mpmath.workdps(dps + 10):
            nm = mpmath.mpf(n)
            val = nm + sum(mpmath.mpf(c.numerator) / c.denominator / nm**j
                           for j, c in enumerate(CHOI_COEFFICIENTS))
        with mpmath.workdps(dps):
            return +val
    with mpmath.workdps(dps + 10):
        a = mpmath.mpf(n) + 1
        half = mpmath.mpf(1) / 2

        def f(x: Any) -> Any:
            return mpmath.gammainc(a, 0, x, regularized=True) - half

        def df(x: Any) -> Any:
            return mpmath.exp((a - 1) * mpmath.log(x) - x - mpmath.loggamma(a))

        x0 = mpmath.mpf(float(special.gammaincinv(n + 1.0, 0.5)))
        try:
            root = mpmath.findroot(f, x0, df=df, solver="newton", tol=mpmath.mpf(10) ** (-dps - 5))
        except (ValueError, ZeroDivisionError, mpmath.libmp.NoConvergence) as exc:
            raise ValueError(f"median of Gamma({n + 1}) did not converge at dps={dps}") from exc
        if abs(f(root)) > mpmath.mpf(10) ** (-dps + 2):
            raise ValueError(f"median of Gamma({n + 1}) did not converge at dps={dps}")
    with mpmath.workdps(dps):
        return +root


def gamma_median_shape(k: ArrayLike, *, dps: int | None = None) -> Any:
    """``ν(k)`` = median of Gamma(k, 1), real ``k > 0``; ``ν(k) = λ(k − 1)``.

    The uniform chain needs ``ν(L)``: ``median|∏ U(−a, a)| = a^L e^{−ν(L)}``.

    >>> round(float(gamma_median_shape(1.0)), 14)
    0.69314718055995
    """
    arr = _check_n("k", k, strict=True)
    if dps is None:
        out = special.gammaincinv(arr, 0.5)
        if np.any(~np.isfinite(out)):
            raise ValueError(f"gammaincinv failed for k={k!r}")
        return out[()] if out.ndim == 0 else out
    d = check_int("dps", dps, minimum=15, maximum=1000)
    if arr.ndim != 0:
        raise ValueError(f"k must be a scalar when dps is given, got shape {arr.shape}")
    return _gamma_median_mp(float(arr) - 1.0, d)


def choi_bounds(n: ArrayLike) -> tuple[Any, Any]:
    """Choi's bounds ``n + 2/3 < λ(n) ≤ min(n + log 2, n + 2/3 + 1/(2n + 2))``, ``n ≥ 0``.

    [ref: Choi 1994, Proc. AMS 121, 245–251, stated in the abstract "for n ≥ 0" (the paper's
    body, not read here, may restrict to integers)]; verified numerically here for real
    ``n ∈ [0, 10⁴]`` (the upper bound is attained at ``n = 0``, λ(0) = log 2). They fail for
    ``n ∈ (−1, 0)`` (``n + log 2 < λ(n)`` near ``n = −1``), hence ``n ≥ 0`` is enforced.

    >>> lo, hi = choi_bounds(1.0)
    >>> round(float(lo), 6), round(float(hi), 6)
    (1.666667, 1.693147)
    """
    arr = _check_n("n", n, strict=False)
    lo = arr + 2.0 / 3.0
    hi = np.minimum(arr + _LOG2, arr + 2.0 / 3.0 + 1.0 / (2.0 * arr + 2.0))
    if arr.ndim == 0:
        return lo[()], hi[()]
    return lo, hi


def choi_series(n: ArrayLike, terms: int = 4) -> Any:
    """Asymptotic series ``λ(n) ≈ n + 2/3 + 8/(405n) − 64/(5103n²) + 2⁷·23/(3⁹·5²·n³) + c₄/n⁴``.

    ``terms`` counts the terms after ``n`` (1 to 5); the error is ``O(n^{−terms})``
    [ref: Choi 1994, Proc. AMS 121 (abstract gives c₀..c₃); c₄ = −20182528/15345358875
    derived here, see :data:`CHOI_COEFFICIENTS`].

    >>> round(float(choi_series(10.0)), 5)
    10.66852
    """
    arr = _check_n("n", n, strict=True)
    m = check_int("terms", terms, minimum=1, maximum=len(CHOI_COEFFICIENTS))
    out = arr.copy()
    for j, c in enumerate(CHOI_COEFFICIENTS[:m]):
        out = out + float(c) / arr**j
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# Median inequalities
# --------------------------------------------------------------------------------------------


def mean_median_bound(mean: float, sd: float) -> tuple[float, float]:
    """Interval ``[mean − sd, mean + sd]`` containing every median of a law with finite variance.

    ``|μ − m| = |E(X − m)| ≤ E|X − m| ≤ E|X − μ| ≤ sd`` (the median minimizes ``E|X − c|``;
    Jensen) [ref: Hotelling & Solomons 1932, Ann. Math. Stat. 3; Mallows 1991, Amer. Stat. 45].

    >>> mean_median_bound(1.0, 0.5)
    (0.5, 1.5)
    """
    m = check_real("mean", mean)
    s = check_positive("sd", sd, allow_zero=True)
    return m - s, m + s


def cornish_fisher_median_shift(kappa2: float, kappa3: float) -> float:
    """First Cornish–Fisher correction of the median: ``median ≈ κ₁ − κ₃/(6κ₂)``.

    For a sum of L iid terms ``κ₂, κ₃`` scale with L, so the shift ``−κ₃/(6κ₂)`` is the same for
    the sum and for one term, with error ``O(1/L)`` [ref: Cornish & Fisher 1937]. Gaussian
    weights: ``κ₂ = π²/8``, ``κ₃ = ψ''(½)/8 = −7ζ(3)/4`` → shift ``7ζ(3)/(3π²) ≈ 0.284186``, so
    ``median|P| ≈ C_∞ (σ e^{−(γ+log 2)/2})^L`` with ``C_∞ = e^{0.284186} ≈ 1.32868`` [derived].
    Uniform weights: ``κ₂ = 1, κ₃ = −2`` → ``+1/3``, matching ``ν(L) ≈ L − 1/3``.

    >>> round(cornish_fisher_median_shift(1.0, -2.0), 12)
    0.333333333333
    """
    k2 = check_positive("kappa2", kappa2)
    k3 = check_real("kappa3", kappa3)
    return -k3 / (6.0 * k2)
