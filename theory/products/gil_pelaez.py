r"""``method="gil-pelaez"``: inversion of the characteristic function of ``log|X|``.

For a sign part of ``X`` with ``Φ(z) = E[|X|^z; part]`` and mass ``m``, ``Y = log|X|`` given the
part has the characteristic function ``φ(t) = Φ(it)/m``. Gil-Pelaez (1951):

``P(Y ≤ y) = ½ − (1/π) ∫₀^∞ Im(e^{-ity} φ(t))/t dt``, ``f_Y(y) = (1/π) ∫₀^∞ Re(e^{-ity} φ(t)) dt``,

discretized with the midpoint rule ``t_k = (k+½)h`` after centring at ``κ₁`` (the aliasing
error is the mass farther than ``π/h`` from the point) and truncated where ``|φ| < 1e-17``;
many points share one FFT on a uniform grid and a cubic spline (:func:`gp_fft`), the
per-point sum (:func:`gp_direct`) is its slow reference. The accuracy is absolute (≈ 1e-14):
deep tails have no relative accuracy here (the ``mellin`` path moves the contour to the saddle
point for that).

The same inversion evaluates :class:`LogProductLaw`, the law of ``R = ∏ X_j`` for independent
positive factors given as :class:`LogFactor` s (finite mixtures of products of simple terms:
the layer factors of wide networks and the weights of neural chains), with an atom at zero and
a sign, on the log scale (``log_cdf``, ``log_quantile``: depths where ``R`` leaves float64).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from flatstart._checks import check_choice, check_int, check_positive, check_probability, check_real
from flatstart.theory.laws import (
    Beta,
    FArray,
    Gamma,
    Law,
    Mixture,
    PointMass,
    Power,
    Scaled,
    Uniform,
)
from flatstart.theory.products._parts import (
    _assemble,
    _check_continuous,
    _part_lphi,
    _part_mass,
    _pdf_at_zero,
)
from flatstart.theory.products.core import Product, product, short

FloatArray = NDArray[np.float64]

def gp_grid(logcf: Callable[[FloatArray], NDArray[np.complex128]], mu: float, sd: float,
            y: FloatArray, point: tuple[float, float] = (0.0, 0.0)
            ) -> tuple[FloatArray, NDArray[np.complex128], float]:
    """Midpoint nodes ``t_k = (k+½)h`` and values ``φ(t_k) e^{-i t_k μ}`` of the centred
    characteristic function of ``Y`` (an atom ``point = (p, y₀)`` of ``Y`` removed).

    ``h = π/(span + 40 sd + 2)``: the aliased mass (farther than ``π/h`` from every point) is
    below the Chebyshev bound ``(sd/40sd)²`` and in practice ``e^{-40}`` for the laws here; the
    sum is truncated where ``|φ| < 1e-17``. Raises ValueError where ``φ`` decays too slowly.
    """
    span = float(np.max(np.abs(y - mu))) if y.size else 0.0
    half = span + 40.0 * sd + 2.0
    h = math.pi / half
    chunks_t: list[FloatArray] = []
    chunks_phi: list[NDArray[np.complex128]] = []
    k0 = 0
    size = 512
    while True:
        t = np.asarray((np.arange(k0, k0 + size) + 0.5) * h, dtype=np.float64)
        lphi = logcf(t) - 1j * t * mu
        with np.errstate(under="ignore"):
            phi = np.exp(lphi)
        if point[0] > 0:  # continuous part only
            phi = phi - point[0] * np.exp(1j * t * (point[1] - mu))
        chunks_t.append(t)
        chunks_phi.append(phi)
        k0 += size
        tail = float(np.max(np.abs(phi)))
        if tail < 1e-17 or k0 > 1_000_000:
            break
        size = min(2 * size, 65536)
    if tail > 1e-10:
        raise ValueError(
            "the characteristic function of log|X| decays too slowly for an accurate "
            f"Gil-Pelaez inversion (|phi| = {tail:.1e} at t = {k0 * h:.3g}); this happens "
            "when the density of log|X| is singular, e.g. Beta factors with a small second "
            "parameter (orthogonal ReLU layers) or very few uniform factors; moments, "
            "log-cumulants and sampling remain available"
        )
    return np.concatenate(chunks_t), np.concatenate(chunks_phi), h


def gp_direct(
    yc: FloatArray, t: FloatArray, phi: NDArray[np.complex128], h: float
) -> tuple[FloatArray, FloatArray]:
    """Gil-Pelaez sums at each point (the slow reference path)."""
    cdf = np.empty_like(yc)
    pdf = np.empty_like(yc)
    block = max(1, int(4_000_000 // max(t.size, 1)))
    for i in range(0, yc.size, block):
        e = np.exp(-1j * np.outer(yc[i : i + block], t)) * phi
        cdf[i : i + block] = 0.5 - (e.imag / t).sum(axis=1) * h / math.pi
        pdf[i : i + block] = e.real.sum(axis=1) * h / math.pi
    return cdf, pdf

def gp_fft(
    yc: FloatArray, t: FloatArray, phi: NDArray[np.complex128], h: float, sd: float
) -> tuple[FloatArray, FloatArray]:
    """The same sums on a uniform grid by one FFT, then cubic-spline interpolation.

    With ``t_k = (k+½)h`` and ``u_j = u_0 + jΔ``, ``Δ = 2π/(hM)``:
    ``Σ_k c_k e^{-i t_k u_j} = e^{-iπj/M} FFT(c_k e^{-i t_k u_0})_j``. The grid covers one
    period ``[−π/h, π/h)``, which contains every requested point; ``M`` is chosen so that
    ``Δ ≤ sd/200`` (spline error ≈ 1e-12).
    """
    from scipy.interpolate import CubicSpline

    half = math.pi / h
    sd = max(sd, 1e-12)
    need = max(t.size, int(400 * half / sd), 4096)
    M = 1 << min(int(math.ceil(math.log2(need))), 22)
    if M < t.size:
        return gp_direct(yc, t, phi, h)
    u0 = -half
    j = np.arange(M)
    a = np.zeros(M, dtype=np.complex128)
    a[: t.size] = phi * np.exp(-1j * t * u0)
    b = np.zeros(M, dtype=np.complex128)
    b[: t.size] = a[: t.size] / t
    twiddle = np.exp(-1j * math.pi * j / M)
    s_pdf = twiddle * np.fft.fft(a)
    s_cdf = twiddle * np.fft.fft(b)
    u = u0 + j * (2 * half / M)
    lo, hi = float(yc.min()), float(yc.max())
    i0 = max(int(np.searchsorted(u, lo)) - 4, 0)
    i1 = min(int(np.searchsorted(u, hi)) + 5, M)
    grid_cdf = 0.5 - s_cdf.imag[i0:i1] * h / math.pi
    grid_pdf = s_pdf.real[i0:i1] * h / math.pi
    if i1 - i0 < 4:
        return gp_direct(yc, t, phi, h)
    cdf = CubicSpline(u[i0:i1], grid_cdf)(yc)
    pdf = CubicSpline(u[i0:i1], grid_pdf)(yc)
    return np.asarray(cdf, dtype=np.float64), np.asarray(pdf, dtype=np.float64)



# A term of a component: log X = sum of the terms' logs.
#   ("gpow", log_c, k, p):  X = c * G**p,      G ~ Gamma(k, 1)
#   ("eneg", log_c, k, p):  X = c * exp(-p G), G ~ Gamma(k, 1)   (products of uniforms)
#   ("beta", log_c, a, b):  X = c * B,         B ~ Beta(a, b)
#   ("point", log_c):       X = c
Term = tuple[Any, ...]


@functools.lru_cache(maxsize=4096)
def _unit_law(kind: str, a: float, b: float) -> Law:
    """The law of a term without its log-scale: ``G^p`` (``G ~ Gamma(k, 1)``, ``a, b = k, p``),
    ``e^{-pG}`` (``G ~ Gamma(k, 1)``, integer ``k``: a product of ``k`` uniforms on (0, 1) to the
    power ``p``), ``Beta(a, b)``. Its Mellin transform and log-cumulants are the law's own."""
    if kind == "gpow":
        return Gamma(a) if b == 1.0 else Power(Gamma(a), b)
    if kind == "eneg":
        if not float(a).is_integer() or a < 1:
            raise ValueError(f"an 'eneg' term needs an integer k >= 1 (a product of k uniforms), "
                             f"got k={a!r}")
        base: Law = Uniform(0.0, 1.0) if a == 1 else product(Uniform(0.0, 1.0), int(a))
        return base if b == 1.0 else Power(base, b)
    if kind == "beta":
        return Beta(a, b)
    raise ValueError(f"unknown term kind {kind!r}")


