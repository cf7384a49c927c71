"""``method="closed"``: closed forms.

One factor (scipy.stats); two centred normals ``K₀(|x|/σ₁σ₂)/(πσ₁σ₂)`` and, with
``z = |x|/σ₁σ₂``, ``P(σ₁X·σ₂Y > zσ₁σ₂) = ½ - (z/2)[K₀(z)L₋₁(z) + K₁(z)L₀(z)]`` (A&S 11.1.8;
only where the tail does not cancel); products of uniforms ``-log(|X|/A) ~ Gamma(n, 1)``
(Dettmann & Georgiou 2009); their mpmath counterparts for ``dps=``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import scipy.special as sc
import scipy.stats as st
from numpy.typing import NDArray

from flatstart.theory.laws import (
    Abs,
    FArray,
    Law,
    Mixture,
    Normal,
    Uniform,
)
from flatstart.theory.products._parts import _atom, _atom_eval
from flatstart.theory.products.core import Product

# ============================================================================================
# mpmath contour quadrature (reference / arbitrary precision for any law)
# ============================================================================================


def _closed_mp(law: Law, kind: str, xi: Any) -> Any:
    """mpmath closed forms (at the working precision) for one primitive law, a positive
    scaling of one, or a mixture of such laws and atoms; None otherwise (each law's own
    ``_closed_mp``: Normal ``Φ(x/σ)``, Gamma ``P(k, x/θ)``, Beta ``I_x(a, b)``, Uniform
    ``(x-a)/(b-a)`` [ref: DLMF 7.2, 8.2, 8.17]; the upper tails directly, no 1 - cdf)."""
    return law._closed_mp(kind, xi)


def _eval_closed_mp(law: Law, kind: str, x: FArray, dps: int) -> NDArray[Any] | None:
    """:func:`_closed_mp` over an array at ``dps + 10`` digits; None when not available."""
    base = law
    if isinstance(law, Product) and len(law.factors) == 1 and law.factors[0][1] == 1:
        base = law.factors[0][0]
    out = np.empty(x.shape, dtype=object)
    res = out.ravel()
    with mp.workdps(dps + 10):
        for i, xi in enumerate(x.ravel()):
            v = _closed_mp(base, kind, mp.mpf(repr(float(xi))))
            if v is None:
                return None
            res[i] = v
    return out


# ============================================================================================
# (d) closed forms
# ============================================================================================


def _closed_form(law: Law, kind: str) -> Callable[[FArray], FArray] | None:
    """Closed form evaluator for ``law`` and ``kind`` or None."""
    base = law
    if isinstance(law, Product) and len(law.factors) == 1 and law.factors[0][1] == 1:
        base = law.factors[0][0]
    dist = base._scipy()
    if dist is not None:
        return getattr(dist, kind)
    if isinstance(base, Abs):
        return _abs_closed_form(base.law, kind)
    if isinstance(base, Mixture):  # Σ w_i F_i when every component has a closed form
        comps: list[tuple[float, Callable[[FArray], FArray]]] = []
        for w, comp in base.components:
            atom = _atom(comp)
            fn = ((lambda x, a=atom: _atom_eval(a, kind, x)) if atom is not None
                  else _closed_form(comp, kind))
            if fn is None:
                return None
            comps.append((w, fn))
        return lambda x: np.asarray(sum(w * np.asarray(fn(x), dtype=np.float64)
                                        for w, fn in comps), dtype=np.float64)
    if isinstance(law, Product):
        unis = [(f, n) for f, n in law.factors if isinstance(f, Uniform)]
        s2 = _two_normal_scale(law)
        if s2 is not None and kind == "pdf":
            return lambda x: np.asarray(sc.k0(np.abs(x) / s2) / (np.pi * s2))
        if len(unis) == len(law.factors) and all(f.a == 0 or f.a == -f.b for f, _ in unis):
            n = sum(k for _, k in unis)
            logA = math.fsum(k * math.log(f.b) for f, k in unis)
            sym = any(f.a == -f.b for f, _ in unis)
            return lambda x: _uniform_product(x, n, logA, sym, kind)
    return None


def _abs_closed_form(inner: Law, kind: str) -> Callable[[FArray], FArray] | None:
    """Closed forms for ``|X|``: X ≥ 0 (that of X); ``N(0, σ²)``: ``P(|X| ≤ x) = erf(x/σ√2)``,
    ``P(|X| > x) = erfc(x/σ√2)`` [ref: DLMF 7.2]; ``U(a, b)``: ``|[-x, x] ∩ [a, b]|/(b - a)``;
    products of uniforms on ``[0, a_i]``/``[-a_i, a_i]``: ``-log(|X|/A) ~ Gamma(n, 1)``
    [ref: Dettmann & Georgiou 2009]."""
    if inner.p_neg == 0:
        return _closed_form(inner, kind)
    if isinstance(inner, Product):
        fs = inner.factors
        if all(isinstance(f, Uniform) and (f.a == 0 or f.a == -f.b) for f, _ in fs):
            n = sum(k for _, k in fs)
            logA = math.fsum(k * math.log(f.b) for f, k in fs)  # type: ignore[attr-defined]
            return lambda x: _uniform_product(x, n, logA, False, kind)
        if len(fs) == 1 and fs[0][1] == 1:
            inner = fs[0][0]
    return inner._abs_closed(kind)


# scipy's K0, K1 and modified Struve L0, L1 give the bracket of A&S 11.1.8 to an absolute error
# below 3.5e-16 for z <= 12.9 (checked against mpmath on a dense grid in the tests); beyond
# z ~ 13 scipy.special.modstruve switches method and loses up to ~1e-13 absolutely.
_TWO_NORMAL_ZMAX = 12.5
_TWO_NORMAL_ABS_ERR = 1e-15


def _two_normal_scale(law: Law) -> float | None:
    """``σ₁σ₂`` when ``law`` is a product of exactly two centred normals, else None."""
    if not isinstance(law, Product):
        return None
    if not all(isinstance(f, Normal) for f, _ in law.factors):
        return None
    if sum(n for _, n in law.factors) != 2:
        return None
    log_s = math.fsum(n * math.log(f.sigma) for f, n in law.factors)  # type: ignore[attr-defined]
    if not -690.0 < log_s < 690.0:  # σ₁σ₂ (or |x|/σ₁σ₂) leaves float64: use the log-space paths
        return None
    return float(math.prod(f.sigma**n for f, n in law.factors))  # type: ignore[attr-defined]


def _two_normal_tail(z: FArray) -> FArray:
    """``P(XY > z)`` for ``X, Y`` iid N(0, 1) and ``0 <= z <= 12.5``.

    ``P(XY > z) = 1/2 - (z/2)[K₀(z) L₋₁(z) + K₁(z) L₀(z)]``, ``L₋₁ = L₁ + 2/π``
    [ref: Abramowitz & Stegun 11.1.8, ``∫₀^z K₀ = (πz/2)[K₀L₋₁ + K₁L₀]``, with the density
    ``K₀(|z|)/π`` of XY]. The absolute error is below ``_TWO_NORMAL_ABS_ERR``; the relative
    error of the (small) tail is therefore ``≈ 1e-15 / P(XY > z)``: it cancels in the tail.
    """
    zz = np.where(z > 0, z, 1.0)
    b = sc.k0(zz) * (sc.modstruve(1, zz) + 2.0 / np.pi) + sc.k1(zz) * sc.modstruve(0, zz)
    return np.asarray(np.where(z > 0, 0.5 - 0.5 * zz * b, 0.5), dtype=np.float64)


def _two_normal_cdf(x: FArray, s: float, kind: str) -> tuple[FArray, FArray]:
    """cdf or sf of ``σ₁X·σ₂Y`` (``s = σ₁σ₂``) by :func:`_two_normal_tail`, with the per-point
    relative error estimate (``inf`` where the closed form is not usable: ``|x|/s > 12.5``).

    [derived; docs/theory/p.md#two-normals-in-closed-form-ref-derived]
    ``F(x) = 1 - q(x/s)`` for ``x >= 0`` and ``F(x) = q(|x|/s)`` for ``x < 0``
    (symmetry), ``q`` the upper tail of the standard product; ``sf = 1 - F`` likewise.
    """
    z = np.abs(x) / s
    usable = z <= _TWO_NORMAL_ZMAX
    q = _two_normal_tail(np.where(usable, z, 0.0))
    small_side = (x < 0) if kind == "cdf" else (x > 0)
    vals = np.where(small_side, q, 1.0 - q)
    with np.errstate(divide="ignore"):
        err = _TWO_NORMAL_ABS_ERR / vals
    err = np.where(usable, err, np.inf)
    vals = np.where(usable, vals, np.nan)
    return np.asarray(vals, dtype=np.float64), np.asarray(err, dtype=np.float64)


def _uniform_product(x: FArray, n: int, logA: float, sym: bool, kind: str) -> FArray:
    """Product of n uniforms on [0, a_i] (or [-a_i, a_i]): ``-log(|X|/A) ~ Gamma(n, 1)``
    [ref: Dettmann & Georgiou 2009]."""
    ax = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = logA - np.log(ax)  # = -log(|x|/A) >= 0 inside the support
        inside = u > 0
        uu = np.where(inside, u, 1.0)
        dens = np.where(inside, st.gamma.pdf(uu, n) / np.where(ax > 0, ax, 1.0), 0.0)
        low = np.where(inside, sc.gammaincc(n, uu), 1.0)  # P(|X| ≤ |x|)
        up = np.where(inside, sc.gammainc(n, uu), 0.0)
    dens = np.where(ax == 0, np.inf, dens)
    if kind == "pdf":  # nonnegative factors only: no density on the negative side
        return dens * 0.5 if sym else np.where(x < 0, 0.0, dens)
    if not sym:
        if kind == "cdf":
            return np.where(x <= 0, 0.0, low)
        return np.where(x <= 0, 1.0, up)
    cdf = np.where(x >= 0, 1.0 - 0.5 * up, 0.5 * up)
    sf = np.where(x >= 0, 0.5 * up, 1.0 - 0.5 * up)
    return cdf if kind == "cdf" else sf
