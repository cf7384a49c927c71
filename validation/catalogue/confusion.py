"""Claim family GC: gradient confusion (Sankararaman, De, Xu, Huang, Goldstein, ICML 2020).

Claims (theory: :mod:`theory.confusion`, :mod:`theory.noise`, :mod:`theory.ntk`; Monte Carlo:
real torch networks from :mod:`montecarlo.networks` and real SGD runs,
:mod:`montecarlo.confusion`, :mod:`montecarlo.derivatives`, :mod:`montecarlo.gc_experiments`):

* ``GC.linear-cosine`` -- linear model at w = 0: ``(1 + cos)/2 ~ Beta((d−1)/2, (d−1)/2)`` (KS).
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
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from theory import confusion as tconf
from theory import noise as tnoise
from theory import ntk as tntk
from validation import stats
from validation.claims import Claim, by_budget, register
from validation.stats import TestOutcome

__all__ = ["GC_IDS"]

_ALPHA = 0.01


def _torch() -> Any:
    import torch

    return torch


def _seeds(seed: int, k: int) -> list[int]:
    """``k`` independent 31-bit seeds derived from a point seed."""
    ss = np.random.SeedSequence(int(seed)).generate_state(k)
    return [int(s) % (2**31 - 1) for s in ss]


def _alternative(direction: int) -> str:
    """The :mod:`validation.stats` alternative for ``H0: direction·θ ≥ 0``: rejected when
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


