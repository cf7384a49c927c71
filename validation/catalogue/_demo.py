"""Toy claims that exercise the framework (not part of the real catalogue).

Registered only when this module is imported: explicitly (tests), or by the catalogue loader
when ``FLATSTART_DEMO_CLAIMS=1``. Each shows one verdict:

* ``DEMO.normal-mean``: the sample mean of N(mu, sigma^2) draws matches mu (t test);
  mutant mu + sigma/2. Consistent.
* ``DEMO.normal-cdf``: N(mu, sigma^2) samples follow the normal CDF (KS); mutant scale 2.
  Consistent.
* ``DEMO.wrong-mean``: predicts mean mu + 0.4 sigma for N(mu, sigma^2) draws. Refuted.
* ``DEMO.weak-mutant``: true prediction, mutant off by 1e-4 sigma. Underpowered.
* ``DEMO.broken``: simulate raises at its second grid point. Error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register

__all__ = ["DEMO_IDS"]

_GRID = [{"mu": 0.0, "sigma": 1.0}, {"mu": 2.0, "sigma": 0.5}, {"mu": -1.0, "sigma": 3.0}]


def _n(budget: str) -> int:
    return int(by_budget(budget, quick=400, standard=4_000, full=40_000))


def simulate_normal(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    """``n`` iid N(mu, sigma^2) draws (numpy; the device is irrelevant for a toy)."""
    rng = np.random.default_rng(seed)
    return params["mu"] + params["sigma"] * rng.standard_normal(_n(budget))


def predict_mean(params: dict[str, Any]) -> float:
    """E X = mu."""
    return float(params["mu"])


def mutant_mean(params: dict[str, Any]) -> float:
    """Wrong by half a standard deviation."""
    return float(params["mu"] + 0.5 * params["sigma"])


def wrong_mean(params: dict[str, Any]) -> float:
    """A false 'theory': mean mu + 0.4 sigma."""
    return float(params["mu"] + 0.4 * params["sigma"])


def wrong_mutant(params: dict[str, Any]) -> float:
    """Mutant of the false theory."""
    return float(params["mu"] - 0.5 * params["sigma"])


def weak_mutant(params: dict[str, Any]) -> float:
    """A mutant too close to the truth to be detected."""
    return float(params["mu"] + 1e-4 * params["sigma"])


def check_mean(prediction: float, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    """One-sample t test of the mean."""
    return stats.mean_test(samples, prediction, alpha)



def predict_cdf(params: dict[str, Any]) -> tuple[float, float]:
    """(loc, scale) of the normal law."""
    return float(params["mu"]), float(params["sigma"])


def mutant_cdf(params: dict[str, Any]) -> tuple[float, float]:
    """Scale twice too large."""
    return float(params["mu"]), 2.0 * float(params["sigma"])


def check_cdf(
    prediction: tuple[float, float], samples: np.ndarray, alpha: float
) -> stats.TestOutcome:
    """KS test against N(loc, scale^2)."""
    loc, scale = prediction
    return stats.ks_test(samples, lambda x: sps.norm.cdf(x, loc, scale), alpha)



def _normal_cdf(loc: float, scale: float) -> Any:
    def cdf(x: np.ndarray) -> np.ndarray:
        """Normal CDF with the given loc and scale."""
        return np.asarray(sps.norm.cdf(x, loc, scale))

    return cdf


def plot_cdf(fig: Any, records: list[Any]) -> None:
    """Exact CDF over the empirical CDF with the DKW band, one panel per grid point."""
    from flatstart.validation.plots import plot_cdf_vs_empirical

    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        loc, scale = r.prediction
        plot_cdf_vs_empirical(ax, _normal_cdf(loc, scale), r.measurement, 0.01)
        ax.set_title(f"mu={r.params['mu']}, sigma={r.params['sigma']}", fontsize=8)


def simulate_broken(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    """Raises at mu = 1 (the second grid point)."""
    if params["mu"] == 1.0:
        raise ValueError("DEMO.broken: simulated failure at mu=1")
    return simulate_normal(params, seed, device, budget)


_COMMON: dict[str, Any] = {"family": "DEMO", "source": "derived (toy)", "version": "1"}

register(Claim(
    id="DEMO.normal-mean", title="Sample mean of normal draws", statement=(
        "The mean of N(mu, sigma^2) is mu."), latex=r"\mathbb{E}X = \mu", kind="moment",
    grids={"quick": _GRID, "full": _GRID + [{"mu": 5.0, "sigma": 2.0}]},
    predict=predict_mean, simulate=simulate_normal, test=check_mean, mutant=mutant_mean,
    mutant_description="mu + sigma/2", **_COMMON,
))
register(Claim(
    id="DEMO.normal-cdf", title="Normal draws follow the normal CDF", statement=(
        "Samples of N(mu, sigma^2) have CDF Phi((x - mu)/sigma)."),
    latex=r"P(X\le x)=\Phi((x-\mu)/\sigma)", kind="distribution", grids={"quick": _GRID[:2]},
    predict=predict_cdf, simulate=simulate_normal, test=check_cdf, mutant=mutant_cdf,
    plot=plot_cdf, mutant_description="scale 2 sigma", **_COMMON,
))
register(Claim(
    id="DEMO.wrong-mean", title="A false mean (must be refuted)", statement=(
        "The mean of N(mu, sigma^2) is mu + 0.4 sigma (false)."), kind="moment",
    grids={"quick": _GRID}, predict=wrong_mean, simulate=simulate_normal, test=check_mean,
    mutant=wrong_mutant, mutant_description="mu - sigma/2", **_COMMON,
))
register(Claim(
    id="DEMO.weak-mutant", title="A mutant too close to detect (underpowered)", statement=(
        "The mean of N(mu, sigma^2) is mu; the mutant differs by 1e-4 sigma."), kind="moment",
    grids={"quick": _GRID[:1]}, predict=predict_mean, simulate=simulate_normal,
    test=check_mean, mutant=weak_mutant, mutant_description="mu + 1e-4 sigma", **_COMMON,
))
register(Claim(
    id="DEMO.broken", title="A claim whose simulation raises (error)", statement=(
        "Raises at its second grid point."), kind="moment",
    grids={"quick": [{"mu": 0.0, "sigma": 1.0}, {"mu": 1.0, "sigma": 1.0}]},
    predict=predict_mean, simulate=simulate_broken, test=check_mean, mutant=mutant_mean,
    **_COMMON,
))

DEMO_IDS: tuple[str, ...] = (
    "DEMO.normal-mean", "DEMO.normal-cdf", "DEMO.wrong-mean", "DEMO.weak-mutant", "DEMO.broken",
)
