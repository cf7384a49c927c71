"""Factor laws with Mellin transforms: the building blocks of products of random variables.

Every law ``X`` is described by

* ``p0 = P(X = 0)``, ``p_pos = P(X > 0)``, ``p_neg = P(X < 0)``;
* the Mellin transforms of its sign parts (weights included) [ref: Springer 1979, ch. 6]

  ``M₊(s) = E[X^{s-1}; X > 0]``, ``M₋(s) = E[|X|^{s-1}; X < 0]``,

  numerically as complex logarithms of ``Φ±(z) = M±(1 + z)`` (``z = s - 1``; ``Φ(z)`` is the
  moment generating function of ``log|X|`` restricted to a sign), at arbitrary precision with
  mpmath and symbolically with sympy;
* where exact, a list of Gamma-ratio (Meijer-G) terms (Springer & Thompson 1970)

  ``M±(s) = Σ c · ρ^{s-1} ∏_j Γ(b_j + β(s-1)) / ∏_k Γ(a_k + β(s-1))``.

The Mellin calculus [ref: Epstein 1948; Springer 1979] gives everything else: for independent
``X, Y``: ``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``; mixtures are weighted
sums; ``M_{cX}(s) = c^{s-1} M_X(s)`` (``c > 0``); ``M_{X^a}(s) = M_X(a(s-1)+1)``.

Every law is usable as a one-factor product: ``pdf``, ``cdf``, ``sf``, ``quantile``, ``median``,
``moment``, ``log_cumulant``, ``mellin``, ``sympy_pdf`` and ``sample`` are defined on
:class:`Law` and evaluated by :mod:`flatstart.theory.products`.

Its length: the catalogue of factor laws, one section per law (sympy.stats style), each with its
Mellin transform and closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
import scipy.special as sc
import scipy.stats as st
import sympy as sp
from numpy.typing import NDArray
from scipy.special import loggamma

from flatstart._checks import check_int, check_positive, check_probability, check_real

__all__ = [
    "Beta",
    "ChiSquare",
    "Gamma",
    "GammaRatio",
    "Law",
    "Mixture",
    "Normal",
    "PointMass",
    "Uniform",
    "exact",
]

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


# --------------------------------------------------------------------------------------------
# the Law base class
# --------------------------------------------------------------------------------------------


class _Engine:
    """The evaluation engine of every law: :mod:`flatstart.theory.products` fills it in.

    A law knows its Mellin transform; evaluating ``pdf``/``cdf``/``sf``, quantiles, moments and
    products of laws is the engine's work. The engine registers its functions here when it is
    imported (``flatstart.theory`` imports it, so any import of a theory module has it), which
    keeps the import graph one-way: ``products`` imports ``laws``, never the reverse.
    """

    product: Any
    evaluate: Any
    quantile: Any
    moment: Any
    log_cumulant: Any
    sympy_pdf: Any

    def register(self, **functions: Any) -> None:
        """Install the engine's functions (called once, by :mod:`flatstart.theory.products`)."""
        for name, fn in functions.items():
            if name not in type(self).__annotations__:
                raise TypeError(f"unknown engine function {name!r}")
            setattr(self, name, fn)

    def __getattr__(self, name: str) -> Any:  # only reached before registration
        if name not in type(self).__annotations__:
            raise AttributeError(name)
        raise RuntimeError(f"the law engine is not loaded ({name!r}): import "
                           "flatstart.theory.products (importing flatstart.theory does)")


#: The evaluation engine (see :class:`_Engine`).
ENGINE = _Engine()


