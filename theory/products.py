"""Exact laws of products of independent random variables (Mellin calculus).

``product(law, n)`` / ``product([law1, law2, ...])`` return a :class:`Product`, itself a
:class:`flatstart.theory.laws.Law`, whose ``pdf``, ``cdf``, ``sf`` are evaluated by one of five
paths
(each callable alone through ``method=``):

``"mellin"``
    numerical Mellin inversion [derived; ref: Gil-Pelaez 1951, Abate & Whitt 1992]: with
    ``Y = log|X|`` on a sign part and ``Φ(z) = E[|X|^z; part] = M(1+z)``,
    ``g(y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} dt``, and for the cdf
    ``P(Y ≤ y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} / (-(τ+it)) dt`` (``τ < 0``),
    ``P(Y > y) = (1/2π)∫ Φ(τ+it) e^{-(τ+it)y} / (τ+it) dt`` (``τ > 0``). The contour is
    shifted to the saddlepoint ``K'(τ) = y`` (``K = log Φ``), which is the Gil-Pelaez integral
    moved inside the strip of analyticity, so the integrand does not oscillate near ``t = 0``
    and the deep tails keep relative accuracy. The trapezoid rule converges exponentially; its
    step ``h = 2π/T`` is chosen from Chernoff bounds on the aliased mass at distance ``T`` and
    the truncation point from the decay of ``|Φ(τ+it)|``. Vectorized over all points.
``"meijer"``
    exact Meijer G (Springer & Thompson 1970) with ``mpmath.meijerg``; slow scalar reference.
``"saddlepoint"``
    Lugannani–Rice (1980) tail approximation with ``K(τ) = log M(1+τ)``.
``"clt"``
    log-CLT ``log|X| ≈ N(κ₁, κ₂)`` with the Berry–Esseen bound (Shevtsova 2011: C ≤ 0.4748
    iid; 0.5600 non-identical) returned as the error estimate.
``"closed"``
    closed forms: one factor (scipy.stats); two normals ``K₀(|x|/σ₁σ₂)/(πσ₁σ₂)`` and, with
    ``z = |x|/σ₁σ₂``, ``P(σ₁X·σ₂Y > z σ₁σ₂) = ½ - (z/2)[K₀(z)L₋₁(z) + K₁(z)L₀(z)]`` (A&S 11.1.8;
    only where the tail does not cancel below ``rtol``: ``z <= 12.5`` and probability
    ``>= 1e-15/rtol``; elsewhere ValueError); products of uniforms
    ``-log(|X|/A) ~ Gamma(n, 1)`` (Dettmann & Georgiou 2009).

``method="auto"`` (default) picks ``closed`` when one exists for the request (per point for
the cdf/sf of two normals: tail points the closed form cannot reach go to mellin), else ``mellin``;
points where the mellin error estimate exceeds ``rtol`` are recomputed with ``meijer`` (when
the law has a Meijer-G form) and otherwise raise ValueError. Pass ``info=True`` to get
``(values, Info)`` with the method used and the error estimate. ``dps=`` switches to mpmath
arithmetic (``meijer`` or an mpmath quadrature of the same contour integral) and returns mpf.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np
import scipy.special as sc
import scipy.stats as st
import sympy as sp
from numpy.typing import NDArray
from scipy.special import ndtr

from flatstart._checks import check_choice, check_int, check_positive, check_real
from flatstart.theory.asymptotics import BERRY_ESSEEN_IID, BERRY_ESSEEN_NON_IID
from flatstart.theory.laws import (
    Abs,
    Beta,
    CArray,
    ChiSquare,
    FArray,
    Gamma,
    Law,
    Mixture,
    Normal,
    PointMass,
    Power,
    Scaled,
    Terms,
    Uniform,
    _NoMeijer,
    clogaddexp,
    exact,
    iid_parts_lphi,
    merge_terms,
    multiply_terms,
    product_parts_lphi,
)

__all__ = [
    "Info",
    "Product",
    "evaluate",
    "log_cumulant",
    "moment",
    "product",
    "quantile",
    "sympy_pdf",
]

METHODS = ("auto", "meijer", "mellin", "saddlepoint", "clt", "closed")
KINDS = ("pdf", "cdf", "sf")
#: Above this many factors a product's log-cumulants are summed over its factors (exact) instead
#: of read off its Gamma-ratio (Meijer-G) form, whose parameter lists grow with the count.
MANY_FACTORS = 1000
#: ``log`` of the smallest subnormal and of the largest float64.
_LOG_FLOAT_RANGE = (math.log(5e-324), math.log(1.7976931348623157e308))
BERRY_ESSEEN_NONID = BERRY_ESSEEN_NON_IID  # one constant, in flatstart.theory.asymptotics


@dataclass
class Info:
    """What an evaluation did.

    Attributes:
        method: path used (``"mixed"`` when points used different paths; see ``methods``).
        error: estimated max error: relative (to the returned value) for
            ``mellin``/``meijer``/``closed``, absolute (Berry–Esseen) for ``clt``, ``nan``
            (no bound) for ``saddlepoint``. For ``mellin`` it is round-off + truncation +
            a conditioning term ``4ε(|K(τ)| + |τ log|x|| + ...)``, calibrated to bound the
            true error against 30-digit mpmath (tests/theory/test_hardening.py).
        methods: per-point path names (same shape as the input).
        rel_error: per-point estimated relative error (mellin), else None.
    """

    method: str
    error: float
    methods: NDArray[Any] | None = None
    rel_error: FArray | None = None
    notes: list[str] = field(default_factory=list)


# ============================================================================================
# Product
# ============================================================================================


class Product(Law):
    """Law of ``∏ X_i^{(n_i copies)}`` for independent factors (itself a Law).

    Mellin calculus [ref]: ``M₊(XY) = M₊ˣM₊ʸ + M₋ˣM₋ʸ``, ``M₋(XY) = M₊ˣM₋ʸ + M₋ˣM₊ʸ``;
    ``P(XY = 0) = 1 - (1-p₀ˣ)(1-p₀ʸ)``; if any factor is symmetric the product is symmetric.

    >>> X = product(Normal(1.0), 2)
    >>> round(float(X.pdf(1.0)), 12) == round(float(sc.k0(1.0) / np.pi), 12)
    True
    """

    def __init__(self, factors: Sequence[tuple[Law, int]]) -> None:
        groups: dict[str, tuple[Law, int]] = {}
        for law, n in factors:
            key = repr(law)
            groups[key] = (law, groups[key][1] + n) if key in groups else (law, n)
        self.factors: list[tuple[Law, int]] = list(groups.values())
        fs = self.factors
        q = 1.0
        pp, pn = 1.0, 0.0
        for law, n in fs:
            q *= (1.0 - law.p0) ** n
            for _ in range(min(n, 2) if law.symmetric else n):
                pp, pn = pp * law.p_pos + pn * law.p_neg, pp * law.p_neg + pn * law.p_pos
        self.p0 = 1.0 - q
        self.symmetric = any(law.symmetric for law, _ in fs) or q == 0
        if self.symmetric:
            self.p_pos = self.p_neg = q / 2.0
        else:
            self.p_pos, self.p_neg = pp, pn
        self.strip = (max(law.strip[0] for law, _ in fs), min(law.strip[1] for law, _ in fs))
        self.log_lower = math.fsum(n * law.log_lower for law, n in fs) if all(
            np.isfinite(law.log_lower) for law, _ in fs) else -np.inf
        self.log_upper = math.fsum(n * law.log_upper for law, n in fs) if all(
            np.isfinite(law.log_upper) for law, _ in fs) else np.inf
        self.nonzero_atom = all(law.nonzero_atom for law, _ in fs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{law!r}" + (f" x{n}" if n > 1 else "") for law, n in self.factors)
        return f"Product([{inner}])"

    @property
    def count(self) -> int:
        """Total number of factors."""
        return sum(n for _, n in self.factors)

    def lphi_abs(self, z: CArray) -> CArray:
        z = np.asarray(z, dtype=complex)
        if self.symmetric:
            tot = np.zeros(z.shape, dtype=complex)
            for law, n in self.factors:
                tot = tot + n * law.lphi_abs(z)
            return tot
        return clogaddexp(*self._lphi(z))

    def _lphi(self, z: CArray) -> tuple[CArray, CArray]:
        z = np.asarray(z, dtype=complex)
        if self.symmetric:
            tot = np.zeros(z.shape, dtype=complex)
            for law, n in self.factors:
                tot = tot + n * law.lphi_abs(z)
            h = np.asarray(tot - math.log(2.0), dtype=complex)
            return h, h
        parts = [iid_parts_lphi(*law._lphi(z), n, law.symmetric) for law, n in self.factors]
        return product_parts_lphi(parts)

    def _mp_parts(self, z: Any) -> tuple[Any, Any]:
        p, m = mp.mpf(1), mp.mpf(0)
        for law, n in self.factors:
            a, b = law._mp_parts(z)
            s, d = (a + b) ** n, (a - b) ** n
            a, b = (s + d) / 2, (s - d) / 2
            p, m = p * a + m * b, p * b + m * a
        return p, m

    def _sym_parts(self, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        p: sp.Expr = sp.Integer(1)
        m: sp.Expr = sp.Integer(0)
        for law, n in self.factors:
            a, b = law._sym_parts(s)
            tot, diff = (a + b) ** n, (a - b) ** n
            a, b = (tot + diff) / 2, (tot - diff) / 2
            p, m = p * a + m * b, p * b + m * a
        return p, m

    def _terms(self) -> Terms:
        if self.count > MANY_FACTORS:  # a Meijer G with one parameter per factor: no use
            raise _NoMeijer(f"{self.count} factors: more than {MANY_FACTORS} for a Meijer-G form")
        out: Terms = [(1, _unit_term())]
        for law, n in self.factors:
            t = law._terms()
            for _ in range(n):
                out = multiply_terms(out, t)
        return merge_terms(out)

    def _draw(self, n: int, rng: np.random.Generator) -> FArray:
        out = np.ones(n)
        for law, k in self.factors:
            for _ in range(k):
                out = out * law._draw(n, rng)
        return out

    def log_cumulant(self, k: Any, **kw: Any) -> Any:
        """Cumulants of ``log|X|`` add over independent factors: ``κ_k = Σ n_i κ_k(X_i)``."""
        k = check_int("k", k, minimum=1)
        dps = kw.get("dps")
        with mp.workdps(int(dps or 30) + 5):
            tot = mp.fsum(n * mp.mpf(law.log_cumulant(k, dps=int(dps or 30) + 5))
                          for law, n in self.factors)
        return tot if dps else float(tot)


def _unit_term() -> Any:
    from fractions import Fraction  # noqa: F401

    from flatstart.theory.laws import GammaRatio

    return GammaRatio(sp.Integer(1), sp.Integer(1), None, (), ())


def product(laws: Law | Sequence[Law], count: int | None = None) -> Product:
    """Law of a product of independent factors.

    Args:
        laws: one Law (then ``count`` iid copies) or a sequence of Laws (one copy each).
        count: number of iid copies when ``laws`` is a single Law (default 1).

    >>> product(Normal(1.0), 3).count
    3
    """
    if isinstance(laws, Law):
        n = 1 if count is None else check_int("count", count, minimum=1)
        return Product([(laws, n)])
    if count is not None:
        raise ValueError(f"count is only allowed with a single law, got count={count!r}")
    try:
        items = list(laws)
    except TypeError as exc:
        raise TypeError(f"laws must be a Law or a sequence of Laws, got {laws!r}") from exc
    if not items:
        raise ValueError("laws must be a non-empty sequence of Laws, got []")
    for i, law in enumerate(items):
        if not isinstance(law, Law):
            raise TypeError(f"laws[{i}] must be a Law, got {law!r}")
    return Product([(law, 1) for law in items])


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


def _saddle(lphi: Callable[[CArray], CArray], y: FArray, strip: tuple[float, float]
            ) -> tuple[FArray, NDArray[np.bool_]]:
    """Solve ``K'(τ) = y`` in the strip (vectorized safeguarded Newton). Returns τ and a flag
    ``ok`` (False where y lies beyond the reach of the strip cap)."""
    lo, hi = strip
    n = y.size
    cap = 1e4
    a = np.full(n, lo + 1e-12 * max(1.0, abs(lo)) if np.isfinite(lo) else -1.0)
    b = np.full(n, hi - 1e-12 * max(1.0, abs(hi)) if np.isfinite(hi) else 1.0)
    # expand infinite brackets
    if not np.isfinite(lo):
        for _ in range(40):
            k1 = _K12(lphi, a, lo)[1]
            need = k1 > y
            if not need.any() or a.min() <= -cap:
                break
            a = np.where(need, np.maximum(2.0 * a - 1.0, -cap), a)
    if not np.isfinite(hi):
        for _ in range(40):
            k1 = _K12(lphi, b, lo)[1]
            need = k1 < y
            if not need.any() or b.max() >= cap:
                break
            b = np.where(need, np.minimum(2.0 * b + 1.0, cap), b)
    ka, kb = _K12(lphi, a, lo)[1], _K12(lphi, b, lo)[1]
    ok = (ka <= y) & (kb >= y)
    k0, k1, k2 = _K12(lphi, np.zeros(1), lo)
    tau = np.clip((y - k1[0]) / max(k2[0], 1e-300), a, b)
    tau = np.where(tau <= a, 0.5 * (a + b), tau)
    tau = np.where(tau >= b, 0.5 * (a + b), tau)
    for _ in range(100):
        _, k1, k2 = _K12(lphi, tau, lo)
        f = k1 - y
        a = np.where(f < 0, tau, a)
        b = np.where(f > 0, tau, b)
        with np.errstate(all="ignore"):
            step = f / k2
        new = tau - step
        bad = ~np.isfinite(new) | (new <= a) | (new >= b)
        new = np.where(bad, 0.5 * (a + b), new)
        done = (np.abs(f) <= 1e-14 * (1.0 + np.abs(y))) | (b - a <= 1e-15 * (1 + np.abs(tau)))
        tau = np.where(done, tau, new)
        if done.all():
            break
    return tau, ok


def _grid_req(lphi: Callable[[CArray], CArray], tau: FArray, y: FArray, k0: FArray,
              k2: FArray, strip: tuple[float, float], pole: str | None,
              gauss: tuple[float, float, float] | None = None) -> tuple[FArray, FArray]:
    """Step T (period) and truncation t_max per point from Chernoff/decay bounds [derived].

    ``gauss = (log mass, mean, sd)``: the integrand is ``Φ - Φ_G`` with ``Φ_G(z) = mass
    e^{mean z + sd² z²/2}``; the aliased mass of the Gaussian part is bounded by the same
    Chernoff argument with ``K_G`` (entire), which matters when the law's own tails are
    lighter than Gaussian (compact support: uniform and beta factors)."""
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
        best = np.full_like(tau, np.inf)
        for f in (0.15, 0.3, 0.5, 0.7, 0.85, 0.95):
            d = f * avail
            kd = _K(lphi, tau + side * d)
            e = kd - k0 - side * d * y + logc + np.where(limited, -np.log1p(-f), 0.0)
            with np.errstate(all="ignore"):
                tt = (e + _LREL) / d
            tt = np.where(np.isfinite(tt), tt, np.inf)
            best = np.minimum(best, tt)
        t_req = np.maximum(t_req, best)
        if gauss is not None:
            lm, mu, sg = gauss
            best = np.full_like(tau, np.inf)
            for f in (0.15, 0.3, 0.5, 0.7, 0.85, 0.95):
                dg = f * big
                zz = tau + side * dg
                e = lm + mu * zz + 0.5 * sg * sg * zz * zz - k0 - side * dg * y + logc
                with np.errstate(all="ignore"):
                    tt = (e + _LREL) / dg
                best = np.minimum(best, np.where(np.isfinite(tt), tt, np.inf))
            t_req = np.maximum(t_req, best)
    # truncation: first t beyond which log|Φ(τ+it)|/Φ(τ) * (1+t) stays below exp(-LREL)
    sd = 1.0 / np.sqrt(np.maximum(k2, 1e-300))
    ts = np.minimum(sd, 1e3)[:, None] * (1.4 ** np.arange(0, 72))[None, :]
    ts = np.minimum(ts, 1e7)
    with np.errstate(all="ignore"):
        v = lphi(tau[:, None] + 1j * ts).real - k0[:, None] + np.log1p(ts) + logc[:, None]
        if pole is not None:
            v = v - np.log(np.abs(tau[:, None] + 1j * ts))
    above = v > -_LREL
    last = np.where(above.any(axis=1), above.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1), -1)
    idx = np.minimum(last + 1, ts.shape[1] - 1)
    tmax = ts[np.arange(tau.size), idx]
    tmax = np.where(last == ts.shape[1] - 1, np.inf, tmax)
    return t_req, tmax


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
            chunk = max(64, int(2_000_000 // max(ta.shape[0], 1)))
            for start in range(0, nnode + 1, chunk):
                tt = hh * np.arange(start, min(nnode + 1, start + chunk))
                z = ta + 1j * tt[None, :]
                with np.errstate(all="ignore"):
                    if pkind == "gauss":
                        lg = math.log(mass) + mean * z + 0.5 * sd0**2 * z * z
                        lz = lphi(z)
                        dz = lz - lg
                        near = np.abs(dz) < 0.5
                        ph = np.exp(-1j * tt[None, :] * ya)
                        terms = np.where(near, np.exp(lg - ka) * np.expm1(np.where(near, dz, 0)),
                                         np.exp(lz - ka) - np.exp(lg - ka)) * ph / (-z)
                    else:
                        terms = np.exp(lphi(z) - ka - 1j * tt[None, :] * ya)
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


def _pdf_at_zero(law: Law, sign: int) -> float:
    """Density of the part at x = 0: the residue ``lim_{z→-1} (1+z) Φ(z)`` [derived]; 0 when
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
    """``(e, U)`` with ``law = 2^e · U`` in distribution and the scale of ``U`` in [½, 1).

    ``M_{cX}(s) = c^{s-1} M_X(s)`` [ref: Springer 1979, ch. 6]: a product of scaled factors is
    ``(∏ c_i) ∏ X_i``; with ``c = 2^e`` the division is exact in binary floating point, so
    ``log|x| - e log 2`` (computed from the binary exponent of x) and ``Φ_U`` carry no large,
    cancelling terms ``±(τ + it) log c`` [derived]. Laws without a scale (Beta, mixtures,
    non-integer powers) return ``(0, law)``.
    """
    def e_of(v: float) -> int:
        return math.frexp(abs(v))[1] if v != 0 else 0

    if isinstance(law, Product):
        parts = [(_unit_split(f), n) for f, n in law.factors]
        if all(e == 0 for (e, _), _ in parts):
            return 0, law
        return sum(e * n for (e, _), n in parts), Product([(u, n) for (_, u), n in parts])
    if isinstance(law, Normal):
        e = e_of(law.sigma)
        return e, Normal(math.ldexp(law.sigma, -e))
    if isinstance(law, ChiSquare):
        e = e_of(law.scale)
        return e, ChiSquare(law.dof, math.ldexp(law.scale, -e))
    if isinstance(law, Gamma):
        e = e_of(law.theta)
        return e, Gamma(law.k, math.ldexp(law.theta, -e))
    if isinstance(law, Uniform):
        e = e_of(max(abs(law.a), abs(law.b)))
        a, b = math.ldexp(law.a, -e), math.ldexp(law.b, -e)
        if math.ldexp(a, e) != law.a or math.ldexp(b, e) != law.b:  # an end point underflows
            return 0, law
        return e, Uniform(a, b)
    if isinstance(law, PointMass):
        e = e_of(law.c)
        return e, PointMass(math.ldexp(law.c, -e))
    if isinstance(law, Scaled):
        ei, inner = _unit_split(law.law)
        ec = e_of(law.c)
        mc = math.ldexp(law.c, -ec)
        return ei + ec, (inner if mc == 1.0 else Scaled(inner, mc))
    if isinstance(law, Abs):
        ei, inner = _unit_split(law.law)
        return ei, Abs(inner)
    if isinstance(law, Power) and float(law.a).is_integer():
        ei, inner = _unit_split(law.law)
        return int(law.a) * ei, Power(inner, law.a, signed=not law.fold)
    return 0, law


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
    signs = [1] if law.symmetric else [1, -1]
    for sign in signs:
        sel = nz if law.symmetric else (x > 0 if sign > 0 else x < 0)
        if not sel.any():
            continue
        mass = law.p_pos if law.symmetric else _part_mass(law, sign)
        d, lw, up, e, ae = _mellin_part(_part_lphi(law, sign), mass, law.strip,
                                        law.log_lower, law.log_upper, y[sel], kind)
        dens[sel], lower[sel], upper[sel], err[sel], aerr[sel] = d, lw, up, e, ae
    if kind == "pdf" and (~nz).any():
        dens[~nz] = sum(_pdf_at_zero(orig, s) for s in signs) if not orig.symmetric else 2 * \
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


