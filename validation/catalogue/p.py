r"""Claim family ``P``: laws of products of independent random variables (docs/theory/p.md).

Theory side: :mod:`flatstart.theory.products` (exact Meijer-G / Mellin-inversion laws),
:mod:`flatstart.theory.laws`, :mod:`flatstart.theory.asymptotics` (log-CLT with Berry–Esseen, gamma
medians and Choi's bounds). Monte Carlo side: :mod:`flatstart.montecarlo.variables` (torch samplers
of products) and
:mod:`flatstart.montecarlo.networks` (width-1 chains whose weights are the factors).

Claims:

* ``P.normal-product``, ``P.gamma-product``, ``P.uniform-product``, ``P.beta-product``: the
  exact law of a product of independent factors against torch samples (Kolmogorov–Smirnov
  against the exact CDF).
* ``P.log-moments``: mean, variance and third cumulant of ``log|w|`` for ``w ~ N(0, σ²)``.
* ``P.berry-esseen``: the log-CLT of a Gaussian chain stays inside its Berry–Esseen band.
* ``P.choi``: the median of a product of ``n + 1`` uniforms is ``e^{−λ(n)}`` with Choi's bounds
  on ``λ(n)``, the median of Gamma(n + 1, 1).

Its length: one family's claims, one section per claim (predict, simulate, test, mutant, plot
and registration side by side); adding a claim touches this module only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from flatstart.theory.asymptotics import CGF, LogCLT, cgf_from_log_mellin
from flatstart.theory.laws import Beta, Gamma, Law, Normal, Uniform
from flatstart.theory.log_moments import (
    gaussian_log_abs_moments,
    log_abs_normal_cgf,
    log_abs_uniform_cgf,
    log_beta_cgf,
    log_gamma_cgf,
    uniform_log_abs_moments,
)
from flatstart.theory.medians import (
    choi_bounds,
    choi_series,
    cornish_fisher_median_shift,
    gamma_median,
    gamma_median_shape,
)
from flatstart.theory.products import product
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register
from flatstart.validation.stats import TestOutcome

__all__ = ["P_IDS"]

_ALPHA = 0.01


def _n(budget: str) -> int:
    """Samples per grid point of the distribution claims (scipy's KS p-value is exact up to
    10⁴ samples)."""
    return int(by_budget(budget, quick=1_000, standard=10_000, full=10_000))


_CDF_RTOL = 1e-7


_INTERP_POINTS = 401  # nodes per sign in log|x| of the interpolated exact CDF
_INTERP_HALF_WIDTH = 7.0  # the nodes span E log|X| ± 7 sd(log|X|)
_INTERP_CACHE: dict[str, Any] = {}


def _interpolated_cdf(law: Law) -> Any:
    """The exact CDF of ``law`` evaluated once on ``±exp(u)`` for a grid of ``u = log|x|``
    (``E log|X| ± 7 sd``, 401 nodes per sign) and interpolated by cubic splines in ``u``
    (smooth there even where the density is singular at 0); outside the grid the end values
    (F(0±) and 0 / 1 up to the far-tail mass) are used. Cached per law (by ``repr``), so the
    rescaled copies ``c X`` that the resolution ladder tries cost no new evaluation."""
    from scipy.interpolate import CubicSpline

    key = repr(law)
    hit = _INTERP_CACHE.get(key)
    if hit is not None:
        return hit
    m = float(law.mean_log())
    sd = math.sqrt(float(law.log_cumulant(2)))
    u = np.linspace(m - _INTERP_HALF_WIDTH * sd, m + _INTERP_HALF_WIDTH * sd, _INTERP_POINTS)
    pos = np.asarray(law.cdf(np.exp(u), rtol=_CDF_RTOL), dtype=np.float64)
    neg = (np.asarray(law.cdf(-np.exp(u), rtol=_CDF_RTOL), dtype=np.float64)
           if law.p_neg > 0 else np.zeros_like(u))
    sp_pos, sp_neg = CubicSpline(u, pos), CubicSpline(u, neg)

    def cdf(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        out = np.empty_like(x)
        with np.errstate(divide="ignore"):
            ux = np.log(np.abs(x))
        uc = np.clip(ux, u[0], u[-1])
        big, small = ux > u[-1], ux < u[0]
        p = x > 0
        out[p] = np.where(big[p], pos[-1], np.where(small[p], pos[0], sp_pos(uc[p])))
        q = ~p
        out[q] = np.where(big[q], neg[-1], np.where(small[q], neg[0], sp_neg(uc[q])))
        return np.clip(out, 0.0, 1.0)

    if len(_INTERP_CACHE) > 256:
        _INTERP_CACHE.clear()
    _INTERP_CACHE[key] = cdf
    return cdf


def _exact_cdf(law: Law) -> Any:
    """``law.cdf`` at relative accuracy ``1e-7`` (closed form or Mellin inversion; Meijer G
    only where Mellin misses that accuracy), interpolated from 2 × 401 nodes (error ≲ 1e-6,
    far below the KS test's resolution ``~1/√n``); the ``1e-7`` also avoids the slow scalar
    Meijer-G fallback that the default ``1e-10`` triggers for laws with singular densities
    (e.g. Beta(½, ½) factors). A rescaled law ``c X`` is evaluated as ``F_X(x / c)``."""
    from flatstart.theory.laws import Scaled
    from flatstart.validation.resolution import ScaledLaw

    c = 1.0
    base: Law = law
    while isinstance(base, (Scaled, ScaledLaw)):  # c X (e.g. a step of the resolution ladder)
        c *= float(base.c)
        base = base.law
    inner = _interpolated_cdf(base)

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.asarray(inner(np.asarray(x, dtype=np.float64) / c), dtype=np.float64)

    return cdf




# ---------------------------------------------------------------------------------------------
# the exact-law prediction shared by the distribution claims
# ---------------------------------------------------------------------------------------------

# 8-point Gauss–Legendre nodes/weights on [-1, 1]: window masses from the density
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_WINDOW_CENTERS = (-1.0, 0.0, 1.0)  # window centres in log|x|: mean + c * sd
_WINDOW_HALF = 0.3  # half-width of a window in log|x|, in units of sd
_TAIL_SD = 2.0  # the upper-tail point log x_t = mean + 2 sd


@dataclass(frozen=True)
class LawPrediction:
    """The exact law and the numbers the test compares with the samples.

    ``mean_log``/``var_log``: ``E log|X|``, ``Var log|X|``; ``windows``: ``(lo, hi, mass)``
    with ``mass = ∫_lo^hi f`` from the density ``f`` (Gauss–Legendre in ``log x``); ``tail``:
    ``(x_t, P(X > x_t))`` from the survival function.
    """

    law: Law
    mean_log: float
    var_log: float
    windows: tuple[tuple[float, float, float], ...]
    tail: tuple[float, float]


def law_prediction(law: Law) -> LawPrediction:
    """Evaluate ``law``: log-moments, density masses of three windows and one upper tail."""
    m = float(law.mean_log())
    v = float(law.log_cumulant(2))
    sd = math.sqrt(v)
    windows = []
    for c in _WINDOW_CENTERS:
        y0, h = m + c * sd, _WINDOW_HALF * sd
        u = y0 + h * _GL_X
        f = np.asarray(law.pdf(np.exp(u), rtol=_CDF_RTOL), dtype=np.float64)
        mass = float(h * np.sum(_GL_W * f * np.exp(u)))
        windows.append((math.exp(y0 - h), math.exp(y0 + h), mass))
    xt = math.exp(m + _TAIL_SD * sd)
    return LawPrediction(law, m, v, tuple(windows), (xt, float(law.sf(xt, rtol=_CDF_RTOL))))


def check_distribution(prediction: LawPrediction, samples: np.ndarray,
                       alpha: float) -> TestOutcome:
    """Bonferroni combination of: the one-sample Kolmogorov–Smirnov test against the exact CDF;
    Student t tests of ``E log|X|`` and ``E (log|X| − mean)² = Var log|X|``; exact binomial
    tests of the sample counts in three density windows (mass ``∫ f``) and above the tail
    point (``P(X > x_t)``)."""
    x = np.asarray(samples, dtype=np.float64)
    y = np.log(np.abs(x))
    d = y - prediction.mean_log
    n = x.size
    parts = {
        "ks": stats.ks_test(x, _exact_cdf(prediction.law), alpha),
        "mean_log": stats.mean_test(y, prediction.mean_log, alpha),
        "var_log": stats.mean_test(d**2, prediction.var_log, alpha),
    }
    for i, (lo, hi, mass) in enumerate(prediction.windows):
        k = int(np.sum((x > lo) & (x < hi)))
        parts[f"window{i}"] = stats.binomial_test(k, n, min(max(mass, 0.0), 1.0), alpha)
    xt, sf = prediction.tail
    parts["tail"] = stats.binomial_test(int(np.sum(x > xt)), n, min(max(sf, 0.0), 1.0), alpha)
    return stats.combine(parts, alpha, parts["ks"].statistic, n)


def _describe_law_prediction(p: LawPrediction) -> dict[str, Any]:
    return {"law": repr(p.law)[:200], "mean_log": p.mean_log, "var_log": p.var_log,
            "windows": [list(w) for w in p.windows], "tail": list(p.tail)}


def _plot_cdfs(fig: Any, records: list[Any], title: Any) -> None:
    """Exact CDF (theory) over the empirical CDF with its DKW band, one panel per point."""
    from flatstart.validation.plots import plot_cdf_vs_empirical

    recs = records[:4]
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, r in zip(axes, recs, strict=True):
        x = np.asarray(r.measurement, dtype=np.float64)
        lo, hi = np.quantile(x, [0.01, 0.99])
        inside = x[(x >= lo) & (x <= hi)]
        plot_cdf_vs_empirical(ax, _exact_cdf(r.prediction.law), inside, _ALPHA)
        ax.set_title(title(r.params), fontsize=7)
        ax.set_xlabel("x (central 98% of samples)", fontsize=7)
        ax.tick_params(labelsize=6)


# =============================================================================================
# P.normal-product
# =============================================================================================


def predict_normal_product(params: dict[str, Any]) -> LawPrediction:
    """Exact law of ``∏_{i≤n} w_i``, ``w_i ~ N(0, σ²)`` iid (Meijer G; Springer & Thompson)."""
    return law_prediction(product(Normal(float(params["sigma"])), int(params["factors"])))


def mutant_normal_product(params: dict[str, Any]) -> LawPrediction:
    """One factor fewer: the law of a product of ``n − 1`` normals."""
    return law_prediction(product(Normal(float(params["sigma"])), int(params["factors"]) - 1))


def simulate_normal_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of ``n`` independent ``N(0, σ²)``."""
    from flatstart.montecarlo.variables import sample_product

    spec = ("normal", {"sigma": float(params["sigma"])})
    return sample_product([spec] * int(params["factors"]), _n(budget), seed=seed, device=device)


def plot_normal_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: f"{p['factors']} normals, sigma={p['sigma']}")


