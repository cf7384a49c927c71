r"""VC family, second half: Hessian moments and norms, saddle escape, residual and normalization.

Source: Orvieto, Kohler, Pavllo, Hofmann, Lucchi, *Vanishing Curvature and the Power of Adaptive
Methods in Randomly Initialized Deep Networks* (arXiv 2106.03763; AISTATS 2022) -- "VC" -- and
THEORY.md section 3. Claims (ids):

* ``VC.hessian-moments``: ``E tr H = Lσ^{2(L−1)}`` (Student t test at depths where the skewness
  of ``tr H`` is small) and ``P(tr H > B_tr(½)) ≤ ½`` (the median bound, far below the mean;
  one-sided exact binomial test) on dense Hessians of real torch chains. Mutant: fourth
  moments in place of second ones (``L 3^{L−1}σ^{4(L−1)}``) and the median of one diagonal
  entry in place of the union bound.
* ``VC.hessian-vanishing``: ``P(‖H‖₂ > B(δ)) ≤ δ`` (Clopper–Pearson on the violation rate) and,
  at ``y = 0``, ``λ_min < 0`` surely. Mutant: one diagonal entry's ``(1 − δ)``-quantile as the
  norm bound.
* ``VC.escape-saddle``: on ``f = −(λ/2)θ²`` torch SGD needs exactly
  ``⌈log(R/|θ₀|)/log(1 + ηλ)⌉`` steps, torch Adam/RMSprop (``ε = 0``) stay inside λ-free
  brackets. Mutant: GD escapes like the sign step; Adam/RMSprop escape like GD.
* ``VC.escape-depth``: SGD's median escape time from a depth-L chain's plateau grows like
  ``e^{−κ₁ L}/L²`` (OLS slope t test of ``log median T`` minus the theory's shape), Adam's
  stays flat (slope band ±0.1). Mutant: SGD flat in depth.
* ``VC.residual``: ``median ∏(1 + w_l/√L) → e^{−1/2}`` (exact finite-L medians for uniform
  and Gaussian weights, ``theory.chains.residual_chain_median``; exact binomial test). Mutant:
  the mean-based median 1.
* ``VC.normalization``: with LayerNorm the law of ``‖x_L‖²/n`` does not depend on depth
  (slope 0 of ``log‖x_L‖²/n`` against L). Mutant: the plain ReLU nets' per-layer log decay.

The Monte Carlo side uses :mod:`montecarlo.vc2_experiments` and
:func:`montecarlo.training.escape_times`; it never evaluates a theory formula.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from montecarlo.networks import chains
from montecarlo.training import censored_median, escape_times
from montecarlo.vc2_experiments import (
    chain_hessian_samples,
    normalized_sq_norms,
    residual_chain_outputs,
    saddle_escape_steps,
)
from theory.chains import NeuralChain, residual_chain_median
from theory.escape import (
    adam_escape_bounds,
    chain_escape_log_median,
    chain_escape_log_slope,
    gd_escape_steps,
    rmsprop_escape_bounds,
    sign_escape_steps,
)
from theory.hessian import norm_bound, trace_bound
from theory.wide import layer_log_moments
from validation import stats
from validation.claims import Claim, by_budget, register

__all__ = ["VC2_IDS"]

_SOURCE = "VC (Orvieto et al. 2022, arXiv 2106.03763), Sec. 3"

#: depths at which ``E tr H`` is tested with a t test (skewness of tr H grows like 2.9^{L-1}).
MEAN_TEST_MAX_DEPTH = 4


def _describe(pred: Any) -> Any:
    """JSON summary of a prediction dict (numbers and lists only)."""
    if isinstance(pred, dict):
        out = {}
        for k, v in pred.items():
            if isinstance(v, np.ndarray):
                out[k] = v.tolist()
            elif isinstance(v, (int, float, str, bool, list, tuple)) or v is None:
                out[k] = v
        return out
    return repr(pred)[:200]


def _bonferroni(outcomes: list[stats.TestOutcome], alpha: float, **details: Any
                ) -> stats.TestOutcome:
    """Combine sub-tests of one grid point: ``p = min(1, k min p_i)`` (Bonferroni)."""
    ps = [o.p_value for o in outcomes]
    i = int(np.argmin(ps))
    p = min(1.0, len(ps) * ps[i])
    sub = [dict(o.to_dict(), name=details.get("names", [None] * len(ps))[j])
           for j, o in enumerate(outcomes)]
    details.pop("names", None)
    return stats.TestOutcome(outcomes[i].statistic, p, p <= alpha,
                             int(sum(o.n for o in outcomes)), {"subtests": sub, **details})


# ============================================================================ VC.hessian-moments
def predict_hessian_moments(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact moments at ``x = y = 1`` and the median bound of ``tr H`` [derived; theory.hessian].

    ``E tr H = Lσ^{2(L−1)}``, ``E‖∇ℓ‖² = L(3^{L−1}σ^{4L−2} + σ^{2L−2})``,
    ``E H_ij² = 4·3^{L−2}σ^{4L−4} + σ^{2L−4}``; ``B_tr(½) = L q_{H_11}(1 − 1/(2L))`` with
    ``P(tr H > B_tr(½)) ≤ ½`` (so ``median tr H ≤ B_tr(½)``).
    """
    L = int(params["depth"])
    c = NeuralChain(L, sigma=float(params["sigma"]), x=1.0, y=1.0)
    m = c.hessian_moments().values()
    return {
        "E_trace": m["E_trace"], "E_grad_norm_sq": m["E_grad_norm_sq"],
        "E_H_ij_sq": m["E_H_ij_sq"], "trace_median_bound": float(trace_bound(c, 0.5)),
        "mean_testable": L <= MEAN_TEST_MAX_DEPTH,
    }


