r"""Claim family ``P``: laws of products of independent random variables (THEORY.md §1).

Theory side: :mod:`theory.products` (exact Meijer-G / Mellin-inversion laws),
:mod:`theory.laws`, :mod:`theory.asymptotics` (log-CLT with Berry–Esseen, gamma medians and
Choi's bounds). Monte Carlo side: :mod:`montecarlo.variables` (torch samplers of products) and
:mod:`montecarlo.networks` (width-1 chains whose weights are the factors).

Claims:

* ``P.normal-product``, ``P.gamma-product``, ``P.uniform-product``, ``P.beta-product``: the
  exact law of a product of independent factors against torch samples (Kolmogorov–Smirnov
  against the exact CDF).
* ``P.log-moments``: mean, variance and third cumulant of ``log|w|`` for ``w ~ N(0, σ²)``.
* ``P.berry-esseen``: the log-CLT of a Gaussian chain stays inside its Berry–Esseen band.
* ``P.choi``: the median of a product of ``n + 1`` uniforms is ``e^{−λ(n)}`` with Choi's bounds
  on ``λ(n)``, the median of Gamma(n + 1, 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from theory.asymptotics import LogCLT, choi_bounds, gamma_median, gaussian_log_abs_moments
from theory.laws import Beta, Gamma, Law, Normal, Uniform
from theory.products import product
from validation import stats
from validation.claims import Claim, by_budget, register
from validation.stats import TestOutcome

__all__ = ["P_IDS"]

_ALPHA = 0.01


def _n(budget: str) -> int:
    """Samples per grid point of the distribution claims (scipy's KS p-value is exact up to
    10⁴ samples)."""
    return int(by_budget(budget, quick=1_000, standard=10_000, full=10_000))


def _describe_law(law: Any) -> str:
    return repr(law)[:200]


_CDF_RTOL = 1e-7


def _exact_cdf(law: Law) -> Any:
    """``law.cdf`` by the automatic path at relative accuracy ``1e-7`` (closed form or Mellin
    inversion; Meijer G only where Mellin misses that accuracy): far below the KS test's
    resolution ``~1/√n``, and it avoids the slow scalar Meijer-G fallback that the default
    ``1e-10`` triggers for laws with singular densities (e.g. Beta(½, ½) factors)."""

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.asarray(law.cdf(x, rtol=_CDF_RTOL), dtype=np.float64)

    return cdf


def _ks(law: Law, samples: np.ndarray, alpha: float) -> TestOutcome:
    """KS test of ``samples`` against the exact CDF of ``law``."""
    return stats.ks_test(samples, _exact_cdf(law), alpha)


def _bonferroni(parts: dict[str, TestOutcome], alpha: float, statistic: float,
                n: int, **details: Any) -> TestOutcome:
    """Combine sub-tests with Bonferroni: ``p = min(1, k · min p_i)`` (valid under any
    dependence) [ref: Bonferroni]."""
    ps = {k: float(v.p_value) for k, v in parts.items()}
    p = min(1.0, len(ps) * min(ps.values()))
    return TestOutcome(
        float(statistic), p, bool(p <= alpha), int(n),
        {"combination": "bonferroni", "parts": {k: v.to_dict() for k, v in parts.items()},
         **details},
    )


def _plot_cdfs(fig: Any, records: list[Any], title: Any) -> None:
    """Exact CDF (theory) over the empirical CDF with its DKW band, one panel per point."""
    from validation.plots import plot_cdf_vs_empirical

    recs = records[:4]
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, r in zip(axes, recs, strict=True):
        x = np.asarray(r.measurement, dtype=np.float64)
        lo, hi = np.quantile(x, [0.01, 0.99])
        inside = x[(x >= lo) & (x <= hi)]
        plot_cdf_vs_empirical(ax, _exact_cdf(r.prediction), inside, _ALPHA)
        ax.set_title(title(r.params), fontsize=7)
        ax.set_xlabel("x (central 98% of samples)", fontsize=7)
        ax.tick_params(labelsize=6)


# =============================================================================================
# P.normal-product
# =============================================================================================


def predict_normal_product(params: dict[str, Any]) -> Law:
    """Exact law of ``∏_{i≤n} w_i``, ``w_i ~ N(0, σ²)`` iid (Meijer G; Springer & Thompson)."""
    return product(Normal(float(params["sigma"])), int(params["factors"]))


def mutant_normal_product(params: dict[str, Any]) -> Law:
    """One factor fewer: the law of a product of ``n − 1`` normals."""
    return product(Normal(float(params["sigma"])), int(params["factors"]) - 1)


def simulate_normal_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of ``n`` independent ``N(0, σ²)``."""
    from montecarlo.variables import sample_product

    spec = ("normal", {"sigma": float(params["sigma"])})
    return sample_product([spec] * int(params["factors"]), _n(budget), seed=seed, device=device)


