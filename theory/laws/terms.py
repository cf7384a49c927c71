"""Mellin transforms in log space and Gamma-ratio (Meijer-G) terms: the algebra every law uses.

A law's sign parts are carried as complex logarithms of ``Φ±(z) = M±(1 + z)``; products and
mixtures combine them with :func:`clogaddexp`/:func:`clogsubexp` (Mellin calculus: for
independent ``X, Y``, ``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``
[ref: Epstein 1948; Springer 1979, ch. 6]). Where exact, a part is a sum of Gamma-ratio terms
``c ρ^{s-1} ∏_j Γ(b_j + β(s-1)) / ∏_k Γ(a_k + β(s-1))`` (:class:`GammaRatio`; Springer &
Thompson 1970), which is what the Meijer-G path evaluates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from numpy.typing import NDArray

CArray = NDArray[np.complex128]
FArray = NDArray[np.float64]
NEG_INF = complex(-np.inf, 0.0)
_MAX_TERMS = 64


# --------------------------------------------------------------------------------------------
# small numeric helpers
# --------------------------------------------------------------------------------------------


def exact(x: float) -> sp.Expr:
    """Exact sympy number for a float parameter, read as its shortest decimal ``repr``.

    >>> exact(0.1)
    1/10
    """
    if isinstance(x, sp.Basic):
        return x
    if float(x).is_integer():
        return sp.Integer(int(x))
    return sp.Rational(repr(float(x)))


def _mpf(x: float) -> Any:
    """mpmath number for a float parameter (same decimal reading as :func:`exact`)."""
    return mp.mpf(repr(float(x)))


def clogaddexp(a: CArray, b: CArray) -> CArray:
    """``log(e^a + e^b)`` for complex logs, stable (``-inf`` real part means zero)."""
    a = np.asarray(a, dtype=complex)
    b = np.asarray(b, dtype=complex)
    swap = a.real < b.real
    hi = np.where(swap, b, a)
    lo = np.where(swap, a, b)
    with np.errstate(all="ignore"):
        d = lo - hi
        out = hi + np.log1p(np.exp(d))
    out = np.where(np.isneginf(lo.real), hi, out)
    out = np.where(np.isneginf(hi.real), lo, out)
    return np.asarray(out, dtype=complex)


def clogsubexp(a: CArray, b: CArray) -> CArray:
    """``log(e^a - e^b)`` for complex logs (branch irrelevant after integer powers)."""
    a = np.asarray(a, dtype=complex)
    b = np.asarray(b, dtype=complex)
    with np.errstate(all="ignore"):
        out = a + np.log(-np.expm1(b - a))
        # e^a = 0: log(-e^b) = b + iπ (the branch is irrelevant after integer powers)
        out = np.where(np.isneginf(a.real) & ~np.isneginf(b.real), b + 1j * np.pi, out)
    out = np.where(np.isneginf(b.real), a, out)
    return np.asarray(out, dtype=complex)


def _clog(x: complex | CArray) -> CArray:
    with np.errstate(all="ignore"):
        return np.asarray(np.log(np.asarray(x, dtype=complex)), dtype=complex)


def _const_log(w: float, z: CArray) -> CArray:
    """``log w`` broadcast to the shape of z (``-inf`` when ``w == 0``)."""
    val = complex(math.log(w), 0.0) if w > 0 else NEG_INF
    return np.full(np.shape(z), val, dtype=complex)


# --------------------------------------------------------------------------------------------
# Gamma-ratio (Meijer-G) terms
# --------------------------------------------------------------------------------------------


def binary_exponent(v: float) -> int:
    """The exponent ``e`` of ``|v| = m·2^e``, ``m ∈ [½, 1)`` (0 for ``v = 0``)."""
    return math.frexp(abs(v))[1] if v != 0 else 0


#: An atom of a law: ``(sign, log|c|, c)``; ``sign`` is 0 for an atom at zero.
Atom = tuple[int, float, float]


def combine_atoms(parts: Sequence[tuple[Atom, int]]) -> Atom:
    """The atom of a product of atoms ``∏ c_i^{n_i}``: its sign, ``Σ n_i log|c_i|`` (exact to
    rounding) and the float product (``±inf`` or 0 when it leaves float64)."""
    if any(a[0] == 0 for a, _ in parts):
        return 0, -math.inf, 0.0
    sign = 1 if sum(n for a, n in parts if a[0] < 0) % 2 == 0 else -1
    log_c = math.fsum(n * a[1] for a, n in parts)
    with np.errstate(over="ignore", under="ignore"):
        c = float(np.prod([np.float64(abs(a[2])) ** n for a, n in parts]))
    return sign, log_c, sign * c


@dataclass(frozen=True)
class GammaRatio:
    """One Gamma-ratio Mellin term ``c ρ^{s-1} ∏Γ(b_j + β(s-1)) / ∏Γ(a_k + β(s-1))`` [ref].

    Springer & Thompson (1970): a sign part whose Mellin transform is a sum of such terms has
    density ``Σ c/(β x) G^{q,0}_{p,q}(x^{1/β}/ρ^{1/β} | a; b)`` and lower cdf
    ``Σ c G^{q,1}_{p+1,q+1}(x^{1/β}/ρ^{1/β} | 1, a; b, 0)``. ``beta`` is ``None`` for a term
    without Gamma functions (a point mass at ``ρ``).
    """

    coef: sp.Expr
    rho: sp.Expr
    beta: Fraction | None
    b: tuple[sp.Expr, ...]
    a: tuple[sp.Expr, ...]

    def key(self) -> tuple[Any, ...]:
        return (self.rho, self.beta, tuple(sorted(self.b, key=sp.default_sort_key)),
                tuple(sorted(self.a, key=sp.default_sort_key)))

    def rescale(self, m: int) -> GammaRatio:
        """Rewrite with ``β/m`` via Gauss' multiplication formula
        ``Γ(m w) = (2π)^{(1-m)/2} m^{m w - 1/2} ∏_{i<m} Γ(w + i/m)`` [ref: DLMF 5.5.6]."""
        if m == 1 or self.beta is None:
            return self
        coef, rho = self.coef, self.rho
        mm = sp.Integer(m)
        new_b: list[sp.Expr] = []
        new_a: list[sp.Expr] = []
        for bj in self.b:
            coef = coef * (2 * sp.pi) ** (sp.Rational(1 - m, 2)) * mm ** (bj - sp.Rational(1, 2))
            rho = rho * mm ** (sp.Rational(self.beta.numerator, self.beta.denominator))
            new_b.extend(bj / mm + sp.Rational(i, m) for i in range(m))
        for ak in self.a:
            coef = coef / ((2 * sp.pi) ** (sp.Rational(1 - m, 2)) * mm ** (ak - sp.Rational(1, 2)))
            rho = rho / mm ** (sp.Rational(self.beta.numerator, self.beta.denominator))
            new_a.extend(ak / mm + sp.Rational(i, m) for i in range(m))
        return GammaRatio(coef, rho, self.beta / m,
                          tuple(new_b), tuple(new_a))

    def times(self, other: GammaRatio) -> GammaRatio:
        """Product of two terms (common β by the multiplication formula)."""
        if self.beta is None or other.beta is None:
            beta = self.beta if other.beta is None else other.beta
            return GammaRatio(self.coef * other.coef, self.rho * other.rho, beta,
                              self.b + other.b, self.a + other.a)
        b1, b2 = self.beta, other.beta
        g = Fraction(math.gcd(b1.numerator * b2.denominator, b2.numerator * b1.denominator),
                     b1.denominator * b2.denominator)
        m1, m2 = int(b1 / g), int(b2 / g)
        if max(m1, m2) > 8:
            raise _NoMeijer("Gamma-ratio exponents too different for one Meijer G")
        t1, t2 = self.rescale(m1), other.rescale(m2)
        return GammaRatio(t1.coef * t2.coef, t1.rho * t2.rho, g, t1.b + t2.b, t1.a + t2.a)

    def power(self, a: Fraction) -> GammaRatio:
        """Term of ``|X|^a``: ``M(a(s-1)+1)``."""
        beta = None if self.beta is None else self.beta * a
        return GammaRatio(self.coef, self.rho ** sp.Rational(a.numerator, a.denominator), beta,
                          self.b, self.a)

    def scale(self, c: sp.Expr) -> GammaRatio:
        return GammaRatio(self.coef, self.rho * c, self.beta, self.b, self.a)

    def weight(self, w: sp.Expr) -> GammaRatio:
        return GammaRatio(self.coef * w, self.rho, self.beta, self.b, self.a)

    def sym(self, s: sp.Expr) -> sp.Expr:
        """Symbolic value at ``s``."""
        beta = 0 if self.beta is None else sp.Rational(self.beta.numerator, self.beta.denominator)
        out = self.coef * self.rho ** (s - 1)
        for bj in self.b:
            out = out * sp.gamma(bj + beta * (s - 1))
        for ak in self.a:
            out = out / sp.gamma(ak + beta * (s - 1))
        return out


class _NoMeijer(Exception):
    """Internal: the law has no (small) Gamma-ratio representation."""


Terms = list[tuple[int, GammaRatio]]


def merge_terms(terms: Terms) -> Terms:
    """Add the coefficients of terms with equal sign and parameters."""
    out: dict[tuple[Any, ...], tuple[int, GammaRatio]] = {}
    for sign, t in terms:
        k = (sign, *t.key())
        if k in out:
            s0, t0 = out[k]
            out[k] = (s0, GammaRatio(t0.coef + t.coef, t0.rho, t0.beta, t0.b, t0.a))
        else:
            out[k] = (sign, t)
    res = [(s, t) for s, t in out.values() if t.coef != 0]
    if len(res) > _MAX_TERMS:
        raise _NoMeijer(f"more than {_MAX_TERMS} Meijer-G terms")
    return res


def multiply_terms(t1: Terms, t2: Terms) -> Terms:
    if len(t1) * len(t2) > 16 * _MAX_TERMS:
        raise _NoMeijer(f"more than {_MAX_TERMS} Meijer-G terms")
    return merge_terms([(s1 * s2, a.times(b)) for s1, a in t1 for s2, b in t2])


def iid_parts_lphi(lp: CArray, lm: CArray, count: int, symmetric: bool) -> tuple[CArray, CArray]:
    """Log Mellin parts of a product of ``count`` iid copies [derived from the Mellin calculus,
    docs/theory/p.md#mellin-calculus-of-products-derived]:
    ``M₊ ± M₋ = (P ± Q)^L``, so ``M± = ((P+Q)^L ± (P-Q)^L)/2``."""
    tot = count * clogaddexp(lp, lm)
    if symmetric:
        h = tot - math.log(2.0)
        return h, h
    if np.all(np.isneginf(lm.real)):
        return count * lp, np.full_like(lp, NEG_INF)
    if np.all(np.isneginf(lp.real)):  # a negative law X = -|X|: the sign of the product is
        # (-1)^count and its modulus the product of the moduli [Mellin calculus; reflection]
        none = np.full_like(lm, NEG_INF)
        return (count * lm, none) if count % 2 == 0 else (none, count * lm)
    diff = count * clogsubexp(lp, lm)
    half = math.log(2.0)
    return clogaddexp(tot, diff) - half, clogsubexp(tot, diff) - half


def product_parts_lphi(parts: Sequence[tuple[CArray, CArray]]) -> tuple[CArray, CArray]:
    """``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ`` in log space [ref]."""
    lp, lm = parts[0]
    for a, b in parts[1:]:
        lp, lm = clogaddexp(lp + a, lm + b), clogaddexp(lp + b, lm + a)
    return lp, lm
