"""Tests of flatstart.montecarlo.curvature (operator, eigen, trace, density, lanczos, flat)
against dense float64 references."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from flatstart.montecarlo import curvature
from flatstart.montecarlo.curvature.lanczos import (
    gaussian_broadening,
    lanczos,
    lane_ritz,
    ritz,
    tridiagonal,
)

DT = torch.float64
ALPHA_4SIGMA = 6.3e-5  # two-sided normal tail beyond 4 standard errors


# --------------------------------------------------------------------------------------------
# fixtures: quadratics with known spectra, a tiny MLP, a tiny stacked MLP batch
# --------------------------------------------------------------------------------------------


def quadratic(eigs: list[float] | np.ndarray, seed: int = 0) -> tuple[torch.Tensor, Callable]:
    """A = Q diag(eigs) Q^T with a seeded random orthogonal Q; f(t) = 1/2 t^T A t."""
    g = torch.Generator().manual_seed(seed)
    n = len(eigs)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))
    a = q @ torch.diag(torch.as_tensor(eigs, dtype=DT)) @ q.T
    a = 0.5 * (a + a.T)

    def f(t: torch.Tensor) -> torch.Tensor:
        return 0.5 * t @ a @ t

    return a, f


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # written out: torch 2.13's F.mse_loss has no forward-over-reverse rule for a fixed target
    return ((out - y) ** 2).mean()


def tiny_mlp(
    seed: int = 0, width: int = 6, n_in: int = 3, n_out: int = 2, batch: int = 8, loss=mse
):
    """tanh MLP with MSE loss at a random init: a saddle (indefinite Hessian)."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, width), torch.nn.Tanh(), torch.nn.Linear(width, n_out)
    ).to(DT)
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(batch, n_in, generator=g, dtype=DT)
    y = torch.randn(batch, n_out, generator=g, dtype=DT)
    return curvature.flat_function(net, loss, x, y)


