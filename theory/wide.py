r"""Width-n random networks: exact laws of squared-norm ratios and related moments.

Convention. Widths ``n_0`` (the input dimension), ``n_1, …, n_L``; layer ``l`` has a weight
matrix ``W_l`` of shape ``(n_l, n_{l-1})`` with iid entries of variance
``v_l = weight_variance(init, fan_in=n_{l-1}, fan_out=n_l)``, no bias, and
``x_l = φ(W_l x_{l-1})`` for every layer (the last one included), ``φ`` the identity or ReLU.
``width`` may be an int ``n`` (then ``n_0 = n_1 = … = n_L = n``) or a sequence
``[n_1, …, n_L]`` of length ``depth``; the input dimension ``n_0`` is ``input_dim``
(default ``n_1``).

Exact law [derived]. Given ``x_{l-1}``, the entries of ``W_l x_{l-1}`` are iid
``N(0, v_l ‖x_{l-1}‖²)`` (Gaussian weights, any direction of ``x_{l-1}``), hence
``‖x_l‖² = v_l ‖x_{l-1}‖² χ²_{n_l}`` (linear) and ``v_l ‖x_{l-1}‖² χ²_K`` with
``K ~ Bin(n_l, ½)`` independent of the magnitudes (ReLU; ``χ²_0 = 0``). The conditional law does
not depend on ``x_{l-1}``, so the per-layer ratios are independent and

``R_L = ‖x_L‖²/‖x_0‖² = ∏_l F_l``, ``F_l = v_l χ²_{n_l}`` or ``v_l χ²_{K_l}``.

The factor depends on both widths: ``v_l`` on ``n_{l-1}`` (fan-in; also ``n_l`` for Xavier),
the degrees of freedom on ``n_l``. With LeCun ``v_l = 1/n_{l-1}`` the linear factor is
``χ²_{n_l}/n_{l-1}`` (``χ²_n/n`` at constant width); with He ``v_l = 2/n_{l-1}``. For
``init="orthogonal"`` (Haar, gain ``g``) the same invariance argument gives
``F_l = g² Beta(n_l/2, (n_{l-1}-n_l)/2)`` if ``n_l < n_{l-1}`` and ``g²`` otherwise (linear), and
for ReLU an extra independent ``Beta(K/2, (n_l-K)/2)`` (``= 1`` when ``K = n_l``) [derived].
Uniform inits are not rotationally invariant: no exact law here (``ValueError``).
Limitation: Beta factors ``Beta(a, b)`` with small ``b`` have a singular log-density, whose
characteristic function decays only like ``t^{-b}``; the distribution functions then raise
``ValueError`` (typical for orthogonal ReLU layers) while moments and cumulants stay exact.

Numerics. The laws are evaluated by :class:`LogProductLaw`: Gil-Pelaez inversion of the
characteristic function of ``log R`` (``E R^{it}``, closed form via log-gamma), discretized
with the midpoint rule (aliasing error ≈ mass farther than ``π/h`` from the point) and truncated
where ``|φ(t)| < 1e-17``; an atom at 0 (dead ReLU networks) is carried separately.

Its length: the wide-network laws and the Gil-Pelaez log-space engine (``LogProductLaw``) they
use; folding that engine into the product engine is a known debt (docs/architecture.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from flatstart._checks import (
    check_choice,
    check_int,
    check_positive,
    check_probability,
    check_real,
)
from flatstart.theory.inits import INITS, weight_spec

__all__ = [
    "LogFactor",
    "LogProductLaw",
    "LogNormalLimit",
    "critical_width",
    "critical_width_asymptotic",
    "critical_width_lower_bound",
    "dead_probability",
    "hanin_jacobian_moments",
    "hanin_rolnick_length_moments",
    "layer_factor",
    "layer_log_moments",
    "lognormal_limit",
    "noci_prior_predictive",
    "norm_ratio_law",
    "pennington_jjt_eigen_variance",
]

FloatArray = NDArray[np.float64]
ACTIVATIONS = ("linear", "relu")

# A term of a component: log X = sum of the terms' logs.
#   ("gpow", log_c, k, p):  X = c * G**p,      G ~ Gamma(k, 1)
#   ("eneg", log_c, k, p):  X = c * exp(-p G), G ~ Gamma(k, 1)   (products of uniforms)
#   ("beta", log_c, a, b):  X = c * B,         B ~ Beta(a, b)
#   ("point", log_c):       X = c
Term = tuple[Any, ...]


def _term_logcf(term: Term, t: FloatArray) -> NDArray[np.complex128]:
    kind = term[0]
    it = 1j * t
    out = it * term[1]
    if kind == "gpow":
        _, _, k, p = term
        out = out + special.loggamma(k + p * it) - special.gammaln(k)
    elif kind == "eneg":
        out = out - term[2] * np.log1p(term[3] * it)
    elif kind == "beta":
        _, _, a, b = term
        out = (
            out
            + special.loggamma(a + it)
            - special.loggamma(a + b + it)
            + special.gammaln(a + b)
            - special.gammaln(a)
        )
    return np.asarray(out, dtype=np.complex128)


def _term_cumulants(term: Term) -> list[float]:
    """First four cumulants of log X for one term."""
    kind = term[0]
    if kind == "gpow":
        _, lc, k, p = term
        return [lc + p * float(special.digamma(k))] + [
            p**r * float(special.polygamma(r - 1, k)) for r in (2, 3, 4)
        ]
    if kind == "eneg":
        _, lc, k, p = term
        return [lc - p * k] + [(-p) ** r * k * math.factorial(r - 1) for r in (2, 3, 4)]
    if kind == "beta":
        _, lc, a, b = term
        return [lc + float(special.digamma(a) - special.digamma(a + b))] + [
            float(special.polygamma(r - 1, a) - special.polygamma(r - 1, a + b))
            for r in (2, 3, 4)
        ]
    return [term[1], 0.0, 0.0, 0.0]


def _term_log_moment(term: Term, s: float) -> float:
    """log E X^s (``inf`` when it does not exist)."""
    kind = term[0]
    if kind == "gpow":
        _, lc, k, p = term
        if k + p * s <= 0:
            return math.inf
        return s * lc + float(special.gammaln(k + p * s) - special.gammaln(k))
    if kind == "eneg":
        _, lc, k, p = term
        if p * s <= -1:
            return math.inf
        return s * lc - k * math.log1p(p * s)
    if kind == "beta":
        _, lc, a, b = term
        if a + s <= 0:
            return math.inf
        return s * lc + float(special.betaln(a + s, b) - special.betaln(a, b))
    return s * term[1]


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

    def _grid(self, y: FloatArray) -> tuple[FloatArray, NDArray[np.complex128], float]:
        mu, sd = self.log_mean, self.log_sd
        span = float(np.max(np.abs(y - mu))) if y.size else 0.0
        half = span + 40.0 * sd + 2.0
        h = math.pi / half
        chunks_t: list[FloatArray] = []
        chunks_phi: list[NDArray[np.complex128]] = []
        k0 = 0
        size = 512
        while True:
            t = np.asarray((np.arange(k0, k0 + size) + 0.5) * h, dtype=np.float64)
            lphi = self._logcf(t) - 1j * t * mu
            with np.errstate(under="ignore"):
                phi = np.exp(lphi)
            if self._point[0] > 0:  # continuous part only
                phi = phi - self._point[0] * np.exp(1j * t * (self._point[1] - mu))
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
        t, phi, h = self._grid(flat)
        yc = flat - self.log_mean
        if method == "fft" or (method == "auto" and flat.size > 64):
            cdf, pdf = self._fft_eval(yc, t, phi, h)
        else:
            cdf, pdf = self._direct_eval(yc, t, phi, h)
        if p_pt > 0:  # Gil-Pelaez for the sub-probability continuous part, plus the atom
            cdf = cdf - p_pt / 2 + p_pt * (flat >= y_pt)
        sf = 1.0 - cdf
        cdf = np.clip(cdf, 0.0, 1.0)
        sf = np.clip(sf, 0.0, 1.0)
        return cdf.reshape(y.shape), sf.reshape(y.shape), np.maximum(pdf, 0.0).reshape(y.shape)

    @staticmethod
    def _direct_eval(
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

    def _fft_eval(
        self, yc: FloatArray, t: FloatArray, phi: NDArray[np.complex128], h: float
    ) -> tuple[FloatArray, FloatArray]:
        """The same sums on a uniform grid by one FFT, then cubic-spline interpolation.

        With ``t_k = (k+½)h`` and ``u_j = u_0 + jΔ``, ``Δ = 2π/(hM)``:
        ``Σ_k c_k e^{-i t_k u_j} = e^{-iπj/M} FFT(c_k e^{-i t_k u_0})_j``. The grid covers one
        period ``[−π/h, π/h)``, which contains every requested point; ``M`` is chosen so that
        ``Δ ≤ sd/200`` (spline error ≈ 1e-12).
        """
        from scipy.interpolate import CubicSpline

        half = math.pi / h
        sd = max(self.log_sd, 1e-12)
        need = max(t.size, int(400 * half / sd), 4096)
        M = 1 << min(int(math.ceil(math.log2(need))), 22)
        if M < t.size:
            return self._direct_eval(yc, t, phi, h)
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
            return self._direct_eval(yc, t, phi, h)
        cdf = CubicSpline(u[i0:i1], grid_cdf)(yc)
        pdf = CubicSpline(u[i0:i1], grid_pdf)(yc)
        return np.asarray(cdf, dtype=np.float64), np.asarray(pdf, dtype=np.float64)

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


# --------------------------------------------------------------------------- layer factors
def _widths(width: Any, depth: int, input_dim: int | None) -> list[int]:
    depth = check_int("depth", depth, minimum=1)
    if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
        n = check_int("width", width, minimum=1)
        ws = [n] * depth
    else:
        if isinstance(width, (str, bytes)) or not isinstance(width, Sequence | np.ndarray):
            raise ValueError(f"width must be an int >= 1 or a sequence of them, got {width!r}")
        ws = [check_int("width", w, minimum=1) for w in width]
        if len(ws) != depth:
            raise ValueError(
                f"width has {len(ws)} entries but depth={depth}; give widths n_1..n_L"
            )
    n0 = ws[0] if input_dim is None else check_int("input_dim", input_dim, minimum=1)
    return [n0, *ws]


def _binomial_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``k = 1..n`` with Bin(n, ½) weights conditioned on ``k ≥ 1`` (negligible tails cut)."""
    k = np.arange(1, n + 1)
    w = stats.binom.pmf(k, n, 0.5)
    keep = w > 1e-22 * w.max()
    k, w = k[keep], w[keep]
    return k, w / w.sum()


