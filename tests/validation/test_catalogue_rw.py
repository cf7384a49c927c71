"""Catalogue family RW (random wide nets): the measurement helpers agree with slow references
(every claim's verdict, mutant and layering: test_catalogue.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import flatstart.validation.catalogue.rw as W
from flatstart.montecarlo.jacobians import (
    input_jacobian_reference,
    mask_jacobians,
    scalar_input_gradients,
)
from flatstart.montecarlo.networks import mlps
from flatstart.montecarlo.sampling import readout_to_lecun, residual_block_stack
from flatstart.validation.claims import get

JAC_CASES = [
    dict(width=[6, 7], depth=3, input_dim=5, output_dim=1, activation="relu", init="he_normal"),
    dict(width=6, depth=3, activation="relu", init="orthogonal", gain=math.sqrt(2.0)),
    dict(width=5, depth=2, activation="linear", init="lecun_normal"),
]


@pytest.mark.parametrize("case", JAC_CASES)
def test_mask_jacobians_match_autograd(case: dict) -> None:
    nets = mlps(count=4, seed=3, **case)
    x = torch.randn(nets.input_dim, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    ref = input_jacobian_reference(nets, x.reshape(1, -1))[:, 0]   # per-network autograd loop
    got = mask_jacobians(nets, x)
    assert torch.allclose(got, ref, atol=1e-13), (got - ref).abs().max()
    if nets.output_dim == 1:
        g = scalar_input_gradients(nets, x)
        assert torch.allclose(g, ref[:, 0, :], atol=1e-13)


def test_readout_to_lecun_scales_only_the_readout() -> None:
    a = mlps(count=3, width=4, depth=3, output_dim=1, seed=0)
    b = readout_to_lecun(mlps(count=3, width=4, depth=3, output_dim=1, seed=0))
    pa, pb = a.parameters(), b.parameters()
    assert torch.equal(pa[0], pb[0]) and torch.equal(pa[1], pb[1])
    assert torch.allclose(pb[2], pa[2] / math.sqrt(2.0))


def test_residual_block_stack_matches_explicit_loop() -> None:
    norms = residual_block_stack(3, 4, 5, [0.5, 0.7], seed=2)
    h = torch.ones(3, 1, 4, dtype=torch.float64)
    for i, eta in enumerate([0.5, 0.7]):
        blk = readout_to_lecun(mlps(count=3, width=[5], depth=2, input_dim=4, output_dim=4,
                                    seed=2 + i))
        w1, w2 = blk.parameters()
        for k in range(3):
            h[k, 0] = h[k, 0] + eta * (w2[k] @ torch.relu(w1[k] @ h[k, 0]))
    assert np.allclose(norms[:, -1], h.square().sum(-1)[:, 0].numpy(), rtol=1e-12)


def test_relu_orthogonal_depth_one_exact_finite_width() -> None:
    """One ReLU-orthogonal layer: JJ^T = 2D, eigenvalue variance 4(p - p^2), mean 1 - 1/n."""
    m = W.simulate_spectrum({"activation": "relu", "init": "orthogonal", "width": 16,
                             "depths": [1]}, 0, "cpu", "standard")
    v = m["var"][0]
    assert abs(v.mean() - (1 - 1 / 16)) < 4 * v.std() / math.sqrt(v.size)


def test_spectrum_linear_orthogonal_is_isometric() -> None:
    m = W.simulate_spectrum({"activation": "linear", "init": "orthogonal", "width": 8,
                             "depths": [3]}, 0, "cpu", "quick")
    assert np.max(np.abs(m["var"])) < 1e-12 and np.allclose(m["mean"], 1.0)


def test_noci_conditional_cdf_is_a_cdf() -> None:
    p = W.predict_noci({"widths": [4, 4, 4], "input_dim": 5})
    f = np.linspace(-20, 20, 401)
    c = p.conditional_cdf(f)
    assert np.all(np.diff(c) >= -1e-12) and c[0] < 1e-3 and c[-1] > 1 - 1e-3
    assert abs(p.conditional_cdf(np.array([0.0]))[0] - 0.5) < 1e-9


def test_dead_mutant_differs() -> None:
    for params in get("RW.dead-network").grid("quick"):
        assert abs(W.predict_dead(params) - W.mutant_dead(params)) > 0.05