# =============================================================================================
# P.gamma-product
# =============================================================================================


def _gamma_law(shapes: list[float], scales: list[float]) -> Law:
    return product([Gamma(float(k), float(t)) for k, t in zip(shapes, scales, strict=True)])


def predict_gamma_product(params: dict[str, Any]) -> LawPrediction:
    """Exact law of ``∏ X_i``, ``X_i ~ Gamma(k_i, θ_i)`` (scale θ): Meijer ``G^{n,0}_{0,n}``."""
    return law_prediction(_gamma_law(params["shapes"], params["scales"]))


def mutant_gamma_product(params: dict[str, Any]) -> LawPrediction:
    """Scale read as a rate: ``Gamma(k_i, 1/θ_i)`` (the classic parametrization mix-up)."""
    return law_prediction(_gamma_law(params["shapes"], [1.0 / float(t) for t in params["scales"]]))


def simulate_gamma_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent gammas (shape ``k``, scale ``θ``)."""
    from flatstart.montecarlo.variables import sample_product

    specs = [("gamma", {"k": float(k), "theta": float(t)})
             for k, t in zip(params["shapes"], params["scales"], strict=True)]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_gamma_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: f"k={p['shapes']}\ntheta={p['scales']}")


# =============================================================================================
# P.uniform-product
# =============================================================================================


def predict_uniform_product(params: dict[str, Any]) -> LawPrediction:
    """Exact law of ``∏ U(a_i, b_i)``: closed form ``−log(|X|/A) ~ Gamma(n, 1)`` for
    ``U(0, a)``/``U(−a, a)`` factors, Mellin inversion otherwise (the grids use the closed-form
    case only: Mellin inversion of general ``U(a, b)`` products takes minutes at 10³ points,
    because their characteristic functions decay like ``1/t``)."""
    return law_prediction(product([Uniform(float(a), float(b)) for a, b in params["bounds"]]))


def mutant_uniform_product(params: dict[str, Any]) -> LawPrediction:
    """One factor fewer (the last factor dropped)."""
    return law_prediction(product([Uniform(float(a), float(b))
                                   for a, b in params["bounds"][:-1]]))


def simulate_uniform_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent uniforms."""
    from flatstart.montecarlo.variables import sample_product

    specs = [("uniform", {"a": float(a), "b": float(b)}) for a, b in params["bounds"]]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_uniform_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: "U" + " U".join(f"({a},{b})" for a, b in p["bounds"]))


# =============================================================================================
# P.beta-product
# =============================================================================================


def predict_beta_product(params: dict[str, Any]) -> LawPrediction:
    """Exact law of ``∏ B_i``, ``B_i ~ Beta(a_i, b_i)``: Meijer ``G^{n,0}_{n,n}``."""
    return law_prediction(product([Beta(float(a), float(b)) for a, b in params["params"]]))


def mutant_beta_product(params: dict[str, Any]) -> LawPrediction:
    """Parameters swapped, ``Beta(b_i, a_i)`` (the convention mix-up ``x^{a−1}`` vs
    ``(1−x)^{a−1}``)."""
    return law_prediction(product([Beta(float(b), float(a)) for a, b in params["params"]]))


def simulate_beta_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent betas."""
    from flatstart.montecarlo.variables import sample_product

    specs = [("beta", {"a": float(a), "b": float(b)}) for a, b in params["params"]]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_beta_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: "Beta" + " Beta".join(f"({a},{b})" for a, b in
                                                             p["params"]))


# =============================================================================================
# P.mixed-product
# =============================================================================================


def _factor_law(spec: list[Any]) -> Law:
    """``[kind, params]`` or ``[kind, params, a]`` -> the factor law (``sign(X)|X|^a``)."""
    kind, p = spec[0], spec[1]
    law: Law
    if kind == "normal":
        law = Normal(float(p["sigma"]))
    elif kind == "uniform":
        law = Uniform(float(p["a"]), float(p["b"]))
    elif kind == "gamma":
        law = Gamma(float(p["k"]), float(p["theta"]))
    elif kind == "beta":
        law = Beta(float(p["a"]), float(p["b"]))
    else:  # pragma: no cover - grids are literals
        raise ValueError(f"unknown factor kind {kind!r}")
    if len(spec) > 2 and float(spec[2]) != 1.0:
        law = law.signed_power(float(spec[2]))
    return law


def predict_mixed_product(params: dict[str, Any]) -> LawPrediction:
    """Exact law of a product of independent factors of different laws (Mellin inversion of
    the product of the factors' Mellin transforms); a factor ``[kind, params, a]`` enters as
    ``sign(X)|X|^a``."""
    return law_prediction(product([_factor_law(f) for f in params["factors"]]))


def mutant_mixed_product(params: dict[str, Any]) -> LawPrediction:
    """The Gaussian factors' ``σ`` read as a variance (``N(0, σ)`` instead of ``N(0, σ²)``)."""
    specs = []
    for f in params["factors"]:
        if f[0] == "normal":
            f = [f[0], {"sigma": math.sqrt(float(f[1]["sigma"]))}, *f[2:]]
        specs.append(f)
    return law_prediction(product([_factor_law(f) for f in specs]))


def simulate_mixed_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product; each factor drawn by the montecarlo sampler (its own
    seed), a power ``a`` applied as ``sign · |x|^a`` to the factor's draws."""
    from flatstart.montecarlo.variables import sample_log_abs_product

    n = _n(budget)
    log_abs = np.zeros(n)
    sign = np.ones(n)
    for i, f in enumerate(params["factors"]):
        la, s = sample_log_abs_product([(f[0], dict(f[1]))], n, seed=seed + 7919 * i,
                                       device=device)
        power = float(f[2]) if len(f) > 2 else 1.0
        log_abs += power * la
        sign *= s
    return np.asarray(sign * np.exp(log_abs), dtype=np.float64)


def plot_mixed_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: " x ".join(f[0] for f in p["factors"]))


