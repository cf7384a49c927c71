"""VC family, curvature (validation/catalogue/vc_curvature.py): every claim is consistent at
other seeds (slow); the Monte Carlo helpers agree with their slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import flatstart.validation.catalogue.vc_curvature as vc2
from flatstart.montecarlo import curvature as mc_curvature
from flatstart.montecarlo import sampling as mc_sampling
from flatstart.montecarlo import training as mc_training
from flatstart.validation import stats
from flatstart.validation.claims import get, verify

CLAIM_IDS = list(vc2.VC2_IDS)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", CLAIM_IDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_claim_consistent_other_seeds(claim_id: str, seed: int) -> None:
    r = verify(claim_id, budget="quick", seed=seed, cache=False)
    assert r.verdict == "consistent", (claim_id, seed, r.verdict, r.p_value, r.mutant_p_value)


# ------------------------------------------------------------------ montecarlo helpers
def test_chain_hessians_match_reference() -> None:
    for y in (0.0, 1.0):
        fast = mc_curvature.chain_hessian_samples(6, 5, y=y, seed=3)
        slow = mc_curvature.chain_hessian_samples_reference(6, 5, y=y, seed=3)
        np.testing.assert_allclose(fast.eigenvalues, slow.eigenvalues, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(fast.trace, slow.trace, rtol=1e-12)
        np.testing.assert_allclose(fast.grad_norm, slow.grad_norm, rtol=1e-12)


def test_chain_hessian_trace_is_sum_of_squared_partial_products() -> None:
    # tr H = x^2 sum_i P_{-i}^2, computed here directly from the torch chains' weights
    from flatstart.montecarlo.networks import chains

    r = mc_curvature.chain_hessian_samples(8, 4, x=1.5, y=0.3, seed=5)
    w = torch.stack([p.reshape(8) for p in chains(8, 4, sigma=1.0, seed=5).parameters()], 1)
    p_minus = torch.stack([torch.prod(torch.cat([w[:, :i], w[:, i + 1:]], 1), 1)
                           for i in range(4)], 1)
    np.testing.assert_allclose(r.trace, (1.5**2 * p_minus**2).sum(1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("opt,kw", [("sgd", {}), ("adam", {"eps": 0.0}),
                                    ("rmsprop", {"eps": 0.0}),
                                    ("adam", {"eps": 1e-8, "betas": (0.5, 0.9)})])
def test_saddle_escape_matches_torch_optim(opt: str, kw: dict) -> None:
    lams = [0.05, 0.3, 2.0]
    fast = mc_training.saddle_escape_steps(lams, opt, lr=0.05, theta0=1e-3, radius=1.0,
                                  max_steps=3000, **kw)
    slow = mc_training.saddle_escape_steps_reference(lams, opt, lr=0.05, theta0=1e-3, radius=1.0,
                                            max_steps=3000, **kw)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_saddle_escape_censoring_and_errors() -> None:
    s, c = mc_training.saddle_escape_steps([1e-6], "sgd", lr=0.1, max_steps=5)
    assert s.tolist() == [5.0] and c.tolist() == [True]
    with pytest.raises(ValueError, match="lams"):
        mc_training.saddle_escape_steps([-1.0])
    with pytest.raises(ValueError, match="theta0"):
        mc_training.saddle_escape_steps([1.0], theta0=0.0)


def test_residual_outputs_are_products() -> None:
    from flatstart.montecarlo.networks import chains

    out = mc_sampling.residual_chain_outputs(7, 6, 0.4, sigma=1.0, x=2.0, seed=11)
    w = torch.stack([p.reshape(7) for p in chains(7, 6, sigma=1.0, seed=11).parameters()], 1)
    np.testing.assert_allclose(out, 2.0 * torch.prod(1 + 0.4 * w, 1).numpy(), rtol=1e-13)


def test_layernorm_signal_is_normalized() -> None:
    v = mc_sampling.normalized_sq_norms(50, 8, 5, "layer", seed=0)
    assert np.all(v > 0) and np.all(v < 1.0)  # ‖relu(ẑ)‖²/n < ‖ẑ‖²/n = var/(var+eps) < 1
    b = mc_sampling.normalized_sq_norms(20, 8, 3, "batch", seed=0)
    assert b.shape == (20,) and np.all(np.isfinite(b))
    with pytest.raises(ValueError, match="norm"):
        mc_sampling.normalized_sq_norms(2, 4, 2, "group")


# ------------------------------------------------------------------ theory side / tests
def test_hessian_moment_prediction_values() -> None:
    p = vc2.predict_hessian_moments({"depth": 3, "sigma": 1.0})
    assert p["E_trace"] == 3.0 and p["E_grad_norm_sq"] == 30.0  # L(3^{L-1} + 1)
    assert p["E_H_ij_sq"] == 4 * 3 + 1
    assert p["mean_testable"] and p["trace_median_bound"] > 0


def test_escape_saddle_prediction_is_exact_for_gd() -> None:
    params = dict(get("VC.escape-saddle").grid("quick")[0])
    p = vc2.predict_escape_saddle(params)
    lam = p["lams"]
    approx = math.log(1e3) / (0.5 * lam)
    assert np.all(p["upper"] >= approx)  # log(1+x) < x
    assert np.all(np.diff(p["upper"]) <= 0)


def test_band_slope_test_edges() -> None:
    x = np.arange(10.0)
    y = 0.3 * x + 0.01 * np.random.default_rng(0).normal(size=10)
    assert stats.band_slope_test(x, y, 0.2, 0.4, 0.01).p_value == 1.0
    assert stats.band_slope_test(x, y, 0.5, 0.6, 0.01).reject


def test_residual_band_test_rejects_outside() -> None:
    x = np.exp(np.random.default_rng(1).normal(-0.5, 1.0, size=20_000))
    ok = vc2.check_residual({"lo": math.exp(-0.52), "hi": math.exp(-0.48)}, x, 0.01)
    bad = vc2.check_residual({"lo": math.exp(-0.3), "hi": math.exp(-0.2)}, x, 0.01)
    assert not ok.reject and bad.reject
    assert isinstance(ok, stats.TestOutcome)


# ------------------------------------------------------------------ new claims' helpers
def test_torch_chain_hessians_match_chain_hessian_samples() -> None:
    r = vc2._torch_chain_hessians(16, 4, 0.8, 1.5, 0.3, 7, "cpu")
    ref = mc_curvature.chain_hessian_samples(16, 4, sigma=0.8, x=1.5, y=0.3, seed=7)
    np.testing.assert_allclose(np.linalg.eigvalsh(r["hessian"]), ref.eigenvalues, rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(np.sqrt((r["grad"] ** 2).sum(1)), ref.grad_norm, rtol=1e-12)
    w = r["weights"]  # ∂f/∂w_i = x P_{-i}
    p_minus = np.stack([np.prod(np.delete(w, i, axis=1), axis=1) for i in range(4)], 1)
    np.testing.assert_allclose(r["grad_output"], 1.5 * p_minus, rtol=1e-12)


def test_fixed_weights_are_loaded_into_the_torch_chains() -> None:
    params = {"depth": 5, "sigma": 1.25, "x": 1.1, "y": 2.0, "count": 6, "wseed": 3}
    w = vc2._fixed_weights(params)
    r = vc2._torch_chain_hessians(6, 5, 1.25, 1.1, 2.0, 0, "cpu", weights=w)
    np.testing.assert_array_equal(r["weights"], w)


def test_pair_product_cornish_fisher_band() -> None:
    # (Cornish–Fisher − exact log median)·n lies in PAIR_CF_BAND (exact: Gil-Pelaez median)
    from flatstart.theory.chains import NeuralChain
    from flatstart.theory.escape import log_median_pair_product

    lo, hi = vc2.PAIR_CF_BAND
    for s in (0.8, 1.3):
        for n in (1, 2, 4, 8, 16, 32):
            exact = NeuralChain(n, sigma=s).log_median_abs_output()
            cf = log_median_pair_product(n + 2, s)
            assert lo <= (cf - exact) * n <= hi, (s, n, (cf - exact) * n)


def test_hessian_entry_levels_are_claim_arithmetic() -> None:
    p = vc2.predict_hessian_entries({"depth": 3, "sigma": 0.8, "x": 1.5, "delta": 0.5})
    assert p["diag_levels"] == [0.5 / 3] * 3
    assert p["max_entry_level"] == 0.5 / 6 and p["grad_level"] == 0.5 / 3
    assert 0.0 < p["other_tail"] <= p["max_entry_level"] * (1 + 1e-9)


def test_escape_saddle_brackets_contain_the_exact_counts() -> None:
    for params in get("VC.escape-saddle").grid("quick"):
        p = vc2.predict_escape_saddle(dict(params))
        for lo, hi in p["brackets"].values():
            assert np.all(np.asarray(lo) <= np.asarray(hi))
