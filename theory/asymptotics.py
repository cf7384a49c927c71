"""Asymptotic laws of sums of logarithms: saddlepoints and the log-CLT.

The law of a product ``P = w_1 ⋯ w_L`` of independent factors is the law of the sum
``Y = log|P| = Σ log|w_i|``. Its cumulant generating function is a sum of log-Mellin transforms,
``K(t) = log E e^{tY} = Σ_i log M_{|w_i|}(1 + t)``, which is all this module needs:

* :func:`lugannani_rice_cdf` / :func:`lugannani_rice_sf` / :func:`saddlepoint_pdf` /
  :func:`lugannani_rice_quantile` — saddlepoint approximations from ``K, K', K''`` given as
  numpy-vectorized callables (generic: they never see a law object) [ref: Lugannani & Rice 1980;
  Daniels 1954, 1987; Butler, *Saddlepoint Approximations with Applications*, 2007, ch. 1].
* :class:`CGF` with independent sums and iid sums, and :func:`cgf_from_log_mellin`; the CGFs
  of the factor laws (``log|N(0, σ²)|``, ``log Gamma(k, θ)``, ``log|U(−a, a)|``,
  ``log Beta(a, b)``) come from the laws' own Mellin terms in
  :func:`flatstart.theory.log_moments.log_abs_cgf`.
* :func:`log_clt` — the normal approximation of ``S_L = Σ log|w_i|`` with the Berry–Esseen band
  (Shevtsova 2011 constant); the log-moments of one weight that feed it are in
  :mod:`flatstart.theory.log_moments`.
* Medians (Gamma medians, Choi's bounds, mean–median and Cornish–Fisher) are in
  :mod:`flatstart.theory.medians`.

All floating-point work is done under ``np.errstate(all="ignore")`` and the results are checked
for finiteness afterwards: a failure raises ``ValueError``, never returns a silent NaN.

Its length: saddlepoint (Lugannani-Rice) and log-CLT with Berry-Esseen, each with its mpmath
reference beside it.

Derivations, step by step: docs/theory/p.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, special

from flatstart._checks import check_int, check_positive, check_real

__all__ = [
    "BERRY_ESSEEN_IID",
    "BERRY_ESSEEN_NON_IID",
    "CGF",
    "LogCLT",
    "LogMoments",
    "cgf_from_log_mellin",
    "gaussian_log_abs_rho",
    "gaussian_log_abs_rho_mpmath",
    "log_clt",
    "lugannani_rice_cdf",
    "lugannani_rice_cdf_mpmath",
    "lugannani_rice_logcdf",
    "lugannani_rice_logsf",
    "lugannani_rice_quantile",
    "lugannani_rice_sf",
    "saddlepoint_pdf",
    "solve_saddlepoint",
]

Array = NDArray[np.float64]
Fn = Callable[[Any], Any]

#: Berry–Esseen constant for iid summands, ``C ≤ 0.4748`` [ref: Shevtsova 2011,
#: "On the absolute constants in the Berry–Esseen type inequalities for identically distributed
#: summands", arXiv:1111.6554].
BERRY_ESSEEN_IID = 0.4748
#: Berry–Esseen constant for independent, non-identically distributed summands, ``C ≤ 0.5600``
#: [ref: Shevtsova 2010, Doklady Math. 81].
BERRY_ESSEEN_NON_IID = 0.5600

_EULER = float(np.euler_gamma)
_LOG2 = math.log(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

# Gauss-Legendre nodes on [0, 1] for h(t) = t K'(t) - K(t) = ∫_0^t s K''(s) ds.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W

# Chebyshev interpolation of G(t) = 1/w - 1/u near the mean (|u| small).
_CHEB_M = 12
_CHEB_THETA = (2.0 * np.arange(_CHEB_M) + 1.0) * np.pi / (2.0 * _CHEB_M)
_CHEB_X = np.cos(_CHEB_THETA)
_CHEB_BW = (-1.0) ** np.arange(_CHEB_M) * np.sin(_CHEB_THETA)
_U_SERIES = 0.1  # |u| below which G is interpolated instead of differenced
_U_QUAD = 1.0  # |u| below which h is integrated instead of differenced


# --------------------------------------------------------------------------------------------
# Cumulant generating functions
# --------------------------------------------------------------------------------------------


def _check_bounds(t_bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(t_bounds[0]), float(t_bounds[1]))
    except (TypeError, IndexError, ValueError) as exc:
        raise TypeError(f"t_bounds must be a pair (lo, hi) of floats, got {t_bounds!r}") from exc
    if math.isnan(lo) or math.isnan(hi) or not lo < 0.0 < hi:
        raise ValueError(
            f"t_bounds must satisfy lo < 0 < hi (the MGF must exist near 0), got {t_bounds!r}"
        )
    return lo, hi


def _check_support(support: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(support[0]), float(support[1]))
    except (TypeError, IndexError, ValueError) as exc:
        raise TypeError(f"support must be a pair (lo, hi) of floats, got {support!r}") from exc
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"support must satisfy lo < hi, got {support!r}")
    return lo, hi


@dataclass(frozen=True)
class CGF:
    """Cumulant generating function ``K(t) = log E e^{tY}`` of a continuous variable ``Y``.

    ``K, K1 = K', K2 = K''`` (and optionally ``K3, K4``) are numpy-vectorized callables
    (elementwise, broadcasting). ``t_bounds = (lo, hi)`` is the open interval, containing 0,
    where the MGF is finite; ``support`` the closed hull of the support of ``Y`` (used only to
    give clear errors). Independent sums add: ``(A + B).K = A.K + B.K`` on the intersection of
    the domains [ref: any probability text].

    >>> c = cgf_from_log_mellin(lambda s: -np.log(s), lambda s: -1 / s, lambda s: 1 / s**2,
    ...                         s_bounds=(0.0, math.inf)).iid_sum(3)  # log of 3 U(0, 1)
    >>> round(c.mean, 12), round(c.variance, 12)     # -Gamma(3, 1): mean -3, variance 3
    (-3.0, 3.0)
    """

    K: Fn
    K1: Fn
    K2: Fn
    t_bounds: tuple[float, float]
    K3: Fn | None = None
    K4: Fn | None = None
    support: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self) -> None:
        for name in ("K", "K1", "K2"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {getattr(self, name)!r}")
        for name in ("K3", "K4"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {value!r}")
        object.__setattr__(self, "t_bounds", _check_bounds(self.t_bounds))
        object.__setattr__(self, "support", _check_support(self.support))

    # -- cumulants at 0 -----------------------------------------------------------------------
    @property
    def mean(self) -> float:
        """``κ₁ = K'(0)``."""
        return float(np.asarray(self.K1(np.zeros(1)), dtype=float)[0])

    @property
    def variance(self) -> float:
        """``κ₂ = K''(0)``."""
        return float(np.asarray(self.K2(np.zeros(1)), dtype=float)[0])

    def cumulant(self, r: int) -> float:
        """``κ_r = K^{(r)}(0)`` for ``r ∈ {1, 2, 3, 4}`` (3 and 4 need ``K3``/``K4``)."""
        r = check_int("r", r, minimum=1, maximum=4)
        fn = {1: self.K1, 2: self.K2, 3: self.K3, 4: self.K4}[r]
        if fn is None:
            raise ValueError(f"cumulant r={r} needs K{r}, which this CGF does not provide")
        return float(np.asarray(fn(np.zeros(1)), dtype=float)[0])

    # -- algebra ------------------------------------------------------------------------------
    def __add__(self, other: CGF) -> CGF:
        if not isinstance(other, CGF):
            return NotImplemented
        lo = max(self.t_bounds[0], other.t_bounds[0])
        hi = min(self.t_bounds[1], other.t_bounds[1])

        def add(f: Fn | None, g: Fn | None) -> Fn | None:
            if f is None or g is None:
                return None
            return lambda t: f(t) + g(t)

        return CGF(
            K=lambda t: self.K(t) + other.K(t),
            K1=lambda t: self.K1(t) + other.K1(t),
            K2=lambda t: self.K2(t) + other.K2(t),
            K3=add(self.K3, other.K3),
            K4=add(self.K4, other.K4),
            t_bounds=(lo, hi),
            support=(self.support[0] + other.support[0], self.support[1] + other.support[1]),
        )

    def iid_sum(self, count: int) -> CGF:
        """CGF of the sum of ``count`` iid copies: ``count · K(t)``."""
        n = check_int("count", count, minimum=1)

        def times(f: Fn | None) -> Fn | None:
            return None if f is None else (lambda t: n * f(t))

        return CGF(
            K=lambda t: n * self.K(t),
            K1=lambda t: n * self.K1(t),
            K2=lambda t: n * self.K2(t),
            K3=times(self.K3),
            K4=times(self.K4),
            t_bounds=self.t_bounds,
            support=(n * self.support[0], n * self.support[1]),
        )

    def shift(self, c: float) -> CGF:
        """CGF of ``Y + c``: ``K(t) + ct`` (e.g. ``log σ`` per Gaussian factor of scale σ)."""
        cc = check_real("c", c)
        K, K1 = self.K, self.K1
        return CGF(
            K=lambda t: K(t) + cc * np.asarray(t, dtype=float),
            K1=lambda t: K1(t) + cc,
            K2=self.K2, K3=self.K3, K4=self.K4, t_bounds=self.t_bounds,
            support=(self.support[0] + cc, self.support[1] + cc),
        )

    # -- approximations -----------------------------------------------------------------------
    def _kw(self) -> dict[str, Any]:
        return {"t_bounds": self.t_bounds, "support": self.support}

    def cdf(self, y: ArrayLike) -> Array:
        """Lugannani–Rice ``P(Y ≤ y)``; see :func:`lugannani_rice_cdf`."""
        return lugannani_rice_cdf(y, self.K, self.K1, self.K2, **self._kw())

    def sf(self, y: ArrayLike) -> Array:
        """Lugannani–Rice ``P(Y > y)``; see :func:`lugannani_rice_sf`."""
        return lugannani_rice_sf(y, self.K, self.K1, self.K2, **self._kw())

    def logcdf(self, y: ArrayLike) -> Array:
        """``log`` of :meth:`cdf`, accurate far in the lower tail."""
        return lugannani_rice_logcdf(y, self.K, self.K1, self.K2, **self._kw())

    def logsf(self, y: ArrayLike) -> Array:
        """``log`` of :meth:`sf`, accurate far in the upper tail."""
        return lugannani_rice_logsf(y, self.K, self.K1, self.K2, **self._kw())

    def pdf(self, y: ArrayLike, *, correction: bool = False, log: bool = False) -> Array:
        """Saddlepoint density; see :func:`saddlepoint_pdf`."""
        return saddlepoint_pdf(
            y, self.K, self.K1, self.K2, K3=self.K3, K4=self.K4, correction=correction,
            log=log, **self._kw(),
        )

    def quantile(self, q: ArrayLike) -> Array:
        """Lugannani–Rice quantile; see :func:`lugannani_rice_quantile`."""
        return lugannani_rice_quantile(q, self.K, self.K1, self.K2, t_bounds=self.t_bounds)