class Law:
    """A real random variable described through the Mellin transforms of its sign parts.

    Subclasses implement ``_lphi`` (complex log of ``Φ±(z) = E[|X|^z; ±X > 0]``), ``_mp_parts``
    (the same at arbitrary precision, not logged), ``_sym_parts`` (sympy ``M±(s)``),
    ``_terms`` (Gamma-ratio terms or raise ``_NoMeijer``), ``_draw`` and the attributes below.

    Attributes:
        p0: ``P(X = 0)``.
        p_pos: ``P(X > 0)``.
        p_neg: ``P(X < 0)``.
        symmetric: the law of ``X`` is symmetric about 0 (then ``Φ₊ = Φ₋``).
        strip: open interval ``(lo, hi)`` of real ``z`` where ``E|X|^z`` is finite.
        log_lower, log_upper: ``log`` of the essential inf / sup of ``|X|`` on ``X ≠ 0``.
        nonzero_atom: the law has an atom away from zero (no density there).
    """

    p0: float = 0.0
    p_pos: float = 1.0
    p_neg: float = 0.0
    symmetric: bool = False
    strip: tuple[float, float] = (-np.inf, np.inf)
    log_lower: float = -np.inf
    log_upper: float = np.inf
    nonzero_atom: bool = False

    # ---- to be implemented by subclasses -------------------------------------------------
    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        raise NotImplementedError

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        raise NotImplementedError

    def _terms(self) -> Terms:
        raise _NoMeijer(f"{self!r} has no Gamma-ratio representation")

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        raise NotImplementedError

    # ---- derived numeric helpers ---------------------------------------------------------
    def lphi_abs(self, z: CArray) -> CArray:
        """``log E[|X|^z; X ≠ 0]`` (complex z), the log-mgf of ``log|X|`` (unnormalized)."""
        lp, lm = self._lphi(np.asarray(z, dtype=complex))
        return clogaddexp(lp, lm)

    def meijer_terms(self) -> Terms | None:
        """Gamma-ratio terms of the sign parts, or ``None`` when there is no exact Meijer G."""
        cache = self.__dict__.get("_terms_cache", False)
        if cache is not False:
            return cache  # type: ignore[no-any-return]
        try:
            out: Terms | None = self._terms()
        except _NoMeijer:
            out = None
        self.__dict__["_terms_cache"] = out
        return out

    # ---- algebra ---------------------------------------------------------------------------
    def __mul__(self, other: Any) -> Law:
        if isinstance(other, Law):
            return ENGINE.product([self, other])
        c = check_real("c", other)
        if c <= 0:
            raise ValueError(f"c must be > 0 for c * law (positive scaling), got {other!r}; "
                             "use PointMass(c) as a factor for a signed constant")
        return Scaled(self, c)

    __rmul__ = __mul__

    def __pow__(self, a: Any) -> Law:
        return Power(self, a)

    def abs(self) -> Law:
        """Law of ``|X|``."""
        return Abs(self)

    def signed_power(self, a: float) -> Law:
        """Law of ``sign(X)|X|^a`` (``a > 0``)."""
        return Power(self, a, signed=True)

    def with_atom(self, p: float) -> Law:
        """Mixture ``(1-p) X + p δ_0``: an extra atom of mass ``p`` at zero."""
        p = check_probability("p", p, open_interval=False)
        if p == 0:
            return self
        if p == 1:
            return PointMass(0.0)
        return Mixture([(1.0 - p, self), (p, PointMass(0.0))])

    # ---- evaluation (by the engine flatstart.theory.products registers in ENGINE) ----
    def pdf(self, x: Any, **kw: Any) -> Any:
        """Density of the continuous part (atoms excluded); see
        ``flatstart.theory.products.evaluate``."""
        return ENGINE.evaluate(self, "pdf", x, **kw)

    def cdf(self, x: Any, **kw: Any) -> Any:
        """``P(X ≤ x)``. See :func:`flatstart.theory.products.evaluate`."""
        return ENGINE.evaluate(self, "cdf", x, **kw)

    def sf(self, x: Any, **kw: Any) -> Any:
        """``P(X > x)``, computed directly (relative accuracy in the upper tail)."""
        return ENGINE.evaluate(self, "sf", x, **kw)

    def quantile(self, q: Any, **kw: Any) -> Any:
        """Smallest ``x`` with ``P(X ≤ x) ≥ q``. See :func:`flatstart.theory.products.quantile`."""
        return ENGINE.quantile(self, q, **kw)

    def median(self, **kw: Any) -> Any:
        """``quantile(0.5)``; for the median of ``|X|`` use ``X.abs().median()``."""
        return self.quantile(0.5, **kw)

    def moment(self, s: Any, **kw: Any) -> Any:
        """``E|X|^s`` exactly. See :func:`flatstart.theory.products.moment`."""
        return ENGINE.moment(self, s, **kw)

    def log_cumulant(self, k: Any, **kw: Any) -> Any:
        """k-th cumulant of ``log|X|`` given ``X ≠ 0``. See
        :func:`flatstart.theory.products.log_cumulant`."""
        return ENGINE.log_cumulant(self, k, **kw)

    def mellin(self, s: Any = None) -> sp.Expr:
        """Symbolic ``E[|X|^{s-1}; X ≠ 0] = M₊(s) + M₋(s)`` (s a sympy Symbol or value).

        >>> from flatstart.theory.laws import Gamma
        >>> Gamma(2, 1).mellin(3)
        6
        """
        s = sp.Symbol("s") if s is None else sp.sympify(s)
        mp_, mm_ = self._sym_parts(s)
        return sp.simplify(mp_ + mm_) if isinstance(s, sp.Symbol) else sp.nsimplify(mp_ + mm_)

    def mellin_parts(self, s: Any = None) -> tuple[sp.Expr, sp.Expr]:
        """Symbolic ``(M₊(s), M₋(s))``."""
        s = sp.Symbol("s") if s is None else sp.sympify(s)
        return self._sym_parts(s)

    def sympy_pdf(self, x: Any = None) -> sp.Expr:
        """Symbolic density as sympy Meijer G (Springer–Thompson) where exact.

        Raises NotImplementedError for laws with no Gamma-ratio representation (e.g. mixtures
        of many components after products, irrational powers).
        """
        return ENGINE.sympy_pdf(self, x)

    def sample(self, n: int, seed: int | None = 0) -> FArray:
        """``n`` independent draws (numpy reference sampler, ``np.random.default_rng(seed)``)."""
        n = check_int("n", n, minimum=0)
        rng = np.random.default_rng(seed)
        return np.asarray(self._draw(n, rng), dtype=np.float64)

    def mean_log(self) -> float:
        """``E[log|X| | X ≠ 0]`` (the first log-cumulant, float)."""
        return float(self.log_cumulant(1))

    # ---- what a law knows of itself (each law overrides what it has; the engine asks) -------
    def _scipy(self) -> Any:
        """The frozen ``scipy.stats`` law of ``X`` when ``X`` is one, else None."""
        return None

    def _scaled_scipy(self, c: float) -> Any:
        """The frozen ``scipy.stats`` law of ``c·X`` (``c > 0``) when it is one, else None."""
        return None

    def _abs_closed(self, kind: str, scale: float | None = None
                    ) -> Callable[[FArray], FArray] | None:
        """Closed form of the ``pdf``/``cdf``/``sf`` of ``|scale·X|``, or None."""
        return None

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """``pdf``/``cdf``/``sf`` at ``xi`` with mpmath at the working precision, or None."""
        return None

    def _unit_split(self) -> tuple[int, Law]:
        """``(e, U)`` with ``X = 2^e·U`` in distribution and the scale of ``U`` in ``[½, 1)``.

        ``M_{cX}(s) = c^{s-1} M_X(s)`` [ref: Springer 1979, ch. 6]: with ``c = 2^e`` the
        division is exact in binary floating point, so the engine's ``log|x| - e log 2`` and
        ``Φ_U`` carry no large cancelling terms ``±(τ + it) log c`` [derived]. Laws without a
        scale return ``(0, law)``.
        """
        return 0, self

    def _atom(self) -> Atom | None:
        """``(sign, log|c|, c)`` when ``X`` is a single atom at ``c``, else None."""
        return None

    def _gamma_shape_scale(self) -> tuple[float, float] | None:
        """``(k, θ)`` when ``X ~ Gamma(k, θ)`` (mixtures of such are vectorized), else None."""
        return None


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

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(self.sigma)
        return e, Normal(math.ldexp(self.sigma, -e))


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


