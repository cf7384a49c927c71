"""``method="mellin"``: numerical Mellin inversion on the saddlepoint contour.

With ``Y = log|X|`` on a sign part and ``Φ(z) = E[|X|^z; part] = M(1+z)``, the density of
``Y`` is ``g(y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} dt`` and
``P(Y ≤ y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} / (-(τ+it)) dt`` (``τ < 0``) (Gil-Pelaez 1951;
Abate & Whitt 1992). The contour sits at the saddlepoint ``K'(τ) = y`` (``K = log Φ``), the
trapezoid step comes from Chernoff bounds on the aliased mass and the truncation point from the
decay of ``|Φ(τ+it)|`` [derived]. Vectorized over all points; an mpmath quadrature of the same
contour integral (:func:`_eval_mellin_mp`) is the arbitrary-precision reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from flatstart.theory.laws import (
    CArray,
    FArray,
    Law,
)
from flatstart.theory.products._parts import (
    _assemble,
    _check_continuous,
    _log_abs_shifted,
    _mp_masses,
    _needs_rescale,
    _part_lphi,
    _part_mass,
    _pdf_at_zero,
    _sign_parts,
    _unit_split,
)

# ============================================================================================
# (b) numerical Mellin inversion on the saddlepoint contour
# ============================================================================================

_LREL = 38.0  # target: exp(-38) ≈ 3e-17 relative per error source
_ETA_D1 = 1e-7


def _K(lphi: Callable[[CArray], CArray], tau: FArray) -> FArray:
    with np.errstate(all="ignore"):
        return np.asarray(lphi(tau.astype(complex)).real, dtype=np.float64)


def _K12(lphi: Callable[[CArray], CArray], tau: FArray, lo: float
         ) -> tuple[FArray, FArray, FArray]:
    """K, K' (complex step) and K'' (Richardson on Re K(τ+it)) at real τ."""
    d = np.minimum(1.0, np.abs(tau - lo)) if np.isfinite(lo) else np.ones_like(tau)
    eta = _ETA_D1 * d
    t = 2e-3 * d
    z = np.concatenate([tau, tau + 1j * eta, tau + 1j * t, tau + 2j * t]).astype(complex)
    with np.errstate(all="ignore"):
        v = lphi(z)
    n = tau.size
    k0, k1c, kt, k2t = v[:n], v[n:2 * n], v[2 * n:3 * n], v[3 * n:]
    k0r = k0.real
    k1 = (k1c.imag - k0.imag) / eta
    a, b = k0r - kt.real, k0r - k2t.real
    k2 = (16.0 * a - b) / (6.0 * t**2)
    return k0r, k1, k2


def _K1(lphi: Callable[[CArray], CArray], tau: FArray, lo: float) -> FArray:
    """``K'(τ)`` alone, by the complex step of :func:`_K12` (the same values, half the
    evaluations of ``log Φ``)."""
    d = np.minimum(1.0, np.abs(tau - lo)) if np.isfinite(lo) else np.ones_like(tau)
    eta = _ETA_D1 * d
    z = np.concatenate([tau, tau + 1j * eta]).astype(complex)
    with np.errstate(all="ignore"):
        v = lphi(z)
    n = tau.size
    return np.asarray((v[n:].imag - v[:n].imag) / eta, dtype=np.float64)