def cgf_from_log_mellin(
    log_mellin: Fn,
    dlog: Fn,
    d2log: Fn,
    *,
    s_bounds: tuple[float, float],
    d3log: Fn | None = None,
    d4log: Fn | None = None,
    support: tuple[float, float] = (-math.inf, math.inf),
) -> CGF:
    """CGF of ``Y = log|X|`` from the real log-Mellin transform of ``|X|``.

    ``M(s) = E|X|^{s-1}``, so ``K(t) = log M(1 + t)`` and ``K^{(r)}(t) = (log M)^{(r)}(1 + t)``
    [ref: Springer 1979, *The Algebra of Random Variables*, ch. 4]. ``s_bounds`` is the strip
    of real ``s`` where ``M`` is finite (it must contain ``s = 1``).

    >>> import math
    >>> c = cgf_from_log_mellin(lambda s: -np.log(s), lambda s: -1 / s, lambda s: 1 / s**2,
    ...                         s_bounds=(0.0, math.inf))   # U(0, 1): M(s) = 1/s
    >>> c.mean, c.variance
    (-1.0, 1.0)
    """
    lo, hi = float(s_bounds[0]), float(s_bounds[1])
    if not lo < 1.0 < hi:
        raise ValueError(f"s_bounds must contain s = 1, got {s_bounds!r}")

    def shift(f: Fn | None) -> Fn | None:
        return None if f is None else (lambda t: f(1.0 + np.asarray(t, dtype=float)))

    K, K1, K2 = shift(log_mellin), shift(dlog), shift(d2log)
    assert K is not None and K1 is not None and K2 is not None
    return CGF(K=K, K1=K1, K2=K2, K3=shift(d3log), K4=shift(d4log),
               t_bounds=(lo - 1.0, hi - 1.0), support=support)