def _check_continuous(law: Law) -> None:
    if law.nonzero_atom:
        raise ValueError(f"{short(law)} has an atom away from zero; pdf/cdf of such laws are only "
                         "available for a single PointMass (atoms at 0 are supported)")


# ============================================================================================
# (a) Meijer G (mpmath)
# ============================================================================================


def _mp(x: sp.Expr) -> Any:
    return mp.mpmathify(sp.N(x, mp.mp.dps + 10))


MEIJER_TIMEOUT_S = 20.0
#: ``log`` of the series length (``z^{1/(q-p)}`` terms) beyond which Meijer G is not tried:
#: ten times the ``maxterms=20000`` that :func:`_meijerg` passes to mpmath
_MEIJER_LOG_TERMS = math.log(2e5)
#: most digits added to recompute an upper tail that cancels in ``mass - lower`` (Meijer G)
_MEIJER_EXTRA_DIGITS = 60


class _Timeout(Exception):
    pass


def _meijerg(a: Any, b: Any, z: Any) -> Any:
    """``mpmath.meijerg`` with a wall-clock budget of :data:`MEIJER_TIMEOUT_S` (mpmath can run
    for minutes near singular points or for many equal parameters).

    The budget is checked by a call tracer (:func:`sys.settrace`) installed for this thread
    only while mpmath runs, and the caller's tracer is restored afterwards; no signal, timer
    or other process-global state is touched, so the caller's own alarms keep working.
    """
    import sys
    import time

    deadline = time.monotonic() + MEIJER_TIMEOUT_S
    calls = [0]

    def tracer(frame: Any, event: str, arg: Any) -> None:
        calls[0] += 1
        if calls[0] % 256 == 0 and time.monotonic() > deadline:
            raise _Timeout(f"mpmath.meijerg exceeded {MEIJER_TIMEOUT_S} s")
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        return mp.meijerg(a, b, z, maxterms=20000)
    finally:
        sys.settrace(old)