def _term_logcf(term: Term, t: FloatArray) -> NDArray[np.complex128]:
    """``log E X^{it}`` of one term: ``it·log c`` plus the unit law's log Mellin transform."""
    out = 1j * t * term[1]
    if term[0] != "point":
        it = np.asarray(1j * t, dtype=np.complex128)
        out = out + _unit_law(term[0], term[2], term[3])._lphi(it)[0]
    return np.asarray(out, dtype=np.complex128)


def _term_cumulants(term: Term) -> list[float]:
    """First four cumulants of ``log X`` for one term: the unit law's own (its float fast path,
    tested against :meth:`flatstart.theory.laws.Law.log_cumulant`), ``log c`` added to ``κ₁``."""
    if term[0] == "point":
        return [term[1], 0.0, 0.0, 0.0]
    unit = _unit_law(term[0], term[2], term[3])
    k = unit._log_cumulants_float()
    if k is None:
        k = [float(unit.log_cumulant(r)) for r in (1, 2, 3, 4)]
    return [term[1] + k[0]] + k[1:]


def _term_log_moment(term: Term, s: float) -> float:
    """``log E X^s`` (``inf`` when it does not exist) from the unit law's Mellin transform."""
    if term[0] == "point":
        return s * term[1]
    unit = _unit_law(term[0], term[2], term[3])
    if s <= unit.strip[0]:
        return math.inf
    lm = unit._lphi(np.asarray([complex(s)]))[0][0].real
    return s * term[1] + float(lm)