def layer_factor(
    n_in: int, n_out: int, activation: str = "linear", init: str = "lecun_normal",
    gain: float = 1.0,
) -> tuple[LogFactor | None, float]:
    """Law of one layer's ratio ``‖x_l‖²/‖x_{l-1}‖²`` as ``(LogFactor, P(ratio = 0))``.

    Linear Gaussian: ``v χ²_{n_out}``; ReLU Gaussian: ``v χ²_K``, ``K ~ Bin(n_out, ½)``,
    ``P(0) = 2^{-n_out}``; orthogonal: Beta forms of the module docstring [derived].
    Returns ``(None, 0.0)`` for a deterministic ratio 1 (never happens for iid weights).
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    spec = weight_spec(init, n_in, n_out, gain)
    if spec.family == "uniform":
        raise ValueError(
            f"init={init!r}: uniform weights are not rotationally invariant, so the norm "
            "ratio has no exact product law; use a *_normal init or 'orthogonal'"
        )
    if spec.family == "normal":
        lc = math.log(2.0 * spec.variance)
        if activation == "linear":
            return LogFactor(((1.0, (("gpow", lc, n_out / 2.0, 1.0),)),)), 0.0
        ks, ws = _binomial_weights(n_out)
        comps = tuple(
            (float(w), (("gpow", lc, k / 2.0, 1.0),)) for k, w in zip(ks, ws, strict=True)
        )
        return LogFactor(comps), 2.0**-n_out
    # orthogonal with gain g
    lg = 2.0 * math.log(gain)
    base: list[Term] = [("point", lg)]
    if n_out < n_in:
        base.append(("beta", 0.0, n_out / 2.0, (n_in - n_out) / 2.0))
    if activation == "linear":
        return LogFactor(((1.0, tuple(base)),)), 0.0
    ks, ws = _binomial_weights(n_out)
    comps_o: list[tuple[float, tuple[Term, ...]]] = []
    for k, w in zip(ks, ws, strict=True):
        terms = list(base)
        if k < n_out:
            terms.append(("beta", 0.0, k / 2.0, (n_out - k) / 2.0))
        comps_o.append((float(w), tuple(terms)))
    return LogFactor(tuple(comps_o)), 2.0**-n_out


def _default_init(activation: str, init: str | None) -> str:
    if init is None:
        return "he_normal" if activation == "relu" else "lecun_normal"
    return check_choice("init", init, INITS)


def norm_ratio_law(
    width: int | Sequence[int],
    depth: int,
    activation: str = "linear",
    init: str | None = None,
    *,
    input_dim: int | None = None,
    gain: float = 1.0,
) -> LogProductLaw:
    r"""Exact law of ``R_L = ‖x_L‖²/‖x_0‖²`` for ``x_l = φ(W_l x_{l-1})``, no bias.

    ``R_L = ∏_l F_l`` with independent ``F_l = v_l χ²_{n_l}`` (linear) or
    ``v_l χ²_{K_l}``, ``K_l ~ Bin(n_l, ½)`` (ReLU), ``v_l`` the init's variance at
    ``fan_in = n_{l-1}``, ``fan_out = n_l`` [derived; VC §4]. ``P(R_L = 0) = 1 − ∏(1 − 2^{-n_l})``
    for ReLU.

    Args:
        width: ``n`` (all layers and the input) or ``[n_1, …, n_L]``.
        depth: ``L >= 1``.
        activation: ``"linear"`` or ``"relu"``.
        init: a Gaussian init or ``"orthogonal"``; default ``"lecun_normal"`` (linear) and
            ``"he_normal"`` (ReLU), the variance-preserving choices.
        input_dim: ``n_0`` (default ``n_1``).
        gain: std multiplier passed to the init.

    >>> law = norm_ratio_law(4, 1)            # χ²_4 / 4
    >>> round(float(law.cdf(1.0)), 10) == round(float(stats.chi2.cdf(4.0, 4)), 10)
    True
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    ns = _widths(width, depth, input_dim)
    groups: dict[tuple[int, int], int] = {}
    for a, b in zip(ns[:-1], ns[1:], strict=True):
        groups[(a, b)] = groups.get((a, b), 0) + 1
    factors: list[tuple[LogFactor, int]] = []
    log_alive = 0.0
    for (a, b), count in groups.items():
        f, p0 = layer_factor(a, b, activation, init, gain)
        if f is not None:
            factors.append((f, count))
        log_alive += count * math.log1p(-p0)
    return LogProductLaw(factors, atom=-math.expm1(log_alive))