def _meijer_part(terms: Terms, sign: int, ax: Any, kind: str) -> Any:
    """Σ over terms of one sign: density of |X| (kind pdf) or lower cdf at ``ax`` (mpf)."""
    tot = mp.mpf(0)
    for sg, t in terms:
        if sg != sign:
            continue
        if t.beta is None or len(t.b) == 0:
            raise _NoMeijer("term without Gamma functions (point mass)")
        beta = mp.mpf(t.beta.numerator) / t.beta.denominator
        rho = _mp(t.rho)
        zeta = (ax / rho ** beta) ** (1 / beta) if False else (ax ** (1 / beta)) / rho ** (1 / beta)
        bs = [_mp(b) for b in t.b]
        as_ = [_mp(a) for a in t.a]
        if len(as_) == len(bs) and abs(zeta - 1) < 0.02:
            raise _NoMeijer("argument within 2% of the singular point z = 1 of G_{p,p}")
        if len(bs) > len(as_) and mp.log(zeta) / (len(bs) - len(as_)) > _MEIJER_LOG_TERMS:
            # G^{q,0}_{p,q}(z), q > p, is summed as hypergeometric series needing about
            # z^{1/(q-p)} terms of ever longer integers: mpmath would run for hours
            raise _NoMeijer(f"argument {mp.nstr(zeta, 5)} too large for the Meijer-G series")
        if kind == "pdf":
            g = _meijerg([[], as_], [bs, []], zeta)
            tot += _mp(t.coef) * g / (beta * ax)
        else:
            g = _meijerg([[1], as_], [bs, [0]], zeta)
            tot += _mp(t.coef) * g
    return tot


