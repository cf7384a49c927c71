"""Quantiles and medians of any law: bracketing (Chernoff bounds in log space) and root finding.

``quantile(law, q)`` is the smallest ``x`` with ``P(X ≤ x) ≥ q``; brackets come from the law's
support, its log-CLT and Chernoff bounds ``P(log|X| > y) ≤ exp(K(τ) - τy)``, so heavy and
light tails alike are bracketed without a scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from flatstart.theory.laws import (
    Law,
    PointMass,
)
from flatstart.theory.products._parts import _LOG_FLOAT_RANGE, _atom, _part_lphi, _part_mass
from flatstart.theory.products.core import short
from flatstart.theory.products.mellin import _K

# ============================================================================================
# quantiles, moments, cumulants, symbolic
# ============================================================================================


def quantile(law: Law, q: Any, method: str = "auto", xtol: float = 1e-14) -> Any:
    """Smallest x with ``P(X ≤ x) ≥ q`` (vectorized over q).

    Root finding on the cdf in ``log|x|`` with brackets from the log-CLT (mean ± k sd of
    ``log|X|``, widened until they bracket). Atoms at zero are honoured.

    >>> from flatstart.theory.laws import Uniform
    >>> round(float(Uniform(0, 1).quantile(0.25)), 12)
    0.25
    """
    from scipy.optimize import brentq

    qa = np.asarray(q, dtype=np.float64) if not isinstance(q, str) else None
    if qa is None or np.isnan(qa).any() or (qa <= 0).any() or (qa >= 1).any():
        raise ValueError(f"q must lie in the open interval (0, 1), got q={q!r}")
    if isinstance(law, PointMass):
        return np.full(qa.shape, law.c)[()] if qa.ndim == 0 else np.full(qa.shape, law.c)
    atom = _atom(law)
    if atom is not None:
        if not np.isfinite(atom[2]) or (atom[0] != 0 and atom[2] == 0):
            raise ValueError(f"the quantiles of {short(law)} are its atom e^{atom[1]:.6g} "
                             "(in modulus), outside the range of float64")
        return np.full(qa.shape, atom[2])[()] if qa.ndim == 0 else np.full(qa.shape, atom[2])
    out = np.empty(qa.shape)
    m, s = _log_clt(law)
    for i, qv in np.ndenumerate(qa):
        qi = float(qv)
        if qi < law.p_neg * (1 - 1e-15):
            sign, target = -1, qi  # need cdf(x) = q with x < 0: S₋(log|x|) = q
        elif qi <= (law.p_neg + law.p0) * (1 + 1e-15):
            out[i] = 0.0
            continue
        else:
            sign, target = 1, qi
        if not _LOG_FLOAT_RANGE[0] + 3 * s < m < _LOG_FLOAT_RANGE[1] - 3 * s:
            raise ValueError(
                f"the quantile q={qi!r} of {short(law)} lies near e^{m:.6g}, outside the range "
                "of float64; work with log|X| instead (its cumulants: law.log_cumulant(k); its "
                "law: flatstart.theory.asymptotics.cgf_from_log_mellin and lugannani_rice_"
                "quantile, or NeuralChain.log_median_abs_output for chains)")

        def f(yv: float, sign: int = sign, target: float = target) -> float:
            xv = sign * math.exp(yv)
            try:
                return float(law.cdf(xv, method=method)) - target
            except ValueError:
                if method != "auto":
                    raise
                # far outside the bulk (bracketing only): the saddlepoint sign is enough
                return float(law.cdf(xv, method="saddlepoint")) - target

        def f_strict(yv: float, sign: int = sign, target: float = target) -> float:
            # the root itself only from an accurate cdf (auto raises where none is accurate)
            return float(law.cdf(sign * math.exp(yv), method=method)) - target

        lo_y, hi_y = m - 3 * s, m + 3 * s
        if np.isfinite(law.log_lower):
            lo_y = max(lo_y, law.log_lower)
        if np.isfinite(law.log_upper):
            hi_y = min(hi_y, law.log_upper)
        ends: dict[float, float] = {}
        for _ in range(_CLT_WIDENINGS):
            flo, fhi = f(lo_y), f(hi_y)
            if sign > 0 and flo <= 0 <= fhi or sign < 0 and flo >= 0 >= fhi:
                ends = {lo_y: flo, hi_y: fhi}
                break
            if sign > 0:
                lo_y = lo_y - 2 * s if flo > 0 else lo_y
                hi_y = hi_y + 2 * s if fhi < 0 else hi_y
            else:
                lo_y = lo_y - 2 * s if flo < 0 else lo_y
                hi_y = hi_y + 2 * s if fhi > 0 else hi_y
        else:
            # the log-CLT bracket failed: a bracket that holds by Markov/Chernoff bounds
            lo_y, hi_y, ends = _chernoff_quantile_bracket(law, sign, qi, f)

        def g(yv: float, f: Callable[[float], float] = f_strict,
              ends: dict[float, float] = ends) -> float:
            return ends[yv] if yv in ends else f(yv)

        yr = brentq(g, lo_y, hi_y, xtol=xtol, rtol=1e-15, maxiter=200)
        out[i] = sign * math.exp(yr)
    return out[()] if qa.ndim == 0 else out


#: ``repr(law) -> (κ₁, √κ₂)`` of ``log|X|`` (laws are immutable and their repr names every
#: parameter, so the key identifies the law); bounded, oldest entries dropped first
_LOG_CLT_CACHE: dict[str, tuple[float, float]] = {}
_LOG_CLT_CACHE_SIZE = 256


def _log_clt(law: Law) -> tuple[float, float]:
    """``(κ₁, √max(κ₂, 1e-12))`` of ``log|X|`` given ``X ≠ 0`` (``(0, 1)`` for the point mass
    at 0): the centre and scale of the log-CLT quantile bracket. The 30-digit cumulants
    (:func:`flatstart.theory.products.log_cumulant`, polygamma sums) cost far more than the
    root finding for products of many factors, so they are cached per law (keyed by repr)."""
    if law.p0 >= 1:
        return 0.0, 1.0
    key = repr(law)
    hit = _LOG_CLT_CACHE.get(key)
    if hit is None:
        m = float(law.log_cumulant(1))
        s = math.sqrt(max(float(law.log_cumulant(2)), 1e-12))
        hit = (m, s)
        if len(_LOG_CLT_CACHE) >= _LOG_CLT_CACHE_SIZE:
            _LOG_CLT_CACHE.pop(next(iter(_LOG_CLT_CACHE)))
        _LOG_CLT_CACHE[key] = hit
    return hit


#: widenings of the log-CLT quantile bracket (by 2 sd each) before the Chernoff bracket is used
_CLT_WIDENINGS = 6


def _chernoff_quantile_bracket(law: Law, sign: int, q: float, f: Callable[[float], float]
                               ) -> tuple[float, float, dict[float, float]]:
    """Bracket ``[y_lo, y_hi]`` of ``log|x|`` for the quantile q on the sign part ``sign``.

    With ``G(y) = P(sign·X > 0, |X| ≤ e^y)`` (part mass ``m``) and the target ``a = G(y*)``
    (``a = q - P(X ≤ 0)`` for ``sign > 0``, ``a = P(X < 0) - q`` for ``sign < 0``), Markov's
    inequality for ``|X|^{±r}`` on the part [ref: Chernoff 1952] gives, for every admissible
    ``r > 0``, ``G(y) ≤ Φ(-r) e^{ry}`` and ``m - G(y) ≤ Φ(r) e^{-ry}`` (``Φ(z) = E[|X|^z;
    part]``), so ``y_lo = max_r (log a - log Φ(-r))/r`` has ``G ≤ a`` and
    ``y_hi = min_r (log Φ(r) - log(m - a))/r`` has ``G ≥ a``; both clipped to the support
    ``[log_lower, log_upper]``. The signs of ``f`` at the ends are then known; where the
    numerical cdf there disagrees (far tails), the known sign is used. Raises ValueError when
    the quantile is outside the range of float64.
    """
    mass = law.p_pos if law.symmetric else _part_mass(law, sign)
    below = law.p_neg + law.p0
    a = (q - below) if sign > 0 else (law.p_neg - q)
    a = min(max(a, 1e-300), mass * (1 - 1e-16))
    lphi = _part_lphi(law, sign)
    lo, hi = law.strip
    rs = 2.0 ** np.arange(-8.0, 11.0)
    r_up = rs[rs < 0.999 * hi]
    r_dn = rs[-rs > 0.999 * lo]
    with np.errstate(all="ignore"):
        k_up = _K(lphi, r_up) if r_up.size else np.zeros(0)
        k_dn = _K(lphi, -r_dn) if r_dn.size else np.zeros(0)
        y_hi_c = (k_up - math.log(max(mass - a, 1e-300))) / r_up
        y_lo_c = (math.log(a) - k_dn) / r_dn
    y_hi_c = y_hi_c[np.isfinite(y_hi_c)]
    y_lo_c = y_lo_c[np.isfinite(y_lo_c)]
    y_hi = float(np.min(y_hi_c)) + 1e-3 if y_hi_c.size else math.inf
    y_lo = float(np.max(y_lo_c)) - 1e-3 if y_lo_c.size else -math.inf
    if np.isfinite(law.log_upper):
        y_hi = min(y_hi, law.log_upper)
    if np.isfinite(law.log_lower):
        y_lo = max(y_lo, law.log_lower)
    flo_lim, fhi_lim = _LOG_FLOAT_RANGE
    if y_lo >= fhi_lim or y_hi <= flo_lim or not y_lo < y_hi:
        raise ValueError(
            f"the quantile q={q!r} of {short(law)} lies in e^[{y_lo:.6g}, {y_hi:.6g}], outside "
            "the range of float64; work with log|X| instead (its cumulants: "
            "law.log_cumulant(k))")
    y_lo, y_hi = max(y_lo, flo_lim), min(y_hi, fhi_lim)
    # G(y_lo) <= a and G(y_hi) >= a; the sign of f = cdf - q follows (decreasing for sign < 0)
    ends: dict[float, float] = {}
    for yv, want in ((y_lo, -sign), (y_hi, sign)):
        try:
            v = f(yv)
        except ValueError:
            v = math.nan
        if not (np.isfinite(v) and (v == 0 or np.sign(v) == want)):
            v = want * 1e-300
        ends[yv] = v
    if ends[y_lo] * ends[y_hi] > 0:
        raise ValueError(f"the quantile q={q!r} of {short(law)} lies outside e^[{y_lo:.6g}, "
                         f"{y_hi:.6g}], the range of float64")
    return y_lo, y_hi, ends