def _saddle(lphi: Callable[[CArray], CArray], y: FArray, strip: tuple[float, float]
            ) -> tuple[FArray, NDArray[np.bool_]]:
    """Solve ``K'(τ) = y`` in the strip (vectorized safeguarded Newton). Returns τ and a flag
    ``ok`` (False where y lies beyond the reach of the strip cap)."""
    lo, hi = strip
    n = y.size
    cap = 1e4
    a = np.full(n, lo + 1e-12 * max(1.0, abs(lo)) if np.isfinite(lo) else -1.0)
    b = np.full(n, hi - 1e-12 * max(1.0, abs(hi)) if np.isfinite(hi) else 1.0)
    # expand infinite brackets (a point whose end already brackets keeps it: only the others
    # are evaluated again)
    if not np.isfinite(lo):
        need = np.ones(n, dtype=bool)
        ka = np.zeros(n)
        for _ in range(40):
            ka[need] = _K1(lphi, a[need], lo)
            need = ka > y
            if not need.any() or a.min() <= -cap:
                break
            a = np.where(need, np.maximum(2.0 * a - 1.0, -cap), a)
    if not np.isfinite(hi):
        need = np.ones(n, dtype=bool)
        kb = np.zeros(n)
        for _ in range(40):
            kb[need] = _K1(lphi, b[need], lo)
            need = kb < y
            if not need.any() or b.max() >= cap:
                break
            b = np.where(need, np.minimum(2.0 * b + 1.0, cap), b)
    ka, kb = _K1(lphi, a, lo), _K1(lphi, b, lo)
    ok = (ka <= y) & (kb >= y)
    k0, k1, k2 = _K12(lphi, np.zeros(1), lo)
    tau = np.clip((y - k1[0]) / max(k2[0], 1e-300), a, b)
    tau = np.where(tau <= a, 0.5 * (a + b), tau)
    tau = np.where(tau >= b, 0.5 * (a + b), tau)
    # safeguarded Newton; a converged point keeps its τ, so only the others are iterated
    act = np.arange(n)
    for _ in range(100):
        ta, ya, aa, ba = tau[act], y[act], a[act], b[act]
        _, k1, k2 = _K12(lphi, ta, lo)
        f = k1 - ya
        aa = np.where(f < 0, ta, aa)
        ba = np.where(f > 0, ta, ba)
        with np.errstate(all="ignore"):
            step = f / k2
        new = ta - step
        bad = ~np.isfinite(new) | (new <= aa) | (new >= ba)
        new = np.where(bad, 0.5 * (aa + ba), new)
        done = (np.abs(f) <= 1e-14 * (1.0 + np.abs(ya))) | (ba - aa <= 1e-15 * (1 + np.abs(ta)))
        a[act], b[act] = aa, ba
        tau[act] = np.where(done, ta, new)
        act = act[~done]
        if act.size == 0:
            break
    return tau, ok


#: the trial distances (fractions of the room in the strip) of the Chernoff step bound
_GRID_F = np.asarray([0.15, 0.3, 0.5, 0.7, 0.85, 0.95])
#: ``-log(1 - f)``: the pole term of the bound where the pole limits the room
_GRID_POLE_W = np.asarray([-np.log1p(-f) for f in (0.15, 0.3, 0.5, 0.7, 0.85, 0.95)])


def _grid_req(lphi: Callable[[CArray], CArray], tau: FArray, y: FArray, k0: FArray,
              k2: FArray, strip: tuple[float, float], pole: str | None,
              gauss: tuple[float, float, float] | None = None) -> tuple[FArray, FArray]:
    """Step T (period) and truncation t_max per point from Chernoff/decay bounds [derived].

    ``gauss = (log mass, mean, sd)``: the integrand is ``Φ - Φ_G`` with ``Φ_G(z) = mass
    e^{mean z + sd² z²/2}``; the aliased mass of the Gaussian part is bounded by the same
    Chernoff argument with ``K_G`` (entire), which matters when the law's own tails are
    lighter than Gaussian (compact support: uniform and beta factors).

    Derivation: docs/theory/p.md#aliasing-and-truncation-of-the-trapezoid-rule-derived.
    """
    lo, hi = strip
    logc = 0.5 * np.log(2 * np.pi * np.maximum(k2, 1e-300))
    big = 60.0
    t_req = np.zeros_like(tau)
    for side in (1.0, -1.0):
        avail = (hi - tau) if side > 0 else (tau - lo)
        limited = np.zeros_like(tau, dtype=bool)
        if pole == "lower" and side > 0:  # integrand 1/(-z), τ < 0: pole at z = 0 above
            limited = -tau < avail
            avail = np.minimum(avail, -tau)
        if pole == "upper" and side < 0:
            limited = tau < avail
            avail = np.minimum(avail, tau)
        avail = np.minimum(avail, big)
        # the six trial distances f·avail at once (the same values as one at a time)
        d = _GRID_F[None, :] * avail[:, None]
        kd = _K(lphi, (tau[:, None] + side * d).ravel()).reshape(d.shape)
        e = (kd - k0[:, None] - side * d * y[:, None] + logc[:, None]
             + np.where(limited[:, None], _GRID_POLE_W[None, :], 0.0))
        with np.errstate(all="ignore"):
            tt = (e + _LREL) / d
        tt = np.where(np.isfinite(tt), tt, np.inf)
        t_req = np.maximum(t_req, np.min(tt, axis=1))
        if gauss is not None:
            lm, mu, sg = gauss
            dg = _GRID_F * big
            zz = tau[:, None] + side * dg[None, :]
            e = (lm + mu * zz + 0.5 * sg * sg * zz * zz - k0[:, None] - side * dg[None, :]
                 * y[:, None] + logc[:, None])
            with np.errstate(all="ignore"):
                tt = (e + _LREL) / dg[None, :]
            t_req = np.maximum(t_req, np.min(np.where(np.isfinite(tt), tt, np.inf), axis=1))
    # truncation: first t beyond which log|Φ(τ+it)|/Φ(τ) * (1+t) stays below exp(-LREL)
    return t_req, _trunc_point(lphi, tau, k0, k2, logc, pole)