# =============================================================================================
# P.saddlepoint
# =============================================================================================

_SP_QUANTILES = (0.02, 0.25, 0.5, 0.75, 0.98)


def _cgf_closed(kind: str, p: dict[str, Any], route: str) -> CGF:
    """CGF of ``log|X|`` from the closed-form constructors; ``route="shift"`` builds the unit
    law and adds ``log(scale)`` with :meth:`CGF.shift`."""
    if kind == "normal":
        s = float(p["sigma"])
        return (log_abs_normal_cgf(1.0).shift(math.log(s)) if route == "shift"
                else log_abs_normal_cgf(s))
    if kind == "uniform":  # U(-a, a)
        a = float(p["b"])
        return (log_abs_uniform_cgf(1.0).shift(math.log(a)) if route == "shift"
                else log_abs_uniform_cgf(a))
    if kind == "gamma":
        k, t = float(p["k"]), float(p["theta"])
        return log_gamma_cgf(k, 1.0).shift(math.log(t)) if route == "shift" else log_gamma_cgf(k, t)
    if kind == "beta":
        return log_beta_cgf(float(p["a"]), float(p["b"]))
    raise ValueError(f"unknown factor kind {kind!r}")  # pragma: no cover


def _cgf_mellin(kind: str, p: dict[str, Any]) -> CGF:
    """CGF of ``log|X|`` from the symbolic Mellin transform ``M(s) = E|X|^{s−1}`` of
    :meth:`flatstart.theory.laws.Law.mellin` (``log M`` and its derivatives lambdified)."""
    return _cgf_mellin_cached(kind, tuple(sorted((k, float(v)) for k, v in p.items())))


@functools.lru_cache(maxsize=64)
def _cgf_mellin_cached(kind: str, items: tuple[tuple[str, float], ...]) -> CGF:
    import sympy as sp

    law = _factor_law([kind, dict(items)])
    s = sp.Symbol("s")
    logm = sp.log(law.mellin(s))
    fns = [sp.lambdify(s, sp.diff(logm, s, r), modules=["scipy", "numpy"]) for r in range(5)]
    lo = float(law.strip[0]) + 1.0
    return cgf_from_log_mellin(fns[0], fns[1], fns[2], s_bounds=(lo, math.inf), d3log=fns[3],
                               d4log=fns[4])


def _sp_cgf(factors: list[Any], route: str) -> CGF:
    total: CGF | None = None
    for kind, p, count in factors:
        c = _cgf_mellin(kind, p) if route == "mellin" else _cgf_closed(kind, p, route)
        c = c.iid_sum(int(count)) if int(count) > 1 else c
        total = c if total is None else total + c
    assert total is not None
    return total


@dataclass(frozen=True)
class SaddlepointPrediction:
    """Cumulants and saddlepoint (Lugannani–Rice / Daniels) probabilities of ``Y = log|P|``.

    ``quantiles``: ``(q, y_q)``; ``probs``: ``(y, "le"|"gt", P)`` (cdf, sf, and the far tails
    from logcdf/logsf); ``windows``: ``(lo, hi, mass)`` with ``mass`` the integral of the
    saddlepoint density (second-order corrected) over the window.
    """

    kappa: tuple[float, float, float]
    quantiles: tuple[tuple[float, float], ...]
    probs: tuple[tuple[float, str, float], ...]
    windows: tuple[tuple[float, float, float], ...]


def _sp_prediction(factors: list[Any], route: str) -> SaddlepointPrediction:
    c = _sp_cgf(factors, route)
    m, v = c.mean, c.variance
    sd = math.sqrt(v)
    qs = np.asarray(_SP_QUANTILES)
    yq = np.asarray(c.quantile(qs), dtype=np.float64)
    y1, y2, y3, y4 = m - 1.5 * sd, m + 1.0 * sd, m - 3.0 * sd, m + 2.5 * sd
    probs = (
        (y1, "le", float(c.cdf(y1))),
        (y2, "gt", float(c.sf(y2))),
        (y3, "le", float(np.exp(c.logcdf(y3)))),
        (y4, "gt", float(np.exp(c.logsf(y4)))),
    )
    windows = []
    for cc in _WINDOW_CENTERS:
        y0, h = m + cc * sd, _WINDOW_HALF * sd
        f = np.asarray(c.pdf(y0 + h * _GL_X, correction=True), dtype=np.float64)
        windows.append((y0 - h, y0 + h, float(h * np.sum(_GL_W * f))))
    return SaddlepointPrediction((m, v, c.cumulant(3)),
                                 tuple((float(q), float(y)) for q, y in zip(qs, yq, strict=True)),
                                 probs, tuple(windows))


def predict_saddlepoint(params: dict[str, Any]) -> SaddlepointPrediction:
    r"""Sum of the factors' CGFs ``K(t) = Σ_i log E|w_i|^t``; cumulants ``K^{(r)}(0)``, the
    Lugannani–Rice cdf/sf/quantiles and the corrected saddlepoint density."""
    return _sp_prediction(params["factors"], params.get("route", "closed"))


def mutant_saddlepoint(params: dict[str, Any]) -> SaddlepointPrediction:
    """One factor fewer (the last factor's count reduced by one)."""
    f = [list(x) for x in params["factors"]]
    if int(f[-1][2]) > 1:
        f[-1][2] = int(f[-1][2]) - 1
    else:
        f = f[:-1]
    return _sp_prediction(f, params.get("route", "closed"))


def _sp_specs(factors: list[Any]) -> list[tuple[str, dict[str, float]]]:
    specs = []
    for kind, p, count in factors:
        specs += [(str(kind), {k: float(v) for k, v in p.items()})] * int(count)
    return specs