class PointMass(Law):
    """Atom at ``c``: ``M(s) = |c|^{s-1}`` in the sign part of c; ``c = 0`` is an atom at zero.

    >>> PointMass(0).p0
    1.0
    """

    def __init__(self, c: float = 0.0) -> None:
        self.c = check_real("c", c)
        self.p0 = 1.0 if self.c == 0 else 0.0
        self.p_pos = 1.0 if self.c > 0 else 0.0
        self.p_neg = 1.0 if self.c < 0 else 0.0
        self.nonzero_atom = self.c != 0
        if self.c != 0:
            self.log_lower = self.log_upper = math.log(abs(self.c))
        self.symmetric = self.c == 0

    def __repr__(self) -> str:
        return f"PointMass(c={self.c!r})"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        none = np.full(np.shape(z), NEG_INF, dtype=complex)
        if self.c == 0:
            return none, none
        v = np.asarray(z * math.log(abs(self.c)), dtype=complex)
        return (v, none) if self.c > 0 else (none, v)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        if self.c == 0:
            return mp.mpf(0), mp.mpf(0)
        v = abs(_mpf(self.c)) ** z
        return (v, mp.mpf(0)) if self.c > 0 else (mp.mpf(0), v)

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        if self.c == 0:
            return sp.Integer(0), sp.Integer(0)
        v = abs(exact(self.c)) ** (s - 1)
        return (v, sp.Integer(0)) if self.c > 0 else (sp.Integer(0), v)

    def _terms(self) -> Terms:
        if self.c == 0:
            return []
        return [(1 if self.c > 0 else -1, GammaRatio(sp.Integer(1), abs(exact(self.c)), None,
                                                     (), ()))]

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return np.full(n, self.c)

    def _atom(self) -> Atom | None:
        c = self.c
        return (0, -math.inf, 0.0) if c == 0 else ((1 if c > 0 else -1), math.log(abs(c)), c)

    def _unit_split(self) -> tuple[int, Law]:
        e = binary_exponent(self.c)
        return e, PointMass(math.ldexp(self.c, -e))


