"""Tests of the GC (gradient confusion) claim family and its Monte Carlo helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import flatstart.validation.catalogue.gc as gc
from flatstart.montecarlo import confusion as mc_conf
from flatstart.montecarlo import per_sample as mc_ps
from flatstart.montecarlo import sgd as mc_sgd
from flatstart.montecarlo.data import sphere_inputs, teacher_dataset
from flatstart.montecarlo.networks import mlps
from flatstart.montecarlo.per_sample import per_sample_gram
from flatstart.theory import confusion as tconf

ALPHA = 0.01


# --------------------------------------------------------------------------- the claims


def test_thm32_search_finds_counterexample_without_hardcoding() -> None:
    """The theory-side search finds printed-bound violations in a seeded random family, the
    torch enumeration confirms them, and the candidate list contains no fixed problem."""
    p = {"d": 1, "problems": 2}
    pred = gc.predict_thm32(p)
    m = gc.simulate_thm32(p, 0, "cpu", "quick")
    assert pred["found"], "the search found no counterexample"
    k = pred["found"][0]
    assert m["lhs"][k] > pred["printed"][k] and m["lhs"][k] <= pred["corrected"][k] * (1 + 1e-9)
    np.testing.assert_allclose(m["lhs"], pred["exact_lhs"], rtol=1e-10, atol=1e-14)
    assert gc.test_thm32(gc.mutant_thm32(p), m, ALPHA).reject


# --------------------------------------------------------------------------- statistics glue


@pytest.mark.parametrize("direction,t,expect_reject", [
    (1, -5.0, True), (1, 5.0, False), (-1, 5.0, True), (-1, -5.0, False), (1, 0.0, False),
])
def test_one_sided_conversion(direction: int, t: float, expect_reject: bool) -> None:
    """``H0: direction·θ ≥ 0`` maps to the stats alternative; data with mean t·se."""
    from flatstart.validation import stats

    rng = np.random.default_rng(0)
    z = rng.normal(size=400)
    z = (z - z.mean()) / z.std(ddof=1)  # exact mean 0, sd 1: the t statistic is 20·shift
    x = z + t / 20.0
    out = stats.mean_test(x, 0.0, ALPHA, alternative=gc._alternative(direction))
    assert out.statistic == pytest.approx(t, abs=1e-9)
    assert out.reject is expect_reject, (direction, t, out.p_value)
    assert 0.0 <= out.p_value <= 1.0
    with pytest.raises(ValueError, match="direction"):
        gc._alternative(0)


# --------------------------------------------------------------------------- MC helpers


@pytest.mark.parametrize("y", [None, "labels"])
def test_ntk_gram_matches_reference(y: str | None) -> None:
    nets = mlps(2, 6, 3, input_dim=4, output_dim=1, seed=3)
    ds = sphere_inputs(5, 4, labels="sign", seed=4)
    yy = None if y is None else ds.y
    fast = mc_ps.ntk_gram(nets, ds.x, yy)
    slow = mc_ps.ntk_gram_reference(nets, ds.x, yy)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)


def test_ntk_gram_rejects_norm_and_bias() -> None:
    with pytest.raises(ValueError, match="plain dense"):
        mc_ps.ntk_gram(mlps(1, 4, 2, output_dim=1, norm="layer", input_dim=3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="output_dim"):
        mc_ps.ntk_gram(mlps(1, 4, 2, input_dim=3), torch.zeros(2, 3))


def test_with_replacement_pairs_match_direct_batches() -> None:
    """Batch gradients from the Gram matrix equal explicit means of per-sample gradients."""
    from flatstart.montecarlo.per_sample import flat_per_sample, per_sample_gradients

    nets = mlps(1, 8, 2, input_dim=3, output_dim=1, bias=True, init="torch_default", seed=1)
    ds = teacher_dataset(10, 3, seed=2)
    g = flat_per_sample(per_sample_gradients(nets, ds.x, ds.y, "mse"))[0]
    gram = g @ g.T
    r = mc_conf.with_replacement_pair_products(gram, 4, 3, seed=5)
    gen = torch.Generator().manual_seed(5)
    idx = torch.randint(0, 10, (2, 3, 4), generator=gen)
    g1, g2 = g[idx[0]].mean(dim=1), g[idx[1]].mean(dim=1)
    torch.testing.assert_close(r["inner"], (g1 * g2).sum(dim=1), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(r["sq1"], (g1 * g1).sum(dim=1), rtol=1e-12, atol=1e-14)


def test_path_moments_match_loop_and_theory() -> None:
    a = [[1.0, 2.0], [0.5, 1.5], [2.0, 0.3]]
    b = [[1.0, -1.0], [0.2, 0.5], [-1.0, 2.0]]
    fast = mc_sgd.quadratic_sgd_path_moments(a, b, [1.0, -2.0], 0.15, 3)
    slow = mc_sgd.quadratic_sgd_path_moments_reference(a, b, [1.0, -2.0], 0.15, 3)
    np.testing.assert_allclose(fast["grad_sq"], slow["grad_sq"], rtol=1e-12)
    np.testing.assert_allclose(fast["gap"], slow["gap"], rtol=1e-12)
    prob = tconf.QuadraticFiniteSum(np.array(a), np.array(b))
    np.testing.assert_allclose(fast["grad_sq"], prob.expected_grad_norm_sq([1.0, -2.0], 0.15, 3),
                               rtol=1e-12)
    assert math.isclose(float(fast["eta"]),
                        prob.confusion_eta_along_paths([1.0, -2.0], 0.15, 3), rel_tol=1e-12)


def test_sgd_gaps_mean_matches_exact_expectation() -> None:
    """Real SGD runs: the sample mean of F(w_T) − F* agrees with the exact expectation
    (t test, alpha 0.01); a 10% larger value is rejected (mutant)."""
    from flatstart.validation.stats import mean_test

    a = np.array([[1.0, 2.0], [0.5, 1.5], [2.0, 0.3]])
    b = np.array([[1.0, -1.0], [0.2, 0.5], [-1.0, 2.0]])
    gaps = mc_sgd.quadratic_sgd_gaps(a, b, [1.0, -2.0], 0.15, 6, 20_000, seed=0)
    exact = tconf.thm31_lhs(tconf.QuadraticFiniteSum(a, b), [1.0, -2.0], 0.15, 6)
    assert not mean_test(gaps, exact, ALPHA).reject
    assert mean_test(gaps, 1.1 * exact, ALPHA).reject


@pytest.mark.parametrize("fn,args,name", [
    (mc_conf.with_replacement_pair_products, (torch.eye(3), 0, 2), "batch_size"),
    (mc_sgd.quadratic_sgd_gaps, ([[1.0]], [[0.0]], [1.0], -0.1, 1, 2), "lr"),
    (mc_sgd.quadratic_sgd_gaps, ([[-1.0]], [[0.0]], [1.0], 0.1, 1, 2), "a must be > 0"),
    (mc_sgd.quadratic_sgd_path_moments, ([[1.0]] * 3, [[0.0]] * 3, [1.0], 0.1, 20), "too many"),
])
def test_bad_input(fn: object, args: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        fn(*args)  # type: ignore[operator]


def test_orthogonal_first_layer_is_isometric() -> None:
    """What GC.orthogonal-identity relies on: W1ᵀW1 = I_d for an (n, d) orthogonal layer."""
    nets = mlps(3, 16, 3, activation="linear", init="orthogonal", input_dim=5, output_dim=1,
                seed=0)
    w1 = nets.parameters()[0]
    torch.testing.assert_close(w1.transpose(1, 2) @ w1,
                               torch.eye(5, dtype=w1.dtype).expand(3, 5, 5))
    x = sphere_inputs(4, 5, seed=1)
    assert per_sample_gram(nets, x.x, x.y).shape == (3, 4, 4)


# --------------------------------------------------------------------------- earned verdicts


def test_sgd_bound_tight_point_is_an_equality() -> None:
    """N = 1 isotropic quadratic: the Thm 3.1 bound equals the exact gap, and real SGD hits it;
    a rate rho 1% off breaks the round-off check."""
    p = {"problem": "iso", "N": 1, "w0": 2.0, "T": 7, "lr_frac": 0.3}
    pred = gc.predict_sgd_bound(p)
    assert pred["tight"] and pred["bound"] == pytest.approx(pred["exact"], rel=1e-12)
    gaps = gc.simulate_sgd_bound(p, 0, "cpu", "quick")
    assert not gc.test_sgd_bound(pred, gaps, ALPHA).reject
    assert gc.test_sgd_bound({**pred, "bound": 1.01 * pred["bound"]}, gaps, ALPHA).reject


def test_unrolled_ntk_matches_recursion() -> None:
    from flatstart.theory import ntk as tntk

    for rho0 in (-0.6, 0.0, 0.5):
        for depth in (0, 1, 3):
            assert gc._unrolled_normalized_ntk(rho0, depth) == pytest.approx(
                float(tntk.normalized_ntk(rho0, depth)), rel=1e-12, abs=1e-14)
    pred = gc.predict_width_depth({"part": "ntk", "depth": 2, "rho0": 0.5})
    assert pred["mean_reference"] == pytest.approx(pred["mean"], rel=1e-9)


def test_linear_confusion_test_uses_both_parts() -> None:
    p = {"d": 10, "N": 4, "eta": 0.6}
    g = gc.simulate_linear_confusion(p, 0, "cpu", "quick")
    assert g.shape == (3_000, 4, 10)
    pred = gc.predict_linear_confusion(p)
    assert not gc.test_linear_confusion(pred, g, ALPHA).reject
    assert gc.test_linear_confusion({**pred, "p_fail": 1.5 * pred["p_fail"]}, g, ALPHA).reject
    assert gc.test_linear_confusion({**pred, "p_ok_bound": 0.95}, g, ALPHA).reject


def test_minibatch_two_batch_estimators_unbiased() -> None:
    m = gc.simulate_minibatch({"B": 4}, 0, "cpu", "quick")
    out = gc.test_minibatch(gc.predict_minibatch({"B": 4}), m, ALPHA)
    assert not out.reject
    assert "two_batch_trace" in out.details
    assert gc.minibatch_cosine_from_noise(4, m["trace"], m["g2"]) == pytest.approx(
        1.0 / (1.0 + m["b_simple"] / 4), rel=1e-9)
