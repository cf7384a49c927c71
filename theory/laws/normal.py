"""The centred normal law ``N(0, σ²)``: Mellin transform, closed forms, Meijer-G terms."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
import scipy.special as sc
import scipy.stats as st
import sympy as sp
from scipy.special import loggamma

from flatstart._checks import check_positive
from flatstart.theory.laws.law import Law
from flatstart.theory.laws.terms import (
    CArray,
    FArray,
    GammaRatio,
    Terms,
    _mpf,
    binary_exponent,
    exact,
)

# --------------------------------------------------------------------------------------------
# primitive laws
# --------------------------------------------------------------------------------------------


class Normal(Law):
    """``N(0, σ²)``: ``M_{|X|}(s) = (2σ²)^{(s-1)/2} Γ(s/2)/√π`` [ref: Springer 1979, 6.3].

    >>> float(Normal(2.0).moment(2))
    4.0
    """

    symmetric = True
    strip = (-1.0, np.inf)

    def __init__(self, sigma: float = 1.0) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.p_pos = self.p_neg = 0.5

    def __repr__(self) -> str:
        return f"Normal(sigma={self.sigma!r})"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        # each sign carries half of E|X|^z (the one formula is lphi_abs)
        v = self.lphi_abs(z) - math.log(2.0)
        return v, v

    def lphi_abs(self, z: CArray) -> CArray:
        """``log E|X|^z = (z/2) log(2σ²) + log Γ((1+z)/2) − ½ log π`` (complex z) [ref]."""
        z = np.asarray(z, dtype=complex)
        return np.asarray(0.5 * z * self._log_two_var() + loggamma(0.5 * (1.0 + z))
                          - 0.5 * math.log(math.pi), dtype=complex)

    def _log_two_var(self) -> float:
        """``log(2σ²)``; as ``log 2 + 2 log σ`` where ``2σ²`` over- or underflows float64."""
        try:
            v = 2.0 * self.sigma**2
        except OverflowError:
            v = math.inf
        if 2.2250738585072014e-308 <= v < math.inf:
            return math.log(v)
        return math.log(2.0) + 2.0 * math.log(self.sigma)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        v = (2 * _mpf(self.sigma) ** 2) ** (z / 2) * mp.gamma((1 + z) / 2) / (2 * mp.sqrt(mp.pi))
        return v, v

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        v = (2 * exact(self.sigma) ** 2) ** ((s - 1) / 2) * sp.gamma(s / 2) / (2 * sp.sqrt(sp.pi))
        return v, v

    def _terms(self) -> Terms:
        t = GammaRatio(1 / (2 * sp.sqrt(sp.pi)), sp.sqrt(2) * exact(self.sigma), Fraction(1, 2),
                       (sp.Rational(1, 2),), ())
        return [(1, t), (-1, t)]

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return rng.normal(0.0, self.sigma, n)

    def _scipy(self) -> Any:
        return st.norm(0.0, self.sigma)

    def _scaled_scipy(self, c: float) -> Any:
        return st.norm(0.0, self.sigma * c)

    def _abs_closed(self, kind: str, scale: float | None = None
                    ) -> Callable[[FArray], FArray] | None:
        """``|σX|``, ``X ~ N(0, 1)``: ``P(|X| ≤ x) = erf(x/σ√2)``, ``P(|X| > x) = erfc(x/σ√2)``
        [ref: DLMF 7.2]."""
        sig = self.sigma if scale is None else scale * self.sigma

        def normal_abs(x: FArray) -> FArray:
            u = np.abs(x) / (sig * math.sqrt(2.0))
            if kind == "pdf":
                return np.asarray(np.where(x < 0, 0.0, 2.0 * st.norm.pdf(x, scale=sig)))
            if kind == "cdf":
                return np.asarray(np.where(x <= 0, 0.0, sc.erf(u)))
            return np.asarray(np.where(x <= 0, 1.0, sc.erfc(u)))

        return normal_abs

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """``Φ(x/σ)`` (``mp.ncdf``), the upper tail directly [ref: DLMF 7.2]."""
        s = mp.mpf(repr(self.sigma))
        if kind == "pdf":
            return mp.npdf(xi, 0, s)
        return mp.ncdf(xi / s) if kind == "cdf" else mp.ncdf(-xi / s)

    def _log_cumulant_exact(self, k: int) -> Any:
        """``κ₁ = log(√2σ) + ψ(½)/2``, ``κ_r = ψ^{(r-1)}(½)/2^r`` (``|X| = √2σ G^{1/2}``,
        ``G ~ Gamma(½, 1)``) [ref: Springer 1979, 6.3]."""
        half = mp.mpf(1) / 2
        if k == 1:
            return mp.log(mp.sqrt(2) * _mpf(self.sigma)) + half * mp.psi(0, half)
        return half**k * mp.psi(k - 1, half)

    def _log_cumulants_float(self) -> list[float] | None:
        return [math.log(math.sqrt(2.0) * self.sigma) + 0.5 * float(sc.digamma(0.5))] + [
            0.5**r * float(sc.polygamma(r - 1, 0.5)) for r in (2, 3, 4)]

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(self.sigma)
        return e, Normal(math.ldexp(self.sigma, -e))
