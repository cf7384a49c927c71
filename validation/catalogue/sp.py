r"""SP family: the two phases of SGD (per-layer gradient SNR) and basins of solutions.

Sources: Shwartz-Ziv & Tishby 2017 (*Opening the black box of deep neural networks via
information*, §3: drift and diffusion phases of the mini-batch gradients); McCandlish, Kaplan,
Amodei et al. 2018 (*An empirical model of large-batch training*: the noise scale
``B_simple``); Goodfellow, Vinyals & Saxe 2015 and Frankle et al. 2020 (linear interpolation
and linear mode connectivity); derivations in docs/theory/sp.md, measurements in
docs/training.md. Claims (ids):

* ``SP.snr-noise-scale`` [derived]: at a fixed parameter point, the per-layer SNR of i.i.d.
  (with-replacement) mini-batch gradients of size ``B`` is ``B / B_simple,l``; tested as
  ``E[A − C/M] = (B/B_simple,l) E[C]`` (``A = ‖ḡ‖²``, ``C = tr Ĉ`` over ``M`` batches; the
  ``−C/M`` removes the finite-``M`` bias ``tr Σ/(BM)`` of ``A``), a t test per layer with
  Bonferroni over layers; mutant: the without-replacement value ``(B/B_simple)(N−1)/(N−B)``.
  Grid points with ``replacement: False`` draw uniformly random B-subsets instead: there the
  prediction is the finite-population value and the mutant ``B/B_simple``. ``B_simple,l`` is
  formed from the measured ``tr Σ_l`` and ``|G_l|²`` by :func:`flatstart.theory.noise.b_simple`.
* ``SP.two-phases`` [paper, empirical]: tanh MLPs trained by plain SGD on a noisy teacher task
  start in the drift phase (every layer's SNR > 1 in the first epoch) and end in the diffusion
  phase (smoothed SNR ≤ 1) in at least 90% of networks (exact binomial bound test); mutant:
  "SNR stays > 1 throughout" in 90% of networks.
* ``SP.basins`` [ref, qualitative]: runs forked from a shared checkpoint have midpoint gap
  ``ℒ(θ_½) − (ℒ(θ₁)+ℒ(θ₂))/2 ≤ 0`` and independently initialized runs a barrier of at least
  10% of the larger end-point loss, each in at least 90% of pairs (bound tests, Bonferroni);
  mutant: "independent pairs show no barrier either" (midpoint gap ≤ 0 in 90%).
* ``SP.optimizer-minima`` [ref, qualitative]: SGD, Adam and RMSprop from one initialization and
  one batch order end at points whose distance is at least a quarter of the longer distance
  travelled, in at least 90% of networks for every pair (bound tests); mutant: "same minimum"
  (distance below that in 90% of networks).

The Monte Carlo side trains real torch MLPs (:mod:`flatstart.montecarlo.networks`,
:mod:`flatstart.montecarlo.phases`, :mod:`flatstart.montecarlo.basins`,
:mod:`flatstart.montecarlo.per_sample`) and
never evaluates a theory formula; the SNR prediction uses :func:`flatstart.theory.noise.layer_snr`
applied to the *measured* exact noise scale of the data set (the theory contributes the
relation, not the noise scale).

Its length: one family's claims, one section per claim (predict, simulate, test, mutant, plot
and registration side by side); adding a claim touches this module only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from flatstart._seeds import split_seed
from flatstart.theory.noise import b_simple, layer_snr
from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register

__all__ = [
    "BasinPrediction",
    "EventPrediction",
    "SNRPrediction",
    "SP_IDS",
]

_SEED_MOD = 2**31 - 1


def _seeds(seed: int, k: int) -> list[int]:
    """``k`` independent sub-seeds of a grid point's seed (numpy SeedSequence)."""
    return split_seed(seed, k, _SEED_MOD)


def _bonferroni(outcomes: list[stats.TestOutcome], alpha: float,
                names: list[str], **details: Any) -> stats.TestOutcome:
    """Combine named component tests with :func:`flatstart.validation.stats.bonferroni`
    (details: the worst component and every component)."""
    p, best = stats.bonferroni(o.p_value for o in outcomes)
    comp = {n: o.to_dict() for n, o in zip(names, outcomes, strict=True)}
    return stats.TestOutcome(float(outcomes[best].statistic), p, bool(p <= alpha),
                             int(sum(o.n for o in outcomes)),
                             {"combination": "bonferroni", "worst": names[best],
                              "components": comp, **details})


def _net_kwargs(params: dict[str, Any], device: str, seed: int) -> dict[str, Any]:
    act = params.get("activation", "tanh")
    return {"count": int(params["count"]), "width": int(params.get("width", 16)),
            "depth": int(params.get("depth", 3)), "activation": act,
            "init": "xavier_normal" if act == "tanh" else "he_normal",
            "input_dim": int(params.get("dim", 8)), "output_dim": 1, "device": device,
            "seed": seed}


def _teacher(params: dict[str, Any], device: str, seed: int) -> Any:
    from flatstart.montecarlo.data import teacher_dataset

    return teacher_dataset(int(params["n"]), int(params.get("dim", 8)), width=16, depth=2,
                           activation=params.get("activation", "tanh"),
                           noise=float(params.get("noise", 0.3)), seed=seed, device=device)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


