"""The Beta law ``Beta(a, b)``: Mellin transform, closed forms, Meijer-G terms."""

from __future__ import annotations

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
from flatstart.theory.laws.terms import NEG_INF, CArray, FArray, GammaRatio, Terms, _mpf, exact


class Beta(Law):
    """``Beta(a, b)``: ``M(s) = B(a+s-1, b)/B(a, b)`` [ref].

    >>> float(Beta(2, 2).moment(1))
    0.5
    """

    log_upper = 0.0

    def __init__(self, a: float, b: float) -> None:
        self.a = check_positive("a", a)
        self.b = check_positive("b", b)
        self.strip = (-self.a, np.inf)

    def __repr__(self) -> str:
        return f"Beta(a={self.a!r}, b={self.b!r})"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        a, b = self.a, self.b
        v = loggamma(a + z) - loggamma(a + b + z) + loggamma(a + b) - loggamma(a)
        return v, np.full_like(v, NEG_INF)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        a, b = _mpf(self.a), _mpf(self.b)
        return mp.gamma(a + z) * mp.gamma(a + b) / (mp.gamma(a + b + z) * mp.gamma(a)), mp.mpf(0)

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        a, b = exact(self.a), exact(self.b)
        v = sp.gamma(a + s - 1) * sp.gamma(a + b) / (sp.gamma(a + b + s - 1) * sp.gamma(a))
        return v, sp.Integer(0)

    def _terms(self) -> Terms:
        a, b = exact(self.a), exact(self.b)
        return [(1, GammaRatio(sp.gamma(a + b) / sp.gamma(a), sp.Integer(1), Fraction(1), (a,),
                               (a + b,)))]

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return rng.beta(self.a, self.b, n)

    def _log_cumulant_exact(self, k: int) -> Any:
        """``κ_r = ψ^{(r-1)}(a) − ψ^{(r-1)}(a+b)`` [ref: Springer 1979, ch. 4]."""
        a, b = _mpf(self.a), _mpf(self.b)
        return mp.psi(k - 1, a) - mp.psi(k - 1, a + b)

    def _log_cumulants_float(self) -> list[float] | None:
        a, b = self.a, self.b
        return [float(sc.digamma(a) - sc.digamma(a + b))] + [
            float(sc.polygamma(r - 1, a) - sc.polygamma(r - 1, a + b)) for r in (2, 3, 4)]

    def _scipy(self) -> Any:
        return st.beta(self.a, self.b)

    def _scaled_scipy(self, c: float) -> Any:
        return st.beta(self.a, self.b, scale=c)

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """Regularized incomplete Beta ``I_x(a, b)``, the upper tail directly [ref: DLMF 8.17]."""
        one, zero = mp.mpf(1), mp.mpf(0)
        a, b = mp.mpf(repr(self.a)), mp.mpf(repr(self.b))
        if xi <= 0 or xi >= 1:
            if kind == "pdf":
                return zero
            below = xi <= 0
            return (zero if below else one) if kind == "cdf" else (one if below else zero)
        if kind == "pdf":
            return mp.exp((a - 1) * mp.log(xi) + (b - 1) * mp.log1p(-xi)) / mp.beta(a, b)
        if kind == "cdf":
            return mp.betainc(a, b, 0, xi, regularized=True)
        return mp.betainc(a, b, xi, 1, regularized=True)