def dead_probability(widths: int | Sequence[int], depth: int | None = None) -> float:
    """``P(x_L = 0) = 1 − ∏_l (1 − 2^{-n_l})`` for a bias-free ReLU net [derived; VC §4].

    Holds for any weight law that is symmetric with a density (each hidden unit is active with
    probability ½ independently, given a nonzero input); fails e.g. for Rademacher weights.
    ``widths`` are the hidden widths ``n_1..n_L`` (or an int with ``depth``).

    >>> dead_probability([1, 1])
    0.75
    """
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        if depth is None:
            raise ValueError("depth is required when widths is an int")
        ws = _widths(int(widths), depth, None)[1:]
    else:
        seq = list(widths)  # type: ignore[arg-type]
        ws = _widths(seq, len(seq) if depth is None else depth, None)[1:]
    s = sum(math.log1p(-(2.0**-n)) for n in ws)
    return float(-math.expm1(s))


def layer_log_moments(
    n_in: int, n_out: int, activation: str = "linear", init: str | None = None,
    gain: float = 1.0,
) -> tuple[float, float, float]:
    r"""Exact ``(P(alive), E[log F | F>0], Var[log F | F>0])`` of one layer's factor.

    Linear ``v χ²_n``: ``m = log(2v) + ψ(n/2)``, ``s² = ψ'(n/2)`` (LeCun, ``n_in = n_out = n``:
    ``ψ(n/2) + log(2/n) ≈ −1/n``, ``ψ'(n/2) ≈ 2/n``); ReLU: mixture over ``K ~ Bin(n, ½) | K ≥ 1``
    of the same with ``n → K`` (He, constant width: ``m → −5/(2n)``, ``s² → 5/n``) [derived].

    >>> p, m, v = layer_log_moments(10, 10)
    >>> bool(abs(m - (special.digamma(5) + math.log(0.2))) < 1e-15)
    True
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    f, p0 = layer_factor(n_in, n_out, activation, init, gain)
    if f is None:
        return 1.0, 0.0, 0.0
    c = f.cumulants()
    return 1.0 - p0, c[0], c[1]


@dataclass(frozen=True)
class LogNormalLimit:
    """Log-normal description of ``log R_L | R_L > 0``.

    Attributes:
        mean, var: exact ``Σ_l E log F_l`` and ``Σ_l Var log F_l`` (given alive).
        mean_asymptotic, var_asymptotic: the leading-order forms ``−L/n, 2L/n`` (linear, LeCun)
            or ``−5β/2, 5β`` with ``β = Σ 1/n_l`` (ReLU, He); ``nan`` for other inits.
        alive: ``P(R_L > 0)``.
    """

    mean: float
    var: float
    mean_asymptotic: float
    var_asymptotic: float
    alive: float
    extras: dict[str, float] = field(default_factory=dict)


def lognormal_limit(
    width: int | Sequence[int],
    depth: int,
    activation: str = "linear",
    init: str | None = None,
    *,
    input_dim: int | None = None,
) -> LogNormalLimit:
    """Exact log-moments of ``R_L`` and their log-normal (Hanin–Nica regime) leading forms.

    ``log R_L | alive ≈ N(Σ m_l, Σ v_l)`` by the CLT over layers [derived]; leading order
    ``N(−L/n, 2L/n)`` (linear LeCun) and ``N(−5β/2, 5β)``, ``β = Σ 1/n_l`` (ReLU He) [derived;
    cf. Hanin & Nica 2019].
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    law = norm_ratio_law(width, depth, activation, init, input_dim=input_dim)
    ns = _widths(width, depth, input_dim)
    beta = sum(1.0 / n for n in ns[1:])
    if activation == "linear" and init in ("lecun_normal", "xavier_normal"):
        ma, va = -beta, 2.0 * beta
    elif activation == "relu" and init == "he_normal":
        ma, va = -2.5 * beta, 5.0 * beta
    else:
        ma, va = math.nan, math.nan
    return LogNormalLimit(
        law.log_mean, law.log_sd**2, ma, va, 1.0 - law.atom, {"beta": beta}
    )