def _term_sample(term: Term, rng: np.random.Generator, n: int) -> FloatArray:
    kind = term[0]
    if kind == "gpow":
        _, lc, k, p = term
        return lc + p * np.log(rng.gamma(k, 1.0, n))
    if kind == "eneg":
        _, lc, k, p = term
        return lc - p * rng.gamma(k, 1.0, n)
    if kind == "beta":
        _, lc, a, b = term
        return lc + np.log(rng.beta(a, b, n))
    return np.full(n, float(term[1]))


def _cum_to_raw(k: Sequence[float]) -> list[float]:
    k1, k2, k3, k4 = k
    return [
        k1,
        k2 + k1**2,
        k3 + 3 * k2 * k1 + k1**3,
        k4 + 4 * k3 * k1 + 3 * k2**2 + 6 * k2 * k1**2 + k1**4,
    ]


def _raw_to_cum(m: Sequence[float]) -> list[float]:
    m1, m2, m3, m4 = m
    return [
        m1,
        m2 - m1**2,
        m3 - 3 * m2 * m1 + 2 * m1**3,
        m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4,
    ]


@dataclass(frozen=True)
class LogFactor:
    """Law of a positive factor ``X`` as a finite mixture of products of simple terms.

    ``components`` is a tuple of ``(weight, terms)``; within a component ``log X`` is the sum of
    independent term logs (see the ``Term`` kinds in the source). Weights sum to 1.
    """

    components: tuple[tuple[float, tuple[Term, ...]], ...]

    def logcf(self, t: FloatArray) -> NDArray[np.complex128]:
        """``log E X^{it}`` (a branch of the complex log; exact after integer powers)."""
        parts = []
        for _, terms in self.components:
            z = np.zeros(t.shape, dtype=np.complex128)
            for term in terms:
                z = z + _term_logcf(term, t)
            parts.append(z)
        if len(parts) == 1:
            return parts[0]
        zz = np.stack(parts)
        w = np.array([c[0] for c in self.components])[:, None]
        m = np.max(zz.real, axis=0)
        s = np.sum(w * np.exp(zz - m), axis=0)
        with np.errstate(divide="ignore"):
            return np.asarray(m + np.log(s), dtype=np.complex128)

    def cumulants(self) -> list[float]:
        """First four cumulants of ``log X``."""
        raws = np.zeros(4)
        for w, terms in self.components:
            kk = np.zeros(4)
            for term in terms:
                kk += np.array(_term_cumulants(term))
            raws += w * np.array(_cum_to_raw(list(kk)))
        if len(self.components) == 1:
            kk = np.zeros(4)
            for term in self.components[0][1]:
                kk += np.array(_term_cumulants(term))
            return list(kk)
        return _raw_to_cum(list(raws))

    def log_moment(self, s: float) -> float:
        """``log E X^s`` (``inf`` when infinite)."""
        vals = []
        for w, terms in self.components:
            v = sum(_term_log_moment(term, s) for term in terms)
            if math.isinf(v):
                return math.inf
            vals.append(math.log(w) + v)
        return float(special.logsumexp(vals))

    def sample_log(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` iid draws of ``log X``."""
        if len(self.components) == 1:
            which = np.zeros(n, dtype=np.int64)
        else:
            w = np.array([c[0] for c in self.components])
            which = rng.choice(len(w), size=n, p=w / w.sum())
        out = np.empty(n)
        for j, (_, terms) in enumerate(self.components):
            idx = np.flatnonzero(which == j)
            if idx.size == 0:
                continue
            acc = np.zeros(idx.size)
            for term in terms:
                acc += _term_sample(term, rng, idx.size)
            out[idx] = acc
        return out


class LogProductLaw:
    r"""Law of ``R = ∏ X_j`` (independent positive factors) with an atom at 0.

    ``P(R = 0) = atom``; given ``R > 0``, ``log R = Σ_j count_j · (iid copies of log X_j)``.
    Distribution functions come from the Gil-Pelaez formula for ``Y = log R | R > 0``:
    ``F_Y(y) = ½ − (1/π) ∫_0^∞ Im(e^{-ity} φ(t))/t dt``, ``φ(t) = ∏ E X_j^{it}`` [ref: Gil-Pelaez
    1951], midpoint rule.

    Args:
        factors: sequence of ``(LogFactor, count)``.
        atom: ``P(R = 0)`` in ``[0, 1]``.
        sign: ``"positive"`` (the law of ``R``), ``"negative"`` (of ``−R``) or
            ``"symmetric"`` (the law of ``S·R`` with ``S`` an independent fair sign).
    """

    def __init__(
        self,
        factors: Sequence[tuple[LogFactor, int]],
        atom: float = 0.0,
        sign: str = "positive",
    ) -> None:
        self.factors = tuple((f, int(c)) for f, c in factors if int(c) > 0)
        self.atom = float(atom)
        self.sign = check_choice("sign", sign, ("positive", "negative", "symmetric"))
        if not 0.0 <= self.atom <= 1.0:
            raise ValueError(f"atom must lie in [0, 1], got {atom!r}")
        cum = np.zeros(4)
        for f, c in self.factors:
            cum += c * np.array(f.cumulants())
        self._cum = cum
        # positive atom of log R: every factor takes its point component (if any)
        p_pt, y_pt = 1.0, 0.0
        for f, c in self.factors:
            pts = [(w, sum(t[1] for t in terms)) for w, terms in f.components
                   if all(t[0] == "point" for t in terms)]
            if len(pts) > 1:
                raise ValueError("a factor may have at most one point-mass component")
            if not pts:
                p_pt = 0.0
                break
            p_pt *= pts[0][0] ** c
            y_pt += c * pts[0][1]
        self._point = (p_pt, y_pt) if p_pt > 0 else (0.0, 0.0)

    # ----------------------------------------------------------------- structure
    def abs(self) -> LogProductLaw:
        """The law of ``|X|``."""
        return LogProductLaw(self.factors, self.atom, "positive")

    def scaled(self, c: float) -> LogProductLaw:
        """The law of ``c·X`` for ``c > 0``."""
        c = check_positive("c", c)
        f = LogFactor(((1.0, (("point", math.log(c)),)),))
        return LogProductLaw(self.factors + ((f, 1),), self.atom, self.sign)

    def log_cumulant(self, k: int) -> float:
        """``k``-th cumulant (k = 1..4) of ``log|X|`` given ``X ≠ 0``."""
        k = check_int("k", k, minimum=1, maximum=4)
        return float(self._cum[k - 1])

    @property
    def log_mean(self) -> float:
        """``E[log|X| | X ≠ 0]``."""
        return float(self._cum[0])

    @property
    def log_sd(self) -> float:
        """``sd(log|X| | X ≠ 0)``."""
        return math.sqrt(max(float(self._cum[1]), 0.0))

    def moment(self, s: float) -> float:
        """``E|X|^s`` (``inf`` when infinite; the atom contributes ``0^s``)."""
        s = check_real("s", s)
        if s == 0:
            return 1.0
        if s < 0 and self.atom > 0:
            return math.inf
        lm = sum(c * f.log_moment(s) for f, c in self.factors)
        if math.isinf(lm):
            return math.inf
        return (1.0 - self.atom) * math.exp(lm)

    def mean(self) -> float:
        """``E X`` (0 for symmetric laws)."""
        if self.sign == "symmetric":
            return 0.0
        return self.moment(1.0) if self.sign == "positive" else -self.moment(1.0)

    # ----------------------------------------------------------------- inversion
    def _logcf(self, t: FloatArray) -> NDArray[np.complex128]:
        z = np.zeros(t.shape, dtype=np.complex128)
        for f, c in self.factors:
            z = z + c * f.logcf(t)
        return z

    def _gamma_closed(self) -> tuple[float, float, float] | None:
        """``(shift, p, k)`` when ``log R = shift − p·Gamma(k)`` exactly (uniform products)."""
        shift, p, k = 0.0, None, 0.0
        for f, c in self.factors:
            if len(f.components) != 1:
                return None
            for term in f.components[0][1]:
                if term[0] == "point":
                    shift += c * term[1]
                elif term[0] == "eneg" and (p is None or term[3] == p):
                    p = term[3]
                    shift += c * term[1]
                    k += c * term[2]
                else:
                    return None
        return None if p is None else (shift, float(p), k)

    def _log_cdf_sf(
        self, y: FloatArray, method: str = "auto"
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """cdf, sf and pdf of ``Y = log|X|`` given ``X ≠ 0`` at ``y``."""
        y = np.asarray(y, dtype=np.float64)
        flat = y.ravel()
        if not self.factors:
            cdf = (flat >= 0).astype(float)
            return cdf.reshape(y.shape), 1 - cdf.reshape(y.shape), np.zeros_like(y)
        closed = self._gamma_closed()
        if closed is not None:
            shift, p, k = closed
            g = (shift - flat) / p
            sf = np.asarray(special.gammainc(k, np.maximum(g, 0.0)), dtype=np.float64)
            cdf = 1.0 - sf
            pdf = np.asarray(stats.gamma.pdf(g, k), dtype=np.float64) / p
            return cdf.reshape(y.shape), sf.reshape(y.shape), pdf.reshape(y.shape)
        p_pt, y_pt = self._point
        if p_pt >= 1.0 - 1e-15:  # deterministic
            cdf = (flat >= y_pt).astype(float)
            return cdf.reshape(y.shape), 1 - cdf.reshape(y.shape), np.zeros_like(y)
        t, phi, h = gp_grid(self._logcf, self.log_mean, self.log_sd, flat, self._point)
        yc = flat - self.log_mean
        if method == "fft" or (method == "auto" and flat.size > 64):
            cdf, pdf = gp_fft(yc, t, phi, h, self.log_sd)
        else:
            cdf, pdf = gp_direct(yc, t, phi, h)
        if p_pt > 0:  # Gil-Pelaez for the sub-probability continuous part, plus the atom
            cdf = cdf - p_pt / 2 + p_pt * (flat >= y_pt)
        sf = 1.0 - cdf
        cdf = np.clip(cdf, 0.0, 1.0)
        sf = np.clip(sf, 0.0, 1.0)
        return cdf.reshape(y.shape), sf.reshape(y.shape), np.maximum(pdf, 0.0).reshape(y.shape)

    def log_cdf(self, y: ArrayLike, method: str = "auto") -> FloatArray:
        """``P(log|X| ≤ y | X ≠ 0)``.

        ``method``: ``"direct"`` (Gil-Pelaez sum at every point, the slow reference), ``"fft"``
        (one FFT on a grid + cubic spline) or ``"auto"`` (FFT above 64 points).
        """
        method = check_choice("method", method, ("auto", "direct", "fft"))
        return self._log_cdf_sf(np.asarray(y, dtype=np.float64), method)[0]

    def log_pdf_density(self, y: ArrayLike) -> FloatArray:
        """Density of ``log|X|`` given ``X ≠ 0``."""
        return self._log_cdf_sf(np.asarray(y, dtype=np.float64))[2]

    def _reflect(self) -> LogProductLaw:
        return LogProductLaw(self.factors, self.atom, "positive")

    def cdf(self, x: ArrayLike) -> FloatArray:
        """``P(X ≤ x)`` (right-continuous; the atom is included at 0).

        Absolute accuracy ``≈1e-14``; values below ``1e-12`` carry no relative accuracy (deep
        tails: ``flatstart.theory.products`` shifts the contour to the saddle point).
        """
        x = np.asarray(x, dtype=np.float64)
        if self.sign == "negative":
            # P(-R <= x) = P(R >= -x) = sf_R(-x) for x < 0 (continuous part)
            return np.where(x >= 0, 1.0, self._reflect().sf(-x))
        out = np.empty(x.shape)
        a = self.atom
        pos = x > 0
        neg = x < 0
        zero = x == 0
        ax = np.abs(x[pos | neg])
        with np.errstate(divide="ignore"):
            lc, ls, _ = self._log_cdf_sf(np.log(ax)) if ax.size else (ax, ax, ax)
        if self.sign == "positive":
            vals = np.where(x[pos | neg] > 0, a + (1 - a) * lc, 0.0)
            out[pos | neg] = vals
            out[zero] = a
        else:
            half = (1 - a) / 2
            vals = np.where(x[pos | neg] > 0, half + a + half * lc, half * ls)
            out[pos | neg] = vals
            out[zero] = half + a
        return out

    def sf(self, x: ArrayLike) -> FloatArray:
        """``P(X > x)``."""
        x = np.asarray(x, dtype=np.float64)
        if self.sign == "negative":
            return np.where(x >= 0, 0.0, 1.0 - self._reflect().sf(-x))
        out = np.empty(x.shape)
        a = self.atom
        nz = x != 0
        ax = np.abs(x[nz])
        lc, ls, _ = self._log_cdf_sf(np.log(ax)) if ax.size else (ax, ax, ax)
        if self.sign == "positive":
            out[nz] = np.where(x[nz] > 0, (1 - a) * ls, 1.0)
            out[~nz] = 1 - a
        else:
            half = (1 - a) / 2
            out[nz] = np.where(x[nz] > 0, half * ls, half + a + half * lc)
            out[~nz] = half
        return out

    def pdf(self, x: ArrayLike) -> FloatArray:
        """Density of the continuous part at ``x ≠ 0`` (the atom is not a density).

        Raises:
            ValueError: at points in the far tails where the density of ``log|X|`` is below
                ``1e-9`` (the absolute error ``≈1e-15`` of the inversion would no longer give
                six correct digits once divided by ``|x|``); use ``flatstart.theory.products``
                (saddle point contour) there.
        """
        x = np.asarray(x, dtype=np.float64)
        if self.sign == "negative":
            return self._reflect().pdf(-x)
        out = np.zeros(x.shape)
        nz = x != 0
        ax = np.abs(x[nz])
        if ax.size:
            _, _, fy = self._log_cdf_sf(np.log(ax))
            if self.factors and self._point[0] < 1.0 - 1e-15 and np.any(fy < 1e-9):
                bad = ax[fy < 1e-9]
                raise ValueError(
                    f"x={bad[0]!r} lies in the far tail (density of log|X| < 1e-9); this "
                    "Gil-Pelaez path has only absolute accuracy there; use "
                    "flatstart.theory.products"
                )
            val = (1 - self.atom) * fy / ax
            if self.sign == "symmetric":
                val = val / 2
            else:
                val = np.where(x[nz] > 0, val, 0.0)
            out[nz] = val
        return out

    def log_quantile(self, q: float) -> float:
        """``q``-quantile of ``log|X|`` given ``X ≠ 0``."""
        q = check_probability("q", q)
        if not self.factors:
            return 0.0
        mu, sd = self.log_mean, max(self.log_sd, 1e-300)

        def g(y: float) -> float:
            return float(self._log_cdf_sf(np.array([y]))[0][0]) - q

        lo, hi = mu - 4 * sd, mu + 4 * sd
        for _ in range(200):
            if g(lo) < 0:
                break
            lo -= 4 * sd + 1
        for _ in range(200):
            if g(hi) > 0:
                break
            hi += 4 * sd + 1
        return float(optimize.brentq(g, lo, hi, xtol=1e-14 * max(1.0, abs(mu)), rtol=1e-14))

    def quantile(self, q: float) -> float:
        """``q``-quantile of ``X`` (``inf{x: F(x) ≥ q}``)."""
        q = check_probability("q", q)
        a = self.atom
        if self.sign == "negative":
            return -self._reflect().quantile(1.0 - q) if q < 1 else 0.0
        if self.sign == "positive":
            if q <= a or a >= 1.0:
                return 0.0
            return math.exp(self.log_quantile((q - a) / (1 - a)))
        half = (1 - a) / 2
        if a >= 1.0:
            return 0.0
        if q <= half:
            return -math.exp(self.log_quantile(1 - q / half)) if q < half else -0.0
        if q <= half + a:
            return 0.0
        return math.exp(self.log_quantile((q - half - a) / half))

    def median(self) -> float:
        """Median (``quantile(½)``)."""
        return self.quantile(0.5)

    def sample(self, n: int, seed: int | None = 0) -> FloatArray:
        """``n`` draws from the law (reference sampler built from the factor laws)."""
        n = check_int("n", n, minimum=1)
        rng = np.random.default_rng(seed)
        logs = np.zeros(n)
        for f, c in self.factors:
            for _ in range(c):
                logs += f.sample_log(rng, n)
        out = np.exp(logs)
        out[rng.random(n) < self.atom] = 0.0
        if self.sign == "symmetric":
            out *= np.where(rng.random(n) < 0.5, -1.0, 1.0)
        elif self.sign == "negative":
            out = -out
        return out



def _eval_gil_pelaez(law: Law, kind: str, x: FArray) -> tuple[FArray, float]:
    """``pdf``/``cdf``/``sf`` of any symmetric or nonnegative law by Gil-Pelaez inversion of the
    characteristic function ``φ(t) = Φ(it)/m`` of ``log|X|`` on its sign part (atoms at zero
    carried by the assembly). Returns the values and ``nan`` (the accuracy is absolute, about
    1e-14 in the bulk, not a bound)."""
    _check_continuous(law)
    if not (law.symmetric or law.p_neg == 0):
        raise ValueError(f"method='gil-pelaez' needs a symmetric or nonnegative law, got "
                         f"{short(law)}; use method='mellin'")
    shape = x.shape
    x = np.atleast_1d(x)
    mass = law.p_pos + law.p_neg
    lower = np.zeros_like(x)
    upper = np.zeros_like(x)
    dens = np.zeros_like(x)
    inside = (x > 0) | ((x < 0) & law.symmetric)
    if mass > 0 and inside.any():
        part = _part_lphi(law, 1)
        pm = _part_mass(law, 1)
        log_pm = math.log(pm)
        mu = float(law.log_cumulant(1))
        sd = math.sqrt(max(float(law.log_cumulant(2)), 0.0))
        y = np.log(np.abs(x[inside]))

        def logcf(tt: FloatArray) -> NDArray[np.complex128]:
            return np.asarray(part(np.asarray(1j * tt, dtype=np.complex128)) - log_pm,
                              dtype=np.complex128)

        t, phi, h = gp_grid(logcf, mu, sd, y)
        yc = y - mu
        cdf, pdf = gp_fft(yc, t, phi, h, sd) if y.size > 64 else gp_direct(yc, t, phi, h)
        lower[inside] = pm * np.clip(cdf, 0.0, 1.0)
        upper[inside] = pm * np.clip(1.0 - cdf, 0.0, 1.0)
        dens[inside] = pm * np.maximum(pdf, 0.0)
    dens[x == 0] = 2 * _pdf_at_zero(law, 1) if law.symmetric else _pdf_at_zero(law, 1)
    return _assemble(law, kind, x, lower, upper, dens).reshape(shape), float("nan")


# ============================================================================================
# a Product of factor laws with its Gil-Pelaez twin
# ============================================================================================

#: Above this many points a plain cdf/sf/pdf call of a :class:`TwinProduct` uses its twin.
FAST_PATH_MIN_POINTS = 64

#: The log-scale API of the twin that a :class:`TwinProduct` hands through.
_TWIN_API = ("log_cdf", "log_pdf_density", "log_quantile", "log_mean", "log_sd", "mean")


class TwinProduct(Product):
    r"""A :class:`~flatstart.theory.products.Product` of factor laws with ``twin``, the same law as
    a :class:`LogProductLaw` (Gil-Pelaez on the log scale).

    The laws of chains and of wide networks are these: one type with the full Law API
    (``pdf cdf sf quantile median moment log_cumulant mellin sympy_pdf sample abs``, ``method=``,
    ``dps=``, ``info=``), the attributes ``atom = P(X = 0)`` and ``sign`` (``"symmetric"``,
    ``"positive"``, ``"negative"`` or ``"mixed"``) and, through the twin, the log-scale API
    (``log_cdf``, ``log_pdf_density``, ``log_quantile``, ``log_mean``, ``log_sd``, ``mean``) for
    depths where the law leaves float64.

    Routes. ``route="product"``: the Mellin engine, except that a plain ``cdf(x)``, ``sf(x)`` or
    ``pdf(x)`` call (no keyword arguments) on more than :data:`FAST_PATH_MIN_POINTS` points is
    evaluated by the twin (FFT/Gil-Pelaez on one grid: ~1000× faster than the pointwise Mellin
    inversion for KS tests on 10⁴ samples; the engines agree to ``1e-9``, tested).
    ``route="twin"``: plain calls of ``cdf sf pdf quantile median moment log_cumulant abs
    scaled`` use the twin (``log_cumulant`` for ``k ≤ 4``); any keyword (``method=``, ``dps=``,
    ``info=``) uses the Mellin engine on the factors — each engine the other's cross-check.
    """

    def __init__(
        self, factors: list[tuple[Law, int]], twin: LogProductLaw | None = None,
        route: str = "product",
    ) -> None:
        super().__init__(factors)
        self.twin = twin
        self.route = check_choice("route", route, ("product", "twin"))
        if self.route == "twin" and twin is None:
            raise ValueError("route='twin' needs a twin (a LogProductLaw of the same law)")

    def __getattr__(self, name: str) -> Any:
        if name in _TWIN_API and self.__dict__.get("twin") is not None:
            return getattr(self.__dict__["twin"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _uses_twin(self, kw: dict[str, Any]) -> bool:
        return self.route == "twin" and not kw

    def _fast(self, kind: str, x: Any, kw: dict[str, Any]) -> Any:
        if self._uses_twin(kw):
            return getattr(self.twin, kind)(x)
        if self.twin is not None and not kw and np.size(x) > FAST_PATH_MIN_POINTS:
            try:
                return getattr(self.twin, kind)(x)
            except ValueError:
                pass
        return getattr(super(), kind)(x, **kw)

    def cdf(self, x: Any, **kw: Any) -> Any:
        """``P(X ≤ x)`` (see the class docstring for the routes)."""
        return self._fast("cdf", x, kw)

    def sf(self, x: Any, **kw: Any) -> Any:
        """``P(X > x)`` (see the class docstring for the routes)."""
        return self._fast("sf", x, kw)

    def pdf(self, x: Any, **kw: Any) -> Any:
        """Density of the continuous part (see the class docstring for the routes)."""
        return self._fast("pdf", x, kw)

    def quantile(self, q: Any, **kw: Any) -> Any:
        """Smallest ``x`` with ``P(X ≤ x) ≥ q`` (the twin's on ``route="twin"``)."""
        if self._uses_twin(kw):
            assert self.twin is not None
            return self.twin.quantile(q)
        return super().quantile(q, **kw)

    def median(self, **kw: Any) -> Any:
        """``quantile(½)`` (the twin's median on ``route="twin"``)."""
        if self._uses_twin(kw):
            assert self.twin is not None
            return self.twin.median()
        return super().median(**kw)

    def moment(self, s: Any, **kw: Any) -> Any:
        """``E|X|^s`` (the twin's on ``route="twin"``)."""
        if self._uses_twin(kw):
            assert self.twin is not None
            return self.twin.moment(s)
        return super().moment(s, **kw)

    def log_cumulant(self, k: Any, **kw: Any) -> Any:
        """Cumulants of ``log|X|`` given ``X ≠ 0`` (the twin's for ``k ≤ 4`` on
        ``route="twin"``, else summed over the factors)."""
        if self._uses_twin(kw) and isinstance(k, int) and 1 <= k <= 4:
            assert self.twin is not None
            return self.twin.log_cumulant(k)
        return super().log_cumulant(k, **kw)

    def abs(self) -> Law:
        """The law of ``|X|`` (with the twin's ``|X|`` on ``route="twin"``)."""
        if self.route == "twin":
            assert self.twin is not None
            return type(self)(_abs_factors(self.factors), self.twin.abs(), "twin")
        return super().abs()

    def scaled(self, c: float) -> TwinProduct:
        """The law of ``c·X`` for ``c > 0``."""
        c = check_positive("c", c)
        twin = None if self.twin is None else self.twin.scaled(c)
        return type(self)(self.factors + [(PointMass(c), 1)], twin, self.route)

    def _twin(self) -> LogProductLaw:
        if self.twin is None:
            raise ValueError("this law has no log-scale twin")
        return self.twin

    @property
    def atom(self) -> float:
        """``P(X = 0)`` (the twin's on ``route="twin"``, equal to ``p0`` to rounding)."""
        if self.route == "twin":
            assert self.twin is not None
            return self.twin.atom
        return float(self.p0)

    @property
    def sign(self) -> str:
        """Sign law of the nonzero part: symmetric, positive, negative or mixed."""
        if self.route == "twin":
            assert self.twin is not None
            return self.twin.sign
        if self.symmetric:
            return "symmetric"
        if self.p_neg == 0:
            return "positive"
        if self.p_pos == 0:
            return "negative"
        return "mixed"


def _abs_factors(factors: list[tuple[Law, int]]) -> list[tuple[Law, int]]:
    """The factors of ``|X|``: every factor's modulus (``|∏X_i| = ∏|X_i|``)."""
    return [(law if law.p_neg == 0 else law.abs(), n) for law, n in factors]


def _term_law(term: Term) -> Law:
    """One term as a law: the unit law scaled by ``e^{log c}`` (a point mass for a constant)."""
    if term[0] == "point":
        return PointMass(math.exp(term[1]))
    unit = _unit_law(term[0], term[2], term[3])
    return unit if term[1] == 0.0 else Scaled(unit, math.exp(term[1]))


def factor_law(factor: LogFactor) -> Law:
    """A :class:`LogFactor` as a law: the mixture over its components of the products of their
    terms' laws (the same law; its log-scales rounded once by ``exp``).

    >>> float(factor_law(LogFactor(((1.0, (("gpow", 0.0, 2.0, 1.0),)),))).moment(1))  # Gamma(2)
    2.0
    """
    if not isinstance(factor, LogFactor):
        raise TypeError(f"factor must be a LogFactor, got {type(factor).__name__}")
    comps: list[tuple[float, Law]] = []
    for w, terms in factor.components:
        laws = [_term_law(t) for t in terms]
        comps.append((w, laws[0] if len(laws) == 1 else product(laws)))
    return comps[0][1] if len(comps) == 1 else Mixture(comps)


def twin_product(law: LogProductLaw) -> TwinProduct:
    """``law`` as a :class:`TwinProduct` on ``route="twin"``: its factors' laws, the alive
    indicator ``Bernoulli(1 − atom)`` and the sign (a fair sign or −1) as atoms, with ``law``
    as the twin (plain calls: the same numbers as ``law``)."""
    if not isinstance(law, LogProductLaw):
        raise TypeError(f"law must be a LogProductLaw, got {type(law).__name__}")
    factors: list[tuple[Law, int]] = [(factor_law(f), c) for f, c in law.factors]
    if not factors:
        factors.append((PointMass(1.0), 1))
    if law.atom > 0:
        factors.append((Mixture([(law.atom, PointMass(0.0)), (1.0 - law.atom, PointMass(1.0))]),
                        1))
    if law.sign == "symmetric":
        factors.append((Mixture([(0.5, PointMass(-1.0)), (0.5, PointMass(1.0))]), 1))
    elif law.sign == "negative":
        factors.append((PointMass(-1.0), 1))
    return TwinProduct(factors, law, "twin")