# --------------------------------------------------------------------------------------------
# Saddlepoint equation
# --------------------------------------------------------------------------------------------


def _as_points(name: str, y: ArrayLike) -> tuple[Array, tuple[int, ...]]:
    try:
        arr = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real array-like, got {y!r}") from exc
    if not np.all(np.isfinite(arr)):
        bad = float(arr[~np.isfinite(arr)].ravel()[0])
        raise ValueError(f"{name} must be finite, got {bad!r}")
    return arr.ravel(), arr.shape


def _ev(f: Fn, t: Array) -> Array:
    with np.errstate(all="ignore"):
        return np.asarray(f(t), dtype=float) * np.ones_like(t)


def _expand(
    y: Array, K1: Fn, start: Array, edge: float, direction: float
) -> tuple[Array, Array]:
    """Find ``b`` (moving from ``start`` toward ``edge``) with ``direction·(K1(b) − y) ≥ 0``.

    Returns ``(b, prev)`` where ``prev`` is the last point with the opposite sign.
    """
    b = start.copy()
    prev = np.zeros_like(start)
    todo = np.ones(y.shape, dtype=bool)
    for _ in range(4000):
        if not todo.any():
            return b, prev
        fb = _ev(K1, b[todo]) - y[todo]
        if np.any(np.isnan(fb)):
            raise ValueError(f"K1 returned NaN at t={b[todo][np.isnan(fb)][0]!r} inside t_bounds")
        done = direction * fb >= 0
        idx = np.flatnonzero(todo)
        todo[idx[done]] = False
        move = idx[~done]
        prev[move] = b[move]
        old = b[move]
        with np.errstate(all="ignore"):
            if math.isinf(edge):
                new = 4.0 * old
            else:
                new = np.where(direction * (4.0 * old) < direction * (edge - (edge - old) / 8.0),
                               4.0 * old, edge - (edge - old) / 8.0)
        stuck = (new == old) | ~np.isfinite(new)
        if np.any(stuck):
            bad = float(y[move[stuck][0]])
            side = "upper" if direction > 0 else "lower"
            raise ValueError(
                f"y={bad!r} lies at or beyond the {side} end of the range of K'(t) on t_bounds "
                f"(outside the support of Y, or the saddlepoint equation has no root)"
            )
        b[move] = new
    raise ValueError("saddlepoint bracketing did not terminate (K1 not increasing?)")


