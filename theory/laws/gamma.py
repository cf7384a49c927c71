"""The Gamma law ``Gamma(k, θ)`` and ``scale·χ²_k``: Mellin transform, closed forms, terms."""

from __future__ import annotations

import math
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
    NEG_INF,
    CArray,
    FArray,
    GammaRatio,
    Terms,
    _mpf,
    binary_exponent,
    exact,
)


class Gamma(Law):
    """``Gamma(k, θ)`` (shape k, scale θ): ``M(s) = θ^{s-1} Γ(k+s-1)/Γ(k)`` [ref].

    >>> float(Gamma(3, 2.0).moment(1))
    6.0
    """

    def __init__(self, k: float, theta: float = 1.0) -> None:
        self.k = check_positive("k", k)
        self.theta = check_positive("theta", theta)
        self.strip = (-self.k, np.inf)

    def __repr__(self) -> str:
        return f"Gamma(k={self.k!r}, theta={self.theta!r})"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        v = z * math.log(self.theta) + loggamma(self.k + z) - loggamma(self.k)
        return v, np.full_like(v, NEG_INF)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        k = _mpf(self.k)
        return _mpf(self.theta) ** z * mp.gamma(k + z) / mp.gamma(k), mp.mpf(0)

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        k = exact(self.k)
        return exact(self.theta) ** (s - 1) * sp.gamma(k + s - 1) / sp.gamma(k), sp.Integer(0)

    def _terms(self) -> Terms:
        k = exact(self.k)
        return [(1, GammaRatio(1 / sp.gamma(k), exact(self.theta), Fraction(1), (k,), ()))]

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return rng.gamma(self.k, self.theta, n)

    def _scipy(self) -> Any:
        return st.gamma(self.k, scale=self.theta)

    def _scaled_scipy(self, c: float) -> Any:
        return st.gamma(self.k, scale=self.theta * c)

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """Regularized incomplete Gamma ``P(k, x/θ)``, the upper tail directly [ref: DLMF 8.2]."""
        one, zero = mp.mpf(1), mp.mpf(0)
        k, th = mp.mpf(repr(self.k)), mp.mpf(repr(self.theta))
        if xi <= 0:
            return zero if kind != "sf" else one
        u = xi / th
        if kind == "pdf":
            return mp.exp((k - 1) * mp.log(u) - u - mp.loggamma(k)) / th
        if kind == "cdf":
            return mp.gammainc(k, 0, u, regularized=True)
        return mp.gammainc(k, u, mp.inf, regularized=True)

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(self.theta)
        return e, Gamma(self.k, math.ldexp(self.theta, -e))

    def _gamma_shape_scale(self) -> tuple[float, float] | None:
        return self.k, self.theta

    def _log_cumulant_exact(self, k: int) -> Any:
        """``κ₁ = log θ + ψ(k)``, ``κ_r = ψ^{(r-1)}(k)`` [ref: Springer 1979, ch. 4]."""
        shape = _mpf(self.k)
        if k == 1:
            return mp.log(_mpf(self.theta)) + mp.psi(0, shape)
        return mp.psi(k - 1, shape)

    def _log_cumulants_float(self) -> list[float] | None:
        return [math.log(self.theta) + float(sc.digamma(self.k))] + [
            float(sc.polygamma(r - 1, self.k)) for r in (2, 3, 4)]


class ChiSquare(Gamma):
    """``scale · χ²_k`` = ``Gamma(k/2, 2·scale)``; ``k`` any positive real [ref].

    >>> ChiSquare(4, scale=0.5).theta
    1.0
    """

    def __init__(self, k: float, scale: float = 1.0) -> None:
        self.dof = check_positive("k", k)
        self.scale = check_positive("scale", scale)
        super().__init__(self.dof / 2.0, 2.0 * self.scale)

    def __repr__(self) -> str:
        return f"ChiSquare(k={self.dof!r}, scale={self.scale!r})"

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        k = exact(self.dof) / 2
        th = 2 * exact(self.scale)
        return th ** (s - 1) * sp.gamma(k + s - 1) / sp.gamma(k), sp.Integer(0)

    def _terms(self) -> Terms:
        k = exact(self.dof) / 2
        return [(1, GammaRatio(1 / sp.gamma(k), 2 * exact(self.scale), Fraction(1), (k,), ()))]

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(self.scale)
        return e, ChiSquare(self.dof, math.ldexp(self.scale, -e))