def mutant_hessian_moments(params: dict[str, Any]) -> dict[str, Any]:
    r"""Fourth moments in place of second ones: ``E tr H = L 3^{L−1}σ^{4(L−1)}`` (the ``3^L``
    growth of ``E H_ij²`` applied to the trace); median bound = median of one diagonal entry
    ``H_11`` (no union over the ``L`` diagonal entries)."""
    L = int(params["depth"])
    s = float(params["sigma"])
    c0 = NeuralChain(L, sigma=s, x=1.0, y=0.0)
    return {
        "E_trace": L * 3.0 ** (L - 1) * s ** (4 * (L - 1)),
        "trace_median_bound": float(c0.hessian_entry_law(1, 1).abs().median()),
        "mean_testable": L <= MEAN_TEST_MAX_DEPTH,
    }


def simulate_hessian_moments(params: dict[str, Any], seed: int, device: str, budget: str
                             ) -> dict[str, np.ndarray]:
    """``tr H`` and ``‖∇ℓ‖`` of dense Hessians of real torch chains at ``x = y = 1``."""
    L = int(params["depth"])
    if L <= MEAN_TEST_MAX_DEPTH:
        n = int(by_budget(budget, quick=20_000, standard=100_000, full=400_000))
    else:
        n = int(by_budget(budget, quick=2_000, standard=10_000, full=40_000))
    r = chain_hessian_samples(n, L, sigma=float(params["sigma"]), x=1.0, y=1.0, seed=seed,
                              device=device)
    return {"trace": r.trace, "grad_norm": r.grad_norm}


def check_hessian_moments(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                         ) -> stats.TestOutcome:
    """Student t test of ``E tr H`` (small depths only: there ``E (tr H)³ < ∞`` and the sample
    skewness is small at these n) and the one-sided binomial test of the median bound."""
    tr = np.asarray(m["trace"])
    outs = [stats.bound_violation_test(int(np.sum(tr > prediction["trace_median_bound"])),
                                       tr.size, 0.5, alpha)]
    names = ["median bound"]
    if prediction["mean_testable"]:
        outs.append(stats.mean_test(tr, float(prediction["E_trace"]), alpha))
        names.append("E tr H")
    return _bonferroni(outs, alpha, names=names, median_trace=float(np.median(tr)),
                       mean_trace=float(np.mean(tr)))


def plot_hessian_moments(fig: Any, records: list[Any]) -> None:
    """Exact means against depth (log scale) with the measured median of ``tr H`` and
    ``‖∇ℓ‖²`` and the median bound: the means grow (or stay at L), the medians vanish."""
    recs = sorted(records, key=lambda r: r.params["depth"])
    d = np.array([r.params["depth"] for r in recs], dtype=float)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(d, [r.prediction["E_trace"] for r in recs], "s-", color="C0",
            label=r"exact $E\,\mathrm{tr}H = L\sigma^{2(L-1)}$")
    ax.plot(d, [r.prediction["E_grad_norm_sq"] for r in recs], "^-", color="C1",
            label=r"exact $E\|\nabla\ell\|^2 \sim 3^L$")
    ax.plot(d, [r.prediction["E_H_ij_sq"] for r in recs], "v-", color="C2",
            label=r"exact $E H_{ij}^2 \sim 3^L$")
    ax.plot(d, [r.prediction["trace_median_bound"] for r in recs], "--", color="C0",
            label=r"bound $B_{tr}(1/2) \geq$ median tr H")
    ax.plot(d, [float(np.median(r.measurement["trace"])) for r in recs], "o", color="C3",
            label="measured median tr H")
    ax.plot(d, [float(np.median(r.measurement["grad_norm"]) ** 2) for r in recs], "x",
            color="C3", label=r"measured median $\|\nabla\ell\|^2$")
    for r in recs:
        if r.prediction["mean_testable"]:
            o = r.outcome.details["subtests"][-1]["details"] if r.outcome else None
            if o:
                ax.errorbar(r.params["depth"], o["mean"], yerr=[[o["mean"] - o["ci"][0]],
                            [o["ci"][1] - o["mean"]]], fmt="D", color="k", ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("value (x = y = 1)")
    ax.set_title("means (exact) vs medians (measured); black: sample mean of tr H, 99% CI",
                 fontsize=8)
    ax.legend(fontsize=6, loc="best")


# ========================================================================= VC.hessian-vanishing
def _chain(params: dict[str, Any], y: float | None = None) -> NeuralChain:
    return NeuralChain(int(params["depth"]), sigma=float(params["sigma"]), x=1.0,
                       y=float(params["y"]) if y is None else y)


def predict_hessian_vanishing(params: dict[str, Any]) -> dict[str, Any]:
    r"""``B(δ)`` with ``P(‖H‖₂ > B(δ)) ≤ δ`` (``theory.hessian.norm_bound``) and, at ``y = 0``,
    ``P(λ_min < 0) = 1`` for ``L ≥ 2`` (``H = x²P²(2vvᵀ − diag v²)``: one positive and
    ``L − 1`` negative eigenvalues a.s.) [derived; theory.hessian]."""
    c = _chain(params)
    delta = float(params["delta"])
    return {
        "bound": float(norm_bound(c, delta, "spectral")),
        "median_bound": float(norm_bound(c, 0.5, "spectral")),
        "delta": delta,
        "saddle_sure": float(params["y"]) == 0.0 and c.depth >= 2,
    }


def mutant_hessian_vanishing(params: dict[str, Any]) -> dict[str, Any]:
    r"""One diagonal entry's ``(1 − δ)``-quantile ``q_{H_11}(1 − δ)`` as the norm bound (no
    union, no factor 2: ‖H‖₂ treated as a single entry)."""
    delta = float(params["delta"])
    law = _chain(params, y=0.0).hessian_entry_law(1, 1).abs()
    return {"bound": float(law.quantile(1.0 - delta)), "delta": delta,
            "saddle_sure": float(params["y"]) == 0.0 and int(params["depth"]) >= 2}


def simulate_hessian_vanishing(params: dict[str, Any], seed: int, device: str, budget: str
                               ) -> dict[str, np.ndarray]:
    """Spectral norms, ``λ_min`` and inertia of dense Hessians of real torch chains."""
    n = int(by_budget(budget, quick=2_000, standard=10_000, full=50_000))
    r = chain_hessian_samples(n, int(params["depth"]), sigma=float(params["sigma"]), x=1.0,
                              y=float(params["y"]), seed=seed, device=device)
    ev = r.eigenvalues
    return {"norm": np.abs(ev).max(axis=1), "lam_min": ev[:, 0], "lam_max": ev[:, -1],
            "negatives": (ev < 0).sum(axis=1)}


def check_hessian_vanishing(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                           ) -> stats.TestOutcome:
    """Clopper–Pearson/exact binomial test of ``P(‖H‖₂ > B(δ)) ≤ δ``; at ``y = 0`` also
    ``λ_min < 0`` surely (``δ = 0``: any ``λ_min ≥ 0`` rejects)."""
    norm = np.asarray(m["norm"])
    outs = [stats.bound_violation_test(int(np.sum(norm > prediction["bound"])), norm.size,
                                       float(prediction["delta"]), alpha)]
    names = ["norm bound"]
    if prediction["saddle_sure"]:
        lm = np.asarray(m["lam_min"])
        outs.append(stats.bound_violation_test(int(np.sum(lm >= 0.0)), lm.size, 0.0, alpha))
        names.append("lambda_min < 0")
    return _bonferroni(outs, alpha, names=names, median_norm=float(np.median(norm)))


def plot_hessian_vanishing(fig: Any, records: list[Any]) -> None:
    """Left: median ``‖H‖₂`` against depth with the bounds ``B(½)``, ``B(δ)`` (log scale).
    Right: histogram of ``λ_min / ‖H‖₂`` (the saddle: mass below 0)."""
    ax1, ax2 = fig.subplots(1, 2)
    for j, yv in enumerate(sorted({float(r.params["y"]) for r in records})):
        recs = sorted((r for r in records if float(r.params["y"]) == yv),
                      key=lambda r: r.params["depth"])
        d = np.array([r.params["depth"] for r in recs], dtype=float)
        ax1.plot(d, [float(np.median(r.measurement["norm"])) for r in recs], "o", color=f"C{j}",
                 label=f"median ||H||, y={yv:g}")
        ax1.plot(d, [r.prediction["median_bound"] for r in recs], "--", color=f"C{j}",
                 label=f"B(1/2), y={yv:g}")
        ax1.plot(d, [r.prediction["bound"] for r in recs], ":", color=f"C{j}",
                 label=f"B(delta={recs[0].prediction['delta']:g})")
        ratio = np.concatenate([r.measurement["lam_min"] / np.maximum(r.measurement["norm"],
                                                                       1e-300) for r in recs])
        ax2.hist(ratio, bins=60, range=(-1, 1), alpha=0.5, color=f"C{j}", density=True,
                 label=f"y={yv:g}: P(lam_min<0)={np.mean(ratio < 0):.3f}")
    ax1.set_yscale("log")
    ax1.set_xlabel("depth L")
    ax1.set_ylabel("spectral norm of H")
    ax1.legend(fontsize=6, loc="best")
    ax2.axvline(0.0, color="k", lw=1)
    ax2.set_xlabel(r"$\lambda_{min}/\|H\|_2$ (all depths)")
    ax2.legend(fontsize=6, loc="best")


# ============================================================================ VC.escape-saddle
def _lams(params: dict[str, Any]) -> np.ndarray:
    return np.logspace(math.log10(float(params["lam_min"])), math.log10(float(params["lam_max"])),
                       int(params["points"]))


def _opt_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["optimizer"])
    if name == "adam":
        return {"betas": (float(params["beta1"]), float(params["beta2"])),
                "eps": float(params["eps"])}
    if name == "rmsprop":
        return {"alpha": float(params["beta2"]), "eps": float(params["eps"])}
    return {}