class StackedMLP:
    """count independent tanh MLPs as batched tensors (the networks.py batch contract)."""

    def __init__(self, count: int, n_in: int = 3, width: int = 5, n_out: int = 2, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.params = [
            torch.randn(count, n_in, width, generator=g, dtype=DT) / math.sqrt(n_in),
            0.1 * torch.randn(count, width, generator=g, dtype=DT),
            torch.randn(count, width, n_out, generator=g, dtype=DT) / math.sqrt(width),
            0.1 * torch.randn(count, n_out, generator=g, dtype=DT),
        ]

    def parameters(self) -> list[torch.Tensor]:
        return self.params

    def forward(self, x: torch.Tensor, params: list[torch.Tensor] | None = None) -> torch.Tensor:
        w1, b1, w2, b2 = self.params if params is None else params
        h = torch.tanh(torch.matmul(x, w1) + b1[:, None, :])
        return torch.matmul(h, w2) + b2[:, None, :]


def stacked(count: int = 4, seed: int = 0, loss: str = "mse"):
    nets = StackedMLP(count, seed=seed)
    g = torch.Generator().manual_seed(seed + 7)
    x = torch.randn(10, 3, generator=g, dtype=DT)
    if loss == "mse":
        y = torch.randn(10, 2, generator=g, dtype=DT)
    else:
        y = torch.randint(0, 2, (10,), generator=g)
    return curvature.flat_function_batch(nets, x, y, loss=loss)


def single_of_batch(fb: Callable, theta: torch.Tensor, i: int) -> Callable:
    """Network i of a batch as a single-network loss."""

    def f(t: torch.Tensor) -> torch.Tensor:
        rows = [t if j == i else theta[j] for j in range(theta.shape[0])]
        return fb(torch.stack(rows))[i]

    return f


def rel_err(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    a_t, b_t = torch.as_tensor(a, dtype=DT), torch.as_tensor(b, dtype=DT)
    return float((a_t - b_t).norm() / b_t.norm().clamp_min(1e-300))


QUAD_SPECTRA = [
    pytest.param([-3.0, -1.0, 0.5, 1.0, 2.0, 4.0, 7.5, 9.0], id="saddle8"),
    pytest.param(list(np.linspace(-1.0, 1.0, 30) ** 3 * 10.0 + 0.01), id="cubic30"),
    pytest.param([1e-3, 2e-3, 5.0, 6.0, 100.0, -50.0] + [0.0] * 14, id="zeros20"),
]


# --------------------------------------------------------------------------------------------
# HVP and dense Hessian
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fwd_rev", "rev_rev", "auto"])
def test_hvp_matches_dense_hessian(method: str) -> None:
    f, theta = tiny_mlp()
    h = torch.autograd.functional.hessian(f, theta)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(theta.shape, generator=g, dtype=DT)
        got = curvature.hvp(f, theta, v, method=method)
        err = rel_err(got, h @ v)
        assert err < 1e-12, f"{method}: |Hv - dense@v|/|dense@v| = {err:.3e}"
    # the check can fail: a perturbed Hessian is rejected
    wrong = (h + 1e-9 * torch.eye(len(h), dtype=DT)) @ v
    assert rel_err(curvature.hvp(f, theta, v, method=method), wrong) > 1e-12


def test_hvp_auto_falls_back_to_reverse_over_reverse() -> None:
    """F.mse_loss breaks torch.func forward-over-reverse; "auto" must still be exact."""
    f, theta = tiny_mlp(loss=torch.nn.functional.mse_loss)
    v = torch.linspace(-1.0, 1.0, theta.shape[0], dtype=DT)
    h = torch.autograd.functional.hessian(f, theta)
    assert rel_err(curvature.hvp(f, theta, v, method="auto"), h @ v) < 1e-12
    assert rel_err(curvature.dense_hessian(f, theta), h) < 1e-12


@pytest.mark.parametrize("vectors", ["vmap", "loop", "auto"])
@pytest.mark.parametrize("method", ["cached", "fwd_rev", "rev_rev"])
def test_operator_matvec_and_matmat(method: str, vectors: str) -> None:
    f, theta = tiny_mlp(seed=3)
    h = torch.autograd.functional.hessian(f, theta)
    op = curvature.hvp_operator(f, theta, method=method, vectors=vectors)
    g = torch.Generator().manual_seed(2)
    vs = torch.randn(theta.shape[0], 7, generator=g, dtype=DT)
    assert rel_err(op.matmat(vs), h @ vs) < 1e-12
    assert rel_err(op.matvec(vs[:, 0]), h @ vs[:, 0]) < 1e-12
    assert op.hvps == 8
    # a batch split into chunks gives the same columns
    op2 = curvature.hvp_operator(f, theta, method=method, max_batch=3, vectors=vectors)
    assert rel_err(op2.matmat(vs), h @ vs) < 1e-12
    lin = op.to_scipy()
    assert rel_err(lin.matvec(vs[:, 1].numpy()), (h @ vs[:, 1]).numpy()) < 1e-12


def test_dense_hessian_matches_autograd() -> None:
    f, theta = tiny_mlp(seed=5)
    ref = torch.autograd.functional.hessian(f, theta)
    for method in ["auto", "func", "hvp"]:
        got = curvature.dense_hessian(f, theta, method=method)
        assert got.shape == ref.shape
        err = rel_err(got, ref)
        assert err < 1e-12, f"{method}: {err:.3e}"


def test_linear_loss_has_zero_hessian() -> None:
    c = torch.arange(4.0, dtype=DT)
    op = curvature.hvp_operator(lambda t: (c * t).sum(), torch.ones(4, dtype=DT))
    assert torch.equal(op.matvec(torch.ones(4, dtype=DT)), torch.zeros(4, dtype=DT))
    res = curvature.extreme_eigenvalues(lambda t: (c * t).sum(), torch.ones(4, dtype=DT), k=2)
    assert res.converged and np.all(res.values == 0.0)


# --------------------------------------------------------------------------------------------
# Lanczos extreme eigenvalues
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eigs", QUAD_SPECTRA)
@pytest.mark.parametrize(
    ("which", "k"), [("both", 1), ("both", 2), ("largest", 3), ("smallest", 2)]
)
def test_lanczos_quadratic_known_spectrum(eigs: list[float], which: str, k: int) -> None:
    a, f = quadratic(eigs)
    lam = np.sort(np.asarray(eigs, dtype=np.float64))
    res = curvature.extreme_eigenvalues(f, torch.zeros(len(eigs), dtype=DT), k=k, which=which)
    want = {"both": np.r_[lam[:k], lam[-k:]], "largest": lam[-k:], "smallest": lam[:k]}[which]
    scale = np.abs(lam).max()
    err = np.abs(res.values - want).max() / scale
    assert res.converged, res
    assert err < 1e-10, f"got {res.values}, want {want}, rel err {err:.2e}"
    assert np.all(res.residuals <= 1e-10 * scale * 1.0000001)
    assert res.hvps == res.iterations
    # mutant: a shift of 1e-8 * ||A|| must be rejected by the same check
    assert np.abs(res.values + 1e-8 * scale - want).max() / scale > 1e-10


@settings(max_examples=15)
@given(
    n=st.integers(min_value=1, max_value=25),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    k=st.integers(min_value=1, max_value=3),
    which=st.sampled_from(["both", "largest", "smallest"]),
)
def test_lanczos_property_random_symmetric(n: int, seed: int, k: int, which: str) -> None:
    """Any symmetric matrix: Lanczos extreme eigenvalues = eigvalsh to 1e-10 * ||A||."""
    k = min(k, n)
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=DT)
    a = a + a.T
    res = curvature.extreme_eigenvalues(
        lambda t: 0.5 * t @ a @ t, torch.zeros(n, dtype=DT), k=k, which=which, seed=seed % 1000
    )
    lam = torch.linalg.eigvalsh(a).numpy()
    want = {"both": np.r_[lam[:k], lam[-k:]], "largest": lam[-k:], "smallest": lam[:k]}[which]
    assert res.converged
    assert np.abs(res.values - want).max() <= 1e-10 * np.abs(lam).max(), (res.values, want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_tiny_network_saddle(seed: int) -> None:
    f, theta = tiny_mlp(seed=seed)
    ev = torch.linalg.eigvalsh(curvature.dense_hessian(f, theta)).numpy()
    res = curvature.extreme_eigenvalues(f, theta, k=2, which="both", seed=seed)
    want = np.r_[ev[:2], ev[-2:]]
    scale = np.abs(ev).max()
    assert res.converged
    assert np.abs(res.values - want).max() < 1e-10 * scale, (res.values, want)
    assert ev[0] < 0 and res.lambda_min < 0, "a random-init tanh MLP is a saddle"
    assert res.lambda_max == res.values[-1]


def test_lanczos_vectors_are_eigenvectors() -> None:
    f, theta = tiny_mlp(seed=4)
    h = curvature.dense_hessian(f, theta)
    res = curvature.extreme_eigenvalues(f, theta, k=2, which="both", return_vectors=True)
    y = torch.as_tensor(res.vectors)
    assert y.shape == (theta.shape[0], 4)
    r = (h @ y - y * torch.as_tensor(res.values)).norm(dim=0).numpy()
    np.testing.assert_allclose(r, res.residuals, atol=1e-12 * float(h.norm()))
    np.testing.assert_allclose(y.norm(dim=0).numpy(), 1.0, rtol=1e-12)


def test_lanczos_repeated_eigenvalues_via_restart() -> None:
    """Breakdown: an identity block is found with its multiplicity through restarts."""
    res = curvature.extreme_eigenvalues(
        lambda t: 0.5 * (t * t).sum(), torch.zeros(10, dtype=DT), k=3, which="largest"
    )
    np.testing.assert_allclose(res.values, [1.0, 1.0, 1.0], rtol=1e-14)
    assert res.converged and res.iterations == 3
    # three distinct eigenvalues: the Krylov space is exhausted after 3 steps (exact)
    _, f = quadratic([2.0] * 5 + [-1.0] * 5 + [7.0] * 5)
    res = curvature.extreme_eigenvalues(f, torch.zeros(15, dtype=DT), k=1, which="both")
    assert res.iterations == 3 and res.converged
    np.testing.assert_allclose(res.values, [-1.0, 7.0], rtol=1e-13)


def test_eigsh_agrees_with_lanczos_and_dense() -> None:
    f, theta = tiny_mlp(seed=6, width=8)
    ev = torch.linalg.eigvalsh(curvature.dense_hessian(f, theta)).numpy()
    for which in ["both", "largest", "smallest"]:
        lz = curvature.extreme_eigenvalues(f, theta, k=2, which=which)
        ar = curvature.extreme_eigenvalues(f, theta, k=2, which=which, method="eigsh")
        scale = np.abs(ev).max()
        assert np.abs(lz.values - ar.values).max() < 1e-9 * scale, (which, lz.values, ar.values)


def test_max_iter_limits_and_reports_nonconvergence() -> None:
    _, f = quadratic(list(np.linspace(-1, 1, 40)))
    res = curvature.extreme_eigenvalues(f, torch.zeros(40, dtype=DT), max_iter=4)
    assert res.iterations == 4 and not res.converged and res.hvps == 4


def test_power_iteration_baseline() -> None:
    _, f = quadratic([1.0, 2.0, 3.0, 10.0])
    res = curvature.power_iteration(f, torch.zeros(4, dtype=DT), iters=60)
    assert abs(res.value - 10.0) < 1e-12 and res.hvps == 60
    assert res.history.shape == (60,)
    short = curvature.power_iteration(f, torch.zeros(4, dtype=DT), iters=2)
    assert abs(short.value - 10.0) > 1e-6  # the check can fail: 2 steps are not enough


# --------------------------------------------------------------------------------------------
# batched over networks
# --------------------------------------------------------------------------------------------


def test_batched_flat_function_matches_manual() -> None:
    fb, theta = stacked(count=3)
    assert theta.shape == (3, 5 * 3 + 5 + 5 * 2 + 2)
    losses = fb(theta)
    nets = fb.nets
    out = nets.forward(fb.x)
    np.testing.assert_allclose(losses.numpy(), ((out - fb.y) ** 2).mean(dim=(1, 2)).numpy())
    fce, th2 = stacked(count=2, loss="cross_entropy")
    assert fce(th2).shape == (2,)


def test_batched_hvp_and_dense_equal_per_network() -> None:
    fb, theta = stacked(count=3)
    hb = curvature.dense_hessian(fb, theta)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(theta.shape, generator=g, dtype=DT)
    for method in ["fwd_rev", "rev_rev"]:
        hv = curvature.hvp(fb, theta, v, method=method)
        for i in range(3):
            fi = single_of_batch(fb, theta, i)
            hi = torch.autograd.functional.hessian(fi, theta[i].clone())
            assert rel_err(hb[i], hi) < 1e-12
            assert rel_err(hv[i], hi @ v[i]) < 1e-12
    vs = torch.randn(*theta.shape, 5, generator=g, dtype=DT)
    got = curvature.hvp_operator(fb, theta).matmat(vs)
    assert rel_err(got, hb @ vs) < 1e-12


def test_batched_lanczos_equals_per_network() -> None:
    fb, theta = stacked(count=4, seed=1)
    res = curvature.extreme_eigenvalues(fb, theta, k=2, which="both")
    hb = curvature.dense_hessian(fb, theta)
    assert res.values.shape == (4, 4) and res.converged.all()
    for i in range(4):
        ev = torch.linalg.eigvalsh(hb[i]).numpy()
        single = curvature.extreme_eigenvalues(
            single_of_batch(fb, theta, i), theta[i].clone(), k=2, which="both"
        )
        scale = np.abs(ev).max()
        assert np.abs(res.values[i] - np.r_[ev[:2], ev[-2:]]).max() < 1e-10 * scale
        assert np.abs(res.values[i] - single.values).max() < 1e-10 * scale
    # network 0 sees the same start vector as a single-network call: same iteration count
    s0 = curvature.extreme_eigenvalues(single_of_batch(fb, theta, 0), theta[0].clone(), k=2)
    assert s0.iterations == res.iterations[0]


def test_network_batch_from_montecarlo_networks() -> None:
    """flat_function_batch on the real network batch: batched Lanczos = dense per network."""
    networks = pytest.importorskip("flatstart.montecarlo.networks")
    nets = networks.mlps(
        count=3,
        width=4,
        depth=2,
        activation="tanh",
        init="xavier_normal",
        input_dim=3,
        output_dim=2,
        bias=True,
        seed=0,
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=g, dtype=DT)
    y = torch.randn(10, 2, generator=g, dtype=DT)
    fb, theta = curvature.flat_function_batch(nets, x, y)
    assert theta.shape == (3, nets.parameter_count)
    torch.testing.assert_close(theta, nets.flatten())
    hb = curvature.dense_hessian(fb, theta)
    for i in range(3):
        hi = torch.autograd.functional.hessian(single_of_batch(fb, theta, i), theta[i].clone())
        assert rel_err(hb[i], hi) < 1e-12
    res = curvature.extreme_eigenvalues(fb, theta, k=1, which="both")
    ev = torch.linalg.eigvalsh(hb).numpy()
    want = ev[:, [0, -1]]
    assert np.abs(res.values - want).max() < 1e-10 * np.abs(ev).max(), (res.values, want)


def test_batched_hutchinson_and_slq_equal_per_network() -> None:
    fb, theta = stacked(count=3, seed=2)
    tr = curvature.hutchinson_trace(fb, theta, probes=7, seed=3, return_probes=True)
    hb = curvature.dense_hessian(fb, theta)
    z = torch.as_tensor(tr.probe_vectors)
    want = torch.einsum("cnp,cpq,cnq->cn", z, hb, z).numpy()
    np.testing.assert_allclose(tr.samples, want, rtol=1e-12, atol=1e-12)
    f0 = single_of_batch(fb, theta, 0)
    t0 = curvature.hutchinson_trace(f0, theta[0].clone(), probes=7, seed=3)
    np.testing.assert_allclose(t0.samples, tr.samples[0], rtol=1e-12)
    d = curvature.spectral_density(fb, theta, runs=3, steps=6, seed=4)
    d0 = curvature.spectral_density(f0, theta[0].clone(), runs=3, steps=6, seed=4)
    np.testing.assert_allclose(d.nodes[0], d0.nodes, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.weights[0], d0.weights, rtol=1e-9, atol=1e-12)
    assert d.density.shape == (3, 1001) and d.grid.shape == (3, 1001)


# --------------------------------------------------------------------------------------------
# Hutchinson
# --------------------------------------------------------------------------------------------


def test_hutchinson_ci_contains_exact_trace_and_rejects_mutant() -> None:
    f, theta = tiny_mlp(seed=7, width=10)
    h = curvature.dense_hessian(f, theta)
    exact = float(torch.trace(h))
    res = curvature.hutchinson_trace(f, theta, probes=200, seed=0)
    assert res.stderr > 0 and res.hvps == 200
    z = abs(res.estimate - exact) / res.stderr
    assert z < 4.0, f"estimate {res.estimate} +- {res.stderr}, exact {exact} (alpha {ALPHA_4SIGMA})"
    mutant = exact + 10 * res.stderr
    assert abs(res.estimate - mutant) / res.stderr >= 4.0, "mutant trace + 10 stderr not rejected"


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
def test_hutchinson_unbiased_over_seeds(distribution: str) -> None:
    """Mean over seeds within 4 exact standard errors; a biased mutant is rejected."""
    a, f = quadratic([-2.0, -0.5, 0.3, 1.0, 1.5, 3.0, 4.0, 6.0], seed=3)
    exact = float(torch.trace(a))
    fro2 = float((a * a).sum())
    diag2 = float((torch.diagonal(a) ** 2).sum())
    var1 = 2 * (fro2 - diag2) if distribution == "rademacher" else 2 * fro2
    seeds, probes = 150, 8
    theta = torch.zeros(8, dtype=DT)
    ests = np.array(
        [
            curvature.hutchinson_trace(
                f, theta, probes=probes, seed=s, distribution=distribution
            ).estimate
            for s in range(seeds)
        ]
    )
    se = math.sqrt(var1 / (probes * seeds))
    assert abs(ests.mean() - exact) < 4 * se, (ests.mean(), exact, se)
    assert abs(ests.mean() - (exact + 10 * se)) >= 4 * se  # mutant rejected
    # the per-call standard error estimates the true one
    assert abs(ests.std(ddof=1) - math.sqrt(var1 / probes)) < 0.25 * math.sqrt(var1 / probes)


def test_hutchinson_rademacher_exact_for_diagonal_and_single_probe() -> None:
    f = lambda t: 0.5 * (torch.arange(1.0, 6.0, dtype=DT) * t * t).sum()  # noqa: E731
    res = curvature.hutchinson_trace(f, torch.zeros(5, dtype=DT), probes=3)
    assert res.estimate == 15.0 and res.stderr == 0.0
    one = curvature.hutchinson_trace(f, torch.zeros(5, dtype=DT), probes=1)
    assert one.stderr == math.inf and one.samples.shape == (1,)


# --------------------------------------------------------------------------------------------
# SLQ
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [3, 5, 8])
def test_slq_exactness_identity(steps: int) -> None:
    a, f = quadratic(list(np.linspace(-2.0, 3.0, 40) + 0.1 * np.sin(np.arange(40))), seed=5)
    res = curvature.spectral_density(
        f, torch.zeros(40, dtype=DT), runs=3, steps=steps, seed=1, return_probes=True
    )
    norm = float(torch.linalg.matrix_norm(a, ord=2))
    assert res.probe_vectors is not None
    for r in range(3):
        v = torch.as_tensor(res.probe_vectors[r])
        assert abs(float(v.norm()) - 1.0) < 1e-14
        w, th = res.weights[r], res.nodes[r]
        assert abs(w.sum() - 1.0) < 1e-13
        hv = v.clone()
        for p in range(2 * steps + 1):
            exact = float(v @ hv)
            quad = float((w * th**p).sum())
            err = abs(quad - exact) / norm**p
            if p <= 2 * steps - 1:
                assert err < 1e-12, f"p={p}: quadrature {quad} vs v^T H^p v {exact}"
            else:  # p = 2m: Gauss quadrature is no longer exact (the check can fail)
                assert err > 1e-8, f"p={p}: unexpected exactness {err:.2e}"
            hv = a @ hv


def test_slq_exactness_on_network() -> None:
    f, theta = tiny_mlp(seed=8)
    h = curvature.dense_hessian(f, theta)
    m = 6
    res = curvature.spectral_density(f, theta, runs=2, steps=m, seed=0, return_probes=True)
    norm = float(torch.linalg.matrix_norm(h, ord=2))
    assert res.probe_vectors is not None
    for r in range(2):
        v = torch.as_tensor(res.probe_vectors[r])
        for p in [0, 1, 2, 5, 2 * m - 1]:
            exact = float(v @ torch.linalg.matrix_power(h, p) @ v)
            quad = float((res.weights[r] * res.nodes[r] ** p).sum())
            assert abs(quad - exact) < 1e-11 * norm**p, (p, quad, exact)


def test_density_integrates_to_one_and_matches_spectrum() -> None:
    eigs = list(np.linspace(-1.0, 4.0, 25))
    _, f = quadratic(eigs, seed=2)
    res = curvature.spectral_density(f, torch.zeros(25, dtype=DT), runs=4, steps=25)
    assert np.all(res.density >= 0)
    assert abs(np.trapezoid(res.density, res.grid) - 1.0) < 1e-6
    # full Krylov space: nodes are the exact eigenvalues, moments are exact
    for r in range(4):
        live = res.weights[r] > 1e-14
        np.testing.assert_allclose(np.sort(res.nodes[r][live]), eigs, atol=1e-10)
    assert abs(res.moment(0) - 1.0) < 1e-13
    sigma = res.sigma
    assert abs(sigma - 0.01 * 5.0) < 1e-9
    # custom grid and sigma
    grid = np.linspace(-3, 6, 4001)
    res2 = curvature.spectral_density(
        f, torch.zeros(25, dtype=DT), runs=2, steps=10, sigma=0.2, grid=grid
    )
    assert abs(np.trapezoid(res2.density, grid) - 1.0) < 1e-6 and res2.sigma == 0.2


def test_slq_breakdown_stops_early_and_stays_exact() -> None:
    _, f = quadratic([1.0] * 6 + [3.0] * 6)
    res = curvature.spectral_density(f, torch.zeros(12, dtype=DT), runs=2, steps=8)
    assert np.all(res.steps_used == 2)
    np.testing.assert_allclose(res.nodes[:, :2], [[1.0, 3.0], [1.0, 3.0]], atol=1e-12)
    assert np.all(res.weights[:, 2:] == 0)
    assert abs(np.trapezoid(res.density, res.grid) - 1.0) < 1e-6


# --------------------------------------------------------------------------------------------
# the lanczos module on explicit matrices
# --------------------------------------------------------------------------------------------


def test_lanczos_lanes_on_explicit_matrices() -> None:
    g = torch.Generator().manual_seed(0)
    mats = torch.randn(3, 30, 30, generator=g, dtype=DT)
    mats = mats + mats.transpose(1, 2)
    run = lanczos(
        lambda x: torch.bmm(mats, x[:, :, None])[:, :, 0],
        torch.randn(3, 30, generator=g, dtype=DT),
        30,
        which="both",
        k=1,
        tol=1e-12,
    )
    for lane in range(3):
        th, _, _ = lane_ritz(run, lane)
        ev = torch.linalg.eigvalsh(mats[lane])
        assert abs(float(th[0] - ev[0])) < 1e-11 * float(ev.abs().max())
        assert abs(float(th[-1] - ev[-1])) < 1e-11 * float(ev.abs().max())
    t = tridiagonal(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 0.25]))
    assert torch.equal(t, t.T) and t[0, 1] == 0.5 and t[2, 1] == 0.25
    th, s = ritz(torch.tensor([1.0, 2.0], dtype=DT), torch.tensor([0.0], dtype=DT))
    assert th.tolist() == [1.0, 2.0]
    grid = np.linspace(-5, 6, 3001)
    d = gaussian_broadening(np.array([0.0, 1.0]), np.array([0.5, 0.5]), grid, 0.3)
    assert abs(np.trapezoid(d, grid) - 1.0) < 1e-9


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