# =========================================================================== SP.snr-noise-scale
@dataclass(frozen=True)
class SNRPrediction:
    """Predicted per-layer SNR of size-``B`` mini-batch gradients as a function of the
    (measured) noise scale ``B_simple,l``.

    ``sampling="with-replacement"`` (the claim): ``SNR = B/B_simple`` via
    :func:`flatstart.theory.noise.layer_snr` [derived, docs/theory/sp.md]. ``"without-replacement"``
    (the mutant applied to with-replacement batches): ``(B/B_simple)(N−1)/(N−B)``, the
    finite-population value (``Cov ḡ_B = (Σ/B)(N−B)/(N−1)`` for a uniformly random
    ``B``-subset of ``N`` samples [ref]), ``layer_snr(..., N, replacement=False)``.
    """

    batch_size: int
    n: int
    batches_per_rep: int
    sampling: str = "with-replacement"

    def snr(self, b_simple: Any) -> np.ndarray:
        """Predicted ``SNR_l`` for an array of ``B_simple,l``."""
        s = layer_snr(self.batch_size, np.asarray(b_simple, dtype=np.float64), N=self.n,
                      replacement=self.sampling == "with-replacement")
        return np.asarray(s, dtype=np.float64)

    def snr_from_noise(self, trace_sigma: Any, grad_sq_norm: Any) -> np.ndarray:
        """Predicted ``SNR_l`` from the measured ``tr Σ_l`` and ``|G_l|²``, through
        ``B_simple,l = tr Σ_l/|G_l|²`` (:func:`flatstart.theory.noise.b_simple`)."""
        return self.snr(b_simple(np.asarray(trace_sigma, dtype=np.float64),
                                 np.asarray(grad_sq_norm, dtype=np.float64)))

    def ratio_of_means(self, b_simple: Any) -> np.ndarray:
        """``E A / E C = SNR + 1/M`` (the finite-``M`` bias of the naive epoch SNR)."""
        return self.snr(b_simple) + 1.0 / self.batches_per_rep


def _describe_snr_prediction(p: SNRPrediction) -> dict[str, Any]:
    return {"relation": "B/B_simple" if p.sampling == "with-replacement"
            else "(B/B_simple)(N-1)/(N-B)", "B": p.batch_size, "N": p.n,
            "M": p.batches_per_rep, "sampling": p.sampling}


def _sampling(params: dict[str, Any], truth: bool) -> str:
    with_repl = bool(params.get("replacement", True))
    return "with-replacement" if with_repl == truth else "without-replacement"


def predict_snr(params: dict[str, Any]) -> SNRPrediction:
    """SNR = B/B_simple,l for i.i.d. batches; ``(B/B_simple,l)(N−1)/(N−B)`` for batches that
    are uniformly random B-subsets (grid points with ``replacement: False``) [derived]."""
    return SNRPrediction(int(params["batch_size"]), int(params["n"]), int(params["batches"]),
                         _sampling(params, True))


def mutant_snr(params: dict[str, Any]) -> SNRPrediction:
    """The other sampling scheme's SNR: without-replacement (finite-population) value for
    i.i.d. batches, and vice versa."""
    return SNRPrediction(int(params["batch_size"]), int(params["n"]), int(params["batches"]),
                         _sampling(params, False))


def simulate_snr(params: dict[str, Any], seed: int, device: str, budget: str
                 ) -> dict[str, Any]:
    """Per-layer ``A = ‖ḡ‖²``, ``C = tr Ĉ`` of ``R`` replications of ``M`` i.i.d. batches at
    a fixed parameter point of real MLPs (init, or after ``steps`` SGD steps), and the exact
    per-layer ``|G_l|²``, ``tr Σ_l``, ``B_simple,l`` of the data set."""
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.phases import fixed_point_snr
    from flatstart.montecarlo.training import train

    reps = int(by_budget(budget, quick=40, standard=200, full=1000))
    s_net, s_data, s_batch = _seeds(seed, 3)
    nets = mlps(**_net_kwargs(params, device, s_net))
    ds = _teacher(params, device, s_data)
    theta = None
    steps = int(params.get("steps", 0))
    if steps:
        theta = train(nets, ds, "sgd", float(params.get("lr", 0.02)), steps, 32, seed=s_batch,
                      record_every=steps).final_params
    f = fixed_point_snr(nets, ds, int(params["batch_size"]), int(params["batches"]), reps,
                        replacement=bool(params.get("replacement", True)), seed=s_batch,
                        params=theta)
    return {"A": _np(f.mean_sq), "C": _np(f.trace_cov), "grad_sq_norm": _np(f.grad_sq_norm),
            "trace_sigma": _np(f.trace_sigma), "b_simple": _np(f.b_simple),
            "B": f.batch_size, "M": f.batches_per_rep, "N": f.n, "layers": f.layers}