def predict_escape_saddle(params: dict[str, Any]) -> dict[str, Any]:
    r"""GD: exact ``⌈log(R/|θ₀|)/log(1 + ηλ)⌉``; Adam/RMSprop (``ε = 0``): λ-free brackets
    (``theory.escape``) [derived]."""
    lams = _lams(params)
    eta, th0, rad = float(params["lr"]), float(params["theta0"]), float(params["radius"])
    name = str(params["optimizer"])
    if name == "sgd":
        t = np.asarray(gd_escape_steps(lams, eta, th0, rad), dtype=float)
        return {"lams": lams, "lower": t, "upper": t, "exact": True}
    if name == "adam":
        lo, hi = adam_escape_bounds(eta, th0, rad, float(params["beta1"]), float(params["beta2"]))
    else:
        lo, hi = rmsprop_escape_bounds(eta, th0, rad, float(params["beta2"]))
    return {"lams": lams, "lower": np.full(lams.size, float(lo)),
            "upper": np.full(lams.size, float(hi)), "exact": False}


def mutant_escape_saddle(params: dict[str, Any]) -> dict[str, Any]:
    """GD escapes like the sign step (λ-free ``⌈(R − |θ₀|)/η⌉``); Adam/RMSprop escape like GD
    (``∝ 1/λ``)."""
    lams = _lams(params)
    eta, th0, rad = float(params["lr"]), float(params["theta0"]), float(params["radius"])
    if str(params["optimizer"]) == "sgd":
        t = np.full(lams.size, float(sign_escape_steps(eta, th0, rad)))
    else:
        t = np.asarray(gd_escape_steps(lams, eta, th0, rad), dtype=float)
    return {"lams": lams, "lower": t, "upper": t, "exact": True}


def simulate_escape_saddle(params: dict[str, Any], seed: int, device: str, budget: str
                           ) -> dict[str, np.ndarray]:
    """Escape steps of a torch optimizer on one-parameter models ``−(λ/2)θ²`` (deterministic)."""
    steps, cens = saddle_escape_steps(
        _lams(params), str(params["optimizer"]), float(params["lr"]), float(params["theta0"]),
        float(params["radius"]), int(params["max_steps"]), device=device, **_opt_kwargs(params))
    return {"steps": steps, "censored": cens}