def _eval_meijer(law: Law, kind: str, x: FArray, dps: int, need: int | None = None
                 ) -> NDArray[Any]:
    """Meijer G at ``dps + 10`` working digits; ``need`` (default ``dps``) digits must survive
    an upper tail computed as ``mass - lower`` (16 for the float paths)."""
    _check_continuous(law)
    terms = law.meijer_terms()
    if terms is None:
        raise ValueError(f"method='meijer' is not available for {short(law)}: it has no (small) "
                         "Gamma-ratio / Meijer-G representation; use method='mellin'")
    out = np.empty(x.shape, dtype=object)
    flat = x.ravel()
    res = out.ravel()
    with mp.workdps(dps + 10):
        lu = mp.mpf(law.log_upper) if np.isfinite(law.log_upper) else mp.inf
        ll = mp.mpf(law.log_lower) if np.isfinite(law.log_lower) else -mp.inf
        for i, xi in enumerate(flat):
            try:
                res[i] = _meijer_point(law, terms, kind, mp.mpf(repr(float(xi))), ll, lu,
                                       dps if need is None else need)
            except (_NoMeijer, _Timeout, mp.libmp.NoConvergence, ValueError,
                    ZeroDivisionError, ArithmeticError) as exc:
                raise ValueError(f"method='meijer' failed at x={float(xi)!r} for {short(law)} "
                                 f"({type(exc).__name__}: {exc}); use method='mellin'") from None
        out = np.vectorize(lambda v: +v, otypes=[object])(out)  # round to dps+10
    return out