def solve_saddlepoint(
    y: ArrayLike,
    K1: Fn,
    K2: Fn,
    *,
    t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
    max_iter: int = 200,
) -> Array:
    """Solve ``K'(t̂) = y`` for each point (vectorized, bracketed Newton).

    ``K'`` is increasing on ``t_bounds`` because ``K'' > 0``; a bracket ``[a, b]`` is found by
    geometric expansion toward the domain edges, then Newton steps that leave the bracket are
    replaced by bisection [ref: Butler 2007, §1.1]. Raises ``ValueError`` when ``y`` lies outside
    the range of ``K'`` (outside the support) or the iteration fails.

    >>> t = solve_saddlepoint(-2.0, lambda t: -1 / (1 + t), lambda t: 1 / (1 + t) ** 2,
    ...                       t_bounds=(-1.0, math.inf))             # -1/(1+t) = -2
    >>> round(float(t), 12)
    -0.5
    """
    lo, hi = _check_bounds(t_bounds)
    s_lo, s_hi = _check_support(support)
    yy, shape = _as_points("y", y)
    if yy.size and (np.any(yy <= s_lo) or np.any(yy >= s_hi)):
        bad = float(yy[(yy <= s_lo) | (yy >= s_hi)][0])
        raise ValueError(f"y={bad!r} must lie inside the support ({s_lo!r}, {s_hi!r}) of Y")
    if yy.size == 0:
        return yy.reshape(shape)
    k1_0 = float(_ev(K1, np.zeros(1))[0])
    k2_0 = float(_ev(K2, np.zeros(1))[0])
    if not (math.isfinite(k1_0) and math.isfinite(k2_0) and k2_0 > 0):
        raise ValueError(f"K1(0)={k1_0!r}, K2(0)={k2_0!r}: need finite values and K2(0) > 0")
    scale = 1.0 / math.sqrt(k2_0)
    a = np.zeros_like(yy)
    b = np.zeros_like(yy)
    up = yy > k1_0
    down = yy < k1_0
    if up.any():
        s0 = np.full(int(up.sum()), min(scale, hi / 2.0))
        b[up], a[up] = _expand(yy[up], K1, s0, hi, 1.0)
    if down.any():
        s0 = np.full(int(down.sum()), max(-scale, lo / 2.0))
        a[down], b[down] = _expand(yy[down], K1, s0, lo, -1.0)
    t = np.clip((yy - k1_0) / k2_0, a, b)
    t = np.where((t > a) & (t < b), t, 0.5 * (a + b))
    t[~(up | down)] = 0.0
    active = up | down
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        ti = t[idx]
        f = _ev(K1, ti) - yy[idx]
        d = _ev(K2, ti)
        if np.any(~np.isfinite(f)):
            raise ValueError(f"K1 is not finite at t={ti[~np.isfinite(f)][0]!r} inside t_bounds")
        ai, bi = a[idx], b[idx]
        ai = np.where(f < 0, ti, ai)
        bi = np.where(f > 0, ti, bi)
        with np.errstate(all="ignore"):
            newton = ti - f / d
            mid = 0.5 * (ai + bi)
            geo = np.sign(ai) * np.sqrt(np.abs(ai * bi))
            wide = (ai * bi > 0) & (np.maximum(np.abs(ai), np.abs(bi)) > 1e3 * np.minimum(
                np.abs(ai), np.abs(bi)))
            mid = np.where(wide, geo, mid)
            tol = 1e-13 * np.where(d > 0, 1.0 / np.sqrt(np.abs(d)), np.abs(ti)) + 4e-16 * np.abs(
                ti)
            # Newton is accepted strictly inside the bracket, or when it is a sub-tolerance
            # step (rounding can put it on an end point; never cycle between the ends).
            ok = np.isfinite(newton) & (d > 0) & (
                ((newton > ai) & (newton < bi)) | (np.abs(newton - ti) <= tol))
            tn = np.where(ok, newton, mid)
            tn = np.where(f == 0, ti, tn)
            step = np.abs(tn - ti)
        conv = (f == 0) | (ok & (step <= tol)) | (bi - ai <= 4e-16 * np.maximum(np.abs(ai),
                                                                                np.abs(bi)))
        t[idx], a[idx], b[idx] = tn, ai, bi
        active[idx[conv]] = False
    if active.any():
        bad = float(yy[np.flatnonzero(active)[0]])
        raise ValueError(f"saddlepoint equation K'(t) = y did not converge for y={bad!r}")
    return t.reshape(shape)


# --------------------------------------------------------------------------------------------
# Lugannani–Rice
# --------------------------------------------------------------------------------------------


def _h_quad(t: Array, K2: Fn) -> Array:
    """``h(t) = t K'(t) − K(t) = ∫_0^t s K''(s) ds`` (20-point Gauss–Legendre, no cancellation)."""
    s = t[:, None] * _GL_X[None, :]
    vals = _ev(K2, s.ravel()).reshape(s.shape)
    return t * t * (vals * _GL_X[None, :] * _GL_W[None, :]).sum(axis=1)


def _w_u_direct(t: Array, y: Array, K: Fn, K2: Fn, lo: float, hi: float) -> tuple[Array, Array]:
    """Signed root ``w`` and ``u = t √K''(t)``, ``h`` integrated near the mean."""
    k2 = _ev(K2, t)
    u = t * np.sqrt(k2)
    dist = min(-lo, hi)
    with np.errstate(all="ignore"):
        h = t * y - _ev(K, t)
    near = (np.abs(u) <= _U_QUAD) & (np.abs(t) <= 0.5 * dist)
    if near.any():
        h[near] = _h_quad(t[near], K2)
    if np.any(~np.isfinite(h)) or np.any(~np.isfinite(u)):
        bad = float(t[~(np.isfinite(h) & np.isfinite(u))][0])
        raise ValueError(
            f"K or K2 is not finite at the saddlepoint t̂={bad!r} (inside t_bounds): y is too far "
            "in the tail for float64 (t̂ at the edge of the domain)"
        )
    if np.any(h < -1e-9 * (1.0 + np.abs(t * y))):
        raise ValueError("t·y − K(t) < 0 at a saddlepoint: K is not a valid CGF (K(0) must be 0)")
    w = np.sign(t) * np.sqrt(np.maximum(h, 0.0))
    return np.sqrt(2.0) * w, u


def _lr_core(
    t: Array, y: Array, K: Fn, K1: Fn, K2: Fn, lo: float, hi: float
) -> tuple[Array, Array]:
    """Return ``(w, G)`` with ``G = 1/w − 1/u`` evaluated without 0/0 near the mean."""
    w, u = _w_u_direct(t, y, K, K2, lo, hi)
    k2_0 = float(_ev(K2, np.zeros(1))[0])
    t0 = min(_U_SERIES / math.sqrt(k2_0), 0.25 * min(-lo, hi))
    g = np.empty_like(t)
    small = np.abs(t) < t0
    with np.errstate(all="ignore"):
        g[~small] = 1.0 / w[~small] - 1.0 / u[~small]
    if small.any():
        # G(t) is analytic at t = 0 (G(0) = κ3 / (6 κ2^{3/2})); interpolate it at Chebyshev
        # nodes where the difference 1/w − 1/u is still well conditioned.
        nodes = t0 * _CHEB_X
        wn, un = _w_u_direct(nodes, _ev(K1, nodes), K, K2, lo, hi)
        gn = 1.0 / wn - 1.0 / un
        x = t[small]
        diff = x[:, None] - nodes[None, :]
        exact = diff == 0
        with np.errstate(all="ignore"):
            q = _CHEB_BW[None, :] / diff
            val = (q * gn[None, :]).sum(axis=1) / q.sum(axis=1)
        if exact.any():
            r, c = np.nonzero(exact)
            val[r] = gn[c]
        g[small] = val
    if np.any(~np.isfinite(g)):
        bad = float(t[~np.isfinite(g)][0])
        raise ValueError(
            f"Lugannani–Rice term 1/w − 1/u is not finite at t̂={bad!r}: K2 under/overflowed "
            "(y too close to the edge of the support?) or K2 is not positive"
        )
    return w, g


