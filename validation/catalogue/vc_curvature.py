r"""VC family, curvature: Hessian moments and norms, saddle escape, residual and normalization.

Source: Orvieto, Kohler, Pavllo, Hofmann, Lucchi, *Vanishing Curvature and the Power of Adaptive
Methods in Randomly Initialized Deep Networks* (arXiv 2106.03763; AISTATS 2022) -- "VC" -- and
docs/theory/vc-curvature.md (derivations; residual and LayerNorm: docs/theory/vc-signal.md).
Claims (ids):

* ``VC.hessian-moments``: ``E tr H = Lx²σ^{2(L−1)}`` (Student t test at depths where the
  skewness of ``tr H`` is small), ``E H_12²`` and ``E‖∇ℓ‖²`` (t tests, L ≤ 3), and
  ``P(tr H > B_tr(½)) ≤ ½``, ``P(‖∇ℓ‖ > B_g(½)) ≤ ½`` (one-sided exact binomial tests) on
  dense Hessians of real torch chains, at σ ≠ 1, x ≠ 1, y ∉ {0, 1}. Mutant: fourth
  moments in place of second ones (``L 3^{L−1}σ^{4(L−1)}``), ``E w⁴ = σ⁴``, and medians of
  one entry in place of the union bounds.
* ``VC.hessian-entries``: at ``y = 0`` the union bounds of flatstart.theory.hessian and
  ``NeuralChain.gradient_norm_bound`` are exact single-entry quantiles, so one entry exceeds
  ``bound/L`` (resp. ``/N``, ``/√L``) with probability exactly ``δ/L`` (``δ/N``);
  ``entry_tail_probability`` and the median of ``|g_1|`` are exact (two-sided binomial
  tests). Mutant: no union over entries.
* ``VC.hessian-vanishing``: ``P(‖H‖₂ > B(δ)) ≤ δ`` (Clopper–Pearson on the violation rate) and,
  at ``y = 0``, ``λ_min < 0`` surely. Mutant: one diagonal entry's ``(1 − δ)``-quantile as the
  norm bound.
* ``VC.escape-saddle``: on ``f = −(λ/2)θ²`` torch SGD needs exactly
  ``⌈log(R/|θ₀|)/log(1 + ηλ)⌉`` steps (also by direct iteration, and inside the small-step
  bracket of ``gd_escape_steps_asymptotic``), torch Adam/RMSprop (``ε = 0``) stay inside
  λ-free brackets and match the iterated recursions of ``flatstart.theory.escape`` to ±1 step (sign
  step for ``β₁ = β₂ = 0``). Mutant: GD escapes like the sign step; Adam/RMSprop like GD.
* ``VC.escape-depth``: SGD's median escape time from a depth-L chain's plateau grows like
  ``e^{−κ₁ L}/L²`` (OLS slope t tests of ``log median T`` minus the theory's shape, and of
  ``log median T + 2ψ(L+1)`` against ``chain_escape_log_slope``), Adam's stays flat (slope
  band ±0.1). Mutant: SGD flat in depth.
* ``VC.residual``: ``median ∏(1 + w_l/√L) → e^{−1/2}`` (exact finite-L medians for uniform
  and Gaussian weights, ``flatstart.theory.chains.residual_chain_median``, and the exact cdf
  ``residual_chain_log_cdf`` at two points, also for ``α = c/√L``, ``σ ≠ 1``; exact binomial
  tests). Mutant: the mean-based median 1.
* ``VC.pair-product``: ``median |P_{−ij}| = exp(−sgd_median_escape_growth(L))`` (exact for
  uniform weights, Cornish–Fisher with its next-term band for Gaussian ones). Mutant: the
  leading order ``exp(nE log|w|)``.
* ``VC.chain-hessian``: ``flatstart.theory.escape.chain_hessian`` (and its reference) equal torch's
  autograd Hessians of chains with the same weights, ``chain_plateau_curvature`` equals
  ``max(0, −λ_min)`` (identity to round-off). Mutant: Gauss–Newton ``x²uuᵀ``.
* ``VC.normalization``: with LayerNorm the law of ``‖x_L‖²/n`` does not depend on depth
  (slope 0 of ``log‖x_L‖²/n`` against L). Mutant: the plain ReLU nets' per-layer log decay.

The Monte Carlo side uses :mod:`flatstart.montecarlo.curvature`,
:mod:`flatstart.montecarlo.sampling` and :mod:`flatstart.montecarlo.training`; it never
evaluates a theory formula.

Its length: one family's claims, one section per claim (predict, simulate, test, mutant, plot
and registration side by side); adding a claim touches this module only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from flatstart.montecarlo.curvature import (
    chain_hessian_samples,
    dense_hessian,
    flat_function_batch,
)
from flatstart.montecarlo.networks import chains
from flatstart.montecarlo.sampling import normalized_sq_norms, residual_chain_outputs
from flatstart.montecarlo.training import censored_median, escape_times, saddle_escape_steps
from flatstart.theory.chains import NeuralChain, residual_chain_log_cdf, residual_chain_median
from flatstart.theory.escape import (
    adam_escape_bounds,
    adam_escape_steps_reference,
    chain_escape_log_median,
    chain_escape_log_slope,
    chain_hessian,
    chain_hessian_reference,
    chain_plateau_curvature,
    gd_escape_steps,
    gd_escape_steps_asymptotic,
    gd_escape_steps_reference,
    rmsprop_escape_bounds,
    rmsprop_escape_steps_reference,
    sgd_median_escape_growth,
    sign_escape_steps,
    sign_escape_steps_reference,
)
from flatstart.theory.hessian import (
    entry_tail_probability,
    hessian_moments,
    max_entry_bound,
    median_bounds,
    norm_bound,
    trace_bound,
)
from flatstart.theory.wide import layer_log_moments
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register

__all__ = ["VC2_IDS"]

_SOURCE = "VC (Orvieto et al. 2022, arXiv 2106.03763), Sec. 3"

#: depths at which ``E tr H`` is tested with a t test (skewness of tr H grows like 2.9^{L-1}).
MEAN_TEST_MAX_DEPTH = 4
#: depths at which ``E H_12²`` and ``E‖∇ℓ‖²`` are t-tested (their variances involve E w⁸).
SQUARE_TEST_MAX_DEPTH = 3


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
    """Combine sub-tests of one grid point with :func:`flatstart.validation.stats.bonferroni`
    (details: every sub-test, named by ``names``)."""
    ps = [o.p_value for o in outcomes]
    p, i = stats.bonferroni(ps)
    sub = [dict(o.to_dict(), name=details.get("names", [None] * len(ps))[j])
           for j, o in enumerate(outcomes)]
    details.pop("names", None)
    return stats.TestOutcome(outcomes[i].statistic, p, p <= alpha,
                             int(sum(o.n for o in outcomes)), {"subtests": sub, **details})


# ============================================================================ VC.hessian-moments
def _torch_chain_hessians(n: int, depth: int, sigma: float, x: float, y: float, seed: int,
                          device: str, weights: np.ndarray | None = None
                          ) -> dict[str, np.ndarray]:
    """Dense Hessians ``(n, L, L)``, loss gradients ``(n, L)``, output gradients
    ``∂f/∂w`` ``(n, L)`` and weights ``(n, L)`` of ``ℓ = ½(f(x) − y)²`` for real torch chains
    (:func:`flatstart.montecarlo.networks.chains`, float64; autograd double backward by
    :func:`flatstart.montecarlo.curvature.dense_hessian`). ``weights`` (optional, ``(n, L)``)
    overwrite the chains' sampled weights."""
    nets = chains(count=n, depth=depth, sigma=sigma, dtype=torch.float64, device=device,
                  seed=seed)
    if weights is not None:
        with torch.no_grad():
            for k, prm in enumerate(nets.parameters()):
                prm.copy_(torch.as_tensor(weights[:, k], dtype=torch.float64,
                                          device=prm.device).reshape(prm.shape))
    xt = torch.full((1, 1), float(x), dtype=torch.float64, device=nets.device)
    yt = torch.full((1, 1), float(y), dtype=torch.float64, device=nets.device)

    def loss(out: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        d = out - tgt
        return 0.5 * (d * d).reshape(n, -1).sum(dim=1)

    def output(out: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return out.reshape(n, -1).sum(dim=1)

    f, theta = flat_function_batch(nets, xt, yt, loss=loss)
    h = dense_hessian(f, theta, method="hvp")
    h = 0.5 * (h + h.transpose(-1, -2))
    fo, _ = flat_function_batch(nets, xt, yt, loss=output)
    th = theta.clone().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(f(th).sum(), th)[0]
        go = torch.autograd.grad(fo(th).sum(), th)[0]
    return {"hessian": h.detach().cpu().numpy(), "grad": g.detach().cpu().numpy(),
            "grad_output": go.detach().cpu().numpy(), "weights": theta.detach().cpu().numpy()}


def _moment_chain(params: dict[str, Any]) -> NeuralChain:
    return NeuralChain(int(params["depth"]), sigma=float(params["sigma"]),
                       x=float(params.get("x", 1.0)), y=float(params.get("y", 1.0)))


def predict_hessian_moments(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact moments and the median bound of ``tr H`` [derived; flatstart.theory.hessian].

    ``E tr H = L x² σ^{2(L−1)}``, ``E‖∇ℓ‖² = L(x⁴σ²(3σ⁴)^{L−1} + x²y²σ^{2(L−1)})``,
    ``E H_ij² = 4x⁴σ⁴(3σ⁴)^{L−2} + x²y²σ^{2(L−2)}`` (``flatstart.theory.hessian.hessian_moments``;
    at ``x = y = 1``: ``L(3^{L−1}σ^{4L−2} + σ^{2L−2})``, ``Lσ^{2(L−1)}``,
    ``4·3^{L−2}σ^{4L−4} + σ^{2L−4}``); ``B_tr(½) = L q_{H_11}(1 − 1/(2L))``
    (``flatstart.theory.hessian.trace_bound``) with ``P(tr H > B_tr(½)) ≤ ½``; ``P(‖∇ℓ‖ > B_g(½)) ≤
    ½`` with ``B_g = NeuralChain.median_gradient_norm("loss")["upper"]``
    (``= gradient_norm_bound(½)``; ``y ≠ 0``: ``(|y| + q_{|f|}(3/4))√L q_{|∂f/∂w|}(1 − 1/(4L))``).
    The sample means are tested only at depths where ``tr H`` (L ≤ 4) resp. ``H_12²`` and
    ``‖∇ℓ‖²`` (L ≤ 3) have light enough tails (finite 4th moments, small skewness of the
    mean at these n).
    """
    L = int(params["depth"])
    c = _moment_chain(params)
    m = hessian_moments(c).values()
    return {
        "grad_median_bound": float(c.median_gradient_norm("loss")["upper"]),
        "E_trace": m["E_trace"], "E_grad_norm_sq": m["E_grad_norm_sq"],
        "E_H_ij_sq": m["E_H_ij_sq"], "trace_median_bound": float(trace_bound(c, 0.5)),
        "mean_testable": L <= MEAN_TEST_MAX_DEPTH, "square_testable": L <= SQUARE_TEST_MAX_DEPTH,
    }


def mutant_hessian_moments(params: dict[str, Any]) -> dict[str, Any]:
    r"""Fourth moments in place of second ones: ``E tr H = L 3^{L−1}σ^{4(L−1)}x²`` (the
    ``3^L`` growth of ``E H_ij²`` applied to the trace); Gaussian kurtosis ignored in the
    squares (``E w⁴ = σ⁴``); median bound = median of one diagonal entry ``H_11`` (no union
    over the ``L`` diagonal entries)."""
    L = int(params["depth"])
    s = float(params["sigma"])
    x, y = float(params.get("x", 1.0)), float(params.get("y", 1.0))
    c0 = NeuralChain(L, sigma=s, x=x, y=0.0)
    m2, m4 = s * s, s**4
    return {
        "E_trace": L * 3.0 ** (L - 1) * s ** (4 * (L - 1)) * x * x,
        "E_H_ij_sq": 4 * x**4 * m2**2 * m4 ** (L - 2) + x**2 * y**2 * m2 ** (L - 2),
        "E_grad_norm_sq": L * (x**4 * m2 * m4 ** (L - 1) + x**2 * y**2 * m2 ** (L - 1)),
        "trace_median_bound": float(c0.hessian_entry_law(1, 1).abs().median()),
        "grad_median_bound": float(c0.median_gradient_norm("loss")["entry"]),
        "mean_testable": L <= MEAN_TEST_MAX_DEPTH, "square_testable": L <= SQUARE_TEST_MAX_DEPTH,
    }


def simulate_hessian_moments(params: dict[str, Any], seed: int, device: str, budget: str
                             ) -> dict[str, np.ndarray]:
    """``tr H``, ``H_12²`` and ``‖∇ℓ‖²`` of dense Hessians of real torch chains."""
    L = int(params["depth"])
    if L <= MEAN_TEST_MAX_DEPTH:
        n = int(by_budget(budget, quick=20_000, standard=100_000, full=400_000))
    else:
        n = int(by_budget(budget, quick=2_000, standard=10_000, full=40_000))
    r = _torch_chain_hessians(n, L, float(params["sigma"]), float(params.get("x", 1.0)),
                              float(params.get("y", 1.0)), seed, device)
    h = r["hessian"]
    return {"trace": np.trace(h, axis1=1, axis2=2), "h12_sq": h[:, 0, 1] ** 2,
            "grad_norm": np.sqrt((r["grad"] ** 2).sum(axis=1))}


def check_hessian_moments(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                         ) -> stats.TestOutcome:
    """Student t tests of ``E tr H`` (L ≤ 4), ``E H_12²`` and ``E‖∇ℓ‖²`` (L ≤ 3) — small
    depths only: there the fourth moments are finite and small enough for the CLT at these n —
    and the one-sided binomial test of the median bound; Bonferroni."""
    tr = np.asarray(m["trace"])
    outs = [stats.bound_violation_test(int(np.sum(tr > prediction["trace_median_bound"])),
                                       tr.size, 0.5, alpha)]
    gn = np.asarray(m["grad_norm"])
    outs.append(stats.bound_violation_test(int(np.sum(gn > prediction["grad_median_bound"])),
                                           gn.size, 0.5, alpha))
    names = ["median bound", "gradient median bound"]
    if prediction["mean_testable"]:
        outs.append(stats.mean_test(tr, float(prediction["E_trace"]), alpha))
        names.append("E tr H")
    if prediction["square_testable"]:
        outs.append(stats.mean_test(np.asarray(m["h12_sq"]), float(prediction["E_H_ij_sq"]),
                                    alpha))
        outs.append(stats.mean_test(np.asarray(m["grad_norm"]) ** 2,
                                    float(prediction["E_grad_norm_sq"]), alpha))
        names += ["E H_12^2", "E |grad|^2"]
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
            o = r.outcome.details["subtests"][2]["details"] if r.outcome else None
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
    return NeuralChain(int(params["depth"]), sigma=float(params["sigma"]),
                       x=float(params.get("x", 1.0)), y=float(params["y"]) if y is None else y)


def predict_hessian_vanishing(params: dict[str, Any]) -> dict[str, Any]:
    r"""``B(δ)`` with ``P(‖H‖₂ > B(δ)) ≤ δ`` (``flatstart.theory.hessian.norm_bound``) and, at ``y
    = 0``, ``P(λ_min < 0) = 1`` for ``L ≥ 2`` (``H = x²P²(2vvᵀ − diag v²)``: one positive and
    ``L − 1`` negative eigenvalues a.s.) [derived; flatstart.theory.hessian]."""
    c = _chain(params)
    delta = float(params["delta"])
    return {
        "bound": float(norm_bound(c, delta, "spectral")),
        # the residual part of the y ≠ 0 bound uses this exact quantile of |f|
        "output_quantile": float(c.output_law().abs().quantile(1.0 - delta / 3.0)),
        "delta": delta,
        "saddle_sure": float(params["y"]) == 0.0 and c.depth >= 2,
    }


def mutant_hessian_vanishing(params: dict[str, Any]) -> dict[str, Any]:
    r"""One diagonal entry's ``(1 − δ)``-quantile ``q_{H_11}(1 − δ)`` as the norm bound (no
    union, no factor 2: ‖H‖₂ treated as a single entry)."""
    delta = float(params["delta"])
    law = _chain(params, y=0.0).hessian_entry_law(1, 1).abs()
    return {"bound": float(law.quantile(1.0 - delta)), "delta": delta,
            "output_quantile": float(_chain(params).output_law().abs().quantile(1.0 - delta)),
            "saddle_sure": float(params["y"]) == 0.0 and int(params["depth"]) >= 2}


def simulate_hessian_vanishing(params: dict[str, Any], seed: int, device: str, budget: str
                               ) -> dict[str, np.ndarray]:
    """Spectral norms, ``λ_min`` and inertia of dense Hessians of real torch chains."""
    n = int(by_budget(budget, quick=2_000, standard=10_000, full=50_000))
    r = chain_hessian_samples(n, int(params["depth"]), sigma=float(params["sigma"]),
                              x=float(params.get("x", 1.0)), y=float(params["y"]), seed=seed,
                              device=device)
    ev = r.eigenvalues
    return {"norm": np.abs(ev).max(axis=1), "lam_min": ev[:, 0], "lam_max": ev[:, -1],
            "negatives": (ev < 0).sum(axis=1), "output": r.output}


def check_hessian_vanishing(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                           ) -> stats.TestOutcome:
    """Clopper–Pearson/exact binomial test of ``P(‖H‖₂ > B(δ)) ≤ δ``; the exact two-sided
    binomial test of ``P(|f| > q_{|f|}(1 − δ/3)) = δ/3`` (the quantile inside the ``y ≠ 0``
    bound); at ``y = 0`` also ``λ_min < 0`` surely (``δ = 0``: any ``λ_min ≥ 0`` rejects)."""
    norm = np.asarray(m["norm"])
    outs = [stats.bound_violation_test(int(np.sum(norm > prediction["bound"])), norm.size,
                                       float(prediction["delta"]), alpha)]
    names = ["norm bound"]
    if "output_quantile" in prediction and "output" in m:
        f = np.abs(np.asarray(m["output"]))
        outs.append(stats.binomial_test(int(np.sum(f > prediction["output_quantile"])), f.size,
                                        float(prediction["delta"]) / 3.0, alpha))
        names.append("P(|f| > q_f(1 - delta/3)) = delta/3")
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
        ax1.plot(d, [float(norm_bound(_chain(r.params), 0.5)) for r in recs], "--",
                 color=f"C{j}", label=f"B(1/2), y={yv:g}")
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


# =========================================================================== VC.hessian-entries
def _entry_chain(params: dict[str, Any]) -> NeuralChain:
    return NeuralChain(int(params["depth"]), sigma=float(params["sigma"]),
                       x=float(params["x"]), y=0.0)


def predict_hessian_entries(params: dict[str, Any]) -> dict[str, Any]:
    r"""Exact single-entry tail probabilities behind the union bounds at ``y = 0`` [derived].

    Each union bound is tight for one entry: ``trace_bound(δ)/L = q_{H_11}(1 − δ/L)`` so
    ``P(H_11 > trace_bound(δ)/L) = δ/L`` exactly; at ``y = 0`` ``norm_bound = 2·trace_bound``
    (``median_bounds``: ``δ = ½``); ``max_entry_bound(δ)`` is the larger of the two entry
    quantiles at level ``1 − δ/N``, ``N = L + L(L−1)/2``, so the entry type that attains it
    exceeds it with probability exactly ``δ/N`` and the other with
    ``entry_tail_probability``; ``gradient_norm_bound(½)/√L = q_{|g_1|}(1 − 1/(2L))`` for
    ``g = ∇f`` and ``g = ∇ℓ`` (``median_gradient_norm(·)["upper"]``), whose ``"entry"`` is
    the median of ``|g_1|``.
    The levels (``δ/L``, ``δ/N``) are arithmetic of the claim, not taken from theory.
    """
    c = _entry_chain(params)
    L, delta = c.depth, float(params["delta"])
    mb = median_bounds(c)
    n_entries = L + L * (L - 1) // 2
    meb = float(max_entry_bound(c, delta))
    p_d = float(entry_tail_probability(c, 1, 1, meb))
    p_o = float(entry_tail_probability(c, 1, 2, meb))
    t_fix = float(params["x"]) ** 2 * float(params["sigma"]) ** (2 * (L - 1))
    g_out, g_loss = c.median_gradient_norm("output"), c.median_gradient_norm("loss")
    return {
        "diag_thresholds": [float(trace_bound(c, delta)) / L,
                            float(mb["trace"]) / L, float(mb["spectral"]) / (2 * L)],
        "diag_levels": [delta / L, 0.5 / L, 0.5 / L],
        "max_entry_bound": meb, "max_entry_level": delta / n_entries,
        "attained_by": "diag" if p_d >= p_o else "off",
        "other_tail": min(p_d, p_o),
        "off_threshold": t_fix, "off_tail": float(entry_tail_probability(c, 1, 2, t_fix)),
        "grad_thresholds": [float(g_out["upper"]) / math.sqrt(L),
                            float(g_loss["upper"]) / math.sqrt(L)],
        "grad_level": 0.5 / L,
        "grad_loss_median": float(g_loss["entry"]),
        "grad_output_median": float(g_out["entry"]),
    }


def mutant_hessian_entries(params: dict[str, Any]) -> dict[str, Any]:
    """No union over entries: every threshold is the single entry's ``(1 − δ)``-quantile
    (the level ``δ`` instead of ``δ/L``, ``δ/N``); medians of ``|g_1|`` taken at ``σ = 1``."""
    c = _entry_chain(params)
    delta = float(params["delta"])
    p = predict_hessian_entries(params)
    d = float(c.hessian_entry_law(1, 1).abs().quantile(1.0 - delta))
    d2 = float(c.hessian_entry_law(1, 1).abs().quantile(0.5))
    c1 = NeuralChain(c.depth, sigma=1.0, x=float(params["x"]), y=0.0)
    return dict(p, diag_thresholds=[d, d2, d2],
                max_entry_bound=float(max(d, c.hessian_entry_law(1, 2).abs().quantile(
                    1.0 - delta))),
                grad_loss_median=float(c1.median_gradient_norm("loss")["entry"]),
                grad_output_median=float(c1.median_gradient_norm("output")["entry"]))


def simulate_hessian_entries(params: dict[str, Any], seed: int, device: str, budget: str
                             ) -> dict[str, np.ndarray]:
    """``H_11``, ``H_12``, ``∂ℓ/∂w_1`` and ``∂f/∂w_1`` of real torch chains at ``y = 0``."""
    n = int(by_budget(budget, quick=20_000, standard=100_000, full=400_000))
    r = _torch_chain_hessians(n, int(params["depth"]), float(params["sigma"]),
                              float(params["x"]), 0.0, seed, device)
    h = r["hessian"]
    return {"h11": h[:, 0, 0], "h12": h[:, 0, 1], "g1": r["grad"][:, 0],
            "go1": r["grad_output"][:, 0]}


def check_hessian_entries(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                          ) -> stats.TestOutcome:
    """Exact two-sided binomial tests of every exceedance rate (independent chains, one entry
    per chain) and sign tests of the two medians; Bonferroni."""
    h11, h12 = np.asarray(m["h11"]), np.abs(np.asarray(m["h12"]))
    g1, go1 = np.abs(np.asarray(m["g1"])), np.abs(np.asarray(m["go1"]))
    n = h11.size
    outs, names = [], []
    for k, (t, lv) in enumerate(zip(prediction["diag_thresholds"], prediction["diag_levels"],
                                    strict=True)):
        outs.append(stats.binomial_test(int(np.sum(h11 > t)), n, float(lv), alpha))
        names.append(f"P(H_11 > bound_{k}) = level")
    b = float(prediction["max_entry_bound"])
    att, oth = (h11, h12) if prediction["attained_by"] == "diag" else (h12, h11)
    outs.append(stats.binomial_test(int(np.sum(att > b)), n, float(prediction["max_entry_level"]),
                                    alpha))
    names.append("max-entry bound attained")
    outs.append(stats.binomial_test(int(np.sum(oth > b)), n, float(prediction["other_tail"]),
                                    alpha))
    names.append("max-entry bound, other entry")
    outs.append(stats.binomial_test(int(np.sum(h12 > prediction["off_threshold"])), n,
                                    float(prediction["off_tail"]), alpha))
    names.append("P(|H_12| > t)")
    for g, t, nm in zip((go1, g1), prediction["grad_thresholds"], ("output", "loss"),
                        strict=True):
        outs.append(stats.binomial_test(int(np.sum(g > t)), n, float(prediction["grad_level"]),
                                        alpha))
        names.append(f"gradient bound ({nm})")
    outs.append(stats.quantile_test(g1, float(prediction["grad_loss_median"]), 0.5, alpha))
    outs.append(stats.quantile_test(go1, float(prediction["grad_output_median"]), 0.5, alpha))
    names += ["median |dl/dw_1|", "median |df/dw_1|"]
    return _bonferroni(outs, alpha, names=names)


def plot_hessian_entries(fig: Any, records: list[Any]) -> None:
    """Measured exceedance rates against the exact levels (log-log): on the diagonal."""
    ax = fig.add_subplot(1, 1, 1)
    for j, r in enumerate(records):
        p, h11 = r.prediction, np.asarray(r.measurement["h11"])
        lv = np.asarray(p["diag_levels"], dtype=float)
        meas = np.array([np.mean(h11 > t) for t in p["diag_thresholds"]])
        ax.plot(lv, np.maximum(meas, 1e-6), "o", color=f"C{j % 10}", ms=4,
                label=f"L={r.params['depth']}, sigma={r.params['sigma']}, x={r.params['x']}")
    ax.plot([1e-3, 1], [1e-3, 1], "k-", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("exact level (delta/L)")
    ax.set_ylabel("measured P(H_11 > bound/L)")
    ax.legend(fontsize=6, loc="best")


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
    r"""Brackets ``[lower, upper]`` per λ that every torch count must lie in [derived].

    GD: exact ``⌈log(R/|θ₀|)/log(1 + ηλ)⌉`` (``gd_escape_steps``), the same count by direct
    iteration (``gd_escape_steps_reference``) and the small-step bracket
    ``⌈A⌉ ≤ T ≤ ⌈A/(1 − ηλ/2)⌉`` with ``A = log(R/|θ₀|)/(ηλ)`` (``gd_escape_steps_asymptotic``;
    ``u − u²/2 ≤ log(1 + u) ≤ u``). Adam/RMSprop (``ε = 0``): λ-free brackets
    (``adam_escape_bounds``/``rmsprop_escape_bounds``) and the exact count of the iterated
    recursion (``adam_escape_steps_reference``/``rmsprop_escape_steps_reference``, ±1 step
    for round-off at ties); with ``β₁ = β₂ = 0`` Adam is the sign step
    (``sign_escape_steps_reference``).
    """
    lams = _lams(params)
    eta, th0, rad = float(params["lr"]), float(params["theta0"]), float(params["radius"])
    name = str(params["optimizer"])
    if name == "sgd":
        t = np.asarray(gd_escape_steps(lams, eta, th0, rad), dtype=float)
        ref = np.array([gd_escape_steps_reference(float(lm), eta, th0, rad) for lm in lams])
        a = np.asarray(gd_escape_steps_asymptotic(lams, eta, th0, rad), dtype=float)
        hi = np.ceil(a / (1.0 - 0.5 * eta * lams))
        brackets = {"exact": (t, t), "reference": (ref, ref), "asymptotic": (np.ceil(a), hi)}
        return {"lams": lams, "lower": t, "upper": t, "exact": True, "brackets": brackets}
    b2 = float(params["beta2"])
    if name == "adam":
        b1 = float(params["beta1"])
        lo, hi = adam_escape_bounds(eta, th0, rad, b1, b2)
        ref = np.array([adam_escape_steps_reference(float(lm), eta, th0, rad, b1, b2)
                        for lm in lams])
    else:
        lo, hi = rmsprop_escape_bounds(eta, th0, rad, b2)
        ref = np.array([rmsprop_escape_steps_reference(float(lm), eta, th0, rad, b2)
                        for lm in lams])
    lower, upper = np.full(lams.size, float(lo)), np.full(lams.size, float(hi))
    brackets = {"bracket": (lower, upper), "reference": (ref - 1.0, ref + 1.0)}
    if name == "adam" and float(params["beta1"]) == 0.0 and b2 == 0.0:
        sref = float(sign_escape_steps_reference(eta, th0, rad))
        brackets["sign"] = (np.full(lams.size, sref), np.full(lams.size, sref))
    return {"lams": lams, "lower": lower, "upper": upper, "exact": False, "brackets": brackets}


def mutant_escape_saddle(params: dict[str, Any]) -> dict[str, Any]:
    """GD escapes like the sign step (λ-free ``⌈(R − |θ₀|)/η⌉``); Adam/RMSprop escape like GD
    (``∝ 1/λ``)."""
    lams = _lams(params)
    eta, th0, rad = float(params["lr"]), float(params["theta0"]), float(params["radius"])
    if str(params["optimizer"]) == "sgd":
        t = np.full(lams.size, float(sign_escape_steps(eta, th0, rad)))
    else:
        t = np.asarray(gd_escape_steps(lams, eta, th0, rad), dtype=float)
    return {"lams": lams, "lower": t, "upper": t, "exact": True, "brackets": {"exact": (t, t)}}


def simulate_escape_saddle(params: dict[str, Any], seed: int, device: str, budget: str
                           ) -> dict[str, np.ndarray]:
    """Escape steps of a torch optimizer on one-parameter models ``−(λ/2)θ²`` (deterministic)."""
    steps, cens = saddle_escape_steps(
        _lams(params), str(params["optimizer"]), float(params["lr"]), float(params["theta0"]),
        float(params["radius"]), int(params["max_steps"]), device=device, **_opt_kwargs(params))
    return {"steps": steps, "censored": cens}


def check_escape_saddle(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                       ) -> stats.TestOutcome:
    """Deterministic: every count inside every bracket of the prediction (for GD's exact
    count ``lower = upper``, i.e. equality of integer counts) and none censored; p = 1 if so,
    else 0
    (``bound_violation_test`` with ``δ = 0``). The log-log slope is reported."""
    s = np.asarray(m["steps"])
    bad = np.asarray(m["censored"]).copy()
    failed = []
    for name, (lo, hi) in prediction["brackets"].items():
        out_k = (s < np.asarray(lo)) | (s > np.asarray(hi))
        if out_k.any():
            failed.append(name)
        bad |= out_k
    out = stats.bound_violation_test(int(bad.sum()), s.size, 0.0, alpha)
    slope = float(np.polyfit(np.log(prediction["lams"]), np.log(s), 1)[0])
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             dict(out.details, loglog_slope=slope, steps=s.tolist(),
                                  failed_brackets=failed))


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

    From ``flatstart.theory.escape.chain_escape_log_median`` [derived there]: GD's escape time is
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
            "adam_band": [-m, m]}


def mutant_escape_depth(params: dict[str, Any]) -> dict[str, Any]:
    """SGD's escape time flat in depth (slope 0, no correction), as the mean ``E P² = σ^{2L}
    = 1`` suggests."""
    m = float(params["adam_margin"])
    return {"sgd_shape": [0.0] * len(_depths(params)), "sgd_slope": 0.0,
            "adam_band": [-m, m]}


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
    (``shape = sgd_shape``, the theory's L-dependence) against slope 0 and
    ``log median T_SGD + 2ψ(L+1)`` against ``sgd_slope = −κ₁``; Adam's ``log median T`` in
    ``adam_band``; Bonferroni over the three."""
    d = np.asarray(m["depths"], dtype=float)
    lm = _log_medians(m["sgd"])
    ys = lm - np.asarray(prediction["sgd_shape"], dtype=float)
    sgd = stats.trend_test(d, ys, 0.0, alpha)
    # the same data against the asymptotic slope −κ₁ once the exact −2ψ(L+1) is removed
    from scipy.special import digamma

    lead = stats.trend_test(d, lm + 2.0 * digamma(d + 1.0), float(prediction["sgd_slope"]),
                            alpha)
    lo, hi = (float(v) for v in prediction["adam_band"])
    adam = stats.band_slope_test(d, _log_medians(m["adam"]), lo, hi, alpha)
    return _bonferroni([sgd, lead, adam], alpha,
                       names=["sgd slope (shape)", "sgd slope -kappa_1", "adam slope"])


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
            label=f"predicted: -k1 L - 2 log L + c (-k1 = {k1:.3f}; flatstart.theory.escape)")
    lead = k1 * d
    ax.plot(d, np.exp(lead + np.mean(lm - lead)), ":", color="C0", label="leading order -k1 L")
    ax.axhline(float(np.exp(np.mean(_log_medians(r.measurement["adam"])))), color="C1", ls="--",
               lw=1, label="Adam: flat")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("median escape step (censoring-aware)")
    ax.legend(fontsize=6, loc="best")


# ================================================================================ VC.residual
def _residual_setup(params: dict[str, Any]) -> tuple[int, float, float, str]:
    L = int(params["depth"])
    alpha = float(params.get("c", 1.0)) / math.sqrt(L)
    law = "uniform" if params["weights"] == "uniform" else "normal"
    return L, alpha, float(params.get("sigma", 1.0)), law


def predict_residual(params: dict[str, Any]) -> dict[str, Any]:
    r"""``median |∏(1 + αw_l)|``, ``α = c/√L``, weights of variance ``σ²`` (uniform
    ``U(±σ√3)`` or ``N(0, σ²)``): exact, ``flatstart.theory.chains.residual_chain_median``
    (Gil-Pelaez on the characteristic function of ``log|1 + αw|``) [derived]; and the exact cdf of
    ``log|∏(1 + αw_l)|`` (``residual_chain_log_cdf``) at ``−c²σ²/2 ± 0.8cσ`` (about the
    quartiles). The expansion ``log median = −c²σ²/2 − c⁴σ⁴/(4L) + O(L⁻²)`` and the limit
    ``e^{−c²σ²/2}`` are drawn in the plot.
    """
    L, alpha, sigma, law = _residual_setup(params)
    med = float(residual_chain_median(L, alpha, sigma, law))
    cs = alpha * math.sqrt(L) * sigma
    pts = [-0.5 * cs * cs - 0.8 * cs, -0.5 * cs * cs + 0.8 * cs]
    cdf = [float(v) for v in residual_chain_log_cdf(np.array(pts), L, alpha, sigma, law)]
    return {"lo": med, "hi": med, "limit": math.exp(-0.5 * cs * cs), "exact": True,
            "log_points": pts, "log_cdf": cdf}


def mutant_residual(params: dict[str, Any]) -> dict[str, Any]:
    """The mean-based median: ``E ∏(1 + αw_l) = 1`` (cdf of a log-normal with median 1)."""
    L, alpha, sigma, law = _residual_setup(params)
    cs = alpha * math.sqrt(L) * sigma
    pts = [-0.5 * cs * cs - 0.8 * cs, -0.5 * cs * cs + 0.8 * cs]
    from scipy import stats as sps

    return {"lo": 1.0, "hi": 1.0, "limit": 1.0, "exact": True, "log_points": pts,
            "log_cdf": [float(sps.norm.cdf(v / cs)) for v in pts]}


def simulate_residual(params: dict[str, Any], seed: int, device: str, budget: str
                      ) -> np.ndarray:
    """``|f(1)|`` of real torch residual chains with ``α = c/√L``."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    L = int(params["depth"])
    sigma = float(params.get("sigma", 1.0))
    alpha = float(params.get("c", 1.0)) / math.sqrt(L)
    kw = ({"bound": math.sqrt(3.0) * sigma} if params["weights"] == "uniform"
          else {"sigma": sigma})
    return np.abs(residual_chain_outputs(n, L, alpha, seed=seed, device=device, **kw))


def check_residual(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                  ) -> stats.TestOutcome:
    """Exact binomial test of the median (``lo = hi``) or of the band ``lo ≤ median ≤ hi``
    (two one-sided binomial tests, Bonferroni); with ``log_cdf`` also two-sided binomial
    tests of ``P(log|f| ≤ y_k)`` (Bonferroni over all)."""
    x = np.asarray(samples)
    n = x.size
    if prediction["lo"] == prediction["hi"]:
        outs = [stats.quantile_test(x, float(prediction["lo"]), 0.5, alpha)]
        names = ["median"]
    else:
        outs = [stats.binomial_test(int(np.sum(x <= prediction["lo"])), n, 0.5, alpha,
                                    "greater"),
                stats.binomial_test(int(np.sum(x <= prediction["hi"])), n, 0.5, alpha, "less")]
        names = ["median >= lo", "median <= hi"]
    if "log_cdf" in prediction:
        lx = np.log(np.maximum(x, 1e-300))
        for yk, fk in zip(prediction["log_points"], prediction["log_cdf"], strict=True):
            outs.append(stats.binomial_test(int(np.sum(lx <= yk)), n, float(fk), alpha))
            names.append(f"P(log|f| <= {yk:.3f})")
    if len(outs) == 1:
        return outs[0]
    return _bonferroni(outs, alpha, names=names)


def plot_residual(fig: Any, records: list[Any]) -> None:
    """Medians of residual chains against depth with 99% order-statistic CIs, the exact
    (uniform) medians, the Gaussian band and the limit ``e^{−1/2}``; the plain chain's median
    ``≈ 0.53^L`` for contrast."""
    ax = fig.add_subplot(1, 1, 1)
    from scipy import stats as sps

    unit = [r for r in records
            if float(r.params.get("c", 1.0)) == 1.0 and float(r.params.get("sigma", 1.0)) == 1.0]
    records = unit or records
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
        if all(float(r.params.get("c", 1.0)) == 1.0 and float(r.params.get("sigma", 1.0)) == 1.0
               for r in recs):
            ax.plot(d, [residual_chain_median(int(r.params["depth"]), None, 1.0,
                                              "uniform" if w == "uniform" else "normal",
                                              method="expansion") for r in recs],
                    ":", color=f"C{j}",
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


# ============================================================================ VC.pair-product
#: For a product of n iid |N(0, σ²)| the Cornish–Fisher log median exceeds the exact one by
#: ``c_n/n`` with ``PAIR_CF_BAND[0] ≤ c_n ≤ PAIR_CF_BAND[1]`` (the next, O(1/n), term:
#: c_n = 0.0428 at n = 1 … 0.0389 at n = 28, independent of σ; checked in the tests against
#: the exact Gil-Pelaez median of flatstart.theory.chains).
PAIR_CF_BAND = (0.037, 0.045)


def predict_pair_product(params: dict[str, Any]) -> dict[str, Any]:
    r"""``median |P_{−ij}|`` (a product of ``n = L − 2`` iid ``|w|``) as
    ``exp(−sgd_median_escape_growth(L))`` (``= exp(log_median_pair_product)``): exact for
    ``U(±a)`` (``n log a − ν(n)``), Cornish–Fisher for ``N(0, σ²)`` minus its next-order
    term ``c_n/n``, ``c_n ∈ PAIR_CF_BAND`` (a band) [derived; flatstart.theory.escape]; for
    ``N(0, σ²)`` also the exact median of ``NeuralChain.product_law(n)`` (the law behind the
    pair quantile ``Q`` of ``flatstart.theory.hessian.norm_bound``)."""
    L = int(params["depth"])
    law = str(params["law"])
    lm = -float(sgd_median_escape_growth(L, float(params["scale"]), law))
    if law == "uniform":
        return {"lo": math.exp(lm), "hi": math.exp(lm)}
    n = L - 2
    exact = float(NeuralChain(L, sigma=float(params["scale"])).product_law(n).quantile(0.5))
    return {"lo": math.exp(lm - PAIR_CF_BAND[1] / n), "hi": math.exp(lm - PAIR_CF_BAND[0] / n),
            "exact_median": exact}


def mutant_pair_product(params: dict[str, Any]) -> dict[str, Any]:
    """Leading order only, ``median = exp(n E log|w|)`` (no median shift)."""
    n = int(params["depth"]) - 2
    a = float(params["scale"])
    k1 = math.log(a) - 1.0 if params["law"] == "uniform" else (
        math.log(a) - (float(np.euler_gamma) + math.log(2.0)) / 2.0)
    return {"lo": math.exp(n * k1), "hi": math.exp(n * k1)}


def simulate_pair_product(params: dict[str, Any], seed: int, device: str, budget: str
                          ) -> np.ndarray:
    """``|f(1)|`` of real torch chains of depth ``L − 2`` (the product of L − 2 weights)."""
    n = int(by_budget(budget, quick=20_000, standard=200_000, full=1_000_000))
    L = int(params["depth"])
    a = float(params["scale"])
    uni = params["law"] == "uniform"
    nets = chains(count=n, depth=L - 2, sigma=None if uni else a, bound=a if uni else None,
                  dtype=torch.float64, device=device, seed=seed)
    with torch.no_grad():
        out = nets(torch.ones((1, 1), dtype=torch.float64, device=nets.device))
    return np.abs(out.reshape(n).cpu().numpy().astype(np.float64))


def check_pair_product(prediction: dict[str, Any], samples: np.ndarray, alpha: float
                       ) -> stats.TestOutcome:
    """The median (or band) test of :func:`check_residual` and, when predicted, the sign test
    of the exact median; Bonferroni."""
    out = check_residual({"lo": prediction["lo"], "hi": prediction["hi"]}, samples, alpha)
    if "exact_median" not in prediction:
        return out
    ex = stats.quantile_test(np.asarray(samples), float(prediction["exact_median"]), 0.5, alpha)
    return _bonferroni([out, ex], alpha, names=["Cornish-Fisher band", "exact median"])


def plot_pair_product(fig: Any, records: list[Any]) -> None:
    """Measured ``log median |P_{−ij}|`` against depth with the predicted band."""
    ax = fig.add_subplot(1, 1, 1)
    for j, law in enumerate(sorted({str(r.params["law"]) for r in records})):
        recs = sorted((r for r in records if r.params["law"] == law),
                      key=lambda r: (r.params["scale"], r.params["depth"]))
        d = [r.params["depth"] for r in recs]
        ax.plot(d, [math.log(float(np.median(r.measurement))) for r in recs], "o",
                color=f"C{j}", label=f"{law}: measured log median")
        ax.plot(d, [0.5 * math.log(r.prediction["lo"] * r.prediction["hi"]) for r in recs],
                "s", mfc="none", color=f"C{j}", ms=9, label=f"{law}: predicted")
    ax.set_xlabel("depth L (product of L - 2 weights)")
    ax.set_ylabel(r"log median $|P_{-ij}|$")
    ax.legend(fontsize=6, loc="best")


# ============================================================================ VC.chain-hessian
def _fixed_weights(params: dict[str, Any]) -> np.ndarray:
    """The chains' weights: ``N(0, σ²)`` from numpy's PCG64 with the grid point's ``wseed``
    (shared by predict and simulate, so both see the same chains)."""
    rng = np.random.default_rng(int(params["wseed"]))
    return float(params["sigma"]) * rng.standard_normal((int(params["count"]),
                                                         int(params["depth"])))


def predict_chain_hessian(params: dict[str, Any]) -> dict[str, Any]:
    r"""``H = x²uuᵀ + r x M`` (``u_i = P_{−i}``, ``M_ij = P_{−ij}``, ``r = Px − y``) for the
    given weights (``flatstart.theory.escape.chain_hessian``; the first chains also by
    ``chain_hessian_reference``) and the plateau curvature ``max(0, −λ_min(H))``
    (``chain_plateau_curvature``) [derived]."""
    w = _fixed_weights(params)
    x, y = float(params["x"]), float(params["y"])
    k = min(8, w.shape[0])
    return {"hessian": np.asarray(chain_hessian(w, x, y)),
            "hessian_ref": np.stack([chain_hessian_reference(w[i], x, y) for i in range(k)]),
            "curvature": np.asarray(chain_plateau_curvature(w, x, y), dtype=float)}


def mutant_chain_hessian(params: dict[str, Any]) -> dict[str, Any]:
    """The residual term dropped: ``H = x²uuᵀ`` (Gauss–Newton), curvature 0."""
    w = _fixed_weights(params)
    x = float(params["x"])
    L = w.shape[1]
    u = np.stack([np.prod(np.delete(w, i, axis=1), axis=1) for i in range(L)], axis=1)
    h = x * x * u[:, :, None] * u[:, None, :]
    return {"hessian": h, "hessian_ref": h[: min(8, w.shape[0])],
            "curvature": np.zeros(w.shape[0])}


def simulate_chain_hessian(params: dict[str, Any], seed: int, device: str, budget: str
                           ) -> dict[str, np.ndarray]:
    """Dense autograd Hessians of real torch chains carrying the grid point's weights, and
    ``max(0, −λ_min)`` by ``torch.linalg.eigvalsh``."""
    w = _fixed_weights(params)
    r = _torch_chain_hessians(w.shape[0], w.shape[1], float(params["sigma"]),
                              float(params["x"]), float(params["y"]), seed, device, weights=w)
    h = r["hessian"]
    lam = torch.linalg.eigvalsh(torch.as_tensor(h)).numpy()[:, 0]
    return {"hessian": h, "curvature": np.maximum(0.0, -lam)}


def check_chain_hessian(prediction: dict[str, Any], m: dict[str, np.ndarray], alpha: float
                        ) -> stats.TestOutcome:
    """Deterministic identities to round-off (relative to the largest entry of each
    Hessian): torch Hessian = ``chain_hessian`` = ``chain_hessian_reference`` (first chains);
    torch ``max(0, −λ_min)`` = ``chain_plateau_curvature``."""
    h = np.asarray(m["hessian"])
    scale = np.abs(h).reshape(h.shape[0], -1).max(axis=1)[:, None, None] + 1e-300
    k = np.asarray(prediction["hessian_ref"]).shape[0]
    outs = [stats.identity_test(h / scale, np.asarray(prediction["hessian"]) / scale,
                                rtol=0.0, atol=1e-9, alpha=alpha),
            stats.identity_test(h[:k] / scale[:k], np.asarray(prediction["hessian_ref"])
                                / scale[:k], rtol=0.0, atol=1e-9, alpha=alpha),
            stats.identity_test(np.asarray(m["curvature"]) / scale[:, 0, 0],
                                np.asarray(prediction["curvature"]) / scale[:, 0, 0],
                                rtol=0.0, atol=1e-9, alpha=alpha)]
    return _bonferroni(outs, alpha, names=["chain_hessian", "chain_hessian_reference",
                                           "plateau curvature"])


def plot_chain_hessian(fig: Any, records: list[Any]) -> None:
    """Torch plateau curvature against ``max|x y P_{−ij}|`` (log-log), per grid point."""
    ax = fig.add_subplot(1, 1, 1)
    for j, r in enumerate(records):
        w = _fixed_weights(r.params)
        L = w.shape[1]
        pij = np.max([np.abs(np.prod(np.delete(w, [a, b], axis=1), axis=1))
                      for a in range(L) for b in range(a + 1, L)], axis=0)
        scale = abs(float(r.params["x"]) * float(r.params["y"])) * pij
        ax.loglog(scale, np.maximum(np.asarray(r.measurement["curvature"]), 1e-300), ".",
                  color=f"C{j % 10}", ms=3, label=f"L={L}, x={r.params['x']}, y={r.params['y']}")
    ax.set_xlabel(r"$\max_{i<j}|x y P_{-ij}|$")
    ax.set_ylabel(r"$\max(0, -\lambda_{min})$ (torch)")
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
    This is an exact symmetry, not a formula of ``theory/``: no theory function is needed
    (the plain He/ReLU per-layer ``E log`` factor ``m_n`` of flatstart.theory.wide is the mutant and
    is drawn in the plot)."""
    return {"slope": 0.0}


def mutant_normalization(params: dict[str, Any]) -> dict[str, Any]:
    """Normalized nets decay like plain ones: slope ``m_n = E log`` of one plain ReLU layer."""
    n = int(params["width"])
    _, m, _ = layer_log_moments(n, n, "relu", "he_normal")
    return {"slope": float(m)}


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
            _, m_n, _ = layer_log_moments(int(r.params["width"]), int(r.params["width"]),
                                          "relu", "he_normal")
            ax.plot(d, meds[0] * np.exp(float(m_n) * (d - d[0])), ":",
                    color="C1", label=f"plain log-rate m_n = {float(m_n):.3f}"
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
    source=f"{_SOURCE}; derived (docs/theory/vc-curvature.md#moments-of-the-chain-derived)",
    statement=(
        "With N(0, σ²) weights, input x, target y: E‖∇ℓ‖² = L(x⁴σ²(3σ⁴)^{L−1} + "
        "x²y²σ^{2(L−1)}), E tr H = Lx²σ^{2(L−1)}, E H_ij² = 4x⁴σ⁴(3σ⁴)^{L−2} + "
        "x²y²σ^{2(L−2)} (x = y = 1: L(3^{L−1}σ^{4L−2} + σ^{2L−2}), Lσ^{2(L−1)}, "
        "4·3^{L−2}σ^{4L−4} + σ^{2L−4}); the means stay at L or grow like 3^L while "
        "median tr H ≤ B_tr(½) = L q_{H_11}(1 − 1/(2L)) vanishes exponentially. Tested: "
        "E tr H (t test, L ≤ 4), E H_12² and E‖∇ℓ‖² (t tests, L ≤ 3, where the fourth "
        "moments are finite and moderate) and P(tr H > B_tr(½)) ≤ ½ on dense Hessians of "
        "torch chains, at σ ≠ 1, x ≠ 1, y ∉ {0, 1}."),
    latex=(r"\mathbb{E}\,\mathrm{tr}H=L\sigma^{2(L-1)},\quad "
           r"P\big(\mathrm{tr}H>L\,q_{H_{11}}(1-\tfrac{1}{2L})\big)\le\tfrac12"),
    kind="moment",
    grids={"quick": [{"depth": 2, "sigma": 1.25, "x": 0.7, "y": 1.5},
                     {"depth": 3, "sigma": 0.8, "x": 1.5, "y": 0.5},
                     {"depth": 4, "sigma": 1.0, "x": 1.0, "y": 1.0},
                     {"depth": 20, "sigma": 1.0, "x": 1.0, "y": 1.0}],
           "standard": [{"depth": d, "sigma": s, "x": x, "y": y}
                        for d in (2, 3, 4, 10, 20) for s, x, y in
                        ((1.0, 1.0, 1.0), (0.8, 1.5, 0.5), (1.25, 0.7, 1.5))],
           "full": [{"depth": d, "sigma": s, "x": x, "y": y}
                    for d in (2, 3, 4, 6, 10, 20, 30, 40) for s, x, y in
                    ((1.0, 1.0, 1.0), (0.8, 1.5, 0.5), (1.25, 0.7, 1.5), (1.2, 1.0, 0.0))]},
    predict=predict_hessian_moments, simulate=simulate_hessian_moments,
    test=check_hessian_moments, mutant=mutant_hessian_moments, plot=plot_hessian_moments,
    mutant_description=("E tr H = L 3^{L-1} σ^{4(L-1)} x² (fourth moments); E w⁴ = σ⁴ in the "
                        "squares; median bound = median of one diagonal entry"), **_COMMON,
))