def simulate_saddlepoint(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``log|∏ w_i|`` of torch draws of the factors."""
    from flatstart.montecarlo.variables import sample_log_abs_product

    n = int(by_budget(budget, quick=5_000, standard=20_000, full=40_000))
    la, _ = sample_log_abs_product(_sp_specs(params["factors"]), n, seed=seed, device=device)
    return la


def check_saddlepoint(prediction: SaddlepointPrediction, log_abs: np.ndarray,
                      alpha: float) -> TestOutcome:
    """Bonferroni combination of t tests of the first three cumulants and exact binomial tests
    of every predicted probability (quantile levels, cdf/sf/tail values, density windows).
    The saddlepoint approximations' own error (≤ 1e-3 absolute for the ≥ 5-factor grids, checked
    against the exact law) is below the resolution ``~√(p(1−p)/n)`` of these tests."""
    y = np.asarray(log_abs, dtype=np.float64)
    n = y.size
    k1, k2, k3 = prediction.kappa
    d = y - k1
    parts = {
        "mean": stats.mean_test(y, k1, alpha),
        "variance": stats.mean_test(d**2, k2, alpha),
        "third_cumulant": stats.mean_test(d**3, k3, alpha),
    }
    for q, yq in prediction.quantiles:
        parts[f"q{q}"] = stats.binomial_test(int(np.sum(y <= yq)), n, q, alpha)
    for i, (y0, side, pr) in enumerate(prediction.probs):
        k = int(np.sum(y <= y0)) if side == "le" else int(np.sum(y > y0))
        parts[f"prob{i}"] = stats.binomial_test(k, n, min(max(pr, 0.0), 1.0), alpha)
    for i, (lo, hi, mass) in enumerate(prediction.windows):
        k = int(np.sum((y > lo) & (y < hi)))
        parts[f"window{i}"] = stats.binomial_test(k, n, min(max(mass, 0.0), 1.0), alpha)
    return stats.combine(parts, alpha, parts["mean"].statistic, n)


def plot_saddlepoint(fig: Any, records: list[Any]) -> None:
    """Predicted quantile levels against the sample fractions below them."""
    ax = fig.subplots(1, 1)
    for r in records:
        y = np.asarray(r.measurement)
        qs = [q for q, _ in r.prediction.quantiles]
        fr = [float(np.mean(y <= yq)) for _, yq in r.prediction.quantiles]
        ax.plot(qs, np.subtract(fr, qs), "o-", label=str(len(_sp_specs(r.params["factors"]))))
    ax.axhline(0.0, color="0.5", lw=1)
    ax.set_xlabel("q")
    ax.set_ylabel("fraction below saddlepoint quantile - q")
    ax.legend(fontsize=6, title="factors")


# =============================================================================================
# P.log-moments
# =============================================================================================


@dataclass(frozen=True)
class LogMomentPrediction:
    """Predicted ``κ₁ = E log|w|``, ``κ₂ = Var log|w|``, ``κ₃`` (third cumulant)."""

    kappa1: float
    kappa2: float
    kappa3: float


def predict_log_moments(params: dict[str, Any]) -> LogMomentPrediction:
    r"""``κ₁ = log σ − (γ + log 2)/2``, ``κ_r = ψ^{(r−1)}(½)/2^r`` (r ≥ 2) from
    :meth:`flatstart.theory.laws.Law.log_cumulant` of ``N(0, σ²)``."""
    law = Normal(float(params["sigma"]))
    return LogMomentPrediction(*(float(law.log_cumulant(k)) for k in (1, 2, 3)))


def mutant_log_moments(params: dict[str, Any]) -> LogMomentPrediction:
    """The mean without the ``log 2`` term: ``log σ − γ/2`` (variance and κ₃ unchanged)."""
    p = predict_log_moments(params)
    return LogMomentPrediction(p.kappa1 + math.log(2.0) / 2.0, p.kappa2, p.kappa3)


def simulate_log_moments(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``log|w|`` of torch draws ``w ~ N(0, σ²)``."""
    from flatstart.montecarlo.variables import sample_log_abs_product

    n = int(by_budget(budget, quick=4_000, standard=40_000, full=400_000))
    la, _ = sample_log_abs_product([("normal", {"sigma": float(params["sigma"])})], n,
                                   seed=seed, device=device)
    return la


def check_log_moments(
    prediction: LogMomentPrediction, log_abs: np.ndarray, alpha: float
) -> TestOutcome:
    r"""Three Student t tests, Bonferroni-combined: ``E y = κ₁``, ``E (y − κ₁)² = κ₂`` and
    ``E (y − κ₁)³ = κ₃`` for ``y = log|w|`` (under the null the central moments about the
    predicted mean are the cumulants; ``y`` has all moments, so the CLT applies)."""
    y = np.asarray(log_abs, dtype=np.float64)
    d = y - prediction.kappa1
    parts = {
        "mean": stats.mean_test(y, prediction.kappa1, alpha),
        "variance": stats.mean_test(d**2, prediction.kappa2, alpha),
        "third_cumulant": stats.mean_test(d**3, prediction.kappa3, alpha),
    }
    return stats.combine(parts, alpha, parts["mean"].statistic, y.size,
                       predicted=[prediction.kappa1, prediction.kappa2, prediction.kappa3])


def plot_log_moments(fig: Any, records: list[Any]) -> None:
    """Density of ``log|w|`` (exact, from the law of |w|) over the sample histogram."""
    from flatstart.validation.plots import plot_density_vs_hist

    recs = records[:3]
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, r in zip(axes, recs, strict=True):
        sigma = float(r.params["sigma"])

        def dens(y: np.ndarray, s: float = sigma) -> np.ndarray:
            # density of log|w|: 2 φ(e^y/s) e^y / s
            return np.asarray(2.0 * sps.norm.pdf(np.exp(y) / s) * np.exp(y) / s)

        plot_density_vs_hist(ax, dens, r.measurement, bins=60, label="density of log|w|")
        p = r.prediction
        m = float(np.mean(r.measurement))
        ax.axvline(p.kappa1, color="C0", ls="--", lw=1, label=f"kappa1 = {p.kappa1:.4f}")
        ax.axvline(m, color="C3", ls=":", lw=1, label=f"sample mean {m:.4f}")
        ax.set_title(f"sigma={sigma}", fontsize=8)
        ax.set_xlabel("log|w|", fontsize=7)
        ax.legend(fontsize=6)


# =============================================================================================
# P.berry-esseen
# =============================================================================================


#: Berry–Esseen constant for iid summands (Shevtsova 2011), restated from the literature.
_BE_CONSTANT = 0.4748
_BE_GRID_SLACK = 2e-3  # max over a 2001-point grid in ±6 vs the true sup (the sup is smooth)


@dataclass(frozen=True)
class BerryEsseenPrediction:
    """The log-CLT with its band, and the exact law's deviations from it (theory only).

    ``exact_deviation = max |F_L(s) − clt.cdf(s)|`` and ``exact_sf_deviation = max |(1 −
    F_L(s)) − clt.sf(s)|`` over the grid; ``exact_inside_band``: the exact CDF lies inside
    ``clt.band`` and ``clt.standardized_band`` there.
    """

    clt: LogCLT
    bound: float
    exact_deviation: float
    exact_sf_deviation: float
    exact_inside_band: bool
    exact_grid: tuple[float, float, int]
    kappa3: float = float("nan")


def _be_law(params: dict[str, Any]) -> tuple[Law, Any]:
    """(law of one weight, its log-moments): ``N(0, σ²)`` or ``U(−a, a)`` (``"bound": a``)."""
    if "bound" in params:
        a = float(params["bound"])
        return Uniform(-a, a), uniform_log_abs_moments(a)
    sigma = float(params["sigma"])
    return Normal(sigma), gaussian_log_abs_moments(sigma)


def _exact_deviations(law: Law, depth: int, clt: LogCLT) -> tuple[float, float, bool]:
    """Deviations of the exact law of ``S_L`` from the log-CLT over 2001 points in ±6 sd."""
    z = np.linspace(-6.0, 6.0, 2001)
    s = clt.total_mean + clt.total_sd * z
    prod, x = product(law, depth), np.exp(s)
    below = np.asarray(prod.cdf(-x, rtol=_CDF_RTOL), dtype=np.float64)  # P(X < −x)
    cdf = np.asarray(prod.cdf(x, rtol=_CDF_RTOL), dtype=np.float64) - below  # P(|X| ≤ x)
    sf = np.asarray(prod.sf(x, rtol=_CDF_RTOL), dtype=np.float64) + below  # P(|X| > x)
    lo, hi = clt.band(s)
    zlo, zhi = clt.standardized_band(z)
    tol = 1e-9
    inside = bool(np.all(lo - tol <= cdf) and np.all(cdf <= hi + tol)
                  and np.all(zlo - tol <= cdf) and np.all(cdf <= zhi + tol))
    # a band for a probability: 0 <= lower <= upper <= 1, no wider than 2B
    for a, b in ((lo, hi), (zlo, zhi)):
        inside = inside and bool(np.all(a >= 0.0) and np.all(a <= b) and np.all(b <= 1.0)
                                 and np.all(b - a <= 2.0 * clt.bound + tol))
    return (float(np.max(np.abs(cdf - clt.cdf(s)))), float(np.max(np.abs(sf - clt.sf(s)))),
            inside)