def _mp_masses(law: Law) -> tuple[Any, Any, Any]:
    """``(P(X > 0), P(X < 0), P(X = 0))`` at the working mpmath precision: ``Φ±(0)`` from the
    law's own Mellin parts, so that ``mass - lower`` is consistent with the Meijer G / contour
    values (the float attributes p_pos, p_neg differ from them by ~1e-17) and the three add
    to 1."""
    a, b = law._mp_parts(mp.mpf(0))
    if law.symmetric:
        a = b = (a + b) / 2
    return a, b, 1 - a - b


def _meijer_point(law: Law, terms: Terms, kind: str, xi: Any, ll: Any, lu: Any,
                  need: int = 16) -> Any:
    ppos, pneg, p0 = _mp_masses(law)
    if xi == 0:
        if kind == "pdf":
            return mp.mpf(sum(_pdf_at_zero(law, s) for s in (1, -1) if _part_mass(law, s) > 0))
        return pneg + p0 if kind == "cdf" else ppos
    sign = 1 if xi > 0 else -1
    ax = abs(xi)
    mass = ppos if sign > 0 else pneg
    if _part_mass(law, sign) == 0:
        mass = mp.mpf(0)
    ly = mp.log(ax)
    if mass == 0:
        low = mp.mpf(0)
        dens = mp.mpf(0)
    elif ly >= lu:
        low, dens = mass, mp.mpf(0)
    elif ly <= ll:
        low, dens = mp.mpf(0), mp.mpf(0)
    else:
        if kind == "pdf":
            return _meijer_part(terms, sign, ax, "pdf")
        low = _meijer_part(terms, sign, ax, "cdf")
        dens = mp.mpf(0)
    if kind == "pdf":
        return dens
    up = mass - low
    # the returned upper tail must keep `need` digits: at most (working - need - 1) cancel;
    # otherwise recompute the lower cdf with the lost digits added (up to
    # _MEIJER_EXTRA_DIGITS), else raise
    allowed = mp.mp.dps - need - 1
    if mass > 0 and ((sign > 0 and kind == "sf") or (sign < 0 and kind == "cdf")):
        lost = mp.log10(mass / up) if up > 0 else mp.inf
        if lost > allowed:
            extra = int(lost - allowed) + 5 if mp.isfinite(lost) else _MEIJER_EXTRA_DIGITS + 1
            if extra <= _MEIJER_EXTRA_DIGITS:
                with mp.workdps(mp.mp.dps + extra):
                    ppos2, pneg2, _ = _mp_masses(law)
                    mass2 = ppos2 if sign > 0 else pneg2
                    up = mass2 - _meijer_part(terms, sign, ax, "cdf")
                    ok = up > 0 and mp.log10(mass2 / up) <= allowed + extra
                up = +up
            if extra > _MEIJER_EXTRA_DIGITS or not ok:
                raise ValueError(f"upper tail P(|X| > {mp.nstr(ax, 8)}) is below the Meijer "
                                 "working precision (computed as mass - lower cdf); raise dps "
                                 "or use method='mellin'")
    if sign > 0:
        return pneg + p0 + low if kind == "cdf" else up
    return up if kind == "cdf" else ppos + p0 + low


# ============================================================================================
# mpmath contour quadrature (reference / arbitrary precision for any law)
# ============================================================================================


def _closed_mp(law: Law, kind: str, xi: Any) -> Any:
    """mpmath closed forms (at the working precision) for one primitive law, a positive
    scaling of one, or a mixture of such laws and atoms; None otherwise.

    Normal: ``Φ(x/σ)`` (``mp.ncdf``); Gamma(k, θ): regularized incomplete Gamma ``P(k, x/θ)``;
    Beta(a, b): regularized incomplete Beta ``I_x(a, b)``; Uniform(a, b): ``(x-a)/(b-a)``
    clipped [ref: DLMF 7.2, 8.2, 8.17]. The upper tails are computed directly (no 1 - cdf)."""
    one, zero = mp.mpf(1), mp.mpf(0)
    if isinstance(law, Scaled):
        c = mp.mpf(repr(law.c))
        v = _closed_mp(law.law, kind, xi / c)
        return None if v is None else (v / c if kind == "pdf" else v)
    if isinstance(law, Mixture):
        tot = zero
        for w, comp in law.components:
            atom = _atom(comp)
            if atom is not None:
                if atom[0] != 0 and not (np.isfinite(atom[2]) and abs(atom[2]) > 1e-300):
                    return None
                c = mp.mpf(repr(atom[2]))
                v = zero if kind == "pdf" else ((one if xi >= c else zero) if kind == "cdf"
                                                else (zero if xi >= c else one))
            else:
                v = _closed_mp(comp, kind, xi)
                if v is None:
                    return None
            tot += mp.mpf(repr(w)) * v
        return tot
    if isinstance(law, Normal):
        s = mp.mpf(repr(law.sigma))
        if kind == "pdf":
            return mp.npdf(xi, 0, s)
        return mp.ncdf(xi / s) if kind == "cdf" else mp.ncdf(-xi / s)
    if isinstance(law, Gamma):
        k, th = mp.mpf(repr(law.k)), mp.mpf(repr(law.theta))
        if xi <= 0:
            return zero if kind != "sf" else one
        u = xi / th
        if kind == "pdf":
            return mp.exp((k - 1) * mp.log(u) - u - mp.loggamma(k)) / th
        if kind == "cdf":
            return mp.gammainc(k, 0, u, regularized=True)
        return mp.gammainc(k, u, mp.inf, regularized=True)
    if isinstance(law, Beta):
        a, b = mp.mpf(repr(law.a)), mp.mpf(repr(law.b))
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
    if isinstance(law, Uniform):
        a, b = mp.mpf(repr(law.a)), mp.mpf(repr(law.b))
        if kind == "pdf":
            return one / (b - a) if a < xi < b else zero
        if kind == "cdf":
            return min(max((xi - a) / (b - a), zero), one)
        return min(max((b - xi) / (b - a), zero), one)
    return None


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
    signs = [1] if law.symmetric else [1, -1]
    for sign in signs:
        sel = nz if law.symmetric else (x > 0 if sign > 0 else x < 0)
        if not sel.any():
            continue
        mass = law.p_pos if law.symmetric else _part_mass(law, sign)
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


