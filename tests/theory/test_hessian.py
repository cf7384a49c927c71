"""Tests for flatstart.theory.hessian: exact entry laws, structure and tail bounds vs torch
Hessians."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from flatstart.theory.chains import NeuralChain
from flatstart.theory.hessian import (
    entry_tail_probability,
    hessian_moments,
    max_entry_bound,
    median_bounds,
    norm_bound,
    trace_bound,
)

torch = pytest.importorskip("torch")

ALPHA = 0.01
N = 8000


def torch_hessians(w: np.ndarray, x: float, y: float, activation: str) -> np.ndarray:
    """Hessians of ℓ = ½(f − y)² for each row of weights by torch.func (independent path)."""

    def loss(ws: torch.Tensor) -> torch.Tensor:  # type: ignore[name-defined]
        h = torch.tensor(x, dtype=torch.float64)
        L = ws.shape[0]
        for k in range(L):
            h = ws[k] * h
            if activation == "relu" and k < L - 1:
                h = torch.relu(h)
        return 0.5 * (h - y) ** 2

    hess = torch.func.vmap(torch.func.hessian(loss))
    return hess(torch.from_numpy(w)).numpy()


def weights(depth: int, sigma: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, size=(n, depth))


@pytest.mark.parametrize(("depth", "i", "j", "activation"),
                         [(4, 1, 1, "linear"), (4, 2, 3, "linear"), (3, 1, 3, "relu"),
                          (3, 2, 2, "relu")])
def test_entry_law_ks(depth: int, i: int, j: int, activation: str) -> None:
    x, sigma = 1.1, 0.9
    c = NeuralChain(depth, sigma=sigma, activation=activation, x=x)
    H = torch_hessians(weights(depth, sigma, N, seed=depth + i + j), x, 0.0, activation)
    h = H[:, i - 1, j - 1]
    law = c.hessian_entry_law(i, j)
    a = law.atom
    if a > 0:
        assert stats.binomtest(int(np.sum(h == 0)), N, a).pvalue > ALPHA
        h = h[h != 0]
    zero_mass = a * (law.sign != "negative")

    def cdf(t: np.ndarray) -> np.ndarray:
        return (law.cdf(t) - zero_mass * (np.asarray(t) >= 0)) / (1 - a)

    assert stats.kstest(h, cdf).pvalue > ALPHA, (depth, i, j)
    mut = NeuralChain(depth, sigma=sigma * 1.15, activation=activation, x=x).hessian_entry_law(i, j)

    def mcdf(t: np.ndarray) -> np.ndarray:
        return (mut.cdf(t) - zero_mass * (np.asarray(t) >= 0)) / (1 - a)

    assert stats.kstest(h, mcdf).pvalue < ALPHA


def test_structure_y0() -> None:
    """y = 0: ‖H‖_F ≤ 2 tr H surely, exactly one positive eigenvalue (L ≥ 2)."""
    H = torch_hessians(weights(6, 1.0, 2000, seed=1), 0.7, 0.0, "linear")
    tr = np.trace(H, axis1=1, axis2=2)
    fro = np.linalg.norm(H, axis=(1, 2))
    assert np.all(fro <= 2 * tr * (1 + 1e-12))
    ev = np.linalg.eigvalsh(H)
    assert np.all(np.sum(ev > 0, axis=1) == 1)
    assert np.all(ev[:, 0] < 0)
    # mutant: ‖H‖_F ≤ tr H fails
    assert np.any(fro > tr)


@pytest.mark.parametrize(("y", "activation"), [(0.0, "linear"), (1.0, "linear"),
                                               (0.0, "relu"), (0.5, "relu")])
def test_bounds_hold(y: float, activation: str) -> None:
    """P(quantity > bound(δ)) ≤ δ by a one-sided binomial test; mutant rejected."""
    # ReLU: P(H ≠ 0) = 1/16 at L = 5, so δ must be below that for a mutant to be rejectable
    L, x = 5, 1.0
    delta = 0.25 if activation == "linear" else 0.02
    c = NeuralChain(L, init="xavier_normal", activation=activation, x=x, y=y)
    H = torch_hessians(weights(L, 1.0, N, seed=11), x, y, activation)
    tr = np.trace(H, axis1=1, axis2=2)
    spec = np.max(np.abs(np.linalg.eigvalsh(H)), axis=1)
    fro = np.linalg.norm(H, axis=(1, 2))
    checks = [(tr, trace_bound(c, delta)), (spec, norm_bound(c, delta)),
              (fro, norm_bound(c, delta, "frobenius"))]
    if y == 0:
        checks.append((np.max(np.abs(H), axis=(1, 2)), max_entry_bound(c, delta)))
    for q, b in checks:
        k = int(np.sum(q > b))
        assert stats.binomtest(k, N, delta, alternative="greater").pvalue > ALPHA, (k / N, b)
    # mutant: the (1 − δ)-quantile of a single diagonal entry as a trace bound
    hii = c.__class__(L, init="xavier_normal", activation=activation, x=x).hessian_entry_law(1, 1)
    m = hii.quantile(1 - delta)
    k = int(np.sum(tr > m))
    assert stats.binomtest(k, N, delta, alternative="greater").pvalue < ALPHA


def test_entry_tail_probability_vs_simulation() -> None:
    L, t = 4, 0.05
    c = NeuralChain(L, sigma=1.0)
    H = torch_hessians(weights(L, 1.0, N, seed=3), 1.0, 0.0, "linear")
    k = int(np.sum(np.abs(H[:, 0, 2]) > t))
    p = entry_tail_probability(c, 1, 3, t)
    assert stats.binomtest(k, N, p).pvalue > ALPHA
    assert stats.binomtest(k, N, entry_tail_probability(c, 1, 1, t)).pvalue < ALPHA  # mutant


def test_median_bounds_decay_exponentially() -> None:
    vals = [median_bounds(NeuralChain(L, init="xavier_normal"))["spectral"] for L in (10, 20, 40)]
    # E log P² = −1.27 per layer: the log of the bound must fall faster than 0.3 per layer
    assert math.log(vals[1] / vals[0]) / 10 < -0.3, vals
    assert math.log(vals[2] / vals[1]) / 20 < -0.3, vals
    means = [hessian_moments(NeuralChain(L, init="xavier_normal")).values()["E_trace"]
             for L in (10, 20, 40)]
    assert means == [10.0, 20.0, 40.0]  # E tr H = L under Xavier at x = 1


def test_bad_input() -> None:
    c = NeuralChain(3, sigma=1.0)
    with pytest.raises(ValueError, match="delta"):
        trace_bound(c, 0.0)
    with pytest.raises(ValueError, match="norm"):
        norm_bound(c, 0.5, "nuclear")
    with pytest.raises(ValueError, match="t"):
        entry_tail_probability(c, 1, 2, -1.0)
    with pytest.raises(TypeError, match="chain"):
        trace_bound("chain", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x"):
        trace_bound(NeuralChain(3, sigma=1.0, x=0.0))
    with pytest.raises(ValueError, match="i"):
        NeuralChain(3, sigma=1.0).hessian_entry_law(0, 1)


def test_depth_one() -> None:
    c = NeuralChain(1, sigma=1.0, x=2.0, y=0.3)
    assert trace_bound(c, 0.1) == 4.0 and norm_bound(c, 0.1) == 4.0
    assert math.isnan(hessian_moments(c).values()["E_H_ij_sq"])
