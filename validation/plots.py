"""Plot helpers for claim authors, and the default figure of a claim run (matplotlib Agg).

Every helper draws on a given ``Axes`` and returns it; :func:`claim_figure` builds the figure of
one claim (the claim's own ``plot`` hook, else :func:`default_plot`) and stamps it with the
claim id, parameters, n, seed and verdict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from flatstart.validation.stats import dkw_epsilon  # noqa: E402

if TYPE_CHECKING:
    from flatstart.validation.claims import Claim, Result
    from flatstart.validation.sweeps import PointRecord

__all__ = [
    "VERDICT_COLORS",
    "claim_figure",
    "default_plot",
    "plot_cdf_vs_empirical",
    "plot_density_vs_hist",
    "plot_median_vs_depth",
    "plot_spectrum",
    "plot_trend",
    "save_figure",
]

VERDICT_COLORS: dict[str, str] = {
    "consistent": "#2e7d32",
    "refuted": "#c62828",
    "underpowered": "#ef6c00",
    "error": "#6a1b9a",
}


def plot_cdf_vs_empirical(
    ax: Axes, cdf: Callable[[np.ndarray], Any], samples: Any, alpha: float = 0.01,
    label: str = "exact CDF",
) -> Axes:
    r"""Empirical CDF of ``samples`` with its DKW band, and the exact CDF on top.

    The band ``F_n(x) +- sqrt(log(2/alpha)/(2n))`` covers the true CDF everywhere with
    probability >= 1 - alpha (Dvoretzky-Kiefer-Wolfowitz-Massart) [ref]; an exact CDF leaving
    it is a KS rejection at level alpha (the KS test is slightly sharper).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("samples must hold at least one value")
    fn = np.arange(1, n + 1) / n
    eps = dkw_epsilon(n, alpha)
    ax.step(x, fn, where="post", color="0.3", lw=1, label=f"empirical (n={n})")
    ax.fill_between(x, np.clip(fn - eps, 0, 1), np.clip(fn + eps, 0, 1), step="post",
                    color="0.7", alpha=0.4, label=f"DKW band, alpha={alpha:g}")
    lo, hi = x[0], x[-1]
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    grid = np.linspace(lo - pad, hi + pad, 400)
    ax.plot(grid, np.asarray(cdf(grid), dtype=np.float64), color="C0", lw=1.5, label=label)
    ax.set_ylabel("CDF")
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_density_vs_hist(
    ax: Axes, pdf: Callable[[np.ndarray], Any], samples: Any, bins: int | str = "auto",
    log: bool = False, label: str = "exact density",
) -> Axes:
    """Normalized histogram of ``samples`` with the exact density drawn over it."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("samples must hold at least one finite value")
    lo, hi = np.quantile(x, [0.005, 0.995]) if x.size > 200 else (x.min(), x.max())
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    ax.hist(x, bins=bins, range=(lo, hi), density=True, color="0.75", label=f"samples (n={x.size})")
    grid = np.linspace(lo, hi, 400)
    ax.plot(grid, np.asarray(pdf(grid), dtype=np.float64), color="C0", lw=1.5, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_median_vs_depth(
    ax: Axes, depths: Sequence[float], predicted: Sequence[float], measured: Sequence[float],
    ci: Sequence[Sequence[float]] | None = None, ylabel: str = "median",
) -> Axes:
    """Predicted curve and measured points (with a CI band) against depth, log y-axis.

    ``ci`` is a list of (low, high) per depth, e.g. from the binomial order-statistic interval.
    """
    d = np.asarray(depths, dtype=np.float64)
    ax.plot(d, np.asarray(predicted, dtype=np.float64), "-", color="C0", label="predicted")
    ax.plot(d, np.asarray(measured, dtype=np.float64), "o", color="C3", ms=4, label="measured")
    if ci is not None:
        band = np.asarray(ci, dtype=np.float64)
        ax.fill_between(d, band[:, 0], band[:, 1], color="C3", alpha=0.2, label="CI")
    ax.set_yscale("log")
    ax.set_xlabel("depth")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_trend(
    ax: Axes, x: Sequence[float], y: Sequence[float], slope_fit: tuple[float, float],
    predicted: float | tuple[float, float], xlabel: str = "x", ylabel: str = "y",
) -> Axes:
    """Data points, the fitted line ``(slope, intercept)`` and the predicted slope.

    ``predicted`` is a slope (drawn through the data's centroid) or ``(slope, intercept)``.
    """
    xx = np.asarray(x, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    ax.plot(xx, yy, "o", ms=3, color="0.4", label="measured")
    grid = np.linspace(xx.min(), xx.max(), 100)
    b, a = slope_fit
    ax.plot(grid, a + b * grid, "-", color="C3", label=f"fit, slope {b:.3g}")
    if isinstance(predicted, tuple):
        pb, pa = predicted
    else:
        pb = float(predicted)
        pa = float(yy.mean() - pb * xx.mean())
    ax.plot(grid, pa + pb * grid, "--", color="C0", label=f"predicted slope {pb:.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_spectrum(
    ax: Axes, eigenvalues: Any, density: Callable[[np.ndarray], Any] | None = None,
    bins: int = 60, support: tuple[float, float] | None = None, label: str = "predicted",
) -> Axes:
    """Histogram of eigenvalues (pooled over samples), with a predicted density if given.

    ``support`` marks predicted spectrum edges with vertical lines.
    """
    ev = np.asarray(eigenvalues, dtype=np.float64).ravel()
    ev = ev[np.isfinite(ev)]
    if ev.size == 0:
        raise ValueError("eigenvalues must hold at least one finite value")
    ax.hist(ev, bins=bins, density=True, color="0.75", label=f"eigenvalues (n={ev.size})")
    if density is not None:
        grid = np.linspace(ev.min(), ev.max(), 400)
        ax.plot(grid, np.asarray(density(grid), dtype=np.float64), color="C0", label=label)
    if support is not None:
        for edge in support:
            ax.axvline(edge, color="C0", ls=":", lw=1)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, loc="best")
    return ax


def default_plot(fig: Figure, records: Sequence[PointRecord], alpha: float = 0.01) -> None:
    """Default figure: per-point p-values (claim and mutant, log scale) and, for scalar
    predictions, measured-vs-predicted."""
    ax = fig.add_subplot(1, 1, 1)
    idx = np.arange(len(records))
    ps = [r.outcome.p_value if r.outcome is not None else math.nan for r in records]
    ms = [r.mutant.p_value if r.mutant is not None else math.nan for r in records]
    floor = 1e-300
    ax.semilogy(idx, np.maximum(ps, floor), "o", color="C0", label="claim p-value")
    ax.semilogy(idx, np.maximum(ms, floor), "x", color="C3", label="mutant p-value")
    ax.axhline(alpha, color="0.5", ls="--", lw=1, label=f"alpha = {alpha:g}")
    ax.set_xticks(idx)
    ax.set_xticklabels([_short_params(r.params) for r in records], rotation=30, ha="right",
                       fontsize=6)
    ax.set_ylabel("p-value (unadjusted)")
    ax.legend(fontsize=7, loc="best")


def _short_params(params: dict[str, Any], limit: int = 40) -> str:
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def claim_figure(
    claim: Claim, records: Sequence[PointRecord], result: Result | None = None
) -> Figure:
    """Figure of one claim run: the claim's ``plot`` hook (or :func:`default_plot`) plus a
    title with the claim id and verdict and a footer with parameters, n and seed.

    If the hook raises, the default figure is drawn instead and the error is printed on it.
    """
    fig = plt.figure(figsize=(8, 4.8))
    good = [r for r in records if r.error is None and r.outcome is not None]
    hook_error = None
    if claim.plot is not None and good and len(good) == len(records):
        try:
            from flatstart.validation.claims import ensure_predictions

            claim.plot(fig, ensure_predictions(claim, list(records)))
        except Exception as exc:  # the figure must not break the report
            fig.clf()
            hook_error = f"plot hook failed: {type(exc).__name__}: {exc}"
    if claim.plot is None or hook_error is not None or not good or len(good) != len(records):
        default_plot(fig, records, alpha=claim.alpha)
    verdict = result.verdict if result is not None else "?"
    n = result.n if result is not None else sum(r.outcome.n for r in good if r.outcome)
    seed = result.seed if result is not None else (records[0].seed if records else "?")
    p = result.p_value if result is not None else None
    title = f"{claim.id} — {verdict}" + (f" (p = {p:.3g})" if p is not None else "")
    fig.suptitle(title, color=VERDICT_COLORS.get(verdict, "black"), fontsize=11)
    params = json.dumps([r.params for r in records], default=str)
    if len(params) > 160:
        params = params[:157] + "..."
    footer = f"n = {n}, seed = {seed}, parameters: {params}"
    if hook_error:
        footer += f"\n{hook_error}"
    failed = [r for r in records if r.error]
    if failed:
        last = (failed[0].error or "").strip().splitlines()[-1:] or [""]
        footer += f"\nerror at {_short_params(failed[0].params)}: {last[0][:120]}"
    fig.text(0.01, 0.005, footer, fontsize=6, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 0.94))
    return fig


def save_figure(fig: Figure, stem: str) -> list[str]:
    """Write ``stem.png`` and ``stem.svg``; close the figure; return the two paths."""
    paths = [f"{stem}.png", f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
