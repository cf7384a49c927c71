r"""VC family, first half: vanishing signals in neural chains and width-n networks.

Source: Orvieto, Kohler, Pavllo, Hofmann, Lucchi, *Vanishing Curvature and the Power of Adaptive
Methods in Randomly Initialized Deep Networks* (arXiv 2106.03763; AISTATS 2022) -- "VC" -- and
the derivations of THEORY.md sections 3-4. Claims (ids):

* ``VC.mean-vs-median``: Xavier chains keep ``E P² = 1`` while ``median |P|`` decays
  exponentially (exact median, binomial test; mutant: the mean-based ``√(E P²) = 1``).
* ``VC.median-stable-variance``: ``σ² = 2e^γ`` keeps ``median |P|`` bounded in ``L`` (exact
  median, binomial test; mutant: He's ``σ² = 2``).
* ``VC.uniform-chain``: ``median |P| = a^L e^{−ν(L)}`` for ``U(−a, a)`` weights (binomial test;
  mutant: the log-mean ``a^L e^{−L}``).
* ``VC.small-gradient``: ``P(|∂f/∂w_i| < ε)`` from the exact product law (binomial test on real
  chain gradients; mutant: ``L`` factors instead of ``L − 1``).
* ``VC.relu-chain-dead``: ``P(∇f ≡ 0) = 1 − 2^{−(L−1)}`` for ReLU chains with positive input
  (binomial test; mutant: ``1 − 2^{−L}``).
* ``VC.wide-linear``: ``‖x_L‖²/‖x_0‖²`` of linear LeCun nets is a product of ``χ²_n/n`` (KS;
  mutant: the log-normal limit ``N(−L/n, 2L/n)``).
* ``VC.wide-relu``: the same for ReLU He nets, ``(2/n)χ²_K``, ``K ~ Bin(n, ½)``, with the atom
  at 0 (KS on the continuous part + binomial test of the atom; mutant: the linear factor law).
* ``VC.width-vs-depth``: the exact critical width ``n_c(L)`` separates median ratio ``≥ ½``
  (at ``n_c``) from ``< ½`` (at ``⌊¾ n_c⌋``) (one-sided binomial tests; mutant: a depth-free
  critical width ``n_c(2)``).

The Monte Carlo side builds real torch networks through :mod:`montecarlo.vc_experiments`
(:func:`~montecarlo.networks.chains`, :func:`~montecarlo.networks.mlps`,
:func:`~montecarlo.derivatives.chain_gradients`); it never evaluates a theory formula.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from montecarlo.vc_experiments import chain_samples, norm_ratios
from theory.chains import NeuralChain, median_stable_variance
from theory.wide import critical_width, lognormal_limit, norm_ratio_law
from validation import stats
from validation.claims import Claim, by_budget, register

__all__ = ["VC_CHAIN_IDS", "SIGMA_MEDIAN_STABLE", "WIDTH_VS_DEPTH_LEVEL"]

_SOURCE = "VC (Orvieto et al. 2022, arXiv 2106.03763), Sec. 3-4"

#: ``σ = √(2 e^γ)`` as a literal grid parameter (checked against theory in ``predict``).
SIGMA_MEDIAN_STABLE = math.sqrt(2.0 * math.exp(float(np.euler_gamma)))

#: level of the median squared-norm ratio in ``VC.width-vs-depth``.
WIDTH_VS_DEPTH_LEVEL = 0.5


# --------------------------------------------------------------------------- shared glue
def _describe(pred: Any) -> Any:
    """JSON summary of a prediction dict: its numbers (law objects left out)."""
    if isinstance(pred, dict):
        return {k: v for k, v in pred.items()
                if isinstance(v, (int, float, str, bool, list, tuple)) or v is None}
    return repr(pred)[:200]


def _median_ci(x: np.ndarray, alpha: float = 0.01) -> tuple[float, float]:
    """Distribution-free order-statistic CI for the median (binomial, level ``1 − alpha``)."""
    s = np.sort(np.asarray(x, dtype=np.float64))
    n = s.size
    lo = int(sps.binom.ppf(alpha / 2, n, 0.5))
    hi = int(sps.binom.isf(alpha / 2, n, 0.5))
    return float(s[max(lo - 1, 0)]), float(s[min(hi, n - 1)])


def _median_test(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                 ) -> stats.TestOutcome:
    """Exact binomial test that ``prediction["median"]`` is the median of ``samples``."""
    return stats.quantile_test(samples, float(prediction["median"]), 0.5, alpha)


def _median_plot(fig: Any, records: list[Any], extra: Callable[[Any, np.ndarray], None] | None,
                 ylabel: str, mutant: Callable[[dict[str, Any]], dict[str, Any]],
                 group: str | None = None) -> None:
    """Left: medians against depth (log scale) with 99% order-statistic CI bands, one curve per
    group. Right: measured/exact median with its CI, and mutant/exact, against depth."""
    from validation.plots import plot_median_vs_depth

    keys = sorted({str(r.params.get(group)) for r in records}) if group else [""]
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for j, key in enumerate(keys):
        recs = sorted((r for r in records if not group or str(r.params.get(group)) == key),
                      key=lambda r: r.params["depth"])
        depths = np.array([r.params["depth"] for r in recs], dtype=np.float64)
        pred = np.array([r.prediction["median"] for r in recs])
        meas = np.array([float(np.median(r.measurement)) for r in recs])
        ci = np.array([_median_ci(r.measurement) for r in recs])
        mut = np.array([mutant(dict(r.params))["median"] for r in recs])
        if j == 0:
            plot_median_vs_depth(ax1, depths.tolist(), pred.tolist(), meas.tolist(),
                                 ci.tolist(), ylabel=ylabel)
            if extra is not None:
                extra(ax1, depths)
        else:
            ax1.plot(depths, pred, "-", color=f"C{j}")
            ax1.plot(depths, meas, "o", color="C3", ms=4)
            ax1.fill_between(depths, ci[:, 0], ci[:, 1], color="C3", alpha=0.2)
        if group:
            for d, m in zip(depths, pred, strict=True):
                ax1.annotate(key, (d, m), fontsize=6, xytext=(3, 3), textcoords="offset points")
        lab = f" ({key})" if group else ""
        ax2.errorbar(depths + 0.3 * j, meas / pred,
                     yerr=[meas / pred - ci[:, 0] / pred, ci[:, 1] / pred - meas / pred],
                     fmt="o", color=f"C{3 + j}", ms=4, label=f"measured / exact, 99% CI{lab}")
        ax2.plot(depths + 0.3 * j, mut / pred, "x", color=f"C{3 + j}", ms=6,
                 label=f"mutant / exact{lab}")
    ax1.legend(fontsize=6, loc="best")
    ax2.axhline(1.0, color="C0", lw=1)
    ax2.set_yscale("log")
    ax2.set_xlabel("depth")
    ax2.set_ylabel("ratio to the exact median")
    ax2.legend(fontsize=6, loc="best")


def _depth_grid(depths: Sequence[int], **extra: Any) -> list[dict[str, Any]]:
    return [{"depth": int(d), **extra} for d in depths]


# =========================================================================== VC.mean-vs-median
def predict_mean_vs_median(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact ``median |P|`` of a Xavier chain (``N(0, 1)`` weights), with ``E P²`` and the
    Cornish–Fisher form ``C_∞ (σ e^{−(γ+log 2)/2})^L`` for reference [derived; VC Sec. 3]."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    law = c.output_law()
    return {
        "median": float(c.median_abs_output()),
        "asymptotic": float(c.median_abs_output_asymptotic()),
        "mean_square": float(law.moment(2.0)),
        "sigma": float(c.sigma),
    }


def mutant_mean_vs_median(params: dict[str, Any]) -> dict[str, Any]:
    r"""Mean-based prediction: ``median |P| = √(E P²) = σ^L`` (= 1 under Xavier)."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    return {"median": math.sqrt(float(c.output_law().moment(2.0)))}