def _f(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (t * t).sum()


Z = torch.zeros(4, dtype=DT)
BAD_CALLS = [
    ("theta", lambda: curvature.hvp(_f, torch.zeros(2, 2, 2, dtype=DT), torch.zeros(2, 2, 2))),
    ("theta", lambda: curvature.extreme_eigenvalues(_f, torch.zeros(4, dtype=torch.int64))),
    ("theta", lambda: curvature.dense_hessian(_f, torch.tensor([1.0, float("nan")]))),
    ("v", lambda: curvature.hvp(_f, Z, torch.zeros(3, dtype=DT))),
    ("k", lambda: curvature.extreme_eigenvalues(_f, Z, k=0)),
    ("k", lambda: curvature.extreme_eigenvalues(_f, Z, k=5)),
    ("which", lambda: curvature.extreme_eigenvalues(_f, Z, which="middle")),
    ("max_iter", lambda: curvature.extreme_eigenvalues(_f, Z, k=2, max_iter=3)),
    ("tol", lambda: curvature.extreme_eigenvalues(_f, Z, tol=-1.0)),
    ("method", lambda: curvature.hvp(_f, Z, Z, method="finite_difference")),
    ("vectors", lambda: curvature.hvp_operator(_f, Z, vectors="parallel")),
    (
        "eigsh",
        lambda: curvature.extreme_eigenvalues(_f, torch.zeros(2, 4, dtype=DT), method="eigsh"),
    ),
    ("probes", lambda: curvature.hutchinson_trace(_f, Z, probes=0)),
    ("steps", lambda: curvature.spectral_density(_f, Z, steps=0)),
    ("runs", lambda: curvature.spectral_density(_f, Z, runs=0)),
    ("seed", lambda: curvature.hutchinson_trace(_f, Z, seed=-1)),
    ("sigma", lambda: curvature.spectral_density(_f, Z, sigma=0.0)),
    ("non-finite loss", lambda: curvature.hvp(lambda t: t.sum() / 0.0, Z, Z)),
    ("non-finite loss", lambda: curvature.extreme_eigenvalues(lambda t: t.sum() * math.nan, Z)),
    ("scalar loss", lambda: curvature.hutchinson_trace(lambda t: t * t, Z)),
    ("(count,)", lambda: curvature.hutchinson_trace(_f, torch.zeros(2, 4, dtype=DT))),
]


@pytest.mark.parametrize(
    ("name", "call"), BAD_CALLS, ids=[f"{i}-{c[0]}" for i, c in enumerate(BAD_CALLS)]
)
def test_bad_input_raises_value_error_naming_parameter(name: str, call: Callable) -> None:
    pattern = "non-finite" if name == "non-finite loss" else name.split()[0]
    with pytest.raises(ValueError, match=pattern) as info:
        call()
    print(info.value)


def test_bad_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="theta"):
        curvature.hvp(_f, [1.0, 2.0], Z)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="f"):
        curvature.dense_hessian(3, Z)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    f, theta = tiny_mlp(seed=1)
    cpu = curvature.extreme_eigenvalues(f, theta, k=1)
    fc = curvature.flat_function(f.module.cuda(), f.loss_fn, f.x.cuda(), f.y.cuda())
    gpu = curvature.extreme_eigenvalues(fc, theta.cuda(), k=1)
    assert gpu.device.startswith("cuda")
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-10)
    tc = curvature.hutchinson_trace(fc, theta.cuda(), probes=5)
    t0 = curvature.hutchinson_trace(f, theta, probes=5)
    np.testing.assert_allclose(tc.samples, t0.samples, rtol=1e-10)