def _trunc_point(lphi: Callable[[CArray], CArray], tau: FArray, k0: FArray, k2: FArray,
                 logc: FArray, pole: str | None) -> FArray:
    """The truncation point of :func:`_grid_req`: on the geometric grid ``t_j = min(1.4^j
    min(sd, 1e3), 1e7)`` (``sd = 1/√K''(τ)``), the grid point after the last ``t_j`` at which
    ``log|Φ(τ+it)|/Φ(τ) + log(1+t) + log√(2πK''(τ))`` (less ``log|τ+it|`` with a pole) is still
    above ``-38``; ``inf`` if that is the last grid point. Everything depends on τ alone
    (``k0``, ``k2``, ``logc`` are functions of it), so points sharing a τ share one row, and
    the grid points capped at ``1e7`` share one column (elementwise: the same values as a
    full evaluation)."""
    tu, first, inv = np.unique(tau, return_index=True, return_inverse=True)
    inv = inv.ravel()
    k0u, k2u, lcu = k0[first], k2[first], logc[first]
    sd = 1.0 / np.sqrt(np.maximum(k2u, 1e-300))
    ts = np.minimum(sd, 1e3)[:, None] * (1.4 ** np.arange(0, 72))[None, :]
    ts = np.minimum(ts, 1e7)
    # columns where every row is capped at 1e7 repeat the first fully capped column
    capped = np.all(ts >= 1e7, axis=0)
    ncol = int(np.argmax(capped)) + 1 if capped.any() else ts.shape[1]
    with np.errstate(all="ignore"):
        v = (lphi(tu[:, None] + 1j * ts[:, :ncol]).real - k0u[:, None] + np.log1p(ts[:, :ncol])
             + lcu[:, None])
        if pole is not None:
            v = v - np.log(np.abs(tu[:, None] + 1j * ts[:, :ncol]))
    if ncol < ts.shape[1]:
        v = np.concatenate([v, np.repeat(v[:, -1:], ts.shape[1] - ncol, axis=1)], axis=1)
    above = v > -_LREL
    last = np.where(above.any(axis=1), above.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1), -1)
    idx = np.minimum(last + 1, ts.shape[1] - 1)
    tmax = ts[np.arange(tu.size), idx]
    tmax = np.where(last == ts.shape[1] - 1, np.inf, tmax)
    return np.asarray(tmax[inv], dtype=np.float64)