def check_escape_saddle(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                       ) -> stats.TestOutcome:
    """Deterministic: every count inside ``[lower, upper]`` (for GD ``lower = upper``, i.e.
    exact equality of integer counts) and none censored; p = 1 if so, else 0
    (``bound_violation_test`` with ``δ = 0``). The log-log slope is reported."""
    s = np.asarray(m["steps"])
    bad = (s < prediction["lower"]) | (s > prediction["upper"]) | np.asarray(m["censored"])
    out = stats.bound_violation_test(int(bad.sum()), s.size, 0.0, alpha)
    slope = float(np.polyfit(np.log(prediction["lams"]), np.log(s), 1)[0])
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, loglog_slope=slope, steps=s.tolist()))


def plot_escape_saddle(fig: Any, records: list[Any]) -> None:
    """Escape steps against λ (log-log): GD on its exact staircase (slope −1), Adam/RMSprop
    flat inside their λ-free brackets."""
    ax = fig.add_subplot(1, 1, 1)
    for j, r in enumerate(records):
        p, s = r.prediction, np.asarray(r.measurement["steps"])
        name = str(r.params["optimizer"])
        slope = float(np.polyfit(np.log(p["lams"]), np.log(s), 1)[0])
        ax.plot(p["lams"], s, "o", color=f"C{j}", label=f"{name} (torch), slope {slope:.2f}")
        if p["exact"]:
            ax.plot(p["lams"], p["upper"], "-", color=f"C{j}", label=f"{name}: exact count")
        else:
            ax.fill_between(p["lams"], p["lower"], p["upper"], color=f"C{j}", alpha=0.15,
                            label=f"{name}: lambda-free bracket")
        cens = np.asarray(r.measurement["censored"], dtype=bool)
        if cens.any():
            ax.plot(p["lams"][cens], s[cens], "^", color="k", label="censored")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"curvature $\lambda$ of $f = -\lambda\theta^2/2$")
    ax.set_ylabel("steps to reach |theta| >= R")
    ax.legend(fontsize=6, loc="best")


# ============================================================================= VC.escape-depth
def _depths(params: dict[str, Any]) -> list[int]:
    return list(range(int(params["depth_min"]), int(params["depth_max"]) + 1,
                      int(params["depth_step"])))


def predict_escape_depth(params: dict[str, Any]) -> dict[str, Any]:
    r"""``log median T_SGD = −κ₁ L − 2 log L + const + o(1)``; Adam flat.

    From ``theory.escape.chain_escape_log_median`` [derived there]: GD's escape time is
    ``∝ 1/|λ_min|`` and ``|λ_min| = |P|/(|w|₍₁₎|w|₍₂₎) e^R`` (the two smallest of L iid
    ``|w|`` are ``O(1/L)``), so ``log median T = −κ₁L − 2ψ(L+1) + const``
    (``≈ −κ₁L − 2 log L + const``); only differences between depths are predicted (the
    constant depends on the dynamics). Tested: the slope of ``log median T − shape(L)``
    against L is 0, ``shape(L)`` =
    ``chain_escape_log_median(L, σ, lr=sgd_lr)``; Adam's ``log median T`` has slope in
    ``±adam_margin``. Also reported: ``sgd_slope = −κ₁`` (``chain_escape_log_slope``), the
    slope of ``log median T + 2 log L``.
    """
    m = float(params["adam_margin"])
    sigma = float(params["sigma"])
    shape = [chain_escape_log_median(L, sigma, "normal", lr=float(params["sgd_lr"]))
             for L in _depths(params)]
    return {"sgd_shape": shape, "sgd_slope": float(chain_escape_log_slope(sigma)),
            "log_depth_coefficient": 2.0, "adam_band": [-m, m]}


def mutant_escape_depth(params: dict[str, Any]) -> dict[str, Any]:
    """SGD's escape time flat in depth (slope 0, no correction), as the mean ``E P² = σ^{2L}
    = 1`` suggests."""
    m = float(params["adam_margin"])
    return {"sgd_shape": [0.0] * len(_depths(params)), "sgd_slope": 0.0,
            "log_depth_coefficient": 0.0, "adam_band": [-m, m]}


def _caps(params: dict[str, Any]) -> list[int]:
    caps = [int(v) for v in str(params["sgd_caps"]).split(",")]
    if len(caps) != len(_depths(params)):
        raise ValueError(f"sgd_caps must have one cap per depth {_depths(params)}, got {caps}")
    return caps


def simulate_escape_depth(params: dict[str, Any], seed: int, device: str, budget: str
                          ) -> dict[str, Any]:
    """Escape times (first step with loss below ``threshold``, censored at a per-depth cap) of
    real torch chains trained on ``(x, y) = (1, 1)`` with ``½(f − y)²`` by SGD and by Adam
    (torch defaults, ε = 1e-8: the gradients here are ≫ ε)."""
    n = int(by_budget(budget, quick=1001, standard=4001, full=20001))
    x = torch.ones(1, 1, dtype=torch.float64, device=device)
    y = torch.ones(1, 1, dtype=torch.float64, device=device)
    depths = _depths(params)
    scale = int(by_budget(budget, quick=1, standard=2, full=4))
    caps = {"sgd": [scale * c for c in _caps(params)],
            "adam": [scale * int(params["adam_cap"])] * len(depths)}
    out: dict[str, Any] = {"depths": depths}
    for opt in ("sgd", "adam"):
        times, cens = [], []
        for k, L in enumerate(depths):
            nets = chains(count=n, depth=L, sigma=float(params["sigma"]), dtype=torch.float64,
                          device=device, seed=int(seed) + 7919 * k)
            r = escape_times(nets, (x, y), opt, lr=float(params[f"{opt}_lr"]),
                             threshold=float(params["threshold"]), max_steps=caps[opt][k],
                             loss="half_mse")
            times.append(r.times.numpy().astype(float))
            cens.append(r.censored.numpy())
        out[opt] = {"times": times, "censored": cens, "caps": caps[opt]}
    return out