def _mills(x: Array) -> Array:
    """``Φ(−x)/φ(x)`` for ``x ≥ 0`` via ``erfcx`` (no underflow)."""
    return math.sqrt(math.pi / 2.0) * special.erfcx(x / math.sqrt(2.0))


def _lr_parts(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, t_bounds: tuple[float, float],
    support: tuple[float, float],
) -> tuple[Array, Array, tuple[int, ...]]:
    lo, hi = _check_bounds(t_bounds)
    yy, shape = _as_points("y", y)
    k0 = float(_ev(K, np.zeros(1))[0])
    if not abs(k0) <= 1e-12:
        raise ValueError(f"K(0) must be 0 for a cumulant generating function, got {k0!r}")
    t = solve_saddlepoint(yy, K1, K2, t_bounds=(lo, hi), support=support).ravel()
    w, g = _lr_core(t, yy, K, K1, K2, lo, hi)
    return w, g, shape


def _log_tail(w: Array, g: Array, sign: float) -> Array:
    """``log(φ(w)(Mills(|w|) + sign·G))`` (the tail side of the LR formula)."""
    bracket = _mills(np.abs(w)) + sign * g
    if np.any(bracket <= 0):
        raise ValueError("Lugannani–Rice approximation breaks down (non-positive tail value)")
    return -0.5 * w * w - _LOG_SQRT_2PI + np.log(bracket)


def _lr_log_cdf_sf(w: Array, g: Array, want_cdf: bool) -> Array:
    # cdf: w < 0 -> tail with +G;  sf: w >= 0 -> tail with -G.
    out = np.empty_like(w)
    tail = (w < 0) if want_cdf else (w >= 0)
    sign = 1.0 if want_cdf else -1.0
    with np.errstate(all="ignore"):
        if tail.any():
            out[tail] = _log_tail(w[tail], g[tail], sign)
        other = ~tail
        if other.any():
            wo, go = w[other], g[other]
            comp = np.exp(-0.5 * wo * wo) / _SQRT_2PI * (_mills(np.abs(wo)) - sign * go)
            comp = np.clip(comp, 0.0, 1.0)
            out[other] = np.log1p(-comp)
    return out


def lugannani_rice_cdf(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
) -> Array:
    """Lugannani–Rice approximation of ``P(Y ≤ y)`` from the CGF of ``Y``.

    ``K'(t̂) = y``, ``w = sign(t̂)√(2(t̂y − K(t̂)))``, ``u = t̂√K''(t̂)``,
    ``F(y) ≈ Φ(w) + φ(w)(1/w − 1/u)`` [ref: Lugannani & Rice 1980, Adv. Appl. Prob. 12;
    Butler 2007, (1.21)]. At the mean the limit ``½ + κ₃/(6√(2π) κ₂^{3/2})`` is reached
    continuously: ``t̂y − K(t̂)`` is integrated as ``∫_0^t̂ sK''(s)ds`` and ``1/w − 1/u`` is
    interpolated at Chebyshev nodes in ``t`` for ``|u| < 0.1`` (no 0/0). The tail side uses
    Mills' ratio so tiny probabilities keep full relative precision. The result is clipped to
    ``[0, 1]``. Callables must be numpy-vectorized; ``t_bounds`` is where the MGF exists.

    >>> from flatstart.theory.log_moments import log_abs_uniform_cgf
    >>> c = log_abs_uniform_cgf(1.0).iid_sum(5)       # Y = -Gamma(5, 1)
    >>> from scipy.special import gammaincc
    >>> p = lugannani_rice_cdf(-8.0, c.K, c.K1, c.K2, t_bounds=c.t_bounds)
    >>> bool(abs(p / gammaincc(5, 8.0) - 1) < 5e-3)
    True
    """
    w, g, shape = _lr_parts(y, K, K1, K2, t_bounds, support)
    with np.errstate(all="ignore"):
        return np.exp(_lr_log_cdf_sf(w, g, True)).reshape(shape)


def lugannani_rice_sf(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
) -> Array:
    """Lugannani–Rice ``P(Y > y) ≈ Φ(−w) − φ(w)(1/w − 1/u)``, computed directly (no ``1 − F``).

    Same conventions as :func:`lugannani_rice_cdf` [ref: Lugannani & Rice 1980].

    >>> from flatstart.theory.log_moments import log_abs_uniform_cgf
    >>> c = log_abs_uniform_cgf(1.0).iid_sum(5)
    >>> from scipy.special import gammainc
    >>> p = lugannani_rice_sf(-1.0, c.K, c.K1, c.K2, t_bounds=c.t_bounds, support=c.support)
    >>> bool(abs(p / gammainc(5, 1.0) - 1) < 2e-2)
    True
    """
    w, g, shape = _lr_parts(y, K, K1, K2, t_bounds, support)
    with np.errstate(all="ignore"):
        return np.exp(_lr_log_cdf_sf(w, g, False)).reshape(shape)


def lugannani_rice_logcdf(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
) -> Array:
    """``log`` of :func:`lugannani_rice_cdf`; finite far beyond float underflow.

    >>> from flatstart.theory.log_moments import log_abs_normal_cgf
    >>> c = log_abs_normal_cgf(1.0).iid_sum(3)
    >>> bool(lugannani_rice_logcdf(-200.0, c.K, c.K1, c.K2, t_bounds=c.t_bounds) < -180)
    True
    """
    w, g, shape = _lr_parts(y, K, K1, K2, t_bounds, support)
    return _lr_log_cdf_sf(w, g, True).reshape(shape)