def predict_berry_esseen(params: dict[str, Any]) -> BerryEsseenPrediction:
    r"""``sup_x |P((S_L − Lμ)/(s√L) ≤ x) − Φ(x)| ≤ C ρ/(s³ √L)``, ``C = 0.4748``
    (Shevtsova 2011) for ``S_L = Σ log|w_i|``; also the exact law's deviations."""
    law, moments = _be_law(params)
    depth = int(params["depth"])
    clt = moments.clt(product(law, depth).count)  # the CLT over the product's L factors
    dev, dev_sf, inside = _exact_deviations(law, depth, clt)
    return BerryEsseenPrediction(clt, clt.bound, dev, dev_sf, inside, (-6.0, 6.0, 2001),
                                 float(moments.kappa3))


def mutant_berry_esseen(params: dict[str, Any]) -> BerryEsseenPrediction:
    """The bound divided by 20 (the true deviation is ≈ 0.094–0.099 of the bound for every L,
    so bound/10 is *not* violated; see docs/catalogue/p.md)."""
    p = predict_berry_esseen(params)
    return dataclasses.replace(p, bound=p.bound / 20.0)


def simulate_berry_esseen(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``log|w_{c,i}|`` (chains c × layers i) of the weights of torch chains, ``w ~ N(0, σ²)``
    or ``U(−a, a)``."""
    import torch

    from flatstart.montecarlo.networks import chains

    n = int(by_budget(budget, quick=8_000, standard=40_000, full=200_000))
    if "bound" in params:
        nets = chains(count=n, depth=int(params["depth"]), bound=float(params["bound"]),
                      device=device, seed=seed)
    else:
        nets = chains(count=n, depth=int(params["depth"]), sigma=float(params["sigma"]),
                      device=device, seed=seed)
    logs = torch.stack([p.reshape(n).abs().log() for p in nets.parameters()], dim=1)
    return logs.double().cpu().numpy()


def check_berry_esseen(
    prediction: BerryEsseenPrediction, logs: np.ndarray, alpha: float
) -> TestOutcome:
    r"""Bonferroni combination of five parts on the sums ``S_L`` (rows of ``logs`` summed) and
    the per-weight logs.

    * ``bound``: reject when ``D = sup_x |F_n(x) − Φ(x)|`` of the standardized sums exceeds
      ``B + ε`` (DKW–Massart: ``P(D > B + ε) ≤ 2e^{−2nε²}``; p = ``min(1, 2e^{−2n(D − B)²})``
      for ``D > B``, else 1); p = 0 if the exact law leaves the band (deterministic).
    * ``tight`` / ``tight_sf``: the bound is ten times loose, so its companion is two-sided:
      ``|D − D_exact| ≤ sup|F_n − F| + δ`` with ``D_exact`` the exact law's deviation from
      ``clt.cdf`` (resp. ``clt.sf``) and ``δ`` the grid slack; p = ``min(1, 2e^{−2n(|D −
      D_exact| − δ)²})``.
    * ``moments``: t tests of ``E y = μ``, ``E (y − μ)² = s²``, ``E |y − μ|³ = ρ`` for the
      per-weight ``y = log|w|`` (the three numbers ``B`` is made of), of its third cumulant
      ``E (y − μ)³ = κ₃`` (the skewness the band must absorb), and of the CLT's
      centring and scale ``E S_L = Lμ``, ``Var S_L = L s²``.
    * ``constant``: ``B = C ρ / (s³ √L)`` with Shevtsova's ``C = 0.4748`` (deterministic).
    """
    y = np.asarray(logs, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    clt = prediction.clt
    z = np.sort((y.sum(axis=1) - clt.total_mean) / clt.total_sd)
    n = z.size
    phi = special.ndtr(z)
    i = np.arange(1, n + 1)
    d = float(max(np.max(i / n - phi), np.max(phi - (i - 1) / n)))
    excess = d - prediction.bound
    p_mc = 1.0 if excess <= 0 else min(1.0, 2.0 * math.exp(-2.0 * n * excess**2))
    exact_ok = prediction.exact_deviation <= prediction.bound and prediction.exact_inside_band

    def two_sided(target: float) -> float:
        gap = max(0.0, abs(d - target) - _BE_GRID_SLACK)
        return min(1.0, 2.0 * math.exp(-2.0 * n * gap**2))

    flat = y.ravel()
    dev = flat - clt.mean
    sums = y.sum(axis=1)
    moments = {
        "mean": stats.mean_test(flat, clt.mean, alpha),
        "variance": stats.mean_test(dev**2, clt.variance, alpha),
        "rho": stats.mean_test(np.abs(dev) ** 3, clt.third_abs_central_moment, alpha),
        "kappa3": stats.mean_test(dev**3, prediction.kappa3, alpha),
        "sum_mean": stats.mean_test(sums, clt.total_mean, alpha),
        "sum_variance": stats.mean_test((sums - clt.total_mean) ** 2, clt.total_sd**2, alpha),
    }
    p_mom, _ = stats.bonferroni(o.p_value for o in moments.values())
    b_lit = _BE_CONSTANT * clt.third_abs_central_moment / (clt.variance**1.5
                                                           * math.sqrt(clt.count))
    constant_ok = math.isclose(prediction.bound, b_lit, rel_tol=1e-9)
    ps = {"bound": p_mc if exact_ok else 0.0, "tight": two_sided(prediction.exact_deviation),
          "tight_sf": two_sided(prediction.exact_sf_deviation), "moments": p_mom,
          "constant": 1.0 if constant_ok else 0.0}
    p, _ = stats.bonferroni(ps.values())
    return TestOutcome(
        d, p, bool(p <= alpha), n,
        {"test": "dkw-band + tight companion + moments", "parts_p": ps,
         "sup_dev_empirical": d, "bound": prediction.bound,
         "dkw_eps": stats.dkw_epsilon(n, alpha), "p_mc": p_mc,
         "exact_deviation": prediction.exact_deviation,
         "exact_sf_deviation": prediction.exact_sf_deviation,
         "exact_inside_band": bool(exact_ok), "bound_from_constant": b_lit,
         "moments": {k: v.to_dict() for k, v in moments.items()}},
    )


def plot_berry_esseen(fig: Any, records: list[Any]) -> None:
    """Empirical CDF minus Φ of the standardized sums, the exact deviation, and the bands."""
    recs = records[:4]
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, r in zip(axes, recs, strict=True):
        p = r.prediction
        m = np.asarray(r.measurement, dtype=np.float64)
        sums = m.sum(axis=1) if m.ndim == 2 else m
        z = np.sort((sums - p.clt.total_mean) / p.clt.total_sd)
        n = z.size
        fn = np.arange(1, n + 1) / n
        ax.plot(z, fn - special.ndtr(z), color="0.3", lw=1, label="empirical − Φ")
        g = np.linspace(-4, 4, 401)
        depth = int(r.params["depth"])
        xg = np.exp(p.clt.total_mean + p.clt.total_sd * g)
        prod = product(_be_law(r.params)[0], depth)
        ex = np.asarray(prod.cdf(xg)) - np.asarray(prod.cdf(-xg))
        ax.plot(g, ex - special.ndtr(g), color="C0", lw=1.5, label="exact − Φ")
        eps = stats.dkw_epsilon(n, _ALPHA)
        for b, style, lab in ((p.bound, "-", "Berry–Esseen B"),
                              (p.bound / 20, ":", "B/20 (mutant)")):
            ax.axhline(b, color="C3", ls=style, lw=1, label=lab)
            ax.axhline(-b, color="C3", ls=style, lw=1)
        ax.axhline(p.bound / 20 + eps, color="C2", ls="--", lw=0.8, label="B/20 + DKW eps")
        ax.axhline(-p.bound / 20 - eps, color="C2", ls="--", lw=0.8)
        ax.set_ylim(-1.3 * max(p.bound / 20 + eps, 0.12), 1.3 * max(p.bound / 20 + eps, 0.12))
        ax.set_title(f"L={depth}, B={p.bound:.3f}", fontsize=8)
        ax.set_xlabel("standardized S_L", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=5, loc="lower left")


# =============================================================================================
# P.choi
# =============================================================================================


@dataclass(frozen=True)
class ChoiPrediction:
    """``λ(n)`` (median of Gamma(n+1, 1)) and Choi's bounds ``(lo, hi)``; ``nu`` = median of
    Gamma(k = n+1, 1) by the shape parametrization; ``series`` Choi's expansion (5 terms, n ≥ 1);
    ``cf`` the Cornish–Fisher median ``(n+1) − κ₃/(6κ₂)`` of ``−log ∏U`` from the log-moments
    of a uniform; ``log_moments`` ``(κ₁, κ₂, κ₃)`` of ``log ∏_{i≤n+1} U_i``."""

    n: int
    lam: float
    lo: float
    hi: float
    nu: float = math.nan
    series: float = math.nan
    cf: float = math.nan
    log_moments: tuple[float, float, float] = (math.nan, math.nan, math.nan)


def predict_choi(params: dict[str, Any]) -> ChoiPrediction:
    r"""``median ∏_{i≤n+1} U_i = e^{−λ(n)}`` (``−log ∏U ~ Gamma(n+1, 1)``) with
    ``n + 2/3 < λ(n) ≤ min(n + log 2, n + 2/3 + 1/(2n+2))`` (Choi 1994)."""
    n = int(params["n"])
    lo, hi = choi_bounds(float(n))
    m = uniform_log_abs_moments(1.0)
    k = n + 1
    # Cornish–Fisher median of log ∏U (a sum of k iid log|U|), then λ_cf = −median
    cf = -(k * m.mean + cornish_fisher_median_shift(k * m.variance, k * m.kappa3))
    series = float(choi_series(float(n), 5)) if n >= 1 else math.nan
    return ChoiPrediction(n, float(gamma_median(float(n))), float(lo), float(hi),
                          float(gamma_median_shape(float(k))), series, float(cf),
                          (k * m.mean, k * m.variance, k * m.kappa3))


def mutant_choi(params: dict[str, Any]) -> ChoiPrediction:
    """The mean instead of the median: ``λ = n + 1`` (= E Gamma(n+1, 1))."""
    p = predict_choi(params)
    return dataclasses.replace(p, lam=float(p.n + 1))


def simulate_choi(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    """``log ∏_{i≤n+1} U_i`` of torch draws ``U_i ~ U(0, 1)``."""
    from flatstart.montecarlo.variables import sample_log_abs_product

    n = int(by_budget(budget, quick=4_000, standard=40_000, full=400_000))
    la, _ = sample_log_abs_product([("uniform", {"a": 0.0, "b": 1.0})] * (int(params["n"]) + 1),
                                   n, seed=seed, device=device)
    return la


def _choi_series_tol(n: int) -> float:
    """Truncation error of Choi's 5-term series (≈ 6.7e-4/n⁵ observed) plus round-off."""
    return 1e-3 / n**5 + 1e-12 * (n + 1)


def check_choi(prediction: ChoiPrediction, log_products: np.ndarray, alpha: float) -> TestOutcome:
    r"""Bonferroni combination of: exact binomial tests that ``#{log ∏U ≤ −λ}`` and
    ``#{log ∏U ≤ −ν}`` are ``Bin(N, ½)``; t tests of the first three cumulants of ``log ∏U``;
    and deterministic checks (p = 0 when they fail, round-off ``1e-12`` relative): Choi's
    bracket ``lo < λ ≤ min(hi, lo + 1/(2n+2))`` with equality ``λ(0) = hi(0) = log 2`` at
    ``n = 0`` (the bound's extremal case); the same bracket in Cornish–Fisher form
    ``λ_cf < λ ≤ λ_cf + 1/(2n+2)`` (``λ_cf = n + 2/3``); Choi's series within its truncation
    error (n ≥ 1)."""
    p = prediction
    y = np.asarray(log_products, dtype=np.float64)
    out = stats.quantile_test(y, -p.lam, 0.5, alpha)
    out_nu = stats.quantile_test(y, -p.nu, 0.5, alpha)
    k1, k2, k3 = p.log_moments
    d = y - k1
    mom = {"mean": stats.mean_test(y, k1, alpha), "variance": stats.mean_test(d**2, k2, alpha),
           "third_cumulant": stats.mean_test(d**3, k3, alpha)}
    eps = 1e-12 * max(1.0, abs(p.lam))
    # the second branch of the upper bound is lo + 1/(2n+2): the lower bound is within that
    # width of λ (tight as n grows, λ − lo ≈ 8/(405 n))
    width = 1.0 / (2.0 * p.n + 2.0)
    bracket = (bool(p.lo < p.lam <= min(p.hi, p.lo + width) + eps)
               and (p.n != 0 or abs(p.hi - p.lam) <= eps))
    cf_ok = bool(p.cf < p.lam <= p.cf + 1.0 / (2.0 * p.n + 2.0) + eps)
    series_ok = p.n < 1 or abs(p.series - p.lam) <= _choi_series_tol(p.n)
    ps = {"binomial": out.p_value, "binomial_nu": out_nu.p_value,
          "moments": stats.bonferroni(o.p_value for o in mom.values())[0],
          "deterministic": 1.0 if (bracket and cf_ok and series_ok) else 0.0}
    pv, _ = stats.bonferroni(ps.values())
    return TestOutcome(out.statistic, pv, bool(pv <= alpha), out.n,
                       {**out.details, "parts_p": ps, "p_binomial": out.p_value,
                        "bracket_ok": bracket, "cf_ok": cf_ok, "series_ok": bool(series_ok),
                        "lambda": p.lam, "nu": p.nu, "series": p.series, "cf": p.cf,
                        "choi_lo": p.lo, "choi_hi": p.hi,
                        "moments": {k: v.to_dict() for k, v in mom.items()}})


def plot_choi(fig: Any, records: list[Any]) -> None:
    """Fraction of samples below ``e^{−λ(n)}`` with its 99% Clopper–Pearson interval against
    n (left); ``λ(n) − n`` with Choi's bounds (right)."""
    ax1, ax2 = fig.subplots(1, 2)
    ns, frac, lo, hi, fmut = [], [], [], [], []
    for r in records:
        p = r.prediction
        x = np.asarray(r.measurement)
        k = int(np.sum(x <= -p.lam))
        a, b = stats.clopper_pearson(k, x.size, 1 - _ALPHA)
        ns.append(p.n)
        frac.append(k / x.size)
        lo.append(a)
        hi.append(b)
        fmut.append(float(np.mean(x <= -(p.n + 1.0))))
    ax1.errorbar(ns, frac, yerr=[np.subtract(frac, lo), np.subtract(hi, frac)], fmt="o",
                 color="C3", label="P(prod <= e^-lambda(n)) (99% CP)")
    ax1.plot(ns, fmut, "x", color="0.5", label="mutant: P(prod <= e^-(n+1))")
    ax1.axhline(0.5, color="C0", ls="--", label="1/2")
    ax1.set_xlabel("n (n+1 uniform factors)")
    ax1.set_ylabel("fraction")
    ax1.legend(fontsize=6)
    grid = np.linspace(0.0, max(ns) + 1.0, 200)
    glo, ghi = choi_bounds(grid)
    ax2.fill_between(grid, glo - grid, ghi - grid, color="C0", alpha=0.25, label="Choi bounds")
    ax2.plot(grid, np.asarray(gamma_median(grid)) - grid, color="C0", label="lambda(n) - n")
    ax2.axhline(2.0 / 3.0, color="0.5", ls=":", lw=1)
    ax2.set_xlabel("n")
    ax2.set_ylabel("lambda(n) - n")
    ax2.legend(fontsize=6)


# =============================================================================================
# registration
# =============================================================================================

_NORMAL_QUICK = [{"factors": 2, "sigma": 1.0}, {"factors": 3, "sigma": 0.5},
                 {"factors": 5, "sigma": 1.0}, {"factors": 10, "sigma": 2.0}]
_GAMMA_QUICK = [
    {"shapes": [2.0, 3.0], "scales": [1.5, 0.5]},
    {"shapes": [0.5, 2.0, 3.0], "scales": [2.0, 1.0, 1.0]},
    {"shapes": [1.0, 1.0, 1.0, 1.0], "scales": [3.0, 1.0, 1.0, 1.0]},
]
_UNIFORM_QUICK = [
    {"bounds": [[0.0, 1.0], [0.0, 1.0]]},
    {"bounds": [[-1.0, 1.0]] * 3},
    {"bounds": [[0.0, 2.0], [-0.5, 0.5], [0.0, 3.0]]},
]
# Mellin inversion of Beta products is slow when sum(b_i) is small (the characteristic
# function of log B decays like |t|^-b): Beta(2,3)Beta(1/2,1/2) takes minutes at 10^3 points.
_BETA_QUICK = [
    {"params": [[2.0, 3.0], [3.0, 4.0], [5.0, 8.0]]},
]

register(Claim(
    id="P.normal-product", title="Exact law of a product of independent normals",
    family="P", source="Springer & Thompson 1970 (Meijer-G densities of products) [ref]",
    statement=("The product of n iid N(0, sigma^2) variables has the Meijer-G law "
               "P(|P| <= t) = pi^{-n/2} G^{n,1}_{1,n+1}(t^2/(2^n sigma^{2n}) | 1; 1/2..1/2, 0), "
               "symmetric in sign."),
    latex=(r"P(|\prod_{i\le n} w_i|\le t)=\pi^{-n/2}G^{n,1}_{1,n+1}\!\left(\tfrac{t^2}{2^n"
           r"\sigma^{2n}}\,\middle|\,{1\atop \frac12,\dots,\frac12,0}\right)"),
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _NORMAL_QUICK,
           "standard": {"factors": [2, 3, 4, 5, 7, 10, 15], "sigma": [0.5, 1.0, 2.0]},
           "full": {"factors": [2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30], "sigma": [0.5, 1.0, 2.0]}},
    predict=predict_normal_product, simulate=simulate_normal_product, test=check_distribution,
    mutant=mutant_normal_product, plot=plot_normal_product,
    describe_prediction=_describe_law_prediction,
    mutant_description="one factor fewer (n - 1 normals)",
))

