"""VC catalogue, signals (chains and wide nets): validation/catalogue/vc_signal.py.

The Monte Carlo side never executes theory at run time; the theory values the claims rely on
are checked against independent routes (flatstart.theory.products, closed forms, Choi,
Berry-Esseen).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from scipy import special

import flatstart.validation.catalogue.vc_signal as vc
from flatstart.montecarlo.derivatives import chain_gradients
from flatstart.montecarlo.networks import chains, mlps
from flatstart.montecarlo.sampling import chain_samples, chunk_seeds, norm_ratios
from flatstart.theory.chains import NeuralChain
from flatstart.theory.laws import Normal, Uniform
from flatstart.theory.products import product
from flatstart.theory.wide import critical_width
from flatstart.validation import stats
from flatstart.validation.claims import get, verify

IDS = list(vc.VC_CHAIN_IDS)


# --------------------------------------------------------------------------- verdicts


# --------------------------------------------------------------------------- layering


def test_simulate_never_uses_theory_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("simulate called a theory function")

    for name, obj in list(vars(vc).items()):
        mod = getattr(obj, "__module__", "") or ""
        if str(mod).startswith("flatstart.theory") or name == "_critical_width":
            monkeypatch.setattr(vc, name, boom)
    for cid in IDS:
        c = get(cid)
        p = dict(c.grid("quick")[0])
        out = c.simulate(p, 1, "cpu", "quick")
        assert out is not None


# --------------------------------------------------------------------------- theory checks
@pytest.mark.parametrize("depth", [5, 20, 50])
def test_gaussian_median_matches_products(depth: int) -> None:
    got = vc.predict_mean_vs_median({"depth": depth, "init": "xavier_normal"})["median"]
    ref = float(product(Normal(1.0), depth).abs().median())
    assert math.isclose(got, ref, rel_tol=1e-9), (got, ref)


@pytest.mark.parametrize(("init", "a", "depth"), [
    ("xavier_uniform", math.sqrt(3.0), 5), ("xavier_uniform", math.sqrt(3.0), 50),
    ("torch_default", 1.0, 5), ("torch_default", 1.0, 20),
])
def test_uniform_median_closed_form_products_and_choi(init: str, a: float, depth: int) -> None:
    pred = vc.predict_uniform_chain({"init": init, "depth": depth})
    closed = a**depth * math.exp(-float(special.gammaincinv(depth, 0.5)))
    ref = float(product(Uniform(-a, a), depth).abs().median())
    assert math.isclose(pred["median"], closed, rel_tol=1e-12), (pred["median"], closed)
    assert math.isclose(pred["median"], ref, rel_tol=1e-9), (pred["median"], ref)
    assert pred["choi_lower"] <= pred["median"] <= pred["choi_upper"], pred
    mut = vc.mutant_uniform_chain({"init": init, "depth": depth})["median"]
    assert mut < pred["choi_lower"], (mut, pred)


@pytest.mark.parametrize(("depth", "depth2"), [(5, 20), (5, 50), (10, 100)])
def test_median_stable_variance_bounded_and_he_mutant_vanishes(depth: int, depth2: int) -> None:
    p = {"depth": depth, "depth2": depth2, "sigma": vc.SIGMA_MEDIAN_STABLE}
    pred = vc.predict_median_stable_span(p)
    for m in (pred["median"], pred["median2"]):
        assert 1.0 < m < 1.5, pred  # -> C_inf = exp(-k3/(6 k2)) ~ 1.33
    assert abs(pred["drift"]) < 1e-12
    # the exact log-median difference lies in the band the slope test allows
    assert abs(math.log(pred["median2"] / pred["median"])) <= pred["drift_tol"], pred
    mut = vc.mutant_median_stable_span(p)
    assert mut["median2"] < 0.35 * pred["median2"]
    assert pred["span"] == depth2 - depth


def test_median_stable_literal_is_the_theory_value() -> None:
    from flatstart.theory.chains import median_stable_variance

    assert math.isclose(vc.SIGMA_MEDIAN_STABLE**2, float(median_stable_variance()),
                        rel_tol=1e-12)


@pytest.mark.parametrize("params", get("VC.median-stable-variance").grid("standard"))
def test_median_stable_drift_band_holds_for_exact_medians(params: dict[str, Any]) -> None:
    """The Cornish-Fisher allowance covers the exact log-median difference at every point."""
    pred = vc.predict_median_stable_span(params)
    d = math.log(pred["median2"] / pred["median"]) - pred["span"] * pred["drift"]
    assert abs(d) <= pred["drift_tol"], (params, d, pred["drift_tol"])


@pytest.mark.parametrize("params", [
    {"depth": d, "sigma": s, "x": x} for d in (2, 3, 5, 20, 100) for s in (0.7, 1.0, 2.0)
    for x in (1.0, -2.5)])
def test_cornish_fisher_allowance(params: dict[str, Any]) -> None:
    pred = vc.predict_mean_vs_median(params)
    err = abs(math.log(pred["asymptotic"] / pred["median"]))
    assert err <= pred["asym_tol"], (params, err, pred["asym_tol"])
    assert math.isclose(math.exp(pred["log_median"]), pred["median"], rel_tol=1e-8)


@pytest.mark.parametrize("params", get("VC.small-gradient").grid("standard"))
def test_small_gradient_exact_within_berry_esseen(params: dict[str, Any]) -> None:
    pred = vc.predict_small_gradient(params)
    assert abs(pred["p"] - pred["clt"]) <= pred["band"], pred
    x = abs(params.get("x", 1.0))
    if params.get("init") == "xavier_uniform":  # Q(m, m log a - log(eps/|x|)), m = L - 1
        m = params["depth"] - 1
        q = float(special.gammaincc(
            m, m * math.log(math.sqrt(3.0)) - math.log(params["eps"] / x)))
        assert math.isclose(pred["p"], q, rel_tol=1e-12), (pred["p"], q)


@pytest.mark.parametrize("depth", [1, 2, 5, 10])
def test_relu_dead_probability(depth: int) -> None:
    assert vc.predict_relu_dead({"depth": depth, "init": "he_normal"})["p"] == (
        1.0 - 2.0 ** -(depth - 1))


@pytest.mark.parametrize("depth", [2, 4, 8])
def test_critical_widths_table(depth: int) -> None:
    assert vc.CRITICAL_WIDTHS[depth] == critical_width(depth, "relu", "he_normal", 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [16, 32])
def test_critical_widths_table_deep(depth: int) -> None:
    assert vc.CRITICAL_WIDTHS[depth] == critical_width(depth, "relu", "he_normal", 0.5)


def test_width_vs_depth_sides_and_mutant_disagree() -> None:
    grid = get("VC.width-vs-depth").grid("quick")
    for p in grid:
        pred = vc.predict_width_vs_depth(p)
        nc = vc.CRITICAL_WIDTHS[p["depth"]]
        assert pred["side"] == ("above" if p["width"] >= nc else "below"), (p, pred)
        # the exact probability agrees with the side (median >= 1/2 iff P(R < 1/2) <= 1/2)
        assert (pred["p_below"] <= 0.5) == (pred["side"] == "above"), (p, pred)
        assert (pred["median"] >= 0.5) == (pred["side"] == "above"), (p, pred)
        if "side_asymptotic" in pred:
            assert pred["side_asymptotic"] == pred["side"], (p, pred)
    muts = [vc.mutant_width_vs_depth(p)["side"] for p in grid]
    assert muts != [vc.predict_width_vs_depth(p)["side"] for p in grid]


@pytest.mark.parametrize("depth", sorted(vc.CRITICAL_WIDTHS))
def test_asymptotic_critical_width_within_one(depth: int) -> None:
    from flatstart.theory.wide import critical_width_asymptotic

    assert abs(vc.CRITICAL_WIDTHS[depth] - critical_width_asymptotic(depth)) <= 0.6
    assert vc.ASYM_SLACK > 0.6


@pytest.mark.parametrize("params", get("VC.chain-output-law").grid("standard"))
def test_chain_output_prediction_routes_agree(params: dict[str, Any]) -> None:
    """Window (density), tail (sf) and |f| tail (scaling route) against the cdf."""
    pred = vc.predict_chain_output(params)
    law = pred["law"]
    w1, w2 = pred["window"]
    cdf = np.asarray(law.cdf(np.array([w1, w2, -pred["abs_tail"], pred["abs_tail"]])))
    assert math.isclose(pred["p_window"], cdf[1] - cdf[0], abs_tol=1e-6), pred
    assert math.isclose(pred["p_abs_tail"], cdf[2] + 1.0 - cdf[3], abs_tol=1e-6), pred
    assert math.isclose(pred["p_tail"], 1.0 - float(np.asarray(
        law.cdf(np.array([pred["tail"]])))[0]), abs_tol=1e-6), pred
    assert pred["sign"] == "symmetric"
    relu = params["activation"] == "relu"
    assert pred["atom"] == (1.0 - 2.0 ** -(params["depth"] - 1) if relu else 0.0)


@pytest.mark.parametrize("claim_id", ["VC.wide-linear", "VC.wide-relu"])
def test_wide_predictions_routes_agree(claim_id: str) -> None:
    for p in get(claim_id).grid("standard"):
        pred = get(claim_id).predict(p)
        law = pred["law"]
        y1, y2 = pred["window"]
        c = law.log_cdf(np.array([y1, y2]))
        assert math.isclose(pred["p_window"], c[1] - c[0], abs_tol=1e-6), (p, pred)
        if "mean" in pred:
            assert math.isclose(pred["mean"], pred["mean_init"], rel_tol=1e-9), (p, pred)


# --------------------------------------------------------------------------- tests used
def test_ratio_law_test_atom_handling() -> None:
    pred = vc.predict_wide_linear({"width": 4, "depth": 2})
    x = pred["law"].sample(2000, seed=3)
    assert not vc.check_ratio_law(pred, x, 0.01).reject
    x0 = x.copy()
    x0[:5] = 0.0  # zeros where the law has no atom: rejected
    assert vc.check_ratio_law(pred, x0, 0.01).reject
    relu = vc.predict_wide_relu({"width": 2, "depth": 3})
    y = relu["law"].sample(4000, seed=4)
    out = vc.check_ratio_law(relu, y, 0.01)
    assert not out.reject and out.details["zeros"] > 0, out


def test_side_test_directions() -> None:
    x = np.linspace(0.0, 2.0, 1001)  # P(x < 0.5) = 1/4
    above = {"side": "above", "level": 0.5}
    below = {"side": "below", "level": 0.5}
    assert not vc.check_side(above, x, 0.01).reject
    assert vc.check_side(below, x, 0.01).reject
    assert vc.check_side(above, x / 4, 0.01).reject


def test_median_ci_covers() -> None:
    x = np.random.default_rng(0).standard_normal(5000)
    lo, hi = vc._median_ci(x, 0.01)
    assert lo < 0 < hi and hi - lo < 0.2


# --------------------------------------------------------------------------- montecarlo glue
def test_chain_samples_single_chunk_is_the_builder() -> None:
    r = chain_samples(50, 6, sigma=1.0, layers=(1, 6), seed=7)
    g = chain_gradients(chains(count=50, depth=6, sigma=1.0, seed=7), x=1.0, y=0.0)
    assert np.array_equal(r.output, g.output)
    assert np.array_equal(r.df_dw, g.df_dw[:, [0, 5]])


def test_chain_samples_chunked_law_and_relu_dead() -> None:
    r = chain_samples(4000, 3, init="he_normal", activation="relu", seed=1, max_elements=1000)
    assert len(set(r.provenance["chunk_seeds"])) > 1 and r.output.shape == (4000,)
    # dead iff w1 < 0 or w2 < 0 (x = 1): P = 3/4
    out = stats.binomial_test(int(r.dead.sum()), 4000, 0.75, 0.01)
    assert not out.reject, out
    assert np.all(r.output[r.dead] == 0.0)


def test_norm_ratios_against_module_reference() -> None:
    n, width, depth = 5, 6, 3
    r = norm_ratios(n, width, depth, "relu", "he_normal", seed=11)
    nets = mlps(count=n, width=width, depth=depth, activation="relu", init="he_normal",
                input_dim=width, seed=11)
    x0 = torch.full((1, width), width**-0.5, dtype=torch.float64)
    for i in range(n):
        with torch.no_grad():
            y = nets.to_module(i)(x0)
        assert math.isclose(float(y.square().sum()), r[i], rel_tol=1e-12, abs_tol=1e-300)


def test_norm_ratios_chunked_matches_law() -> None:
    pred = vc.predict_wide_linear({"width": 3, "depth": 2})
    x = norm_ratios(3000, 3, 2, "linear", "lecun_normal", seed=2, max_elements=500)
    assert not vc.check_ratio_law(pred, x, 0.01).reject


def test_chunk_seeds_and_errors() -> None:
    assert chunk_seeds(3, 1) == [3]
    assert chunk_seeds(3, 4) == chunk_seeds(3, 4) and len(set(chunk_seeds(3, 4))) == 4
    with pytest.raises(ValueError, match="count"):
        norm_ratios(0, 3, 2)
    with pytest.raises(ValueError, match="layers"):
        chain_samples(3, 2, sigma=1.0, layers=(3,))
    with pytest.raises(ValueError):
        chain_samples(3, 2)  # no weight law


# --------------------------------------------------------------------------- slow sweeps
@pytest.mark.slow
@pytest.mark.parametrize("claim_id", IDS)
def test_claim_standard_budget(claim_id: str) -> None:
    r = verify(claim_id, budget="standard", seed=1, cache=False)
    assert r.verdict == "consistent", (claim_id, r.verdict, r.p_value)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["VC.mean-vs-median", "VC.relu-chain-dead",
                                      "VC.wide-relu"])
def test_claim_calibration(claim_id: str) -> None:
    from flatstart.validation.claims import calibrate

    cal = calibrate(claim_id, reps=60, seed=100)
    assert cal.ok, cal.to_dict()


def test_chain_law_sanity_xavier() -> None:
    """The gradient law used by VC.small-gradient is that of L - 1 factors."""
    c = NeuralChain(6, init="xavier_normal")
    assert math.isclose(float(c.gradient_law(3).abs().median()),
                        float(product(Normal(1.0), 5).abs().median()), rel_tol=1e-9)