def _third_abs_central(law: Law, mean: float, sd: float) -> float:
    """``E|log|X| - μ|³`` given X ≠ 0 by quadrature of the density of log|X| (closed form
    or mellin):
    Gauss–Legendre, 16 nodes on each of 40 panels on either side of μ over μ ± 40 sd (clipped
    to the support), all nodes in one vectorized density call.

    Where the mellin density is slow or inaccurate (a support bounded away from 0 or ∞, as
    for uniform and beta factors: the transform decays algebraically; or its own error
    estimate at the mean exceeds 1e-6), the Lyapunov upper bound
    ``E|Z|³ ≤ (E Z⁴)^{3/4} = (κ₄ + 3κ₂²)^{3/4}`` [ref: Lyapunov's inequality] is returned
    instead: a larger ρ keeps the Berry–Esseen bound valid."""
    absl = law.abs()
    compact = np.isfinite(law.log_lower) or np.isfinite(law.log_upper)
    probe = None if compact else absl.pdf(np.asarray([math.exp(mean)]), method="mellin",
                                          info=True)[1]
    if probe is None or not probe.error <= 1e-6:
        k2, k4 = float(law.log_cumulant(2)), float(law.log_cumulant(4))
        return float((k4 + 3.0 * k2 * k2) ** 0.75)
    lo, hi = mean - 40 * sd, mean + 40 * sd
    lo = max(lo, law.log_lower) if np.isfinite(law.log_lower) else lo
    hi = min(hi, law.log_upper) if np.isfinite(law.log_upper) else hi
    cuts = [v for v in (lo, mean, hi) if lo <= v <= hi]
    edges = np.concatenate([np.linspace(a, b, 41)[:-1] for a, b in zip(cuts[:-1], cuts[1:],
                                                                       strict=True)] + [[hi]])
    u, w = np.polynomial.legendre.leggauss(16)
    a, b = edges[:-1, None], edges[1:, None]
    yv = (0.5 * (b - a) * u + 0.5 * (a + b)).ravel()
    wy = (0.5 * (b - a) * w).ravel()
    xv = np.exp(yv)
    try:  # closed forms where they exist (one factor), else mellin (meijer where inaccurate)
        dens = np.asarray(absl.pdf(xv, rtol=1e-6), dtype=np.float64)
    except ValueError:
        k2, k4 = float(law.log_cumulant(2)), float(law.log_cumulant(4))
        return float((k4 + 3.0 * k2 * k2) ** 0.75)
    p = law.p_pos + law.p_neg
    return float(np.sum(wy * dens * xv / p * np.abs(yv - mean) ** 3))


def berry_esseen(law: Law) -> float:
    """Berry–Esseen bound on ``sup|P(log|X| ≤ y | X≠0) - Φ((y-κ₁)/√κ₂)|`` [ref].

    Shevtsova (2011): ``C ρ/(σ³√L)``, ``C = 0.4748`` for L iid factors; for non-identical
    factors ``0.5600 Σρ_i / (Σσ_i²)^{3/2}`` (Shevtsova 2010). Needs every factor to be
    symmetric or nonnegative (then log|X| is an independent sum)."""
    factors = law.factors if isinstance(law, Product) else [(law, 1)]
    rhos, vars_ = [], []
    for f, n in factors:
        if isinstance(f, PointMass):
            continue
        m1, k2 = float(f.log_cumulant(1)), float(f.log_cumulant(2))
        rho = _third_abs_central(f, m1, math.sqrt(k2))
        rhos.append((rho, n))
        vars_.append((k2, n))
    if not rhos:
        return 0.0
    s2 = sum(v * n for v, n in vars_)
    if len(rhos) == 1:
        rho, n = rhos[0]
        return min(1.0, BERRY_ESSEEN_IID * rho / (vars_[0][0] ** 1.5 * math.sqrt(n)))
    return min(1.0, BERRY_ESSEEN_NONID * sum(r * n for r, n in rhos) / s2**1.5)


def _eval_clt(law: Law, kind: str, x: FArray) -> tuple[FArray, float]:
    _check_continuous(law)
    if not (law.symmetric or law.p_neg == 0):
        raise ValueError(f"method='clt' needs a symmetric or nonnegative law, got {short(law)}")
    m = float(law.log_cumulant(1))
    s = math.sqrt(float(law.log_cumulant(2)))
    shape = x.shape
    x = np.atleast_1d(x)  # a 0-d x (scalar call): item assignment below needs an array
    ax = np.abs(x)
    mass = law.p_pos + law.p_neg
    with np.errstate(divide="ignore"):
        y = np.log(np.where(x != 0, ax, 1.0))
    zc = (y - m) / s
    half = 0.5 if law.symmetric else 1.0
    lower = half * mass * st.norm.cdf(zc)
    upper = half * mass * st.norm.sf(zc)
    with np.errstate(all="ignore"):
        dens = half * mass * st.norm.pdf(zc) / s
    dens[x == 0] = np.inf
    if not law.symmetric:  # a nonnegative law: nothing below zero
        neg = x < 0
        lower[neg], upper[neg], dens[neg] = 0.0, 0.0, 0.0
    out = _assemble(law, kind, x, lower, upper, dens).reshape(shape)
    bound = berry_esseen(law) * half * mass if kind != "pdf" else float("nan")
    return out, bound