def _log_medians(block: dict[str, Any]) -> np.ndarray:
    """Censoring-aware log medians; an unidentified median (> half censored) is replaced by
    the cap (a lower bound)."""
    vals = []
    for t, c, cap in zip(block["times"], block["censored"], block["caps"], strict=True):
        med, _ = censored_median(torch.as_tensor(t), torch.as_tensor(c), int(cap))
        vals.append(math.log(max(med if med is not None else float(cap), 1.0)))
    return np.array(vals)


def check_escape_depth(prediction: dict[str, Any], m: dict[str, Any], alpha: float
                      ) -> stats.TestOutcome:
    """OLS slope t tests (``n_depths − 2`` df) against depth: ``log median T_SGD − shape(L)``
    (``shape = sgd_shape``, the theory's L-dependence) against slope 0; Adam's
    ``log median T`` in ``adam_band``; Bonferroni over the two."""
    d = np.asarray(m["depths"], dtype=float)
    ys = _log_medians(m["sgd"]) - np.asarray(prediction["sgd_shape"], dtype=float)
    sgd = stats.trend_test(d, ys, 0.0, alpha)
    lo, hi = (float(v) for v in prediction["adam_band"])
    adam = stats.band_slope_test(d, _log_medians(m["adam"]), lo, hi, alpha)
    return _bonferroni([sgd, adam], alpha, names=["sgd slope", "adam slope"])


def plot_escape_depth(fig: Any, records: list[Any]) -> None:
    """Median escape step against depth (log scale) for SGD and Adam, censoring marked, with
    the predicted SGD curve ``exp(−κ₁L − 2 log L + c)`` (c fitted) and the leading-order
    ``exp(−κ₁L + c)``."""
    ax = fig.add_subplot(1, 1, 1)
    r = records[0]
    d = np.asarray(r.measurement["depths"], dtype=float)
    for j, opt in enumerate(("sgd", "adam")):
        block = r.measurement[opt]
        lm = _log_medians(block)
        fr = [float(np.mean(c)) for c in block["censored"]]
        b, _ = np.polyfit(d, lm, 1)
        ax.plot(d, np.exp(lm), "o", color=f"C{j}", ms=5,
                label=f"{opt}: measured median (raw slope {b:.2f}/layer)")
        for dd, v, f in zip(d, lm, fr, strict=True):
            ax.annotate(f"{100 * f:.0f}% cens.", (dd, math.exp(v)), fontsize=6,
                        xytext=(3, -9), textcoords="offset points")
    lm = _log_medians(r.measurement["sgd"])
    k1 = float(r.prediction["sgd_slope"])
    curve = np.asarray(r.prediction["sgd_shape"], dtype=float)
    ax.plot(d, np.exp(curve + np.mean(lm - curve)), "-", color="C0",
            label=f"predicted: -k1 L - 2 log L + c (-k1 = {k1:.3f}; theory.escape)")
    lead = k1 * d
    ax.plot(d, np.exp(lead + np.mean(lm - lead)), ":", color="C0", label="leading order -k1 L")
    ax.axhline(float(np.exp(np.mean(_log_medians(r.measurement["adam"])))), color="C1", ls="--",
               lw=1, label="Adam: flat")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("median escape step (censoring-aware)")
    ax.legend(fontsize=6, loc="best")


# ================================================================================ VC.residual
def predict_residual(params: dict[str, Any]) -> dict[str, Any]:
    r"""``median |∏(1 + αw_l)|``, ``α = 1/√L``, unit-variance weights (uniform ``U(±√3)`` or
    ``N(0, 1)``): exact, ``theory.chains.residual_chain_median`` (Gil-Pelaez on the
    characteristic function of ``log|1 + αw|``) [derived]; also reported, the expansion
    ``log median = −½ − 1/(4L) + O(L⁻²)`` (same for both laws) and the limit ``e^{−1/2}``.
    """
    L = int(params["depth"])
    law = "uniform" if params["weights"] == "uniform" else "normal"
    med = float(residual_chain_median(L, None, 1.0, law))
    return {"lo": med, "hi": med, "limit": math.exp(-0.5), "exact": True,
            "expansion": float(residual_chain_median(L, None, 1.0, law, method="expansion"))}


def mutant_residual(params: dict[str, Any]) -> dict[str, Any]:
    """The mean-based median: ``E ∏(1 + αw_l) = 1``."""
    return {"lo": 1.0, "hi": 1.0, "limit": 1.0, "exact": True}


