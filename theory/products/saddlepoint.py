"""``method="saddlepoint"``: the Lugannani–Rice (1980) tail approximation.

With ``K(τ) = log M(1+τ)`` the cumulant generating function of ``log|X|`` on a sign part,
``P(Y > y) ≈ 1 - Φ(w) + φ(w)(1/u - 1/w)``, ``w = sign(τ̂)√(2(τ̂y - K(τ̂)))``,
``u = τ̂√K''(τ̂)``, ``K'(τ̂) = y``. No error bound (``Info.error`` is ``nan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats as st

from flatstart.theory.laws import (
    CArray,
    FArray,
    Law,
)
from flatstart.theory.products._parts import (
    _assemble,
    _check_continuous,
    _part_lphi,
    _sign_parts,
)
from flatstart.theory.products.mellin import _K12, _saddle

# ============================================================================================
# (c) saddlepoint (Lugannani–Rice) and log-CLT with Berry–Esseen
# ============================================================================================


def _lr_part(lphi: Callable[[CArray], CArray], mass: float, strip: tuple[float, float],
             log_lower: float, log_upper: float, y: FArray) -> tuple[FArray, FArray, FArray]:
    """Lugannani–Rice [ref: Lugannani & Rice 1980; Daniels 1987] for one part.

    ``ŵ = sgn(τ̂)√(2(τ̂y - K(τ̂)))``, ``û = τ̂√K''(τ̂)``,
    ``P(Y > y) ≈ 1 - Φ(ŵ) + φ(ŵ)(1/û - 1/ŵ)``; density ``e^{K(τ̂)-τ̂y}/√(2πK''(τ̂))``.
    """
    dens = np.zeros(y.size)
    lower = np.zeros(y.size)
    upper = np.zeros(y.size)
    if mass <= 0 or y.size == 0:
        return dens, lower, upper
    below, above = y <= log_lower, y >= log_upper
    lower[above] = mass
    upper[below] = mass
    ins = ~(below | above)
    yi = y[ins]
    tau, _ = _saddle(lphi, yi, strip)
    k0, _, k2 = _K12(lphi, tau, strip[0])
    kn = k0 - math.log(mass)
    with np.errstate(all="ignore"):
        dens[ins] = np.exp(k0 - tau * yi) / np.sqrt(2 * np.pi * k2)
        w = np.sign(tau) * np.sqrt(np.maximum(2.0 * (tau * yi - kn), 0.0))
        u = tau * np.sqrt(k2)
        corr = st.norm.pdf(w) * (1.0 / u - 1.0 / w)
        sf = st.norm.sf(w) + corr
        cdf = st.norm.cdf(w) - corr
    small = np.abs(tau) < 1e-6
    _, k1z, k2z = _K12(lphi, np.zeros(1), strip[0])
    zc = (yi - k1z[0]) / math.sqrt(k2z[0])
    sf = np.where(small, st.norm.sf(zc), sf)
    cdf = np.where(small, st.norm.cdf(zc), cdf)
    lower[ins] = mass * np.clip(cdf, 0, 1)
    upper[ins] = mass * np.clip(sf, 0, 1)
    return dens, lower, upper


def _eval_saddlepoint(law: Law, kind: str, x: FArray) -> tuple[FArray, float]:
    _check_continuous(law)
    asym = _asymptotics()
    lower, upper, dens = (np.zeros_like(x) for _ in range(3))
    ax = np.abs(x)
    nz = x != 0
    with np.errstate(divide="ignore"):
        y = np.log(np.where(nz, ax, 1.0))
    for sign, sel, mass in _sign_parts(law, x, nz):
        lphi = _part_lphi(law, sign)
        d, lw, up = _lr_part(lphi, mass, law.strip, law.log_lower, law.log_upper, y[sel])
        if asym is not None and mass > 0:
            try:
                d, lw, up = _lr_asymptotics(asym, lphi, mass, law, y[sel], kind)
            except ValueError:
                pass  # keep the private Lugannani–Rice values
        dens[sel], lower[sel], upper[sel] = d, lw, up
    return _assemble(law, kind, x, lower, upper, dens), float("nan")


def _lr_asymptotics(asym: Any, lphi: Callable[[CArray], CArray], mass: float, law: Law,
                    y: FArray, kind: str) -> tuple[FArray, FArray, FArray]:
    """Lugannani–Rice through :mod:`flatstart.theory.asymptotics` with ``K(t) = log Φ(t) - log
    mass``."""
    lo = law.strip[0]
    lm = math.log(mass)

    def K(t: Any) -> Any:
        return _K12(lphi, np.atleast_1d(np.asarray(t, dtype=float)), lo)[0] - lm

    def K1(t: Any) -> Any:
        return _K12(lphi, np.atleast_1d(np.asarray(t, dtype=float)), lo)[1]

    def K2(t: Any) -> Any:
        return _K12(lphi, np.atleast_1d(np.asarray(t, dtype=float)), lo)[2]

    inner = (law.strip[0] + 1e-9 * max(1.0, abs(law.strip[0])) if np.isfinite(law.strip[0])
             else -1e4, law.strip[1] - 1e-9 if np.isfinite(law.strip[1]) else 1e4)
    kw = dict(t_bounds=inner, support=(law.log_lower, law.log_upper))
    dens = np.zeros_like(y)
    lower = np.zeros_like(y)
    upper = np.zeros_like(y)
    if kind == "pdf":
        dens = mass * np.asarray(asym.saddlepoint_pdf(y, K, K1, K2, **kw), dtype=float)
    else:
        lower = mass * np.asarray(asym.lugannani_rice_cdf(y, K, K1, K2, **kw), dtype=float)
        upper = mass * np.asarray(asym.lugannani_rice_sf(y, K, K1, K2, **kw), dtype=float)
    return dens, lower, upper


def _asymptotics() -> Any:
    try:
        import flatstart.theory.asymptotics as asym  # noqa: F401
    except ImportError:
        return None
    return asym
