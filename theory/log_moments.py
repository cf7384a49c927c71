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
  and ``∫_1^∞ (x−1)³e^{−x}dx = 6/e``) [derived; docs/products.md].

>>> m = gaussian_log_abs_moments(1.0)
>>> round(m.mean, 10), round(m.variance, 10), round(m.third_abs_central_moment, 10)
(-0.6351814227, 1.2337005501, 2.9606960945)
>>> round(uniform_log_abs_moments(1.0).third_abs_central_moment, 12)
2.414553294057
"""

from __future__ import annotations

import functools
import math

from flatstart._checks import check_positive
from flatstart.theory.asymptotics import LogMoments, gaussian_log_abs_rho
from flatstart.theory.laws import Law, Normal, Uniform

__all__ = ["gaussian_log_abs_moments", "log_abs_cumulants", "uniform_log_abs_moments"]


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
    docs/products.md].

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