def simulate_chain_abs_output(params: dict[str, Any], seed: int, device: str, budget: str
                              ) -> np.ndarray:
    """``|f(1)| = |w_L ⋯ w_1|`` of independent real torch chains (linear), float64 ``(n,)``.

    The weight law is ``params["init"]`` or ``params["sigma"]`` (``N(0, σ²)``).
    """
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    r = chain_samples(n, int(params["depth"]), init=params.get("init"),
                      sigma=params.get("sigma"), seed=seed, device=device)
    return np.abs(r.output)


def plot_mean_vs_median(fig: Any, records: list[Any]) -> None:
    """Exact and measured medians against depth, with the mean-based line ``√(E P²) = 1``."""
    def extra(ax: Any, depths: np.ndarray) -> None:
        recs = sorted(records, key=lambda r: r.params["depth"])
        d = np.linspace(min(depths), max(depths), 100)
        sigma = recs[0].prediction["sigma"]
        rate = sigma * math.exp(-(float(np.euler_gamma) + math.log(2.0)) / 2)
        c_inf = recs[0].prediction["asymptotic"] / rate ** recs[0].params["depth"]
        ax.plot(d, c_inf * rate**d, ":", color="C2",
                label=r"$C_\infty(\sigma e^{-(\gamma+\log 2)/2})^L$")
        ax.plot(d, sigma**d, "--", color="0.3", label=r"mean-based $\sqrt{E P^2} = \sigma^L$")

    _median_plot(fig, records, extra, "median |P| (Xavier chain)", mutant_mean_vs_median)