register(Claim(
    id="P.gamma-product", title="Exact law of a product of independent gammas",
    family="P", source="Springer & Thompson 1970 [ref]",
    statement=("For independent X_i ~ Gamma(k_i, theta_i) (scale theta_i), Y = prod X_i has "
               "pdf G^{n,0}_{0,n}(y/Theta | k_1-1..k_n-1)/(Theta prod Gamma(k_i)), "
               "Theta = prod theta_i."),
    latex=(r"f_Y(y)=\frac{G^{n,0}_{0,n}(y/\Theta\mid k_1-1,\dots,k_n-1)}{\Theta\prod_i"
           r"\Gamma(k_i)},\ \Theta=\prod_i\theta_i"),
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _GAMMA_QUICK,
           "standard": _GAMMA_QUICK + [{"shapes": [0.3, 0.7], "scales": [1.0, 4.0]},
                                       {"shapes": [5.0] * 5, "scales": [0.2] * 5}]},
    predict=predict_gamma_product, simulate=simulate_gamma_product, test=check_distribution,
    mutant=mutant_gamma_product, plot=plot_gamma_product,
    describe_prediction=_describe_law_prediction,
    mutant_description="scale read as a rate (theta -> 1/theta)",
))

register(Claim(
    id="P.uniform-product", title="Exact law of a product of independent uniforms",
    family="P", source="Dettmann & Georgiou 2009; -log prod U(0,1) ~ Gamma(n, 1) [ref]",
    statement=("For U(0, a_i) or U(-a_i, a_i) factors -log(|X|/A) ~ Gamma(n, 1), A = prod a_i; "
               "general U(a, b) factors by Mellin inversion of M(s) = (b^s - a^s)/(s (b - a))."),
    latex=r"-\log\bigl(|\textstyle\prod_i U_i|/\prod_i a_i\bigr)\sim\mathrm{Gamma}(n,1)",
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _UNIFORM_QUICK,
           "standard": _UNIFORM_QUICK + [{"bounds": [[0.0, 1.0]] * 10},
                                         {"bounds": [[-2.0, 2.0], [0.0, 0.5]]}]},
    predict=predict_uniform_product, simulate=simulate_uniform_product, test=check_distribution,
    mutant=mutant_uniform_product, plot=plot_uniform_product,
    describe_prediction=_describe_law_prediction,
    mutant_description="one factor fewer (the last factor dropped)",
))

