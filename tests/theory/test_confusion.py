"""Tests for flatstart.theory.confusion: definition, linear cosine law, orthogonal identity, SGD
bounds."""

from __future__ import annotations

import math
from random import Random

import numpy as np
import pytest
import scipy.stats as st
import sympy as sp
from hypothesis import find, given, settings
from hypothesis import strategies as hst

from flatstart.theory import confusion as C

ALPHA = 0.01


# --------------------------------------------------------------------------------------------
# definition
# --------------------------------------------------------------------------------------------


def test_definition():
    gram = np.array([[1.0, -0.2, 0.1], [-0.2, 3.0, -0.5], [0.1, -0.5, 2.0]])
    assert C.confusion_eta(gram) == 0.5
    assert C.confusion_bound_holds(gram, 0.5)
    assert not C.confusion_bound_holds(gram, 0.49)
    assert C.confusion_eta(np.eye(3)) == 0.0


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (C.confusion_bound_holds, (np.eye(2), -0.1), "eta"),
        (C.confusion_eta, (np.ones((2, 3)),), "gradients_gram"),
        (C.confusion_eta, ([[1.0]],), "gradients_gram"),
        (C.linear_cosine_law, (1,), "d"),
        (C.linear_confusion_probability_bound, (1, 5, 0.1), "n_samples"),
        (C.linear_confusion_failure_probability, (5, float("nan")), "eta"),
        (C.orthogonal_linear_cosine, ([1.0, 0.0], [0.0, 1.0], 0.0, 1.0), "r_i"),
        (C.orthogonal_linear_cosine, ([0.0, 0.0], [0.0, 1.0], 1.0, 1.0), "x_i"),
        (C.sgd_bound_thm31, (5, 1.0, 2, 1.0, 0.5, 0.0, 1.0), "alpha"),
        (C.sgd_bound_thm31, (5, 0.1, 2, 1.0, 2.0, 0.0, 1.0), "mu"),
        (C.sgd_bound_thm31, (5, 0.1, 2, 1.0, 0.5, -1.0, 1.0), "eta"),
        (C.thm32_printed_bound, (0, 0.1, 1, 1.0, 0.0, 1.0), "T"),
        (C.thm32_corrected_bound, (3, 0.1, 0, 1.0, 0.0, 1.0), "N"),
        (C.thm32_corrected_bound, (3, 2.0, 1, 1.0, 0.0, 1.0), "alpha"),
    ],
)
def test_bad_input(fn, args, name):
    with pytest.raises(ValueError, match=name):
        fn(*args)


# --------------------------------------------------------------------------------------------
# linear model cosine law
# --------------------------------------------------------------------------------------------


