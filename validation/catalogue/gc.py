"""Claim family GC: gradient confusion (Sankararaman, De, Xu, Huang, Goldstein, ICML 2020).

Claims (theory: :mod:`flatstart.theory.confusion`, :mod:`flatstart.theory.noise`,
:mod:`flatstart.theory.ntk`; Monte Carlo: real torch networks from
:mod:`flatstart.montecarlo.networks` and real SGD runs,
:mod:`flatstart.montecarlo.confusion`, :mod:`flatstart.montecarlo.per_sample`,
:mod:`flatstart.montecarlo.sgd`):

* ``GC.linear-cosine`` -- linear model at w = 0: ``(1 + cos)/2 ~ Beta((d−1)/2, (d−1)/2)`` (KS).
* ``GC.linear-confusion`` -- same model: ``P(cos < −η)`` exact (binomial test) and the union
  bound ``P(η-confusion of N samples) ≥ 1 − C(N,2) P(cos < −η)`` (one-sided exact test).
* ``GC.orthogonal-identity`` -- orthogonal deep linear nets:
  ``cos(∇ℓ_i, ∇ℓ_j) = sign(r_i r_j)⟨x̂_i, x̂_j⟩`` at every depth (identity to round-off).
* ``GC.width-depth`` -- the spread of gradient cosines falls with width and rises with depth
  (one-sided slope tests), and the mean output-gradient cosine tends to the normalized NTK.
* ``GC.noise-identity`` -- ``(1/(N(N−1)))Σ_{i≠j}⟨g_i, g_j⟩ = |G|² − tr Σ_N/(N−1)`` (identity).
* ``GC.minibatch-cosine`` -- ``E⟨ḡ₁, ḡ₂⟩/E‖ḡ‖² = 1/(1 + B_simple/B)`` (t test, exact in mean).
* ``GC.sgd-bound`` -- GC Theorem 3.1 holds for real SGD on quadratic finite sums.
* ``GC.thm32-corrected`` -- the printed GC Theorem 3.2 is refuted by a counterexample that a
  deterministic search finds; the corrected form holds on every searched problem.
* ``GC.bn-skip`` -- batch-norm plus skip connections lower confusion at init (mini-batch
  protocol, one-sided paired t test of the minimum mini-batch cosine).

See ``docs/catalogue/gc.md`` for the statements, tests, mutants and figures.

Its length: one family's claims, one section per claim (predict, simulate, test, mutant, plot
and registration side by side); adding a claim touches this module only.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from flatstart._seeds import split_seed
from flatstart.theory import confusion as tconf
from flatstart.theory import noise as tnoise
from flatstart.theory import ntk as tntk
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register
from flatstart.validation.stats import TestOutcome

__all__ = ["GC_IDS"]

_ALPHA = 0.01


def _torch() -> Any:
    import torch

    return torch


def _seeds(seed: int, k: int) -> list[int]:
    """``k`` independent 31-bit seeds derived from a point seed."""
    return split_seed(seed, k)


def _alternative(direction: int) -> str:
    """The :mod:`flatstart.validation.stats` alternative for ``H0: direction·θ ≥ 0``: rejected when
    ``direction·θ`` is significantly negative (``"less"`` for +1, ``"greater"`` for −1)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    return "less" if direction > 0 else "greater"


# =============================================================================================
# GC.linear-cosine
# =============================================================================================


def predict_linear_cosine(params: dict[str, Any]) -> Any:
    """Law of the cosine: ``(1 + cos)/2 ~ Beta((d−1)/2, (d−1)/2)`` [derived]."""
    return tconf.linear_cosine_law(int(params["d"]))


def mutant_linear_cosine(params: dict[str, Any]) -> Any:
    """Off-by-one dimension: the law for ``d − 1`` (variance ``1/(d−1)``)."""
    return tconf.linear_cosine_law(int(params["d"]) - 1)



def _linear_model_gradients(d: int, count: int, seed: int, device: str) -> Any:
    """Per-sample gradients ``(count, d)`` of a torch linear model at ``w = 0`` on inputs
    uniform on the sphere ``S^{d-1}`` with labels independent of them (Gaussian)."""
    torch = _torch()
    from flatstart.montecarlo.data import sphere_inputs
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import per_sample_gradients

    s_net, s_data = _seeds(seed, 2)
    nets = mlps(1, 1, 1, activation="linear", init="lecun_normal", input_dim=d, output_dim=1,
                seed=s_net, device=device)
    with torch.no_grad():
        for p in nets.parameters():
            p.zero_()
    ds = sphere_inputs(count, d, labels="gaussian", seed=s_data, device=device)
    return per_sample_gradients(nets, ds.x, ds.y, flat=True, method="layerwise")[0]