def simulate_residual(params: dict[str, Any], seed: int, device: str, budget: str
                      ) -> np.ndarray:
    """``|f(1)|`` of real torch residual chains with ``α = 1/√L``."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    L = int(params["depth"])
    kw = {"bound": math.sqrt(3.0)} if params["weights"] == "uniform" else {"sigma": 1.0}
    return np.abs(residual_chain_outputs(n, L, 1.0 / math.sqrt(L), seed=seed, device=device,
                                         **kw))


def check_residual(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                  ) -> stats.TestOutcome:
    """Exact binomial test of the median (``lo = hi``) or of the band ``lo ≤ median ≤ hi``
    (two one-sided binomial tests, Bonferroni)."""
    x = np.asarray(samples)
    if prediction["lo"] == prediction["hi"]:
        return stats.quantile_test(x, float(prediction["lo"]), 0.5, alpha)
    n = x.size
    lo = stats.binomial_test(int(np.sum(x <= prediction["lo"])), n, 0.5, alpha, "greater")
    hi = stats.binomial_test(int(np.sum(x <= prediction["hi"])), n, 0.5, alpha, "less")
    return _bonferroni([lo, hi], alpha, names=["median >= lo", "median <= hi"])


def plot_residual(fig: Any, records: list[Any]) -> None:
    """Medians of residual chains against depth with 99% order-statistic CIs, the exact
    (uniform) medians, the Gaussian band and the limit ``e^{−1/2}``; the plain chain's median
    ``≈ 0.53^L`` for contrast."""
    ax = fig.add_subplot(1, 1, 1)
    from scipy import stats as sps

    for j, w in enumerate(sorted({str(r.params["weights"]) for r in records})):
        recs = sorted((r for r in records if r.params["weights"] == w),
                      key=lambda r: r.params["depth"])
        d = np.array([r.params["depth"] for r in recs], dtype=float)
        meas, ci = [], []
        for r in recs:
            s = np.sort(np.asarray(r.measurement))
            n = s.size
            lo = int(sps.binom.ppf(0.005, n, 0.5))
            hi = int(sps.binom.isf(0.005, n, 0.5))
            meas.append(float(np.median(s)))
            ci.append((s[max(lo - 1, 0)], s[min(hi, n - 1)]))
        ci_a = np.array(ci)
        ax.errorbar(d * (1.03 if j else 1.0), meas, yerr=[np.array(meas) - ci_a[:, 0],
                    ci_a[:, 1] - np.array(meas)], fmt="o", color=f"C{j}", ms=4,
                    label=f"measured median, {w} weights (99% CI)")
        ax.plot(d, [r.prediction["lo"] for r in recs], "s", color=f"C{j}", ms=10,
                mfc="none", label=f"exact median ({w} weights)")
        if "expansion" in recs[0].prediction:
            ax.plot(d, [r.prediction["expansion"] for r in recs], ":", color=f"C{j}",
                    label=r"expansion $e^{-1/2-1/(4L)}$" if j == 0 else None)
    dd = np.array(sorted({r.params["depth"] for r in records}), dtype=float)
    ax.axhline(math.exp(-0.5), color="k", lw=1, label=r"limit $e^{-1/2}$")
    ax.set_xscale("log")
    ax.set_ylim(0.55, 0.66)
    ax.set_xlabel("depth L (alpha = 1/sqrt(L))")
    ax.set_ylabel(r"median $\prod(1+\alpha w_l)$")
    ax.set_title(f"mutant (mean-based median 1) off the chart; plain chain median at "
                 f"L={int(dd[-1])}: ~{0.53 ** dd[-1]:.1e}", fontsize=8)
    ax.legend(fontsize=6, loc="best")


# =========================================================================== VC.normalization
def _norm_depths(params: dict[str, Any]) -> list[int]:
    return [int(v) for v in str(params["depths"]).split(",")]


def predict_normalization(params: dict[str, Any]) -> dict[str, Any]:
    r"""LayerNorm (no bias, ``γ = 1, β = 0``): slope 0 of ``log(‖x_L‖²/n)`` against L.

    [derived] Given ``x_{l−1} ≠ 0``, ``h_l = W_l x_{l−1} ~ N(0, c‖x_{l−1}‖²/n I)`` is an
    isotropic Gaussian whose scale is removed by the standardization, so
    ``x_l = relu(std(h_l))`` has the law of ``relu(std(g))``, ``g ~ N(0, I_n)``, for every
    ``l`` (exact up to LayerNorm's ``ε = 1e-5`` relative to the variance); ``x_l ≠ 0`` surely.
    Also returned: the plain He/ReLU per-layer ``E log`` factor ``m_n`` (theory.wide).
    """
    n = int(params["width"])
    _, m, _ = layer_log_moments(n, n, "relu", "he_normal")
    return {"slope": 0.0, "plain_slope": float(m)}


def mutant_normalization(params: dict[str, Any]) -> dict[str, Any]:
    """Normalized nets decay like plain ones: slope ``m_n = E log`` of one plain ReLU layer."""
    n = int(params["width"])
    _, m, _ = layer_log_moments(n, n, "relu", "he_normal")
    return {"slope": float(m), "plain_slope": float(m)}


def simulate_normalization(params: dict[str, Any], seed: int, device: str, budget: str
                           ) -> dict[str, Any]:
    """Per depth: ``log(‖x_L‖²/n)`` of real torch ReLU MLPs with LayerNorm (always > 0) and
    ``‖x_L‖²/n`` of plain ones (for the figure; a dead plain net gives 0)."""
    n = int(by_budget(budget, quick=600, standard=3_000, full=20_000))
    out: dict[str, Any] = {"depths": _norm_depths(params), "layer": [], "plain": []}
    w = int(params["width"])
    for k, L in enumerate(out["depths"]):
        out["layer"].append(np.log(normalized_sq_norms(n, w, L, "layer", seed=seed + 2 * k,
                                                       device=device)))
        out["plain"].append(normalized_sq_norms(max(n // 3, 10), w, L, None,
                                                seed=seed + 2 * k + 1, device=device))
    return out


def check_normalization(prediction: dict[str, Any], m: dict[str, Any], alpha: float
                       ) -> stats.TestOutcome:
    """OLS t test of the slope of per-network ``log(‖x_L‖²/n)`` (LayerNorm) against L (pooled
    over depths; independent networks, identical spread under the null)."""
    xs = np.concatenate([np.full(v.size, L, dtype=float)
                         for L, v in zip(m["depths"], m["layer"], strict=True)])
    ys = np.concatenate(m["layer"])
    return stats.trend_test(xs, ys, float(prediction["slope"]), alpha)


def plot_normalization(fig: Any, records: list[Any]) -> None:
    """Median ``‖x_L‖²/n`` against depth (log scale) with 99% CIs: LayerNorm flat, plain ReLU
    decaying at the exact per-layer log rate ``m_n``."""
    from scipy import stats as sps

    ax = fig.add_subplot(1, 1, 1)
    r = records[0]
    d = np.asarray(r.measurement["depths"], dtype=float)
    for j, key in enumerate(("layer", "plain")):
        meds, cis = [], []
        for v in r.measurement[key]:
            s = np.sort(np.exp(v) if key == "layer" else np.asarray(v))
            n = s.size
            lo = int(sps.binom.ppf(0.005, n, 0.5))
            hi = int(sps.binom.isf(0.005, n, 0.5))
            meds.append(float(np.median(s)))
            cis.append((s[max(lo - 1, 0)], s[min(hi, n - 1)]))
        c = np.array(cis)
        ax.errorbar(d, meds, yerr=[np.array(meds) - c[:, 0], c[:, 1] - np.array(meds)],
                    fmt="o", color=f"C{j}", ms=4,
                    label="LayerNorm (measured median)" if key == "layer" else
                    "no normalization (measured median)")
        if key == "layer":
            ax.axhline(meds[0], color="C0", lw=1, ls="--", label="predicted: flat (slope 0)")
        else:
            ax.plot(d, meds[0] * np.exp(r.prediction["plain_slope"] * (d - d[0])), ":",
                    color="C1", label=f"plain log-rate m_n = {r.prediction['plain_slope']:.3f}"
                    " (also the mutant)")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"median $\|x_L\|^2/n$ (ReLU, He, width "
                  f"{r.params['width']})")
    ax.legend(fontsize=6, loc="best")


# =============================================================================== registration
_COMMON: dict[str, Any] = {"family": "VC", "version": "1", "alpha": 0.01,
                           "describe_prediction": _describe}

register(Claim(
    id="VC.hessian-moments",
    title="Hessian moments grow (E tr H = L σ^{2(L-1)}, E H_ij² ~ 3^L) while medians vanish",
    source=f"{_SOURCE}; derived (THEORY.md §3)",
    statement=(
        "At x = y = 1 with N(0, σ²) weights: E‖∇ℓ‖² = L(3^{L−1}σ^{4L−2} + σ^{2L−2}), "
        "E tr H = Lσ^{2(L−1)}, E H_ij² = 4·3^{L−2}σ^{4L−4} + σ^{2L−4}; the means stay at L or "
        "grow like 3^L while median tr H ≤ B_tr(½) = L q_{H_11}(1 − 1/(2L)) vanishes "
        "exponentially. Tested: E tr H (t test, L ≤ 4) and P(tr H > B_tr(½)) ≤ ½ on dense "
        "Hessians of torch chains."),
    latex=(r"\mathbb{E}\,\mathrm{tr}H=L\sigma^{2(L-1)},\quad "
           r"P\big(\mathrm{tr}H>L\,q_{H_{11}}(1-\tfrac{1}{2L})\big)\le\tfrac12"),
    kind="moment",
    grids={"quick": [{"depth": d, "sigma": 1.0} for d in (3, 4, 20)],
           "standard": [{"depth": d, "sigma": s} for d in (2, 3, 4, 10, 20, 30)
                        for s in (1.0, 0.8)],
           "full": [{"depth": d, "sigma": s} for d in (2, 3, 4, 6, 10, 20, 30, 40)
                    for s in (1.0, 0.8, 1.2)]},
    predict=predict_hessian_moments, simulate=simulate_hessian_moments,
    test=check_hessian_moments, mutant=mutant_hessian_moments, plot=plot_hessian_moments,
    mutant_description=("E tr H = L 3^{L-1} σ^{4(L-1)} (fourth moments); median bound = median "
                        "of one diagonal entry"), **_COMMON,
))

register(Claim(
    id="VC.hessian-vanishing",
    title="Hessian spectrum vanishes in median with depth, and the init is a saddle",
    source=f"{_SOURCE}; derived (theory.hessian)",
    statement=(
        "For a linear chain with N(0, σ²) weights, P(‖H‖₂ > B(δ)) ≤ δ with the union bounds "
        "B(δ) of theory.hessian.norm_bound, which decay exponentially in L (y = 0) — the "
        "spectrum vanishes with high probability; at y = 0, H = x²P²(2vvᵀ − diag v²) has "
        "exactly one positive eigenvalue, so λ_min < 0 surely (a flat saddle)."),
    latex=r"P(\|H\|_2>B(\delta))\le\delta,\qquad y=0:\ P(\lambda_{\min}<0)=1",
    kind="bound",
    grids={"quick": [{"depth": d, "y": y, "sigma": 1.0, "delta": 0.1}
                     for d in (5, 15, 30) for y in (0.0, 1.0)],
           "standard": [{"depth": d, "y": y, "sigma": 1.0, "delta": de}
                        for d in (3, 5, 10, 15, 20, 30) for y in (0.0, 1.0)
                        for de in (0.5, 0.1)],
           "full": [{"depth": d, "y": y, "sigma": s, "delta": de}
                    for d in (2, 3, 5, 10, 15, 20, 30, 40) for y in (0.0, 0.5, 1.0)
                    for s in (1.0, 0.8) for de in (0.5, 0.1, 0.01)]},
    predict=predict_hessian_vanishing, simulate=simulate_hessian_vanishing,
    test=check_hessian_vanishing, mutant=mutant_hessian_vanishing, plot=plot_hessian_vanishing,
    mutant_description="one diagonal entry's (1 - delta)-quantile as the norm bound",
    **_COMMON,
))

_SADDLE = {"lam_min": 0.01, "lam_max": 1.0, "points": 9, "theta0": 1e-3, "radius": 1.0,
           "beta1": 0.9, "beta2": 0.99, "eps": 0.0, "max_steps": 5000}
register(Claim(
    id="VC.escape-saddle",
    title="GD escape time from −(λ/2)θ² scales like 1/λ; Adam/RMSprop's do not depend on λ",
    source=f"{_SOURCE}; derived (theory.escape)",
    statement=(
        "On f(θ) = −(λ/2)θ², torch SGD with step η needs exactly ⌈log(R/|θ₀|)/log(1 + ηλ)⌉ "
        "steps from θ₀ to |θ| ≥ R (≈ log(R/|θ₀|)/(ηλ)); torch Adam and RMSprop with ε = 0 need "
        "a number inside λ-free brackets (⌈√(1−β₂)(R−|θ₀|)/η⌉, ⌈(R−|θ₀|)/(η(1−β₁))⌉ resp. "
        "⌈(R−|θ₀|)/η⌉). With torch's ε = 1e-8 and gradients ≪ ε Adam is GD with step η/ε "
        "instead (not tested here)."),
    latex=(r"T_{GD}=\left\lceil\frac{\log(R/|\theta_0|)}{\log(1+\eta\lambda)}\right\rceil,\quad "
           r"T_{Adam}\in\left[\lceil\sqrt{1-\beta_2}(R-|\theta_0|)/\eta\rceil,"
           r"\lceil(R-|\theta_0|)/(\eta(1-\beta_1))\rceil\right]"),
    kind="identity",
    grids={"quick": [{"optimizer": "sgd", "lr": 0.5, **_SADDLE},
                     {"optimizer": "adam", "lr": 0.01, **_SADDLE},
                     {"optimizer": "rmsprop", "lr": 0.01, **_SADDLE}],
           "standard": [{"optimizer": o, "lr": lr, **dict(_SADDLE, lam_min=lm, points=13,
                                                          max_steps=20_000)}
                        for o, lr, lm in (("sgd", 0.5, 1e-3), ("sgd", 0.05, 1e-2),
                                          ("adam", 0.01, 1e-3), ("rmsprop", 0.01, 1e-3))]},
    predict=predict_escape_saddle, simulate=simulate_escape_saddle, test=check_escape_saddle,
    mutant=mutant_escape_saddle, plot=plot_escape_saddle,
    mutant_description="GD escapes in the sign-step count; Adam/RMSprop in the GD count",
    **_COMMON,
))

_DEPTH = {"sigma": 1.0, "depth_min": 6, "depth_max": 14, "depth_step": 2, "threshold": 0.4,
          "sgd_lr": 0.2, "sgd_caps": "60,120,300,600,900", "adam_lr": 0.01, "adam_cap": 150,
          "adam_margin": 0.1}
register(Claim(
    id="VC.escape-depth",
    title="SGD's escape time from a chain's plateau grows exponentially with depth; Adam's not",
    source=f"{_SOURCE}; derived (theory.escape.chain_escape_log_median)",
    statement=(
        "Training a width-1 chain (N(0, σ²) weights, x = y = 1, ℓ = ½(f − y)²) until "
        "ℓ < 0.4, the median escape step of SGD grows like exp(−κ₁ L)/L², −κ₁ = −E log|w| "
        "(0.635 for σ = 1), the 1/L² from the two smallest |w_i| that set the plateau "
        "curvature |λ_min| ≈ max|P_{−ij}|·e^R (theory.escape.chain_escape_log_median); Adam's "
        "median stays flat (|slope| ≤ 0.1 per layer)."),
    latex=(r"\log\operatorname{med}T_{SGD}=-\kappa_1L-2\log L+c+o(1),\quad "
           r"\left|\frac{d\log\operatorname{med}T_{Adam}}{dL}\right|\le 0.1"),
    kind="trend",
    grids={"quick": [dict(_DEPTH)],
           "standard": [dict(_DEPTH, depth_max=16, sgd_caps="60,120,300,600,900,1800")]},
    predict=predict_escape_depth, simulate=simulate_escape_depth, test=check_escape_depth,
    mutant=mutant_escape_depth, plot=plot_escape_depth,
    mutant_description="SGD escape time flat in depth (slope 0)", **_COMMON,
))

register(Claim(
    id="VC.residual",
    title="Residual chains with α = 1/√L keep median ∏(1 + αw) → e^{-1/2} at every depth",
    source=f"{_SOURCE}; derived (THEORY.md §3, theory.chains.residual_chain_median)",
    statement=(
        "For x_{l+1} = (1 + αw_l)x_l with α = 1/√L and unit-variance weights, "
        "log ∏(1 + αw_l) ≈ N(−½, 1), so the median tends to e^{−1/2} independently of L. "
        "Tested: the exact finite-L median of |∏(1 + αw_l)| (theory.chains."
        "residual_chain_median: Gil-Pelaez on E|1 + αw|^{it}) for uniform U(±√3) and Gaussian "
        "N(0, 1) weights; log median = −½ − 1/(4L) + O(L⁻²) for both (derived)."),
    latex=r"\operatorname{med}\prod_{l=1}^L\left(1+\tfrac{w_l}{\sqrt L}\right)\to e^{-1/2}",
    kind="quantile",
    grids={"quick": [{"depth": d, "weights": w} for d, w in
                     ((16, "uniform"), (64, "uniform"), (256, "uniform"), (64, "normal"),
                      (256, "normal"))],
           "standard": [{"depth": d, "weights": w} for d in (8, 16, 64, 256, 1024)
                        for w in ("uniform", "normal")]},
    predict=predict_residual, simulate=simulate_residual, test=check_residual,
    mutant=mutant_residual, plot=plot_residual,
    mutant_description="mean-based median E prod(1 + alpha w) = 1", **_COMMON,
))

register(Claim(
    id="VC.normalization",
    title="LayerNorm keeps the forward signal's law (and median) independent of depth",
    source="VC (Orvieto et al. 2022), qualitative; exact depth invariance derived here",
    statement=(
        "In bias-free ReLU MLPs with LayerNorm on the pre-activations (γ = 1, β = 0) and "
        "Gaussian weights, x_l = relu(std(W_l x_{l−1})) has the same law at every depth (the "
        "isotropic Gaussian's scale is normalized away), so median ‖x_L‖²/n does not decay: "
        "the slope of log‖x_L‖²/n against L is 0, while plain ReLU nets decay at the exact "
        "per-layer log rate m_n ≈ −5/(2n)."),
    latex=r"\frac{d}{dL}\,\mathbb{E}\log\frac{\|x_L\|^2}{n}=0\ \ (\text{LayerNorm}),"
          r"\quad m_n\approx-\frac{5}{2n}\ \ (\text{plain})",
    kind="trend",
    grids={"quick": [{"width": 16, "depths": "1,4,8,16"}],
           "standard": [{"width": w, "depths": "1,2,4,8,16,32"} for w in (8, 16, 32)]},
    predict=predict_normalization, simulate=simulate_normalization, test=check_normalization,
    mutant=mutant_normalization, plot=plot_normalization,
    mutant_description="normalized nets decay like plain ones (slope m_n)", **_COMMON,
))

VC2_IDS: tuple[str, ...] = (
    "VC.hessian-moments", "VC.hessian-vanishing", "VC.escape-saddle", "VC.escape-depth",
    "VC.residual", "VC.normalization",
)