def _lphi_rows(lphi: Callable[[CArray], CArray], z: CArray, tt: NDArray[Any],
               tu: NDArray[Any], tinv: NDArray[np.intp]) -> CArray:
    """``log Φ`` on the trapezoid nodes ``z = τ_row + i·tt``, evaluated once per distinct τ
    (``tu``, with ``tu[tinv] = τ_row``): points that share a contour (cdf/sf points off the
    bulk whose τ is clipped to the same value, ``∓2/√K''(0)`` or half the strip edge) share Φ
    on it. Elementwise, so the values are those of ``lphi(z)`` bit for bit."""
    if tu.size == z.shape[0]:
        return lphi(z)
    return lphi(tu[:, None] + 1j * tt[None, :])[tinv.ravel()]


_NMAX = 2**17  # cap on trapezoid nodes per point
#: margin on the conditioning term of the mellin error estimate (see ``_mellin_part``)
_COND_FACTOR = 4.0


def _trunc_err(lphi: Callable[[CArray], CArray], tau: FArray, k0: FArray, k2: FArray,
               tmax: FArray, pole: str | None) -> FArray:
    """Estimated truncated tail ``(1/π)∫_{tmax}^∞ |Φ(τ+it)|/Φ(τ) dt`` (in units of the
    factored-out ``Φ(τ)e^{-τy}``), assuming at worst ~1/t² decay beyond tmax [heuristic]."""
    with np.errstate(all="ignore"):
        v = np.exp(lphi(tau + 1j * tmax).real - k0) * (1.0 + tmax) / np.pi
        if pole is not None:
            v = v / np.abs(tau + 1j * tmax)
    return np.where(np.isfinite(v), v, np.inf)


