"""Tests for flatstart.theory.chains against independent numpy/torch simulations of width-1 chains.

Every statistical check has an explicit alpha, a fixed seed and a mutant that the same check
must reject.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from flatstart.theory.chains import (
    A_SYM,
    L_SYM,
    SIGMA_SYM,
    X_SYM,
    Y_SYM,
    NeuralChain,
    chain_moment_formulas,
    gaussian_log_abs_cumulants,
    median_stable_variance,
)

ALPHA = 0.01
N = 20_000


# ----------------------------------------------------------------------------- simulation
def draw_weights(chain_kind: tuple[str, float], depth: int, n: int, seed: int) -> np.ndarray:
    family, scale = chain_kind
    rng = np.random.default_rng(seed)
    if family == "normal":
        return rng.normal(0.0, scale, size=(n, depth))
    return rng.uniform(-scale, scale, size=(n, depth))


def forward(w: np.ndarray, x: float, activation: str) -> np.ndarray:
    """f(x) for each row of weights, computed layer by layer."""
    h = np.full(w.shape[0], x, dtype=float)
    L = w.shape[1]
    for k in range(L):
        h = w[:, k] * h
        if activation == "relu" and k < L - 1:
            h = np.maximum(h, 0.0)
    return h


def grad_numpy(w: np.ndarray, x: float, activation: str) -> np.ndarray:
    """∂f/∂w_i by backpropagation written out in numpy (independent of the formulas)."""
    n, L = w.shape
    hs = [np.full(n, x, dtype=float)]
    pre = []
    for k in range(L):
        z = w[:, k] * hs[-1]
        pre.append(z)
        hs.append(np.maximum(z, 0.0) if (activation == "relu" and k < L - 1) else z)
    g = np.empty((n, L))
    back = np.ones(n)  # ∂f/∂h_L
    for k in range(L - 1, -1, -1):
        if activation == "relu" and k < L - 1:
            back = back * (pre[k] > 0)
        g[:, k] = back * hs[k]
        back = back * w[:, k]
    return g


def ks_pvalue(sample: np.ndarray, cdf) -> float:  # noqa: ANN001
    return float(stats.kstest(sample, cdf).pvalue)


def binom_p(k: int, n: int, p: float) -> float:
    return float(stats.binomtest(k, n, p).pvalue)


# ----------------------------------------------------------------------------- output law
OUTPUT_CASES = [
    # (depth, init, sigma, x)
    (1, "xavier_normal", None, 1.0),
    (3, None, 0.7, 2.0),
    (6, "xavier_normal", None, -1.5),
    (4, "he_normal", None, 1.0),
    (5, "xavier_uniform", None, 1.0),
    (2, "torch_default", None, 0.5),
]


@pytest.mark.parametrize(("depth", "init", "sigma", "x"), OUTPUT_CASES)
def test_output_law_ks_linear(depth: int, init: str | None, sigma: float | None, x: float) -> None:
    c = NeuralChain(depth, init=init, sigma=sigma, x=x)
    w = draw_weights((c.family, c.scale), depth, N, seed=depth)
    f = forward(w, x, "linear")
    p = ks_pvalue(f, c.output_law().cdf)
    assert p > ALPHA, (c, p)
    # mutant: 15% larger weight scale
    if c.family == "normal":
        m = NeuralChain(depth, sigma=c.scale * 1.15, x=x)
    else:
        m = NeuralChain(depth, sigma=c.sigma, x=x)  # Gaussian instead of uniform, same variance
        if depth == 2:
            m = NeuralChain(depth, sigma=c.sigma * 1.15, x=x)
    pm = ks_pvalue(f, m.output_law().cdf)
    assert pm < ALPHA, (m, pm)


@pytest.mark.parametrize(("depth", "x"), [(2, 1.0), (4, -0.8), (5, 2.0)])
def test_output_law_relu(depth: int, x: float) -> None:
    """ReLU chain: atom 1 − 2^{-(L−1)} (binomial test) and KS of the nonzero part."""
    c = NeuralChain(depth, init="he_normal", activation="relu", x=x)
    w = draw_weights(("normal", c.scale), depth, 4 * N, seed=10 + depth)
    f = forward(w, x, "relu")
    law = c.output_law()
    zeros = int(np.sum(f == 0))
    assert binom_p(zeros, f.size, law.atom) > ALPHA, (zeros, law.atom)
    assert binom_p(zeros, f.size, 1 - 2.0**-depth) < ALPHA  # mutant: 1 − 2^{-L}
    nz = f[f != 0]
    a = law.atom

    def cond_cdf(t: np.ndarray) -> np.ndarray:
        return (law.cdf(t) - a * (np.asarray(t) >= 0)) / (1 - a)

    assert ks_pvalue(nz, cond_cdf) > ALPHA
    # mutant: linear chain law (no atom) for the nonzero part, i.e. wrong scale by atom weight
    lin = NeuralChain(depth, sigma=c.scale * 1.15, x=x).output_law()
    assert ks_pvalue(nz, lin.cdf) < ALPHA


def test_dead_probability_exact() -> None:
    """P(∇f ≡ 0) for a ReLU chain by simulated backprop; mutant 1 − 2^{-L}."""
    L = 4
    c = NeuralChain(L, sigma=1.0, activation="relu", x=0.3)
    w = draw_weights(("normal", 1.0), L, N, seed=3)
    g = grad_numpy(w, 0.3, "relu")
    dead = int(np.sum(np.all(g == 0, axis=1)))
    assert binom_p(dead, N, c.dead_probability()) > ALPHA
    assert binom_p(dead, N, 1 - 2.0**-L) < ALPHA
    assert NeuralChain(L, sigma=1.0, activation="relu", x=0.0).dead_probability() == 1.0
    assert NeuralChain(L, sigma=1.0).dead_probability() == 0.0


# ----------------------------------------------------------------------------- gradient laws
@pytest.mark.parametrize(
    ("depth", "layer", "activation", "x"),
    [(4, 2, "linear", 1.0), (4, 4, "linear", -2.0), (3, 3, "relu", 1.0), (3, 1, "relu", -1.0)],
)
def test_gradient_law_output(depth: int, layer: int, activation: str, x: float) -> None:
    c = NeuralChain(depth, init="xavier_normal", activation=activation, x=x)
    w = draw_weights(("normal", 1.0), depth, N, seed=20 + layer)
    g = grad_numpy(w, x, activation)[:, layer - 1]
    law = c.gradient_law(layer)
    a = law.atom
    if a > 0:
        assert binom_p(int(np.sum(g == 0)), N, a) > ALPHA
        g = g[g != 0]
    # law of the nonzero part: remove the atom at 0 (the gradient law never has sign "negative"
    # here, so the atom sits inside cdf(t) for t >= 0)
    assert ks_pvalue(g, lambda t: (law.cdf(t) - a * (np.asarray(t) >= 0)) / (1 - a)) > ALPHA
    # mutant: weights 20% too large
    mut = NeuralChain(depth, sigma=1.2, activation=activation, x=x).gradient_law(layer)
    assert ks_pvalue(g, lambda t: (mut.cdf(t) - a * (np.asarray(t) >= 0)) / (1 - a)) < ALPHA


def test_relu_last_layer_gradient_is_nonnegative() -> None:
    c = NeuralChain(3, sigma=1.0, activation="relu", x=-1.0)
    assert c.gradient_law(3).sign == "positive"
    w = draw_weights(("normal", 1.0), 3, 2000, seed=5)
    assert np.all(grad_numpy(w, -1.0, "relu")[:, 2] >= 0)


@pytest.mark.parametrize(("depth", "layer"), [(3, 1), (5, 5)])
def test_gradient_law_loss_y0(depth: int, layer: int) -> None:
    """∂ℓ/∂w_i = r ∂f/∂w_i with y = 0 against the law x² |w_i| P_{-i}²."""
    x = 1.3
    c = NeuralChain(depth, sigma=0.9, x=x, y=0.0)
    w = draw_weights(("normal", 0.9), depth, N, seed=40 + depth)
    r = forward(w, x, "linear")
    g = r * grad_numpy(w, x, "linear")[:, layer - 1]
    assert ks_pvalue(g, c.gradient_law(layer, of="loss").cdf) > ALPHA
    # mutant: the output-gradient law rescaled by |x| (a plausible confusion)
    mut = NeuralChain(depth, sigma=0.9, x=x * x).gradient_law(layer, of="output")
    assert ks_pvalue(g, mut.cdf) < ALPHA


# ----------------------------------------------------------------------------- moments
def _gauss_moment(k: int, s: sp.Expr) -> sp.Expr:
    return sp.Integer(0) if k % 2 else s**k * sp.factorial2(k - 1)


def _unif_moment(k: int, a: sp.Expr) -> sp.Expr:
    return sp.Integer(0) if k % 2 else a**k / (k + 1)


def _expect(poly: sp.Expr, ws: list[sp.Symbol], moment) -> sp.Expr:  # noqa: ANN001
    """E of a polynomial in independent weights from their moments."""
    p = sp.Poly(sp.expand(poly), *ws)
    tot = sp.Integer(0)
    for monom, coeff in p.terms():
        term = coeff
        for k in monom:
            term *= moment(k)
        tot += term
    return sp.simplify(tot)


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("family", ["normal", "uniform"])
def test_moments_symbolic(depth: int, family: str) -> None:
    """E‖∇ℓ‖², E tr H, E H_12² by symbolic differentiation and Gaussian/uniform moments."""
    ws = list(sp.symbols(f"w1:{depth + 1}", real=True))
    x, y = X_SYM, Y_SYM
    scale = SIGMA_SYM if family == "normal" else A_SYM
    mom = (lambda k: _gauss_moment(k, scale)) if family == "normal" else (
        lambda k: _unif_moment(k, scale))
    f = sp.Mul(*ws) * x
    loss = (f - y) ** 2 / 2
    grad = [sp.diff(loss, w) for w in ws]
    e_grad = _expect(sum(g**2 for g in grad), ws, mom)
    e_tr = _expect(sum(sp.diff(loss, w, 2) for w in ws), ws, mom)
    e_h12 = _expect(sp.diff(loss, ws[0], ws[1]) ** 2, ws, mom)
    formulas = chain_moment_formulas(family)
    for got, name in ((e_grad, "E_grad_norm_sq"), (e_tr, "E_trace"), (e_h12, "E_H_ij_sq")):
        want = getattr(formulas, name).subs(L_SYM, depth)
        assert sp.simplify(sp.expand(got - want)) == 0, (name, got, want)
    # mutant: THEORY's x = y = 1 closed forms differ from the general-x,y value at x=2, y=0
    want_xy1 = depth * (3 ** (depth - 1) * scale ** (4 * depth - 2) + scale ** (2 * depth - 2))
    if family == "normal":
        assert sp.simplify(e_grad.subs({x: 1, y: 1}) - want_xy1) == 0
        assert sp.simplify(e_grad.subs({x: 2, y: 0}) - want_xy1) != 0


def test_theory_md_closed_forms() -> None:
    """The x = y = 1 forms of docs/theory/vc-curvature.md#moments-of-the-chain-derived are the
    special case of the general formulas."""
    f = chain_moment_formulas("normal")
    s, L = SIGMA_SYM, L_SYM
    sub = {X_SYM: 1, Y_SYM: 1}
    assert sp.simplify(f.E_grad_norm_sq.subs(sub) - L * (3 ** (L - 1) * s ** (4 * L - 2)
                                                         + s ** (2 * L - 2))) == 0
    assert sp.simplify(f.E_trace.subs(sub) - L * s ** (2 * (L - 1))) == 0
    assert sp.simplify(f.E_H_ij_sq.subs(sub) - (4 * 3 ** (L - 2) * s ** (4 * L - 4)
                                                + s ** (2 * L - 4))) == 0


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_trace_mean_by_simulation(activation: str) -> None:
    """E tr H (finite variance at L = 3) by a CLT interval on 10^5 chains; mutant p·L·σ^{2L}."""
    L, sigma, x = 3, 0.8, 1.2
    c = NeuralChain(L, sigma=sigma, activation=activation, x=x, y=0.5)
    w = draw_weights(("normal", sigma), L, 100_000, seed=7)
    g = grad_numpy(w, x, activation)
    tr = np.sum(g**2, axis=1)  # H_ii = (∂f/∂w_i)² since ∂²f/∂w_i² = 0
    mean, se = float(tr.mean()), float(tr.std() / math.sqrt(tr.size))
    z = stats.norm.ppf(1 - ALPHA / 2)
    want = c.hessian_moments().values()["E_trace"]
    assert abs(mean - want) < z * se, (mean, want, se)
    wrong = want * (2.0 ** (L - 1) if activation == "relu" else sigma**2)
    assert abs(mean - wrong) > z * se, (mean, wrong, se)


# ----------------------------------------------------------------------------- medians
@pytest.mark.parametrize(("depth", "init"), [(1, "xavier_uniform"), (7, "xavier_uniform"),
                                             (12, "he_uniform"), (6, "xavier_normal")])
def test_median_binomial(depth: int, init: str) -> None:
    """P(|f| ≤ median) = ½ by an exact binomial test; mutant median × 1.1."""
    c = NeuralChain(depth, init=init, x=1.0)
    w = draw_weights((c.family, c.scale), depth, N, seed=50 + depth)
    f = np.abs(forward(w, 1.0, "linear"))
    med = c.median_abs_output()
    assert binom_p(int(np.sum(f <= med)), N, 0.5) > ALPHA, med
    assert binom_p(int(np.sum(f <= med * 1.1)), N, 0.5) < ALPHA


@pytest.mark.parametrize("depth", [1, 2, 5, 30, 200])
def test_uniform_closed_form_vs_inversion(depth: int) -> None:
    """a^L e^{-ν(L)} (closed form) vs Gil-Pelaez median of the product law; Choi brackets it."""
    c = NeuralChain(depth, init="xavier_uniform")
    closed = c.median_abs_output()
    numeric = c.output_law().abs().median()
    assert math.isclose(closed, numeric, rel_tol=1e-9), (closed, numeric)
    lo, ex, up = c.uniform_median_bounds()
    assert lo <= ex * (1 + 1e-12) and ex <= up * (1 + 1e-12)


def test_median_stable_variance() -> None:
    v = median_stable_variance()
    assert v.exact == 2 * sp.exp(sp.EulerGamma)
    assert math.isclose(float(v), 2 * math.exp(np.euler_gamma), rel_tol=1e-15)
    assert abs(gaussian_log_abs_cumulants(math.sqrt(v))[0]) < 1e-14
    # with that variance the median of |P| is flat in L, ≈ C_∞ = e^{-κ₃/(6κ₂)}
    meds = [NeuralChain(L, sigma=math.sqrt(v)).median_abs_output() for L in (10, 40, 160)]
    c_inf = math.exp(-float(sp.polygamma(2, sp.Rational(1, 2))) / 8 / (6 * math.pi**2 / 8))
    for m in meds:
        assert abs(m / c_inf - 1) < 0.02, (meds, c_inf)
    # mutant: σ² = 2 (He) drifts with L
    assert NeuralChain(160, sigma=math.sqrt(2)).median_abs_output() < 0.01 * c_inf


def test_gaussian_log_moments_symbolic() -> None:
    """E log|w| = log σ − (γ + log 2)/2 and Var = π²/8 by sympy integration."""
    u = sp.symbols("u", positive=True)
    dens = 2 * sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    m = sp.integrate(sp.log(u) * dens, (u, 0, sp.oo))
    assert sp.simplify(m + (sp.EulerGamma + sp.log(2)) / 2) == 0
    m2 = sp.integrate(sp.log(u) ** 2 * dens, (u, 0, sp.oo))
    assert abs(float(m2 - m**2) - math.pi**2 / 8) < 1e-12
    mean, var, k3, rho = gaussian_log_abs_cumulants(1.0)
    assert abs(mean - float(m)) < 1e-14 and abs(var - math.pi**2 / 8) < 1e-14
    assert rho > var**1.5  # Lyapunov: E|X|^3 ≥ (E X²)^{3/2}


# ----------------------------------------------------------------------------- small gradients
@pytest.mark.parametrize(("depth", "init", "eps"), [(4, "xavier_normal", 0.05),
                                                    (8, "xavier_uniform", 0.01),
                                                    (3, "he_normal", 0.2)])
def test_prob_small_gradient(depth: int, init: str, eps: float) -> None:
    c = NeuralChain(depth, init=init, x=1.0)
    w = draw_weights((c.family, c.scale), depth, N, seed=60 + depth)
    g = np.abs(grad_numpy(w, 1.0, "linear")[:, 1])
    k = int(np.sum(g < eps))
    res = c.prob_small_gradient(eps, layer=2)
    assert binom_p(k, N, res.exact) > ALPHA, (k / N, res)
    assert abs(res.exact - res.clt) <= res.band  # Berry–Esseen covers the exact value
    # mutant: the output probability P(|P| < ε) (one factor too many)
    assert binom_p(k, N, c.prob_small_output(eps).exact) < ALPHA


def test_uniform_small_probability_closed_form() -> None:
    """Q(m, m log a − log ε) vs the Gil-Pelaez cdf of the product law."""
    c = NeuralChain(6, init="xavier_uniform")
    for eps in (1e-3, 0.05, 0.5):
        closed = c.prob_small_output(eps).exact
        numeric = float(c.output_law().abs().cdf(eps))
        assert math.isclose(closed, numeric, rel_tol=1e-9, abs_tol=1e-14), (eps, closed, numeric)


# ----------------------------------------------------------------------------- norms
def test_gradient_norm_bounds_hold() -> None:
    """P(‖∇ℓ‖ > B(δ)) ≤ δ: one-sided binomial test; a union-free mutant is violated too often."""
    L, delta = 6, 0.2
    for y in (0.0, 1.0):
        c = NeuralChain(L, init="xavier_normal", x=1.0, y=y)
        w = draw_weights(("normal", 1.0), L, N, seed=70)
        r = forward(w, 1.0, "linear") - y
        gn = np.linalg.norm(r[:, None] * grad_numpy(w, 1.0, "linear"), axis=1)
        b = c.gradient_norm_bound(delta, of="loss")
        viol = int(np.sum(gn > b))
        assert stats.binomtest(viol, N, delta, alternative="greater").pvalue > ALPHA
        # mutant: one entry's (1 − δ)-quantile, forgetting the union bound and √L
        of = "loss" if y == 0 else "output"
        m = c.gradient_law(1, of).abs().quantile(1 - delta) * (1.0 if y == 0 else abs(y))
        viol_m = int(np.sum(gn > m))
        assert stats.binomtest(viol_m, N, delta, alternative="greater").pvalue < ALPHA
        med = c.median_gradient_norm(of="loss")
        assert med["lower"] <= float(np.median(gn)) <= med["upper"]


# ----------------------------------------------------------------------------- properties
@settings(max_examples=15)
@given(st.integers(min_value=1, max_value=40))
def test_median_decreases_with_depth_xavier(depth: int) -> None:
    a = NeuralChain(depth, init="xavier_normal").median_abs_output()
    b = NeuralChain(depth + 1, init="xavier_normal").median_abs_output()
    assert b < a


@settings(max_examples=15)
@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0.3, max_value=3.0))
def test_median_below_mean(depth: int, sigma: float) -> None:
    c = NeuralChain(depth, sigma=sigma)
    mean_abs = (sigma * math.sqrt(2 / math.pi)) ** depth
    assert c.median_abs_output() <= mean_abs * (1 + 1e-12)


@settings(max_examples=10)
@given(st.integers(min_value=2, max_value=25), st.sampled_from(["xavier_normal", "he_uniform"]))
def test_norm_bound_above_entry(depth: int, init: str) -> None:
    c = NeuralChain(depth, init=init)
    med = c.median_gradient_norm()
    assert med["lower"] <= med["upper"]


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"depth": 0, "sigma": 1.0}, "depth"),
        ({"depth": 2}, "init"),
        ({"depth": 2, "init": "he_normal", "sigma": 1.0}, "sigma"),
        ({"depth": 2, "sigma": -1.0}, "sigma"),
        ({"depth": 2, "sigma": 0.0}, "sigma"),
        ({"depth": 2, "init": "kaiming"}, "init"),
        ({"depth": 2, "init": "orthogonal"}, "orthogonal"),
        ({"depth": 2, "sigma": 1.0, "activation": "tanh"}, "activation"),
    ],
)
def test_bad_constructor(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        NeuralChain(**kwargs)


def test_bad_methods() -> None:
    c = NeuralChain(3, sigma=1.0, y=1.0)
    with pytest.raises(ValueError, match="layer"):
        c.gradient_law(4)
    with pytest.raises(ValueError, match="layer"):
        c.gradient_law(0)
    with pytest.raises(ValueError, match="eps"):
        c.prob_small_gradient(0.0)
    with pytest.raises(ValueError, match="y"):
        c.gradient_law(1, of="loss")
    with pytest.raises(ValueError, match="delta"):
        c.gradient_norm_bound(1.5)


def test_symbolic_vs_numeric_moments() -> None:
    for L, init in itertools.product((2, 5, 9), ("xavier_normal", "he_normal", "xavier_uniform")):
        c = NeuralChain(L, init=init, x=1.0, y=1.0)
        vals = c.hessian_moments().values()
        m2 = c.sigma**2
        m4 = 3 * m2**2 if c.family == "normal" else c.scale**4 / 5
        assert math.isclose(vals["E_trace"], L * m2 ** (L - 1), rel_tol=1e-12)
        assert math.isclose(vals["E_grad_norm_sq"], L * (m2 * m4 ** (L - 1) + m2 ** (L - 1)),
                            rel_tol=1e-12)
        assert math.isclose(vals["E_H_ij_sq"], 4 * m2**2 * m4 ** (L - 2) + m2 ** (L - 2),
                            rel_tol=1e-12)


# ----------------------------------------------------------------------------- cross-check
@pytest.mark.parametrize("depth", [1, 3, 10])
def test_agrees_with_products_module(depth: int) -> None:
    """Two independent engines: this module's Gil-Pelaez law vs flatstart.theory.products
    (Mellin)."""
    products = pytest.importorskip("flatstart.theory.products")
    laws = pytest.importorskip("flatstart.theory.laws")
    c = NeuralChain(depth, sigma=0.8, x=1.5)
    ref = 1.5 * products.product(laws.Normal(0.8), depth)
    t = np.array([-2.0, -1e-3, 1e-4, 0.05, 0.4, 3.0])
    assert np.allclose(c.output_law().cdf(t), ref.cdf(t), rtol=1e-10, atol=1e-13)
    assert np.allclose(c.output_law().pdf(t), ref.pdf(t), rtol=1e-9, atol=1e-13)


def test_log_median_deep_chain() -> None:
    """log-median of a depth-10⁴ chain (no underflow) near L·E log|w| (+ Cornish–Fisher)."""
    c = NeuralChain(10_000, sigma=1.0)
    lm = c.log_median_abs_output()
    mean, var, k3, _ = gaussian_log_abs_cumulants(1.0)
    assert abs(lm - (10_000 * mean - k3 / (6 * var))) < 1e-2, lm
    u = NeuralChain(3000, init="xavier_uniform")
    assert math.isclose(u.log_median_abs_output(),
                        3000 * math.log(math.sqrt(3)) - float(stats.gamma.median(3000)),
                        rel_tol=1e-12)


def test_far_tail_pdf_raises() -> None:
    """The Gil-Pelaez engine refuses the far tail; the Product engine evaluates it (checked
    against its mpmath path)."""
    c = NeuralChain(5, sigma=1.0)
    with pytest.raises(ValueError, match="tail"):
        c.output_law(engine="logproduct").pdf(np.array([1e-300]))
    v = float(c.output_law().pdf(np.array([1e-300]))[0])
    ref = float(c.output_law().pdf(1e-300, dps=20))
    assert math.isclose(v, ref, rel_tol=1e-10), (v, ref)


# ------------------------------------------------------------------ Product vs LogProductLaw
def _chain_laws(c: NeuralChain, engine: str) -> dict[str, object]:
    L = c.depth
    out = {"output": c.output_law(engine=engine), "grad_out": c.gradient_law(L, engine=engine),
           "grad_loss": c.gradient_law(1, of="loss", engine=engine),
           "h_ii": c.hessian_entry_law(L, L, engine=engine)}
    if L >= 2:
        out["h_ij"] = c.hessian_entry_law(1, L, engine=engine)
    return out


ENGINE_CASES = [
    ({"depth": 2, "sigma": 1.3, "x": 0.5}, None),
    ({"depth": 3, "sigma": 0.8, "x": -1.5}, None),
    ({"depth": 7, "init": "he_normal", "x": 1.0}, None),
    ({"depth": 4, "init": "xavier_uniform", "x": 0.7}, ("output", "grad_out")),
    ({"depth": 4, "init": "torch_default", "x": 2.0}, ("h_ij",)),
]


@pytest.mark.parametrize(("kwargs", "which"), ENGINE_CASES)
def test_product_engine_agrees_with_logproduct(kwargs: dict, which: tuple | None) -> None:
    """Linear chains: the ChainProduct (Mellin engine of flatstart.theory.products) and the
    independent Gil-Pelaez LogProductLaw agree on the cdf at many points (1e-9) and the median
    (1e-10)."""
    from flatstart.theory.chains import ChainProduct
    from flatstart.theory.products import Product

    c = NeuralChain(**kwargs)
    prod, ref = _chain_laws(c, "product"), _chain_laws(c, "logproduct")
    for name in which or prod:
        P, R = prod[name], ref[name]
        assert isinstance(P, ChainProduct) and isinstance(P, Product), (name, P)
        assert isinstance(R, ChainProduct) and R.route == "twin", (name, R)
        assert (P.atom, P.sign) == (R.atom, R.sign), (name, P.sign, R.sign)
        med = float(R.abs().median())
        m = float(P.abs().median())
        assert math.isclose(m, med, rel_tol=1e-10), (name, m, med)
        g = med * np.logspace(-3, 1.3, 12)
        t = np.concatenate([-g[::-1], g]) if P.sign == "symmetric" else g
        a = np.asarray(P.cdf(t, method="auto"))  # a keyword: Product engine, not the fast path
        b = np.asarray(R.cdf(t))
        assert np.allclose(a, b, rtol=0, atol=1e-9), (name, np.max(np.abs(a - b)))
    # mutant: a 1% wider weight law moves the median by ≈ L% (far outside 1e-10)
    mk = dict(kwargs)
    if "sigma" in mk:
        mk["sigma"] *= 1.01
    else:
        mk["x"] *= 1.01
    mut = NeuralChain(**mk).output_law(engine="logproduct").abs().median()
    assert not math.isclose(float(prod["output"].abs().median()), float(mut), rel_tol=1e-10)


def test_returned_types_and_full_api() -> None:
    """Every chain law is a ChainProduct (mellin, sympy_pdf, exact moments); ReLU chains and the
    L = 1 constants evaluate plain calls through the twin; the fast path equals the Product
    engine."""
    from flatstart.theory.chains import FAST_PATH_MIN_POINTS, ChainProduct

    c = NeuralChain(2, sigma=1.0, x=1.0)
    law = c.output_law()
    assert isinstance(law, ChainProduct)
    s = sp.Symbol("s")
    assert sp.simplify(law.mellin(s) - (2 ** ((s - 1) / 2) * sp.gamma(s / 2) / sp.sqrt(sp.pi)) ** 2
                       ) == 0
    assert "meijerg" in str(law.sympy_pdf()).lower()
    assert law.moment(2) == 1
    for twin_law in (NeuralChain(3, sigma=1.0, activation="relu").output_law(),
                     NeuralChain(1, sigma=1.0).gradient_law(1),
                     NeuralChain(1, sigma=1.0).hessian_entry_law(1, 1)):
        assert isinstance(twin_law, ChainProduct) and twin_law.route == "twin", twin_law
    t = np.linspace(-3.0, 3.0, FAST_PATH_MIN_POINTS + 1)
    fast = NeuralChain(4, sigma=0.9).output_law().cdf(t)
    slow = NeuralChain(4, sigma=0.9).output_law().cdf(t, method="auto")
    assert np.allclose(fast, slow, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="engine"):
        c.output_law(engine="fft")


RELU_TWIN_CASES = [
    ("output, normal", dict(depth=3, sigma=0.8, activation="relu", x=1.3), "output", None),
    ("output, x < 0", dict(depth=4, sigma=1.1, activation="relu", x=-0.7), "output", None),
    ("output, uniform", dict(depth=3, init="xavier_uniform", activation="relu", x=0.9),
     "output", None),
    ("gradient of w_1", dict(depth=3, sigma=0.8, activation="relu", x=1.3), "gradient", 1),
    ("gradient of w_L (positive)", dict(depth=3, sigma=0.8, activation="relu", x=1.3),
     "gradient", 3),
    ("H_11", dict(depth=3, sigma=1.2, activation="relu", x=0.6), "hessian", (1, 1)),
    ("H_12", dict(depth=3, sigma=1.2, activation="relu", x=0.6), "hessian", (1, 2)),
    ("L = 1 constant", dict(depth=1, sigma=1.0, x=1.5), "gradient", 1),
]


def _relu_law(kwargs: dict, kind: str, which: Any) -> Any:
    c = NeuralChain(**kwargs)
    if kind == "output":
        return c.output_law()
    if kind == "gradient":
        return c.gradient_law(which)
    return c.hessian_entry_law(*which)


@pytest.mark.parametrize(("name", "kwargs", "kind", "which"), RELU_TWIN_CASES,
                         ids=[c[0] for c in RELU_TWIN_CASES])
def test_relu_laws_two_engines_agree(name: str, kwargs: dict, kind: str, which: Any) -> None:
    """A ReLU chain law is a Product of factor laws (|w|^p, the constant, the alive indicator
    and the sign as atoms) with its Gil-Pelaez twin: the Mellin engine on the factors and the
    twin agree on the atom, the sign masses and the cdf (1e-9), so neither engine's ReLU
    bookkeeping is trusted alone."""
    law = _relu_law(kwargs, kind, which)
    twin = law.twin
    assert law.route == "twin" and math.isclose(law.p0, twin.atom, abs_tol=1e-15), name
    med = float(twin.abs().median()) if twin.atom < 0.5 else 1.0
    g = max(med, 1e-3) * np.logspace(-2, 1, 9)
    t = np.concatenate([-g[::-1], [0.0], g])
    a = np.asarray(law.cdf(t, method="mellin"))  # the Product engine on the factors
    b = np.asarray(law.cdf(t))                   # the twin
    assert np.allclose(a, b, rtol=0, atol=1e-9), (name, np.max(np.abs(a - b)))


def test_relu_two_engine_check_rejects_a_wrong_atom() -> None:
    """Mutant: the alive probability 2^{-(L-1)} written 2^{-L} moves the cdf at 0 by 1/16
    (the atom by 1/8, the negative half by -1/16), far outside 1e-9."""
    law = NeuralChain(3, sigma=0.8, activation="relu", x=1.3).output_law()
    wrong = law.twin.__class__(law.twin.factors, atom=1 - 2.0**-3, sign=law.twin.sign)
    assert abs(float(law.cdf([0.0], method="mellin")[0]) - float(wrong.cdf([0.0])[0])) > 0.05


# ------------------------------------------------------------------ residual chains
from flatstart.theory.chains import (  # noqa: E402
    residual_chain_log_cdf,
    residual_chain_median,
    residual_chain_median_reference,
)

RES_ALPHA = 0.01
# (depth, alpha, sigma, law): alpha None = 1/sqrt(L)
RESIDUAL_CASES = [
    (2, None, 1.0, "normal"),
    (4, None, 1.0, "normal"),
    (16, None, 1.0, "normal"),
    (8, 0.5, 1.3, "normal"),
    (6, None, 1.0, "uniform"),
    (12, 0.4, 0.8, "uniform"),
]


def _residual_samples(depth: int, alpha: float | None, sigma: float, law: str, n: int,
                      seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = 1.0 / math.sqrt(depth) if alpha is None else alpha
    if law == "normal":
        w = rng.normal(0.0, sigma, size=(n, depth))
    else:
        b = sigma * math.sqrt(3.0)
        w = rng.uniform(-b, b, size=(n, depth))
    return np.abs(np.prod(1.0 + a * w, axis=1))


@pytest.mark.parametrize(("depth", "alpha", "sigma", "law"), RESIDUAL_CASES)
def test_residual_chain_median_vs_simulation(depth, alpha, sigma, law):
    """Exact median (Gil-Pelaez) vs numpy products: exact binomial test of the median;
    mutant: the log-normal limit exp(−Lα²σ²/2) (no finite-L correction)."""
    n = 200_000
    x = _residual_samples(depth, alpha, sigma, law, n, seed=100 + depth)
    med = residual_chain_median(depth, alpha, sigma, law)
    k = int(np.sum(x <= med))
    p = stats.binomtest(k, n, 0.5).pvalue
    assert p > RES_ALPHA, f"exact median {med} rejected: {k}/{n} below (p={p}), sample " \
        f"median {np.median(x)}"
    a = 1.0 / math.sqrt(depth) if alpha is None else alpha
    mutant = math.exp(-0.5 * depth * (a * sigma) ** 2)
    km = int(np.sum(x <= mutant))
    pm = stats.binomtest(km, n, 0.5).pvalue
    assert pm < RES_ALPHA, f"mutant {mutant} not rejected ({km}/{n}, p={pm}); exact {med}"


def test_residual_chain_log_cdf_ks():
    """The whole law: KS test of log|∏(1 + w/√L)| (L = 8, normal) against the Gil-Pelaez cdf;
    mutant: N(−½, 1) (the limit law)."""
    x = np.log(_residual_samples(8, None, 1.0, "normal", 4000, seed=7))
    res = stats.kstest(x, lambda v: residual_chain_log_cdf(v, 8))
    assert res.pvalue > RES_ALPHA, res
    mut = stats.kstest(x, stats.norm(-0.5, 1.0).cdf)
    assert mut.pvalue < RES_ALPHA, mut
    f = residual_chain_log_cdf(np.array([-3.0, -0.5, 0.0, 2.0]), 8)
    assert np.all(np.diff(f) > 0) and 0 < f[0] and f[-1] < 1
    assert residual_chain_log_cdf(math.log(residual_chain_median(8)), 8) == pytest.approx(
        0.5, abs=1e-10)


@pytest.mark.parametrize("depth", [4, 16, 64, 256])
def test_residual_uniform_matches_theory_products(depth):
    """Independent implementation: flatstart.theory.products' law of a product of U(1 ± √(3/L))."""
    from flatstart.theory.laws import Uniform
    from flatstart.theory.products import product

    a = math.sqrt(3.0 / depth)
    ref = float(product([Uniform(1.0 - a, 1.0 + a)] * depth).median())
    assert residual_chain_median(depth, law="uniform") == pytest.approx(ref, rel=1e-11)


