"""Interpolation between solutions: convexity (gap ≤ 0, exact for quadratics), a nonconvex
barrier, batched over networks, same-basin vs independent pairs, optimizer comparison."""

from __future__ import annotations

import pytest
import torch

from flatstart.montecarlo.basins import (
    default_alphas,
    forked_pairs,
    independent_pairs,
    interpolate,
    interpolate_fn,
    optimizer_solutions,
    param_distance,
)
from flatstart.montecarlo.data import teacher_dataset
from flatstart.montecarlo.networks import mlps

D = torch.float64




def _quadratic(count: int, dim: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(count, dim, dim, generator=g, dtype=D)
    H = A @ A.transpose(1, 2) + 0.1 * torch.eye(dim, dtype=D)   # SPD per network
    b = torch.randn(count, dim, generator=g, dtype=D)

    def f(ps):
        t = ps[0]
        return 0.5 * torch.einsum("ki,kij,kj->k", t, H, t) - (b * t).sum(dim=1)

    return f, H


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_convex_quadratic_gap_exact(seed):
    f, H = _quadratic(5, 4, seed)
    g = torch.Generator().manual_seed(seed + 10)
    t1 = torch.randn(5, 4, generator=g, dtype=D)
    t2 = torch.randn(5, 4, generator=g, dtype=D)
    r = interpolate_fn(f, [t1], [t2])
    d = t1 - t2
    exact = -0.25 * 0.5 * torch.einsum("ki,kij,kj->k", d, H, d)   # f(mid) − mean = −dᵀHd/8
    assert bool((r["midpoint_gap"] <= 0).all())
    assert torch.allclose(r["midpoint_gap"], exact, rtol=1e-10, atol=1e-12), (r, exact)
    assert bool((r["barrier"] == 0).all())          # convex: max on a segment at an endpoint
    # the loss along the path is the exact parabola
    a = r["alphas"]
    direct = torch.stack([f([(1 - x) * t1 + x * t2]) for x in a.tolist()], dim=1)
    assert torch.allclose(r["losses"], direct, rtol=1e-13)


def test_nonconvex_double_well_barrier():
    f = lambda ps: ((ps[0] ** 2 - 1) ** 2).sum(dim=1)   # noqa: E731
    t1 = torch.tensor([[-1.0, 1.0], [-1.0, -1.0]], dtype=D)
    t2 = torch.tensor([[1.0, 1.0], [-1.0, -1.0]], dtype=D)
    r = interpolate_fn(f, [t1], [t2])
    assert r["barrier"].tolist() == [1.0, 0.0]      # network 2: same point, no barrier
    assert r["midpoint_gap"].tolist() == [1.0, 0.0]
    # mutant: a convex function on the same pair must show no barrier
    g = lambda ps: (ps[0] ** 2).sum(dim=1)   # noqa: E731
    assert interpolate_fn(g, [t1], [t2])["barrier"].tolist() == [0.0, 0.0]


def test_linear_regression_net_is_convex():
    nets = mlps(4, 1, 1, input_dim=5, output_dim=1, activation="linear", seed=0)
    ds = teacher_dataset(30, 5, seed=1)
    t1 = nets.parameters()
    t2 = mlps(4, 1, 1, input_dim=5, output_dim=1, activation="linear", seed=1).parameters()
    r = interpolate(nets, t1, t2, ds)
    assert bool((r["midpoint_gap"] < 0).all()) and bool((r["barrier"] == 0).all())
    assert r["losses"].shape == (4, 81)


def test_default_grid():
    a = default_alphas()
    assert a[0] == -0.5 and a[-1] == 1.5 and a.numel() == 81
    assert {0.0, 0.5, 1.0} <= set(a.tolist())


def test_forked_same_basin_vs_independent_barrier():
    ds = teacher_dataset(64, 4, width=8, seed=1)
    na = mlps(4, 16, 3, input_dim=4, output_dim=1, bias=True, seed=0)
    nb = mlps(4, 16, 3, input_dim=4, output_dim=1, bias=True, seed=1)
    fk = forked_pairs(na, ds, "sgd", 0.05, shared_steps=150, fork_steps=100, batch_size=16)
    ind = independent_pairs(na, nb, ds, "sgd", 0.05, steps=250, batch_size=16)
    assert bool((fk["midpoint_gap"] <= 1e-3 * fk["loss1"]).all()), fk["midpoint_gap"]
    assert bool((ind["barrier"] > 10 * fk["barrier"] + 1e-3).all()), (ind["barrier"],
                                                                      fk["barrier"])
    assert bool((ind["distance"] > fk["distance"]).all())


def test_optimizer_solutions():
    ds = teacher_dataset(48, 4, width=8, seed=1)
    nets = mlps(3, 12, 2, input_dim=4, output_dim=1, seed=0)
    out = optimizer_solutions(nets, ds, {"sgd": {"lr": 0.05}, "adam": {"lr": 0.01},
                                         "heavy": {"optimizer": "momentum", "lr": 0.01}},
                              steps=60, batch_size=16)
    assert set(out["params"]) == {"sgd", "adam", "heavy"}
    assert set(out["distance"]) == {("sgd", "adam"), ("sgd", "heavy"), ("adam", "heavy")}
    d = out["distance"][("sgd", "adam")]
    assert torch.allclose(d, param_distance(out["params"]["sgd"], out["params"]["adam"]))
    assert bool((d > 0).all())
    assert all(v.shape == (3,) for v in out["weight_norm"].values())
    assert all(bool((v >= 0).all()) for v in out["barrier"].values())


@pytest.mark.parametrize("call,word", [
    (lambda: interpolate_fn(lambda p: p[0].sum(1), [torch.zeros(1, 2)], [torch.zeros(1, 2)],
                            alphas=[]), "alphas"),
    (lambda: interpolate_fn(lambda p: p[0].sum(1), [torch.zeros(1, 2)], [torch.zeros(1, 3)]),
     "shape"),
    (lambda: interpolate_fn(lambda p: p[0].sum(1), [torch.zeros(1, 2)], []), "equal length"),
    (lambda: default_alphas(5), "even"),
    (lambda: interpolate_fn(lambda p: p[0].sum(1), [torch.zeros(1, 2)], [torch.zeros(1, 2)],
                            alphas=[float("nan")]), "finite"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()