register(Claim(
    id="VC.hessian-entries",
    title="The union bounds on Hessian and gradient entries are exact quantiles of one entry",
    source=f"{_SOURCE}; derived (flatstart.theory.hessian, flatstart.theory.chains.NeuralChain)",
    statement=(
        "At y = 0 every single Hessian or gradient entry of a linear chain with N(0, σ²) "
        "weights has an exact product law, and each union bound of flatstart.theory.hessian is "
        "an exact "
        "quantile of one entry: P(H_11 > trace_bound(δ)/L) = δ/L, P(H_11 > "
        "norm_bound(δ)/(2L)) = δ/L (also for median_bounds, δ = ½), the entry type attaining "
        "max_entry_bound(δ) exceeds it with probability δ/(L + L(L−1)/2) and the other with "
        "entry_tail_probability, P(|g_1| > gradient_norm_bound(δ)/√L) = δ/L for g = ∇f and "
        "∇ℓ, median |g_1| = median_gradient_norm()['entry']. Tested by exact binomial tests "
        "on dense Hessians and gradients of torch chains (σ ≠ 1, x ≠ 1, several depths)."),
    latex=(r"P\big(H_{11}>B_{tr}(\delta)/L\big)=\delta/L,\quad "
           r"P\big(\max(|H_{11}|,|H_{12}|)\text{-type}>B_{max}(\delta)\big)="
           r"\frac{\delta}{L+\binom L2}"),
    kind="probability",
    grids={"quick": [{"depth": d, "sigma": s, "x": x, "delta": de} for d, s, x, de in
                     ((2, 1.25, 0.7, 0.9), (3, 0.8, 1.5, 0.5), (5, 1.0, 1.3, 0.5))],
           "standard": [{"depth": d, "sigma": s, "x": x, "delta": de}
                        for k, d in enumerate((2, 3, 4, 6, 10))
                        for s, x, de in (((1.25, 0.7, 0.9), (0.8, 1.5, 0.5)) if k < 2 else
                                         ((1.25, 0.7, 0.9),) if k % 2 else
                                         ((0.8, 1.5, 0.5),))],
           "full": [{"depth": d, "sigma": s, "x": x, "delta": de}
                    for d in (2, 3, 4, 6, 10, 20) for s, x in ((1.0, 1.0), (1.25, 0.7),
                                                               (0.8, 1.5))
                    for de in (0.9, 0.5, 0.1)]},
    predict=predict_hessian_entries, simulate=simulate_hessian_entries,
    test=check_hessian_entries, mutant=mutant_hessian_entries, plot=plot_hessian_entries,
    mutant_description="no union over entries (single-entry (1 - delta)-quantiles); medians "
                       "of |g_1| at sigma = 1",
    **_COMMON,
))