def simulate_linear_cosine(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Cosines of per-sample gradients of a torch linear model at ``w = 0``, disjoint pairs.

    One ``mlps`` network of depth 1 (a linear readout ``f(x) = wᵀx``), weights set to 0;
    ``2n`` inputs uniform on ``S^{d−1}`` with Gaussian labels; per-sample gradients of
    ``½(f − y)²`` by :func:`flatstart.montecarlo.per_sample.per_sample_gradients`; the cosine of
    samples ``2k`` and ``2k+1`` for ``k < n`` (independent pairs, as the KS test needs).
    """
    d = int(params["d"])
    n = int(by_budget(budget, quick=2_000, standard=20_000, full=100_000))
    g = _linear_model_gradients(d, 2 * n, seed, device)
    a, b = g[0::2], g[1::2]
    cos = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))
    return np.asarray(cos.clamp(-1.0, 1.0).cpu().numpy(), dtype=np.float64)


def test_linear_cosine(prediction: Any, samples: np.ndarray, alpha: float) -> TestOutcome:
    """One-sample Kolmogorov–Smirnov test against the predicted law's CDF."""
    return stats.ks_test(samples, prediction.cdf, alpha)


def _describe_law(law: Any) -> dict[str, Any]:
    a, b = law.args
    return {"law": "2 Beta(a, b) - 1", "a": float(a), "b": float(b),
            "mean": float(law.mean()), "var": float(law.var())}


def plot_linear_cosine(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF with the DKW band, one panel per dimension d."""
    from flatstart.validation.plots import plot_cdf_vs_empirical

    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        law = r.prediction
        plot_cdf_vs_empirical(ax, law.cdf, r.measurement, _ALPHA, label="Beta law")
        wrong = tconf.linear_cosine_law(int(r.params["d"]) - 1)
        grid = np.linspace(-1, 1, 300)
        ax.plot(grid, wrong.cdf(grid), ":", color="C3", lw=1, label="mutant d-1")
        ax.set_xlabel("cos(grad_i, grad_j)")
        ax.set_title(f"d={r.params['d']}, Var cos={np.var(r.measurement):.4f} "
                     f"(1/d={1 / r.params['d']:.4f})", fontsize=8)
        ax.legend(fontsize=6)


# =============================================================================================
# GC.linear-confusion
# =============================================================================================


def predict_linear_confusion(params: dict[str, Any]) -> dict[str, Any]:
    """Pair failure ``P(cos < −η) = I_{(1−η)/2}((d−1)/2, (d−1)/2)`` and the union bound
    ``P(η-confusion holds for N samples) ≥ 1 − C(N, 2) P(cos < −η)`` [derived]."""
    d, n, eta = int(params["d"]), int(params["N"]), float(params["eta"])
    return {"eta": eta, "p_fail": tconf.linear_confusion_failure_probability(d, eta),
            "p_ok_bound": tconf.linear_confusion_probability_bound(n, d, eta)}


def mutant_linear_confusion(params: dict[str, Any]) -> dict[str, Any]:
    """The bound without the union over pairs: ``P(η-confusion) ≥ 1 − P(cos < −η)``, and the
    pair failure probability of dimension ``d + 2``."""
    d, eta = int(params["d"]), float(params["eta"])
    p = tconf.linear_confusion_failure_probability(d, eta)
    return {"eta": eta, "p_fail": tconf.linear_confusion_failure_probability(d + 2, eta),
            "p_ok_bound": 1.0 - p}


def simulate_linear_confusion(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Per-sample gradients of ``sets`` independent sets of ``N`` samples of a torch linear
    model at ``w = 0`` (inputs uniform on ``S^{d−1}``, Gaussian labels): shape ``(sets, N, d)``.
    """
    d, n = int(params["d"]), int(params["N"])
    sets = int(by_budget(budget, quick=3_000, standard=20_000, full=100_000))
    g = _linear_model_gradients(d, sets * n, seed, device)
    return np.asarray(g.reshape(sets, n, -1).cpu().numpy(), dtype=np.float64)


def test_linear_confusion(prediction: dict[str, Any], grads: np.ndarray,
                          alpha: float) -> TestOutcome:
    """Bonferroni (``p = 2 min``) of: an exact two-sided binomial test of the pair failure
    rate on the disjoint pairs ``(0,1), (2,3), …`` of every set (independent), cosines by
    :func:`flatstart.theory.confusion.gradient_cosines`; and a one-sided exact test
    (Clopper–Pearson) that the sets satisfying the η-confusion bound
    (:func:`flatstart.theory.confusion.confusion_bound_holds`
    on the cosine matrix) are at least the predicted fraction."""
    eta = float(prediction["eta"])
    cos = np.stack([tconf.gradient_cosines(g) for g in grads])
    n = cos.shape[1]
    i = np.arange(0, n - 1, 2)
    fails = int(np.sum(cos[:, i, i + 1] < -eta))
    pairs = cos.shape[0] * i.size
    pair = stats.binomial_test(fails, pairs, float(prediction["p_fail"]), alpha)
    ok = np.array([tconf.confusion_bound_holds(c, eta) for c in cos])
    etas = np.array([tconf.confusion_eta(c) for c in cos])
    if not np.array_equal(ok, etas <= eta):  # pragma: no cover - a theory inconsistency
        ok = np.zeros_like(ok)
    delta = 1.0 - float(prediction["p_ok_bound"])
    union = stats.bound_violation_test(int(np.sum(~ok)), int(ok.size), delta, alpha)
    p = min(1.0, 2.0 * min(pair.p_value, union.p_value))
    return TestOutcome(pair.statistic, p, bool(p <= alpha), pairs,
                       {"pair": pair.to_dict(), "union": union.to_dict(),
                        "pair_fail_rate": fails / pairs, "p_fail": prediction["p_fail"],
                        "ok_rate": float(np.mean(ok)), "p_ok_bound": prediction["p_ok_bound"]})


def plot_linear_confusion(fig: Any, records: list[Any]) -> None:
    """Measured pair failure rate and η-confusion rate against the predictions, per point."""
    ax = fig.add_subplot(1, 1, 1)
    for k, r in enumerate(records):
        pred = r.prediction
        cos = np.stack([tconf.gradient_cosines(g) for g in r.measurement])
        n = cos.shape[1]
        i = np.arange(0, n - 1, 2)
        fail = float(np.mean(cos[:, i, i + 1] < -pred["eta"]))
        ok = float(np.mean([tconf.confusion_bound_holds(c, pred["eta"]) for c in cos]))
        ax.plot(k - 0.1, fail, "o", color="C3", label="pair failure rate" if k == 0 else None)
        ax.plot(k - 0.1, pred["p_fail"], "_", color="C3", ms=14)
        ax.plot(k + 0.1, ok, "s", color="C0", label="eta-confusion rate" if k == 0 else None)
        ax.plot(k + 0.1, pred["p_ok_bound"], "v", color="C0",
                label="union bound" if k == 0 else None)
    ax.set_xticks(range(len(records)))
    ax.set_xticklabels([f"d={r.params['d']} N={r.params['N']} eta={r.params['eta']}"
                        for r in records], fontsize=6)
    ax.set_ylabel("probability")
    ax.legend(fontsize=7)


# =============================================================================================
# GC.orthogonal-identity
# =============================================================================================


def predict_orthogonal(params: dict[str, Any]) -> Any:
    """The identity ``cos = sign(r_i r_j)⟨x̂_i, x̂_j⟩`` as a function of inputs and residuals."""
    return tconf.orthogonal_linear_cosine


def mutant_orthogonal_no_sign(x_i: Any, x_j: Any, r_i: Any, r_j: Any) -> Any:
    """Mutant: the identity without the residual sign, ``cos = ⟨x̂_i, x̂_j⟩``."""
    xi = np.asarray(x_i, dtype=np.float64)
    xj = np.asarray(x_j, dtype=np.float64)
    c = np.sum(xi * xj, axis=-1) / (np.linalg.norm(xi, axis=-1) * np.linalg.norm(xj, axis=-1))
    return np.broadcast_to(c, np.broadcast(np.asarray(r_i), np.asarray(r_j)).shape).copy()


def mutant_orthogonal(params: dict[str, Any]) -> Any:
    """Drop the sign of the residuals."""
    return mutant_orthogonal_no_sign


def _linear_net_cosines(init: str, params: dict[str, Any], count: int, seed: int,
                        device: str) -> dict[str, np.ndarray]:
    torch = _torch()
    from flatstart.montecarlo.data import sphere_inputs
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import cosines_from_gram, per_sample_gram

    depth, width, d, n = (int(params[k]) for k in ("depth", "width", "input_dim", "samples"))
    s_net, s_data = _seeds(seed, 2)
    nets = mlps(count, width, depth, activation="linear", init=init, input_dim=d,
                output_dim=1, seed=s_net, device=device)
    ds = sphere_inputs(n, d, labels="gaussian", seed=s_data, device=device)
    with torch.no_grad():
        r = (nets(ds.x) - ds.y).squeeze(-1)
    cos = cosines_from_gram(per_sample_gram(nets, ds.x, ds.y))
    i, j = np.triu_indices(n, 1)
    return {"x": ds.x.cpu().numpy(), "r": r.cpu().numpy(), "cos": cos[:, i, j].cpu().numpy()}


def simulate_orthogonal(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Per-sample gradient cosines of deep linear torch nets, orthogonal and Gaussian init.

    ``mlps(..., activation="linear", init="orthogonal")``: the first layer ``(n, d)`` with
    ``n ≥ d`` has orthonormal columns (isometric), the square layers are Haar orthogonal, the
    readout a random unit row. Also the same with ``init="lecun_normal"`` (``N(0, 1/n_in)``)
    for the figure. Returns inputs, residuals ``r = f(x) − y`` and the cosines of the pairs
    ``i < j`` (row-major).
    """
    count = int(by_budget(budget, quick=40, standard=200, full=1000))
    s_o, s_g = _seeds(seed, 2)
    orth = _linear_net_cosines("orthogonal", params, count, s_o, device)
    gauss = _linear_net_cosines("lecun_normal", params, count, s_g, device)
    return {"orth": orth, "gauss": gauss}


def _pairs(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, ...]:
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    return x[i], x[j], r[:, i], r[:, j]


def test_orthogonal(prediction: Any, measurement: dict[str, Any], alpha: float) -> TestOutcome:
    """Identity to round-off: ``|cos − predicted| ≤ 1e-10`` for every pair of every network."""
    m = measurement["orth"]
    pred = prediction(*_pairs(m["x"], m["r"]))
    return stats.identity_test(m["cos"], pred, rtol=0.0, atol=1e-10, alpha=alpha)


def plot_orthogonal(fig: Any, records: list[Any]) -> None:
    """Max deviation from the identity against depth: orthogonal (round-off) vs Gaussian."""
    ax = fig.add_subplot(1, 1, 1)
    depths: list[int] = []
    dev_o: list[float] = []
    dev_g: list[float] = []
    med_g: list[float] = []
    for r in sorted(records, key=lambda rec: rec.params["depth"]):
        fn = r.prediction if r.prediction is not None else tconf.orthogonal_linear_cosine
        for key, out in (("orth", dev_o), ("gauss", dev_g)):
            m = r.measurement[key]
            dev = np.abs(m["cos"] - fn(*_pairs(m["x"], m["r"])))
            out.append(max(float(dev.max()), 1e-18))
            if key == "gauss":
                med_g.append(float(np.median(dev)))
        depths.append(r.params["depth"])
    ax.semilogy(depths, dev_o, "o-", color="C0", label="orthogonal init: max |dev|")
    ax.semilogy(depths, dev_g, "s-", color="C3", label="Gaussian N(0,1/n) init: max |dev|")
    ax.semilogy(depths, med_g, "s--", color="C3", alpha=0.6, label="Gaussian: median |dev|")
    ax.axhline(1e-10, color="0.5", ls=":", label="tolerance 1e-10")
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("|cos - sign(r_i r_j)<x_i, x_j>|")
    ax.legend(fontsize=7)


# =============================================================================================
# GC.width-depth
# =============================================================================================

_WD_WIDTHS = (16, 32, 64, 128, 256)
_WD_DEPTHS = (1, 2, 3, 4, 6, 8)


def _unrolled_normalized_ntk(rho0: float, depth: int) -> float:
    """``Θ_L(ρ₀)/(L+1)`` from the arc-cosine kernels, unrolled:
    ``Θ_L = Σ_{k=1}^{L+1} ρ_{k−1} ∏_{l=k}^{L} Σ̇(ρ_{l−1})``, ``ρ_l = Σ(ρ_{l−1})``, with ``Σ``
    :func:`flatstart.theory.ntk.arccos_kernel` and ``Σ̇``
    :func:`flatstart.theory.ntk.arccos_kernel_derivative`."""
    rhos = [float(rho0)]
    for _ in range(depth):
        rhos.append(float(tntk.arccos_kernel(rhos[-1])))
    total = 0.0
    for k in range(1, depth + 2):
        term = rhos[k - 1]
        for lay in range(k, depth + 1):
            term *= float(tntk.arccos_kernel_derivative(rhos[lay - 1]))
        total += term
    return total / (depth + 1)


def predict_width_depth(params: dict[str, Any]) -> dict[str, Any]:
    """Trend points: the sign of the slope (GC Thms 4.1/4.2: spread falls with width, rises
    with depth; an empirical observation, the theorems bound probabilities and give no value
    of the spread). NTK points: ``Θ_L(ρ₀)/(L+1)`` by the recursion
    (:func:`flatstart.theory.ntk.normalized_ntk`), by the unrolled sum of arc-cosine kernels and by
    the quadrature reference (:func:`flatstart.theory.ntk.ntk_reference`) [ref: arc-cosine kernels];
    each is tested against the measurement."""
    part = params["part"]
    if part == "width":
        return {"part": part, "direction": -1}
    if part == "depth":
        return {"part": part, "direction": 1}
    rho0, depth = float(params["rho0"]), int(params["depth"])
    return {"part": part, "mean": float(tntk.normalized_ntk(rho0, depth)),
            "mean_unrolled": _unrolled_normalized_ntk(rho0, depth),
            "mean_reference": float(tntk.ntk_reference(rho0, depth)) / (depth + 1)}


def mutant_width_depth(params: dict[str, Any]) -> dict[str, Any]:
    """Opposite trends (confusion spread rising with width / falling with depth); the NNGP
    correlation ``ρ_L`` instead of the normalized NTK for the mean."""
    part = params["part"]
    if part == "width":
        return {"part": part, "direction": 1}
    if part == "depth":
        return {"part": part, "direction": -1}
    wrong = float(tntk.nngp_correlation(float(params["rho0"]), int(params["depth"])))
    return {"part": part, "mean": wrong, "mean_unrolled": wrong, "mean_reference": wrong}


def _chunks(count: int, width: int, depth: int, seed: int,
            max_entries: int = 20_000_000) -> list[tuple[int, int]]:
    """Split ``count`` networks into chunks of at most ``max_entries`` weights (160 MB in
    float64), each with its own derived seed: ``[(size, seed), ...]``."""
    per_net = max(1, width * width * depth)
    size = max(1, min(count, max_entries // per_net))
    sizes = [min(size, count - k) for k in range(0, count, size)]
    if len(sizes) == 1:
        return [(count, seed)]
    return list(zip(sizes, _seeds(seed, len(sizes)), strict=True))


def _spread(width: int, depth: int, count: int, x: Any, y: Any, seed: int,
            device: str) -> np.ndarray:
    """Per network: log of the standard deviation over pairs of loss-gradient cosines."""
    torch = _torch()
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import ntk_gram

    n = x.shape[0]
    i, j = torch.triu_indices(n, n, 1)
    out = []
    for size, s in _chunks(count, width, depth, seed):
        nets = mlps(size, width, depth + 1, input_dim=x.shape[1], output_dim=1, seed=s,
                    device=device)
        g = ntk_gram(nets, x, y)
        dg = torch.sqrt(torch.diagonal(g, dim1=1, dim2=2))
        c = (g / (dg[:, :, None] * dg[:, None, :]))[:, i, j]
        out.append(torch.log(c.std(dim=1)).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def _pair_cosines(width: int, depth: int, rho0: float, count: int, seed: int,
                  device: str) -> np.ndarray:
    """Cosine of the output gradients of two inputs with ``⟨x̂, x̂'⟩ = ρ₀``, one per network."""
    torch = _torch()
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import ntk_gram

    n0 = 16
    x = torch.zeros(2, n0, dtype=torch.float64, device=device)
    x[0, 0] = 1.0
    x[1, 0] = rho0
    x[1, 1] = math.sqrt(1.0 - rho0 * rho0)
    x = x * math.sqrt(n0 / 2.0)  # He first layer on ‖x‖² = n0/2 = NTK first layer on unit x
    out = []
    for size, s in _chunks(count, width, depth, seed):
        nets = mlps(size, width, depth + 1, input_dim=n0, output_dim=1, seed=s, device=device)
        g = ntk_gram(nets, x)
        out.append((g[:, 0, 1] / torch.sqrt(g[:, 0, 0] * g[:, 1, 1])).cpu().numpy())
    return np.concatenate(out)


def simulate_width_depth(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Real He-initialized ReLU MLPs (``depth`` hidden layers + linear readout), per-sample
    gradients in the NTK parametrization (:func:`flatstart.montecarlo.per_sample.ntk_gram`).

    Trend points: one fixed data set (16 points on ``S^15``, sign labels), ``count`` independent
    networks per width (depth 4) or per depth (width 64); per network the log standard
    deviation over the 120 pairs of the loss-gradient cosines.
    NTK points: the output-gradient cosine of two inputs at correlation ρ₀ for ``count``
    networks at widths n and 2n (for a Richardson extrapolation removing the O(1/n) bias).
    """
    torch = _torch()
    from flatstart.montecarlo.data import sphere_inputs

    part = params["part"]
    if part in ("width", "depth"):
        count = int(by_budget(budget, quick=40, standard=200, full=1000))
        s_data, *s_nets = _seeds(seed, 1 + max(len(_WD_WIDTHS), len(_WD_DEPTHS)))
        ds = sphere_inputs(16, 16, labels="sign", seed=s_data, device=device)
        x = ds.x * math.sqrt(16 / 2.0)
        xs: list[float] = []
        ys: list[np.ndarray] = []
        if part == "width":
            for k, w in enumerate(_WD_WIDTHS):
                ys.append(_spread(w, int(params["depth"]), count, x, ds.y, s_nets[k], device))
                xs += [math.log2(w)] * count
        else:
            for k, L in enumerate(_WD_DEPTHS):
                ys.append(_spread(int(params["width"]), L, count, x, ds.y, s_nets[k], device))
                xs += [float(L)] * count
        del torch
        return {"part": part, "x": np.array(xs), "y": np.concatenate(ys)}
    width = int(by_budget(budget, quick=64, standard=128, full=256))
    count = int(by_budget(budget, quick=400, standard=1000, full=4000))
    s1, s2 = _seeds(seed, 2)
    rho0, depth = float(params["rho0"]), int(params["depth"])
    return {"part": part, "width": width,
            "cos_n": _pair_cosines(width, depth, rho0, count, s1, device),
            "cos_2n": _pair_cosines(2 * width, depth, rho0, count, s2, device)}


def test_width_depth(prediction: dict[str, Any], m: dict[str, Any], alpha: float) -> TestOutcome:
    """Trend points: OLS slope t test made one-sided (``H0: direction·slope ≥ 0``).
    NTK points: Student t test of the Richardson combination ``2 cos(2n) − cos(n)`` (paired
    across independent networks), whose mean is the infinite-width value up to O(1/n²)."""
    if prediction["part"] in ("width", "depth"):
        return stats.trend_test(m["x"], m["y"], 0.0, alpha,
                                alternative=_alternative(int(prediction["direction"])))
    comb = 2.0 * m["cos_2n"] - m["cos_n"]
    # one t test per *distinct* predicted value (the three theory routes agree to round-off
    # under the truth, so Bonferroni then costs nothing; a fault in one route adds a test)
    keys: list[str] = []
    for k in ("mean", "mean_unrolled", "mean_reference"):
        v = prediction.get(k)
        if v is not None and all(abs(float(v) - float(prediction[j]))
                                 > 1e-9 * (1.0 + abs(float(v))) for j in keys):
            keys.append(k)
    outs = {k: stats.mean_test(comb, float(prediction[k]), alpha) for k in keys}
    p, i = stats.bonferroni(o.p_value for o in outs.values())
    worst = list(outs.values())[i]
    return TestOutcome(worst.statistic, p, bool(p <= alpha), worst.n,
                       {"combination": "bonferroni", **{k: o.to_dict() for k, o in outs.items()}})


def plot_width_depth(fig: Any, records: list[Any]) -> None:
    """Spread vs log2 width and vs depth with fitted slopes; NTK mean vs depth."""
    from flatstart.validation.plots import plot_trend

    axes = fig.subplots(1, 3)
    ntk_pts = []
    for r in records:
        m = r.measurement
        if m["part"] in ("width", "depth"):
            ax = axes[0] if m["part"] == "width" else axes[1]
            fit = np.polyfit(m["x"], m["y"], 1)
            plot_trend(ax, m["x"], m["y"], (float(fit[0]), float(fit[1])), 0.0,
                       xlabel="log2 width" if m["part"] == "width" else "depth (hidden layers)",
                       ylabel="log sd of pairwise cosines")
            claim = "< 0" if m["part"] == "width" else "> 0"
            ax.set_title(f"claim: slope {claim} (dashed: slope 0); fit {fit[0]:.3g}, "
                         f"p={r.outcome.p_value:.2g}" if r.outcome else m["part"], fontsize=7)
        else:
            ntk_pts.append(r)
    ax = axes[2]
    if ntk_pts:
        ntk_pts.sort(key=lambda rec: rec.params["depth"])
        ds = np.array([r.params["depth"] for r in ntk_pts])
        rho0 = float(ntk_pts[0].params["rho0"])
        grid = np.arange(0, max(ds) + 2)
        ax.plot(grid, [tntk.normalized_ntk(rho0, int(g)) for g in grid], "-", color="C0",
                label="NTK  Theta_L/(L+1)")
        ax.plot(grid, [tntk.nngp_correlation(rho0, int(g)) for g in grid], ":", color="C3",
                label="mutant: NNGP rho_L")
        for r in ntk_pts:
            m = r.measurement
            comb = 2 * m["cos_2n"] - m["cos_n"]
            se = comb.std(ddof=1) / math.sqrt(comb.size)
            ax.errorbar(r.params["depth"], comb.mean(), yerr=2.58 * se, fmt="o", color="k",
                        ms=4, capsize=3)
            ax.plot(r.params["depth"], m["cos_n"].mean(), "x", color="0.5")
        ax.plot([], [], "ok", label="Richardson 2c(2n)-c(n), 99% CI")
        ax.plot([], [], "x", color="0.5", label="width n")
        ax.set_xlabel("hidden layers L")
        ax.set_ylabel(f"mean cos of output gradients, rho0={rho0}")
        ax.legend(fontsize=6)


# =============================================================================================
# GC.noise-identity
# =============================================================================================


def predict_noise_identity(params: dict[str, Any]) -> Any:
    """``(N, |G|², tr Σ_N) ↦ |G|² − tr Σ_N/(N−1)`` [derived, exact]."""
    return tnoise.mean_pairwise_inner_product


def mutant_noise_wrong_divisor(N: int, G_norm_sq: float, trace_sigma: float) -> float:
    """Mutant: ``|G|² − tr Σ_N/N`` (the unbiased-covariance form applied to the divisor-N Σ)."""
    return float(tnoise.mean_pairwise_inner_product(N, G_norm_sq, trace_sigma, ddof=1))


def mutant_noise_identity(params: dict[str, Any]) -> Any:
    """The wrong divisor."""
    return mutant_noise_wrong_divisor


def simulate_noise_identity(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Per-sample gradients of torch MLPs (bias, torch default init) on N points: the mean
    off-diagonal inner product from the Gram matrix, and ``|G|²``, ``tr Σ_N`` from
    :func:`flatstart.montecarlo.confusion.noise_scale` (divisor N)."""
    from flatstart.montecarlo.confusion import noise_scale, pairwise_offdiag
    from flatstart.montecarlo.data import teacher_dataset
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import (
        flat_per_sample,
        gram_from_gradients,
        per_sample_gradients,
    )

    count = int(by_budget(budget, quick=8, standard=64, full=256))
    n = int(params["samples"])
    s_net, s_data = _seeds(seed, 2)
    nets = mlps(count, int(params["width"]), int(params["depth"]), input_dim=8, output_dim=1,
                bias=True, init="torch_default", seed=s_net, device=device)
    ds = teacher_dataset(n, 8, seed=s_data, device=device)
    grads = per_sample_gradients(nets, ds.x, ds.y, loss="mse")
    inner, _ = pairwise_offdiag(gram_from_gradients(grads))
    ns = noise_scale(nets, ds, loss="mse", grads=grads, ddof=0)
    flat = flat_per_sample(grads)[:4]
    return {"N": n, "lhs": inner.mean(dim=1).cpu().numpy(),
            "g2": ns.grad_sq_norm.cpu().numpy(), "trace": ns.trace_cov.cpu().numpy(),
            "grads": flat.detach().cpu().numpy().astype(np.float64)}


def test_noise_identity(prediction: Any, m: dict[str, Any], alpha: float) -> TestOutcome:
    """Identity to round-off, relative to the size of the two terms: ``atol = 1e-10 ·
    max(|G|² + tr Σ/(N−1))``."""
    n = int(m["N"])
    rhs = np.array([prediction(n, float(g), float(t)) for g, t in zip(m["g2"], m["trace"],
                                                                      strict=True)])
    scale = float(np.max(m["g2"] + m["trace"] / (n - 1)))
    out = stats.identity_test(m["lhs"], rhs, rtol=0.0, atol=1e-10 * scale, alpha=alpha)
    if "grads" not in m:
        return out
    # both sides again from the raw gradients of the first networks, by the numpy reference
    # (flatstart.theory.noise.pairwise_identity_sides): they must match the torch Gram-matrix side
    k = len(m["grads"])
    sides = np.array([tnoise.pairwise_identity_sides(g) for g in m["grads"]])
    ref = stats.identity_test(sides.ravel(), np.repeat(m["lhs"][:k], 2), rtol=0.0,
                              atol=1e-10 * scale, alpha=alpha)
    p = min(out.p_value, ref.p_value)
    return TestOutcome(max(out.statistic, ref.statistic), p, bool(p <= alpha), out.n,
                       {"identity": out.to_dict(), "reference_sides": ref.to_dict()})


def plot_noise_identity(fig: Any, records: list[Any]) -> None:
    """Relative error of the identity and of the mutant, per network (log scale)."""
    ax = fig.add_subplot(1, 1, 1)
    for k, r in enumerate(records):
        m = r.measurement
        n = int(m["N"])
        scale = m["g2"] + m["trace"] / (n - 1)
        good = [tnoise.mean_pairwise_inner_product(n, g, t) for g, t in zip(m["g2"], m["trace"],
                                                                            strict=True)]
        bad = [mutant_noise_wrong_divisor(n, g, t) for g, t in zip(m["g2"], m["trace"],
                                                                   strict=True)]
        x = np.full(len(good), k, dtype=float)
        ax.semilogy(x - 0.1, np.maximum(np.abs(m["lhs"] - good) / scale, 1e-18), "o",
                    color="C0", label="identity (divisor N)" if k == 0 else None)
        ax.semilogy(x + 0.1, np.abs(m["lhs"] - bad) / scale, "x", color="C3",
                    label="mutant (divisor N-1)" if k == 0 else None)
    ax.axhline(1e-10, color="0.5", ls=":", label="tolerance")
    ax.set_xticks(range(len(records)))
    ax.set_xticklabels([f"w={r.params['width']}, L={r.params['depth']}" for r in records],
                       fontsize=7)
    ax.set_ylabel("|lhs - rhs| / (|G|^2 + tr S/(N-1))")
    ax.legend(fontsize=7)


# =============================================================================================
# GC.minibatch-cosine
# =============================================================================================


def minibatch_cosine_from_noise(B: float, trace_sigma: float, grad_norm_sq: float) -> float:
    """``1/(1 + B_simple/B)`` with ``B_simple = tr Σ/|G|²``
    (:func:`flatstart.theory.noise.b_simple`,
    :func:`flatstart.theory.noise.minibatch_pair_cosine`)."""
    return float(tnoise.minibatch_pair_cosine(B, tnoise.b_simple(trace_sigma, grad_norm_sq)))


def predict_minibatch(params: dict[str, Any]) -> Any:
    """``(B, tr Σ, |G|²) ↦ 1/(1 + B_simple/B)``, ``B_simple = tr Σ/|G|²`` [ref: McCandlish et
    al. 2018; derived exact as a ratio of expectations for with-replacement batches]."""
    return minibatch_cosine_from_noise


def mutant_minibatch_swapped(B: float, trace_sigma: float, grad_norm_sq: float) -> float:
    """Mutant: B and B_simple swapped, ``1/(1 + B/B_simple)``."""
    return float(1.0 / (1.0 + B * grad_norm_sq / trace_sigma))


def mutant_minibatch(params: dict[str, Any]) -> Any:
    """Swapped roles of B and B_simple."""
    return mutant_minibatch_swapped


def simulate_minibatch(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """A torch ReLU MLP (width ``width``, default 32) on a fixed teacher data set (``N``
    points, default 64): exact ``tr Σ``, ``|G|²`` and ``B_simple`` from its per-sample
    gradients (divisor-N covariance), ``pairs`` independent pairs of with-replacement batches
    of size B (their gradient inner products and squared norms), and as many independent
    batches of size 2B (squared norms, for the two-batch estimators)."""
    from flatstart.montecarlo.confusion import (
        noise_scale_from_gram,
        with_replacement_pair_products,
    )
    from flatstart.montecarlo.data import teacher_dataset
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.per_sample import per_sample_gram

    pairs = int(by_budget(budget, quick=4_000, standard=40_000, full=200_000))
    s_net, s_data, s_idx, s_big = _seeds(seed, 4)
    nets = mlps(1, int(params.get("width", 32)), 3, input_dim=8, output_dim=1, bias=True,
                init="torch_default", seed=s_net, device=device)
    ds = teacher_dataset(int(params.get("N", 64)), 8, seed=s_data, device=device)
    gram = per_sample_gram(nets, ds.x, ds.y, loss="mse")
    bs, tr, g2 = noise_scale_from_gram(gram, ddof=0)
    b = int(params["B"])
    r = with_replacement_pair_products(gram[0], b, pairs, seed=s_idx)
    big = with_replacement_pair_products(gram[0], 2 * b, pairs, seed=s_big)
    return {"B": b, "b_simple": float(bs[0]), "trace": float(tr[0]), "g2": float(g2[0]),
            "sq_big": big["sq1"].cpu().numpy(), **{k: v.cpu().numpy() for k, v in r.items()}}


def test_minibatch(prediction: Any, m: dict[str, Any], alpha: float) -> TestOutcome:
    """Bonferroni (``p = 3 min``) of three Student t tests. Cosine: ``E[⟨ḡ₁,ḡ₂⟩ − c
    (‖ḡ₁‖² + ‖ḡ₂‖²)/2] = 0`` with ``c`` the predicted ratio, exactly the ratio-of-expectations
    statement with iid terms (one per pair). Two-batch estimators
    (:func:`flatstart.theory.noise.two_batch_estimates` on ``‖ḡ_B‖²`` and an independent
    ``‖ḡ_{2B}‖²``): their means equal the exact ``|G|²`` and ``tr Σ`` (unbiased)."""
    c = float(prediction(m["B"], m["trace"], m["g2"]))
    z = m["inner"] - c * 0.5 * (m["sq1"] + m["sq2"])
    out = stats.mean_test(z, 0.0, alpha)
    g2_hat, tr_hat = tnoise.two_batch_estimates(int(m["B"]), 2 * int(m["B"]), m["sq1"],
                                                m["sq_big"])
    o_g2 = stats.mean_test(np.asarray(g2_hat), float(m["g2"]), alpha)
    o_tr = stats.mean_test(np.asarray(tr_hat), float(m["trace"]), alpha)
    p = min(1.0, 3.0 * min(out.p_value, o_g2.p_value, o_tr.p_value))
    ratio = float(np.mean(m["inner"]) / np.mean(0.5 * (m["sq1"] + m["sq2"])))
    cos = m["inner"] / np.sqrt(m["sq1"] * m["sq2"])
    return TestOutcome(out.statistic, p, bool(p <= alpha), out.n,
                       dict(out.details, predicted_ratio=c, measured_ratio=ratio,
                            mean_cosine=float(np.mean(cos)), b_simple=m["b_simple"],
                            two_batch_g2=o_g2.to_dict(), two_batch_trace=o_tr.to_dict()))


def plot_minibatch(fig: Any, records: list[Any]) -> None:
    """Measured ratio of expectations and mean cosine against B, with 1/(1 + B_simple/B)."""
    ax = fig.add_subplot(1, 1, 1)
    rs = sorted(records, key=lambda rec: rec.params["B"])
    bs = rs[0].measurement["b_simple"]
    grid = np.geomspace(0.5, 2 * max(r.params["B"] for r in rs), 200)
    ax.semilogx(grid, 1.0 / (1.0 + bs / grid), "-", color="C0",
                label=f"1/(1+B_simple/B), B_simple={bs:.3g}")
    ax.semilogx(grid, 1 / (1 + grid / bs), ":", color="C3", label="mutant 1/(1+B/B_simple)")
    for k, r in enumerate(rs):
        m = r.measurement
        v = 0.5 * (m["sq1"] + m["sq2"])
        ratio = np.mean(m["inner"]) / np.mean(v)
        cos = m["inner"] / np.sqrt(m["sq1"] * m["sq2"])
        ax.plot(m["B"], ratio, "o", color="k", label="E<g1,g2>/E|g|^2" if k == 0 else None)
        ax.plot(m["B"], np.mean(cos), "^", color="C2", label="mean cosine" if k == 0 else None)
    ax.set_xlabel("batch size B")
    ax.set_ylabel("cosine of two batch gradients")
    ax.legend(fontsize=7)


# =============================================================================================
# Quadratic finite sums (GC Thm 3.1 / 3.2)
# =============================================================================================


def _problem(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A finite sum of diagonal quadratics: ``a ~ U(0.5, 2)``, ``b ~ U(−1, 1)`` (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, (n, d)), rng.uniform(-1.0, 1.0, (n, d))


def _thm31_setup(params: dict[str, Any]) -> dict[str, Any]:
    """The problem of a GC.sgd-bound grid point. ``problem = "iso"``: the extremal case of
    Theorem 3.1, one isotropic quadratic (N = 1, every curvature ``a = 1.3``), where
    ``μ = L = a``, ``η = 0`` and ``E[F(w_T) − F*] = (1 − aα)^{2T}(F(w_0) − F*) = ρ^T(F(w_0) − F*)``
    exactly: the bound is an equality. Otherwise a seeded random finite sum."""
    if params["problem"] == "iso":
        a = np.full((1, 3), 1.3)
        b = np.random.default_rng(999).uniform(-1.0, 1.0, (1, 3))
    else:
        a, b = _problem(1000 + int(params["problem"]), int(params["N"]), 3)
    lr = float(params["lr_frac"]) * 2.0 / (a.shape[0] * a.max())
    w0 = np.full(3, float(params["w0"]))
    return {"a": a, "b": b, "lr": lr, "w0": w0, "T": int(params["T"])}


def _thm31_bound(params: dict[str, Any], eta_scale: float) -> dict[str, Any]:
    s = _thm31_setup(params)
    prob = tconf.QuadraticFiniteSum(s["a"], s["b"])
    gap0 = prob.value(s["w0"]) - prob.f_star
    bound = tconf.sgd_bound_thm31(s["T"], s["lr"], prob.n, prob.smoothness, prob.pl_constant,
                                  eta_scale * prob.confusion_eta_global, gap0)
    return {"bound": float(bound), "exact": tconf.thm31_lhs(prob, s["w0"], s["lr"], s["T"]),
            "tight": params["problem"] == "iso"}


def predict_sgd_bound(params: dict[str, Any]) -> dict[str, Any]:
    """GC Thm 3.1: ``bound = ρ^T(F(w_0) − F*) + αη/(1 − ρ)`` with L, μ, η of the problem
    [paper]; ``exact`` = the exact ``E[F(w_T)] − F*`` of the problem
    (:func:`flatstart.theory.confusion.thm31_lhs`) [derived]; ``tight``: the extremal case where the
    bound is an equality (N = 1 isotropic quadratic)."""
    return _thm31_bound(params, 1.0)


def mutant_sgd_bound(params: dict[str, Any]) -> dict[str, Any]:
    """The bound without the confusion term (η = 0): ``ρ^T(F(w_0) − F*)``."""
    return _thm31_bound(params, 0.0)


def simulate_sgd_bound(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``F(w_T) − F*`` of independent real single-sample SGD runs (torch)."""
    from flatstart.montecarlo.sgd import quadratic_sgd_gaps

    s = _thm31_setup(params)
    runs = int(by_budget(budget, quick=2_000, standard=20_000, full=200_000))
    return quadratic_sgd_gaps(s["a"], s["b"], s["w0"], s["lr"], s["T"], runs, seed=seed,
                              device=device)


def test_sgd_bound(prediction: dict[str, Any], gaps: np.ndarray, alpha: float) -> TestOutcome:
    """Bonferroni (``p = 2 min p_i``) of two parts. Bound: one-sided t test of
    ``H0: E[F(w_T) − F*] ≤ bound`` (the gap is bounded on these contracting problems, so the
    CLT applies); at the tight point (deterministic SGD, bound = exact value) the measured gap
    must equal the bound to ``1e-8`` relative (a rate ρ or a gap that is off breaks it). Exact:
    two-sided t test of ``E[F(w_T) − F*] = exact`` (identity to ``1e-8`` when deterministic)."""
    g = np.asarray(gaps, dtype=np.float64)
    bound, exact = float(prediction["bound"]), float(prediction["exact"])
    if prediction["tight"] or float(np.std(g)) == 0.0:
        b_out = stats.identity_test(np.array([g.mean()]), np.array([bound]), rtol=1e-8,
                                    atol=1e-300, alpha=alpha)
        e_out = stats.identity_test(np.array([g.mean()]), np.array([exact]), rtol=1e-8,
                                    atol=1e-300, alpha=alpha)
    else:
        b_out = stats.mean_test(g, bound, alpha, alternative="greater")
        e_out = stats.mean_test(g, exact, alpha)
    p = min(1.0, 2.0 * min(b_out.p_value, e_out.p_value))
    return TestOutcome(b_out.statistic, p, bool(p <= alpha), int(g.size),
                       {"bound": b_out.to_dict(), "exact": e_out.to_dict(),
                        "mean_gap": float(g.mean()), "predicted_bound": bound,
                        "predicted_exact": exact, "ratio_to_bound": float(g.mean() / bound)})


def plot_sgd_bound(fig: Any, records: list[Any]) -> None:
    """Mean gap with its 99% CI, the Thm 3.1 bound and the η = 0 mutant, per problem."""
    ax = fig.add_subplot(1, 1, 1)
    for k, r in enumerate(records):
        g = r.measurement
        se = g.std(ddof=1) / math.sqrt(g.size)
        ax.errorbar(k, g.mean(), yerr=2.58 * se, fmt="o", color="k", capsize=3,
                    label="E[F(w_T)-F*] (99% CI)" if k == 0 else None)
        ax.plot(k, predict_sgd_bound(r.params)["bound"], "v", color="C0", ms=8,
                label="Thm 3.1 bound" if k == 0 else None)
        ax.plot(k, predict_sgd_bound(r.params)["exact"], "_", color="C2", ms=10,
                label="exact E gap" if k == 0 else None)
        ax.plot(k, mutant_sgd_bound(r.params)["bound"], "x", color="C3", ms=8,
                label="mutant: no confusion term" if k == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(range(len(records)))
    ax.set_xticklabels([f"p{r.params['problem']} N={r.params['N']} w0={r.params['w0']} "
                        f"T={r.params['T']}" for r in records], fontsize=6, rotation=15)
    ax.set_ylabel("optimality gap")
    ax.legend(fontsize=7)


def _thm32_candidates(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The deterministic search space: for N ∈ {1, 2, 3}, T ∈ {1, 2, 4}, step fractions
    ``α·NL/2 ∈ {0.1, 0.5, 0.9}`` and ``problems`` seeded random problems of dimension ``d``,
    a start ``w_1 ~ U(−2, 2)^d`` (seeded)."""
    d = int(params["d"])
    out = []
    for n, t, frac, k in itertools.product((1, 2, 3), (1, 2, 4), (0.1, 0.5, 0.9),
                                           range(int(params["problems"]))):
        seed = 5000 + 97 * n + 13 * k + 1000 * d
        a, b = _problem(seed, n, d)
        w1 = np.random.default_rng(seed + 1).uniform(-2.0, 2.0, d)
        out.append({"a": a, "b": b, "w1": w1, "T": t, "lr": frac * 2.0 / (n * a.max())})
    return out


def predict_thm32(params: dict[str, Any]) -> dict[str, Any]:
    """Corrected Thm 3.2 bound on every candidate; the printed bound must be refuted.

    The search itself [derived]: on every candidate the theory side evaluates the exact
    ``min_k E‖∇F(w_k)‖²`` (:func:`flatstart.theory.confusion.thm32_lhs`) against the printed bound
    and records the candidates that violate it (``found``); η is the exact confusion bound along
    all SGD paths (:meth:`QuadraticFiniteSum.confusion_eta_along_paths`)."""
    printed, corrected, exact, etas, start = [], [], [], [], []
    for c in _thm32_candidates(params):
        prob = tconf.QuadraticFiniteSum(c["a"], c["b"])
        if c["T"] == 1 and prob.n >= 2:  # the only iterate is w_1: η from its gradients
            g = prob.grads(c["w1"])
            eta = tconf.confusion_eta(g @ g.T)
        else:
            eta = prob.confusion_eta_along_paths(c["w1"], c["lr"], c["T"] - 1)
        etas.append(eta)
        start.append(float(np.sum(prob.grad(c["w1"]) ** 2)))
        args = (c["T"], c["lr"], prob.n, prob.smoothness, eta, prob.gap(c["w1"]))
        printed.append(tconf.thm32_printed_bound(*args))
        corrected.append(tconf.thm32_corrected_bound(*args))
        exact.append(tconf.thm32_lhs(prob, c["w1"], c["lr"], c["T"]))
    p, cr, ex = np.array(printed), np.array(corrected), np.array(exact)
    found = np.flatnonzero(ex > p * (1 + 1e-9) + 1e-12)
    return {"bound": cr, "must_refute": p, "found": found.tolist(), "printed": p,
            "corrected": cr, "exact_lhs": ex, "eta": np.array(etas),
            "grad_sq_start": np.array(start)}


def mutant_thm32(params: dict[str, Any]) -> dict[str, Any]:
    """The printed Theorem 3.2 presented as correct (a bound that must hold everywhere)."""
    pred = predict_thm32(params)
    return {**pred, "bound": pred["printed"], "must_refute": None}


def simulate_thm32(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Exact ``min_{1≤k≤T} E‖∇F(w_k)‖²`` on every candidate, by enumerating all SGD paths
    with torch (:func:`flatstart.montecarlo.sgd.quadratic_sgd_path_moments`); the
    measured path-wise confusion η is kept for the report. Deterministic (no seed needed)."""
    from flatstart.montecarlo.sgd import quadratic_sgd_path_moments

    lhs, etas, start = [], [], []
    for c in _thm32_candidates(params):
        m = quadratic_sgd_path_moments(c["a"], c["b"], c["w1"], c["lr"], c["T"] - 1,
                                       device=device)
        g = np.asarray(m["grad_sq"], dtype=np.float64)
        lhs.append(float(np.min(g)))
        start.append(float(g[0]))
        etas.append(float(m["eta"]))
    return {"lhs": np.array(lhs), "eta": np.array(etas), "grad_sq_start": np.array(start)}


def test_thm32(prediction: dict[str, Any], m: dict[str, Any], alpha: float) -> TestOutcome:
    """Deterministic bound check (exact expectations, tolerance 1e-9 relative): p = 1 when the
    bound holds on every candidate and, if ``must_refute`` is given, the measured left side
    exceeds it on at least one candidate (the refuted printed bound); p = 0 otherwise. The
    measured left side, path-wise η and ``|∇F(w_1)|²`` must also equal the theory's exact
    values (:func:`flatstart.theory.confusion.thm32_lhs`, ...) to round-off."""
    lhs = np.asarray(m["lhs"], dtype=np.float64)
    bound = np.asarray(prediction["bound"], dtype=np.float64)
    tol = 1e-9 * np.abs(bound) + 1e-12
    viol = lhs > bound + tol
    out = stats.bound_violation_test(int(viol.sum()), lhs.size, 0.0, alpha)
    details: dict[str, Any] = dict(out.details, violations=np.flatnonzero(viol).tolist()[:20],
                                   max_ratio=float(np.max(lhs / bound)))
    p = out.p_value
    ref = prediction.get("must_refute")
    if ref is not None:
        ref = np.asarray(ref, dtype=np.float64)
        refuted = np.flatnonzero(lhs > ref * (1 + 1e-9) + 1e-12)
        details["printed_refuted_at"] = refuted.tolist()[:20]
        details["printed_refutations"] = int(refuted.size)
        details["theory_search_found"] = list(prediction.get("found", []))[:20]
        if refuted.size == 0:
            p = 0.0
            details["reason"] = "the printed bound was not refuted on any candidate"
    if prediction.get("exact_lhs") is not None:  # torch enumeration vs theory, to round-off
        ex = np.asarray(prediction["exact_lhs"], dtype=np.float64)
        den = np.abs(ex) + 1e-12 * float(np.max(np.abs(ex)))
        details["max_rel_diff_vs_theory_lhs"] = float(np.max(np.abs(lhs - ex) / den))
        ing = stats.identity_test(lhs, ex, rtol=1e-9, atol=1e-12 * float(np.max(np.abs(ex))),
                                  alpha=alpha)
        details["exact_lhs_identity"] = ing.to_dict()
        if ing.reject:
            p = 0.0
    # the ingredients, to round-off: η (path-wise confusion) and |∇F(w_1)|² measured by the
    # torch enumeration against theory (QuadraticFiniteSum.grads/grad, confusion_eta)
    for key in ("eta", "grad_sq_start"):
        if prediction.get(key) is not None and key in m:
            ing = stats.identity_test(np.asarray(m[key], dtype=np.float64),
                                      np.asarray(prediction[key], dtype=np.float64),
                                      rtol=1e-9, atol=1e-12, alpha=alpha)
            details[f"{key}_identity"] = ing.to_dict()
            if ing.reject:
                p = 0.0
    return TestOutcome(float(viol.sum()), p, bool(p <= alpha), lhs.size, details)


def plot_thm32(fig: Any, records: list[Any]) -> None:
    """Ratio of the measured left side to the printed and the corrected bound, every
    candidate (above 1 = the bound is violated)."""
    ax = fig.add_subplot(1, 1, 1)
    start = 0
    floor = 1e-4
    for k, r in enumerate(records):
        pred = r.prediction if r.prediction is not None else predict_thm32(r.params)
        lhs = np.asarray(r.measurement["lhs"], dtype=np.float64)
        idx = start + np.arange(lhs.size)
        ax.semilogy(idx, np.maximum(lhs / pred["printed"], floor), "x", color="C3", ms=4,
                    label="lhs / printed bound" if k == 0 else None)
        ax.semilogy(idx, np.maximum(lhs / pred["corrected"], floor), "o", color="C0", ms=3,
                    mfc="none", label="lhs / corrected bound" if k == 0 else None)
        ax.axvline(start - 0.5, color="0.8", lw=0.8)
        ax.text(start + 1, 3 * floor, f"d={r.params['d']}", fontsize=7)
        start += lhs.size
    ax.axhline(1.0, color="k", lw=1, label="ratio 1 (bound attained)")
    ax.set_xlabel("candidate problem (N, T, step, seed)")
    ax.set_ylabel(f"min_k E|grad F(w_k)|^2 / bound (floored at {floor:g})")
    ax.set_title("points above 1 violate the bound: printed (x) vs corrected (o)", fontsize=8)
    ax.legend(fontsize=7)


# =============================================================================================
# GC.bn-skip
# =============================================================================================


def predict_bn_skip(params: dict[str, Any]) -> dict[str, Any]:
    """BN + skip has a larger minimum mini-batch cosine (less confusion) [paper, empirical].

    No theory formula: GC §5 reports it as an experiment, and neither batch-norm nor skip
    connections enter :mod:`theory`; only the sign of the effect is predicted."""
    return {"direction": 1}


def mutant_bn_skip(params: dict[str, Any]) -> dict[str, Any]:
    """No difference or BN + skip increase confusion (direction ≤ 0)."""
    return {"direction": -1}


def simulate_bn_skip(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Mini-batch protocol (:func:`flatstart.montecarlo.confusion.minibatch_confusion`, direct
    backpropagation of each batch, so batch-norm uses the batch statistics): per network the
    minimum cosine over ``pairs`` pairs of disjoint batches of 8, for plain deep ReLU MLPs and
    for ``norm="batch", residual=1`` ones, on one data set (64 points on S^15, sign labels)."""
    from flatstart.montecarlo.confusion import minibatch_confusion
    from flatstart.montecarlo.data import sphere_inputs
    from flatstart.montecarlo.networks import mlps

    count = int(by_budget(budget, quick=12, standard=60, full=200))
    pairs = int(by_budget(budget, quick=10, standard=20, full=40))
    s_data, s_plain, s_bn, s_pairs = _seeds(seed, 4)
    ds = sphere_inputs(64, 16, labels="sign", seed=s_data, device=device)
    depth, width = int(params["depth"]), int(params["width"])
    plain = mlps(count, width, depth, input_dim=16, output_dim=1, seed=s_plain, device=device)
    bn = mlps(count, width, depth, input_dim=16, output_dim=1, norm="batch", residual=1.0,
              seed=s_bn, device=device)
    out = {}
    for name, nets in (("plain", plain), ("bn_skip", bn)):
        r = minibatch_confusion(nets, ds, 8, pairs, seed=s_pairs)
        out[name] = r["cos_min"].cpu().numpy()
        out[name + "_mean"] = r["cos_mean"].cpu().numpy()
    return out


def test_bn_skip(prediction: dict[str, Any], m: dict[str, Any], alpha: float) -> TestOutcome:
    """One-sided t test on the differences ``cos_min(BN+skip)_k − cos_min(plain)_k`` of
    independent networks (``H0: direction·E[diff] ≥ 0``)."""
    diff = m["bn_skip"] - m["plain"]
    return stats.mean_test(diff, 0.0, alpha,
                           alternative=_alternative(int(prediction["direction"])))


def plot_bn_skip(fig: Any, records: list[Any]) -> None:
    """Minimum and mean mini-batch cosine per network, plain vs BN + skip, per depth."""
    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        m = r.measurement
        ax.boxplot([m["plain"], m["bn_skip"], m["plain_mean"], m["bn_skip_mean"]])
        ax.set_xticks([1, 2, 3, 4])
        ax.set_xticklabels(["plain\nmin", "BN+skip\nmin", "plain\nmean", "BN+skip\nmean"],
                           fontsize=7)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_ylabel("mini-batch gradient cosine")
        ax.set_title(f"depth {r.params['depth']}, width {r.params['width']}", fontsize=8)


# =============================================================================================
# registration
# =============================================================================================

def _describe_orthogonal(prediction: Any) -> str:
    return "cos = sign(r_i r_j) <x_i, x_j>/(|x_i||x_j|)"


def _describe_noise(prediction: Any) -> str:
    return "|G|^2 - tr Sigma_N/(N-1)"


def _describe_minibatch(prediction: Any) -> str:
    return "1/(1 + B_simple/B)"


def _describe_thm32(prediction: dict[str, Any]) -> dict[str, Any]:
    return {"candidates": len(prediction["bound"]),
            "printed_violations_found_by_theory": len(prediction["found"])}


_COMMON: dict[str, Any] = {"family": "GC", "alpha": _ALPHA, "version": "1"}

register(Claim(
    id="GC.linear-cosine",
    title="Linear model at w = 0: gradient cosines follow a Beta law",
    source="derived (GC §4 setting: linear model, inputs uniform on the sphere)",
    statement=("For a linear model at w = 0 with inputs uniform on S^{d-1} and labels "
               "independent of the inputs, (1 + cos(grad l_i, grad l_j))/2 ~ "
               "Beta((d-1)/2, (d-1)/2); in particular Var cos = 1/d."),
    latex=r"\tfrac{1+\cos(\nabla\ell_i,\nabla\ell_j)}{2}\sim\mathrm{Beta}"
          r"\left(\tfrac{d-1}{2},\tfrac{d-1}{2}\right)",
    kind="distribution",
    grids={"quick": [{"d": 3}, {"d": 10}, {"d": 50}],
           "full": [{"d": d} for d in (2, 3, 5, 10, 20, 50, 100, 500)]},
    predict=predict_linear_cosine, simulate=simulate_linear_cosine, test=test_linear_cosine,
    mutant=mutant_linear_cosine, plot=plot_linear_cosine, describe_prediction=_describe_law,
    mutant_description="the law for dimension d - 1 (Var cos = 1/(d-1))", **_COMMON,
))

register(Claim(
    id="GC.linear-confusion",
    title="Linear model at w = 0: pair failure probability and the union bound on confusion",
    source="derived (GC §4 setting: linear model, inputs uniform on the sphere)",
    statement=("For a linear model at w = 0 with inputs uniform on S^{d-1} and labels "
               "independent of the inputs, P(cos(grad l_i, grad l_j) < -eta) = "
               "I_{(1-eta)/2}((d-1)/2, (d-1)/2), and N samples are eta-confused (all pairwise "
               "cosines >= -eta) with probability >= 1 - C(N, 2) P(cos < -eta)."),
    latex=r"P(\cos<-\eta)=I_{(1-\eta)/2}\left(\tfrac{d-1}2,\tfrac{d-1}2\right),\ "
          r"P\big(\min_{i\ne j}\cos\ge-\eta\big)\ge1-\tbinom N2P(\cos<-\eta)",
    kind="probability",
    grids={"quick": [{"d": 4, "N": 3, "eta": 0.6}, {"d": 10, "N": 4, "eta": 0.6},
                     {"d": 20, "N": 5, "eta": 0.45}],
           "standard": [{"d": 4, "N": 3, "eta": 0.6}, {"d": 10, "N": 4, "eta": 0.6},
                        {"d": 20, "N": 5, "eta": 0.45}, {"d": 40, "N": 6, "eta": 0.35},
                        {"d": 3, "N": 4, "eta": 0.2}]},
    predict=predict_linear_confusion, simulate=simulate_linear_confusion,
    test=test_linear_confusion, mutant=mutant_linear_confusion, plot=plot_linear_confusion,
    mutant_description="union bound without the C(N, 2) factor; pair law of dimension d + 2",
    **_COMMON,
))

register(Claim(
    id="GC.orthogonal-identity",
    title="Orthogonal deep linear nets: gradient cosines equal signed input cosines",
    source="derived (exact companion of GC Thm 6.1)",
    statement=("For a deep linear net with an isometric first layer and orthogonal square "
               "layers, cos(grad l_i, grad l_j) = sign(r_i r_j) <x_i/|x_i|, x_j/|x_j|> at "
               "every depth (r the residuals)."),
    latex=r"\cos(\nabla\ell_i,\nabla\ell_j)=\operatorname{sign}(r_ir_j)\,"
          r"\langle\hat x_i,\hat x_j\rangle",
    kind="identity",
    grids={"quick": [{"depth": L, "width": 32, "input_dim": 8, "samples": 12}
                     for L in (2, 4, 8, 16)],
           "full": [{"depth": L, "width": 64, "input_dim": 16, "samples": 16}
                    for L in (1, 2, 4, 8, 16, 32, 64)]},
    predict=predict_orthogonal, simulate=simulate_orthogonal, test=test_orthogonal,
    mutant=mutant_orthogonal, plot=plot_orthogonal,
    describe_prediction=_describe_orthogonal,
    mutant_description="the identity without the residual sign", **_COMMON,
))

register(Claim(
    id="GC.width-depth",
    title="Confusion spread falls with width, rises with depth; mean cosine -> normalized NTK",
    source="GC Thms 4.1/4.2 (monotone trends); arc-cosine NTK (Jacot et al. 2018, "
           "Arora et al. 2019) for the mean",
    statement=("At init (He ReLU MLPs, NTK parametrization), the spread of pairwise "
               "loss-gradient cosines decreases with width and increases with depth; the mean "
               "cosine of the output gradients of two inputs with correlation rho0 tends to "
               "Theta_L(rho0)/(L+1) as the width grows. The two trends are an empirical "
               "observation (GC Thms 4.1/4.2 bound probabilities of confusion and give no "
               "value of the spread to compare with); the NTK means carry the theory."),
    latex=r"\partial_{\log n}\,\mathrm{sd}\cos<0,\ \partial_L\,\mathrm{sd}\cos>0,\ "
          r"\mathbb{E}\cos(\nabla f(x),\nabla f(x'))\to\Theta_L(\rho_0)/(L+1)",
    kind="trend",
    grids={"quick": [{"part": "width", "depth": 4}, {"part": "depth", "width": 64},
                     {"part": "ntk", "depth": 1, "rho0": 0.0},
                     {"part": "ntk", "depth": 2, "rho0": 0.0},
                     {"part": "ntk", "depth": 3, "rho0": 0.5},
                     {"part": "ntk", "depth": 2, "rho0": -0.6}],
           "standard": [{"part": "width", "depth": 4}, {"part": "depth", "width": 64}]
           + [{"part": "ntk", "depth": L, "rho0": r} for L in (1, 2, 3, 5)
              for r in (0.0, 0.5)]
           + [{"part": "ntk", "depth": L, "rho0": -0.6} for L in (1, 3)]},
    predict=predict_width_depth, simulate=simulate_width_depth, test=test_width_depth,
    mutant=mutant_width_depth, plot=plot_width_depth,
    mutant_description=("opposite trend signs; the NNGP correlation rho_L instead of the "
                        "normalized NTK"), **_COMMON,
))

register(Claim(
    id="GC.noise-identity",
    title="Mean pairwise gradient inner product = |G|^2 - tr Sigma/(N-1)",
    source="derived (noise scale of McCandlish et al. 2018)",
    statement=("For per-sample gradients g_1..g_N with mean G and divisor-N covariance "
               "Sigma, (1/(N(N-1))) sum_{i != j} <g_i, g_j> = |G|^2 - tr Sigma/(N-1)."),
    latex=r"\frac{1}{N(N-1)}\sum_{i\ne j}\langle g_i,g_j\rangle=|G|^2-\frac{\operatorname{tr}"
          r"\Sigma_N}{N-1}",
    kind="identity",
    grids={"quick": [{"width": 32, "depth": 3, "samples": 16},
                     {"width": 16, "depth": 6, "samples": 9}],
           "standard": [{"width": 32, "depth": 3, "samples": 16},
                        {"width": 16, "depth": 6, "samples": 9},
                        {"width": 16, "depth": 2, "samples": 2},
                        {"width": 64, "depth": 4, "samples": 33}],
           "full": [{"width": w, "depth": L, "samples": n} for w in (16, 64)
                    for L in (2, 6) for n in (2, 16, 64)]},
    predict=predict_noise_identity, simulate=simulate_noise_identity, test=test_noise_identity,
    mutant=mutant_noise_identity, plot=plot_noise_identity,
    describe_prediction=_describe_noise,
    mutant_description="|G|^2 - tr Sigma_N/N (unbiased-covariance divisor on Sigma_N)",
    **_COMMON,
))

register(Claim(
    id="GC.minibatch-cosine",
    title="Two independent mini-batches: E<g1,g2>/E|g|^2 = 1/(1 + B_simple/B)",
    source="McCandlish et al. 2018 (noise scale); exact ratio-of-expectations form derived",
    statement=("For two independent with-replacement mini-batches of size B, "
               "E<g1, g2>/E|g_B|^2 = 1/(1 + B_simple/B) with B_simple = tr Sigma/|G|^2; the "
               "mean cosine is approximately this value (not tested). The two-batch estimators "
               "of |G|^2 and tr Sigma from |g_B|^2 and |g_2B|^2 are unbiased."),
    latex=r"\frac{\mathbb{E}\langle\bar g_1,\bar g_2\rangle}{\mathbb{E}\|\bar g\|^2}="
          r"\frac{1}{1+B_{\rm simple}/B}",
    kind="moment",
    grids={"quick": [{"B": b} for b in (1, 4, 64)] + [{"B": 8, "width": 16, "N": 24}],
           "standard": [{"B": b} for b in (1, 4, 16, 64)]
           + [{"B": 8, "width": 16, "N": 24}, {"B": 2, "width": 64, "N": 40}],
           "full": [{"B": b} for b in (1, 2, 4, 8, 16, 32, 64, 128)]
           + [{"B": 8, "width": 16, "N": 24}, {"B": 2, "width": 64, "N": 40}]},
    predict=predict_minibatch, simulate=simulate_minibatch, test=test_minibatch,
    mutant=mutant_minibatch, plot=plot_minibatch,
    describe_prediction=_describe_minibatch,
    mutant_description="B and B_simple swapped: 1/(1 + B/B_simple)", **_COMMON,
))

register(Claim(
    id="GC.sgd-bound",
    title="GC Theorem 3.1: SGD under gradient confusion converges to a noise floor",
    source="GC Thm 3.1",
    statement=("Each f_i L-smooth, F mu-PL, confusion bound eta, single-sample SGD with "
               "alpha < 2/(NL): E[F(w_T) - F*] <= rho^T (F(w_0) - F*) + alpha eta/(1 - rho), "
               "rho = 1 - (2 mu/N)(alpha - N L alpha^2/2). The bound is an equality for one "
               "isotropic quadratic (N = 1, mu = L, eta = 0), where it is checked to round-off; "
               "everywhere the measured mean gap also matches the exact E[F(w_T)] - F*."),
    latex=r"\mathbb{E}[F(w_T)-F^*]\le\rho^T(F(w_0)-F^*)+\frac{\alpha\eta}{1-\rho}",
    kind="bound",
    grids={"quick": [{"problem": 0, "N": 2, "w0": 0.0, "T": 200, "lr_frac": 0.5},
                     {"problem": 1, "N": 4, "w0": 2.0, "T": 300, "lr_frac": 0.5},
                     {"problem": 2, "N": 3, "w0": -1.0, "T": 50, "lr_frac": 0.9},
                     {"problem": 3, "N": 5, "w0": 3.0, "T": 5, "lr_frac": 0.3},
                     {"problem": "iso", "N": 1, "w0": 2.0, "T": 7, "lr_frac": 0.3},
                     {"problem": "iso", "N": 1, "w0": -1.5, "T": 3, "lr_frac": 0.8}],
           "standard": [{"problem": 0, "N": 2, "w0": 0.0, "T": 200, "lr_frac": 0.5},
                        {"problem": 1, "N": 4, "w0": 2.0, "T": 300, "lr_frac": 0.5},
                        {"problem": 2, "N": 3, "w0": -1.0, "T": 50, "lr_frac": 0.9},
                        {"problem": 3, "N": 5, "w0": 3.0, "T": 5, "lr_frac": 0.3},
                        {"problem": 4, "N": 8, "w0": -2.0, "T": 20, "lr_frac": 0.7},
                        {"problem": "iso", "N": 1, "w0": 2.0, "T": 7, "lr_frac": 0.3},
                        {"problem": "iso", "N": 1, "w0": -1.5, "T": 3, "lr_frac": 0.8},
                        {"problem": "iso", "N": 1, "w0": 0.5, "T": 20, "lr_frac": 0.1}],
           "full": [{"problem": p, "N": n, "w0": w, "T": t, "lr_frac": f}
                    for p in (0, 1) for n in (2, 4, 8) for w in (0.0, 2.0)
                    for t in (10, 300) for f in (0.2, 0.9)]
           + [{"problem": "iso", "N": 1, "w0": w, "T": t, "lr_frac": f}
              for w in (-1.5, 2.0) for t in (3, 20) for f in (0.1, 0.8)]},
    predict=predict_sgd_bound, simulate=simulate_sgd_bound, test=test_sgd_bound,
    mutant=mutant_sgd_bound, plot=plot_sgd_bound,
    mutant_description="bound without the confusion term (eta = 0)", **_COMMON,
))

register(Claim(
    id="GC.thm32-corrected",
    title="GC Theorem 3.2 as printed is refuted; the corrected form holds",
    source="GC Thm 3.2 (printed, ICLR-2020 text); corrected form derived",
    statement=("The printed bound min_k E|grad F(w_k)|^2 <= rho (F(w_1) - F*)/T + rho eta, "
               "rho = 2N/(2 - N L alpha), fails on a counterexample found by a deterministic "
               "search over quadratic finite sums, while the corrected bound "
               "rho (F(w_1) - F*)/(alpha T) + rho eta (N-1)/N holds on every searched problem."),
    latex=r"\min_k\mathbb{E}\|\nabla F(w_k)\|^2\le\frac{\rho(F(w_1)-F^*)}{\alpha T}+"
          r"\rho\eta\frac{N-1}{N}",
    kind="bound",
    grids={"quick": [{"d": 1, "problems": 2}, {"d": 2, "problems": 1}],
           "full": [{"d": d, "problems": 4} for d in (1, 2, 3)]},
    predict=predict_thm32, simulate=simulate_thm32, test=test_thm32, mutant=mutant_thm32,
    plot=plot_thm32,
    describe_prediction=_describe_thm32,
    mutant_description="the printed Theorem 3.2 presented as a valid bound", **_COMMON,
))

register(Claim(
    id="GC.bn-skip",
    title="Batch-norm plus skip connections lower confusion in deep ReLU nets at init",
    source="GC §5 (empirical)",
    statement=("At initialization, deep ReLU MLPs with batch-norm and residual connections "
               "have a larger minimum mini-batch gradient cosine (less confusion) than plain "
               "ones of the same width and depth. An empirical observation: no formula of "
               "theory/ predicts the size of the effect, so the claim tests only its sign."),
    latex=r"\mathbb{E}\min\cos_{\rm BN+skip}>\mathbb{E}\min\cos_{\rm plain}",
    kind="other",
    grids={"quick": [{"depth": 8, "width": 32}],
           "standard": [{"depth": L, "width": 64} for L in (8, 16, 32)]},
    predict=predict_bn_skip, simulate=simulate_bn_skip, test=test_bn_skip,
    mutant=mutant_bn_skip, plot=plot_bn_skip,
    mutant_description="no difference, or BN + skip increase confusion", **_COMMON,
))

GC_IDS: tuple[str, ...] = (
    "GC.linear-cosine", "GC.linear-confusion", "GC.orthogonal-identity", "GC.width-depth",
    "GC.noise-identity", "GC.minibatch-cosine", "GC.sgd-bound", "GC.thm32-corrected", "GC.bn-skip",
)
