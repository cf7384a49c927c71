r"""VC family, signals: the laws of outputs and gradients of neural chains and width-n networks.

Source: Orvieto, Kohler, Pavllo, Hofmann, Lucchi, *Vanishing Curvature and the Power of Adaptive
Methods in Randomly Initialized Deep Networks* (arXiv 2106.03763; AISTATS 2022) -- "VC" -- and
the derivations in docs/theory/vc-signal.md. Claims (ids):

* ``VC.mean-vs-median``: Gaussian chains (Xavier, He, other σ; inputs ``x ≠ 1``) keep
  ``E f² = x²σ^{2L}`` while ``median |f|`` decays (exact median and its log, and the
  Cornish–Fisher form within ``e^{±0.05/L}``; sign tests; mutant: ``√(E f²)``).
* ``VC.median-stable-variance``: ``log median |P|`` drifts by ``log σ − ½ log 2e^γ`` per layer,
  0 at ``σ² = 2e^γ`` (exact medians at two depths + a band test of the measured slope; σ on
  both sides of the stable value; mutant: 2 taken as the stable variance).
* ``VC.uniform-chain``: ``median |f| = |x| a^L e^{−ν(L)}`` for ``U(−a, a)`` weights, also via
  the init's weight law, inside Choi's 2.7%-wide band (sign and band tests; mutant: the
  log-mean ``a^L e^{−L}``).
* ``VC.small-gradient``: ``P(|∂f/∂w_i| < ε)`` from the exact product law, inside the
  Berry–Esseen band of the log-CLT, and ``median |∂f/∂w_i|`` (binomial tests on real chain
  gradients; mutant: ``L`` factors instead of ``L − 1``).
* ``VC.relu-chain-dead``: ``P(∇f ≡ 0) = P(f = 0) = 1 − 2^{−(L−1)}`` for ReLU chains with
  ``x ≠ 0`` (binomial tests; mutant: ``1 − 2^{−L}``).
* ``VC.chain-output-law``: the signed law of ``f(x)`` (linear and ReLU chains): KS, atom,
  sign, density window, tail and the scaling ``|x|·|f(1)|`` (binomial tests; mutant: x ignored).
* ``VC.wide-linear``: ``‖x_L‖²/‖x_0‖²`` of linear nets is a product of ``v χ²_n`` (KS,
  log-cumulants, density window, ``E R``; mutant: the log-normal limit ``N(−L/n, 2L/n)``).
* ``VC.wide-relu``: the same for ReLU nets, ``v χ²_K``, ``K ~ Bin(n, ½)``, with the atom at 0
  (mutant: the linear factor law).
* ``VC.width-vs-depth``: at widths ``≈ n_c·{¾, 0.92, 1, 1.08, 4/3}``: the exact ``P(R < ½)``
  and median, and the side of ½ predicted by the exact critical width ``n_c(L)`` and by its
  asymptote ``5L/(2 log 2)`` (binomial tests; mutant: a depth-free critical width ``n_c(2)``).

The Monte Carlo side builds real torch networks through :mod:`flatstart.montecarlo.sampling`
(:func:`~flatstart.montecarlo.networks.chains`, :func:`~flatstart.montecarlo.networks.mlps`,
:func:`~flatstart.montecarlo.derivatives.chain_gradients`); it never evaluates a theory formula.

Its length: one family's claims, one section per claim (predict, simulate, test, mutant, plot
and registration side by side); adding a claim touches this module only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from flatstart.montecarlo.sampling import chain_samples, norm_ratios
from flatstart.theory.chains import ChainProduct, NeuralChain, median_stable_variance
from flatstart.theory.inits import weight_law, weight_variance
from flatstart.theory.products import product
from flatstart.theory.wide import (
    critical_width,
    critical_width_asymptotic,
    lognormal_limit,
    norm_ratio_law,
)
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register

__all__ = ["VC_CHAIN_IDS", "SIGMA_MEDIAN_STABLE", "WIDTH_VS_DEPTH_LEVEL"]

_SOURCE = "VC (Orvieto et al. 2022, arXiv 2106.03763), Sec. 3-4"

#: ``σ = √(2 e^γ)`` as a literal grid parameter; the claim's test checks the property it is
#: meant to produce (the measured log-median slope in depth is 0 within the Cornish–Fisher
#: allowance), and the tests check it against
#: :func:`flatstart.theory.chains.median_stable_variance`.
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


def _combine(outs: Sequence[stats.TestOutcome], alpha: float, label: str
             ) -> stats.TestOutcome:
    """Bonferroni combination of several tests of one grid point:
    ``p = min(1, m · min p_j)`` (size ``≤ alpha`` whatever their dependence)."""
    ps = [float(o.p_value) for o in outs]
    p, j = stats.bonferroni(ps)
    return stats.TestOutcome(outs[j].statistic, p, bool(p <= alpha), int(outs[j].n), {
        "test": f"Bonferroni over {len(ps)}: {label}", "p_values": ps,
        "tests": [str(o.details.get("test", "")) for o in outs], "worst": j})


def _median_band_test(samples: np.ndarray, lo: float, hi: float, alpha: float
                      ) -> stats.TestOutcome:
    """Test of ``H0: lo ≤ median ≤ hi`` (intersection–union of two one-sided sign tests).

    ``median ≥ lo`` fails when ``#{x < lo}`` is too large for ``Bin(n, ½)``; ``median ≤ hi``
    fails when ``#{x ≤ hi}`` is too small; ``p = min(1, 2 min(p_lo, p_hi))``, size ``≤ alpha``
    for every law whose median lies in the band [ref: Berger 1982]. ``lo = hi``: the sign test.
    """
    x = np.asarray(samples, dtype=np.float64)
    k_lo = int(np.sum(x < lo))
    k_hi = int(np.sum(x <= hi))
    p_lo = stats.binomial_test(k_lo, x.size, 0.5, alpha, alternative="greater").p_value
    p_hi = stats.binomial_test(k_hi, x.size, 0.5, alpha, alternative="less").p_value
    p = min(1.0, 2.0 * min(p_lo, p_hi))
    return stats.TestOutcome(float(k_lo), p, bool(p <= alpha), int(x.size), {
        "test": "median-band (two one-sided sign tests)", "band": [lo, hi],
        "p_lo": p_lo, "p_hi": p_hi})


def _prob_band_test(k: int, n: int, lo: float, hi: float, alpha: float) -> stats.TestOutcome:
    """Test of ``H0: lo ≤ P(event) ≤ hi`` from ``k`` events in ``n`` trials: ``p = 1`` inside,
    else the two-sided exact binomial p-value at the nearer edge (size ``≤ alpha``)."""
    lo, hi = max(0.0, float(lo)), min(1.0, float(hi))
    if lo <= k / n <= hi:
        return stats.TestOutcome(float(k), 1.0, False, int(n),
                                 {"test": "binomial-band", "band": [lo, hi]})
    out = stats.binomial_test(k, n, lo if k / n < lo else hi, alpha)
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, test="binomial-band", band=[lo, hi]))


def _var_test(x: np.ndarray, predicted: float, alpha: float) -> stats.TestOutcome:
    """Large-sample z test of ``Var X = predicted``: ``se(s²) = √((m₄ − s⁴)/n)`` (m₄ the
    sample fourth central moment) [ref: asymptotic normality of the sample variance]."""
    x = np.asarray(x, dtype=np.float64)
    c = x - x.mean()
    s2 = float(np.mean(c**2))
    se = math.sqrt(max(float(np.mean(c**4)) - s2**2, 1e-300) / x.size)
    z = (s2 - float(predicted)) / se
    p = float(2.0 * sps.norm.sf(abs(z)))
    return stats.TestOutcome(z, p, bool(p <= alpha), int(x.size),
                             {"test": "variance-z", "var": s2, "predicted": float(predicted)})


def _logdiff_test(lo: np.ndarray, hi: np.ndarray, center: float, tol: float, alpha: float
                  ) -> stats.TestOutcome:
    """Test of ``H0: |log med(hi) − log med(lo) − center| ≤ tol`` from two independent samples.

    Sample log-medians with standard errors from the 95% order-statistic intervals
    (``(upper − lower)/(2·1.96)``, asymptotically the median's sd); ``p`` = two-sided normal
    p-value of the distance of the estimated difference to the band (1 inside).
    """
    def est(v: np.ndarray) -> tuple[float, float]:
        lv = np.log(np.asarray(v, dtype=np.float64))
        a, b = _median_ci(lv, 0.05)
        return float(np.median(lv)), max((b - a) / (2 * 1.959964), 1e-300)

    m1, s1 = est(lo)
    m2, s2 = est(hi)
    d = m2 - m1
    dist = max(abs(d - center) - tol, 0.0)
    z = dist / math.hypot(s1, s2)
    p = float(2.0 * sps.norm.sf(z)) if dist > 0 else 1.0
    return stats.TestOutcome(z, p, bool(p <= alpha), int(np.size(lo) + np.size(hi)), {
        "test": "log-median difference band (normal)", "diff": d, "center": center,
        "tol": tol})


def _median_plot(fig: Any, records: list[Any], extra: Callable[[Any, np.ndarray], None] | None,
                 ylabel: str, mutant: Callable[[dict[str, Any]], dict[str, Any]],
                 group: str | None = None) -> None:
    """Left: medians against depth (log scale) with 99% order-statistic CI bands, one curve per
    group. Right: measured/exact median with its CI, and mutant/exact, against depth."""
    from flatstart.validation.plots import plot_median_vs_depth

    def gkey(params: dict[str, Any]) -> str:
        if group == "law":  # everything but the depth(s)
            return ",".join(f"{k}={v}" for k, v in sorted(params.items())
                            if not k.startswith("depth"))
        return str(params.get(group)) if group else ""

    keys = sorted({gkey(r.params) for r in records})
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for j, key in enumerate(keys):
        recs = sorted((r for r in records if gkey(r.params) == key),
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
#: next Cornish–Fisher order: ``|log(median_CF / median)| ≤ CF_TOL / L`` for Gaussian chains
#: (the ``O(1/L)`` term ``c/L`` has ``c → 0.0385`` and ``c ≤ 0.043`` for ``L ≥ 2``, independent
#: of σ and x since it involves only the cumulants of ``log|z|``; checked by the tests).
CF_TOL = 0.05


def _chain(params: dict[str, Any], activation: str = "linear") -> NeuralChain:
    """The :class:`NeuralChain` of a grid point (``init`` or ``sigma``; ``x`` default 1)."""
    init = params.get("init")
    sigma = params.get("sigma")
    return NeuralChain(int(params["depth"]), init=None if init is None else str(init),
                       sigma=None if sigma is None else float(sigma), activation=activation,
                       x=float(params.get("x", 1.0)))


def predict_mean_vs_median(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact ``median |f(x)| = |x| median |P|`` of a Gaussian chain, its logarithm by the
    log-product engine (no underflow), and the Cornish–Fisher form
    ``|x| C_∞ (σ e^{−(γ+log 2)/2})^L`` with its allowance ``CF_TOL/L`` [derived; VC Sec. 3]."""
    c = _chain(params)
    return {
        "median": float(c.median_abs_output()),
        "log_median": float(c.log_median_abs_output()),
        "asymptotic": float(c.median_abs_output_asymptotic()),
        "asym_tol": CF_TOL / c.depth,
    }


def mutant_mean_vs_median(params: dict[str, Any]) -> dict[str, Any]:
    r"""Mean-based prediction: ``median |f| = √(E f²) = |x| σ^L`` (= 1 under Xavier, x = 1)."""
    c = _chain(params)
    m = abs(c.x) * math.sqrt(float(c.output_law().moment(2.0)) / c.x**2)
    return {"median": m, "log_median": math.log(m)}


def check_chain_median(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                       ) -> stats.TestOutcome:
    """Sign tests of ``median`` (on ``|f|``) and ``log_median`` (on ``log|f|``), and, where
    predicted, of ``median_law``, the band test ``choi_lower ≤ median ≤ choi_upper`` and the
    band test ``|log median − log asymptotic| ≤ asym_tol``; Bonferroni."""
    x = np.asarray(samples, dtype=np.float64)
    outs = [stats.quantile_test(x, float(prediction["median"]), 0.5, alpha)]
    if "log_median" in prediction:
        outs.append(stats.quantile_test(np.log(x), float(prediction["log_median"]), 0.5, alpha))
    if "median_law" in prediction:
        outs.append(stats.quantile_test(x, float(prediction["median_law"]), 0.5, alpha))
    if "choi_lower" in prediction:
        outs.append(_median_band_test(x, float(prediction["choi_lower"]),
                                      float(prediction["choi_upper"]), alpha))
    if "asymptotic" in prediction:
        a, tol = math.log(float(prediction["asymptotic"])), float(prediction["asym_tol"])
        outs.append(_median_band_test(np.log(x), a - tol, a + tol, alpha))
    return _combine(outs, alpha, "median, log-median, Cornish-Fisher band")


def simulate_chain_abs_output(params: dict[str, Any], seed: int, device: str, budget: str
                              ) -> np.ndarray:
    """``|f(x)| = |w_L ⋯ w_1 x|`` of independent real torch chains (linear), float64 ``(n,)``.

    The weight law is ``params["init"]`` or ``params["sigma"]`` (``N(0, σ²)``); ``x`` is
    ``params["x"]`` (default 1).
    """
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    r = chain_samples(n, int(params["depth"]), init=params.get("init"),
                      sigma=params.get("sigma"), x=float(params.get("x", 1.0)), seed=seed,
                      device=device)
    return np.abs(r.output)


def plot_mean_vs_median(fig: Any, records: list[Any]) -> None:
    """Exact and measured medians against depth (one curve per weight law and input), with the
    Cornish–Fisher asymptote of the first group and the mean-based line ``|x|σ^L``."""
    def extra(ax: Any, depths: np.ndarray) -> None:
        recs = sorted(records, key=lambda r: r.params["depth"])
        r0 = recs[0]
        d = np.linspace(min(depths), max(depths), 100)
        sigma = float(r0.params.get("sigma") or (math.sqrt(2.0) if r0.params.get("init")
                                                   == "he_normal" else 1.0))
        ax0 = abs(float(r0.params.get("x", 1.0)))
        rate = sigma * math.exp(-(float(np.euler_gamma) + math.log(2.0)) / 2)
        c_inf = r0.prediction["asymptotic"] / rate ** r0.params["depth"]
        ax.plot(d, c_inf * rate**d, ":", color="C2",
                label=r"$|x|C_\infty(\sigma e^{-(\gamma+\log 2)/2})^L$")
        ax.plot(d, ax0 * sigma**d, "--", color="0.3", label=r"mean-based $|x|\sigma^L$")

    _median_plot(fig, records, extra, "median |f(x)| (Gaussian chain)", mutant_mean_vs_median,
                 group="law")


# ================================================================ VC.median-stable-variance
def predict_median_stable(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact ``median |P|`` at the two depths ``L₁ = depth < L₂ = depth2`` and the drift of
    ``log median |P|`` per layer, ``log σ − ½ log(2e^γ)`` (0 at the median-stable
    ``σ² = 2e^γ``), with the Cornish–Fisher allowance ``CF_TOL/L₁`` on the difference
    ``log med(L₂) − log med(L₁) = (L₂ − L₁)·drift + O(1/L₁)`` [derived; VC Sec. 3]."""
    sigma = float(params["sigma"])
    l1, l2 = int(params["depth"]), int(params["depth2"])
    stable = float(median_stable_variance())
    return {
        "median": float(NeuralChain(l1, sigma=sigma).median_abs_output()),
        "median2": float(NeuralChain(l2, sigma=sigma).median_abs_output()),
        "drift": math.log(sigma) - 0.5 * math.log(stable),
        "drift_tol": CF_TOL / l1,
    }


def mutant_median_stable(params: dict[str, Any]) -> dict[str, Any]:
    """He's ``σ² = 2`` (the ReLU-chain choice) in place of ``σ²``: median ``∝ (0.75)^L``, and
    the median-stable variance taken to be 2."""
    l1, l2 = int(params["depth"]), int(params["depth2"])
    he = math.sqrt(2.0)
    return {"median": float(NeuralChain(l1, sigma=he).median_abs_output()),
            "median2": float(NeuralChain(l2, sigma=he).median_abs_output()),
            "drift": math.log(float(params["sigma"])) - 0.5 * math.log(2.0),
            "drift_tol": CF_TOL / l1}


def simulate_median_stable(params: dict[str, Any], seed: int, device: str, budget: str
                           ) -> dict[str, np.ndarray]:
    """``|P|`` of real torch chains with ``N(0, σ²)`` weights at ``depth`` (``"lo"``) and at
    ``depth2`` (``"hi"``, independent chains)."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    sigma = float(params["sigma"])
    lo = chain_samples(n, int(params["depth"]), sigma=sigma, seed=seed, device=device)
    hi = chain_samples(n, int(params["depth2"]), sigma=sigma, seed=seed + 1, device=device)
    return {"lo": np.abs(lo.output), "hi": np.abs(hi.output)}


def check_median_stable(prediction: dict[str, Any], measurement: dict[str, np.ndarray],
                        alpha: float) -> stats.TestOutcome:
    """Sign tests of the exact medians at both depths, and the band test of the measured
    log-median difference against ``(L₂ − L₁)·drift ± drift_tol`` (a statement about the
    measured slope that involves no exact median); Bonferroni."""
    lo, hi = np.asarray(measurement["lo"]), np.asarray(measurement["hi"])
    outs = [stats.quantile_test(lo, float(prediction["median"]), 0.5, alpha),
            stats.quantile_test(hi, float(prediction["median2"]), 0.5, alpha)]
    if "drift" in prediction:
        dl = float(prediction["span"])
        outs.append(_logdiff_test(lo, hi, dl * float(prediction["drift"]),
                                  float(prediction["drift_tol"]), alpha))
    return _combine(outs, alpha, "median(L1), median(L2), log-median slope band")


def _with_span(pred: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**pred, "span": int(params["depth2"]) - int(params["depth"])}


def predict_median_stable_span(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`predict_median_stable` with the depth span ``L₂ − L₁`` attached."""
    return _with_span(predict_median_stable(params), params)


def mutant_median_stable_span(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`mutant_median_stable` with the depth span attached."""
    return _with_span(mutant_median_stable(params), params)


def plot_median_stable(fig: Any, records: list[Any]) -> None:
    """Measured log-median slope per layer (95% CI) against the predicted drift, per σ."""
    ax = fig.add_subplot(1, 1, 1)
    for i, r in enumerate(records):
        t = _logdiff_test(r.measurement["lo"], r.measurement["hi"], 0.0, 0.0, 0.05)
        span = r.prediction["span"]
        d = t.details["diff"] / span
        se = (abs(t.details["diff"]) / max(t.statistic, 1e-12) if t.statistic > 0 else 0.0)
        ax.errorbar(i, d, yerr=1.96 * se / span, fmt="o", color="C3", ms=4,
                    label="measured slope (95%)" if i == 0 else None)
        ax.errorbar(i + 0.15, r.prediction["drift"], yerr=r.prediction["drift_tol"] / span,
                    fmt="s", mfc="none", color="C0", label="predicted drift" if i == 0 else None)
        ax.plot(i - 0.15, mutant_median_stable(r.params)["drift"], "x", color="0.3",
                label="mutant (2 as the stable variance)" if i == 0 else None)
    ax.axhline(0.0, color="0.5", lw=1)
    ax.set_xticks(range(len(records)))
    ax.set_xticklabels([f"σ={r.params['sigma']:.3g}\nL={r.params['depth']}..{r.params['depth2']}"
                        for r in records], fontsize=6)
    ax.set_ylabel("d log median|P| / dL")
    ax.legend(fontsize=7, loc="best")


# ========================================================================= VC.uniform-chain
def predict_uniform_chain(params: dict[str, Any]) -> dict[str, Any]:
    r"""``median |f(x)| = |x| a^L e^{−ν(L)}``, ``ν(L)`` the median of Gamma(L, 1) (closed form,
    and its log by the log-product route), the same median of the product of ``L`` copies of
    the init's weight law (:func:`flatstart.theory.inits.weight_law` through
    :func:`flatstart.theory.products.product`), and Choi's bounds, a band of relative width
    ``≤ e^{log 2 − 2/3} − 1 ≈ 2.7%`` [derived: ``log|w| = log a − Exp(1)``; ref: Choi 1994]."""
    c = _chain(params)
    lo, exact, hi = c.uniform_median_bounds()
    out = {"median": float(exact), "log_median": float(c.log_median_abs_output()),
           "choi_lower": float(lo), "choi_upper": float(hi)}
    if params.get("via_law"):  # the Mellin route is slow (~1 s) at small depths
        w = weight_law(str(params["init"]), 1, 1)
        out["median_law"] = abs(c.x) * float(product(w, c.depth).abs().median())
    return out


def mutant_uniform_chain(params: dict[str, Any]) -> dict[str, Any]:
    """The log-mean in place of the median: ``|x| a^L e^{−L}`` (``ν(L)`` replaced by ``L``)."""
    c = _chain(params)
    m = abs(c.x) * float(c.scale ** c.depth * math.exp(-c.depth))
    return {"median": m, "log_median": math.log(m)}


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

    _median_plot(fig, records, extra, "median |f(x)| (uniform chain)", mutant_uniform_chain,
                 group="law")


# ========================================================================= VC.small-gradient
def predict_small_gradient(params: dict[str, Any]) -> dict[str, Any]:
    r"""``P(|∂f/∂w_i| < ε)`` exactly (product cdf of ``L − 1`` factors and ``|x|``; uniform
    weights: ``Q(L−1, (L−1) log a − log(ε/|x|))``), the log-CLT value with its Berry–Esseen
    half-width (the exact value lies in ``clt ± band``), and the exact ``median |∂f/∂w_i|``
    (:meth:`~flatstart.theory.chains.NeuralChain.median_gradient_entry`)."""
    c = _chain(params)
    sp_ = c.prob_small_gradient(float(params["eps"]), int(params["layer"]))
    return {"p": float(sp_.exact), "clt": float(sp_.clt), "band": float(sp_.band),
            "median": float(c.median_gradient_entry())}


def mutant_small_gradient(params: dict[str, Any]) -> dict[str, Any]:
    """Off by one factor: ``P(|f| < ε)`` with all ``L`` weights (the output, not ``P_{-i}``)."""
    c = _chain(params)
    return {"p": float(c.prob_small_output(float(params["eps"])).exact)}


def simulate_small_gradient(params: dict[str, Any], seed: int, device: str, budget: str
                            ) -> np.ndarray:
    """``|∂f/∂w_i|`` at ``x = params["x"]`` (default 1) of independent real torch chains
    (autograd), ``(n,)``."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    layer = int(params["layer"])
    r = chain_samples(n, int(params["depth"]), init=params.get("init"),
                      sigma=params.get("sigma"), x=float(params.get("x", 1.0)),
                      layers=(layer,), seed=seed, device=device)
    return np.abs(r.df_dw[:, 0])


def check_small_gradient(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                        ) -> stats.TestOutcome:
    """Exact binomial test of ``#{|g| < ε} ~ Bin(n, p)``; where predicted, the band test of
    ``P(|g| < ε) ∈ clt ± band`` and the sign test of ``median``; Bonferroni."""
    x = np.asarray(samples)
    k = int(np.sum(x < float(prediction["eps"])))
    outs = [stats.binomial_test(k, int(x.size), float(prediction["p"]), alpha)]
    if "clt" in prediction:
        c, b = float(prediction["clt"]), float(prediction["band"])
        outs.append(_prob_band_test(k, int(x.size), c - b, c + b, alpha))
    if "median" in prediction:
        outs.append(stats.quantile_test(x, float(prediction["median"]), 0.5, alpha))
    return _combine(outs, alpha, "P(|g|<eps), CLT band, median")


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
    ax.set_xticklabels([f"{r.params.get('init') or r.params.get('sigma')}, x={r.params.get('x', 1)}"
                        f"\nL={r.params['depth']}, eps={r.params['eps']:g}"
                        for r in records], fontsize=6)
    ax.set_ylabel(r"$P(|\partial f/\partial w_i| < \varepsilon)$")
    ax.legend(fontsize=7, loc="best")


# ========================================================================= VC.relu-chain-dead
def predict_relu_dead(params: dict[str, Any]) -> dict[str, Any]:
    r"""``P(∇f ≡ 0) = 1 − 2^{−(L−1)}`` for a ReLU chain with ``x ≠ 0`` (alive iff
    ``w_1..w_{L−1}`` keep every pre-activation positive; any symmetric weight law with a
    density; 1 at ``x = 0``), and the atom of the output law at 0 (the same event) [derived]."""
    c = _chain(params, activation="relu")
    out = {"p": float(c.dead_probability())}
    if c.x != 0:
        out["atom"] = float(c.output_law().atom)
    return out


def mutant_relu_dead(params: dict[str, Any]) -> dict[str, Any]:
    """Counting the readout weight too: ``1 − 2^{−L}``."""
    return {"p": 1.0 - 2.0 ** -int(params["depth"])}


def simulate_relu_dead(params: dict[str, Any], seed: int, device: str, budget: str
                       ) -> dict[str, int]:
    """Count real torch ReLU chains (input ``params["x"]``, default 1) whose every
    ``∂f/∂w_i`` is exactly 0, and those whose output is exactly 0."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=2_000_000))
    r = chain_samples(n, int(params["depth"]), init=params.get("init"),
                      sigma=params.get("sigma"), x=float(params.get("x", 1.0)),
                      activation="relu", seed=seed, device=device)
    return {"dead": int(np.sum(r.dead)), "count": n, "zero_output": int(np.sum(r.output == 0))}


def check_dead_count(prediction: dict[str, Any], measurement: dict[str, int], alpha: float
                     ) -> stats.TestOutcome:
    """Exact two-sided binomial test of ``dead ~ Bin(count, p)`` and, where predicted, of
    ``zero_output ~ Bin(count, atom)``; Bonferroni."""
    n = int(measurement["count"])
    outs = [stats.binomial_test(int(measurement["dead"]), n, float(prediction["p"]), alpha)]
    if "atom" in prediction:
        outs.append(stats.binomial_test(int(measurement["zero_output"]), n,
                                        float(prediction["atom"]), alpha))
    return _combine(outs, alpha, "dead gradients, output atom")


def plot_relu_dead(fig: Any, records: list[Any]) -> None:
    """``P(alive) = 1 − P(∇f ≡ 0)`` against depth (log scale): measured with 99% CP intervals
    (one marker per init), exact ``2^{−(L−1)}`` and the mutant ``2^{−L}``."""
    ax = fig.add_subplot(1, 1, 1)
    def law(r: Any) -> str:
        return f"{r.params.get('init') or r.params.get('sigma')}, x={r.params.get('x', 1.0)}"

    inits = sorted({law(r) for r in records})
    for j, init in enumerate(inits):
        recs = sorted((r for r in records if law(r) == init),
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


# ========================================================================= VC.chain-output-law
def predict_chain_output(params: dict[str, Any]) -> dict[str, Any]:
    r"""The exact law of the output ``f(x)`` of a chain (a :class:`ChainProduct`: linear through the
    Mellin engine, ReLU with the atom ``1 − 2^{−(L−1)}`` through its Gil-Pelaez twin), and from
    it, at the grid's scale ``a`` (≈ the median |f|): the atom, ``P(f < 0)`` from the law's
    sign, ``P(a/2 < f ≤ 2a)`` by Simpson's rule on the density (129 nodes), ``P(f > 3a)`` by
    ``sf``, and ``P(|f| > a/3)`` by the scaling route ``|x|·|P|`` (the ``x = 1`` law, ``abs``,
    ``scaled(|x|)``, ``sf``) [derived; VC Sec. 3]."""
    from scipy.integrate import simpson

    act = str(params.get("activation", "linear"))
    c = _chain(params, act)
    law = c.output_law()
    a = float(params["a"])
    g = np.linspace(0.5 * a, 2.0 * a, 129)
    atom = float(law.atom)
    sign = str(law.sign)
    p_neg = {"symmetric": (1.0 - atom) / 2, "positive": 0.0, "negative": 1.0 - atom}.get(
        sign, math.nan)
    unit = _chain({**params, "x": 1.0}, act).output_law(engine="logproduct")
    assert isinstance(unit, ChainProduct) and unit.route == "twin"
    unit_abs = unit.abs()
    assert isinstance(unit_abs, ChainProduct)
    return {
        "law": law, "atom": atom, "sign": sign, "p_neg": p_neg,
        "window": [0.5 * a, 2.0 * a], "p_window": float(simpson(law.pdf(g), x=g)),
        # the tail by the Mellin engine on the law's factors (for ReLU chains: |w|, the alive
        # indicator and the sign as laws), the window and the KS test by its Gil-Pelaez twin:
        # each representation of the law is checked against the real chains
        "tail": 3.0 * a,
        "p_tail": float(np.asarray(law.sf(np.array([3.0 * a]), method="auto"))[0]),
        "abs_tail": a / 3.0,
        "p_abs_tail": float(np.asarray(
            unit_abs.scaled(abs(c.x)).sf(np.array([a / 3.0])))[0]),
    }


def mutant_chain_output(params: dict[str, Any]) -> dict[str, Any]:
    """The input ignored: the law of ``P`` (``x = 1``) in place of that of ``x P``."""
    return predict_chain_output({**params, "x": 1.0})


def simulate_chain_output(params: dict[str, Any], seed: int, device: str, budget: str
                          ) -> np.ndarray:
    """Signed outputs ``f(x)`` of independent real torch chains (``activation``, ``init`` or
    ``sigma``, input ``x`` from the grid), float64 ``(n,)``."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    r = chain_samples(n, int(params["depth"]), init=params.get("init"),
                      sigma=params.get("sigma"), x=float(params.get("x", 1.0)),
                      activation=str(params.get("activation", "linear")), seed=seed,
                      device=device)
    return np.asarray(r.output, dtype=np.float64)


def check_chain_output(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                       ) -> stats.TestOutcome:
    """KS test of the nonzero outputs against the law given ``f ≠ 0``; exact binomial tests of
    the counts of zeros (atom), negatives, outputs in the window, above ``tail`` and with
    ``|f|`` above ``abs_tail``; Bonferroni."""
    x = np.asarray(samples, dtype=np.float64)
    law = prediction["law"]
    atom = float(prediction["atom"])
    nz = x[x != 0]

    def cond_cdf(v: np.ndarray) -> np.ndarray:
        return (np.asarray(law.cdf(v), dtype=np.float64) - atom * (v >= 0)) / (1.0 - atom)

    n = x.size
    outs = [stats.ks_test(nz, cond_cdf, alpha),
            stats.binomial_test(n - nz.size, n, atom, alpha),
            stats.binomial_test(int(np.sum(x < 0)), n, float(prediction["p_neg"]), alpha)]
    w1, w2 = prediction["window"]
    for k, key in ((int(np.sum((x > w1) & (x <= w2))), "p_window"),
                   (int(np.sum(x > float(prediction["tail"]))), "p_tail"),
                   (int(np.sum(np.abs(x) > float(prediction["abs_tail"]))), "p_abs_tail")):
        if key in prediction:
            outs.append(stats.binomial_test(k, n, float(prediction[key]), alpha))
    return _combine(outs, alpha, "KS, atom, sign, window, tail, |f| tail")


def plot_chain_output(fig: Any, records: list[Any]) -> None:
    """Per grid point: exact CDF of ``f | f ≠ 0`` on ``sign(f) log(1 + |f|/a)`` axes over the
    empirical one, with the mutant (input ignored)."""
    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        x = np.sort(np.asarray(r.measurement))
        x = x[x != 0]
        law, atom = r.prediction["law"], r.prediction["atom"]
        a = r.prediction["window"][0] * 2

        def tr(v: np.ndarray, a: float = a) -> np.ndarray:
            return np.sign(v) * np.log1p(np.abs(v) / a)

        sub = x[:: max(1, x.size // 2000)]
        ax.plot(tr(sub), np.linspace(0, 1, sub.size), color="C3", lw=1, label="empirical")
        ax.plot(tr(sub), (law.cdf(sub) - atom * (sub >= 0)) / (1 - atom), "--", color="C0",
                lw=1, label="exact")
        mut = mutant_chain_output(r.params)
        ax.plot(tr(sub), (mut["law"].cdf(sub) - mut["atom"] * (sub >= 0)) / (1 - mut["atom"]),
                ":", color="0.3", lw=1, label="mutant (x ignored)")
        ax.set_title(", ".join(f"{k}={v}" for k, v in r.params.items()), fontsize=6)
        ax.set_xlabel("sign(f) log(1+|f|/a)")
        ax.legend(fontsize=6, loc="lower right")


# ========================================================================= wide nets
class _LogNormal:
    """``R`` with ``log R ~ N(mean, var)`` (the mutant law of ``VC.wide-linear``)."""

    def __init__(self, mean: float, var: float) -> None:
        self.mean, self.var, self.atom = float(mean), float(var), 0.0

    def log_cdf(self, y: Any) -> np.ndarray:
        """``P(log R ≤ y)``."""
        return np.asarray(sps.norm.cdf(y, self.mean, math.sqrt(self.var)), dtype=np.float64)


def _init(params: dict[str, Any], activation: str) -> str:
    return str(params.get("init") or ("he_normal" if activation == "relu" else "lecun_normal"))


def _ratio_law(params: dict[str, Any], activation: str) -> Any:
    return norm_ratio_law(int(params["width"]), int(params["depth"]), activation,
                          _init(params, activation))


def _window(law: Any) -> tuple[float, float, float]:
    """``(y₁, y₂, P(y₁ < log R ≤ y₂ | R > 0))`` for ``y₁ = E − sd``, ``y₂ = E + sd/2``
    (moments of ``log R | R > 0``), the probability by Simpson's rule (129 nodes) on the exact
    density of ``log R`` (error ``< 1e-7`` on these smooth densities)."""
    from scipy.integrate import simpson

    m, sd = law.log_cumulant(1), math.sqrt(law.log_cumulant(2))
    y = np.linspace(m - sd, m + 0.5 * sd, 129)
    return float(y[0]), float(y[-1]), float(simpson(law.log_pdf_density(y), x=y))


#: the mean tests of ``R`` (Student t) are run where ``Var R/(E R)² ≤ MEAN_TEST_MAX_CV2``, so
#: the t statistic is near normal at the grid's sample sizes (``R`` is a skewed product).
MEAN_TEST_MAX_CV2 = 1.5


def _predict_wide(params: dict[str, Any], activation: str) -> dict[str, Any]:
    law = _ratio_law(params, activation)
    n, depth = int(params["width"]), int(params["depth"])
    y1, y2, pw = _window(law)
    out: dict[str, Any] = {"law": law, "atom": float(law.atom),
                           "log_mean": law.log_cumulant(1), "log_var": law.log_cumulant(2),
                           "window": [y1, y2], "p_window": pw}
    mean = float(law.mean())
    if float(law.moment(2.0)) / mean**2 - 1.0 <= MEAN_TEST_MAX_CV2:
        # E R twice: from the law, and as ∏ E F_l = (n v c)^L from the init's variance
        # (c = ½ for ReLU: E χ²_K = n/2)
        c = 0.5 if activation == "relu" else 1.0
        v = weight_variance(_init(params, activation), n, n)
        out["mean"] = mean
        out["mean_init"] = (c * n * v) ** depth
    return out


def predict_wide_linear(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact law of ``‖x_L‖²/‖x_0‖² = ∏_l n v χ²_n/n`` (linear, ``v`` the init's variance,
    LeCun ``1/n`` by default), its atom (0), log-cumulants ``κ₁, κ₂`` of ``log R``, a window
    probability of ``log R`` from its exact density and (where ``R`` is light enough) ``E R``
    [derived; VC Sec. 4]."""
    return _predict_wide(params, "linear")


def mutant_wide_linear(params: dict[str, Any]) -> dict[str, Any]:
    """The log-normal limit ``log R ≈ N(−L/n, 2L/n)`` taken as the exact law."""
    lim = lognormal_limit(int(params["width"]), int(params["depth"]), "linear", "lecun_normal")
    return {"law": _LogNormal(lim.mean_asymptotic, lim.var_asymptotic), "atom": 0.0}


def predict_wide_relu(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact law of ``‖x_L‖²/‖x_0‖² = ∏_l v χ²_{K_l}``, ``K_l ~ Bin(n, ½)``, atom
    ``1 − (1 − 2^{−n})^L`` at 0 (ReLU, He ``v = 2/n`` by default), with the fields of
    :func:`predict_wide_linear` [derived; VC Sec. 4]."""
    return _predict_wide(params, "relu")


def mutant_wide_relu(params: dict[str, Any]) -> dict[str, Any]:
    """The linear factor law ``∏ n v χ²_n/n`` (ReLU mask ignored, no atom)."""
    return predict_wide_linear(params)


def simulate_wide(params: dict[str, Any], seed: int, device: str, budget: str,
                  activation: str) -> np.ndarray:
    """``‖x_L‖²/‖x_0‖²`` of ``params["count"]`` real torch MLPs (width = input dim, no bias).

    The sample size is a grid parameter (it depends on width and depth), set per budget in
    the claim's grids.
    """
    width, depth, n = int(params["width"]), int(params["depth"]), int(params["count"])
    init = _init(params, activation)
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
    """KS test of ``log R`` on the positive samples against the law given ``R > 0``, an exact
    binomial test of the number of zeros against the atom (when an atom is predicted or zeros
    are seen), and, where predicted: Student t test of ``E log R = κ₁``, z test of
    ``Var log R = κ₂``, exact binomial test of the window count, t tests of ``E R`` (``mean``,
    ``mean_init``). Bonferroni over the tests run."""
    x = np.asarray(samples, dtype=np.float64)
    law = prediction["law"]
    atom = float(prediction["atom"])
    pos = x[x > 0]
    zeros = int(x.size - pos.size)
    logs = np.log(pos)
    outs = [stats.ks_test(logs, law.log_cdf, alpha)]
    if atom > 0.0 or zeros > 0:
        outs.append(stats.binomial_test(zeros, x.size, atom, alpha))
    if "log_mean" in prediction:
        outs.append(stats.mean_test(logs, float(prediction["log_mean"]), alpha))
        outs.append(_var_test(logs, float(prediction["log_var"]), alpha))
    if "p_window" in prediction:
        y1, y2 = prediction["window"]
        k = int(np.sum((logs > y1) & (logs <= y2)))
        outs.append(stats.binomial_test(k, logs.size, float(prediction["p_window"]), alpha))
    for key in ("mean", "mean_init"):
        if key in prediction:
            outs.append(stats.mean_test(x, float(prediction[key]), alpha))
    out = _combine(outs, alpha, "KS, atom, log-cumulants, window, mean")
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, zeros=zeros, atom=atom))


def _plot_wide(fig: Any, records: list[Any], mutant: Callable[[dict[str, Any]], Any],
               mutant_label: str) -> None:
    from flatstart.validation.plots import plot_cdf_vs_empirical

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


#: the exact critical widths ``n_c(L)`` of the grid depths, used to place the grid's widths
#: ``≈ n_c·{¾, 0.92, 1, 1.08, 4/3}`` (checked against
#: :func:`flatstart.theory.wide.critical_width` by the tests, and by the claim's test: a wrong
#: literal puts the points at the wrong side).
CRITICAL_WIDTHS: dict[int, int] = {2: 7, 4: 15, 8: 29, 16: 58, 32: 116}

#: ``|n_c(L) − 5L/(2 log 2)| ≤ 0.6`` at the grid depths ``L ≤ 32`` (checked by the tests): the
#: side predicted by the asymptotic critical width is tested only at widths farther than this
#: slack from it.
ASYM_SLACK = 0.75

_WIDTH_FACTORS = (0.75, 0.92, 1.0, 1.08, 4.0 / 3.0)


def _width_grid(depths: Sequence[int], count: int,
                factors: Sequence[float] = _WIDTH_FACTORS) -> list[dict[str, Any]]:
    out = []
    for d in depths:
        nc = CRITICAL_WIDTHS[d]
        for f in factors:
            out.append({"depth": d, "width": int(round(f * nc)), "count": count})
    return out


def _side(width: int, critical: float) -> str:
    return "above" if width >= critical else "below"


def predict_width_vs_depth(params: dict[str, Any]) -> dict[str, Any]:
    r"""At width ``n`` and depth ``L`` (ReLU, He): the exact ``P(R < ½)`` and median of
    ``R = ‖x_L‖²/‖x_0‖²``; which side of ½ the median lies on: ``"above"`` iff
    ``n ≥ n_c(L)`` (:func:`flatstart.theory.wide.critical_width`); and the side by the asymptotic
    ``5L/(2 log 2)`` (:func:`flatstart.theory.wide.critical_width_asymptotic`) where ``n`` is
    farther than ``ASYM_SLACK`` from it [derived; VC Sec. 4]."""
    depth, width = int(params["depth"]), int(params["width"])
    nc = _critical_width(depth)
    law = norm_ratio_law(width, depth, "relu", "he_normal")
    out: dict[str, Any] = {"side": _side(width, nc), "critical_width": nc,
                           "level": WIDTH_VS_DEPTH_LEVEL,
                           "p_below": float(law.cdf(WIDTH_VS_DEPTH_LEVEL)),
                           "median": float(law.median())}
    asym = float(critical_width_asymptotic(depth, "relu", WIDTH_VS_DEPTH_LEVEL))
    if abs(width - asym) > ASYM_SLACK:
        out["side_asymptotic"] = _side(width, asym)
    return out


def mutant_width_vs_depth(params: dict[str, Any]) -> dict[str, Any]:
    """A depth-free critical width: ``n_c(2)`` (the smallest grid depth's) at every depth."""
    nc = _critical_width(2)
    return {"side": _side(int(params["width"]), nc), "critical_width": nc,
            "level": WIDTH_VS_DEPTH_LEVEL}


def _side_test(x: np.ndarray, level: float, side: str, alpha: float) -> stats.TestOutcome:
    k = int(np.sum(x < level))
    alt = "greater" if side == "above" else "less"
    out = stats.binomial_test(k, x.size, 0.5, alpha, alternative=alt)
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, side=side))


def check_side(prediction: dict[str, Any], samples: np.ndarray, alpha: float
              ) -> stats.TestOutcome:
    """One-sided exact binomial (sign) test of the median's side of ``level``; where predicted,
    the same for ``side_asymptotic``, the exact two-sided binomial test of ``#{R < level}``
    against ``p_below`` and the sign test of ``median``; Bonferroni.

    ``k = #{R < level}``. "above" (``median ≥ level``, so ``P(R < level) ≤ ½``): p =
    ``P(Bin(n, ½) ≥ k)``; "below" (``P(R < level) ≥ ½``): p = ``P(Bin(n, ½) ≤ k)``.
    """
    x = np.asarray(samples, dtype=np.float64)
    level = float(prediction["level"])
    outs = [_side_test(x, level, str(prediction["side"]), alpha)]
    if "side_asymptotic" in prediction:
        outs.append(_side_test(x, level, str(prediction["side_asymptotic"]), alpha))
    if "p_below" in prediction:
        outs.append(stats.binomial_test(int(np.sum(x < level)), x.size,
                                        float(prediction["p_below"]), alpha))
    if "median" in prediction:
        outs.append(stats.quantile_test(x, float(prediction["median"]), 0.5, alpha))
    if len(outs) == 1:
        return outs[0]
    out = _combine(outs, alpha, "side, asymptotic side, P(R<level), median")
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
            "measured at n_c (99% CP)" if crit else "measured at other widths (99% CP)")
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

_XAV = {"init": "xavier_normal", "x": 1.0}
register(Claim(
    id="VC.mean-vs-median",
    title="Gaussian chains: E f² = x²σ^{2L} (= 1 for Xavier), but median |f| vanishes",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#medians-of-chains-derived)",
    statement=(
        "In a linear chain with iid N(0, σ²) weights (Xavier: σ = 1) and input x, "
        "E f² = x²σ^{2L} (= 1 for Xavier, x = 1) for every depth, but median |f| = "
        "|x| exp(median Σ log|w_i|) ≈ |x| C_∞ (σ e^{-(γ+log 2)/2})^L decays exponentially "
        "unless σ² ≥ 2e^γ; the exact median is that of the product law, and the "
        "Cornish–Fisher form is within a factor e^{±0.05/L} of it."),
    latex=(r"\mathbb{E}f^2=x^2\sigma^{2L},\quad \operatorname{med}|f|\approx |x|C_\infty"
           r"\left(\sigma e^{-(\gamma+\log 2)/2}\right)^L"),
    kind="quantile",
    grids={"quick": _depth_grid([5, 20, 50], **_XAV)
           + [{"depth": 4, "init": "he_normal", "x": -2.5},
              {"depth": 8, "sigma": 0.7, "x": 0.3}],
           "standard": _depth_grid([2, 5, 10, 20, 50, 100], **_XAV)
           + [{"depth": 3, "init": "he_normal", "x": 2.5},
              {"depth": 20, "init": "he_normal", "x": -0.4},
              {"depth": 8, "sigma": 0.7, "x": 0.3},
              {"depth": 30, "sigma": 1.6, "x": 1.7}],
           "full": _depth_grid([2, 3, 5, 10, 20, 50, 100, 200], **_XAV)
           + [{"depth": d, "init": "he_normal", "x": x} for d in (3, 20, 100)
              for x in (-0.4, 2.5)]
           + [{"depth": d, "sigma": s, "x": 0.3} for d in (8, 30) for s in (0.7, 1.6)]},
    predict=predict_mean_vs_median, simulate=simulate_chain_abs_output,
    test=check_chain_median, mutant=mutant_mean_vs_median, plot=plot_mean_vs_median,
    mutant_description="mean-based median |f| = sqrt(E f^2) = |x| sigma^L", **_COMMON,
))


def _stable_grid(rows: Sequence[tuple[float, int, int]]) -> list[dict[str, Any]]:
    return [{"sigma": s, "depth": d1, "depth2": d2} for s, d1, d2 in rows]


_S = SIGMA_MEDIAN_STABLE
register(Claim(
    id="VC.median-stable-variance",
    title="σ² = 2e^γ keeps median |P| constant in depth while E P² explodes",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#medians-of-chains-derived)",
    statement=(
        "With w ~ N(0, σ²), log median |P| drifts by log σ − ½ log(2e^γ) per layer (up to "
        "O(1/L)): at σ² = 2e^γ, E log|w| = 0 and median |P| stays bounded (→ C_∞ = "
        "e^{-κ₃/(6κ₂)}) as L grows, while E P² = (2e^γ)^L explodes; below (He, σ² = 2) it "
        "vanishes, above it explodes. No iid Gaussian scale keeps both the mean and the median."),
    latex=(r"\log\operatorname{med}|P_{L_2}|-\log\operatorname{med}|P_{L_1}|=(L_2-L_1)"
           r"\left(\log\sigma-\tfrac12\log 2e^\gamma\right)+O(1/L_1)"),
    kind="quantile",
    grids={"quick": _stable_grid([(_S, 5, 50), (math.sqrt(2.0), 5, 20), (2.2, 5, 20)]),
           "standard": _stable_grid([(_S, 2, 20), (_S, 5, 50), (_S, 10, 100),
                                     (math.sqrt(2.0), 5, 50), (2.2, 5, 50), (1.6, 10, 40)]),
           "full": _stable_grid([(_S, 1, 20), (_S, 5, 50), (_S, 10, 200),
                                 (math.sqrt(2.0), 5, 50), (2.2, 5, 50), (1.6, 10, 40),
                                 (1.0, 5, 100)])},
    predict=predict_median_stable_span, simulate=simulate_median_stable,
    test=check_median_stable, mutant=mutant_median_stable_span, plot=plot_median_stable,
    mutant_description="He variance sigma^2 = 2 as the median-stable variance", **_COMMON,
))

register(Claim(
    id="VC.uniform-chain",
    title="Uniform chains: median |f| = |x| a^L e^{-ν(L)} exactly, within Choi's bounds",
    source=(f"{_SOURCE}; derived (docs/theory/vc-signal.md#medians-of-chains-derived); "
            "Choi 1994 for the bounds"),
    statement=(
        "For iid U(-a, a) weights, -log(|P|/a^L) ~ Gamma(L, 1), so median |xP| = "
        "|x| a^L e^{-ν(L)} with ν(L) the median of Gamma(L, 1), L - 1/3 < ν(L) ≤ "
        "L - 1 + log 2 (Choi); the same median follows from the product of L copies of the "
        "init's weight law."),
    latex=r"\operatorname{med}|xP|=|x|a^L e^{-\nu(L)},\ \nu(L)=\operatorname{med}\Gamma(L,1)",
    kind="quantile",
    grids={"quick": [{"init": "xavier_uniform", "depth": 2, "x": 1.0},
                     {"init": "xavier_uniform", "depth": 50, "x": 1.0, "via_law": True},
                     {"init": "torch_default", "depth": 5, "x": -3.0},
                     {"init": "he_uniform", "depth": 3, "x": 0.4}],
           "standard": [{"init": i, "depth": d, "x": 1.0}
                        for i in ("xavier_uniform", "torch_default")
                        for d in (2, 5, 10, 20, 50, 100)]
           + [{"init": "he_uniform", "depth": 3, "x": 0.4, "via_law": True},
              {"init": "lecun_uniform", "depth": 8, "x": -2.0, "via_law": True},
              {"init": "xavier_uniform", "depth": 50, "x": 1.0, "via_law": True},
              {"init": "torch_default", "depth": 5, "x": -3.0}],
           "full": [{"init": i, "depth": d, "x": x}
                    for i in ("xavier_uniform", "torch_default", "he_uniform")
                    for d in (1, 2, 5, 10, 20, 50, 100, 200) for x in (1.0, -3.0)]},
    predict=predict_uniform_chain, simulate=simulate_chain_abs_output,
    test=check_chain_median, mutant=mutant_uniform_chain, plot=plot_uniform_chain,
    mutant_description="log-mean |x| a^L e^{-L} instead of the median", **_COMMON,
))

_SMALL_QUICK = [
    {"init": "xavier_normal", "depth": 10, "layer": 1, "eps": 1e-2, "x": 1.0},
    {"init": "xavier_normal", "depth": 40, "layer": 20, "eps": 1e-11, "x": 1.0},
    {"init": "xavier_uniform", "depth": 10, "layer": 10, "eps": 1e-2, "x": 1.0},
    {"init": "he_normal", "depth": 6, "layer": 3, "eps": 0.5, "x": -2.0},
    {"sigma": 0.8, "depth": 3, "layer": 2, "eps": 0.3, "x": 1.5},
]
register(Claim(
    id="VC.small-gradient",
    title="P(|∂f/∂w_i| < ε) and median |∂f/∂w_i|: exact product law vs real chain gradients",
    source=(f"{_SOURCE}; derived (docs/theory/vc-signal.md#small-gradients-derived); "
            "Berry–Esseen (Shevtsova 2011)"),
    statement=(
        "∂f/∂w_i = x P_{-i} is x times a product of L - 1 weights; P(|∂f/∂w_i| < ε) is its "
        "exact product-law cdf at ε/|x| (uniform U(-a, a): Q(L-1, (L-1) log a - log(ε/|x|))), "
        "within the Berry–Esseen band of the log-CLT value; its median is that of the law."),
    latex=r"P(|\partial f/\partial w_i|<\varepsilon)=F_{|P_{-i}|}(\varepsilon/|x|)",
    kind="probability",
    grids={"quick": _SMALL_QUICK,
           "standard": _SMALL_QUICK + [
               {"init": "xavier_normal", "depth": 100, "layer": 50, "eps": 1e-27, "x": 1.0},
               {"init": "xavier_uniform", "depth": 40, "layer": 1, "eps": 1e-8, "x": 1.0},
               {"init": "he_normal", "depth": 20, "layer": 5, "eps": 1e-2, "x": 1.0},
               {"init": "torch_default", "depth": 4, "layer": 4, "eps": 0.05, "x": -0.5},
               {"sigma": 1.9, "depth": 12, "layer": 6, "eps": 1.0, "x": 0.25}]},
    predict=predict_small_gradient_eps, simulate=simulate_small_gradient,
    test=check_small_gradient, mutant=mutant_small_gradient_eps, plot=plot_small_gradient,
    mutant_description="L factors (P) instead of L - 1 (P_{-i})", **_COMMON,
))

register(Claim(
    id="VC.relu-chain-dead",
    title="ReLU chains: P(∇f ≡ 0) = P(f = 0) = 1 − 2^{-(L-1)} for x ≠ 0",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#relu-chains-derived)",
    statement=(
        "A ReLU chain f = w_L relu(w_{L-1} ... relu(w_1 x)) with x ≠ 0 is alive iff "
        "w_1, ..., w_{L-1} keep every pre-activation positive (sign(w_1) = sign(x), the others "
        "positive), so for any symmetric weight law with a density P(∇f ≡ 0) = P(f = 0) = "
        "1 - 2^{-(L-1)}; at x = 0 the chain is dead."),
    latex=r"P(\nabla f\equiv 0)=P(f=0)=1-2^{-(L-1)}\quad(x\neq 0)",
    kind="probability",
    grids={"quick": [{"init": "he_normal", "depth": d, "x": 1.0} for d in (2, 4, 8)]
           + [{"init": "xavier_uniform", "depth": 5, "x": -0.7},
              {"sigma": 0.5, "depth": 3, "x": 2.0}],
           "standard": [{"init": i, "depth": d, "x": 1.0} for i in ("he_normal", "xavier_uniform")
                        for d in (1, 2, 4, 8, 12)]
           + [{"init": "xavier_uniform", "depth": 5, "x": -0.7},
              {"init": "he_normal", "depth": 3, "x": -2.0},
              {"sigma": 0.5, "depth": 3, "x": 2.0},
              {"init": "he_normal", "depth": 4, "x": 0.0}]},
    predict=predict_relu_dead, simulate=simulate_relu_dead, test=check_dead_count,
    mutant=mutant_relu_dead, plot=plot_relu_dead,
    mutant_description="1 - 2^{-L} (readout weight counted)", **_COMMON,
))

#: ``a`` ≈ the median of |f| (where the window and tails are placed; any value gives an exact
#: prediction, so it is a literal rather than a theory output).
_OUTPUT_QUICK = [
    {"depth": 6, "sigma": 1.3, "x": -2.0, "activation": "linear", "a": 0.28},
    {"depth": 3, "init": "he_uniform", "x": 0.5, "activation": "linear", "a": 0.5},
    {"depth": 4, "init": "he_normal", "x": 1.5, "activation": "relu", "a": 0.63},
]
register(Claim(
    id="VC.chain-output-law",
    title="Chain outputs f(x): exact signed law, atom, density and tails vs real chains",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#laws-of-chain-quantities-derived)",
    statement=(
        "The output f(x) = x w_1 ⋯ w_L of a linear chain has the symmetric product law of "
        "|x|·|w_1|⋯|w_L| with a fair sign (Gaussian or uniform weights, any init); for a ReLU "
        "chain it is that law restricted to the alive event, plus an atom 1 - 2^{-(L-1)} at 0. "
        "Its cdf, density (window probabilities), tail sf and the scaling |f(x)| = |x| |f(1)| "
        "match real chains."),
    latex=r"f(x)\overset{d}{=}S\,|x|\prod_{k=1}^L|w_k|\ (\text{ReLU: atom }1-2^{-(L-1)})",
    kind="distribution",
    grids={"quick": _OUTPUT_QUICK,
           "standard": _OUTPUT_QUICK + [
               {"depth": 12, "init": "xavier_normal", "x": 0.7, "activation": "linear",
                "a": 4.6e-4},
               {"depth": 20, "init": "torch_default", "x": 4.0, "activation": "linear",
                "a": 1.2e-8},
               {"depth": 6, "sigma": 0.8, "x": -3.0, "activation": "relu", "a": 0.023}]},
    predict=predict_chain_output, simulate=simulate_chain_output, test=check_chain_output,
    mutant=mutant_chain_output, plot=plot_chain_output,
    mutant_description="input ignored: the law of P instead of x P", **_COMMON,
))

register(Claim(
    id="VC.wide-linear",
    title="Width-n linear nets: ‖x_L‖²/‖x_0‖² is a product of n v χ²_n/n",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#exact-law-of-the-norm-ratio-r_l-derived)",
    statement=(
        "For bias-free linear nets of width n with N(0, v) weights (LeCun v = 1/n, He 2/n, "
        "Xavier 1/n at constant width), by rotational invariance ‖x_L‖²/‖x_0‖² = "
        "∏_{l=1}^L v χ²_n with independent factors; hence E R = (n v)^L and "
        "log R has cumulants L·(log 2v + ψ(n/2)), L·ψ'(n/2)."),
    latex=r"\|x_L\|^2/\|x_0\|^2\overset{d}{=}\prod_{l=1}^L v\,\chi^2_{n,l}",
    kind="distribution",
    grids={"quick": [{"width": 4, "depth": 5, "count": 10_000},
                     {"width": 8, "depth": 20, "count": 4_000},
                     {"width": 32, "depth": 8, "count": 2_000},
                     {"width": 16, "depth": 3, "count": 4_000, "init": "he_normal"}],
           "standard": [{"width": 4, "depth": 5, "count": 100_000},
                        {"width": 8, "depth": 20, "count": 40_000},
                        {"width": 32, "depth": 8, "count": 10_000},
                        {"width": 64, "depth": 32, "count": 3_000},
                        {"width": 16, "depth": 3, "count": 20_000, "init": "he_normal"},
                        {"width": 6, "depth": 4, "count": 40_000, "init": "xavier_normal"}],
           "full": [{"width": w, "depth": d, "count": c} for w, d, c in (
               (2, 5, 10**6), (4, 5, 10**6), (8, 20, 4 * 10**5), (32, 8, 10**5),
               (64, 32, 3 * 10**4), (128, 128, 2_000))]
           + [{"width": 16, "depth": 3, "count": 10**5, "init": "he_normal"}]},
    predict=predict_wide_linear, simulate=simulate_wide_linear, test=check_ratio_law,
    mutant=mutant_wide_linear, plot=plot_wide_linear,
    mutant_description="log-normal limit log R ~ N(-L/n, 2L/n)", **_COMMON,
))

register(Claim(
    id="VC.wide-relu",
    title="Width-n ReLU nets: ‖x_L‖²/‖x_0‖² is a product of v χ²_K, K ~ Bin(n, ½)",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#exact-law-of-the-norm-ratio-r_l-derived)",
    statement=(
        "For bias-free ReLU nets of width n with N(0, v) weights (He v = 2/n), "
        "‖x_L‖²/‖x_0‖² = ∏_l v χ²_{K_l} with K_l ~ Bin(n, 1/2) independent, χ²_0 = 0: an atom "
        "1 - (1 - 2^{-n})^L at 0 plus a continuous part; E R = (n v/2)^L."),
    latex=r"\|x_L\|^2/\|x_0\|^2\overset{d}{=}\prod_{l=1}^L v\,\chi^2_{K_l},"
          r"\ K_l\sim\mathrm{Bin}(n,\tfrac12)",
    kind="distribution",
    grids={"quick": [{"width": 2, "depth": 4, "count": 10_000},
                     {"width": 8, "depth": 8, "count": 4_000},
                     {"width": 16, "depth": 16, "count": 1_000},
                     {"width": 32, "depth": 4, "count": 4_000},
                     {"width": 12, "depth": 3, "count": 4_000, "init": "lecun_normal"}],
           "standard": [{"width": 2, "depth": 4, "count": 100_000},
                        {"width": 4, "depth": 6, "count": 100_000},
                        {"width": 8, "depth": 8, "count": 40_000},
                        {"width": 16, "depth": 16, "count": 10_000},
                        {"width": 64, "depth": 32, "count": 3_000},
                        {"width": 32, "depth": 4, "count": 20_000},
                        {"width": 12, "depth": 3, "count": 20_000, "init": "lecun_normal"}],
           "full": [{"width": w, "depth": d, "count": c} for w, d, c in (
               (1, 3, 10**6), (2, 4, 10**6), (4, 6, 10**6), (8, 8, 4 * 10**5),
               (16, 16, 10**5), (64, 32, 3 * 10**4), (128, 128, 2_000), (32, 4, 10**5))]},
    predict=predict_wide_relu, simulate=simulate_wide_relu, test=check_ratio_law,
    mutant=mutant_wide_relu, plot=plot_wide_relu,
    mutant_description="linear factor law (no ReLU mask, no atom)", **_COMMON,
))

register(Claim(
    id="VC.width-vs-depth",
    title="Width must grow like depth: the exact critical width separates median ≥ ½ from < ½",
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#critical-width)",
    statement=(
        "For ReLU He nets, n_c(L) = the smallest constant width whose exact median of "
        "‖x_L‖²/‖x_0‖² is ≥ 1/2 grows linearly in L (≈ 5L/(2 log 2), within 0.6 for "
        "L ≤ 32); real nets of width n ≥ n_c(L) have median ratio ≥ 1/2 and narrower ones "
        "< 1/2, with P(R < 1/2) and the median given by the exact law at every width."),
    latex=r"n_c(L)=\min\{n:\operatorname{med}\|x_L\|^2/\|x_0\|^2\ge\tfrac12\}\sim"
          r"\tfrac{5L}{2\log 2}",
    kind="quantile",
    grids={"quick": _width_grid([2, 8], 4_000, (0.75, 1.0, 4.0 / 3.0))
           + _width_grid([4], 4_000),
           "standard": _width_grid([2, 4, 8], 20_000) + _width_grid([16], 8_000),
           "full": _width_grid([2, 4, 8, 16, 32], 50_000)},
    predict=predict_width_vs_depth, simulate=simulate_wide_relu, test=check_side,
    mutant=mutant_width_vs_depth, plot=plot_width_vs_depth,
    mutant_description="depth-independent critical width n_c(2) = 7", **_COMMON,
))

VC_CHAIN_IDS: tuple[str, ...] = (
    "VC.mean-vs-median", "VC.median-stable-variance", "VC.uniform-chain", "VC.small-gradient",
    "VC.relu-chain-dead", "VC.chain-output-law", "VC.wide-linear", "VC.wide-relu",
    "VC.width-vs-depth",
)
"""Ids of the claims registered by this module."""