def _linear_pair_cosines(d: int, m: int, seed: int) -> np.ndarray:
    """Independent pairs: x uniform on S^{d-1}, labels ±1 independent; ∇ℓ_i(0) = −y_i x_i."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, m, d))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=(2, m))
    g = -y[..., None] * x
    return np.sum(g[0] * g[1], axis=-1)  # unit gradients: inner product = cosine


def test_linear_cosine_variance_exact():
    d = sp.symbols("d", positive=True)
    a = (d - 1) / 2
    var_beta = a * a / ((2 * a) ** 2 * (2 * a + 1))
    assert sp.simplify(4 * var_beta - 1 / d) == 0
    for dd in (2, 3, 10, 1000):
        assert C.linear_cosine_law(dd).var() == pytest.approx(1.0 / dd, rel=1e-12)


@pytest.mark.parametrize(("d", "wrong_d"), [(3, 4), (10, 8), (50, 40)])
def test_linear_cosine_law_ks(d: int, wrong_d: int):
    c = _linear_pair_cosines(d, 6000, seed=d)
    p = st.kstest(c, C.linear_cosine_law(d).cdf).pvalue
    assert p > ALPHA, f"true law rejected: d={d}, p={p}"
    p_mut = st.kstest(c, C.linear_cosine_law(wrong_d).cdf).pvalue
    assert p_mut < ALPHA, f"mutant d={wrong_d} not rejected: p={p_mut}"


def test_union_bound_vs_simulation():
    """P(η-confusion among N samples) ≥ union bound; the single-pair mutant 1 − p is rejected.

    Check: exact binomial test that the true probability is not below the bound
    (one-sided, alpha = 0.01); mutant must be rejected by the same test.
    """
    n, d, eta, trials = 10, 100, 0.3, 4000
    rng = np.random.default_rng(11)
    x = rng.standard_normal((trials, n, d))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=(trials, n))
    g = -y[..., None] * x
    gram = np.einsum("tid,tjd->tij", g, g)
    holds = np.array([C.confusion_bound_holds(gr, eta) for gr in gram])
    k = int(holds.sum())
    bound = C.linear_confusion_probability_bound(n, d, eta)
    assert 0.5 < bound < 1.0
    p = st.binomtest(k, trials, bound, alternative="less").pvalue
    assert p > ALPHA, f"empirical {k / trials} significantly below bound {bound} (p={p})"
    mutant = 1.0 - C.linear_confusion_failure_probability(d, eta)
    p_mut = st.binomtest(k, trials, mutant, alternative="less").pvalue
    assert p_mut < ALPHA, f"mutant {mutant} not rejected (empirical {k / trials})"


# --------------------------------------------------------------------------------------------
# orthogonal deep linear nets
# --------------------------------------------------------------------------------------------


def _haar(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix: Haar distributed


def _net(depth: int, d: int, n: int, rng: np.random.Generator, init: str) -> list[np.ndarray]:
    if depth == 1:
        return [rng.standard_normal((1, d)) / math.sqrt(d)]
    if init == "orthogonal":
        ws = [_haar(n, rng)[:, :d]]  # isometric first layer: W1ᵀW1 = I_d
        ws += [_haar(n, rng) for _ in range(depth - 2)]
    else:
        ws = [rng.standard_normal((n, d)) / math.sqrt(d)]
        ws += [rng.standard_normal((n, n)) / math.sqrt(n) for _ in range(depth - 2)]
    ws.append(rng.standard_normal((1, n)) / math.sqrt(n))
    return ws


def test_haar_sampler_orthogonal():
    rng = np.random.default_rng(0)
    q = _haar(6, rng)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-14)


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8, 12])
def test_orthogonal_identity_exact(depth: int):
    rng = np.random.default_rng(depth)
    d, n, m = 5, 8, 6
    ws = _net(depth, d, n, rng, "orthogonal")
    x = rng.standard_normal((m, d))
    y = rng.standard_normal(m)
    full = C.deep_linear_per_sample_gradients(ws, x, y)
    blocks = C.deep_linear_per_sample_gradients(ws, x, y, per_layer=True)
    f = x
    for w in ws:
        f = f @ w.T
    r = f[:, 0] - y
    pred = np.array(
        [[C.orthogonal_linear_cosine(x[i], x[j], r[i], r[j]) for j in range(m)] for i in range(m)]
    )
    np.testing.assert_allclose(C.gradient_cosines(full), pred, atol=1e-12)
    for k, blk in enumerate(blocks):
        np.testing.assert_allclose(C.gradient_cosines(blk), pred, atol=1e-12, err_msg=f"layer {k}")
    # inner products: r_i r_j ⟨x_i,x_j⟩ (1 + (L−1)‖w_L‖²)
    scale = 1.0 + (depth - 1) * float(np.sum(ws[-1] ** 2))
    np.testing.assert_allclose(full @ full.T, np.outer(r, r) * (x @ x.T) * scale, rtol=1e-11)


def test_gaussian_init_deviates_increasingly_with_depth():
    """Mutant init: the identity fails for Gaussian weights, more so at depth 8 than 2."""
    d, n, m, reps = 5, 8, 6, 40
    devs = {}
    for depth in (2, 8):
        rng = np.random.default_rng(100 + depth)
        vals = []
        for _ in range(reps):
            ws = _net(depth, d, n, rng, "gaussian")
            x = rng.standard_normal((m, d))
            y = rng.standard_normal(m)
            g = C.deep_linear_per_sample_gradients(ws, x, y)
            f = x
            for w in ws:
                f = f @ w.T
            r = f[:, 0] - y
            xn = x / np.linalg.norm(x, axis=1, keepdims=True)
            pred = np.sign(np.outer(r, r)) * (xn @ xn.T)
            vals.append(np.abs(C.gradient_cosines(g) - pred)[np.triu_indices(m, 1)].mean())
        devs[depth] = np.array(vals)
    assert devs[2].min() > 1e-3, "Gaussian init should violate the orthogonal identity"
    p = st.mannwhitneyu(devs[8], devs[2], alternative="greater").pvalue
    assert p < ALPHA, f"deviation not larger at depth 8: {devs[8].mean()} vs {devs[2].mean()}"


# --------------------------------------------------------------------------------------------
# SGD bounds
# --------------------------------------------------------------------------------------------


@hst.composite
def problems(draw, max_n: int = 4, max_d: int = 3):
    n = draw(hst.integers(1, max_n))
    d = draw(hst.integers(1, max_d))
    a = draw(hst.lists(hst.floats(0.2, 3.0), min_size=n * d, max_size=n * d))
    b = draw(hst.lists(hst.floats(-2.0, 2.0), min_size=n * d, max_size=n * d))
    frac = draw(hst.floats(0.05, 0.95))
    w = draw(hst.lists(hst.floats(-3.0, 3.0), min_size=d, max_size=d))
    prob = C.QuadraticFiniteSum(np.reshape(a, (n, d)), np.reshape(b, (n, d)))
    alpha = frac * 2.0 / (n * prob.smoothness)
    return prob, alpha, np.array(w)


def test_moments_match_enumeration():
    rng = np.random.default_rng(3)
    prob = C.QuadraticFiniteSum(rng.uniform(0.2, 2, (3, 2)), rng.uniform(-1, 1, (3, 2)))
    w0, alpha, t = np.array([1.0, -2.0]), 0.15, 6
    paths = prob.enumerate_paths(w0, alpha, t)
    gap_enum = [np.mean([prob.value(p[k]) for p in paths]) - prob.f_star for k in range(t + 1)]
    g2_enum = [np.mean([np.sum(prob.grad(p[k]) ** 2) for p in paths]) for k in range(t + 1)]
    np.testing.assert_allclose(prob.expected_gap(w0, alpha, t), gap_enum, rtol=1e-11)
    np.testing.assert_allclose(prob.expected_grad_norm_sq(w0, alpha, t), g2_enum, rtol=1e-11)


def test_global_confusion_eta_is_sup():
    rng = np.random.default_rng(4)
    prob = C.QuadraticFiniteSum(rng.uniform(0.2, 2, (3, 2)), rng.uniform(-1, 1, (3, 2)))
    eta = prob.confusion_eta_global
    ws = rng.uniform(-3, 3, (5000, 2))
    emp = max(C.confusion_eta(prob.grads(w) @ prob.grads(w).T) for w in ws)
    assert emp <= eta * (1 + 1e-12) and emp > 0.95 * eta, (emp, eta)


@settings(max_examples=40)
@given(problems(), hst.integers(0, 40))
def test_thm31_holds(case, T):
    prob, alpha, w0 = case
    lhs = C.thm31_lhs(prob, w0, alpha, T)
    gap0 = prob.gap(w0)
    bound = C.sgd_bound_thm31(
        T, alpha, prob.n, prob.smoothness, prob.pl_constant, prob.confusion_eta_global, gap0
    )
    assert lhs <= bound * (1 + 1e-10) + 1e-13, f"Thm 3.1 violated: lhs={lhs} > bound={bound}"


@settings(max_examples=40)
@given(problems(), hst.floats(-3, 3))
def test_one_step_inequality(case, shift):
    """The derived per-step inequality behind 3.1/3.2, with η measured at w only:
    E_i F(w − α∇f_i) ≤ F(w) − (1/N)(α − NLα²/2) E_i‖∇f_i‖² + αη(w)(N−1)/N."""
    prob, alpha, w = case
    w = w + shift
    n, lip = prob.n, prob.smoothness
    g = prob.grads(w)
    eta_w = C.confusion_eta(g @ g.T) if n > 1 else 0.0
    lhs = np.mean([prob.value(w - alpha * gi) for gi in g])
    rhs = (
        prob.value(w)
        - (alpha - n * lip * alpha**2 / 2) / n * np.mean(np.sum(g**2, axis=1))
        + alpha * eta_w * (n - 1) / n
    )
    assert lhs <= rhs + 1e-12 * (1 + abs(rhs)), (lhs, rhs)


def test_thm31_noise_free_mutant_is_refuted():
    """Dropping the confusion term (αη/(1−ρ)) must be refuted by the same exact check."""
    prob = C.QuadraticFiniteSum(np.array([[1.0], [1.0]]), np.array([[-1.0], [1.0]]))
    w0, alpha, T = np.array([0.0]), 0.4, 20  # start at w*: pure SGD noise
    lhs = C.thm31_lhs(prob, w0, alpha, T)
    gap0 = prob.gap(w0)
    args = (T, alpha, 2, prob.smoothness, prob.pl_constant)
    assert lhs <= C.sgd_bound_thm31(*args, prob.confusion_eta_global, gap0)
    assert lhs > C.sgd_bound_thm31(*args, 0.0, gap0), "noise-free mutant not refuted"


def test_thm32_counterexample():
    prob = C.QuadraticFiniteSum(np.array([[1.0]]), np.array([[0.0]]))  # F = w²/2
    lhs = C.thm32_lhs(prob, [1.0], 0.1, 1)
    printed = C.thm32_printed_bound(1, 0.1, 1, 1.0, 0.0, 0.5)
    corrected = C.thm32_corrected_bound(1, 0.1, 1, 1.0, 0.0, 0.5)
    assert lhs == 1.0
    assert printed == pytest.approx(0.5263157894736842, rel=1e-15)
    assert lhs > printed, "printed Theorem 3.2 should fail on the counterexample"
    assert lhs <= corrected


def _thm32_sides(case, T):
    prob, alpha, w1 = case
    lhs = C.thm32_lhs(prob, w1, alpha, T)
    gap = prob.gap(w1)
    eta = (
        prob.confusion_eta_along_paths(w1, alpha, T - 1)
        if prob.n ** (T - 1) <= 5000
        else prob.confusion_eta_global
    )
    args = (T, alpha, prob.n, prob.smoothness, eta, gap)
    return lhs, C.thm32_printed_bound(*args), C.thm32_corrected_bound(*args)


@settings(max_examples=40)
@given(problems(max_n=3, max_d=2), hst.integers(1, 8))
def test_thm32_corrected_holds(case, T):
    lhs, _, corrected = _thm32_sides(case, T)
    assert lhs <= corrected * (1 + 1e-10) + 1e-13, f"corrected 3.2 violated: {lhs} > {corrected}"


def test_property_search_finds_printed_thm32_violation():
    """A property-based search (hypothesis.find) refutes the printed Theorem 3.2."""
    ce = find(
        hst.tuples(problems(max_n=3, max_d=2), hst.integers(1, 8)),
        lambda c: _thm32_sides(*c)[0] > _thm32_sides(*c)[1] * (1 + 1e-9) + 1e-12,
        settings=settings(derandomize=True, database=None, max_examples=500),
        random=Random(0),  # a fixed search: independent of the global random state
    )
    lhs, printed, corrected = _thm32_sides(*ce)
    assert lhs > printed and lhs <= corrected, (ce, lhs, printed, corrected)


def test_property_search_refutes_too_tight_corrected_mutant():
    """Mutant: corrected bound without its confusion term — the same search must refute it."""

    def mutant_fails(c):
        lhs, _, corrected = _thm32_sides(*c)
        prob, alpha, w1 = c[0]
        gap = prob.gap(w1)
        mutant = C.thm32_corrected_bound(c[1], alpha, prob.n, prob.smoothness, 0.0, gap)
        return lhs > mutant * (1 + 1e-9) + 1e-12

    ce = find(
        hst.tuples(problems(max_n=3, max_d=2), hst.integers(1, 8)),
        mutant_fails,
        settings=settings(derandomize=True, database=None, max_examples=2000),
        random=Random(0),
    )
    assert mutant_fails(ce)