register(Claim(
    id="VC.hessian-vanishing",
    title="Hessian spectrum vanishes in median with depth, and the init is a saddle",
    source=f"{_SOURCE}; derived (flatstart.theory.hessian)",
    statement=(
        "For a linear chain with N(0, σ²) weights, P(‖H‖₂ > B(δ)) ≤ δ with the union bounds "
        "B(δ) of flatstart.theory.hessian.norm_bound, which decay exponentially in L (y = 0) — the "
        "spectrum vanishes with high probability; at y = 0, H = x²P²(2vvᵀ − diag v²) has "
        "exactly one positive eigenvalue, so λ_min < 0 surely (a flat saddle)."),
    latex=r"P(\|H\|_2>B(\delta))\le\delta,\qquad y=0:\ P(\lambda_{\min}<0)=1",
    kind="bound",
    grids={"quick": [{"depth": d, "y": y, "sigma": s, "x": x, "delta": 0.1}
                     for d in (5, 15, 30) for y, s, x in ((0.0, 1.0, 1.0), (1.0, 0.8, 1.5))],
           "standard": [{"depth": d, "y": y, "sigma": s, "x": x, "delta": de}
                        for k, d in enumerate((3, 5, 10, 20, 30))
                        for y, s, x in ((0.0, 1.0, 1.0), (1.0, 1.0, 1.0), (0.0, 1.25, 0.7),
                                        (0.5, 0.8, 1.5))
                        for de in ((0.5, 0.1)[k % 2],)],
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
    source=f"{_SOURCE}; derived (flatstart.theory.escape)",
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
                     {"optimizer": "sgd", "lr": 0.2, **dict(_SADDLE, theta0=0.05, radius=2.0)},
                     {"optimizer": "adam", "lr": 0.01, **_SADDLE},
                     {"optimizer": "adam", "lr": 0.03,
                      **dict(_SADDLE, theta0=0.05, radius=2.0, beta1=0.5, beta2=0.9)},
                     {"optimizer": "adam", "lr": 0.03,
                      **dict(_SADDLE, theta0=0.05, radius=2.0, beta1=0.0, beta2=0.0)},
                     {"optimizer": "adam", "lr": 0.03,
                      **dict(_SADDLE, theta0=0.05, radius=2.0, beta1=0.9, beta2=0.0)},
                     {"optimizer": "rmsprop", "lr": 0.01, **_SADDLE},
                     {"optimizer": "rmsprop", "lr": 0.03,
                      **dict(_SADDLE, theta0=0.05, radius=2.0, beta2=0.9)}],
           "standard": [{"optimizer": o, "lr": lr, **dict(_SADDLE, lam_min=lm, points=13,
                                                          max_steps=20_000, **kw)}
                        for o, lr, lm, kw in (
                            ("sgd", 0.5, 1e-3, {}), ("sgd", 0.05, 1e-2, {}),
                            ("sgd", 0.2, 1e-3, {"theta0": 0.05, "radius": 2.0}),
                            ("adam", 0.01, 1e-3, {}),
                            ("adam", 0.03, 1e-3, {"theta0": 0.05, "radius": 2.0,
                                                  "beta1": 0.5, "beta2": 0.9}),
                            ("adam", 0.03, 1e-3, {"theta0": 0.05, "radius": 2.0,
                                                  "beta1": 0.0, "beta2": 0.0}),
                            ("adam", 0.03, 1e-3, {"theta0": 0.05, "radius": 2.0,
                                                  "beta1": 0.9, "beta2": 0.0}),
                            ("rmsprop", 0.01, 1e-3, {}),
                            ("rmsprop", 0.03, 1e-3, {"theta0": 0.05, "radius": 2.0,
                                                     "beta2": 0.9}))]},
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
    source=f"{_SOURCE}; derived (flatstart.theory.escape.chain_escape_log_median)",
    statement=(
        "Training a width-1 chain (N(0, σ²) weights, x = y = 1, ℓ = ½(f − y)²) until "
        "ℓ < 0.4, the median escape step of SGD grows like exp(−κ₁ L)/L², −κ₁ = −E log|w| "
        "(0.635 for σ = 1), the 1/L² from the two smallest |w_i| that set the plateau "
        "curvature |λ_min| ≈ max|P_{−ij}|·e^R (flatstart.theory.escape.chain_escape_log_median); "
        "Adam's "
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
    source=f"{_SOURCE}; derived (docs/theory/vc-signal.md#residual-chains-derived)",
    statement=(
        "For x_{l+1} = (1 + αw_l)x_l with α = 1/√L and unit-variance weights, "
        "log ∏(1 + αw_l) ≈ N(−½, 1), so the median tends to e^{−1/2} independently of L. "
        "Tested: the exact finite-L median of |∏(1 + αw_l)| (flatstart.theory.chains."
        "residual_chain_median: Gil-Pelaez on E|1 + αw|^{it}) for uniform U(±√3) and Gaussian "
        "N(0, 1) weights; log median = −½ − 1/(4L) + O(L⁻²) for both (derived)."),
    latex=r"\operatorname{med}\prod_{l=1}^L\left(1+\tfrac{w_l}{\sqrt L}\right)\to e^{-1/2}",
    kind="quantile",
    grids={"quick": [{"depth": d, "weights": w, "c": 1.0, "sigma": 1.0} for d, w in
                     ((16, "uniform"), (64, "uniform"), (256, "uniform"), (64, "normal"),
                      (256, "normal"))]
           + [{"depth": 16, "weights": "normal", "c": 1.5, "sigma": 0.8},
              {"depth": 8, "weights": "uniform", "c": 0.7, "sigma": 1.3}],
           "standard": [{"depth": d, "weights": w, "c": 1.0, "sigma": 1.0}
                        for d in (8, 16, 64, 256, 1024) for w in ("uniform", "normal")]
           + [{"depth": d, "weights": w, "c": c, "sigma": s} for d in (8, 32)
              for w in ("uniform", "normal") for c, s in ((1.5, 0.8), (0.7, 1.3))]},
    predict=predict_residual, simulate=simulate_residual, test=check_residual,
    mutant=mutant_residual, plot=plot_residual,
    mutant_description="mean-based median E prod(1 + alpha w) = 1", **_COMMON,
))