register(Claim(
    id="P.beta-product", title="Exact law of a product of independent betas",
    family="P", source="Springer & Thompson 1970 [ref]",
    statement=("For independent B_i ~ Beta(a_i, b_i), prod B_i has the Meijer-G law with "
               "Mellin transform prod B(a_i + s - 1, b_i)/B(a_i, b_i)."),
    latex=r"\mathcal{M}_{\prod B_i}(s)=\prod_i\frac{B(a_i+s-1,b_i)}{B(a_i,b_i)}",
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _BETA_QUICK,
           "standard": _BETA_QUICK + [{"params": [[0.5, 5.0], [4.0, 6.0], [1.5, 3.0]]},
                                      {"params": [[1.0, 4.0], [2.0, 5.0]]}]},
    predict=predict_beta_product, simulate=simulate_beta_product, test=check_distribution,
    mutant=mutant_beta_product, plot=plot_beta_product,
    describe_prediction=_describe_law_prediction,
    mutant_description="Beta(a, b) read as Beta(b, a)",
))

register(Claim(
    id="P.log-moments", title="Log-moments of a Gaussian weight", family="P",
    source="derived (docs/theory/p.md#log-moments-of-one-weight-derived): "
           "E log|w| = log sigma - (gamma + log 2)/2, kappa_r = "
           "psi^(r-1)(1/2)/2^r",
    statement=("For w ~ N(0, sigma^2): E log|w| = log sigma - (gamma + log 2)/2, "
               "Var log|w| = pi^2/8, kappa_3 = psi''(1/2)/8 = -7 zeta(3)/4."),
    latex=(r"\mathbb{E}\log|w|=\log\sigma-\tfrac{\gamma+\log 2}{2},\ \mathrm{Var}\log|w|="
           r"\tfrac{\pi^2}{8},\ \kappa_r=\psi^{(r-1)}(\tfrac12)/2^r"),
    kind="moment", alpha=_ALPHA, version="1",
    grids={"quick": [{"sigma": 1.0}, {"sigma": 0.1}, {"sigma": 3.0}],
           "standard": {"sigma": [0.01, 0.1, 0.5, 1.0, 2.0, 10.0]}},
    predict=predict_log_moments, simulate=simulate_log_moments, test=check_log_moments,
    mutant=mutant_log_moments, plot=plot_log_moments,
    describe_prediction=lambda p: {"kappa1": p.kappa1, "kappa2": p.kappa2, "kappa3": p.kappa3},
    mutant_description="mean without the log 2 term: log sigma - gamma/2",
))

