"""The study's claim, checked by flatstart: He et al.'s second moment of a ReLU CNN's output.

``CNN.he-second-moment``: at He initialization scaled by ``gain`` (``Var[w_l] = 2 gain / n_l``,
no biases), the output of :func:`cnnstudy.networks.cnn` has

    E ||f(x)||^2 / k = 2 x^2 gain^(depth + 1)

(He, Zhang, Ren & Sun 2015, "Delving deep into rectifiers", eq. (10); derivation in
:mod:`cnnstudy.theory`). Theory: :func:`cnnstudy.theory.output_second_moment`. Measurement:
the registered quantity ``output_second_moment`` (:mod:`cnnstudy.quantities`) on 1000 (quick)
/ 10 000 / 100 000 independently initialized CNNs per grid point, four inputs each. Test: the
two-sided Student t test of the mean at alpha = 0.01, Holm over the grid. Mutant: the same
law with a constant 10 % too large, which the quick budget must already reject.

Load it with ``flatstart verify --claims cnnstudy.claims``, ``pytest --flatstart-claims
cnnstudy.claims`` or, once the package is installed, through its ``flatstart.claims`` entry
point (``pyproject.toml``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register
from flatstart.validation.toolkit import measure

from cnnstudy import quantities
from cnnstudy.networks import cnn
from cnnstudy.theory import output_second_moment

__all__ = ["CLAIM", "INPUT_SHAPE", "network"]

#: The user's theory modules: ``simulate`` may not use them (checked when the claims load).
THEORY_MODULES = ["cnnstudy.theory"]

#: One input: a 1-channel 6 x 6 image (coordinates of RMS size ``x``, 1 by default).
INPUT_SHAPE = (1, 6, 6)
#: Inputs per network; the quantity averages ``f(x)^2`` over them and over the 10 outputs.
BATCH = 4


def network(params: dict[str, Any]) -> dict[str, Any]:
    """The ``network`` dict of flatstart's toolkit for one grid point (a factory network)."""
    return {"factory": cnn, "input_shape": INPUT_SHAPE, "batch": BATCH,
            "depth": int(params["depth"]), "gain": float(params["gain"]),
            "x": float(params.get("x", 1.0))}


def predict(params: dict[str, Any]) -> float:
    """He et al. (2015) eq. (10): ``E ||f(x)||^2 / k = 2 x^2 gain^(depth + 1)``."""
    return output_second_moment(int(params["depth"]), float(params["gain"]),
                                float(params.get("x", 1.0)))


def mutant(params: dict[str, Any]) -> float:
    """A constant 10 % too large (what a slip in the constant of eq. (10) would give)."""
    return 1.1 * predict(params)


def simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    """``output_second_moment`` of ``n`` freshly initialized CNNs (Monte Carlo, no theory)."""
    n = int(by_budget(budget, quick=1_000, standard=10_000, full=100_000))
    return measure(quantities.register().name, network(params), n, seed=seed,
                   device=device).values


def test(prediction: float, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    """Two-sided Student t test of ``E q = prediction``. ``q`` is right-skewed but light-tailed
    at these depths and widths (standard deviation 0.3 to 1.1 times the mean, skewness below
    4 up to depth 6), and the two-sided test's skewness errors cancel to leading order."""
    return stats.mean_test(samples, prediction, alpha)


def plot(fig: Any, records: list[Any]) -> None:
    """Measured mean (99 % t interval) against the number of weight layers ``depth + 1``, one
    colour per gain, with the prediction ``2 x^2 gain^(depth + 1)`` as lines (log scale)."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

    ax = fig.add_subplot(1, 1, 1)
    gains = sorted({float(r.params["gain"]) for r in records})
    depths = [int(r.params["depth"]) for r in records]
    span = np.arange(min(depths), max(depths) + 1)
    for i, g in enumerate(gains):
        color = f"C{i}"
        mine = sorted((r for r in records if float(r.params["gain"]) == g),
                      key=lambda r: int(r.params["depth"]))
        x2 = float(mine[0].params.get("x", 1.0)) ** 2
        ax.plot(span + 1, 2.0 * x2 * g ** (span + 1.0), "-", color=color, lw=1,
                label=f"He et al. eq. (10), gain {g:g}")
        layers = np.array([int(r.params["depth"]) + 1 for r in mine], dtype=np.float64)
        means, half = [], []
        for r in mine:
            v = np.asarray(r.measurement, dtype=np.float64)
            means.append(float(v.mean()))
            half.append(2.576 * float(v.std(ddof=1)) / math.sqrt(v.size))
        m, h = np.array(means), np.array(half)
        ax.vlines(layers, m - h, m + h, color=color, lw=1, label=f"99% interval, gain {g:g}")
        ax.plot(layers, m, "o", color=color, ms=3, label=f"measured mean, gain {g:g}")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("weight layers L = depth + 1")
    ax.set_ylabel(r"$E\,\|f(x)\|^2 / k$")
    # the legend: one line for the theory, one marker per gain (the labels name the CSV
    # columns of a paper figure)
    handles = [Line2D([], [], color="0.3", lw=1, label="He et al. eq. (10)")]
    for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
        if label.startswith("measured mean"):
            handles.append(handle)
    ax.legend(handles=handles, labels=[str(h.get_label()).replace("measured mean, ", "")
                                       for h in handles],
              loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize=6,
              frameon=False, borderaxespad=0.2, columnspacing=1.5)


CLAIM = register(Claim(
    id="CNN.he-second-moment",
    title="He initialization keeps a ReLU CNN's output second moment",
    family="CNN",
    source='He, Zhang, Ren & Sun 2015, "Delving deep into rectifiers" (ICCV), eq. (10)',
    statement=("A ReLU CNN (circular 3x3 convolutions, linear readout, no biases) initialized "
               "with Var[w_l] = 2 gain / fan_in has E ||f(x)||^2 / k = 2 x^2 gain^(depth + 1) "
               "for an input of RMS x: preserved through depth at gain 1."),
    latex=(r"\mathbb{E}\,\|f(x)\|^2/k = x^2\, n_1 \mathrm{Var}[w_1] \prod_{l=2}^{L} "
           r"\tfrac12 n_l \mathrm{Var}[w_l] = 2x^2 g^{L}"),
    kind="moment",
    grids={
        "quick": [{"depth": 2, "gain": 1.0}, {"depth": 3, "gain": 1.25},
                  {"depth": 4, "gain": 0.8}],
        "standard": {"depth": [1, 2, 4, 6], "gain": [0.8, 1.0, 1.25]},
    },
    predict=predict, simulate=simulate, test=test, mutant=mutant, plot=plot,
    mutant_description="a constant 10% too large: 1.1 * 2 x^2 gain^(depth + 1)",
    tags=("user", "example"),
))
"""The claim object (registered when this module is imported)."""
