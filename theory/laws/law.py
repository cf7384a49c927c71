"""The :class:`Law` base class and the combinators: atoms, mixtures, scalings, ``|X|``, powers.

``Law`` holds what every law shares (sign masses, the strip of finite Mellin moments, the
evaluation methods that the engine :mod:`flatstart.theory.products` registers in
:data:`ENGINE`, and the hooks through which a law states its own closed forms). The
combinators build new laws from old ones by the Mellin calculus: mixtures add their parts,
``M_{cX}(s) = c^{s-1} M_X(s)``, ``M_{|X|} = M₊ + M₋``, ``M_{X^a}(s) = M_X(a(s-1)+1)``.
They live beside the base because the base's algebra (``c * law``, ``law.abs()``,
``law ** a``, ``law.with_atom(p)``) returns them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from scipy.special import loggamma

from flatstart._checks import check_int, check_positive, check_probability, check_real
from flatstart.theory.laws.terms import (
    NEG_INF,
    Atom,
    CArray,
    FArray,
    GammaRatio,
    Terms,
    _mpf,
    _NoMeijer,
    binary_exponent,
    clogaddexp,
    combine_atoms,
    exact,
    merge_terms,
)

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

    def _log_cumulant_exact(self, k: int) -> Any:
        """``κ_k`` of ``log|X|`` (given ``X ≠ 0``) as an mpf at the working precision from the
        law's own polygamma form, or None (then the engine reads it off the Gamma-ratio terms
        or differentiates ``log M``). Same values as the Gamma-ratio route, without sympy."""
        return None

    def _log_cumulants_float(self) -> list[float] | None:
        """``[κ₁, κ₂, κ₃, κ₄]`` of ``log|X|`` in float64 (scipy polygamma): the fast path of
        :meth:`_log_cumulant_exact` (same formula, tested against it), or None."""
        return None


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

    def _log_cumulant_exact(self, k: int) -> Any:
        """``log|c|`` for ``k = 1``, 0 beyond (a constant)."""
        if self.c == 0:
            return None
        return mp.log(abs(_mpf(self.c))) if k == 1 else mp.mpf(0)

    def _log_cumulants_float(self) -> list[float] | None:
        return None if self.c == 0 else [math.log(abs(self.c)), 0.0, 0.0, 0.0]

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

    >>> from flatstart.theory.laws import Gamma
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
        # symmetric components, or atoms that are each other's mirror images (a fair sign)
        atoms = [(w, law.c) for w, law in self.components if isinstance(law, PointMass)]
        self.symmetric = all(law.symmetric for law in laws) or (
            len(atoms) == len(laws) and sorted(atoms) == sorted((w, -c) for w, c in atoms))
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

    def _log_cumulant_exact(self, k: int) -> Any:
        """``log|cX| = log c + log|X|``: only ``κ₁`` moves."""
        v = self.law._log_cumulant_exact(k)
        if v is None:
            return None
        return v + mp.log(_mpf(self.c)) if k == 1 else v

    def _log_cumulants_float(self) -> list[float] | None:
        v = self.law._log_cumulants_float()
        return None if v is None else [math.log(self.c) + v[0]] + v[1:]

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

    def _log_cumulant_exact(self, k: int) -> Any:
        """``log||X|| = log|X|``."""
        return self.law._log_cumulant_exact(k)

    def _log_cumulants_float(self) -> list[float] | None:
        return self.law._log_cumulants_float()

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

    def _log_cumulant_exact(self, k: int) -> Any:
        """``log|X^a| = a log|X|``: ``κ_k`` scales by ``a^k``."""
        v = self.law._log_cumulant_exact(k)
        return None if v is None else _mpf(self.a) ** k * v

    def _log_cumulants_float(self) -> list[float] | None:
        v = self.law._log_cumulants_float()
        return None if v is None else [self.a**r * c for r, c in enumerate(v, start=1)]

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