def _mellin_part(lphi: Callable[[CArray], CArray], mass: float, strip: tuple[float, float],
                 log_lower: float, log_upper: float, y: FArray, kind: str
                 ) -> tuple[FArray, FArray, FArray, FArray, FArray]:
    """Numerical inversion for one sign part at ``y = log|x|``.

    Returns ``(dens, lower, upper, relerr, abserr)``: density of ``log|X|`` on the part (so
    the density of |X| is ``dens/|x|``), ``P(part, log|X| ≤ y)``, ``P(part, log|X| > y)``, the
    estimated relative error of the directly computed quantity (the density, or the smaller
    of lower/upper) and its absolute error.
    """
    n = y.size
    dens = np.zeros(n)
    lower = np.zeros(n)
    upper = np.zeros(n)
    err = np.zeros(n)
    aerr = np.zeros(n)
    if n == 0 or mass <= 0:
        return dens, lower, upper, err, aerr
    below = y <= log_lower
    above = y >= log_upper
    lower[above] = mass
    upper[below] = mass
    inside = ~(below | above)
    if not inside.any():
        return dens, lower, upper, err, aerr
    yi = y[inside]
    lo, hi = strip
    tau_s, ok = _saddle(lphi, yi, strip)
    k0z, k1z, k2z = _K12(lphi, np.zeros(1), lo)
    mean = k1z[0]
    sd0 = math.sqrt(max(k2z[0], 1e-300))
    if kind == "pdf":
        tau = tau_s
        pole = np.full(yi.size, "", dtype=object)
    else:
        tmin = 2.0 / sd0
        low_side = yi <= mean
        t_low = np.minimum(tau_s, -tmin)
        t_low = np.where(t_low <= lo, 0.5 * lo if np.isfinite(lo) else -tmin, t_low)
        t_up = np.maximum(tau_s, tmin)
        t_up = np.where(t_up >= hi, 0.5 * hi if np.isfinite(hi) else tmin, t_up)
        tau = np.where(low_side, t_low, t_up)
        pole = np.where(low_side, "lower", "upper").astype(object)
        # bulk: subtract the Gaussian with the same mean/variance, whose cdf is known; the
        # difference has a removable singularity at z = 0, so the contour may pass through the
        # saddlepoint and the step is not limited by the pole [derived]
        gauss = (np.abs(tau_s) * sd0 <= 1.0) & (np.abs(yi - mean) <= 3.0 * sd0) & ok
        tg = np.where(np.abs(tau_s) < 0.05 / sd0, np.where(tau_s < 0, -0.05, 0.05) / sd0, tau_s)
        tau = np.where(gauss, tg, tau)
        pole = np.where(gauss, "gauss", pole).astype(object)
    # saddle out of reach (e.g. a strip edge carried by a negligible mixture weight): stay a
    # fixed fraction inside the strip; the error estimates below account for the choice
    k1a = _K12(lphi, np.asarray([lo + 1e-12 * max(1.0, abs(lo))]), lo)[1][0] if np.isfinite(
        lo) else -np.inf
    edge_lo = ~ok & (yi < k1a)
    if np.isfinite(lo):
        tau = np.where(edge_lo, lo + 0.05 * min(1.0, abs(lo)), tau)
    edge_hi = ~ok & ~edge_lo
    if np.isfinite(hi):
        tau = np.where(edge_hi & (kind == "pdf" or True), np.minimum(tau, hi - 0.05 * min(
            1.0, abs(hi))), tau)
    k0, _, k2 = _K12(lphi, tau, lo)
    res = np.zeros(yi.size)
    rel = np.zeros(yi.size)
    for pk in np.unique(pole):
        sel = pole == pk
        pkind = None if pk == "" else str(pk)
        t_req, tmax = _grid_req(lphi, tau[sel], yi[sel], k0[sel], k2[sel], strip, pkind,
                                (math.log(mass), mean, sd0) if pkind == "gauss" else None)
        h = 2 * np.pi / np.maximum(t_req, 1e-3)
        # no finite step resolves these points (e.g. a factor whose log has compact support
        # with jumps, like U(1, 2)): a dummy grid, and an infinite error estimate below
        unresolved = ~((h > 0) & np.isfinite(h))
        h = np.where(unresolved, 1.0, h)
        tmax = np.minimum(tmax, _NMAX * h)
        unresolved |= ~np.isfinite(tmax)
        tmax = np.where(unresolved, 8.0, tmax)
        trunc = _trunc_err(lphi, tau[sel], k0[sel], k2[sel], tmax, pkind)
        # group by powers of two of h and node count
        hq = 2.0 ** np.floor(np.log2(h))
        # nodes from the *rounded-down* step so that hq * nq >= tmax always
        nq = 2.0 ** np.ceil(np.log2(np.maximum(tmax / hq, 8.0)))
        idx_sel = np.flatnonzero(sel)
        vals = np.zeros(idx_sel.size)
        rerr = np.zeros(idx_sel.size)
        keys = np.stack([hq, nq], axis=1)
        for key in np.unique(keys, axis=0):
            g = np.all(keys == key, axis=1)
            hh, nnode = float(key[0]), int(key[1])
            ta, ya, ka = tau[sel][g][:, None], yi[sel][g][:, None], k0[sel][g][:, None]
            s = np.zeros(ta.shape[0])
            sabs = np.zeros(ta.shape[0])
            tu, tinv = np.unique(ta[:, 0], return_inverse=True)
            chunk = max(64, int(2_000_000 // max(ta.shape[0], 1)))
            for start in range(0, nnode + 1, chunk):
                tt = hh * np.arange(start, min(nnode + 1, start + chunk))
                z = ta + 1j * tt[None, :]
                with np.errstate(all="ignore"):
                    if pkind == "gauss":
                        lg = math.log(mass) + mean * z + 0.5 * sd0**2 * z * z
                        lz = _lphi_rows(lphi, z, tt, tu, tinv)
                        dz = lz - lg
                        near = np.abs(dz) < 0.5
                        ph = np.exp(-1j * tt[None, :] * ya)
                        # Φ - Φ_G = Φ_G expm1(log Φ - log Φ_G) where the two are close (only
                        # there is expm1 evaluated), else the plain difference
                        eg = np.exp(lg - ka)
                        diff = np.exp(lz - ka) - eg
                        diff[near] = eg[near] * np.expm1(dz[near])
                        terms = diff * ph / (-z)
                    else:
                        lz = _lphi_rows(lphi, z, tt, tu, tinv)
                        terms = np.exp(lz - ka - 1j * tt[None, :] * ya)
                    if pkind == "lower":
                        terms = terms / (-z)
                    elif pkind == "upper":
                        terms = terms / z
                terms = np.where(np.isfinite(terms), terms, 0.0)
                w = np.full(tt.size, hh / np.pi)
                if start == 0:
                    w[0] *= 0.5
                s += terms.real @ w
                sabs += np.abs(terms) @ w
            with np.errstate(all="ignore"):
                scale = np.exp(ka[:, 0] - ta[:, 0] * ya[:, 0])
                vals[g] = s * scale
                rerr[g] = (4e-16 * np.sqrt(nnode + 1.0) * sabs) * scale  # absolute
        with np.errstate(all="ignore"):
            rerr = rerr + trunc * np.exp(k0[sel] - tau[sel] * yi[sel])  # absolute
        # values that underflow float64 (scale below e^-700) are 0 to within 1e-300
        rerr = np.where(k0[sel] - tau[sel] * yi[sel] < -700.0, 0.0, rerr)
        res[sel] = vals
        rel[sel] = np.where(unresolved, np.inf, rerr)
    gauss_res = res.copy()
    res = np.maximum(res, 0.0)
    # conditioning [derived]: the value is Φ(τ)e^{-τy} times an O(1) sum whose terms carry
    # e^{log Φ(τ+it) - log Φ(τ) - ity}; float logs of size |K(τ)|, |τy| and |ty| (t up to a
    # few 1/√K''(τ)) have absolute errors ε·(size), which become relative errors of the
    # result. Calibrated against 30-digit mpmath (tests/theory/test_hardening.py): the
    # observed error is 0.3-0.7 ε(|K(τ)| + |τy|); a factor 4 is kept as margin.
    cond = _COND_FACTOR * 2.220446049250313e-16 * (
        np.abs(k0) + np.abs(tau * yi) + np.abs(yi) / np.sqrt(np.maximum(k2, 1e-300)) + 1.0)
    cond = np.where(np.isfinite(cond), cond, np.inf)
    cond = np.where(k0 - tau * yi < -700.0, 0.0, cond)  # the value underflows (as rerr above)
    rabs = rel  # absolute error estimate of the directly computed quantity (before rounding)
    with np.errstate(all="ignore"):
        rel_direct = np.where(rel == 0, 0.0, rel / np.maximum(res, 1e-300)) + 1e-16 + cond
    if kind == "pdf":
        dens[inside] = res
        rel = rel_direct
        aerr[inside] = rabs + (1e-16 + cond) * res
    else:
        g = pole == "gauss"
        gcdf = mass * ndtr((yi - mean) / sd0)
        lw = np.where(pole == "lower", res, mass - res)
        up = np.where(pole == "upper", res, mass - res)
        lw = np.where(g, gcdf + gauss_res, lw)
        up = np.where(g, mass - lw, up)
        small = np.where(g, np.minimum(lw, mass - lw), res)  # the directly computed quantity
        with np.errstate(all="ignore"):
            rel = np.where(g, rel / np.maximum(np.minimum(lw, mass - lw), 1e-300) + 1e-16
                           + cond, rel_direct)
            aerr[inside] = rabs + (1e-16 + cond) * np.abs(small)
        lower[inside] = np.clip(lw, 0.0, mass)
        upper[inside] = np.clip(up, 0.0, mass)
    err[inside] = rel
    return dens, lower, upper, err, aerr


def _eval_mellin(law: Law, kind: str, x: FArray) -> tuple[FArray, FArray]:
    _check_continuous(law)
    lower = np.zeros_like(x)
    upper = np.zeros_like(x)
    dens = np.zeros_like(x)
    err = np.zeros_like(x)
    aerr = np.zeros_like(x)
    ax = np.abs(x)
    nz = x != 0
    orig = law
    if _needs_rescale(law):
        # law = 2^e · U: P(X ≤ x) = P(U ≤ x/2^e); the density of log|X| at log|x| is that of
        # log|U| at log|x| - e log 2, so pdf_X(x) = g_U(log|x/2^e|)/|x| [derived]
        e_shift, law = _unit_split(law)
        y = _log_abs_shifted(np.where(nz, ax, 1.0), e_shift)
    else:
        with np.errstate(divide="ignore"):
            y = np.log(np.where(nz, ax, 1.0))
    for sign, sel, mass in _sign_parts(law, x, nz):
        d, lw, up, e, ae = _mellin_part(_part_lphi(law, sign), mass, law.strip,
                                        law.log_lower, law.log_upper, y[sel], kind)
        dens[sel], lower[sel], upper[sel], err[sel], aerr[sel] = d, lw, up, e, ae
    if kind == "pdf" and (~nz).any():
        dens[~nz] = sum(_pdf_at_zero(orig, s) for s in (1, -1)) if not orig.symmetric else 2 * \
            _pdf_at_zero(orig, 1)
    vals = _assemble(law, kind, x, lower, upper, dens)
    if kind != "pdf":
        # the error relative to the returned value (e.g. 1 - upper when the upper tail was
        # computed directly): absolute error of the part / value, plus the final rounding
        with np.errstate(all="ignore"):
            err = np.where(aerr == 0, np.where(err > 0, 2.3e-16, 0.0),
                           aerr / np.abs(vals) + 2.3e-16)
        err = np.where(np.isnan(err), np.inf, err)
    return vals, err


def _eval_mellin_mp(law: Law, kind: str, x: FArray, dps: int) -> NDArray[Any]:
    _check_continuous(law)
    out = np.empty(x.shape, dtype=object)
    res = out.ravel()
    for i, xi in enumerate(x.ravel()):
        res[i] = _mellin_mp_point(law, kind, float(xi), dps)
    return out


def _quad_bisect(f: Callable[[Any], Any], pts: list[Any], eps: Any, depth: int = 14,
                 budget: int = 600) -> Any:
    """``∫ f`` over the segments ``pts`` (the last may end at ``mp.inf``) by mpmath
    tanh-sinh, halving every finite segment until the two halves agree with the whole to
    ``eps`` relative to the integral (tanh-sinh on a long segment of an oscillating integrand
    can be wrong at 1e-10 without warning: the 3-normal sf at x = 1000 was). At most
    ``budget`` segment halvings, then ValueError (as when ``depth`` is exhausted)."""
    pieces = [mp.quad(f, [a, b]) for a, b in zip(pts[:-1], pts[1:], strict=True)]
    scale = abs(mp.fsum(pieces))
    total = mp.mpf(0)
    stack = [(a, b, v, 0) for a, b, v in zip(pts[:-1], pts[1:], pieces, strict=True)]
    while stack:
        a, b, whole, d = stack.pop()
        if b == mp.inf:
            # the tail beyond the truncation point: move the cut out until what is left is
            # negligible, checking the finite pieces like the others (a slowly decaying,
            # oscillating tail, e.g. of a single uniform factor, never gets there: raise)
            c = 2 * a + 1
            far = mp.quad(f, [c, mp.inf])
            budget -= 1
            if budget <= 0:
                raise ValueError("the contour integral does not converge to the requested "
                                 "precision (slowly decaying Mellin transform)")
            stack.append((a, c, mp.quad(f, [a, c]), 0))
            if abs(far) <= eps * scale:
                total += far
            else:
                stack.append((c, mp.inf, far, d))
            continue
        m = (a + b) / 2
        left, right = mp.quad(f, [a, m]), mp.quad(f, [m, b])
        budget -= 1
        if abs(left + right - whole) <= eps * max(scale, abs(whole)):
            total += left + right
        elif d >= depth or budget <= 0:
            raise ValueError("the contour integral does not converge to the requested "
                             "precision (adaptive quadrature depth exhausted)")
        else:
            stack.extend([(a, m, left, d + 1), (m, b, right, d + 1)])
    return total


def _mellin_mp_point(law: Law, kind: str, xi: float, dps: int) -> Any:
    with mp.workdps(dps + 10):
        if xi == 0:
            if kind == "pdf":
                return mp.mpf(_pdf_at_zero(law, 1) * (2 if law.symmetric else 1))
            ppos, pneg, p0 = _mp_masses(law)
            return pneg + p0 if kind == "cdf" else ppos
        sign = 1 if xi > 0 else -1
        y = math.log(abs(xi))
        mass_f = law.p_pos if law.symmetric else _part_mass(law, sign)
        ppos, pneg, p0 = _mp_masses(law)
        mass = (ppos if sign > 0 else pneg) if mass_f > 0 else mp.mpf(0)
        if mass_f == 0 or y >= law.log_upper or y <= law.log_lower:
            dens = mp.mpf(0)
            low = mass if (mass_f > 0 and y >= law.log_upper) else mp.mpf(0)
            direct = "lower"
            val = low
        else:
            lphi = _part_lphi(law, sign)
            tau_s, _ = _saddle(lphi, np.asarray([y]), law.strip)
            k0z, k1z, k2z = _K12(lphi, np.zeros(1), law.strip[0])
            if kind == "pdf":
                tau, direct = float(tau_s[0]), "pdf"
            else:
                tmin = 2.0 / math.sqrt(k2z[0])
                lo, hi = law.strip
                if y <= k1z[0]:
                    tau = min(float(tau_s[0]), -tmin)
                    tau = 0.5 * lo if tau <= lo else tau
                    direct = "lower"
                else:
                    tau = max(float(tau_s[0]), tmin)
                    tau = 0.5 * hi if tau >= hi else tau
                    direct = "upper"
            k0, _, k2 = _K12(lphi, np.asarray([tau]), law.strip[0])
            _, tmax = _grid_req(lphi, np.asarray([tau]), np.asarray([y]), k0, k2, law.strip,
                                None if direct == "pdf" else direct)
            if not np.isfinite(tmax[0]):
                # |Φ(τ+it)| has not fallen to e^-38 of Φ(τ) by t = 1e7 (algebraic decay, e.g.
                # a single uniform or beta factor): no quadrature reaches dps digits
                raise ValueError("the contour integral does not converge to the requested "
                                 "precision (slowly decaying Mellin transform)")
            tm = float(tmax[0])
            mtau = mp.mpf(tau)
            my = mp.log(abs(mp.mpf(repr(xi))))

            def phi(z: Any) -> Any:
                a, b = law._mp_parts(z)
                return (a + b) / 2 if law.symmetric else (a if sign > 0 else b)

            # mp.quad stops at an *absolute* error of about mp.eps: integrate the integrand
            # divided by its size Φ(τ)e^{-τy} at t = 0 (tails are 1e-67 and less) [derived]
            unit = abs(phi(mp.mpf(mtau)) * mp.exp(-mtau * my))

            def f(t: Any) -> Any:
                z = mp.mpc(mtau, t)
                v = phi(z) * mp.exp(-z * my) / unit
                if direct == "lower":
                    v = v / (-z)
                elif direct == "upper":
                    v = v / z
                return mp.re(v)

            # breakpoints on the scale of the tilted law (1/sqrt(K'')) up to the truncation point
            sdt = 1.0 / math.sqrt(max(float(k2[0]), 1e-300))
            tm = max(tm, 4 * sdt)
            geo = [sdt * 2.0**j for j in range(-3, 60) if sdt * 2.0**j < tm]
            pts = [mp.mpf(0)] + [mp.mpf(v) for v in geo] + [mp.mpf(tm), mp.inf]
            val = unit * _quad_bisect(f, pts, mp.mpf(10) ** (-(dps + 3))) / mp.pi
            dens = val
        if kind == "pdf":
            return dens / abs(mp.mpf(repr(xi)))
        # keep the directly computed tail: no 1 - (1 - tail) round trip
        low, up = (mass - val, val) if direct == "upper" else (val, mass - val)
        if sign > 0:
            return pneg + p0 + low if kind == "cdf" else up
        return up if kind == "cdf" else ppos + p0 + low