register(Claim(
    id="P.berry-esseen", title="Berry–Esseen band around the log-CLT of a Gaussian chain",
    family="P", source="Berry 1941, Esseen 1942; C <= 0.4748 (Shevtsova 2011) [ref]",
    statement=("For S_L = sum_{i<=L} log|w_i|, w_i ~ N(0, sigma^2) iid, "
               "sup_x |P((S_L - L mu)/(s sqrt L) <= x) - Phi(x)| <= C rho/(s^3 sqrt L), "
               "C = 0.4748, with mu, s^2, rho the mean, variance and third absolute central "
               "moment of log|w|."),
    latex=(r"\sup_x\Bigl|P\Bigl(\tfrac{S_L-L\mu}{s\sqrt L}\le x\Bigr)-\Phi(x)\Bigr|\le"
           r"\frac{0.4748\,\rho}{s^3\sqrt L}"),
    kind="bound", alpha=_ALPHA, version="2",
    grids={"quick": [{"depth": 1, "sigma": 1.0}, {"depth": 2, "sigma": 2.0},
                     {"depth": 4, "sigma": 0.5}, {"depth": 3, "bound": 0.5}],
           "standard": ([{"depth": d, "sigma": s} for d in (1, 2, 3, 4, 6, 8)
                         for s in (0.5, 1.0, 2.0)]
                        + [{"depth": d, "bound": a} for d in (1, 3, 6) for a in (0.5, 2.0)])},
    predict=predict_berry_esseen, simulate=simulate_berry_esseen, test=check_berry_esseen,
    mutant=mutant_berry_esseen, plot=plot_berry_esseen,
    describe_prediction=lambda p: {"bound": p.bound, "exact_deviation": p.exact_deviation,
                                   "mean": p.clt.total_mean, "sd": p.clt.total_sd},
    mutant_description="the bound divided by 20",
))

register(Claim(
    id="P.choi", title="Median of a product of uniforms and Choi's gamma-median bounds",
    family="P", source="Choi 1994, Proc. AMS 121 (gamma median bounds) [ref]; "
                       "-log prod U ~ Gamma [ref]",
    statement=("The median of a product of n+1 iid U(0,1) is e^{-lambda(n)}, lambda(n) the "
               "median of Gamma(n+1, 1), and n + 2/3 < lambda(n) <= "
               "min(n + log 2, n + 2/3 + 1/(2n+2))."),
    latex=(r"\mathrm{med}\prod_{i\le n+1}U_i=e^{-\lambda(n)},\ n+\tfrac23<\lambda(n)\le"
           r"\min\bigl(n+\log 2,\,n+\tfrac23+\tfrac1{2n+2}\bigr)"),
    kind="quantile", alpha=_ALPHA, version="1",
    grids={"quick": [{"n": 0}, {"n": 1}, {"n": 3}, {"n": 10}, {"n": 20}],
           "standard": {"n": [0, 1, 2, 3, 5, 10, 20, 50, 100]}},
    predict=predict_choi, simulate=simulate_choi, test=check_choi, mutant=mutant_choi,
    plot=plot_choi,
    describe_prediction=lambda p: {"n": p.n, "lambda": p.lam, "lo": p.lo, "hi": p.hi,
                                   "nu": p.nu, "series": p.series, "cf": p.cf,
                                   "log_moments": list(p.log_moments)},
    mutant_description="lambda(n) = n + 1 (the mean of Gamma(n+1, 1), not its median)",
))

_MIXED_QUICK = [
    {"factors": [["normal", {"sigma": 2.0}], ["uniform", {"a": -1.5, "b": 1.5}],
                 ["gamma", {"k": 2.0, "theta": 0.5}]]},
    {"factors": [["normal", {"sigma": 1.5}, 0.5], ["uniform", {"a": -1.0, "b": 1.0}],
                 ["gamma", {"k": 2.0, "theta": 1.0}], ["normal", {"sigma": 0.7}]]},
]
_MIXED_STANDARD = _MIXED_QUICK + [
    {"factors": [["normal", {"sigma": 0.5}], ["normal", {"sigma": 0.5}],
                 ["uniform", {"a": 0.0, "b": 2.0}], ["gamma", {"k": 0.7, "theta": 3.0}]]},
    {"factors": [["normal", {"sigma": 1.5}], ["beta", {"a": 2.0, "b": 3.0}],
                 ["gamma", {"k": 3.0, "theta": 1.0}]]},
    {"factors": [["normal", {"sigma": 3.0}, 2.0], ["beta", {"a": 3.0, "b": 4.0}, 0.5],
                 ["uniform", {"a": -2.0, "b": 2.0}]]},
]

register(Claim(
    id="P.mixed-product", title="Exact law of a product of factors of different laws",
    family="P", source="Springer & Thompson 1970; Mellin convolution [ref]",
    statement=("For independent factors of different laws (normal, uniform, gamma, beta, and "
               "signed powers sign(X)|X|^a of them) the product has Mellin transform "
               "prod_i M_i(s) (per sign part), inverted exactly."),
    latex=r"\mathcal{M}_{\prod_i X_i}(s)=\prod_i\mathcal{M}_{X_i}(s)",
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _MIXED_QUICK, "standard": _MIXED_STANDARD},
    predict=predict_mixed_product, simulate=simulate_mixed_product, test=check_distribution,
    mutant=mutant_mixed_product, plot=plot_mixed_product,
    describe_prediction=_describe_law_prediction,
    mutant_description="Gaussian factors N(0, sigma) instead of N(0, sigma^2)",
))

_SP_QUICK = [
    {"factors": [["normal", {"sigma": 2.0}, 3], ["uniform", {"a": -1.5, "b": 1.5}, 1],
                 ["gamma", {"k": 2.0, "theta": 0.5}, 1], ["beta", {"a": 2.0, "b": 3.0}, 1]],
     "route": "closed"},
    {"factors": [["normal", {"sigma": 0.5}, 2], ["uniform", {"a": -3.0, "b": 3.0}, 2],
                 ["gamma", {"k": 0.7, "theta": 3.0}, 1]], "route": "shift"},
    {"factors": [["normal", {"sigma": 1.3}, 2], ["uniform", {"a": -2.5, "b": 2.5}, 2],
                 ["gamma", {"k": 3.0, "theta": 0.4}, 1], ["beta", {"a": 4.0, "b": 2.0}, 1]],
     "route": "mellin"},
]
_SP_STANDARD = _SP_QUICK + [
    {"factors": [["normal", {"sigma": 0.8}, 6], ["gamma", {"k": 1.5, "theta": 2.5}, 1]],
     "route": "shift"},
    {"factors": [["uniform", {"a": -0.5, "b": 0.5}, 3], ["beta", {"a": 1.5, "b": 4.0}, 2],
                 ["gamma", {"k": 4.0, "theta": 1.5}, 1]], "route": "closed"},
    {"factors": [["normal", {"sigma": 3.0}, 4], ["beta", {"a": 2.5, "b": 1.5}, 2]],
     "route": "mellin"},
]

register(Claim(
    id="P.saddlepoint", title="Saddlepoint law of the log of a mixed product",
    family="P", source="Lugannani & Rice 1980; Daniels 1954; Butler 2007, ch. 1-2 [ref]",
    statement=("For Y = log|prod_i w_i| with independent normal, uniform, gamma and beta factors, "
               "K(t) = sum_i log E|w_i|^t gives the cumulants K^(r)(0), and the "
               "Lugannani-Rice cdf/sf/quantiles and the corrected saddlepoint density match "
               "the law of Y (approximation error < 1e-3 for >= 5 factors)."),
    latex=(r"F_Y(y)\approx\Phi(\hat w)+\phi(\hat w)\bigl(\tfrac1{\hat w}-\tfrac1{\hat u}\bigr),"
           r"\ K(t)=\sum_i\log\mathbb{E}|w_i|^t"),
    kind="distribution", alpha=_ALPHA, version="1",
    grids={"quick": _SP_QUICK, "standard": _SP_STANDARD},
    predict=predict_saddlepoint, simulate=simulate_saddlepoint, test=check_saddlepoint,
    mutant=mutant_saddlepoint, plot=plot_saddlepoint,
    describe_prediction=lambda p: {"kappa": list(p.kappa), "quantiles": list(p.quantiles),
                                   "probs": list(p.probs), "windows": list(p.windows)},
    mutant_description="one factor fewer",
))

P_IDS: tuple[str, ...] = (
    "P.normal-product", "P.gamma-product", "P.uniform-product", "P.beta-product",
    "P.log-moments", "P.berry-esseen", "P.choi", "P.mixed-product", "P.saddlepoint",
)