# --------------------------------------------------------------------------------------------
# combinators
# --------------------------------------------------------------------------------------------


class Mixture(Law):
    """Finite mixture ``Σ w_i law_i`` (weights ≥ 0 summing to 1): Mellin parts add [ref].

    The ReLU layer factor ``(2/n) χ²_K, K ~ Bin(n, ½)`` is
    ``Mixture([(C(n,k) 2^-n, ChiSquare(k, scale=2/n)) for k in 1..n] + [(2^-n, PointMass(0))])``.

    >>> Mixture([(0.5, PointMass(0)), (0.5, Gamma(1))]).p0
    0.5
    """

    def __init__(self, components: Sequence[tuple[float, Law]]) -> None:
        comps: list[tuple[float, Law]] = []
        if len(components) == 0:
            raise ValueError("components must be a non-empty list of (weight, law) pairs")
        for i, item in enumerate(components):
            try:
                w, law = item
            except (TypeError, ValueError) as exc:
                raise ValueError(f"components[{i}] must be a (weight, law) pair, got "
                                 f"{item!r}") from exc
            w = check_positive(f"components[{i}] weight", w, allow_zero=True)
            if not isinstance(law, Law):
                raise TypeError(f"components[{i}] law must be a Law, got {law!r}")
            if w > 0:
                comps.append((w, law))
        total = math.fsum(w for w, _ in comps)
        if not abs(total - 1.0) <= 1e-9:
            raise ValueError(f"mixture weights must sum to 1, got sum {total!r}")
        self.components = [(w / total, law) for w, law in comps]
        ws = [w for w, _ in self.components]
        laws = [law for _, law in self.components]
        self.p0 = math.fsum(w * law.p0 for w, law in self.components)
        self.p_pos = math.fsum(w * law.p_pos for w, law in self.components)
        self.p_neg = math.fsum(w * law.p_neg for w, law in self.components)
        self.symmetric = all(law.symmetric for law in laws)
        cont = [law for law in laws if law.p0 < 1]
        self.strip = (max([law.strip[0] for law in cont], default=-np.inf),
                      min([law.strip[1] for law in cont], default=np.inf))
        self.log_lower = min([law.log_lower for law in cont], default=np.inf)
        self.log_upper = max([law.log_upper for law in cont], default=-np.inf)
        self.nonzero_atom = any(law.nonzero_atom for law in laws)
        self._logw = np.log(np.asarray(ws))
        self._groups = self._group_gammas()

    def __repr__(self) -> str:
        return f"Mixture({self.components!r})"

    def _group_gammas(self) -> tuple[FArray, FArray, FArray] | None:
        """Vectorize mixtures of Gamma/ChiSquare laws (the ReLU factor) as arrays."""
        ks, ths, ws = [], [], []
        for w, law in self.components:
            shape_scale = law._gamma_shape_scale()
            if shape_scale is not None:
                ks.append(shape_scale[0])
                ths.append(shape_scale[1])
                ws.append(w)
            elif not (isinstance(law, PointMass) and law.c == 0):
                return None
        return np.asarray(ks), np.asarray(ths), np.log(np.asarray(ws))

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        z = np.asarray(z, dtype=complex)
        if self._groups is not None:
            ks, ths, lws = self._groups
            zz = z[..., None]
            terms = lws + zz * np.log(ths) + loggamma(ks + zz) - loggamma(ks)
            m = np.max(terms.real, axis=-1, keepdims=True)
            with np.errstate(all="ignore"):
                v = m[..., 0] + np.log(np.sum(np.exp(terms - m), axis=-1))
            return v, np.full_like(v, NEG_INF)
        lp = np.full(z.shape, NEG_INF, dtype=complex)
        lm = np.full(z.shape, NEG_INF, dtype=complex)
        for lw, (_, law) in zip(self._logw, self.components, strict=True):
            a, b = law._lphi(z)
            lp = clogaddexp(lp, a + lw)
            lm = clogaddexp(lm, b + lw)
        return lp, lm

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        p, m = mp.mpf(0), mp.mpf(0)
        for w, law in self.components:
            a, b = law._mp_parts(z)
            p += _mpf(w) * a
            m += _mpf(w) * b
        return p, m

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        p: sp.Expr = sp.Integer(0)
        m: sp.Expr = sp.Integer(0)
        for w, law in self.components:
            a, b = law._sym_parts(s)
            p += exact(w) * a
            m += exact(w) * b
        return p, m

    def _terms(self) -> Terms:
        out: Terms = []
        for w, law in self.components:
            out.extend((sg, t.weight(exact(w))) for sg, t in law._terms())
        return merge_terms(out)

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        counts = rng.multinomial(n, [w for w, _ in self.components])
        parts = [law._draw(int(c), rng) for c, (_, law) in zip(counts, self.components,
                                                                 strict=True) if c > 0]
        out = np.concatenate(parts) if parts else np.zeros(0)
        return out[rng.permutation(n)]

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """``Σ w_i F_i(x)`` when every component has an mpmath closed form or is an atom."""
        one, zero = mp.mpf(1), mp.mpf(0)
        tot = zero
        for w, comp in self.components:
            atom = comp._atom()
            if atom is not None:
                if atom[0] != 0 and not (np.isfinite(atom[2]) and abs(atom[2]) > 1e-300):
                    return None
                c = mp.mpf(repr(atom[2]))
                v = zero if kind == "pdf" else ((one if xi >= c else zero) if kind == "cdf"
                                                else (zero if xi >= c else one))
            else:
                v = comp._closed_mp(kind, xi)
                if v is None:
                    return None
            tot += mp.mpf(repr(w)) * v
        return tot

    def _atom(self) -> Atom | None:
        return self.components[0][1]._atom() if len(self.components) == 1 else None