def lugannani_rice_logsf(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
) -> Array:
    """``log`` of :func:`lugannani_rice_sf`; finite far beyond float underflow.

    >>> from flatstart.theory.log_moments import log_abs_normal_cgf
    >>> c = log_abs_normal_cgf(1.0).iid_sum(3)        # P(|w1 w2 w3| > e^10) ≈ e^{-1179}
    >>> bool(lugannani_rice_logsf(10.0, c.K, c.K1, c.K2, t_bounds=c.t_bounds) < -1000)
    True
    """
    w, g, shape = _lr_parts(y, K, K1, K2, t_bounds, support)
    return _lr_log_cdf_sf(w, g, False).reshape(shape)


def saddlepoint_pdf(
    y: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    support: tuple[float, float] = (-math.inf, math.inf),
    K3: Fn | None = None, K4: Fn | None = None, correction: bool = False, log: bool = False,
) -> Array:
    """Saddlepoint density ``f̂(y) = exp(K(t̂) − t̂y) / √(2π K''(t̂))`` (unnormalized).

    With ``correction=True`` (needs ``K3``, ``K4``) it is multiplied by the second-order factor
    ``1 + λ₄/8 − 5λ₃²/24``, ``λ_r = K^{(r)}(t̂)/K''(t̂)^{r/2}`` [ref: Daniels 1954, Ann. Math.
    Stat. 25; Butler 2007, (2.32)]. ``log=True`` returns ``log f̂``.

    >>> from flatstart.theory.log_moments import log_abs_uniform_cgf
    >>> c = log_abs_uniform_cgf(1.0).iid_sum(4)       # -Gamma(4, 1): exact pdf x³e^{-x}/6
    >>> import math
    >>> f = saddlepoint_pdf(-4.0, c.K, c.K1, c.K2, t_bounds=c.t_bounds, K3=c.K3, K4=c.K4,
    ...                     correction=True)
    >>> bool(abs(f / (64 * math.exp(-4) / 6) - 1) < 2e-3)
    True
    """
    lo, hi = _check_bounds(t_bounds)
    yy, shape = _as_points("y", y)
    t = solve_saddlepoint(yy, K1, K2, t_bounds=(lo, hi), support=support).ravel()
    w, _ = _w_u_direct(t, yy, K, K2, lo, hi)
    k2 = _ev(K2, t)
    out = -0.5 * w * w - 0.5 * np.log(2.0 * np.pi * k2)
    if correction:
        if K3 is None or K4 is None:
            raise ValueError("correction=True needs K3 and K4")
        lam3 = _ev(K3, t) / k2**1.5
        lam4 = _ev(K4, t) / k2**2
        factor = 1.0 + lam4 / 8.0 - 5.0 * lam3**2 / 24.0
        if np.any(~(factor > 0)):
            raise ValueError("second-order saddlepoint correction is not positive here")
        out = out + np.log(factor)
    if np.any(~np.isfinite(out)):
        raise ValueError("saddlepoint density is not finite (K2 not positive?)")
    return (out if log else np.exp(out)).reshape(shape)