def check_distribution(prediction: Law, samples: np.ndarray, alpha: float) -> TestOutcome:
    """One-sample Kolmogorov–Smirnov test against the exact CDF of the predicted law."""
    return _ks(prediction, samples, alpha)


def plot_normal_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: f"{p['factors']} normals, sigma={p['sigma']}")


# =============================================================================================
# P.gamma-product
# =============================================================================================


def _gamma_law(shapes: list[float], scales: list[float]) -> Law:
    return product([Gamma(float(k), float(t)) for k, t in zip(shapes, scales, strict=True)])


def predict_gamma_product(params: dict[str, Any]) -> Law:
    """Exact law of ``∏ X_i``, ``X_i ~ Gamma(k_i, θ_i)`` (scale θ): Meijer ``G^{n,0}_{0,n}``."""
    return _gamma_law(params["shapes"], params["scales"])


def mutant_gamma_product(params: dict[str, Any]) -> Law:
    """Scale read as a rate: ``Gamma(k_i, 1/θ_i)`` (the classic parametrization mix-up)."""
    return _gamma_law(params["shapes"], [1.0 / float(t) for t in params["scales"]])


def simulate_gamma_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent gammas (shape ``k``, scale ``θ``)."""
    from montecarlo.variables import sample_product

    specs = [("gamma", {"k": float(k), "theta": float(t)})
             for k, t in zip(params["shapes"], params["scales"], strict=True)]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_gamma_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: f"k={p['shapes']}\ntheta={p['scales']}")


# =============================================================================================
# P.uniform-product
# =============================================================================================


def predict_uniform_product(params: dict[str, Any]) -> Law:
    """Exact law of ``∏ U(a_i, b_i)``: closed form ``−log(|X|/A) ~ Gamma(n, 1)`` for
    ``U(0, a)``/``U(−a, a)`` factors, Mellin inversion otherwise (the grids use the closed-form
    case only: Mellin inversion of general ``U(a, b)`` products takes minutes at 10³ points,
    because their characteristic functions decay like ``1/t``)."""
    return product([Uniform(float(a), float(b)) for a, b in params["bounds"]])


def mutant_uniform_product(params: dict[str, Any]) -> Law:
    """One factor fewer (the last factor dropped)."""
    return product([Uniform(float(a), float(b)) for a, b in params["bounds"][:-1]])


def simulate_uniform_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent uniforms."""
    from montecarlo.variables import sample_product

    specs = [("uniform", {"a": float(a), "b": float(b)}) for a, b in params["bounds"]]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_uniform_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: "U" + " U".join(f"({a},{b})" for a, b in p["bounds"]))


# =============================================================================================
# P.beta-product
# =============================================================================================


def predict_beta_product(params: dict[str, Any]) -> Law:
    """Exact law of ``∏ B_i``, ``B_i ~ Beta(a_i, b_i)``: Meijer ``G^{n,0}_{n,n}``."""
    return product([Beta(float(a), float(b)) for a, b in params["params"]])


def mutant_beta_product(params: dict[str, Any]) -> Law:
    """Parameters swapped, ``Beta(b_i, a_i)`` (the convention mix-up ``x^{a−1}`` vs
    ``(1−x)^{a−1}``)."""
    return product([Beta(float(b), float(a)) for a, b in params["params"]])