class Scaled(Law):
    """``c X`` for ``c > 0``: ``M_{cX}(s) = c^{s-1} M_X(s)`` [ref]."""

    def __init__(self, law: Law, c: float) -> None:
        self.law, self.c = law, c
        lc = math.log(c)
        self.p0, self.p_pos, self.p_neg = law.p0, law.p_pos, law.p_neg
        self.symmetric, self.strip, self.nonzero_atom = law.symmetric, law.strip, law.nonzero_atom
        self.log_lower, self.log_upper = law.log_lower + lc, law.log_upper + lc

    def __repr__(self) -> str:
        return f"{self.c!r} * {self.law!r}"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        a, b = self.law._lphi(z)
        lc = z * math.log(self.c)
        return a + lc, b + lc

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        a, b = self.law._mp_parts(z)
        f = _mpf(self.c) ** z
        return a * f, b * f

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        a, b = self.law._sym_parts(s)
        f = exact(self.c) ** (s - 1)
        return a * f, b * f

    def _terms(self) -> Terms:
        return [(sg, t.scale(exact(self.c))) for sg, t in self.law._terms()]

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return self.c * self.law._draw(n, rng)

    def _scipy(self) -> Any:
        return self.law._scaled_scipy(self.c)

    def _abs_closed(self, kind: str, scale: float | None = None
                    ) -> Callable[[FArray], FArray] | None:
        return self.law._abs_closed(kind, self.c) if scale is None else None

    def _closed_mp(self, kind: str, xi: Any) -> Any:
        """``F_{cX}(x) = F_X(x/c)``, ``f_{cX}(x) = f_X(x/c)/c``."""
        c = mp.mpf(repr(self.c))
        v = self.law._closed_mp(kind, xi / c)
        return None if v is None else (v / c if kind == "pdf" else v)

    def _unit_split(self) -> tuple[int, Law]:
        ei, inner = self.law._unit_split()
        ec = binary_exponent(self.c)
        mc = math.ldexp(self.c, -ec)
        return ei + ec, (inner if mc == 1.0 else Scaled(inner, mc))

    def _atom(self) -> Atom | None:
        a = self.law._atom()
        if a is None:
            return None
        return combine_atoms([(a, 1), ((1, math.log(self.c), self.c), 1)])


