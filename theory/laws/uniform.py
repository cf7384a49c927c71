"""The uniform law ``U(a, b)`` on any interval: sign parts, closed forms, Meijer-G terms."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
import scipy.stats as st
import sympy as sp

from flatstart._checks import check_real
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
    merge_terms,
)


def _uniform_part_lphi(lo: float, hi: float, width: float, z: CArray) -> CArray:
    """``log E[|X|^z; |X| ∈ [lo, hi]]`` for X uniform with density ``1/width`` there."""
    w = 1.0 + z
    with np.errstate(all="ignore"):
        if lo == 0.0:
            return w * math.log(hi) - np.log(w) - math.log(width)
        r = math.log(lo / hi)  # < 0
        wr = w * r
        small = np.abs(wr) < 1e-4
        ratio = np.where(small, -r * (1 + wr / 2 + wr**2 / 6 + wr**3 / 24),
                         -np.expm1(wr) / np.where(small, 1.0, w))
        return w * math.log(hi) + np.log(ratio) - math.log(width)


class Uniform(Law):
    """``U(a, b)``, any ``a < b``: ``M₊(s) = (b₊^s - a₊^s)/(s(b-a))`` per sign part [ref].

    >>> Uniform(-1, 1).symmetric
    True
    """

    def __init__(self, a: float, b: float) -> None:
        self.a = check_real("a", a)
        self.b = check_real("b", b)
        if not self.a < self.b:
            raise ValueError(f"Uniform needs a < b, got a={a!r}, b={b!r}")
        a, b, w = self.a, self.b, self.b - self.a
        if not math.isfinite(w):
            raise ValueError(f"Uniform needs a finite width b - a, got a={a!r}, b={b!r} "
                             "(b - a overflows float64)")
        self.width = w
        self.symmetric = a == -b
        self.p_pos = max(b, 0.0) - max(a, 0.0)
        self.p_neg = max(-a, 0.0) - max(-b, 0.0)
        self.p_pos, self.p_neg = self.p_pos / w, self.p_neg / w
        # |X| ranges of the two parts
        self._pos = (max(a, 0.0), b) if b > 0 else None
        self._neg = (max(-b, 0.0), -a) if a < 0 else None
        parts = [p for p in (self._pos, self._neg) if p is not None]
        self.log_upper = math.log(max(p[1] for p in parts))
        lo = min(p[0] for p in parts)
        self.log_lower = math.log(lo) if lo > 0 else -np.inf
        self.strip = (-1.0, np.inf) if lo == 0 else (-np.inf, np.inf)

    def __repr__(self) -> str:
        return f"Uniform(a={self.a!r}, b={self.b!r})"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        out = []
        for part in (self._pos, self._neg):
            if part is None:
                out.append(np.full(np.shape(z), NEG_INF, dtype=complex))
            else:
                out.append(_uniform_part_lphi(part[0], part[1], self.width, z))
        return out[0], out[1]

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        res = []
        for part in (self._pos, self._neg):
            if part is None:
                res.append(mp.mpf(0))
            else:
                lo, hi = _mpf(part[0]), _mpf(part[1])
                w = 1 + z
                res.append((hi**w - (lo**w if part[0] > 0 else 0)) / (w * (_mpf(self.b) - _mpf(
                    self.a))))
        return res[0], res[1]

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        width = exact(self.b) - exact(self.a)
        res: list[sp.Expr] = []
        for part in (self._pos, self._neg):
            if part is None:
                res.append(sp.Integer(0))
            else:
                lo, hi = exact(part[0]), exact(part[1])
                res.append((hi**s - (lo**s if part[0] > 0 else 0)) / (s * width))
        return res[0], res[1]

    def _terms(self) -> Terms:
        width = exact(self.b) - exact(self.a)
        out: Terms = []
        for sign, part in ((1, self._pos), (-1, self._neg)):
            if part is None:
                continue
            lo, hi = exact(part[0]), exact(part[1])
            out.append((sign, GammaRatio(hi / width, hi, Fraction(1), (sp.Integer(1),),
                                         (sp.Integer(2),))))
            if part[0] > 0:
                out.append((sign, GammaRatio(-lo / width, lo, Fraction(1), (sp.Integer(1),),
                                             (sp.Integer(2),))))
        return merge_terms(out)

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return rng.uniform(self.a, self.b, n)

    def _log_cumulant_exact(self, k: int) -> Any:
        """``U(0, a)`` or ``U(−a, a)``: ``log|X| = log a − E``, ``E ~ Exp(1)``:
        ``κ₁ = log a + ψ(1) − ψ(2)``, ``κ_r = ψ^{(r-1)}(1) − ψ^{(r-1)}(2) = (−1)^r (r−1)!``
        [ref: Dettmann & Georgiou 2009]; None for other intervals."""
        if not (self.a == 0 or self.a == -self.b):
            return None
        v = mp.psi(k - 1, 1) - mp.psi(k - 1, 2)
        return v + mp.log(_mpf(self.b)) if k == 1 else v

    def _log_cumulants_float(self) -> list[float] | None:
        if not (self.a == 0 or self.a == -self.b):
            return None
        return [math.log(self.b) - 1.0, 1.0, -2.0, 6.0]  # ψ^{(r-1)}(1) − ψ^{(r-1)}(2), exact

    def _scipy(self) -> Any:
        return st.uniform(self.a, self.b - self.a)

    def _abs_closed(self, kind: str, scale: float | None = None
                    ) -> Callable[[FArray], FArray] | None:
        """``|U(a, b)|``: ``P(|X| ≤ x) = |[-x, x] ∩ [a, b]|/(b - a)``; the upper tail directly
        (``|[a, b] \\ [-x, x]|``, no 1 - cdf) [derived]."""
        if scale is not None:
            return None
        a, b, w = self.a, self.b, self.b - self.a

        def uniform_abs(x: FArray) -> FArray:
            xx = np.maximum(x, 0.0)
            inside = np.clip(np.minimum(xx, b) - np.maximum(-xx, a), 0.0, None) / w
            if kind == "pdf":
                dens = ((a < x) & (x < b)).astype(float) + ((a < -x) & (-x < b)).astype(float)
                return np.asarray(np.where(x > 0, dens / w, 0.0))
            if kind == "cdf":
                return np.asarray(inside)
            # upper tail directly: |[a, b] \ [-x, x]| (no 1 - cdf)
            out = (np.clip(b - np.maximum(xx, a), 0.0, None)
                   + np.clip(np.minimum(-xx, b) - a, 0.0, None)) / w
            return np.asarray(np.minimum(out, 1.0))

        return uniform_abs

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """``(x - a)/(b - a)`` clipped; the upper tail ``(b - x)/(b - a)`` directly."""
        one, zero = mp.mpf(1), mp.mpf(0)
        a, b = mp.mpf(repr(self.a)), mp.mpf(repr(self.b))
        if kind == "pdf":
            return one / (b - a) if a < xi < b else zero
        if kind == "cdf":
            return min(max((xi - a) / (b - a), zero), one)
        return min(max((b - xi) / (b - a), zero), one)

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(max(abs(self.a), abs(self.b)))
        a, b = math.ldexp(self.a, -e), math.ldexp(self.b, -e)
        if math.ldexp(a, e) != self.a or math.ldexp(b, e) != self.b:  # an end point underflows
            return 0, self
        return e, Uniform(a, b)
