"""Tests for flatstart.theory.ntk: kernel identities, recursion vs reference, wide-net
simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import sympy as sp

from flatstart.theory import ntk as K

ALPHA = 0.01
Z = float(st.norm.ppf(1 - ALPHA / 2))


def test_sigma_dot_is_derivative_of_sigma_sympy():
    r = sp.symbols("rho", real=True)
    sig = (sp.sqrt(1 - r**2) + (sp.pi - sp.acos(r)) * r) / sp.pi
    sig_dot = (sp.pi - sp.acos(r)) / sp.pi
    assert sp.simplify(sp.diff(sig, r) - sig_dot) == 0
    assert sig.subs(r, 1) == 1 and sig_dot.subs(r, 1) == 1
    assert sp.simplify(sig.subs(r, 0) - 1 / sp.pi) == 0


@pytest.mark.parametrize("rho", [-1.0, -0.7, -0.2, 0.0, 0.3, 0.8, 0.99, 1.0])
@pytest.mark.parametrize("depth", [0, 1, 2, 5])
def test_ntk_matches_reference(rho: float, depth: int):
    fast = K.ntk(rho, depth)
    ref = K.ntk_reference(rho, depth)
    assert fast == pytest.approx(ref, rel=1e-11, abs=1e-12), f"fast={fast} reference={ref}"


@pytest.mark.parametrize("depth", [0, 1, 3, 10, 50])
def test_ntk_diagonal_and_vectorization(depth: int):
    assert K.ntk(1.0, depth) == pytest.approx(depth + 1, rel=1e-14)
    assert K.normalized_ntk(1.0, depth) == pytest.approx(1.0, rel=1e-14)
    assert K.nngp_correlation(1.0, depth) == pytest.approx(1.0, rel=1e-14)
    grid = np.linspace(-1, 1, 11)
    vec = K.normalized_ntk(grid, depth)
    np.testing.assert_allclose(vec, [K.normalized_ntk(float(g), depth) for g in grid], rtol=1e-15)
    # a cosine: within [-1, 1] (not monotone in ρ0: Θ_1(−1) = 0 > Θ_1(−0.8))
    assert np.all(np.abs(vec) <= 1 + 1e-15)


def test_small_depth_closed_forms():
    for rho in (-0.4, 0.1, 0.6):
        s = (math.sqrt(1 - rho**2) + (math.pi - math.acos(rho)) * rho) / math.pi
        sd = (math.pi - math.acos(rho)) / math.pi
        assert K.ntk(rho, 0) == rho
        assert K.ntk(rho, 1) == pytest.approx(s + rho * sd, rel=1e-14)
        assert K.nngp_correlation(rho, 1) == pytest.approx(s, rel=1e-14)


@pytest.mark.parametrize("bad", [1.0000001, -1.5, float("nan")])
def test_bad_rho(bad):
    with pytest.raises(ValueError, match="rho0"):
        K.ntk(bad, 2)
    with pytest.raises(ValueError, match="rho"):
        K.arccos_kernel(bad)


def test_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        K.ntk(0.5, -1)
    with pytest.raises(ValueError, match="depth"):
        K.normalized_ntk(0.5, 1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# numpy simulation of a wide ReLU net in NTK parametrization (hand-written backprop)
# --------------------------------------------------------------------------------------------


def _per_example_grads(x: np.ndarray, ws: list[np.ndarray]) -> np.ndarray:
    """Gradients of f(x) = W_{L+1} α_L/√n_L w.r.t. all weights, rows = examples."""
    acts, pres = [x], []
    a = x
    for w in ws[:-1]:
        h = a @ w.T / math.sqrt(a.shape[1])
        pres.append(h)
        a = math.sqrt(2.0) * np.maximum(h, 0.0)
        acts.append(a)
    n_last = a.shape[1]
    grads = [a / math.sqrt(n_last)]
    delta = np.broadcast_to(ws[-1] / math.sqrt(n_last), a.shape)  # ∂f/∂α_L
    for l in range(len(ws) - 2, -1, -1):
        dh = delta * math.sqrt(2.0) * (pres[l] > 0)
        a_in = acts[l]
        scale = math.sqrt(a_in.shape[1])
        grads.append((dh[:, :, None] * a_in[:, None, :] / scale).reshape(x.shape[0], -1))
        delta = dh @ ws[l] / scale
    return np.concatenate(grads, axis=1)


def _gradient_gram(x: np.ndarray, ws: list[np.ndarray]) -> np.ndarray:
    """Gram matrix of the per-example gradients without forming them: each layer's gradient is
    an outer product (backprop signal ⊗ input activation / √fan_in), so its inner products
    factor as (signal·signal)(activation·activation)/fan_in."""
    acts, pres = [x], []
    a = x
    for w in ws[:-1]:
        h = a @ w.T / math.sqrt(a.shape[1])
        pres.append(h)
        a = math.sqrt(2.0) * np.maximum(h, 0.0)
        acts.append(a)
    n_last = a.shape[1]
    gram = a @ a.T / n_last
    delta = np.broadcast_to(ws[-1] / math.sqrt(n_last), a.shape)
    for l in range(len(ws) - 2, -1, -1):
        dh = delta * math.sqrt(2.0) * (pres[l] > 0)
        a_in = acts[l]
        gram = gram + (dh @ dh.T) * (a_in @ a_in.T) / a_in.shape[1]
        delta = dh @ ws[l] / math.sqrt(a_in.shape[1])
    return np.asarray(gram)


def test_factored_gram_matches_full_gradients():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5))
    ws = [rng.standard_normal((7, 5)), rng.standard_normal((7, 7)), rng.standard_normal((1, 7))]
    g = _per_example_grads(x, ws)
    np.testing.assert_allclose(_gradient_gram(x, ws), g @ g.T, rtol=1e-12)


def _simulate_cosines(rho: float, depth: int, width: int, nets: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n0 = 16
    x = np.zeros((2, n0))
    x[0, 0] = 1.0
    x[1, 0], x[1, 1] = rho, math.sqrt(1 - rho * rho)
    x *= math.sqrt(n0)  # ‖x‖² = n0: unit inputs after the 1/√n0 scaling
    out = np.empty(nets)
    for k in range(nets):
        ws = [rng.standard_normal((width, n0))]
        ws += [rng.standard_normal((width, width)) for _ in range(depth - 1)]
        ws += [rng.standard_normal((1, width))]
        gram = _gradient_gram(x, ws)
        out[k] = gram[0, 1] / math.sqrt(gram[0, 0] * gram[1, 1])
    return out


def test_backprop_matches_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4))
    ws = [rng.standard_normal((6, 4)), rng.standard_normal((6, 6)), rng.standard_normal((1, 6))]

    def f(flat):
        sizes = [w.size for w in ws]
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        mats = [p.reshape(w.shape) for p, w in zip(parts, ws, strict=True)]
        a = x
        for w in mats[:-1]:
            a = math.sqrt(2) * np.maximum(a @ w.T / math.sqrt(a.shape[1]), 0)
        return float((a @ mats[-1].T / math.sqrt(a.shape[1]))[0, 0])

    g = _per_example_grads(x, ws)[0]
    # order of blocks in g: readout first, then layers from the top down
    flat = np.concatenate([ws[2].ravel(), ws[1].ravel(), ws[0].ravel()])

    def f_perm(v):
        n2, n1 = ws[2].size, ws[1].size
        return f(np.concatenate([v[n2 + n1 :], v[n2 : n2 + n1], v[:n2]]))

    h = 1e-6
    fd = np.array(
        [(f_perm(flat + h * e) - f_perm(flat - h * e)) / (2 * h) for e in np.eye(flat.size)]
    )
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


# (depth, rho0, width, nets, mutants to reject); mutants chosen where they differ most
SIM_CASES = [
    (1, -0.5, 256, 120, {"Θ/L": K.ntk(-0.5, 1) / 1, "NNGP ρ_L": K.nngp_correlation(-0.5, 1)}),
    (1, 0.0, 256, 120, {"depth L+1": K.normalized_ntk(0.0, 2), "ρ0": 0.0}),
    (
        3,
        -0.5,
        256,
        120,
        {"depth L+1": K.normalized_ntk(-0.5, 4), "NNGP ρ_L": K.nngp_correlation(-0.5, 3)},
    ),
    (3, 0.9, 256, 120, {"Θ/L": K.ntk(0.9, 3) / 3, "depth L-1": K.normalized_ntk(0.9, 2)}),
]


@pytest.mark.parametrize(("depth", "rho", "width", "nets", "mutants"), SIM_CASES)
def test_wide_net_mean_cosine(depth, rho, width, nets, mutants):
    """Mean cosine of per-example gradients vs Θ_L(ρ0)/(L+1).

    Tolerance: z·SE (alpha = 0.01) plus an allowance L/width for the finite-width bias,
    which is O(L/n) (depth-to-width ratio); observed biases are far below it.
    """
    c = _simulate_cosines(rho, depth, width, nets, seed=100 + depth)
    mean, se = float(c.mean()), float(c.std(ddof=1) / math.sqrt(nets))
    tol = Z * se + depth / width
    pred = K.normalized_ntk(rho, depth)
    assert abs(mean - pred) <= tol, f"simulated {mean} vs NTK {pred}, tol {tol}"
    for name, val in mutants.items():
        assert abs(mean - val) > tol, f"mutant {name}={val} not rejected (simulated {mean})"


def test_spread_shrinks_with_width_grows_with_depth():
    """Finite-width spread of the cosine: F-tests on variances (alpha = 0.01)."""
    nets = 80
    narrow = _simulate_cosines(0.5, 2, 32, nets, seed=7)
    wide = _simulate_cosines(0.5, 2, 256, nets, seed=8)
    f_w = narrow.var(ddof=1) / wide.var(ddof=1)
    assert st.f.sf(f_w, nets - 1, nets - 1) < ALPHA, f"variance ratio narrow/wide {f_w}"
    shallow = _simulate_cosines(0.5, 1, 128, nets, seed=9)
    deep = _simulate_cosines(0.5, 6, 128, nets, seed=10)
    f_d = deep.var(ddof=1) / shallow.var(ddof=1)
    assert st.f.sf(f_d, nets - 1, nets - 1) < ALPHA, f"variance ratio deep/shallow {f_d}"


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "rho"), [(2, -0.5), (4, 0.0)])
def test_width_extrapolation_slow(depth: int, rho: float):
    """Weighted fit mean(n) = a + b/n over widths 64..512; the intercept's CI (alpha 0.01) must
    contain Θ_L(ρ0)/(L+1) and exclude the depth-(L+1) mutant. No bias allowance needed."""
    widths = np.array([64, 128, 256, 512])
    means, ses = [], []
    for n in widths:
        c = _simulate_cosines(rho, depth, int(n), 400, seed=1000 + int(n) + depth)
        means.append(c.mean())
        ses.append(c.std(ddof=1) / math.sqrt(c.size))
    X = np.column_stack([np.ones(widths.size), 1.0 / widths])
    W = np.diag(1.0 / np.square(ses))
    cov = np.linalg.inv(X.T @ W @ X)
    coef = cov @ X.T @ W @ np.asarray(means)
    se = math.sqrt(cov[0, 0])
    pred = K.normalized_ntk(rho, depth)
    assert abs(coef[0] - pred) <= Z * se, f"intercept {coef[0]} vs {pred} ± {Z * se}"
    mutant = K.normalized_ntk(rho, depth + 1)
    assert abs(coef[0] - mutant) > Z * se, f"mutant {mutant} not rejected ({coef[0]} ± {Z * se})"