# --------------------------------------------------------------------------- critical width
def _median_ratio(n: int, depth: int, activation: str, init: str) -> float:
    return norm_ratio_law(n, depth, activation, init).median()


def critical_width(
    depth: int,
    activation: str = "relu",
    init: str | None = None,
    level: float = 0.5,
    *,
    max_width: int = 1 << 22,
) -> int:
    r"""Smallest constant width ``n`` with ``median(‖x_L‖²/‖x_0‖²) ≥ level`` (exact median).

    Binary search over integer widths on the exact median of :func:`norm_ratio_law` (all
    widths and the input dimension equal to ``n``), assuming the median is non-decreasing in
    ``n`` (checked by the tests) [derived].

    Raises:
        ValueError: ``level`` not in ``(0, ∞)``; or no width ``≤ max_width`` reaches ``level``
            (the median tends to 1 from below as ``n → ∞`` under LeCun/He, so ``level ≥ 1`` is
            never reached for those inits).

    >>> critical_width(1, "linear", level=0.5)  # median χ²_1 = 0.455, median χ²_2/2 = log 2
    2
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    level = check_positive("level", level)
    max_width = check_int("max_width", max_width, minimum=1)

    def ok(n: int) -> bool:
        return _median_ratio(n, depth, activation, init) >= level

    hi = 1
    while not ok(hi):
        if hi >= max_width:
            raise ValueError(
                f"level={level!r} is not reached by the median ratio for any width <= "
                f"max_width={max_width} (depth={depth}, activation={activation!r}, "
                f"init={init!r}); the median stays below 1 for LeCun/He inits"
            )
        hi = min(2 * hi, max_width)
    lo = hi // 2  # ok(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def critical_width_asymptotic(depth: int, activation: str = "relu", level: float = 0.5) -> float:
    r"""Leading-order critical width from the log-normal limit [derived].

    ``median R_L ≈ exp(L m_n)`` with ``m_n ≈ −5/(2n)`` (ReLU He) or ``−1/n`` (linear LeCun), so
    ``n ≈ 5L/(2 log(1/level))`` (ReLU) and ``L/log(1/level)`` (linear); ``level ∈ (0, 1)``.

    >>> round(critical_width_asymptotic(100, "relu"), 3)
    360.674
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    level = check_probability("level", level)
    c = 2.5 if activation == "relu" else 1.0
    return c * depth / math.log(1.0 / level)