class Abs(Law):
    """``|X|``: ``M₊ = M₊ˣ + M₋ˣ``, ``M₋ = 0``."""

    def __init__(self, law: Law) -> None:
        self.law = law
        self.p0, self.p_pos, self.p_neg = law.p0, law.p_pos + law.p_neg, 0.0
        self.symmetric = law.p0 == 1
        self.strip, self.nonzero_atom = law.strip, law.nonzero_atom
        self.log_lower, self.log_upper = law.log_lower, law.log_upper

    def __repr__(self) -> str:
        return f"{self.law!r}.abs()"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        v = self.law.lphi_abs(z)
        return v, np.full_like(v, NEG_INF)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        a, b = self.law._mp_parts(z)
        return a + b, mp.mpf(0)

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        a, b = self.law._sym_parts(s)
        return a + b, sp.Integer(0)

    def _terms(self) -> Terms:
        return merge_terms([(1, t) for _, t in self.law._terms()])

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        return np.abs(self.law._draw(n, rng))

    def _unit_split(self) -> tuple[int, Law]:
        ei, inner = self.law._unit_split()
        return ei, Abs(inner)

    def _atom(self) -> Atom | None:
        a = self.law._atom()
        return None if a is None else (abs(a[0]), a[1], abs(a[2]))


class Power(Law):
    """``X^a`` (``a > 0``): ``M_{X^a}(s) = M_X(a(s-1)+1)`` per sign part [ref].

    Semantics: for an integer ``a`` this is the ordinary real power (even ``a`` gives
    ``|X|^a ≥ 0``; odd ``a`` keeps the sign); for a non-integer ``a`` the law must be
    nonnegative (``P(X < 0) = 0``), otherwise ValueError (use ``law.abs() ** a`` or
    ``law.signed_power(a)`` = ``sign(X)|X|^a``).
    """

    def __init__(self, law: Law, a: Any, signed: bool = False) -> None:
        a = check_positive("a", a)
        self.law, self.a = law, a
        is_int = float(a).is_integer()
        if signed or (is_int and int(a) % 2 == 1):
            self.fold = False
        elif is_int or law.p_neg == 0:
            self.fold = True
        else:
            raise ValueError(f"a must be an integer for a signed law (P(X<0) = {law.p_neg}), "
                             f"got a={a!r}; use law.abs() ** a or law.signed_power(a)")
        self.p0 = law.p0
        if self.fold:
            self.p_pos, self.p_neg, self.symmetric = law.p_pos + law.p_neg, 0.0, law.p0 == 1
        else:
            self.p_pos, self.p_neg, self.symmetric = law.p_pos, law.p_neg, law.symmetric
        self.strip = (law.strip[0] / a, law.strip[1] / a)
        self.nonzero_atom = law.nonzero_atom
        self.log_lower, self.log_upper = a * law.log_lower, a * law.log_upper

    def __repr__(self) -> str:
        return f"({self.law!r}) ** {self.a!r}"

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        a, b = self.law._lphi(self.a * np.asarray(z, dtype=complex))
        if self.fold:
            return clogaddexp(a, b), np.full_like(a, NEG_INF)
        return a, b

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        a, b = self.law._mp_parts(_mpf(self.a) * z)
        return (a + b, mp.mpf(0)) if self.fold else (a, b)

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        a, b = self.law._sym_parts(exact(self.a) * (s - 1) + 1)
        return (a + b, sp.Integer(0)) if self.fold else (a, b)

    def _terms(self) -> Terms:
        fa = Fraction(repr(self.a)).limit_denominator(64)
        if float(fa) != self.a:
            raise _NoMeijer(f"power {self.a} is not a simple rational")
        return merge_terms([((1 if self.fold else sg), t.power(fa)) for sg, t in self.law._terms()])

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        x = self.law._draw(n, rng)
        if float(self.a).is_integer():
            return np.asarray(x ** int(self.a), dtype=np.float64)
        return np.sign(x) * np.abs(x) ** self.a

    def _unit_split(self) -> tuple[int, Law]:
        if not float(self.a).is_integer():
            return 0, self
        ei, inner = self.law._unit_split()
        return int(self.a) * ei, Power(inner, self.a, signed=not self.fold)

    def _atom(self) -> Atom | None:
        if not float(self.a).is_integer():
            return None
        a = self.law._atom()
        if a is None:
            return None
        if self.fold:
            a = (abs(a[0]), a[1], abs(a[2]))
        return combine_atoms([(a, int(self.a))])


def iid_parts_lphi(lp: CArray, lm: CArray, count: int, symmetric: bool) -> tuple[CArray, CArray]:
    """Log Mellin parts of a product of ``count`` iid copies [derived from the Mellin calculus]:
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

