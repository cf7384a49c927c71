"""Tests of flatstart.montecarlo.jacobians: every route against the module reference."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from flatstart.montecarlo import jacobians as JA
from flatstart.montecarlo.networks import mlps
from tests.montecarlo._cases import CASES, F64, IDS, close, problem, rand


# ---------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_input_jacobian_vs_autograd_functional(case: dict[str, Any]) -> None:
    nets, x, _ = problem(case, batch=3)
    J = JA.input_jacobian(nets, x)
    assert J.shape == (3, 3, nets.output_dim, nets.input_dim)
    close(J, JA.input_jacobian_reference(nets, x))


def test_input_jacobian_vs_finite_differences() -> None:
    nets = mlps(count=2, width=5, depth=3, input_dim=3, output_dim=4, activation="tanh", seed=1)
    x = rand(2, 3)
    J = JA.input_jacobian(nets, x)  # forward-mode branch (out 4 > in 3)
    h = 1e-6
    for k in range(3):
        e = torch.zeros(3, dtype=F64)
        e[k] = h
        fd = (nets(x + e) - nets(x - e)) / (2 * h)
        assert torch.allclose(J[..., k], fd, atol=1e-8, rtol=0)
        assert not torch.allclose(J[..., k], 1.01 * fd, atol=1e-8, rtol=0)  # mutant


def test_jacobian_singular_values() -> None:
    nets = mlps(count=2, width=4, depth=3, init="orthogonal", activation="linear", seed=0)
    s = JA.jacobian_singular_values(nets, rand(3, 4))
    assert torch.allclose(s, torch.ones_like(s), atol=1e-12)  # products of orthogonal matrices
    nets = mlps(count=2, width=4, depth=3, seed=0, activation="tanh")
    x = rand(3, 4)
    ref = torch.linalg.svdvals(JA.input_jacobian_reference(nets, x))
    close(JA.jacobian_singular_values(nets, x), ref)


JAC_CASES: list[dict[str, Any]] = CASES + [
    dict(width=5, depth=4, input_dim=5, residual=0.5, activation="tanh", bias=True, output_dim=7),
    dict(width=5, depth=4, input_dim=5, residual=0.5, activation="tanh", bias=True, output_dim=2),
    dict(width=5, depth=3, input_dim=2, output_dim=6, norm="layer", bias=True, activation="relu"),
    dict(width=[6, 7], depth=3, input_dim=5, output_dim=1, activation="relu", init="he_normal"),
    dict(width=6, depth=4, input_dim=6, activation="relu", init="orthogonal", gain=math.sqrt(2)),
    dict(width=6, depth=3, input_dim=6, norm="layer", activation="linear", residual=0.7),
]
JAC_IDS = ["-".join(f"{k}={v}" for k, v in c.items()) for c in JAC_CASES]


def _perturbed(nets: Any, seed: int = 11) -> Any:
    """Same nets with every parameter moved (non-trivial norm scales/shifts and biases)."""
    g = torch.Generator().manual_seed(seed)
    return nets.with_parameters(
        [p * (1 + 0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
         + 0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype) for p in nets.parameters()]
    )


@pytest.mark.parametrize("method", JA.JACOBIAN_METHODS)
@pytest.mark.parametrize("case", JAC_CASES, ids=JAC_IDS)
def test_input_jacobian_methods_vs_reference(case: dict[str, Any], method: str) -> None:
    """Every route (product / replicated autograd / torch.func) equals the module reference,
    for shared and per-network inputs, at the stored and at perturbed parameters."""
    nets, x, _ = problem(case, batch=3)
    xs = rand(3, 2, nets.input_dim, seed=9)
    for net in (nets, _perturbed(nets)):
        for inp in (x, xs):
            J = JA.input_jacobian(net, inp, method=method)
            ref = JA.input_jacobian_reference(net, inp)
            assert J.shape == ref.shape == (3, inp.shape[-2], net.output_dim, net.input_dim)
            assert J.dtype == ref.dtype
            close(J, ref)


def test_input_jacobian_product_mutants_rejected() -> None:
    """The 1e-12 comparison has teeth: wrong parameters or a wrong norm Jacobian are caught."""
    case = dict(width=6, depth=3, input_dim=4, norm="layer", bias=True, activation="tanh")
    nets, x, _ = problem(case, batch=3)
    other = _perturbed(nets)
    ref = JA.input_jacobian_reference(other, x)
    close(JA.input_jacobian(other, x), ref)
    with pytest.raises(AssertionError):  # mutant: the unperturbed nets (gamma = 1, beta = 0)
        close(JA.input_jacobian(nets, x), ref)
    plain = mlps(count=3, seed=0, width=6, depth=3, input_dim=4, bias=True, activation="tanh")
    with pytest.raises(AssertionError):  # mutant: the same weights without layer norm
        close(JA.input_jacobian(plain.with_parameters(other.parameters()[:6]), x), ref)


@pytest.mark.parametrize("method", ["product", "autograd"])
def test_input_jacobian_chunked_preallocated(method: str) -> None:
    """Chunked evaluation (written into a preallocated output) equals one pass, per-network
    inputs sliced per chunk."""
    nets = mlps(count=7, width=5, depth=3, input_dim=4, output_dim=6, norm="layer", seed=3)
    xs = rand(7, 2, 4, seed=4)
    budget = nets.estimate_bytes(2, 4.0 * 4) // 3
    assert len(list(nets.chunks(batch=2, max_bytes=budget, factor=16.0))) > 1
    J = JA.input_jacobian(nets, xs, max_bytes=budget, method=method)
    assert J.is_contiguous()
    close(J, JA.input_jacobian(nets, xs), 1e-15)
    close(J, JA.input_jacobian_reference(nets, xs))


def test_input_jacobian_bad_method() -> None:
    nets, x, _ = problem(CASES[0], batch=2)
    with pytest.raises(ValueError, match="method"):
        JA.input_jacobian(nets, x, method="finite")


def test_batch_norm_has_no_per_sample_jacobian() -> None:
    with pytest.raises(ValueError, match="norm='batch'"):
        JA.input_jacobian(mlps(count=2, width=3, depth=2, norm="batch"), rand(4, 3))


def test_mask_jacobians_and_scalar_input_gradients_vs_reference() -> None:
    """The product-route helpers equal the module reference; their input checks raise."""
    nets = mlps(count=3, width=5, depth=3, input_dim=4, output_dim=1, activation="relu", seed=2)
    x = rand(4, seed=3)
    ref = JA.input_jacobian_reference(nets, x[None])[:, 0]
    close(JA.mask_jacobians(nets, x), ref)
    close(JA.scalar_input_gradients(nets, x), ref[:, 0, :])
    with pytest.raises(ValueError, match="bias-free"):
        JA.mask_jacobians(mlps(count=1, width=3, depth=2, bias=True), torch.ones(3))
    with pytest.raises(ValueError, match="scalar output"):
        JA.scalar_input_gradients(mlps(count=1, width=3, depth=2), torch.ones(3))