@pytest.mark.parametrize(("depth", "alpha", "sigma", "law", "tol"), [
    (16, None, 1.0, "normal", 1e-9),
    (6, None, 1.0, "uniform", 1e-7),
])
def test_residual_median_matches_slow_reference(depth, alpha, sigma, law, tol):
    fast = residual_chain_median(depth, alpha, sigma, law)
    slow = residual_chain_median_reference(depth, alpha, sigma, law)
    assert fast == pytest.approx(slow, rel=tol), (fast, slow)


@pytest.mark.slow
def test_residual_median_matches_slow_reference_strong_alpha():
    """α = 0.9: the factor 1 + αw changes sign with probability 13%."""
    fast = residual_chain_median(3, 0.9)
    slow = residual_chain_median_reference(3, 0.9)
    assert fast == pytest.approx(slow, rel=1e-6), (fast, slow)


@pytest.mark.parametrize("law", ["normal", "uniform"])
def test_residual_expansion_vs_exact(law):
    """log median = −½ − 1/(4L) + O(L⁻²) for α = 1/√L (both laws: the kurtosis cancels):
    L²·(exact − expansion) stays bounded; mutant −½ (no 1/L term): L²·error grows like L/4."""
    errs, mut = [], []
    for depth in (256, 1024, 4096):
        ex = math.log(residual_chain_median(depth, law=law))
        asy = math.log(residual_chain_median(depth, law=law, method="expansion"))
        assert asy == pytest.approx(-0.5 - 0.25 / depth, abs=1e-15)
        errs.append(depth**2 * abs(ex - asy))
        mut.append(depth**2 * abs(ex + 0.5))
    assert max(errs) < 0.5, errs
    assert mut[-1] > 0.2 * 4096 and mut[2] > 3 * mut[1] > 9 * mut[0], mut
    # general alpha: −Lα²σ²/2 − Lα⁴μ₄/4 + α²(μ₄ − σ⁴)/(4σ²), checked at small α
    ex = math.log(residual_chain_median(400, 0.02, 1.5, law))
    asy = math.log(residual_chain_median(400, 0.02, 1.5, law, method="expansion"))
    assert abs(ex - asy) < 5e-5, (ex, asy)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"depth": 0}, "depth"),
    ({"depth": 4, "alpha": -1.0}, "alpha"),
    ({"depth": 4, "sigma": 0.0}, "sigma"),
    ({"depth": 4, "law": "cauchy"}, "law"),
    ({"depth": 4, "method": "saddle"}, "method"),
    ({"depth": 1, "law": "uniform"}, "decays too slowly"),
])
def test_residual_median_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        residual_chain_median(**kwargs)
