"""Log-moments of one weight: the inputs of the log-CLT and of Berry–Esseen.

The law of a chain's output is the law of a product ``P = w_1 ⋯ w_L``, and ``log|P|`` is a sum
of iid copies of ``log|w|``. Everything the log-CLT needs from one weight is

* its cumulants ``κ_r`` (``κ₁ = E log|w|``, ``κ₂ = Var log|w|``, ``κ₃``), which come from one
  place only: :meth:`flatstart.theory.laws.Law.log_cumulant` (the polygamma form of the
  weight's Gamma-ratio Mellin transform, e.g. ``N(0, σ²)``: ``κ₁ = log σ − (γ + log 2)/2``,
  ``κ_r = ψ^{(r−1)}(½)/2^r``; ``U(−a, a)``: ``κ₁ = log a − 1``, ``κ₂ = 1``, ``κ₃ = −2``);
* the third absolute central moment ``ρ = E|log|w| − κ₁|³`` (Berry–Esseen), which is not a
  cumulant: by quadrature for a Gaussian weight
  (:func:`flatstart.theory.asymptotics.gaussian_log_abs_rho`, ``σ``-free) and in closed form
  ``12/e − 2`` for a uniform one (``−log(|w|/a) ~ Exp(1)``; ``∫_0^1 (1−x)³e^{−x}dx = 6/e − 2``
  and ``∫_1^∞ (x−1)³e^{−x}dx = 6/e``) [derived; docs/theory/p.md#log-moments-of-one-weight-derived].

>>> m = gaussian_log_abs_moments(1.0)
>>> round(m.mean, 10), round(m.variance, 10), round(m.third_abs_central_moment, 10)
(-0.6351814227, 1.2337005501, 2.9606960945)
>>> round(uniform_log_abs_moments(1.0).third_abs_central_moment, 12)
2.414553294057

The cumulant generating function of ``log|w|`` that the saddlepoint approximations use
(:class:`flatstart.theory.asymptotics.CGF`) comes from the same place, the law's Gamma-ratio
Mellin term (:func:`log_abs_cgf`).

Derivations, step by step: docs/theory/p.md#log-moments-of-one-weight-derived.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import special

from flatstart._checks import check_positive
from flatstart.theory.asymptotics import CGF, LogMoments, gaussian_log_abs_rho
from flatstart.theory.laws import Beta, Gamma, Law, Normal, Uniform, merge_terms

__all__ = [
    "gaussian_log_abs_moments",
    "log_abs_cgf",
    "log_abs_cumulants",
    "log_abs_normal_cgf",
    "log_abs_uniform_cgf",
    "log_beta_cgf",
    "log_gamma_cgf",
    "uniform_log_abs_moments",
]


def log_abs_cumulants(law: Law, count: int = 3) -> tuple[float, ...]:
    """``(κ₁, …, κ_count)`` of ``log|w|`` given ``w ≠ 0``, from ``law.log_cumulant``.

    >>> [round(k, 6) for k in log_abs_cumulants(Uniform(-1.0, 1.0))]
    [-1.0, 1.0, -2.0]
    """
    return tuple(float(law.log_cumulant(k)) for k in range(1, count + 1))


def gaussian_log_abs_moments(sigma: float = 1.0) -> LogMoments:
    """Moments of ``log|w|``, ``w ~ N(0, σ²)``.

    ``μ = log σ − (γ + log 2)/2``, ``s² = ψ'(½)/4 = π²/8``, ``κ₃ = ψ''(½)/8 = −7ζ(3)/4`` (from
    :meth:`Normal.log_cumulant <flatstart.theory.laws.Law.log_cumulant>`),
    ``ρ = E|log|w| − μ|³ ≈ 2.9606960944811`` (independent of σ; quadrature, see
    :func:`flatstart.theory.asymptotics.gaussian_log_abs_rho_mpmath`) [derived;
    docs/theory/p.md#log-moments-of-one-weight-derived].

    >>> round(gaussian_log_abs_moments(2.0).mean - math.log(2.0), 10)
    -0.6351814227
    """
    return _gaussian(check_positive("sigma", sigma))


def uniform_log_abs_moments(a: float = 1.0) -> LogMoments:
    """Moments of ``log|w|``, ``w ~ U(−a, a)`` (or ``U(0, a)``): ``log|w| = log a − E``.

    ``E ~ Exp(1)``: ``μ = log a − 1``, ``s² = 1``, ``κ₃ = −2`` (from
    :meth:`Uniform.log_cumulant <flatstart.theory.laws.Law.log_cumulant>`),
    ``ρ = E|E − 1|³ = 12/e − 2`` [derived].

    >>> m = uniform_log_abs_moments(2.0)
    >>> round(m.mean - math.log(2.0), 12), m.variance, m.kappa3
    (-1.0, 1.0, -2.0)
    """
    return _uniform(check_positive("a", a))


@functools.lru_cache(maxsize=256)
def _gaussian(s: float) -> LogMoments:
    k1, k2, k3 = log_abs_cumulants(Normal(s))
    return LogMoments(mean=k1, variance=k2, third_abs_central_moment=gaussian_log_abs_rho(),
                      kappa3=k3)


@functools.lru_cache(maxsize=256)
def _uniform(a: float) -> LogMoments:
    k1, k2, k3 = log_abs_cumulants(Uniform(-a, a))
    return LogMoments(mean=k1, variance=k2, third_abs_central_moment=12.0 / math.e - 2.0,
                      kappa3=k3)


def log_abs_cgf(law: Law) -> CGF:
    r"""CGF of ``Y = log|X|`` given ``X ≠ 0``, from the law's own Gamma-ratio Mellin term.

    A law whose ``E|X|^{s-1}`` is one term ``c ρ^{s-1} ∏Γ(b_j + β(s-1)) / ∏Γ(a_k + β(s-1))``
    (:class:`flatstart.theory.laws.GammaRatio`; normal, uniform, Gamma, Beta, ...) has, with
    ``t = s - 1``,

    ``K(t) = t log ρ + Σ_j [log Γ(b_j + βt) − log Γ(b_j)] − Σ_k [log Γ(a_k + βt) − log Γ(a_k)]``,
    ``K^{(r)}(t) = β^r (Σ_j ψ^{(r−1)}(b_j + βt) − Σ_k ψ^{(r−1)}(a_k + βt))`` (``r ≥ 1``, with
    ``log ρ`` added for ``r = 1``), finite for ``t > −min_j b_j / β`` [ref: Springer 1979, *The
    Algebra of Random Variables*, ch. 4; the cumulants at ``t = 0`` are
    :meth:`~flatstart.theory.laws.Law.log_cumulant`'s]. With as many ``a``'s as ``b``'s the
    density is a Meijer ``G^{q,0}_{q,q}``, which vanishes beyond its scale: ``|X| ≤ ρ`` and ``Y``
    has support ``(−∞, log ρ]``.

    Raises:
        ValueError: the law has no single Gamma-ratio term (a mixture, a product of laws with
            different scales, a point mass).

    >>> c = log_abs_cgf(Uniform(-1.0, 1.0)).iid_sum(3)     # log of a product of 3 U(0, 1)
    >>> round(c.mean, 12), round(c.variance, 12)           # −Gamma(3, 1): mean −3, variance 3
    (-3.0, 3.0)
    """
    if not isinstance(law, Law):
        raise TypeError(f"law must be a flatstart.theory.laws.Law, got {type(law).__name__}")
    terms = law.meijer_terms()
    merged = merge_terms([(1, t) for _, t in terms]) if terms is not None else []
    if len(merged) != 1 or merged[0][1].beta is None:
        raise ValueError(f"log_abs_cgf needs a law with one Gamma-ratio Mellin term, got "
                         f"{law!r}; use the product engine's saddlepoint for other laws")
    term = merged[0][1]
    assert term.beta is not None  # checked above
    log_rho = math.log(float(term.rho))
    beta = float(term.beta)
    bs = [float(b) for b in term.b]
    as_ = [float(a) for a in term.a]
    bounded = len(as_) == len(bs)
    t_lo = -min(bs) / beta
    # Γ(b + βt)/Γ(b + n + βt) with n a small positive integer is 1/∏_{k<n}(b + k + βt): summed
    # in closed form, since a difference of two large polygammas cancels catastrophically far
    # in the tail (e.g. U(0, a): ψ(1 + t) − ψ(2 + t) = −1/(1 + t) exactly).
    pairs: list[tuple[float, int]] = []
    for a in sorted(as_):
        for b in sorted(bs):
            n = a - b
            if 0 < n <= 64 and float(n).is_integer():
                pairs.append((b, int(n)))
                bs.remove(b)
                as_.remove(a)
                break
    ub, ua = np.array(bs, dtype=float), np.array(as_, dtype=float)
    g0 = float(np.sum(special.gammaln(ub)) - np.sum(special.gammaln(ua)))

    def flat(t: Any) -> np.ndarray:
        return np.asarray(t, dtype=float).reshape(-1)

    def shaped(t: Any, v: Any) -> Any:
        return np.reshape(v, np.shape(np.asarray(t, dtype=float)))

    def K(t: Any) -> Any:
        bt = beta * flat(t)
        v = (log_rho * flat(t) + np.sum(special.gammaln(ub[:, None] + bt), axis=0)
             - np.sum(special.gammaln(ua[:, None] + bt), axis=0) - g0)
        for b, n in pairs:
            for k in range(n):
                v = v - np.log1p(bt / (b + k))
        return shaped(t, v)

    def derivative(r: int) -> Any:
        m = r - 1  # ψ^{(m)}(x) − ψ^{(m)}(x + n) = −(−1)^m m! Σ_{k<n} (x + k)^{−(m+1)}
        c = -((-1.0) ** m) * math.factorial(m)

        def Kr(t: Any) -> Any:
            bt = beta * flat(t)
            v = (np.sum(special.polygamma(m, ub[:, None] + bt), axis=0)
                 - np.sum(special.polygamma(m, ua[:, None] + bt), axis=0))
            for b, n in pairs:
                for k in range(n):
                    v = v + c * (b + k + bt) ** (-(m + 1))
            v = beta**r * v
            if r == 1:
                v = v + log_rho
            return shaped(t, v)

        return Kr

    return CGF(K=K, K1=derivative(1), K2=derivative(2), K3=derivative(3), K4=derivative(4),
               t_bounds=(t_lo, math.inf),
               support=(-math.inf, log_rho if bounded else math.inf))


def log_abs_normal_cgf(sigma: float = 1.0) -> CGF:
    r"""CGF of ``log|w|``, ``w ~ N(0, σ²)``: :func:`log_abs_cgf` of ``Normal(σ)``.

    ``K(t) = t log(√2 σ) + log Γ((1+t)/2) − log Γ(½)``, ``t > −1``;
    ``K^{(r)}(t) = ψ^{(r−1)}((1+t)/2) / 2^r`` for ``r ≥ 2`` [ref: Mellin transform of |N|].

    >>> c = log_abs_normal_cgf(1.0)
    >>> round(c.mean, 10), round(c.variance, 10)     # -(γ + log 2)/2, π²/8
    (-0.6351814227, 1.2337005501)
    """
    return log_abs_cgf(Normal(check_positive("sigma", sigma)))


def log_gamma_cgf(k: float, theta: float = 1.0) -> CGF:
    r"""CGF of ``log X``, ``X ~ Gamma(k, θ)`` (shape k, scale θ): :func:`log_abs_cgf`.

    ``K(t) = t log θ + log Γ(k + t) − log Γ(k)``, ``t > −k``; ``K^{(r)}(t) = ψ^{(r−1)}(k + t)``.

    >>> round(log_gamma_cgf(1.0).mean, 12)           # E log Exp(1) = -γ
    -0.577215664902
    """
    return log_abs_cgf(Gamma(check_positive("k", k), check_positive("theta", theta)))


def log_abs_uniform_cgf(a: float = 1.0) -> CGF:
    r"""CGF of ``log|w|``, ``w ~ U(0, a)`` or ``U(−a, a)``: ``log|w| = log a − Exp(1)``.

    ``K(t) = t log a − log(1 + t)``, ``t > −1``; support ``(−∞, log a]``.

    >>> log_abs_uniform_cgf(1.0).support
    (-inf, 0.0)
    """
    aa = check_positive("a", a)
    return log_abs_cgf(Uniform(-aa, aa))


def log_beta_cgf(a: float, b: float) -> CGF:
    r"""CGF of ``log X``, ``X ~ Beta(a, b)``: :func:`log_abs_cgf` of ``Beta(a, b)``.

    ``K(t) = log Γ(a+t) − log Γ(a+b+t) + log Γ(a+b) − log Γ(a)``, ``t > −a``; support
    ``(−∞, 0]``.

    >>> c = log_beta_cgf(1.0, 1.0)                    # Beta(1, 1) = U(0, 1)
    >>> round(c.mean, 12), round(c.variance, 12)
    (-1.0, 1.0)
    """
    return log_abs_cgf(Beta(check_positive("a", a), check_positive("b", b)))