# ================================================================ VC.median-stable-variance
def predict_median_stable(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact ``median |P|`` at ``σ² = 2e^γ`` (bounded in ``L``, → ``C_∞``) and
    ``E P² = (2e^γ)^L`` [derived; VC Sec. 3]."""
    sigma = float(params["sigma"])
    stable = float(median_stable_variance())
    if not math.isclose(sigma**2, stable, rel_tol=1e-12):
        raise ValueError(f"params['sigma']**2 = {sigma**2!r} is not 2 e^gamma = {stable!r}")
    c = NeuralChain(int(params["depth"]), sigma=sigma)
    return {
        "median": float(c.median_abs_output()),
        "asymptotic": float(c.median_abs_output_asymptotic()),
        "log_mean_square": int(params["depth"]) * math.log(stable),
        "sigma": sigma,
    }


def mutant_median_stable(params: dict[str, Any]) -> dict[str, Any]:
    """He's ``σ² = 2`` (the ReLU-chain choice) in place of ``2e^γ``: median ``∝ (0.75)^L``."""
    return {"median": float(NeuralChain(int(params["depth"]), sigma=math.sqrt(2.0))
                            .median_abs_output())}


def plot_median_stable(fig: Any, records: list[Any]) -> None:
    """Medians at ``σ² = 2e^γ`` against depth, with He/Xavier medians and ``√(E P²)``."""
    def extra(ax: Any, depths: np.ndarray) -> None:
        d = np.linspace(min(depths), max(depths), 100)
        rate_he = math.sqrt(2.0) * math.exp(-(float(np.euler_gamma) + math.log(2.0)) / 2)
        c_inf = records[0].prediction["asymptotic"]
        ax.plot(d, c_inf * rate_he**d, ":", color="C1", label=r"He $\sigma^2=2$ (asymptotic)")
        ax.plot(d, np.exp(0.5 * d * math.log(2 * math.exp(float(np.euler_gamma)))), "--",
                color="0.3", label=r"$\sqrt{E P^2} = (2e^\gamma)^{L/2}$")

    _median_plot(fig, records, extra, r"median |P|, $\sigma^2 = 2e^\gamma$", mutant_median_stable)


# ========================================================================= VC.uniform-chain
def predict_uniform_chain(params: dict[str, Any]) -> dict[str, Any]:
    r"""``median |P| = a^L e^{−ν(L)}``, ``ν(L)`` the median of Gamma(L, 1), and Choi's bounds
    [derived: ``log|w| = log a − Exp(1)``; ref: Choi 1994]."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    lo, exact, hi = c.uniform_median_bounds()
    return {"median": float(exact), "choi_lower": float(lo), "choi_upper": float(hi),
            "a": float(c.scale)}


def mutant_uniform_chain(params: dict[str, Any]) -> dict[str, Any]:
    """The log-mean in place of the median: ``a^L e^{−L}`` (``ν(L)`` replaced by ``L``)."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    return {"median": float(c.scale ** c.depth * math.exp(-c.depth))}


def plot_uniform_chain(fig: Any, records: list[Any]) -> None:
    """Uniform-chain medians against depth (one curve per init) with Choi's band, and the
    measured/exact and log-mean-mutant/exact ratios."""
    def extra(ax: Any, depths: np.ndarray) -> None:
        for j, key in enumerate(sorted({str(r.params["init"]) for r in records})):
            recs = sorted((r for r in records if r.params["init"] == key),
                          key=lambda r: r.params["depth"])
            d = [r.params["depth"] for r in recs]
            ax.fill_between(d, [r.prediction["choi_lower"] for r in recs],
                            [r.prediction["choi_upper"] for r in recs], color="C0", alpha=0.15,
                            label="Choi bounds" if j == 0 else None)

    _median_plot(fig, records, extra, "median |P| (uniform chain)", mutant_uniform_chain,
                 group="init")


# ========================================================================= VC.small-gradient
def predict_small_gradient(params: dict[str, Any]) -> dict[str, Any]:
    r"""``P(|∂f/∂w_i| < ε)`` exactly (product cdf of ``L − 1`` factors; uniform weights:
    ``Q(L−1, (L−1) log a − log ε)``) with the log-CLT value and its Berry–Esseen half-width."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    sp_ = c.prob_small_gradient(float(params["eps"]), int(params["layer"]))
    return {"p": float(sp_.exact), "clt": float(sp_.clt), "band": float(sp_.band)}


def mutant_small_gradient(params: dict[str, Any]) -> dict[str, Any]:
    """Off by one factor: ``P(|P| < ε)`` with all ``L`` weights (the output, not ``P_{-i}``)."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]))
    return {"p": float(c.prob_small_output(float(params["eps"])).exact)}


def simulate_small_gradient(params: dict[str, Any], seed: int, device: str, budget: str
                            ) -> np.ndarray:
    """``|∂f/∂w_i|`` at ``x = 1`` of independent real torch chains (autograd), ``(n,)``."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    layer = int(params["layer"])
    r = chain_samples(n, int(params["depth"]), init=str(params["init"]), layers=(layer,),
                      seed=seed, device=device)
    return np.abs(r.df_dw[:, 0])


def check_small_gradient(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                        ) -> stats.TestOutcome:
    """Exact binomial test of ``#{|g| < ε} ~ Bin(n, p)``."""
    k = int(np.sum(np.asarray(samples) < float(prediction["eps"])))
    return stats.binomial_test(k, int(np.asarray(samples).size), float(prediction["p"]), alpha)


def _with_eps(pred: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**pred, "eps": float(params["eps"])}


def predict_small_gradient_eps(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`predict_small_gradient` with ``eps`` attached (what the test needs)."""
    return _with_eps(predict_small_gradient(params), params)


def mutant_small_gradient_eps(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`mutant_small_gradient` with ``eps`` attached."""
    return _with_eps(mutant_small_gradient(params), params)


def plot_small_gradient(fig: Any, records: list[Any]) -> None:
    """Per grid point: measured ``P(|g| < ε)`` with its Clopper–Pearson CI, the exact value,
    the log-CLT value with its Berry–Esseen band, and the mutant."""
    ax = fig.add_subplot(1, 1, 1)
    idx = np.arange(len(records))
    for i, r in zip(idx, records, strict=True):
        x = np.asarray(r.measurement)
        k = int(np.sum(x < r.prediction["eps"]))
        lo, hi = stats.clopper_pearson(k, x.size, 0.99)
        ax.errorbar(i, k / x.size, yerr=[[k / x.size - lo], [hi - k / x.size]], fmt="o",
                    color="C3", ms=4, label="measured (99% CP)" if i == 0 else None)
        ax.plot(i, r.prediction["p"], "s", mfc="none", color="C0", ms=9,
                label="exact" if i == 0 else None)
        ax.errorbar(i + 0.15, r.prediction["clt"], yerr=r.prediction["band"], fmt="^",
                    color="C2", ms=4, label="log-CLT ± Berry–Esseen" if i == 0 else None)
        mut = mutant_small_gradient(r.params)["p"]
        ax.plot(i - 0.15, mut, "x", color="0.3", label="mutant (L factors)" if i == 0 else None)
    ax.set_xticks(idx)
    ax.set_xticklabels([f"{r.params['init']}\nL={r.params['depth']}, eps={r.params['eps']:g}"
                        for r in records], fontsize=6)
    ax.set_ylabel(r"$P(|\partial f/\partial w_i| < \varepsilon)$")
    ax.legend(fontsize=7, loc="best")


# ========================================================================= VC.relu-chain-dead
def predict_relu_dead(params: dict[str, Any]) -> dict[str, Any]:
    r"""``P(∇f ≡ 0) = 1 − 2^{−(L−1)}`` for a ReLU chain with ``x > 0`` (alive iff
    ``w_1..w_{L−1} > 0``; any symmetric weight law with a density) [derived]."""
    c = NeuralChain(int(params["depth"]), init=str(params["init"]), activation="relu")
    return {"p": float(c.dead_probability())}


def mutant_relu_dead(params: dict[str, Any]) -> dict[str, Any]:
    """Counting the readout weight too: ``1 − 2^{−L}``."""
    return {"p": 1.0 - 2.0 ** -int(params["depth"])}


def simulate_relu_dead(params: dict[str, Any], seed: int, device: str, budget: str
                       ) -> dict[str, int]:
    """Count real torch ReLU chains (``x = 1``) whose every ``∂f/∂w_i`` is exactly 0."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=2_000_000))
    r = chain_samples(n, int(params["depth"]), init=str(params["init"]), activation="relu",
                      seed=seed, device=device)
    return {"dead": int(np.sum(r.dead)), "count": n, "zero_output": int(np.sum(r.output == 0))}


def check_dead_count(prediction: dict[str, Any], measurement: dict[str, int], alpha: float
                     ) -> stats.TestOutcome:
    """Exact two-sided binomial test of ``dead ~ Bin(count, p)``."""
    return stats.binomial_test(int(measurement["dead"]), int(measurement["count"]),
                               float(prediction["p"]), alpha)


def plot_relu_dead(fig: Any, records: list[Any]) -> None:
    """``P(alive) = 1 − P(∇f ≡ 0)`` against depth (log scale): measured with 99% CP intervals
    (one marker per init), exact ``2^{−(L−1)}`` and the mutant ``2^{−L}``."""
    ax = fig.add_subplot(1, 1, 1)
    inits = sorted({str(r.params["init"]) for r in records})
    for j, init in enumerate(inits):
        recs = sorted((r for r in records if r.params["init"] == init),
                      key=lambda r: r.params["depth"])
        d = np.array([r.params["depth"] for r in recs], dtype=np.float64) + 0.08 * j
        alive = np.array([1 - r.measurement["dead"] / r.measurement["count"] for r in recs])
        cis = np.array([stats.clopper_pearson(r.measurement["count"] - r.measurement["dead"],
                                              r.measurement["count"], 0.99) for r in recs])
        ax.errorbar(d, alive, yerr=[alive - cis[:, 0], cis[:, 1] - alive], fmt="os^"[j % 3],
                    color=f"C{3 + j}", ms=4, label=f"measured, {init} (99% CP)")
    depths = [float(r.params["depth"]) for r in records]
    dd = np.linspace(min(depths), max(depths), 100)
    ax.plot(dd, 2.0 ** -(dd - 1), "-", color="C0", label=r"exact $2^{-(L-1)}$")
    ax.plot(dd, 2.0 ** -dd, "--", color="0.3", label=r"mutant $2^{-L}$")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$P(\nabla f \not\equiv 0)$ (ReLU chain, x = 1)")
    ax.legend(fontsize=7, loc="best")


# ========================================================================= wide nets
class _LogNormal:
    """``R`` with ``log R ~ N(mean, var)`` (the mutant law of ``VC.wide-linear``)."""

    def __init__(self, mean: float, var: float) -> None:
        self.mean, self.var, self.atom = float(mean), float(var), 0.0

    def log_cdf(self, y: Any) -> np.ndarray:
        """``P(log R ≤ y)``."""
        return np.asarray(sps.norm.cdf(y, self.mean, math.sqrt(self.var)), dtype=np.float64)


def _ratio_law(params: dict[str, Any], activation: str) -> Any:
    init = "he_normal" if activation == "relu" else "lecun_normal"
    return norm_ratio_law(int(params["width"]), int(params["depth"]), activation, init)


def predict_wide_linear(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact law of ``‖x_L‖²/‖x_0‖² = ∏_l χ²_n/n`` (linear, LeCun ``N(0, 1/n)``) [derived;
    VC Sec. 4]."""
    law = _ratio_law(params, "linear")
    return {"law": law, "atom": float(law.atom), "log_mean": law.log_mean,
            "log_sd": law.log_sd}


def mutant_wide_linear(params: dict[str, Any]) -> dict[str, Any]:
    """The log-normal limit ``log R ≈ N(−L/n, 2L/n)`` taken as the exact law."""
    lim = lognormal_limit(int(params["width"]), int(params["depth"]), "linear", "lecun_normal")
    return {"law": _LogNormal(lim.mean_asymptotic, lim.var_asymptotic), "atom": 0.0}


def predict_wide_relu(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact law of ``‖x_L‖²/‖x_0‖² = ∏_l (2/n)χ²_{K_l}``, ``K_l ~ Bin(n, ½)``, atom
    ``1 − (1 − 2^{−n})^L`` at 0 (ReLU, He ``N(0, 2/n)``) [derived; VC Sec. 4]."""
    law = _ratio_law(params, "relu")
    return {"law": law, "atom": float(law.atom), "log_mean": law.log_mean,
            "log_sd": law.log_sd}


def mutant_wide_relu(params: dict[str, Any]) -> dict[str, Any]:
    """The linear factor law ``∏ χ²_n/n`` (ReLU mask ignored, no atom)."""
    return predict_wide_linear(params)


def simulate_wide(params: dict[str, Any], seed: int, device: str, budget: str,
                  activation: str) -> np.ndarray:
    """``‖x_L‖²/‖x_0‖²`` of ``params["count"]`` real torch MLPs (width = input dim, no bias).

    The sample size is a grid parameter (it depends on width and depth), set per budget in
    the claim's grids.
    """
    width, depth, n = int(params["width"]), int(params["depth"]), int(params["count"])
    init = "he_normal" if activation == "relu" else "lecun_normal"
    return norm_ratios(n, width, depth, activation, init, seed=seed, device=device)


def simulate_wide_linear(params: dict[str, Any], seed: int, device: str, budget: str
                         ) -> np.ndarray:
    """:func:`simulate_wide` for linear LeCun-normal nets."""
    return simulate_wide(params, seed, device, budget, "linear")


def simulate_wide_relu(params: dict[str, Any], seed: int, device: str, budget: str
                       ) -> np.ndarray:
    """:func:`simulate_wide` for ReLU He-normal nets."""
    return simulate_wide(params, seed, device, budget, "relu")


def check_ratio_law(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                   ) -> stats.TestOutcome:
    """KS test of ``log R`` on the positive samples against the law given ``R > 0``, and an
    exact binomial test of the number of zeros against the atom; Bonferroni-combined
    (``p = min(1, 2 min(p_KS, p_atom))``) when an atom is predicted or zeros are seen."""
    x = np.asarray(samples, dtype=np.float64)
    law = prediction["law"]
    atom = float(prediction["atom"])
    pos = x[x > 0]
    zeros = int(x.size - pos.size)
    ks = stats.ks_test(np.log(pos), law.log_cdf, alpha)
    if atom == 0.0 and zeros == 0:
        return stats.TestOutcome(ks.statistic, ks.p_value, ks.reject, ks.n,
                                 dict(ks.details, zeros=0, atom=0.0))
    ab = stats.binomial_test(zeros, x.size, atom, alpha)
    p = min(1.0, 2.0 * min(ks.p_value, ab.p_value))
    return stats.TestOutcome(ks.statistic, p, bool(p <= alpha), int(x.size), {
        "test": "ks(log R | R>0) + binomial(atom), Bonferroni", "p_ks": ks.p_value,
        "p_atom": ab.p_value, "zeros": zeros, "atom": atom, "ks_n": ks.n})


def _plot_wide(fig: Any, records: list[Any], mutant: Callable[[dict[str, Any]], Any],
               mutant_label: str) -> None:
    from validation.plots import plot_cdf_vs_empirical

    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        x = np.asarray(r.measurement)
        logs = np.log(x[x > 0])
        plot_cdf_vs_empirical(ax, r.prediction["law"].log_cdf, logs, 0.01,
                              label="exact (given R>0)")
        grid = np.linspace(logs.min(), logs.max(), 300)
        ax.plot(grid, mutant(r.params)["law"].log_cdf(grid), "--", color="C1", lw=1,
                label=mutant_label)
        title = f"n={r.params['width']}, L={r.params['depth']}"
        if r.prediction["atom"] > 0:
            title += (f"\natom: exact {r.prediction['atom']:.3g}, "
                      f"measured {(x.size - logs.size) / x.size:.3g}")
        ax.set_title(title, fontsize=7)
        ax.set_xlabel(r"$\log(\|x_L\|^2/\|x_0\|^2)$")
        ax.legend(fontsize=6, loc="lower right")


def plot_wide_linear(fig: Any, records: list[Any]) -> None:
    """Exact CDF of ``log R`` over the empirical one (DKW band) and the log-normal mutant."""
    _plot_wide(fig, records, mutant_wide_linear, "log-normal limit (mutant)")


def plot_wide_relu(fig: Any, records: list[Any]) -> None:
    """Exact CDF of ``log R | R > 0`` over the empirical one, the linear-law mutant, and the
    atom (exact vs measured) in each title."""
    _plot_wide(fig, records, mutant_wide_relu, "linear factor law (mutant)")


# ========================================================================= VC.width-vs-depth
@functools.lru_cache(maxsize=64)
def _critical_width(depth: int) -> int:
    return critical_width(depth, "relu", "he_normal", WIDTH_VS_DEPTH_LEVEL)


#: depths of the width-vs-depth grids and the widths tested there: ``(n_c(L), ⌊¾ n_c(L)⌋)``
#: (checked against :func:`theory.wide.critical_width` by the tests).
CRITICAL_WIDTHS: dict[int, int] = {2: 7, 4: 15, 8: 29, 16: 58, 32: 116}


def _width_grid(depths: Sequence[int], count: int) -> list[dict[str, Any]]:
    out = []
    for d in depths:
        nc = CRITICAL_WIDTHS[d]
        out.append({"depth": d, "width": nc, "count": count})
        out.append({"depth": d, "width": int(math.floor(0.75 * nc)), "count": count})
    return out


def _side(width: int, critical: int) -> str:
    return "above" if width >= critical else "below"


def predict_width_vs_depth(params: dict[str, Any]) -> dict[str, Any]:
    r"""Which side of the level the median ratio lies on: ``"above"`` (``median ≥ ½``) iff
    ``width ≥ n_c(L)``, the exact critical width of :func:`theory.wide.critical_width`
    (ReLU, He); also the exact ``P(R < ½)`` for the figure [derived; VC Sec. 4]."""
    depth, width = int(params["depth"]), int(params["width"])
    nc = _critical_width(depth)
    law = norm_ratio_law(width, depth, "relu", "he_normal")
    return {"side": _side(width, nc), "critical_width": nc, "level": WIDTH_VS_DEPTH_LEVEL,
            "p_below": float(law.cdf(WIDTH_VS_DEPTH_LEVEL))}


def mutant_width_vs_depth(params: dict[str, Any]) -> dict[str, Any]:
    """A depth-free critical width: ``n_c(2)`` (the smallest grid depth's) at every depth."""
    nc = _critical_width(2)
    return {"side": _side(int(params["width"]), nc), "critical_width": nc,
            "level": WIDTH_VS_DEPTH_LEVEL}


def check_side(prediction: dict[str, Any], samples: np.ndarray, alpha: float
              ) -> stats.TestOutcome:
    """One-sided exact binomial (sign) test of the median's side of ``level``.

    ``k = #{R < level}``. "above" (``median ≥ level``, so ``P(R < level) ≤ ½``): p =
    ``P(Bin(n, ½) ≥ k)``; "below" (``P(R < level) ≥ ½``): p = ``P(Bin(n, ½) ≤ k)``.
    """
    x = np.asarray(samples, dtype=np.float64)
    k = int(np.sum(x < float(prediction["level"])))
    alt = "greater" if prediction["side"] == "above" else "less"
    out = stats.binomial_test(k, x.size, 0.5, alpha, alternative=alt)
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, side=prediction["side"]))


def plot_width_vs_depth(fig: Any, records: list[Any]) -> None:
    """Left: measured ``P(R < ½)`` (99% CP) at ``n_c`` and ``¾ n_c`` against the exact value
    and ½. Right: exact critical width against depth with the ``5L/(2 log 2)`` asymptote."""
    ax1, ax2 = fig.subplots(1, 2)
    labelled: set[bool] = set()
    for i, r in enumerate(records):
        x = np.asarray(r.measurement)
        k = int(np.sum(x < r.prediction["level"]))
        lo, hi = stats.clopper_pearson(k, x.size, 0.99)
        crit = r.params["width"] == r.prediction["critical_width"]
        lab = None if crit in labelled else (
            "measured at n_c (99% CP)" if crit else "measured at 3/4 n_c (99% CP)")
        labelled.add(crit)
        ax1.errorbar(i, k / x.size, yerr=[[k / x.size - lo], [hi - k / x.size]], fmt="o",
                     color="C3" if crit else "C4", ms=4, label=lab)
        ax1.plot(i, r.prediction["p_below"], "s", mfc="none", color="C0", ms=9,
                 label="exact P(R<1/2)" if i == 0 else None)
    ax1.axhline(0.5, color="0.4", ls="--", lw=1, label="1/2 (median = level)")
    ax1.set_xticks(range(len(records)))
    ax1.set_xticklabels([f"L={r.params['depth']}\nn={r.params['width']}" for r in records],
                        fontsize=6)
    ax1.set_ylabel(r"$P(\|x_L\|^2/\|x_0\|^2 < 1/2)$")
    ax1.legend(fontsize=7, loc="best")
    depths = sorted({int(r.params["depth"]) for r in records})
    ncs = [_critical_width(d) for d in depths]
    ax2.plot(depths, ncs, "o-", color="C0", label="exact critical width")
    dd = np.linspace(0, max(depths), 50)
    ax2.plot(dd, 2.5 * dd / math.log(2.0), "--", color="0.3", label=r"$5L/(2\log 2)$")
    ax2.axhline(_critical_width(2), color="C1", ls=":", label="mutant: constant n_c(2)")
    ax2.set_xlabel("depth L")
    ax2.set_ylabel("critical width n_c(L)")
    ax2.legend(fontsize=7, loc="best")


# =========================================================================== registration
_COMMON: dict[str, Any] = {"family": "VC", "version": "1", "alpha": 0.01,
                           "describe_prediction": _describe}

register(Claim(
    id="VC.mean-vs-median",
    title="Xavier chains: the mean E P² = 1 is preserved, the median |P| vanishes",
    source=f"{_SOURCE}; derived (THEORY.md §3)",
    statement=(
        "In a linear chain with iid N(0, σ²) weights (Xavier: σ = 1), E P² = σ^{2L} = 1 for "
        "every depth, but median |P| = exp(median Σ log|w_i|) ≈ C_∞ (σ e^{-(γ+log 2)/2})^L "
        "decays exponentially; the exact median is that of the product law."),
    latex=(r"\mathbb{E}P^2=\sigma^{2L},\quad \operatorname{med}|P|\approx C_\infty"
           r"\left(\sigma e^{-(\gamma+\log 2)/2}\right)^L"),
    kind="quantile",
    grids={"quick": _depth_grid([5, 20, 50], init="xavier_normal"),
           "standard": _depth_grid([2, 5, 10, 20, 50, 100], init="xavier_normal"),
           "full": _depth_grid([1, 2, 3, 5, 10, 20, 50, 100, 200], init="xavier_normal")},
    predict=predict_mean_vs_median, simulate=simulate_chain_abs_output, test=_median_test,
    mutant=mutant_mean_vs_median, plot=plot_mean_vs_median,
    mutant_description="mean-based median |P| = sqrt(E P^2) = 1", **_COMMON,
))

_STABLE = {"sigma": SIGMA_MEDIAN_STABLE}
register(Claim(
    id="VC.median-stable-variance",
    title="σ² = 2e^γ keeps median |P| constant in depth while E P² explodes",
    source=f"{_SOURCE}; derived (THEORY.md §3)",
    statement=(
        "With w ~ N(0, 2e^γ), E log|w| = 0, so median |P| stays bounded (→ C_∞ = "
        "e^{-κ₃/(6κ₂)}) as L grows, while E P² = (2e^γ)^L explodes: no iid Gaussian scale "
        "keeps both the mean and the median."),
    latex=r"\sigma^2=2e^\gamma:\ \operatorname{med}|P|\to C_\infty,\ \mathbb{E}P^2=(2e^\gamma)^L",
    kind="quantile",
    grids={"quick": _depth_grid([5, 20, 50], **_STABLE),
           "standard": _depth_grid([2, 5, 10, 20, 50, 100], **_STABLE),
           "full": _depth_grid([1, 2, 5, 10, 20, 50, 100, 200], **_STABLE)},
    predict=predict_median_stable, simulate=simulate_chain_abs_output, test=_median_test,
    mutant=mutant_median_stable, plot=plot_median_stable,
    mutant_description="He variance sigma^2 = 2 instead of 2 e^gamma", **_COMMON,
))

register(Claim(
    id="VC.uniform-chain",
    title="Uniform chains: median |P| = a^L e^{-ν(L)} exactly (Choi bounds)",
    source=f"{_SOURCE}; derived (THEORY.md §3); Choi 1994 for the bounds",
    statement=(
        "For iid U(-a, a) weights, -log(|P|/a^L) ~ Gamma(L, 1), so median |P| = a^L e^{-ν(L)} "
        "with ν(L) the median of Gamma(L, 1), L - 1/3 < ν(L) ≤ L - 1 + log 2 (Choi)."),
    latex=r"\operatorname{med}|P|=a^L e^{-\nu(L)},\ \nu(L)=\operatorname{med}\Gamma(L,1)",
    kind="quantile",
    grids={"quick": [{"init": "xavier_uniform", "depth": 5},
                     {"init": "xavier_uniform", "depth": 50},
                     {"init": "torch_default", "depth": 5},
                     {"init": "torch_default", "depth": 20}],
           "standard": [{"init": i, "depth": d} for i in ("xavier_uniform", "torch_default")
                        for d in (2, 5, 10, 20, 50, 100)],
           "full": [{"init": i, "depth": d}
                    for i in ("xavier_uniform", "torch_default", "he_uniform")
                    for d in (1, 2, 5, 10, 20, 50, 100, 200)]},
    predict=predict_uniform_chain, simulate=simulate_chain_abs_output, test=_median_test,
    mutant=mutant_uniform_chain, plot=plot_uniform_chain,
    mutant_description="log-mean a^L e^{-L} instead of the median", **_COMMON,
))

_SMALL_QUICK = [
    {"init": "xavier_normal", "depth": 10, "layer": 1, "eps": 1e-2},
    {"init": "xavier_normal", "depth": 40, "layer": 20, "eps": 1e-11},
    {"init": "xavier_uniform", "depth": 10, "layer": 10, "eps": 1e-2},
]
register(Claim(
    id="VC.small-gradient",
    title="P(|∂f/∂w_i| < ε): exact product law vs real chain gradients",
    source=f"{_SOURCE}; derived (THEORY.md §3); Berry–Esseen (Shevtsova 2011)",
    statement=(
        "∂f/∂w_i = x P_{-i} is a product of L - 1 weights; P(|∂f/∂w_i| < ε) is its exact "
        "product-law cdf (uniform U(-a, a): Q(L-1, (L-1) log a - log ε)), within the "
        "Berry–Esseen band of the log-CLT value."),
    latex=r"P(|\partial f/\partial w_i|<\varepsilon)=F_{|P_{-i}|}(\varepsilon/|x|)",
    kind="probability",
    grids={"quick": _SMALL_QUICK,
           "standard": _SMALL_QUICK + [
               {"init": "xavier_normal", "depth": 100, "layer": 50, "eps": 1e-27},
               {"init": "xavier_uniform", "depth": 40, "layer": 1, "eps": 1e-8},
               {"init": "he_normal", "depth": 20, "layer": 5, "eps": 1e-2}]},
    predict=predict_small_gradient_eps, simulate=simulate_small_gradient,
    test=check_small_gradient, mutant=mutant_small_gradient_eps, plot=plot_small_gradient,
    mutant_description="L factors (P) instead of L - 1 (P_{-i})", **_COMMON,
))

register(Claim(
    id="VC.relu-chain-dead",
    title="ReLU chains with positive input: P(∇f ≡ 0) = 1 − 2^{-(L-1)}",
    source=f"{_SOURCE}; derived (THEORY.md §3)",
    statement=(
        "A ReLU chain f = w_L relu(w_{L-1} ... relu(w_1 x)) with x > 0 is alive iff "
        "w_1, ..., w_{L-1} > 0, so for any symmetric weight law with a density "
        "P(∇f ≡ 0) = 1 - 2^{-(L-1)}."),
    latex=r"P(\nabla f\equiv 0)=1-2^{-(L-1)}",
    kind="probability",
    grids={"quick": [{"init": "he_normal", "depth": d} for d in (2, 4, 8)]
           + [{"init": "xavier_uniform", "depth": 5}],
           "standard": [{"init": i, "depth": d} for i in ("he_normal", "xavier_uniform")
                        for d in (1, 2, 4, 8, 12)]},
    predict=predict_relu_dead, simulate=simulate_relu_dead, test=check_dead_count,
    mutant=mutant_relu_dead, plot=plot_relu_dead,
    mutant_description="1 - 2^{-L} (readout weight counted)", **_COMMON,
))

register(Claim(
    id="VC.wide-linear",
    title="Width-n linear nets: ‖x_L‖²/‖x_0‖² is a product of χ²_n/n",
    source=f"{_SOURCE}; derived (THEORY.md §4)",
    statement=(
        "For bias-free linear nets of width n with N(0, 1/n) (LeCun) weights, by rotational "
        "invariance ‖x_L‖²/‖x_0‖² = ∏_{l=1}^L χ²_n/n with independent factors."),
    latex=r"\|x_L\|^2/\|x_0\|^2\overset{d}{=}\prod_{l=1}^L \chi^2_{n,l}/n",
    kind="distribution",
    grids={"quick": [{"width": 4, "depth": 5, "count": 10_000},
                     {"width": 8, "depth": 20, "count": 4_000},
                     {"width": 32, "depth": 8, "count": 1_000}],
           "standard": [{"width": 4, "depth": 5, "count": 100_000},
                        {"width": 8, "depth": 20, "count": 40_000},
                        {"width": 32, "depth": 8, "count": 10_000},
                        {"width": 64, "depth": 32, "count": 3_000}],
           "full": [{"width": w, "depth": d, "count": c} for w, d, c in (
               (2, 5, 10**6), (4, 5, 10**6), (8, 20, 4 * 10**5), (32, 8, 10**5),
               (64, 32, 3 * 10**4), (128, 128, 2_000))]},
    predict=predict_wide_linear, simulate=simulate_wide_linear, test=check_ratio_law,
    mutant=mutant_wide_linear, plot=plot_wide_linear,
    mutant_description="log-normal limit log R ~ N(-L/n, 2L/n)", **_COMMON,
))

register(Claim(
    id="VC.wide-relu",
    title="Width-n ReLU He nets: ‖x_L‖²/‖x_0‖² is a product of (2/n)χ²_K, K ~ Bin(n, ½)",
    source=f"{_SOURCE}; derived (THEORY.md §4)",
    statement=(
        "For bias-free ReLU nets of width n with N(0, 2/n) (He) weights, ‖x_L‖²/‖x_0‖² = "
        "∏_l (2/n) χ²_{K_l} with K_l ~ Bin(n, 1/2) independent, χ²_0 = 0: an atom "
        "1 - (1 - 2^{-n})^L at 0 plus a continuous part."),
    latex=r"\|x_L\|^2/\|x_0\|^2\overset{d}{=}\prod_{l=1}^L \tfrac{2}{n}\chi^2_{K_l},"
          r"\ K_l\sim\mathrm{Bin}(n,\tfrac12)",
    kind="distribution",
    grids={"quick": [{"width": 2, "depth": 4, "count": 10_000},
                     {"width": 8, "depth": 8, "count": 4_000},
                     {"width": 16, "depth": 16, "count": 1_000}],
           "standard": [{"width": 2, "depth": 4, "count": 100_000},
                        {"width": 4, "depth": 6, "count": 100_000},
                        {"width": 8, "depth": 8, "count": 40_000},
                        {"width": 16, "depth": 16, "count": 10_000},
                        {"width": 64, "depth": 32, "count": 3_000}],
           "full": [{"width": w, "depth": d, "count": c} for w, d, c in (
               (1, 3, 10**6), (2, 4, 10**6), (4, 6, 10**6), (8, 8, 4 * 10**5),
               (16, 16, 10**5), (64, 32, 3 * 10**4), (128, 128, 2_000))]},
    predict=predict_wide_relu, simulate=simulate_wide_relu, test=check_ratio_law,
    mutant=mutant_wide_relu, plot=plot_wide_relu,
    mutant_description="linear factor law chi^2_n/n (no ReLU mask, no atom)", **_COMMON,
))

register(Claim(
    id="VC.width-vs-depth",
    title="Width must grow like depth: the exact critical width separates median ≥ ½ from < ½",
    source=f"{_SOURCE}; derived (THEORY.md §4)",
    statement=(
        "For ReLU He nets, n_c(L) = the smallest constant width whose exact median of "
        "‖x_L‖²/‖x_0‖² is ≥ 1/2 grows linearly in L (≈ 5L/(2 log 2)); real nets of width "
        "n_c(L) have median ratio ≥ 1/2 and those of width ⌊3 n_c(L)/4⌋ have median < 1/2."),
    latex=r"n_c(L)=\min\{n:\operatorname{med}\|x_L\|^2/\|x_0\|^2\ge\tfrac12\}\sim"
          r"\tfrac{5L}{2\log 2}",
    kind="quantile",
    grids={"quick": _width_grid([2, 4, 8], 2_500),
           "standard": _width_grid([2, 4, 8, 16], 20_000),
           "full": _width_grid([2, 4, 8, 16, 32], 50_000)},
    predict=predict_width_vs_depth, simulate=simulate_wide_relu, test=check_side,
    mutant=mutant_width_vs_depth, plot=plot_width_vs_depth,
    mutant_description="depth-independent critical width n_c(2) = 7", **_COMMON,
))

VC_CHAIN_IDS: tuple[str, ...] = (
    "VC.mean-vs-median", "VC.median-stable-variance", "VC.uniform-chain", "VC.small-gradient",
    "VC.relu-chain-dead", "VC.wide-linear", "VC.wide-relu", "VC.width-vs-depth",
)
"""Ids of the claims registered by this module."""
