"""Sign parts, atoms and scales: the bookkeeping every evaluation path shares.

A law splits into its positive part, its negative part and an atom at zero; each path
evaluates ``P(part, |X| ≤ |x|)``, ``P(part, |X| > |x|)`` and the density of ``log|X|`` on a
part, and :func:`_assemble` combines them into ``pdf``/``cdf``/``sf``. Scales far from 1 are
factored out as exact powers of two (``law = 2^e · unit law``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from numpy.typing import NDArray

from flatstart.theory.laws import (
    CArray,
    FArray,
    Law,
    PointMass,
)
from flatstart.theory.products.core import Info, Product, short

#: ``log`` of the smallest subnormal and of the largest float64.
_LOG_FLOAT_RANGE = (math.log(5e-324), math.log(1.7976931348623157e308))


# ============================================================================================
# sign-part bookkeeping
# ============================================================================================


def _as_x(x: Any) -> tuple[FArray, bool]:
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"x must be real numbers, got {x!r}") from exc
    if np.iscomplexobj(arr):
        raise TypeError(f"x must be real numbers, got complex {x!r}")
    arr = np.asarray(arr, dtype=np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"x must not contain NaN, got {x!r}")
    return arr, arr.ndim == 0


def _part_lphi(law: Law, sign: int) -> Callable[[CArray], CArray]:
    if law.symmetric:
        return lambda z: law.lphi_abs(z) - math.log(2.0)
    if sign > 0:
        return lambda z: law._lphi(z)[0]
    return lambda z: law._lphi(z)[1]


def _part_mass(law: Law, sign: int) -> float:
    return law.p_pos if sign > 0 else law.p_neg


def _sign_parts(law: Law, x: FArray, nz: NDArray[np.bool_]
                ) -> Iterator[tuple[int, NDArray[np.bool_], float]]:
    """The sign parts an evaluation visits: ``(sign, points on that side, part mass)``; a
    symmetric law is one part (``sign = 1``, every nonzero point, mass ``p_pos``)."""
    for sign in ([1] if law.symmetric else [1, -1]):
        sel = nz if law.symmetric else (x > 0 if sign > 0 else x < 0)
        if sel.any():
            yield sign, sel, (law.p_pos if law.symmetric else _part_mass(law, sign))


def _assemble(law: Law, kind: str, x: FArray, lower: FArray, upper: FArray,
              dens: FArray) -> FArray:
    """Combine part values: lower/upper = P(part, |X| ≤ |x|) / P(part, |X| > |x|)."""
    out = np.empty_like(x)
    pos, neg, zero = x > 0, x < 0, x == 0
    if kind == "pdf":
        with np.errstate(all="ignore"):
            out[~zero] = dens[~zero] / np.abs(x[~zero])
        out[zero] = dens[zero]
        return out
    if kind == "cdf":
        out[pos] = (law.p_neg + law.p0 + lower[pos]) if True else 0.0
        big = upper[pos] < 0.5
        out[pos] = np.where(big, 1.0 - upper[pos], law.p_neg + law.p0 + lower[pos])
        out[neg] = upper[neg]
        out[zero] = law.p_neg + law.p0
    else:
        out[pos] = upper[pos]
        small = lower[neg] < 0.5
        out[neg] = np.where(small, law.p_pos + law.p0 + lower[neg], 1.0 - upper[neg])
        out[zero] = law.p_pos
    return np.asarray(np.clip(out, 0.0, 1.0))


def _pdf_at_zero(law: Law, sign: int) -> float:
    """Density of the part at x = 0: the residue ``lim_{z→-1} (1+z) Φ(z)`` [derived,
    docs/theory/p.md#density-at-zero-derived]; 0 when
    the strip extends below -1, inf when Φ has a higher-order pole or the strip ends above -1."""
    lo = law.strip[0]
    if lo < -1.0:
        return 0.0
    if lo > -1.0:
        return float("inf")
    if _needs_rescale(law):  # X = 2^e U: f_X(0) = f_U(0)/2^e
        e_shift, unit = _unit_split(law)
        with np.errstate(over="ignore", under="ignore"):
            return float(np.ldexp(_pdf_at_zero(unit, sign), -e_shift))
    lphi = _part_lphi(law, sign)

    def v(d: float) -> float:
        with np.errstate(all="ignore"):
            return float(d * np.exp(lphi(np.asarray([-1.0 + d], dtype=complex)).real[0]))

    v1, v2, v3 = v(1e-5), v(5e-6), v(2.5e-6)
    if not (np.isfinite(v1) and np.isfinite(v2) and np.isfinite(v3)):
        return float("inf")
    if not np.isfinite(v2) or abs(v3 - v2) > 0.1 * abs(v2 - v1) + 1e-3 * abs(v2) and v3 > v2:
        # grows like log: higher-order pole
        if v3 > v2 * (1 + 1e-4):
            return float("inf")
    return 2 * v3 - v2


# ============================================================================================
# scales factored out: law = 2^e · unit law (exact in binary floating point)
# ============================================================================================

#: a factor scale beyond 2^±_RESCALE_EXP is factored out before the numerical Mellin inversion
_RESCALE_EXP = 64


def _unit_split(law: Law) -> tuple[int, Law]:
    """``(e, U)`` with ``law = 2^e · U`` in distribution (see ``Law._unit_split``)."""
    return law._unit_split()


def _needs_rescale(law: Law) -> bool:
    """Factor scales far from 1 (``|log₂ c| ≥ 64``), where ``log c`` would cancel in the
    contour integrand (a relative error of about ``ε·|log c|·t``) [derived]."""
    if isinstance(law, Product):
        e_tot = 0
        for f, n in law.factors:
            e, _ = _unit_split(f)
            if abs(e) >= _RESCALE_EXP:
                return True
            e_tot += n * e
        return abs(e_tot) >= _RESCALE_EXP
    return abs(_unit_split(law)[0]) >= _RESCALE_EXP


def _log_abs_shifted(ax: FArray, e: int) -> FArray:
    """``log(|x| / 2^e)`` from the binary mantissa and exponent of x (no over/underflow)."""
    m, ex = np.frexp(ax)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(m) + (ex - e).astype(np.float64) * math.log(2.0))


def _check_continuous(law: Law) -> None:
    if law.nonzero_atom:
        raise ValueError(f"{short(law)} has an atom away from zero; pdf/cdf of such laws are only "
                         "available for a single PointMass (atoms at 0 are supported)")


# ============================================================================================
# (a) Meijer G (mpmath)
# ============================================================================================


def _mp(x: sp.Expr) -> Any:
    return mp.mpmathify(sp.N(x, mp.mp.dps + 10))


def _mp_masses(law: Law) -> tuple[Any, Any, Any]:
    """``(P(X > 0), P(X < 0), P(X = 0))`` at the working mpmath precision: ``Φ±(0)`` from the
    law's own Mellin parts, so that ``mass - lower`` is consistent with the Meijer G / contour
    values (the float attributes p_pos, p_neg differ from them by ~1e-17) and the three add
    to 1."""
    a, b = law._mp_parts(mp.mpf(0))
    if law.symmetric:
        a = b = (a + b) / 2
    return a, b, 1 - a - b


def _clip(kind: str, v: FArray) -> FArray:
    return np.maximum(v, 0.0) if kind == "pdf" else np.clip(v, 0.0, 1.0)


def _finish(vals: FArray, scalar: bool, info: bool, inf: Info) -> Any:
    vals = np.asarray(vals, dtype=np.float64)
    if np.isnan(vals).any():  # never hand back a silent NaN
        raise ValueError(
            f"method {inf.method!r} failed numerically (NaN) at {int(np.isnan(vals).sum())} "
            "point(s); please report this law and these points")
    out: Any = np.float64(vals[()]) if scalar else vals
    return (out, inf) if info else out


def _atom(law: Law) -> tuple[int, float, float] | None:
    """``(sign, log|c|, c)`` when ``law`` is a single atom at ``c`` (a PointMass, or a product,
    positive scaling, ``|.|`` or power of atoms; see ``Law._atom``), else None. ``c`` is the
    float value (``±inf`` or 0 when ``|c|`` leaves float64; ``log|c|`` is then exact to
    rounding)."""
    return law._atom()


def _atom_eval(atom: tuple[int, float, float], kind: str, x: FArray) -> FArray:
    """cdf/sf/pdf of an atom at c (pdf: the continuous part, 0); ``x ≥ c`` decided in log
    space when ``c`` is not a normal float."""
    sign, log_c, c = atom
    if kind == "pdf":
        return np.zeros_like(x, dtype=np.float64)
    if sign == 0 or (np.isfinite(c) and abs(c) >= 2.2250738585072014e-308):
        ge = x >= c
    else:
        with np.errstate(divide="ignore"):
            lx = np.log(np.abs(x))
        ge = ((x > 0) & (lx >= log_c)) if sign > 0 else ((x >= 0) | (lx <= log_c))
    return np.where(ge, 1.0, 0.0) if kind == "cdf" else np.where(ge, 0.0, 1.0)


def _point_mass(law: PointMass, kind: str, x: FArray) -> FArray:
    c = law.c
    if kind == "pdf":  # the density of the continuous part, which an atom does not have
        return np.zeros_like(x, dtype=np.float64)
    if kind == "cdf":
        return np.where(x >= c, 1.0, 0.0)
    return np.where(x >= c, 0.0, 1.0)