def simulate_beta_product(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Torch samples of the product of independent betas."""
    from montecarlo.variables import sample_product

    specs = [("beta", {"a": float(a), "b": float(b)}) for a, b in params["params"]]
    return sample_product(specs, _n(budget), seed=seed, device=device)


def plot_beta_product(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF, one panel per grid point."""
    _plot_cdfs(fig, records, lambda p: "Beta" + " Beta".join(f"({a},{b})" for a, b in
                                                             p["params"]))


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
    :meth:`theory.laws.Law.log_cumulant` of ``N(0, σ²)``."""
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
    from montecarlo.variables import sample_log_abs_product

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
    return _bonferroni(parts, alpha, parts["mean"].statistic, y.size,
                       predicted=[prediction.kappa1, prediction.kappa2, prediction.kappa3])


def plot_log_moments(fig: Any, records: list[Any]) -> None:
    """Density of ``log|w|`` (exact, from the law of |w|) over the sample histogram."""
    from validation.plots import plot_density_vs_hist

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


@dataclass(frozen=True)
class BerryEsseenPrediction:
    """The log-CLT with its band, and the exact law's deviation from Φ (theory only)."""

    clt: LogCLT
    bound: float
    exact_deviation: float
    exact_grid: tuple[float, float, int]


def _exact_deviation(sigma: float, depth: int, clt: LogCLT) -> float:
    """``max_x |F_L(x) − Φ(x)|`` of the exact standardized law over 2001 points in ±6."""
    z = np.linspace(-6.0, 6.0, 2001)
    s = clt.total_mean + clt.total_sd * z
    exact = np.asarray(product(Normal(sigma), depth).abs().cdf(np.exp(s)), dtype=np.float64)
    return float(np.max(np.abs(exact - special.ndtr(z))))


def predict_berry_esseen(params: dict[str, Any]) -> BerryEsseenPrediction:
    r"""``sup_x |P((S_L − Lμ)/(s√L) ≤ x) − Φ(x)| ≤ C ρ/(s³ √L)``, ``C = 0.4748``
    (Shevtsova 2011) for ``S_L = Σ log|w_i|``; also the exact law's deviation."""
    sigma, depth = float(params["sigma"]), int(params["depth"])
    clt = gaussian_log_abs_moments(sigma).clt(depth)
    return BerryEsseenPrediction(clt, clt.bound, _exact_deviation(sigma, depth, clt),
                                 (-6.0, 6.0, 2001))


def mutant_berry_esseen(params: dict[str, Any]) -> BerryEsseenPrediction:
    """The bound divided by 20 (the true deviation is ≈ 0.094–0.099 of the bound for every L,
    so bound/10 is *not* violated; see docs/catalogue/p.md)."""
    p = predict_berry_esseen(params)
    return BerryEsseenPrediction(p.clt, p.bound / 20.0, p.exact_deviation, p.exact_grid)


def simulate_berry_esseen(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``S_L = Σ_i log|w_i|`` over the weights of torch chains ``w_i ~ N(0, σ²)``."""
    import torch

    from montecarlo.networks import chains

    n = int(by_budget(budget, quick=8_000, standard=40_000, full=200_000))
    nets = chains(count=n, depth=int(params["depth"]), sigma=float(params["sigma"]),
                  device=device, seed=seed)
    logs = torch.stack([p.reshape(n).abs().log() for p in nets.parameters()], dim=1)
    return logs.sum(dim=1).double().cpu().numpy()


def check_berry_esseen(
    prediction: BerryEsseenPrediction, sums: np.ndarray, alpha: float
) -> TestOutcome:
    r"""Reject when ``D = sup_x |F_n(x) − Φ(x)|`` of the standardized sums exceeds
    ``B + ε``, ``ε = √(log(2/α)/(2n))`` (DKW–Massart).

    Under the claim ``sup|F − Φ| ≤ B``, so ``D ≤ B + sup|F_n − F|`` and
    ``P(D > B + ε) ≤ P(sup|F_n − F| > ε) ≤ 2e^{−2nε²} = α``; the p-value is
    ``min(1, 2e^{−2n(D − B)²})`` for ``D > B`` and 1 otherwise (conservative). The exact law's
    deviation (theory) must also lie inside the band (deterministic: p = 0 if it does not).
    """
    z = np.sort((np.asarray(sums, dtype=np.float64) - prediction.clt.total_mean)
                / prediction.clt.total_sd)
    n = z.size
    phi = special.ndtr(z)
    i = np.arange(1, n + 1)
    d = float(max(np.max(i / n - phi), np.max(phi - (i - 1) / n)))
    excess = d - prediction.bound
    p_mc = 1.0 if excess <= 0 else min(1.0, 2.0 * math.exp(-2.0 * n * excess**2))
    exact_ok = prediction.exact_deviation <= prediction.bound
    p = p_mc if exact_ok else 0.0
    return TestOutcome(
        d, p, bool(p <= alpha), n,
        {"test": "dkw-band", "sup_dev_empirical": d, "bound": prediction.bound,
         "dkw_eps": stats.dkw_epsilon(n, alpha), "p_mc": p_mc,
         "exact_deviation": prediction.exact_deviation, "exact_inside_band": bool(exact_ok)},
    )


def plot_berry_esseen(fig: Any, records: list[Any]) -> None:
    """Empirical CDF minus Φ of the standardized sums, the exact deviation, and the bands."""
    recs = records[:4]
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, r in zip(axes, recs, strict=True):
        p = r.prediction
        z = np.sort((np.asarray(r.measurement) - p.clt.total_mean) / p.clt.total_sd)
        n = z.size
        fn = np.arange(1, n + 1) / n
        ax.plot(z, fn - special.ndtr(z), color="0.3", lw=1, label="empirical − Φ")
        g = np.linspace(-4, 4, 401)
        sigma, depth = float(r.params["sigma"]), int(r.params["depth"])
        ex = np.asarray(product(Normal(sigma), depth).abs().cdf(
            np.exp(p.clt.total_mean + p.clt.total_sd * g)))
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
    """``λ(n)`` (median of Gamma(n+1, 1)) and Choi's bounds ``(lo, hi)``."""

    n: int
    lam: float
    lo: float
    hi: float


def predict_choi(params: dict[str, Any]) -> ChoiPrediction:
    r"""``median ∏_{i≤n+1} U_i = e^{−λ(n)}`` (``−log ∏U ~ Gamma(n+1, 1)``) with
    ``n + 2/3 < λ(n) ≤ min(n + log 2, n + 2/3 + 1/(2n+2))`` (Choi 1994)."""
    n = int(params["n"])
    lo, hi = choi_bounds(float(n))
    return ChoiPrediction(n, float(gamma_median(float(n))), float(lo), float(hi))


def mutant_choi(params: dict[str, Any]) -> ChoiPrediction:
    """The mean instead of the median: ``λ = n + 1`` (= E Gamma(n+1, 1))."""
    p = predict_choi(params)
    return ChoiPrediction(p.n, float(p.n + 1), p.lo, p.hi)


def simulate_choi(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    """``log ∏_{i≤n+1} U_i`` of torch draws ``U_i ~ U(0, 1)``."""
    from montecarlo.variables import sample_log_abs_product

    n = int(by_budget(budget, quick=4_000, standard=40_000, full=400_000))
    la, _ = sample_log_abs_product([("uniform", {"a": 0.0, "b": 1.0})] * (int(params["n"]) + 1),
                                   n, seed=seed, device=device)
    return la


def check_choi(prediction: ChoiPrediction, log_products: np.ndarray, alpha: float) -> TestOutcome:
    r"""Exact binomial test that ``#{log ∏U ≤ −λ} ~ Bin(N, ½)``, and the deterministic check
    ``lo < λ ≤ hi`` up to round-off ``1e-12`` relative (p = 0 when it fails)."""
    out = stats.quantile_test(log_products, -prediction.lam, 0.5, alpha)
    # the upper bound is attained at n = 0 (λ(0) = log 2): allow round-off there
    bracket = bool(prediction.lo < prediction.lam <= prediction.hi * (1.0 + 1e-12))
    p = out.p_value if bracket else 0.0
    return TestOutcome(out.statistic, p, bool(p <= alpha), out.n,
                       {**out.details, "p_binomial": out.p_value, "bracket_ok": bracket,
                        "lambda": prediction.lam, "choi_lo": prediction.lo,
                        "choi_hi": prediction.hi})


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
    mutant=mutant_normal_product, plot=plot_normal_product, describe_prediction=_describe_law,
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
    mutant=mutant_gamma_product, plot=plot_gamma_product, describe_prediction=_describe_law,
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
    mutant=mutant_uniform_product, plot=plot_uniform_product, describe_prediction=_describe_law,
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
    mutant=mutant_beta_product, plot=plot_beta_product, describe_prediction=_describe_law,
    mutant_description="Beta(a, b) read as Beta(b, a)",
))

register(Claim(
    id="P.log-moments", title="Log-moments of a Gaussian weight", family="P",
    source="derived (THEORY.md §1): E log|w| = log sigma - (gamma + log 2)/2, kappa_r = "
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
    kind="bound", alpha=_ALPHA, version="1",
    grids={"quick": [{"depth": 1, "sigma": 1.0}, {"depth": 2, "sigma": 1.0},
                     {"depth": 4, "sigma": 0.5}],
           "standard": {"depth": [1, 2, 3, 4, 6, 8], "sigma": [0.5, 1.0]}},
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
    grids={"quick": [{"n": 0}, {"n": 1}, {"n": 3}, {"n": 10}],
           "standard": {"n": [0, 1, 2, 3, 5, 10, 20, 50, 100]}},
    predict=predict_choi, simulate=simulate_choi, test=check_choi, mutant=mutant_choi,
    plot=plot_choi,
    describe_prediction=lambda p: {"n": p.n, "lambda": p.lam, "lo": p.lo, "hi": p.hi},
    mutant_description="lambda(n) = n + 1 (the mean of Gamma(n+1, 1), not its median)",
))

P_IDS: tuple[str, ...] = (
    "P.normal-product", "P.gamma-product", "P.uniform-product", "P.beta-product",
    "P.log-moments", "P.berry-esseen", "P.choi",
)