# ============================================================================================
# (d) closed forms
# ============================================================================================


def _closed_form(law: Law, kind: str) -> Callable[[FArray], FArray] | None:
    """Closed form evaluator for ``law`` and ``kind`` or None."""
    base = law
    if isinstance(law, Product) and len(law.factors) == 1 and law.factors[0][1] == 1:
        base = law.factors[0][0]
    dist = _scipy_law(base)
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
    if isinstance(inner, Normal) or (isinstance(inner, Scaled) and isinstance(inner.law, Normal)):
        sig = inner.sigma if isinstance(inner, Normal) else inner.c * inner.law.sigma  # type: ignore[attr-defined]

        def normal_abs(x: FArray) -> FArray:
            u = np.abs(x) / (sig * math.sqrt(2.0))
            if kind == "pdf":
                return np.asarray(np.where(x < 0, 0.0, 2.0 * st.norm.pdf(x, scale=sig)))
            if kind == "cdf":
                return np.asarray(np.where(x <= 0, 0.0, sc.erf(u)))
            return np.asarray(np.where(x <= 0, 1.0, sc.erfc(u)))

        return normal_abs
    if isinstance(inner, Uniform):
        a, b, w = inner.a, inner.b, inner.b - inner.a

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
    return None


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

    [derived] ``F(x) = 1 - q(x/s)`` for ``x >= 0`` and ``F(x) = q(|x|/s)`` for ``x < 0``
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


def _scipy_law(law: Law) -> Any:
    if isinstance(law, Normal):
        return st.norm(0.0, law.sigma)
    if isinstance(law, Gamma):
        return st.gamma(law.k, scale=law.theta)
    if isinstance(law, Beta):
        return st.beta(law.a, law.b)
    if isinstance(law, Uniform):
        return st.uniform(law.a, law.b - law.a)
    if isinstance(law, Scaled):
        inner = _scipy_law(law.law)
        if inner is not None and isinstance(law.law, (Normal, Gamma, Beta)):
            if isinstance(law.law, Normal):
                return st.norm(0.0, law.law.sigma * law.c)
            if isinstance(law.law, Gamma):
                return st.gamma(law.law.k, scale=law.law.theta * law.c)
            return st.beta(law.law.a, law.law.b, scale=law.c)
    return None


# ============================================================================================
# dispatcher
# ============================================================================================


def evaluate(law: Law, kind: str, x: Any, method: str = "auto", dps: int | None = None,
             info: bool = False, rtol: float = 1e-10) -> Any:
    """Evaluate ``pdf``/``cdf``/``sf`` of ``law`` at ``x`` by the chosen path.

    Args:
        law: any Law (products, mixtures, primitives).
        kind: ``"pdf"``, ``"cdf"`` or ``"sf"``.
        x: array-like of reals (no NaN); scalars give a 0-d float.
        method: ``"auto"`` | ``"meijer"`` | ``"mellin"`` | ``"saddlepoint"`` | ``"clt"`` |
            ``"closed"``.
        dps: if given, evaluate with mpmath at this many digits (``meijer`` or mpmath contour
            quadrature) and return mpf values (an object array, or one mpf for scalar x).
        info: also return an :class:`Info`.
        rtol: relative accuracy that ``auto`` requires of the mellin path before falling back.

    Returns:
        float64 array (or mpf objects with ``dps``), optionally with Info.
    """
    check_choice("kind", kind, KINDS)
    check_choice("method", method, METHODS)
    rtol = check_positive("rtol", rtol)
    xa, scalar = _as_x(x)
    if isinstance(law, PointMass):
        vals = _point_mass(law, kind, xa)
        return _finish(vals, scalar, info, Info("closed", 0.0))
    atom = _atom(law)
    if atom is not None:  # a product (or scaling, |.|, power) of point masses is one atom
        return _finish(_atom_eval(atom, kind, xa), scalar, info, Info("closed", 0.0))
    if dps is not None:
        dps = check_int("dps", dps, minimum=5, maximum=10_000)
        closed = _eval_closed_mp(law, kind, xa, dps) if method in ("auto", "closed") else None
        if closed is not None:
            vals, used = closed, "closed"
        elif method == "closed":
            raise ValueError(f"no mpmath closed form for the {kind} of {short(law)} (one "
                             "primitive law, a positive scaling of one, or a mixture of such); "
                             "use method='auto'")
        elif method in ("auto", "meijer") and law.meijer_terms() is not None:
            try:
                vals = _eval_meijer(law, kind, xa, dps)
                used = "meijer"
            except ValueError:
                if method == "meijer":
                    raise
                vals = _eval_mellin_mp(law, kind, xa, dps)
                used = "mellin"
        elif method in ("auto", "mellin"):
            vals = _eval_mellin_mp(law, kind, xa, dps)
            used = "mellin"
        else:
            raise ValueError(f"dps is supported with method 'auto', 'closed', 'meijer' or "
                             f"'mellin', got method={method!r}")
        with mp.workdps(dps):
            if kind == "pdf":
                vals = np.vectorize(lambda v: max(+v, mp.mpf(0)), otypes=[object])(vals)
            else:
                vals = np.vectorize(lambda v: min(max(+v, mp.mpf(0)), mp.mpf(1)),
                                    otypes=[object])(vals)
        out: Any = vals[()] if scalar else vals
        return (out, Info(used, 10.0 ** (-dps))) if info else out
    s2 = _two_normal_scale(law) if kind != "pdf" else None
    if method == "closed" and s2 is not None:
        vals, err = _two_normal_cdf(xa, s2, kind)
        bad = ~(err <= rtol)
        if bad.any():
            raise ValueError(
                f"the closed form of the {kind} of {short(law)} cancels in the tail: at "
                f"x={xa[bad][:5]!r} its relative error exceeds rtol={rtol:g} (it is usable "
                f"while the returned probability is >= {_TWO_NORMAL_ABS_ERR / rtol:.1g} and "
                f"|x| <= {_TWO_NORMAL_ZMAX}·σ₁σ₂); use method='auto' or 'mellin'")
        return _finish(vals, scalar, info, Info("closed", float(np.max(err, initial=0.0)),
                                                np.full(xa.shape, "closed", dtype=object), err))
    if method == "closed":
        fn = _closed_form(law, kind)
        if fn is None:
            raise ValueError(f"no closed form for the {kind} of {short(law)}; closed forms exist "
                             "for one factor, two centred normals (pdf; cdf/sf in the bulk) and "
                             "products of uniforms")
        return _finish(np.asarray(fn(xa), dtype=np.float64), scalar, info, Info("closed", 1e-14))
    if method == "meijer":
        vals = _clip(kind, np.asarray(_eval_meijer(law, kind, xa, 20, need=16), dtype=np.float64))
        return _finish(vals, scalar, info, Info("meijer", 1e-15))
    if method == "mellin":
        vals, err = _eval_mellin(law, kind, xa)
        return _finish(vals, scalar, info, Info("mellin", float(np.max(err, initial=0.0)),
                                                rel_error=err))
    if method == "saddlepoint":
        vals, e = _eval_saddlepoint(law, kind, xa)
        return _finish(vals, scalar, info, Info("saddlepoint", e))
    if method == "clt":
        vals, e = _eval_clt(law, kind, xa)
        return _finish(vals, scalar, info, Info("clt", e))
    # auto
    if s2 is not None:  # two normals: closed form where accurate, mellin/meijer elsewhere
        vals, err = _two_normal_cdf(xa, s2, kind)
        methods = np.full(xa.shape, "closed", dtype=object)
        rest = ~(err <= rtol)
        if rest.any():
            v2, e2, m2 = _auto_numeric(law, kind, xa[rest], rtol)
            vals[rest], err[rest], methods[rest] = v2, e2, m2
        names = set(methods.ravel().tolist())
        used = names.pop() if len(names) == 1 else "mixed"
        return _finish(vals, scalar, info, Info(used, float(np.max(err, initial=0.0)), methods,
                                                err))
    fn = _closed_form(law, kind)
    if fn is not None:
        return _finish(np.asarray(fn(xa), dtype=np.float64), scalar, info, Info("closed", 1e-14))
    vals, err, methods = _auto_numeric(law, kind, xa, rtol)
    used = ("mellin" if (methods == "mellin").all() else
            "meijer" if (methods == "meijer").all() else "mixed")
    return _finish(vals, scalar, info, Info(used, float(np.max(err, initial=0.0)), methods,
                                            err))