def critical_width_lower_bound(
    depth: int, activation: str = "relu", init: str | None = None, level: float = 0.5
) -> int:
    r"""Rigorous lower bound on :func:`critical_width` from the mean–median inequality.

    Given alive, ``median log R ≤ E log R + sd(log R)`` [ref: |mean − median| ≤ sd], and the
    atom only lowers the median, so ``median R_L ≥ level`` needs
    ``L m_n + √(L v_n) ≥ log(level)`` with the exact per-layer log-moments. Returns the
    smallest ``n`` satisfying that necessary condition (≈ 0.77 L for ReLU He at level ½, much
    weaker than the log-normal heuristic 3.6 L) [derived].
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _default_init(activation, init)
    level = check_positive("level", level)

    def ok(n: int) -> bool:
        _, m, v = layer_log_moments(n, n, activation, init)
        return depth * m + math.sqrt(depth * v) >= math.log(level)

    hi = 1
    while not ok(hi):
        if hi > 1 << 24:
            raise ValueError(f"level={level!r} is never reached")
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------- moments
def _hidden(widths: Any, name: str = "widths") -> list[int]:
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        return [check_int(name, widths, minimum=1)]
    ws = [check_int(name, w, minimum=1) for w in widths]  # type: ignore[union-attr]
    if not ws:
        raise ValueError(f"{name} must be non-empty")
    return ws


def hanin_jacobian_moments(widths: Sequence[int], input_dim: int | None = None) -> dict[str, Any]:
    r"""Exact second and fourth moments of an input–output Jacobian entry ``Z``.

    Net: ``x_l = ReLU(W_l x_{l-1})``, ``W_l ~ N(0, 2/n_{l-1})`` for hidden widths
    ``n_1..n_L`` (``widths``), readout ``W_{L+1} ~ N(0, 1/n_L)``, no bias, ``n_0 = input_dim``
    (default ``n_1``).
    Then ``n_0 E Z² = 1`` and ``n_0² E Z⁴ = 3 ∏_{l=1}^{L} (1 + 5/n_l)`` exactly (product over the
    hidden ReLU layers only; ``≈ 3 e^{5β}``, ``β = Σ 1/n_l``) [ref: Hanin 2018, Thm 1; exact
    Gaussian form derived: with ``u_l = D_l W_l u_{l-1}``,
    ``E[‖u_l‖⁴ | past] = n_l (n_l + 5)/n_{l-1}² ‖u_{l-1}‖⁴`` for any angle between ``u`` and ``x``].

    Returns:
        dict with sympy-exact ``"E_Z2"``, ``"E_Z4"`` and floats ``"n0_E_Z2"``,
        ``"n0sq_E_Z4"``, ``"approx_3e5beta"``.

    >>> hanin_jacobian_moments([5], 3)["n0sq_E_Z4"]
    6.0
    """
    ws = _hidden(widths)
    n0 = ws[0] if input_dim is None else check_int("input_dim", input_dim, minimum=1)
    prod = sp.Integer(1)
    for n in ws:
        prod *= 1 + sp.Rational(5, n)
    ez2 = sp.Rational(1, n0)
    ez4 = 3 * prod / n0**2
    beta = sum(1.0 / n for n in ws)
    return {
        "E_Z2": ez2,
        "E_Z4": ez4,
        "n0_E_Z2": 1.0,
        "n0sq_E_Z4": float(3 * prod),
        "approx_3e5beta": 3.0 * math.exp(5.0 * beta),
    }


def hanin_rolnick_length_moments(
    widths: Sequence[int],
    residual_scales: Sequence[float] | None = None,
) -> dict[str, Any]:
    r"""Moments of ``M_l = ‖x_l‖²/n_l`` for He ReLU nets [ref: Hanin & Rolnick 2018].

    Feed-forward (``residual_scales=None``), ``widths`` = the layer widths ``n_1..n_L`` (the
    input dimension ``n_0`` does not enter), ``W_l ~ N(0, 2/n_{l-1})``: ``E M_L = M_0`` and
    ``E M_L²/M_0² = ∏_{l=1}^{L} (1 + 5/n_l)`` exactly [exact form derived: one layer's factor
    ``(2/n_{l-1}) χ²_K`` has ``E[K(K+2)] = n_l(n_l+5)/4``].

    Residual (``residual_scales = [η_1..η_L]``, constant width; ``widths`` is then unused
    beyond validation):
    ``x_l = x_{l-1} + η_l W_2 ReLU(W_1 x_{l-1})`` with ``W_1 ~ N(0, 2/n)`` (``m × n``) and
    ``W_2 ~ N(0, 1/m)`` (``n × m``), ``m`` the inner width: ``E M_L = M_0 ∏(1 + η_l²)``
    [derived; the cross term vanishes since ``E W_2 = 0``]. Only the first moment is returned.

    >>> hanin_rolnick_length_moments([5])["E_M2_ratio"]
    2
    """
    ws = _hidden(widths)
    if residual_scales is None:
        prod = sp.Integer(1)
        for n in ws:
            prod *= 1 + sp.Rational(5, n)
        return {"E_M_ratio": sp.Integer(1), "E_M2_ratio": prod}
    etas = [check_real("residual_scales", e) for e in residual_scales]
    prod = sp.Integer(1)
    for e in etas:
        prod *= 1 + sp.nsimplify(e) ** 2
    return {"E_M_ratio": prod}


# --------------------------------------------------------------------------- Noci
@dataclass
class NociPriorPredictive:
    r"""Law of the scalar output of a bias-free ReLU net at a fixed input [derived, Noci 2021].

    ``f = w·x_L``, ``w ~ N(0, v_{L+1})``; ``|f| = √(v_{L+1}‖x‖²) |N(0,1)| ∏_l √(v_l χ²_{K_l})``
    given ``K_l ≥ 1`` for all ``l``; ``P(f = 0) = 1 − ∏(1 − 2^{-n_l})``; symmetric. Summed over
    ``k``: ``p(f) = Σ_k ∏Bin(k_l; n_l, ½) G^{L+1,0}_{0,L+1}(f²/C | 0, (k_l−1)/2)``
    ``/ (√(πC) ∏Γ(k_l/2))``,
    ``C = 2^{L+1}‖x‖² ∏_{l=1}^{L+1} v_l`` (:meth:`pdf_meijer`, the slow reference).
    """

    widths: list[int]
    variances: list[float]
    x_norm: float
    law: LogProductLaw

    @property
    def atom(self) -> float:
        """``P(f = 0)``."""
        return self.law.atom

    def pdf(self, f: ArrayLike) -> FloatArray:
        """Density of the continuous part."""
        return self.law.pdf(f)

    def cdf(self, f: ArrayLike) -> FloatArray:
        """``P(output ≤ f)``."""
        return self.law.cdf(f)

    def kurtosis(self) -> Any:
        """``E f⁴/(E f²)² = 3 ∏ (1 + 5/n_l)`` (sympy exact) [derived]."""
        prod = sp.Integer(3)
        for n in self.widths:
            prod *= 1 + sp.Rational(5, n)
        return prod

    def pdf_meijer(self, f: ArrayLike, dps: int = 20) -> FloatArray:
        """The Meijer-G sum of the docstring by mpmath (slow; small widths only)."""
        import itertools

        import mpmath as mp

        if math.prod(self.widths) > 20000:
            raise ValueError("pdf_meijer sums ∏ n_l terms; use widths with product <= 20000")
        L = len(self.widths)
        C = 2 ** (L + 1) * self.x_norm**2 * math.prod(self.variances)
        out = []
        with mp.workdps(dps):
            for fv in np.asarray(f, dtype=float).ravel():
                z = mp.mpf(fv) ** 2 / C
                tot = mp.mpf(0)
                for ks in itertools.product(*[range(1, n + 1) for n in self.widths]):
                    w = mp.mpf(1)
                    for k, n in zip(ks, self.widths, strict=True):
                        w *= mp.binomial(n, k) / mp.mpf(2) ** n
                    b = [0] + [mp.mpf(k - 1) / 2 for k in ks]
                    g = mp.meijerg([[], []], [b, []], z)
                    den = mp.sqrt(mp.pi * C) * mp.fprod(mp.gamma(mp.mpf(k) / 2) for k in ks)
                    tot += w * g / den
                out.append(float(tot))
        return np.asarray(out).reshape(np.shape(f))


def noci_prior_predictive(
    widths: Sequence[int], variances: Sequence[float], x_norm: float
) -> NociPriorPredictive:
    """Prior predictive of a bias-free ReLU net with a scalar linear readout [derived, Noci 2021].

    Args:
        widths: hidden widths ``n_1..n_L``.
        variances: weight variances ``v_1..v_{L+1}`` (the last one is the readout's).
        x_norm: ``‖x‖ > 0``.

    >>> p = noci_prior_predictive([3], [1.0, 1.0], 1.0)
    >>> p.atom
    0.125
    """
    ws = _hidden(widths)
    vs = [check_positive("variances", v) for v in variances]
    if len(vs) != len(ws) + 1:
        raise ValueError(
            f"variances must have len(widths)+1 = {len(ws) + 1} entries, got {len(vs)}"
        )
    xn = check_positive("x_norm", x_norm)
    factors: list[tuple[LogFactor, int]] = []
    # readout: sqrt(v_{L+1}) |N(0,1)| = sqrt(2 v) Gamma(1/2)^{1/2}
    factors.append(
        (LogFactor(((1.0, (("gpow", 0.5 * math.log(2 * vs[-1] * xn**2), 0.5, 0.5),)),)), 1)
    )
    log_alive = 0.0
    for n, v in zip(ws, vs[:-1], strict=True):
        ks, wk = _binomial_weights(n)
        comps = tuple(
            (float(w), (("gpow", 0.5 * math.log(2 * v), k / 2.0, 0.5),))
            for k, w in zip(ks, wk, strict=True)
        )
        factors.append((LogFactor(comps), 1))
        log_alive += math.log1p(-(2.0**-n))
    law = LogProductLaw(factors, atom=-math.expm1(log_alive), sign="symmetric")
    return NociPriorPredictive(ws, vs, xn, law)


# --------------------------------------------------------------------------- Pennington
def pennington_jjt_eigen_variance(
    depth: int, activation: str = "linear", init: str = "gaussian"
) -> Any:
    r"""Variance of the eigenvalue distribution of ``JJᵀ`` at criticality (large width).

    ``σ²_{JJᵀ} = L (μ₂/μ₁² − 1 − s₁)`` with ``μ_k`` the moments of ``φ'(h)²`` and ``s₁ = −1``
    (Gaussian weights) or ``0`` (orthogonal): linear-Gaussian ``L``, linear-orthogonal ``0``,
    ReLU-Gaussian ``2L``, ReLU-orthogonal ``L`` [recalled: Pennington, Schoenholz & Ganguli 2017,
    checked by simulation only]. Returns a sympy Integer.

    >>> pennington_jjt_eigen_variance(10, "relu", "gaussian")
    20
    """
    depth = check_int("depth", depth, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = check_choice("init", init, ("gaussian", "orthogonal"))
    mu1, mu2 = (sp.Integer(1), sp.Integer(1)) if activation == "linear" else (
        sp.Rational(1, 2), sp.Rational(1, 2))
    s1 = sp.Integer(-1) if init == "gaussian" else sp.Integer(0)
    return sp.Integer(depth) * (mu2 / mu1**2 - 1 - s1)
