"""Moments, log-cumulants and the symbolic density of any law.

``E|X|^s = M(1+s)`` exactly (sympy), ``κ_k(log|X|) = d^k/ds^k log M(1+s) |_{s=0}``, and the
density as a sympy Meijer G expression.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath as mp
import sympy as sp

from flatstart._checks import check_int, check_real
from flatstart.theory.laws import (
    Law,
    exact,
    merge_terms,
)
from flatstart.theory.products._parts import _mp
from flatstart.theory.products.core import MANY_FACTORS, Product, short


def _check_moment_s(law: Law, s: Any) -> float:
    sv = check_real("s", s)
    lo, hi = law.strip
    if sv == 0:
        return sv
    if law.p0 > 0 and sv < 0:
        raise ValueError(f"E|X|^s diverges for s={s!r}: the law has an atom at 0 (mass "
                         f"{law.p0:g}), so s must be >= 0")
    if not lo < sv < hi:
        raise ValueError(f"E|X|^s diverges for s={s!r}: s must lie in ({lo:g}, {hi:g}) for "
                         f"{short(law)}")
    return sv


def moment(law: Law, s: Any, dps: int | None = None, exact_: bool = False) -> Any:
    """``E|X|^s = M_{|X|}(s+1)`` (atoms at zero contribute 0 for s > 0) [ref: Mellin calculus].

    Float by default (mpmath at 30 digits, rounded), an mpf with ``dps``, or a sympy
    expression with ``exact_=True``. Divergent moments raise ValueError naming s and the range.

    >>> from flatstart.theory.laws import Normal
    >>> moment(Normal(1.0), 4)
    3.0
    """
    sv = _check_moment_s(law, s)
    if exact_:
        return sp.nsimplify(sp.simplify(law.mellin(exact(sv) + 1) + (law.p0 if sv == 0 else 0)))
    if sv == 0:
        return mp.mpf(1) if dps else 1.0
    d = int(dps) if dps else 30
    with mp.workdps(d + 10):
        a, b = law._mp_parts(mp.mpf(repr(sv)))
        v = a + b
    with mp.workdps(d):
        v = +v
    if dps:
        return v
    out = float(v)
    if not math.isfinite(out) or (out == 0 and v != 0):
        raise ValueError(f"E|X|^s = {mp.nstr(v, 8)} for s={s!r} is outside the range of float64; "
                         "pass dps= for an mpmath value")
    return out


def log_cumulant(law: Law, k: Any, dps: int | None = None) -> Any:
    """k-th cumulant of ``log|X|`` given ``X ≠ 0``: ``κ_k = d^k/dz^k log E[|X|^z | X≠0]`` at 0.

    Exact polygamma form for a single Gamma-ratio term (Springer–Thompson laws):
    ``κ₁ = log ρ + β(Σψ(b_j) - Σψ(a_k))``, ``κ_r = β^r(Σψ^{(r-1)}(b_j) - Σψ^{(r-1)}(a_k))``;
    e.g. ``N(0,σ²)``: ``κ₁ = log σ - (γ + log 2)/2``, ``κ_r = ψ^{(r-1)}(½)/2^r`` [derived].
    Otherwise mpmath numerical differentiation of ``log M`` at 30+ digits.

    >>> import math
    >>> from flatstart.theory.laws import Normal
    >>> round(log_cumulant(Normal(1.0), 2), 12) == round(math.pi**2 / 8, 12)
    True
    """
    k = check_int("k", k, minimum=1)
    if law.p0 >= 1:
        raise ValueError(f"log|X| is undefined: {law!r} is the point mass at 0")
    d = int(dps) if dps else 30
    if isinstance(law, Product) and law.count > MANY_FACTORS:
        # cumulants add over independent factors (log|∏X_i| = Σ log|X_i| given every X_i ≠ 0);
        # the Gamma-ratio route would carry one parameter per factor
        with mp.workdps(d + 10):
            val = mp.fsum(n * log_cumulant(f, k, dps=d + 10) for f, n in law.factors)
        with mp.workdps(d):
            val = +val
        return val if dps else float(val)
    with mp.workdps(d + 10):
        own = law._log_cumulant_exact(k)  # the law's own polygamma form (no sympy)
    if own is not None:
        with mp.workdps(d):
            val = +own
        return val if dps else float(val)
    terms = law.meijer_terms()
    single = None
    if terms is not None:
        tabs = merge_terms([(1, t) for _, t in terms])
        if len(tabs) == 1 and tabs[0][1].beta is not None:
            single = tabs[0][1]
        elif len(tabs) == 1 and tabs[0][1].beta is None:  # point mass
            with mp.workdps(d + 10):
                val = mp.log(_mp(tabs[0][1].rho)) if k == 1 else mp.mpf(0)
            return +val if dps else float(val)
    with mp.workdps(d + 10):
        if single is not None and single.beta is not None:
            beta = mp.mpf(single.beta.numerator) / single.beta.denominator
            bs = [_mp(b) for b in single.b]
            as_ = [_mp(a) for a in single.a]
            if k == 1:
                val = mp.log(_mp(single.rho)) + beta * (mp.fsum(mp.psi(0, b) for b in bs)
                                                         - mp.fsum(mp.psi(0, a) for a in as_))
            else:
                val = beta**k * (mp.fsum(mp.psi(k - 1, b) for b in bs)
                                 - mp.fsum(mp.psi(k - 1, a) for a in as_))
        else:
            def lm(z: Any) -> Any:
                a, b = law._mp_parts(z)
                return mp.log(a + b)

            val = mp.diff(lm, 0, k)
    with mp.workdps(d):
        val = +val
    return val if dps else float(val)


def sympy_pdf(law: Law, x: Any = None) -> sp.Expr:
    """Symbolic density via Meijer G (Springer & Thompson 1970):
    ``f(x) = Σ c/(β|x|) G^{q,0}_{p,q}(|x|^{1/β}/ρ^{1/β} | a; b)`` per sign part.

    >>> sympy_pdf(Gamma(2, 1))  # doctest: +SKIP
    """
    terms = law.meijer_terms()
    if terms is None or any(t.beta is None or not t.b for _, t in terms):
        raise NotImplementedError(f"no exact Meijer-G density for {short(law)} (mixtures of many "
                                  "components, irrational powers, point masses); use the "
                                  "numeric pdf")
    xs = sp.Symbol("x", real=True) if x is None else sp.sympify(x)
    parts = []
    for sign in (1, -1):
        expr: sp.Expr = sp.Integer(0)
        ax = xs if sign > 0 else -xs
        for sg, t in terms:
            if sg != sign:
                continue
            assert t.beta is not None
            beta = sp.Rational(t.beta.numerator, t.beta.denominator)
            arg = ax ** (1 / beta) / t.rho ** (1 / beta)
            expr += t.coef / (beta * ax) * sp.meijerg(((), tuple(t.a)), (tuple(t.b), ()), arg)
        parts.append(expr)
    pos, neg = parts
    if neg == 0:
        return sp.Piecewise((pos, xs > 0), (0, True))
    if pos == 0:
        return sp.Piecewise((neg, xs < 0), (0, True))
    return sp.Piecewise((pos, xs > 0), (neg, xs < 0), (0, True))