register(Claim(
    id="VC.pair-product",
    title="The plateau's pair products |P_{-ij}| have median exp(-sgd_median_escape_growth)",
    source=f"{_SOURCE}; derived (flatstart.theory.escape.log_median_pair_product)",
    statement=(
        "|P_{−ij}| is a product of n = L − 2 iid |w|; its log median is exactly "
        "n log a − ν(n) (ν(n) the median of Gamma(n, 1)) for U(±a) weights and "
        "nκ₁ − κ₃/(6κ₂) − c_n/n (Cornish–Fisher and its next term, 0.037 ≤ c_n ≤ 0.045) for "
        "N(0, σ²) weights; "
        "flatstart.theory.escape.sgd_median_escape_growth is its negative (GD's escape time ∝ "
        "1/|P_{−ij}|). Tested by exact binomial (sign) tests on torch chains of depth L − 2."),
    latex=r"\log\operatorname{med}|P_{-ij}|=(L-2)\log a-\nu(L-2)\ (U(\pm a))",
    kind="quantile",
    grids={"quick": [{"depth": d, "law": law, "scale": a} for d, law, a in
                     ((4, "uniform", 1.0), (10, "uniform", 1.7), (4, "normal", 1.0),
                      (6, "normal", 0.8), (8, "normal", 1.3))],
           "standard": [{"depth": d, "law": law, "scale": a} for d in (3, 4, 6, 10, 18)
                        for law, a in (("uniform", 1.0), ("uniform", 1.7), ("normal", 0.8),
                                       ("normal", 1.3))]},
    predict=predict_pair_product, simulate=simulate_pair_product, test=check_pair_product,
    mutant=mutant_pair_product, plot=plot_pair_product,
    mutant_description="leading order exp(n E log|w|) as the median", **_COMMON,
))