def lugannani_rice_quantile(
    q: ArrayLike, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float],
    max_iter: int = 200,
) -> Array:
    """Solve ``F̂(y) = q`` for the Lugannani–Rice cdf ``F̂`` (vectorized).

    Works in the saddlepoint variable: ``y = K'(t)`` and ``F̂`` is increasing in ``t``; the
    equation ``log F̂ = log q`` (``log(1 − F̂) = log(1 − q)`` for ``q > ½``) is solved by
    safeguarded Newton in ``t`` (slope ``φ(w)√K''/F̂``, bisection fallback) on a bracket found
    by geometric expansion, so tail quantiles keep relative precision [derived].

    >>> from flatstart.theory.log_moments import log_abs_uniform_cgf
    >>> c = log_abs_uniform_cgf(1.0).iid_sum(3)
    >>> y = lugannani_rice_quantile(0.5, c.K, c.K1, c.K2, t_bounds=c.t_bounds)
    >>> abs(float(lugannani_rice_cdf(y, c.K, c.K1, c.K2, t_bounds=c.t_bounds)) - 0.5) < 1e-12
    True
    """
    lo, hi = _check_bounds(t_bounds)
    qa = np.asarray(q, dtype=float)
    shape = qa.shape
    qq = qa.ravel()
    if qq.size and not np.all((qq > 0) & (qq < 1)):
        bad = float(qq[~((qq > 0) & (qq < 1))][0])
        raise ValueError(f"q must lie in the open interval (0, 1), got {bad!r}")
    if qq.size == 0:
        return qq.reshape(shape)
    upper = qq > 0.5
    target = np.where(upper, np.log1p(-qq), np.log(qq))

    def score(t: Array, up: NDArray[np.bool_], tgt: Array) -> tuple[Array, Array]:
        """Increasing in t: log F̂ − log q (lower half) or log q' − log(1 − F̂) (upper half).

        Also returns the approximate slope ``φ(w)√K''(t)/P`` (``dF̂/dy ≈ f̂``, ``dy/dt = K''``).
        """
        y = _ev(K1, t)
        w, g = _lr_core(t, y, K, K1, K2, lo, hi)
        logp = np.empty_like(t)
        if (~up).any():
            logp[~up] = _lr_log_cdf_sf(w[~up], g[~up], True)
        if up.any():
            logp[up] = _lr_log_cdf_sf(w[up], g[up], False)
        with np.errstate(all="ignore"):
            slope = np.exp(-0.5 * w * w - _LOG_SQRT_2PI + 0.5 * np.log(_ev(K2, t)) - logp)
        return np.where(up, tgt - logp, logp - tgt), slope

    k2_0 = float(_ev(K2, np.zeros(1))[0])
    scale = 1.0 / math.sqrt(k2_0)
    a = np.full(qq.shape, max(-scale, lo / 2.0))
    b = np.full(qq.shape, min(scale, hi / 2.0))
    need_a = np.ones(qq.shape, dtype=bool)
    need_b = np.ones(qq.shape, dtype=bool)
    for _ in range(2000):
        if need_a.any():
            need_a[need_a] = score(a[need_a], upper[need_a], target[need_a])[0] > 0
        if need_b.any():
            need_b[need_b] = score(b[need_b], upper[need_b], target[need_b])[0] < 0
        if not (need_a.any() or need_b.any()):
            break
        with np.errstate(all="ignore"):
            na = 4.0 * a if math.isinf(lo) else np.maximum(4.0 * a, lo - (lo - a) / 8.0)
            nb = 4.0 * b if math.isinf(hi) else np.minimum(4.0 * b, hi - (hi - b) / 8.0)
        stuck = (need_a & ((na == a) | ~np.isfinite(na))) | (
            need_b & ((nb == b) | ~np.isfinite(nb)))
        if np.any(stuck):
            raise ValueError("quantile lies beyond the range reachable on t_bounds")
        a = np.where(need_a, na, a)
        b = np.where(need_b, nb, b)
    # safeguarded Newton in t on the bracket [a, b]
    t = 0.5 * (a + b)
    active = np.ones(qq.shape, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        ti, ai, bi = t[idx], a[idx], b[idx]
        sc, slope = score(ti, upper[idx], target[idx])
        ai = np.where(sc <= 0, ti, ai)
        bi = np.where(sc > 0, ti, bi)
        with np.errstate(all="ignore"):
            newton = ti - sc / slope
            mid = 0.5 * (ai + bi)
            wide = (ai * bi > 0) & (np.maximum(np.abs(ai), np.abs(bi)) > 1e3 * np.minimum(
                np.abs(ai), np.abs(bi)))
            mid = np.where(wide, np.sign(ai) * np.sqrt(np.abs(ai * bi)), mid)
            tol = 1e-14 * (np.abs(ti) + 1.0 / np.sqrt(_ev(K2, ti)))
            ok = np.isfinite(newton) & (((newton > ai) & (newton < bi)) | (np.abs(
                newton - ti) <= tol))
            tn = np.where(ok, newton, mid)
        conv = (sc == 0) | (ok & (np.abs(tn - ti) <= tol)) | (
            bi - ai <= 4e-16 * np.maximum(np.abs(ai), np.abs(bi)))
        t[idx], a[idx], b[idx] = tn, ai, bi
        active[idx[conv]] = False
    if active.any():
        raise ValueError("Lugannani–Rice quantile iteration did not converge")
    return _ev(K1, t).reshape(shape)


def lugannani_rice_cdf_mpmath(
    y: float, K: Fn, K1: Fn, K2: Fn, *, t_bounds: tuple[float, float], dps: int = 50,
) -> mpmath.mpf:
    """Slow scalar reference of :func:`lugannani_rice_cdf` in ``mpmath`` at ``dps`` digits.

    ``K, K1, K2`` must accept and return ``mpmath`` numbers. The saddlepoint is bracketed by
    expansion and refined by ``mpmath.findroot`` (Anderson–Björck); ``t̂y − K(t̂)`` and
    ``1/w − 1/u`` are evaluated directly, the working precision absorbing the cancellation;
    within ``|u| < 10^{−dps/4}`` of the mean the limit ``κ₃/(6κ₂^{3/2})`` (with ``κ₃`` by a
    central difference of ``K2``) is used [ref: Lugannani & Rice 1980].
    """
    lo, hi = _check_bounds(t_bounds)
    d = check_int("dps", dps, minimum=20, maximum=500)
    yv = check_real("y", y)
    with mpmath.workdps(2 * d):
        ym = mpmath.mpf(yv)
        f = lambda t: K1(t) - ym  # noqa: E731
        a, b = mpmath.mpf(0), mpmath.mpf(0)
        step = 1 / mpmath.sqrt(K2(mpmath.mpf(0)))
        if f(a) < 0:
            b = min(step, mpmath.mpf(hi) / 2) if math.isfinite(hi) else step
            while f(b) < 0:
                a = b
                b = 4 * b if math.isinf(hi) else min(4 * b, hi - (hi - b) / 8)
        elif f(a) > 0:
            a = max(-step, mpmath.mpf(lo) / 2) if math.isfinite(lo) else -step
            while f(a) > 0:
                b = a
                a = 4 * a if math.isinf(lo) else max(4 * a, lo - (lo - a) / 8)
        t = a if f(a) == 0 else mpmath.findroot(f, (a, b), solver="anderson")
        k2 = K2(t)
        u = t * mpmath.sqrt(k2)
        if abs(u) < mpmath.mpf(10) ** (-d // 4):
            h = mpmath.mpf(10) ** (-d // 2)
            k3 = (K2(h) - K2(-h)) / (2 * h)
            w = mpmath.sign(t) * mpmath.sqrt(2 * (t * ym - K(t)))
            g = k3 / (6 * K2(mpmath.mpf(0)) ** mpmath.mpf(1.5))
        else:
            w = mpmath.sign(t) * mpmath.sqrt(2 * (t * ym - K(t)))
            g = 1 / w - 1 / u
        out = mpmath.ncdf(w) + mpmath.npdf(w) * g
    with mpmath.workdps(d):
        return +out


# --------------------------------------------------------------------------------------------
# Log-CLT with Berry–Esseen
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogCLT:
    """Normal approximation of ``S_L = Σ_{i≤L} X_i`` (iid, here ``X_i = log|w_i|``).

    ``P((S_L − Lμ)/(s√L) ≤ x) ∈ [Φ(x) − B, Φ(x) + B]``, ``B = C ρ / (s³ √L)``,
    ``ρ = E|X − μ|³`` [ref: Berry 1941, Esseen 1942; ``C = 0.4748``, Shevtsova 2011].
    """

    mean: float
    variance: float
    third_abs_central_moment: float
    count: int
    constant: float = BERRY_ESSEEN_IID

    @property
    def total_mean(self) -> float:
        """``L μ``."""
        return self.count * self.mean

    @property
    def total_sd(self) -> float:
        """``s √L``."""
        return math.sqrt(self.variance * self.count)

    @property
    def bound(self) -> float:
        """Berry–Esseen uniform bound ``C ρ / (s³ √L)`` on ``sup_x |F_L(x) − Φ(x)|``."""
        return self.constant * self.third_abs_central_moment / (
            self.variance**1.5 * math.sqrt(self.count))

    def standardized_cdf(self, x: ArrayLike) -> Array:
        """``Φ(x)`` for the standardized sum."""
        xx, shape = _as_points("x", x)
        return special.ndtr(xx).reshape(shape)

    def cdf(self, s: ArrayLike) -> Array:
        """Normal approximation ``Φ((s − Lμ)/(s√L))`` of ``P(S_L ≤ s)``."""
        ss, shape = _as_points("s", s)
        return special.ndtr((ss - self.total_mean) / self.total_sd).reshape(shape)

    def sf(self, s: ArrayLike) -> Array:
        """Normal approximation of ``P(S_L > s)``."""
        ss, shape = _as_points("s", s)
        return special.ndtr(-(ss - self.total_mean) / self.total_sd).reshape(shape)

    def band(self, s: ArrayLike) -> tuple[Array, Array]:
        """Guaranteed ``[Φ − B, Φ + B] ∩ [0, 1]`` containing the exact ``P(S_L ≤ s)``."""
        c = self.cdf(s)
        return np.clip(c - self.bound, 0.0, 1.0), np.clip(c + self.bound, 0.0, 1.0)

    def standardized_band(self, x: ArrayLike) -> tuple[Array, Array]:
        """Band for ``P((S_L − Lμ)/(s√L) ≤ x)``."""
        c = self.standardized_cdf(x)
        return np.clip(c - self.bound, 0.0, 1.0), np.clip(c + self.bound, 0.0, 1.0)


def log_clt(
    mean: float, variance: float, third_abs_central_moment: float, count: int,
    *, constant: float = BERRY_ESSEEN_IID,
) -> LogCLT:
    """Log-CLT for ``S_L = Σ log|w_i|`` with its Berry–Esseen band.

    Validates ``variance > 0``, ``count ≥ 1`` and Lyapunov's ``ρ ≥ s³`` (Jensen).

    >>> c = log_clt(-1.0, 1.0, 12.0 / math.e - 2.0, 100)  # log|U(-1, 1)|
    >>> round(c.bound, 6)                             # 0.4748 (12/e − 2) / 10
    0.114643
    """
    mu = check_real("mean", mean)
    var = check_positive("variance", variance)
    rho = check_positive("third_abs_central_moment", third_abs_central_moment)
    n = check_int("count", count, minimum=1)
    c = check_positive("constant", constant)
    if rho < var**1.5 * (1.0 - 1e-12):
        raise ValueError(
            f"third_abs_central_moment={rho!r} is impossible: E|X−μ|³ ≥ variance^{{3/2}} = "
            f"{var**1.5!r} (Lyapunov)"
        )
    return LogCLT(mean=mu, variance=var, third_abs_central_moment=rho, count=n, constant=c)


@dataclass(frozen=True)
class LogMoments:
    """Mean, variance, third absolute central moment and third cumulant of ``log|w|``."""

    mean: float
    variance: float
    third_abs_central_moment: float
    kappa3: float

    def clt(self, count: int, *, constant: float = BERRY_ESSEEN_IID) -> LogCLT:
        """:func:`log_clt` for the sum of ``count`` iid copies."""
        return log_clt(self.mean, self.variance, self.third_abs_central_moment, count,
                       constant=constant)


@functools.lru_cache(maxsize=1)
def gaussian_log_abs_rho() -> float:
    """``ρ = E|log|Z| − μ₀|³``, ``Z ~ N(0,1)``, by adaptive quadrature in ``y = log|Z|``.

    Density of ``y``: ``√(2/π) exp(y − e^{2y}/2)``; split at ``μ₀`` (the kink of ``|·|³``);
    ``scipy.integrate.quad`` with ``epsabs=0, epsrel=1e-13`` (observed error ≲ 1e-15 against
    :func:`gaussian_log_abs_rho_mpmath` at 30 digits).
    """
    mu0 = -(_EULER + _LOG2) / 2.0
    c = math.sqrt(2.0 / math.pi)

    def f(y: float) -> float:
        return abs(y - mu0) ** 3 * c * math.exp(y - 0.5 * math.exp(2.0 * y))

    left, _ = integrate.quad(f, -60.0, mu0, epsabs=0.0, epsrel=1e-13, limit=200)
    right, _ = integrate.quad(f, mu0, 6.0, epsabs=0.0, epsrel=1e-13, limit=200)
    return left + right


def gaussian_log_abs_rho_mpmath(dps: int = 30) -> mpmath.mpf:
    """Slow reference for ``E|log|Z| − μ₀|³``: ``mpmath.quad`` in ``z`` at ``dps`` digits.

    ``2∫_0^∞ |log z − μ₀|³ φ(z) dz``, split at ``z = e^{μ₀}`` [derived].
    """
    d = check_int("dps", dps, minimum=15, maximum=200)
    with mpmath.workdps(d):
        mu0 = -(mpmath.euler + mpmath.log(2)) / 2
        z0 = mpmath.exp(mu0)

        def g(z: Any) -> Any:
            return 2 * mpmath.npdf(z) * abs(mpmath.log(z) - mu0) ** 3

        val = mpmath.quad(g, [0, z0]) + mpmath.quad(g, [z0, 1, 4, mpmath.inf])
    return +val