def _snr_standardized(pred: SNRPrediction, m: dict[str, Any]) -> np.ndarray:
    """``z = (A − C/M − s C)/(tr Σ/B)`` per (network, rep, layer); mean 0 under the claim."""
    s = pred.snr_from_noise(m["trace_sigma"], m["grad_sq_norm"])[:, None, :]
    scale = (m["trace_sigma"] / m["B"])[:, None, :]
    a, c = m["A"], m["C"]
    return np.asarray((a - c / m["M"] - s * c) / scale)


def _snr_estimates(m: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Pooled debiased SNR ``mean(A − C/M)/mean(C)`` and naive ``mean(A)/mean(C)`` per
    (network, layer)."""
    a, c = m["A"], m["C"]
    return (a - c / m["M"]).mean(axis=1) / c.mean(axis=1), a.mean(axis=1) / c.mean(axis=1)


def test_snr(pred: SNRPrediction, m: dict[str, Any], alpha: float) -> stats.TestOutcome:
    """Per layer: Student t test that ``z`` (pooled over networks and replications, which are
    independent) has mean 0; Bonferroni over layers."""
    z = _snr_standardized(pred, m)
    outs, names = [], []
    est, _ = _snr_estimates(m)
    for j, lay in enumerate(m["layers"]):
        outs.append(stats.mean_test(z[:, :, j].ravel(), 0.0, alpha))
        names.append(f"layer{lay}")
    s = pred.snr_from_noise(m["trace_sigma"], m["grad_sq_norm"])
    return _bonferroni(outs, alpha, names, predicted_snr_median=np.median(s, axis=0).tolist(),
                       measured_snr_median=np.median(est, axis=0).tolist())


def _describe_snr_measurement(m: dict[str, Any]) -> dict[str, Any]:
    est, naive = _snr_estimates(m)
    return {"B": m["B"], "M": m["M"], "N": m["N"], "reps": int(m["A"].shape[1]),
            "networks": int(m["A"].shape[0]),
            "b_simple_median": np.median(m["b_simple"], axis=0).tolist(),
            "debiased_snr_median": np.median(est, axis=0).tolist(),
            "naive_snr_median": np.median(naive, axis=0).tolist()}


def plot_snr(fig: Any, records: list[Any]) -> None:
    """Measured (debiased, pooled) SNR against the predicted B/B_simple,l, one marker per
    network and layer; the naive ratio of means against B/B_simple + 1/M; mutant line."""
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = math.inf, 0.0
    for i, r in enumerate(records):
        m, pred = r.measurement, r.prediction
        est, naive = _snr_estimates(m)
        s = pred.snr(m["b_simple"])
        lab = f"N={m['N']}, B={m['B']}" + (f", {r.params.get('steps')} SGD steps"
                                           if r.params.get("steps") else ", init")
        ax.loglog(s.ravel(), np.clip(est.ravel(), 1e-6, None), "o", ms=4, color=f"C{i}",
                  label=lab + ": debiased")
        ax.loglog(pred.ratio_of_means(m["b_simple"]).ravel(), naive.ravel(), "x", ms=4,
                  color=f"C{i}", alpha=0.5, label=lab + ": naive vs B/B_simple + 1/M")
        fac = (m["N"] - 1) / (m["N"] - m["B"])
        grid = np.geomspace(s.min(), s.max(), 20)
        ax.loglog(grid, fac * grid, ":", color=f"C{i}", lw=1,
                  label=f"mutant (N-1)/(N-B)={fac:.2f}x")
        lo, hi = min(lo, float(s.min())), max(hi, float(s.max()))
    g = np.geomspace(lo / 1.5, hi * 1.5, 20)
    ax.loglog(g, g, "-", color="0.3", lw=1, label="predicted: SNR = B/B_simple")
    ax.set_xlabel("predicted B / B_simple,l (exact noise scale of the data set)")
    ax.set_ylabel("measured SNR_l (pooled over replications)")
    ax.legend(fontsize=6, loc="upper left")


# =========================================================================== SP.two-phases
@dataclass(frozen=True)
class EventPrediction:
    """A bound claim ``P(event) ≥ 1 − delta`` over independent networks.

    ``event`` is one of ``"transition"`` (every layer's SNR > 1 in the first epoch and
    smoothed SNR ≤ 1 at the last epoch), ``"no-transition"`` (every layer's smoothed SNR
    stays > 1), ``"distinct"`` (every optimizer pair ends at relative distance ≥ ``rho``),
    ``"same"`` (every pair closer than that).
    """

    event: str
    delta: float
    rho: float = 0.0


def predict_phases(params: dict[str, Any]) -> EventPrediction:
    """Drift then diffusion in at least ``1 − delta`` of the networks.

    An empirical observation (Shwartz-Ziv & Tishby report it from experiments): no formula
    of :mod:`theory` predicts when a training run's SNR crosses 1 (that depends on the loss
    landscape along the trajectory); the SNR relation the phases are measured with,
    ``SNR = B/B_simple``, is the theory, tested by ``SP.snr-noise-scale``."""
    return EventPrediction("transition", float(params.get("delta", 0.1)))


def mutant_phases(params: dict[str, Any]) -> EventPrediction:
    """"SNR stays > 1 throughout" (no diffusion phase) in at least ``1 − delta``."""
    return EventPrediction("no-transition", float(params.get("delta", 0.1)))


def simulate_phases(params: dict[str, Any], seed: int, device: str, budget: str
                    ) -> dict[str, Any]:
    """Plain SGD on a noisy teacher task; per-epoch per-layer SNR (moving iterate), the exact
    ``B_simple,l`` at the start of every epoch, the smoothed SNR and transition epochs."""
    from flatstart.montecarlo.networks import mlps
    from flatstart.montecarlo.phases import snr_training, transition_epochs

    count = int(by_budget(budget, quick=params["count"], standard=4 * params["count"],
                          full=16 * params["count"]))
    s_net, s_data, s_batch = _seeds(seed, 3)
    nets = mlps(**_net_kwargs({**params, "count": count}, device, s_net))
    ds = _teacher(params, device, s_data)
    window = int(params.get("window", 3))
    r = snr_training(nets, ds, float(params["lr"]), int(params["epochs"]),
                     int(params["batch_size"]), seed=s_batch)
    snr = _np(r.snr)
    w = min(window, snr.shape[1])
    return {"snr": snr, "b_simple": _np(r.b_simple), "losses": _np(r.losses),
            "t_star": _np(transition_epochs(r.snr, window=window)).astype(np.int64),
            "late_smoothed": snr[:, -w:, :].mean(axis=1), "B": r.batch_size,
            "M": r.batches_per_epoch, "layers": r.layers, "window": window}


def _phase_events(m: dict[str, Any]) -> dict[str, np.ndarray]:
    early = np.all(m["snr"][:, 0, :] > 1.0, axis=1)
    late = np.all(m["late_smoothed"] <= 1.0, axis=1)
    never = np.all(m["t_star"] < 0, axis=1)
    return {"transition": early & late, "no-transition": never}


def test_event(pred: EventPrediction, m: dict[str, Any], alpha: float) -> stats.TestOutcome:
    """Exact one-sided binomial test (Clopper–Pearson) of ``P(not event) ≤ delta``."""
    ev = _phase_events(m) if "snr" in m else _distance_events(m, pred.rho)
    ok = ev[pred.event]
    out = stats.bound_violation_test(int(np.sum(~ok)), int(ok.size), pred.delta, alpha)
    return stats.TestOutcome(out.statistic, out.p_value, out.reject, out.n,
                             {**out.details, "event": pred.event,
                              "event_rate": float(np.mean(ok))})


def _describe_event(p: EventPrediction) -> dict[str, Any]:
    return {"event": p.event, "min_rate": 1.0 - p.delta, "rho": p.rho}


def _describe_phases(m: dict[str, Any]) -> dict[str, Any]:
    ev = _phase_events(m)
    return {"networks": int(m["snr"].shape[0]), "epochs": int(m["snr"].shape[1]),
            "B": m["B"], "M": m["M"],
            "first_epoch_snr_median": np.median(m["snr"][:, 0, :], axis=0).tolist(),
            "last_epoch_snr_median": np.median(m["snr"][:, -1, :], axis=0).tolist(),
            "transition_rate": float(np.mean(ev["transition"])),
            "median_transition_epoch": np.median(m["t_star"], axis=0).tolist()}


def plot_phases(fig: Any, records: list[Any]) -> None:
    """Median (and quartiles) over networks of SNR_l per epoch, the predicted B/B_simple,l
    (exact noise scale at the start of each epoch), SNR = 1, and the median transition epoch."""
    r = records[0]
    m = r.measurement
    layers = list(m["layers"])
    axes = fig.subplots(1, len(layers), squeeze=False, sharey=True)[0]
    e = np.arange(m["snr"].shape[1])
    for j, (ax, lay) in enumerate(zip(axes, layers, strict=True)):
        s = m["snr"][:, :, j]
        q1, med, q3 = np.quantile(s, [0.25, 0.5, 0.75], axis=0)
        ax.semilogy(e, med, "-o", ms=3, color="C3", label="measured SNR (median)")
        ax.fill_between(e, q1, q3, color="C3", alpha=0.2, label="quartiles")
        pb = np.asarray(layer_snr(m["B"], m["b_simple"][:, :-1, j]))
        ax.semilogy(e, np.median(pb, axis=0), "--", color="C0", label="B/B_simple (median)")
        ax.axhline(1.0, color="0.4", lw=1, ls=":")
        ts = m["t_star"][:, j]
        if np.any(ts >= 0):
            ax.axvline(float(np.median(ts[ts >= 0])), color="C2", lw=1,
                       label="median transition epoch")
        ax.set_title(f"layer {lay}", fontsize=8)
        ax.set_xlabel("epoch")
        if j == 0:
            ax.set_ylabel("per-layer SNR")
            ax.legend(fontsize=6, loc="upper right")


# =========================================================================== SP.basins
@dataclass(frozen=True)
class BasinPrediction:
    """Predicted interpolation behaviour of forked and independent pairs.

    Each group is ``"convex"`` (midpoint gap ≤ 0) or ``"barrier"`` (barrier ≥ ``rho`` times
    the larger end-point loss), holding in at least ``1 − delta`` of the pairs.
    """

    forked: str
    independent: str
    delta: float
    rho: float


def predict_basins(params: dict[str, Any]) -> BasinPrediction:
    """Forked pairs: same basin (gap ≤ 0); independent pairs: a barrier.

    An empirical observation (linear mode connectivity is reported from experiments): no
    formula of :mod:`theory` gives loss barriers of trained networks."""
    return BasinPrediction("convex", "barrier", float(params.get("delta", 0.1)),
                           float(params.get("rho", 0.1)))


def mutant_basins(params: dict[str, Any]) -> BasinPrediction:
    """Independent pairs also in one basin (midpoint gap ≤ 0)."""
    return BasinPrediction("convex", "convex", float(params.get("delta", 0.1)),
                           float(params.get("rho", 0.1)))


def _interp_summary(r: dict[str, Any]) -> dict[str, np.ndarray]:
    return {"alphas": _np(r["alphas"]), "losses": _np(r["losses"]), "loss1": _np(r["loss1"]),
            "loss2": _np(r["loss2"]), "barrier": _np(r["barrier"]),
            "midpoint_gap": _np(r["midpoint_gap"]), "distance": _np(r["distance"])}


def simulate_basins(params: dict[str, Any], seed: int, device: str, budget: str
                    ) -> dict[str, Any]:
    """Forked pairs (shared SGD steps, then two batch orders) and independent pairs (two
    initializations, same batch order) of real MLPs; loss along the straight line."""
    from flatstart.montecarlo.basins import default_alphas, forked_pairs, independent_pairs
    from flatstart.montecarlo.networks import mlps

    count = int(by_budget(budget, quick=params["count"], standard=4 * params["count"],
                          full=16 * params["count"]))
    s_a, s_b, s_data, s_batch, f1, f2 = _seeds(seed, 6)
    ds = _teacher(params, device, s_data)
    na = mlps(**_net_kwargs({**params, "count": count}, device, s_a))
    nb = mlps(**_net_kwargs({**params, "count": count}, device, s_b))
    al = default_alphas(10)
    lr, bsz = float(params["lr"]), int(params["batch_size"])
    sh, fk = int(params["shared_steps"]), int(params["fork_steps"])
    forked = forked_pairs(na, ds, "sgd", lr, sh, fk, bsz, seed=s_batch, fork_seeds=(f1, f2),
                          alphas=al)
    indep = independent_pairs(na, nb, ds, "sgd", lr, sh + fk, bsz, seed=s_batch, alphas=al)
    return {"forked": _interp_summary(forked), "independent": _interp_summary(indep)}


def _describe_basin_prediction(p: BasinPrediction) -> dict[str, Any]:
    return {"forked": p.forked, "independent": p.independent, "min_rate": 1.0 - p.delta,
            "rho": p.rho}


def _basin_outcome(kind: str, r: dict[str, np.ndarray], delta: float, rho: float,
                   alpha: float) -> stats.TestOutcome:
    if kind == "convex":
        bad = r["midpoint_gap"] > 0.0
    else:
        bad = r["barrier"] < rho * np.maximum(r["loss1"], r["loss2"])
    return stats.bound_violation_test(int(np.sum(bad)), int(bad.size), delta, alpha)


def test_basins(pred: BasinPrediction, m: dict[str, Any], alpha: float) -> stats.TestOutcome:
    """Bound tests (exact binomial, Clopper–Pearson) for both groups, Bonferroni-combined;
    details carry a one-sided Mann–Whitney p-value for "independent barriers > forked"."""
    outs = [_basin_outcome(pred.forked, m["forked"], pred.delta, pred.rho, alpha),
            _basin_outcome(pred.independent, m["independent"], pred.delta, pred.rho, alpha)]
    rb = [m[g]["barrier"] / np.maximum(m[g]["loss1"], m[g]["loss2"])
          for g in ("forked", "independent")]
    mw = sps.mannwhitneyu(rb[1], rb[0], alternative="greater")
    return _bonferroni(outs, alpha, [f"forked:{pred.forked}",
                                     f"independent:{pred.independent}"],
                       mannwhitney_independent_gt_forked_p=float(mw.pvalue))


def _describe_basins(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for g in ("forked", "independent"):
        r = m[g]
        top = np.maximum(r["loss1"], r["loss2"])
        out[g] = {"pairs": int(r["barrier"].size),
                  "median_rel_barrier": float(np.median(r["barrier"] / top)),
                  "median_rel_midpoint_gap": float(np.median(
                      r["midpoint_gap"] / ((r["loss1"] + r["loss2"]) / 2))),
                  "fraction_gap_le_0": float(np.mean(r["midpoint_gap"] <= 0)),
                  "median_distance": float(np.median(r["distance"]))}
    return out


def plot_basins(fig: Any, records: list[Any]) -> None:
    """Loss along α (relative to the mean end-point loss) for forked and independent pairs:
    every pair thin, the median thick; the end points and α = ½ marked."""
    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, r in zip(axes, records, strict=True):
        m = r.measurement
        for color, g in (("C0", "forked"), ("C3", "independent")):
            d = m[g]
            rel = d["losses"] / ((d["loss1"] + d["loss2"]) / 2)[:, None]
            for row in rel:
                ax.plot(d["alphas"], row, color=color, lw=0.5, alpha=0.3)
            ax.plot(d["alphas"], np.median(rel, axis=0), color=color, lw=2,
                    label=f"{g} pairs (n={rel.shape[0]}), median")
        for a in (0.0, 0.5, 1.0):
            ax.axvline(a, color="0.6", lw=0.8, ls=":")
        ax.axhline(1.0, color="0.4", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("alpha  (theta = (1 - alpha) theta1 + alpha theta2)")
        ax.set_ylabel("loss / mean end-point loss")
        ax.set_title(f"{r.params.get('activation')} MLP, teacher task", fontsize=8)
        ax.legend(fontsize=6, loc="upper right")


# =========================================================================== SP.optimizer-minima
_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 0.05}, "adam": {"lr": 0.01}, "rmsprop": {"lr": 0.003},
}


def predict_optimizers(params: dict[str, Any]) -> EventPrediction:
    """Distinct end points (relative distance ≥ rho for every pair) in ≥ 1 − delta.

    An empirical observation: no formula of :mod:`theory` predicts where trained networks
    end; the threshold rho is a stated effect size, not a theory value."""
    return EventPrediction("distinct", float(params.get("delta", 0.1)),
                           float(params.get("rho", 0.25)))


def mutant_optimizers(params: dict[str, Any]) -> EventPrediction:
    """"Same minimum": every pair closer than rho times the distance travelled."""
    return EventPrediction("same", float(params.get("delta", 0.1)),
                           float(params.get("rho", 0.25)))


def simulate_optimizers(params: dict[str, Any], seed: int, device: str, budget: str
                        ) -> dict[str, Any]:
    """Train one initialization with SGD, Adam and RMSprop (same batch order); distances,
    distances travelled, weight norms, final losses, barriers and midpoint gaps per pair."""
    from flatstart.montecarlo.basins import default_alphas, optimizer_solutions
    from flatstart.montecarlo.networks import mlps

    count = int(by_budget(budget, quick=params["count"], standard=4 * params["count"],
                          full=16 * params["count"]))
    s_net, s_data, s_batch = _seeds(seed, 3)
    nets = mlps(**_net_kwargs({**params, "count": count}, device, s_net))
    ds = _teacher(params, device, s_data)
    r = optimizer_solutions(nets, ds, _OPTIMIZERS, int(params["steps"]),
                            int(params["batch_size"]), seed=s_batch, alphas=default_alphas(10))
    pairs = list(r["distance"])
    return {
        "optimizers": list(_OPTIMIZERS),
        "pairs": [f"{a}-{b}" for a, b in pairs],
        "distance": np.stack([_np(r["distance"][p]) for p in pairs], axis=1),
        "travel": np.stack([np.maximum(_np(r["distance_from_init"][a]),
                                       _np(r["distance_from_init"][b])) for a, b in pairs],
                           axis=1),
        "barrier": np.stack([_np(r["barrier"][p]) for p in pairs], axis=1),
        "midpoint_gap": np.stack([_np(r["midpoint_gap"][p]) for p in pairs], axis=1),
        "final_loss": np.stack([_np(r["final_loss"][k]) for k in _OPTIMIZERS], axis=1),
        "weight_norm": np.stack([_np(r["weight_norm"][k]) for k in _OPTIMIZERS], axis=1),
        "init_norm": _np(r["init_norm"]),
    }


def _distance_events(m: dict[str, Any], rho: float) -> dict[str, np.ndarray]:
    far = m["distance"] >= rho * m["travel"]
    return {"distinct": np.all(far, axis=1), "same": np.all(~far, axis=1)}


def _describe_optimizers(m: dict[str, Any]) -> dict[str, Any]:
    rel = m["distance"] / m["travel"]
    top = np.maximum.reduce([m["final_loss"][:, i] for i in range(m["final_loss"].shape[1])])
    return {"networks": int(rel.shape[0]), "pairs": m["pairs"],
            "median_rel_distance": np.median(rel, axis=0).tolist(),
            "median_final_loss": dict(zip(m["optimizers"],
                                          np.median(m["final_loss"], axis=0).tolist(),
                                          strict=True)),
            "median_weight_norm": dict(zip(m["optimizers"],
                                           np.median(m["weight_norm"], axis=0).tolist(),
                                           strict=True)),
            "median_init_norm": float(np.median(m["init_norm"])),
            "fraction_barrier_gt_1pct": np.mean(m["barrier"] > 0.01 * top[:, None],
                                                axis=0).tolist()}


def plot_optimizers(fig: Any, records: list[Any]) -> None:
    """Left: distance between end points relative to the longer distance travelled, per
    optimizer pair (the claim's threshold rho dashed). Right: weight norms by optimizer
    (initial norm dotted) and relative barriers per pair."""
    r = records[0]
    m = r.measurement
    rho = float(r.params.get("rho", 0.25))
    ax1, ax2 = fig.subplots(1, 2)
    rel = m["distance"] / m["travel"]
    ax1.boxplot([rel[:, i] for i in range(rel.shape[1])])
    ax1.set_xticks(range(1, rel.shape[1] + 1), m["pairs"])
    ax1.axhline(rho, color="C3", ls="--", lw=1, label=f"rho = {rho:g} (claim: above)")
    ax1.set_ylim(0, max(1.05, float(rel.max()) * 1.05))
    ax1.set_ylabel("||theta_a - theta_b|| / max travel")
    ax1.legend(fontsize=6)
    ax1.tick_params(labelsize=7)
    ax2.boxplot([m["weight_norm"][:, i] for i in range(m["weight_norm"].shape[1])])
    ax2.set_xticks(range(1, len(m["optimizers"]) + 1), m["optimizers"])
    ax2.axhline(float(np.median(m["init_norm"])), color="0.4", ls=":", lw=1,
                label="init norm (median)")
    ax2.set_ylabel("weight norm ||theta||")
    ax2.legend(fontsize=6)
    ax2.tick_params(labelsize=7)
    top = np.maximum.reduce([m["final_loss"][:, i] for i in range(m["final_loss"].shape[1])])
    txt = "rel. barrier medians: " + ", ".join(
        f"{p} {np.median(m['barrier'][:, i] / top):.3g}" for i, p in enumerate(m["pairs"]))
    ax2.set_title(txt, fontsize=6)


# =========================================================================== registration
_SNR_GRID_QUICK = [
    {"n": 32, "batch_size": 16, "batches": 8, "count": 16, "activation": "tanh",
     "noise": 0.3},
    {"n": 40, "batch_size": 20, "batches": 8, "count": 16, "activation": "tanh",
     "noise": 0.3, "replacement": False},
    {"n": 256, "batch_size": 8, "batches": 8, "count": 16, "activation": "relu",
     "noise": 0.3},
    {"n": 64, "batch_size": 16, "batches": 8, "count": 16, "activation": "tanh",
     "noise": 0.3, "steps": 40, "lr": 0.02},
]
_SNR_GRID_STANDARD = _SNR_GRID_QUICK + [
    {"n": 96, "batch_size": 32, "batches": 6, "count": 16, "activation": "relu",
     "noise": 0.5, "depth": 4, "width": 24},
    {"n": 48, "batch_size": 24, "batches": 8, "count": 16, "activation": "tanh",
     "noise": 0.3, "replacement": False, "width": 12},
]
_SNR_GRID_FULL = _SNR_GRID_QUICK + [
    {"n": 128, "batch_size": 32, "batches": 16, "count": 32, "activation": "relu",
     "noise": 0.5, "depth": 5, "steps": 100, "lr": 0.01},
    {"n": 48, "batch_size": 24, "batches": 4, "count": 32, "activation": "tanh",
     "noise": 0.0, "width": 32},
]
_PHASE_GRID = [{"count": 24, "activation": "tanh", "n": 384, "noise": 0.5, "lr": 0.015,
                "batch_size": 48, "epochs": 12, "window": 3, "delta": 0.1}]
_BASIN_GRID = [{"count": 16, "activation": "tanh", "n": 256, "noise": 0.3, "lr": 0.05,
                "batch_size": 32, "shared_steps": 150, "fork_steps": 150, "delta": 0.1,
                "rho": 0.1}]
_OPT_GRID = [{"count": 16, "activation": "tanh", "n": 256, "noise": 0.3, "batch_size": 32,
              "steps": 300, "delta": 0.1, "rho": 0.25}]

register(Claim(
    id="SP.snr-noise-scale", family="SP",
    title="Per-layer SNR of i.i.d. mini-batch gradients equals B / B_simple,l",
    source="derived (docs/theory/sp.md; noise scale: McCandlish et al. 2018, eq. 2.8)",
    statement=(
        "At a fixed parameter point, for mini-batches of B i.i.d. (with-replacement) samples "
        "from a data set of N, the per-layer gradient SNR ‖E ḡ_l‖²/tr Cov ḡ_l equals "
        "B/B_simple,l with B_simple,l = tr Σ_l/|G_l|² (Σ with divisor N); for uniformly random "
        "B-subsets (without replacement) it is (B/B_simple,l)(N-1)/(N-B). Measured with M "
        "batches per replication: E‖ḡ‖² = |G|² + tr Σ/(BM), so E[A − C/M] = (B/B_simple) E[C]."),
    latex=(r"\mathrm{SNR}_l=\frac{\|\mathbb E\bar g_l\|^2}{\operatorname{tr}\mathrm{Cov}\,"
           r"\bar g_l}=\frac{B}{B_{\mathrm{simple},l}},\quad B_{\mathrm{simple},l}="
           r"\frac{\operatorname{tr}\Sigma_l}{|G_l|^2}"),
    kind="moment", alpha=0.01, version="1",
    grids={"quick": _SNR_GRID_QUICK, "standard": _SNR_GRID_STANDARD, "full": _SNR_GRID_FULL},
    predict=predict_snr, simulate=simulate_snr, test=test_snr, mutant=mutant_snr,
    plot=plot_snr, describe_prediction=_describe_snr_prediction,
    describe_measurement=_describe_snr_measurement,
    mutant_description="without-replacement (finite-population) value (B/B_simple)(N-1)/(N-B)",
))

register(Claim(
    id="SP.two-phases", family="SP",
    title="SGD: drift phase (SNR > 1) then diffusion phase (SNR ≤ 1), tanh MLPs",
    source="Shwartz-Ziv & Tishby 2017, §3 (empirical; disputed for ReLU by Saxe et al. 2018)",
    statement=(
        "Measured phenomenon, not a theorem: tanh MLPs (width 16, depth 3, Xavier) trained by "
        "plain SGD (lr 0.015, B = 48, N = 384, 12 epochs) on a noisy teacher task (label "
        "noise 0.5) have every layer's epoch SNR > 1 in the first epoch (drift) and a 3-epoch "
        "moving-average SNR ≤ 1 at the last epoch (diffusion) in at least 90% of networks. "
        "(With He-initialized ReLU nets the first layer often starts below 1.) Empirical: no "
        "theory formula predicts the crossing; SP.snr-noise-scale tests the SNR relation."),
    latex=(r"P\big(\min_l \mathrm{SNR}_l(0)>1,\ \max_l \overline{\mathrm{SNR}}_l(T)\le 1"
           r"\big)\ge 0.9"),
    kind="bound", alpha=0.01, version="1",
    grids={"quick": _PHASE_GRID,
           "full": _PHASE_GRID + [{**_PHASE_GRID[0], "epochs": 16, "n": 512,
                                   "batch_size": 64, "lr": 0.02}]},
    predict=predict_phases, simulate=simulate_phases, test=test_event, mutant=mutant_phases,
    plot=plot_phases, describe_prediction=_describe_event, describe_measurement=_describe_phases,
    mutant_description="no transition: SNR stays > 1 throughout in 90% of networks",
))

register(Claim(
    id="SP.basins", family="SP",
    title="Forked runs share a basin (midpoint gap ≤ 0); independent runs are separated",
    source="Goodfellow, Vinyals & Saxe 2015; Frankle et al. 2020 (qualitative) [ref]",
    statement=(
        "For MLPs trained by SGD on a teacher task: pairs forked from a shared checkpoint and "
        "trained on with different batch orders satisfy ℒ(θ_½) ≤ (ℒ(θ₁)+ℒ(θ₂))/2, and "
        "independently initialized pairs show a barrier max_α ℒ(θ(α)) − max(ℒ(θ₁), ℒ(θ₂)) ≥ "
        "0.1 max(ℒ(θ₁), ℒ(θ₂)), each in at least 90% of pairs. An empirical observation: no "
        "theory formula gives barriers of trained networks."),
    latex=(r"\mathcal L(\theta_{1/2})\le\tfrac12(\mathcal L(\theta_1)+\mathcal L(\theta_2))"
           r"\ \text{(forked)},\quad \max_\alpha\mathcal L(\theta_\alpha)-\max_i\mathcal L"
           r"(\theta_i)\ge 0.1\max_i\mathcal L(\theta_i)\ \text{(independent)}"),
    kind="bound", alpha=0.01, version="1",
    grids={"quick": _BASIN_GRID,
           "standard": _BASIN_GRID + [{**_BASIN_GRID[0], "activation": "relu"}]},
    predict=predict_basins, simulate=simulate_basins, test=test_basins, mutant=mutant_basins,
    plot=plot_basins, describe_prediction=_describe_basin_prediction,
    describe_measurement=_describe_basins,
    mutant_description="independent pairs also in one basin (midpoint gap <= 0 in 90%)",
))

register(Claim(
    id="SP.optimizer-minima", family="SP",
    title="SGD, Adam and RMSprop from one initialization end at distinct points",
    source="qualitative [ref]: e.g. Wilson et al. 2017 (adaptive methods find different "
           "solutions); docs/training.md",
    statement=(
        "tanh MLPs (width 16, depth 3) trained for 300 steps (B = 32) on a noisy teacher task "
        "with SGD (lr 0.05), Adam (lr 0.01) and RMSprop (lr 0.003) from the same "
        "initialization and batch order: every pair of end points is at distance ≥ 0.25 × "
        "the longer of the two distances travelled from the initialization, in at least 90% "
        "of networks. Loss barriers on the straight line between them are NOT claimed (they "
        "are mostly absent for tanh nets here; small for ReLU). An empirical observation: no "
        "theory formula predicts the end points."),
    latex=(r"P\Big(\min_{a\ne b}\frac{\|\theta_a-\theta_b\|}{\max(\|\theta_a-\theta_0\|,"
           r"\|\theta_b-\theta_0\|)}\ge 0.25\Big)\ge 0.9"),
    kind="bound", alpha=0.01, version="1",
    grids={"quick": _OPT_GRID,
           "standard": _OPT_GRID + [{**_OPT_GRID[0], "activation": "relu"}]},
    predict=predict_optimizers, simulate=simulate_optimizers, test=test_event,
    mutant=mutant_optimizers, plot=plot_optimizers, describe_prediction=_describe_event,
    describe_measurement=_describe_optimizers,
    mutant_description="same minimum: every pair closer than 0.25 x travel in 90% of networks",
))

SP_IDS: tuple[str, ...] = (
    "SP.snr-noise-scale", "SP.two-phases", "SP.basins", "SP.optimizer-minima",
)