register(Claim(
    id="VC.chain-hessian",
    title="A chain's loss Hessian is x²uuᵀ + r x M, and its plateau curvature is max(0, −λ_min)",
    source=f"{_SOURCE}; derived (flatstart.theory.escape.chain_hessian)",
    statement=(
        "For ℓ = ½(Px − y)², H_ii = x²P_{−i}², H_ij = x²P_{−i}P_{−j} + (Px − y)x P_{−ij}; "
        "flatstart.theory.escape.chain_hessian (and its reference) reproduce torch's autograd "
        "Hessians "
        "of chains with the same weights to round-off, and chain_plateau_curvature equals "
        "max(0, −λ_min) of them (x ≠ 1, y ≠ 0, several depths and σ)."),
    latex=r"H=x^2uu^\top+(Px-y)\,x\,M,\quad u_i=P_{-i},\ M_{ij}=P_{-ij}",
    kind="identity",
    grids={"quick": [{"depth": d, "sigma": s, "x": x, "y": y, "count": 64, "wseed": 11 + d}
                     for d, s, x, y in ((2, 1.0, 1.3, 0.7), (4, 0.8, 0.6, -1.5),
                                        (7, 1.25, 1.1, 2.0))],
           "standard": [{"depth": d, "sigma": s, "x": x, "y": y, "count": 256, "wseed": 11 + d}
                        for d, s, x, y in ((2, 1.0, 1.3, 0.7), (3, 1.0, 1.3, 0.7),
                                           (4, 0.8, 0.6, -1.5), (7, 1.25, 1.1, 2.0),
                                           (12, 1.0, 1.5, 0.3))]},
    predict=predict_chain_hessian, simulate=simulate_chain_hessian, test=check_chain_hessian,
    mutant=mutant_chain_hessian, plot=plot_chain_hessian,
    mutant_description="residual term dropped (Gauss-Newton H = x²uuᵀ), curvature 0",
    **_COMMON,
))

register(Claim(
    id="VC.normalization",
    title="LayerNorm keeps the forward signal's law (and median) independent of depth",
    source=("VC (Orvieto et al. 2022), qualitative; exact depth invariance derived here (an "
            "exact symmetry, slope 0: no theory/ formula is needed or used for it; the plain "
            "nets' rate m_n from flatstart.theory.wide is only the mutant)"),
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
    "VC.hessian-moments", "VC.hessian-entries", "VC.hessian-vanishing", "VC.escape-saddle",
    "VC.escape-depth", "VC.residual", "VC.pair-product", "VC.chain-hessian",
    "VC.normalization",
)