def simulate_linear_cosine(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """Cosines of per-sample gradients of a torch linear model at ``w = 0``, disjoint pairs.

    One ``mlps`` network of depth 1 (a linear readout ``f(x) = wᵀx``), weights set to 0;
    ``2n`` inputs uniform on ``S^{d−1}`` with Gaussian labels; per-sample gradients of
    ``½(f − y)²`` by :func:`montecarlo.derivatives.per_sample_gradients`; the cosine of samples
    ``2k`` and ``2k+1`` for ``k < n`` (independent pairs, as the KS test needs).
    """
    torch = _torch()
    from montecarlo.data import sphere_inputs
    from montecarlo.derivatives import per_sample_gradients
    from montecarlo.networks import mlps

    d = int(params["d"])
    n = int(by_budget(budget, quick=2_000, standard=20_000, full=100_000))
    s_net, s_data = _seeds(seed, 2)
    nets = mlps(1, 1, 1, activation="linear", init="lecun_normal", input_dim=d, output_dim=1,
                seed=s_net, device=device)
    with torch.no_grad():
        for p in nets.parameters():
            p.zero_()
    ds = sphere_inputs(2 * n, d, labels="gaussian", seed=s_data, device=device)
    g = per_sample_gradients(nets, ds.x, ds.y, flat=True, method="layerwise")[0]
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
    from validation.plots import plot_cdf_vs_empirical

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
    from montecarlo.data import sphere_inputs
    from montecarlo.derivatives import cosines_from_gram, per_sample_gram
    from montecarlo.networks import mlps

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


def predict_width_depth(params: dict[str, Any]) -> dict[str, Any]:
    """Trend points: the sign of the slope (GC Thms 4.1/4.2: spread falls with width, rises
    with depth). NTK points: ``Θ_L(ρ₀)/(L+1)`` [ref: arc-cosine kernels]."""
    part = params["part"]
    if part == "width":
        return {"part": part, "direction": -1}
    if part == "depth":
        return {"part": part, "direction": 1}
    return {"part": part, "mean": float(tntk.normalized_ntk(float(params["rho0"]),
                                                            int(params["depth"])))}


def mutant_width_depth(params: dict[str, Any]) -> dict[str, Any]:
    """Opposite trends (confusion spread rising with width / falling with depth); the NNGP
    correlation ``ρ_L`` instead of the normalized NTK for the mean."""
    part = params["part"]
    if part == "width":
        return {"part": part, "direction": 1}
    if part == "depth":
        return {"part": part, "direction": -1}
    return {"part": part, "mean": float(tntk.nngp_correlation(float(params["rho0"]),
                                                              int(params["depth"])))}


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
    from montecarlo.gc_experiments import ntk_gram
    from montecarlo.networks import mlps

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
    from montecarlo.gc_experiments import ntk_gram
    from montecarlo.networks import mlps

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
    gradients in the NTK parametrization (:func:`montecarlo.gc_experiments.ntk_gram`).

    Trend points: one fixed data set (16 points on ``S^15``, sign labels), ``count`` independent
    networks per width (depth 4) or per depth (width 64); per network the log standard
    deviation over the 120 pairs of the loss-gradient cosines.
    NTK points: the output-gradient cosine of two inputs at correlation ρ₀ for ``count``
    networks at widths n and 2n (for a Richardson extrapolation removing the O(1/n) bias).
    """
    torch = _torch()
    from montecarlo.data import sphere_inputs

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
    return stats.mean_test(comb, float(prediction["mean"]), alpha)


def plot_width_depth(fig: Any, records: list[Any]) -> None:
    """Spread vs log2 width and vs depth with fitted slopes; NTK mean vs depth."""
    from validation.plots import plot_trend

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
    :func:`montecarlo.confusion.noise_scale` (divisor N)."""
    from montecarlo.confusion import (
        gram_from_gradients,
        noise_scale,
        pairwise_offdiag,
        per_sample_gradients,
    )
    from montecarlo.data import teacher_dataset
    from montecarlo.networks import mlps

    count = int(by_budget(budget, quick=8, standard=64, full=256))
    n = int(params["samples"])
    s_net, s_data = _seeds(seed, 2)
    nets = mlps(count, int(params["width"]), int(params["depth"]), input_dim=8, output_dim=1,
                bias=True, init="torch_default", seed=s_net, device=device)
    ds = teacher_dataset(n, 8, seed=s_data, device=device)
    grads = per_sample_gradients(nets, ds.x, ds.y, loss="mse")
    inner, _ = pairwise_offdiag(gram_from_gradients(grads))
    ns = noise_scale(nets, ds, loss="mse", grads=grads, ddof=0)
    return {"N": n, "lhs": inner.mean(dim=1).cpu().numpy(),
            "g2": ns.grad_sq_norm.cpu().numpy(), "trace": ns.trace_cov.cpu().numpy()}


def test_noise_identity(prediction: Any, m: dict[str, Any], alpha: float) -> TestOutcome:
    """Identity to round-off, relative to the size of the two terms: ``atol = 1e-10 ·
    max(|G|² + tr Σ/(N−1))``."""
    n = int(m["N"])
    rhs = np.array([prediction(n, float(g), float(t)) for g, t in zip(m["g2"], m["trace"],
                                                                      strict=True)])
    scale = float(np.max(m["g2"] + m["trace"] / (n - 1)))
    return stats.identity_test(m["lhs"], rhs, rtol=0.0, atol=1e-10 * scale, alpha=alpha)


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


def predict_minibatch(params: dict[str, Any]) -> Any:
    """``(B, B_simple) ↦ 1/(1 + B_simple/B)`` [ref: McCandlish et al. 2018; derived exact as
    a ratio of expectations for with-replacement batches]."""
    return tnoise.minibatch_pair_cosine


def mutant_minibatch_swapped(B: float, b_simple_value: float) -> float:
    """Mutant: B and B_simple swapped, ``1/(1 + B/B_simple)``."""
    return float(1.0 / (1.0 + B / b_simple_value))


def mutant_minibatch(params: dict[str, Any]) -> Any:
    """Swapped roles of B and B_simple."""
    return mutant_minibatch_swapped


def simulate_minibatch(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """A torch ReLU MLP on a fixed teacher data set (N = 64): exact ``B_simple`` from its
    per-sample gradients (divisor-N covariance), and ``pairs`` independent pairs of
    with-replacement batches of size B (their gradient inner products and squared norms)."""
    from montecarlo.confusion import noise_scale_from_gram, per_sample_gram
    from montecarlo.data import teacher_dataset
    from montecarlo.gc_experiments import with_replacement_pair_products
    from montecarlo.networks import mlps

    pairs = int(by_budget(budget, quick=4_000, standard=40_000, full=200_000))
    s_net, s_data, s_idx = _seeds(seed, 3)
    nets = mlps(1, 32, 3, input_dim=8, output_dim=1, bias=True, init="torch_default",
                seed=s_net, device=device)
    ds = teacher_dataset(64, 8, seed=s_data, device=device)
    gram = per_sample_gram(nets, ds.x, ds.y, loss="mse")
    bs, _, _ = noise_scale_from_gram(gram, ddof=0)
    r = with_replacement_pair_products(gram[0], int(params["B"]), pairs, seed=s_idx)
    return {"B": int(params["B"]), "b_simple": float(bs[0]),
            **{k: v.cpu().numpy() for k, v in r.items()}}


def test_minibatch(prediction: Any, m: dict[str, Any], alpha: float) -> TestOutcome:
    """Student t test of ``E[⟨ḡ₁,ḡ₂⟩ − c (‖ḡ₁‖² + ‖ḡ₂‖²)/2] = 0`` with ``c`` the predicted
    ratio: exactly the ratio-of-expectations statement, with iid terms (one per pair)."""
    c = float(prediction(m["B"], m["b_simple"]))
    z = m["inner"] - c * 0.5 * (m["sq1"] + m["sq2"])
    out = stats.mean_test(z, 0.0, alpha)
    ratio = float(np.mean(m["inner"]) / np.mean(0.5 * (m["sq1"] + m["sq2"])))
    cos = m["inner"] / np.sqrt(m["sq1"] * m["sq2"])
    return TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                       dict(out.details, predicted_ratio=c, measured_ratio=ratio,
                            mean_cosine=float(np.mean(cos)), b_simple=m["b_simple"]))


def plot_minibatch(fig: Any, records: list[Any]) -> None:
    """Measured ratio of expectations and mean cosine against B, with 1/(1 + B_simple/B)."""
    ax = fig.add_subplot(1, 1, 1)
    rs = sorted(records, key=lambda rec: rec.params["B"])
    bs = rs[0].measurement["b_simple"]
    grid = np.geomspace(0.5, 2 * max(r.params["B"] for r in rs), 200)
    ax.semilogx(grid, tnoise.minibatch_pair_cosine(grid, bs), "-", color="C0",
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
    a, b = _problem(1000 + int(params["problem"]), int(params["N"]), 3)
    lr = float(params["lr_frac"]) * 2.0 / (a.shape[0] * a.max())
    w0 = np.full(3, float(params["w0"]))
    return {"a": a, "b": b, "lr": lr, "w0": w0, "T": int(params["T"])}


def predict_sgd_bound(params: dict[str, Any]) -> float:
    """GC Thm 3.1: ``ρ^T(F(w_0) − F*) + αη/(1 − ρ)`` with L, μ, η of the problem [paper]."""
    s = _thm31_setup(params)
    prob = tconf.QuadraticFiniteSum(s["a"], s["b"])
    return float(tconf.sgd_bound_thm31(s["T"], s["lr"], prob.n, prob.smoothness,
                                       prob.pl_constant, prob.confusion_eta_global,
                                       prob.gap(s["w0"])))


def mutant_sgd_bound(params: dict[str, Any]) -> float:
    """The bound without the confusion term (η = 0): ``ρ^T(F(w_0) − F*)``."""
    s = _thm31_setup(params)
    prob = tconf.QuadraticFiniteSum(s["a"], s["b"])
    return float(tconf.sgd_bound_thm31(s["T"], s["lr"], prob.n, prob.smoothness,
                                       prob.pl_constant, 0.0, prob.gap(s["w0"])))


def simulate_sgd_bound(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> np.ndarray:
    """``F(w_T) − F*`` of independent real single-sample SGD runs (torch)."""
    from montecarlo.gc_experiments import quadratic_sgd_gaps

    s = _thm31_setup(params)
    runs = int(by_budget(budget, quick=2_000, standard=20_000, full=200_000))
    return quadratic_sgd_gaps(s["a"], s["b"], s["w0"], s["lr"], s["T"], runs, seed=seed,
                              device=device)


def test_sgd_bound(prediction: float, gaps: np.ndarray, alpha: float) -> TestOutcome:
    """One-sided t test of ``H0: E[F(w_T) − F*] ≤ bound`` (the gap is bounded on these
    contracting problems, so the CLT applies)."""
    return stats.mean_test(gaps, prediction, alpha, alternative="greater")


def plot_sgd_bound(fig: Any, records: list[Any]) -> None:
    """Mean gap with its 99% CI, the Thm 3.1 bound and the η = 0 mutant, per problem."""
    ax = fig.add_subplot(1, 1, 1)
    for k, r in enumerate(records):
        g = r.measurement
        se = g.std(ddof=1) / math.sqrt(g.size)
        ax.errorbar(k, g.mean(), yerr=2.58 * se, fmt="o", color="k", capsize=3,
                    label="E[F(w_T)-F*] (99% CI)" if k == 0 else None)
        ax.plot(k, predict_sgd_bound(r.params), "v", color="C0", ms=8,
                label="Thm 3.1 bound" if k == 0 else None)
        ax.plot(k, mutant_sgd_bound(r.params), "x", color="C3", ms=8,
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
    ``min_k E‖∇F(w_k)‖²`` (:func:`theory.confusion.thm32_lhs`) against the printed bound and
    records the candidates that violate it (``found``); η is the exact confusion bound along
    all SGD paths (:meth:`QuadraticFiniteSum.confusion_eta_along_paths`)."""
    printed, corrected, exact = [], [], []
    for c in _thm32_candidates(params):
        prob = tconf.QuadraticFiniteSum(c["a"], c["b"])
        eta = prob.confusion_eta_along_paths(c["w1"], c["lr"], c["T"] - 1)
        args = (c["T"], c["lr"], prob.n, prob.smoothness, eta, prob.gap(c["w1"]))
        printed.append(tconf.thm32_printed_bound(*args))
        corrected.append(tconf.thm32_corrected_bound(*args))
        exact.append(tconf.thm32_lhs(prob, c["w1"], c["lr"], c["T"]))
    p, cr, ex = np.array(printed), np.array(corrected), np.array(exact)
    found = np.flatnonzero(ex > p * (1 + 1e-9) + 1e-12)
    return {"bound": cr, "must_refute": p, "found": found.tolist(), "printed": p,
            "corrected": cr, "exact_lhs": ex}


def mutant_thm32(params: dict[str, Any]) -> dict[str, Any]:
    """The printed Theorem 3.2 presented as correct (a bound that must hold everywhere)."""
    pred = predict_thm32(params)
    return {**pred, "bound": pred["printed"], "must_refute": None}


def simulate_thm32(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Exact ``min_{1≤k≤T} E‖∇F(w_k)‖²`` on every candidate, by enumerating all SGD paths
    with torch (:func:`montecarlo.gc_experiments.quadratic_sgd_path_moments`); the measured
    path-wise confusion η is kept for the report. Deterministic (no seed needed)."""
    from montecarlo.gc_experiments import quadratic_sgd_path_moments

    lhs, etas = [], []
    for c in _thm32_candidates(params):
        m = quadratic_sgd_path_moments(c["a"], c["b"], c["w1"], c["lr"], c["T"] - 1,
                                       device=device)
        lhs.append(float(np.min(m["grad_sq"])))
        etas.append(float(m["eta"]))
    return {"lhs": np.array(lhs), "eta": np.array(etas)}


def test_thm32(prediction: dict[str, Any], m: dict[str, Any], alpha: float) -> TestOutcome:
    """Deterministic bound check (exact expectations, tolerance 1e-9 relative): p = 1 when the
    bound holds on every candidate and, if ``must_refute`` is given, the measured left side
    exceeds it on at least one candidate (the refuted printed bound); p = 0 otherwise."""
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
    if prediction.get("exact_lhs") is not None:  # cross-check: torch enumeration vs theory
        ex = np.asarray(prediction["exact_lhs"], dtype=np.float64)
        den = np.abs(ex) + 1e-12 * float(np.max(np.abs(ex)))
        details["max_rel_diff_vs_theory_lhs"] = float(np.max(np.abs(lhs - ex) / den))
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
    """BN + skip has a larger minimum mini-batch cosine (less confusion) [paper, empirical]."""
    return {"direction": 1}


def mutant_bn_skip(params: dict[str, Any]) -> dict[str, Any]:
    """No difference or BN + skip increase confusion (direction ≤ 0)."""
    return {"direction": -1}


def simulate_bn_skip(
    params: dict[str, Any], seed: int, device: str, budget: str
) -> dict[str, Any]:
    """Mini-batch protocol (:func:`montecarlo.confusion.minibatch_confusion`, direct
    backpropagation of each batch, so batch-norm uses the batch statistics): per network the
    minimum cosine over ``pairs`` pairs of disjoint batches of 8, for plain deep ReLU MLPs and
    for ``norm="batch", residual=1`` ones, on one data set (64 points on S^15, sign labels)."""
    from montecarlo.confusion import minibatch_confusion
    from montecarlo.data import sphere_inputs
    from montecarlo.networks import mlps

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
               "Theta_L(rho0)/(L+1) as the width grows."),
    latex=r"\partial_{\log n}\,\mathrm{sd}\cos<0,\ \partial_L\,\mathrm{sd}\cos>0,\ "
          r"\mathbb{E}\cos(\nabla f(x),\nabla f(x'))\to\Theta_L(\rho_0)/(L+1)",
    kind="trend",
    grids={"quick": [{"part": "width", "depth": 4}, {"part": "depth", "width": 64},
                     {"part": "ntk", "depth": 1, "rho0": 0.0},
                     {"part": "ntk", "depth": 2, "rho0": 0.0},
                     {"part": "ntk", "depth": 3, "rho0": 0.0}],
           "standard": [{"part": "width", "depth": 4}, {"part": "depth", "width": 64}]
           + [{"part": "ntk", "depth": L, "rho0": r} for L in (1, 2, 3, 5)
              for r in (0.0, 0.5)]},
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
               "mean cosine is approximately this value (not tested)."),
    latex=r"\frac{\mathbb{E}\langle\bar g_1,\bar g_2\rangle}{\mathbb{E}\|\bar g\|^2}="
          r"\frac{1}{1+B_{\rm simple}/B}",
    kind="moment",
    grids={"quick": [{"B": b} for b in (1, 4, 64)],
           "full": [{"B": b} for b in (1, 2, 4, 8, 16, 32, 64, 128)]},
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
               "rho = 1 - (2 mu/N)(alpha - N L alpha^2/2)."),
    latex=r"\mathbb{E}[F(w_T)-F^*]\le\rho^T(F(w_0)-F^*)+\frac{\alpha\eta}{1-\rho}",
    kind="bound",
    grids={"quick": [{"problem": 0, "N": 2, "w0": 0.0, "T": 200, "lr_frac": 0.5},
                     {"problem": 1, "N": 4, "w0": 2.0, "T": 300, "lr_frac": 0.5},
                     {"problem": 2, "N": 3, "w0": -1.0, "T": 50, "lr_frac": 0.9}],
           "full": [{"problem": p, "N": n, "w0": w, "T": t, "lr_frac": f}
                    for p in (0, 1) for n in (2, 4, 8) for w in (0.0, 2.0)
                    for t in (10, 300) for f in (0.2, 0.9)]},
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
               "ones of the same width and depth."),
    latex=r"\mathbb{E}\min\cos_{\rm BN+skip}>\mathbb{E}\min\cos_{\rm plain}",
    kind="other",
    grids={"quick": [{"depth": 8, "width": 32}],
           "standard": [{"depth": L, "width": 64} for L in (8, 16, 32)]},
    predict=predict_bn_skip, simulate=simulate_bn_skip, test=test_bn_skip,
    mutant=mutant_bn_skip, plot=plot_bn_skip,
    mutant_description="no difference, or BN + skip increase confusion", **_COMMON,
))

GC_IDS: tuple[str, ...] = (
    "GC.linear-cosine", "GC.orthogonal-identity", "GC.width-depth", "GC.noise-identity",
    "GC.minibatch-cosine", "GC.sgd-bound", "GC.thm32-corrected", "GC.bn-skip",
)