def _auto_numeric(law: Law, kind: str, xa: FArray, rtol: float
                  ) -> tuple[FArray, FArray, NDArray[Any]]:
    """mellin at every point, meijer where the mellin error estimate exceeds ``rtol``."""
    vals, err = _eval_mellin(law, kind, xa)
    methods = np.full(xa.shape, "mellin", dtype=object)
    bad = err > rtol
    if bad.any():
        terms = law.meijer_terms()
        if terms is None:
            raise ValueError(
                f"no evaluation path reaches rtol={rtol:g} for the {kind} of {short(law)} at "
                f"x={xa[bad][:5]!r} (mellin error estimate {err[bad].max():.2g}); the law has "
                "no Meijer-G form; pass method='saddlepoint' or 'clt' for an approximation")
        mv = _eval_meijer(law, kind, xa[bad], 20, need=16)
        vals[bad] = _clip(kind, np.asarray(mv, dtype=np.float64))
        err[bad] = 1e-15
        methods[bad] = "meijer"
    return vals, err, methods


def _clip(kind: str, v: FArray) -> FArray:
    return np.maximum(v, 0.0) if kind == "pdf" else np.clip(v, 0.0, 1.0)


def short(law: Law, limit: int = 120) -> str:
    """Repr of a law cut to ``limit`` characters (for error messages)."""
    r = repr(law)
    return r if len(r) <= limit else r[: limit - 3] + "..."


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
    positive scaling, ``|.|`` or power of atoms), else None. ``c`` is the float value (``±inf``
    or 0 when ``|c|`` leaves float64; ``log|c|`` is then exact to rounding)."""
    if isinstance(law, PointMass):
        c = law.c
        return (0, -math.inf, 0.0) if c == 0 else ((1 if c > 0 else -1), math.log(abs(c)), c)
    parts: list[tuple[tuple[int, float, float], int]] = []
    if isinstance(law, Product):
        for f, n in law.factors:
            a = _atom(f)
            if a is None:
                return None
            parts.append((a, n))
    elif isinstance(law, Scaled):
        a = _atom(law.law)
        if a is None:
            return None
        parts = [(a, 1), ((1, math.log(law.c), law.c), 1)]
    elif isinstance(law, Abs):
        a = _atom(law.law)
        return None if a is None else (abs(a[0]), a[1], abs(a[2]))
    elif isinstance(law, Power) and float(law.a).is_integer():
        a = _atom(law.law)
        if a is None:
            return None
        parts = [(a, int(law.a))]
        if law.fold:
            parts = [((abs(a[0]), a[1], abs(a[2])), int(law.a))]
    elif isinstance(law, Mixture) and len(law.components) == 1:
        return _atom(law.components[0][1])
    else:
        return None
    if any(a[0] == 0 for a, _ in parts):
        return 0, -math.inf, 0.0
    sign = 1 if sum(n for a, n in parts if a[0] < 0) % 2 == 0 else -1
    log_c = math.fsum(n * a[1] for a, n in parts)
    with np.errstate(over="ignore", under="ignore"):
        c = float(np.prod([np.float64(abs(a[2])) ** n for a, n in parts]))
    return sign, log_c, sign * c


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


# ============================================================================================
# quantiles, moments, cumulants, symbolic
# ============================================================================================


def quantile(law: Law, q: Any, method: str = "auto", xtol: float = 1e-14) -> Any:
    """Smallest x with ``P(X ≤ x) ≥ q`` (vectorized over q).

    Root finding on the cdf in ``log|x|`` with brackets from the log-CLT (mean ± k sd of
    ``log|X|``, widened until they bracket). Atoms at zero are honoured.

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
    m = float(law.log_cumulant(1)) if law.p0 < 1 else 0.0
    s = math.sqrt(max(float(law.log_cumulant(2)), 1e-12)) if law.p0 < 1 else 1.0
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


