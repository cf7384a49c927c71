"""Tests of flatstart.montecarlo.derivatives: every fast path against its slow reference."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from flatstart.montecarlo import derivatives as D
from flatstart.montecarlo.networks import chains, mlps

F64 = torch.float64


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-12) -> None:
    scale = max(1.0, b.abs().max().item())
    err = (a - b).abs().max().item()
    assert err <= rel * scale, f"max abs err {err:.3g} > {rel:g} * {scale:.3g}"


CASES: list[dict[str, Any]] = [
    dict(width=6, depth=3, input_dim=4),
    dict(width=6, depth=3, input_dim=4, output_dim=2, activation="tanh"),
    dict(width=5, depth=4, input_dim=5, residual=0.5, activation="relu"),
    dict(width=6, depth=3, input_dim=4, bias=True, init="torch_default", output_dim=3),
    dict(width=6, depth=3, input_dim=4, norm="layer", bias=True, activation="tanh"),
    dict(width=6, depth=3, input_dim=4, norm="layer", norm_affine=False, residual=0.4),
    dict(width=[7, 3], depth=3, input_dim=2, output_dim=4, activation="linear"),
    dict(width=1, depth=6, input_dim=1, output_dim=1, activation="relu", init="he_normal"),
]
IDS = ["-".join(f"{k}={v}" for k, v in c.items()) for c in CASES]


def _problem(case: dict[str, Any], batch: int = 5, seed: int = 0) -> tuple[Any, Any, Any]:
    nets = mlps(count=3, seed=seed, **case)
    x = _rand(batch, nets.input_dim, seed=seed + 1)
    y = _rand(batch, nets.output_dim, seed=seed + 2)
    return nets, x, y


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("case", CASES + [dict(width=5, depth=3, input_dim=4, norm="batch")],
                         ids=IDS + ["batchnorm"])
@pytest.mark.parametrize("loss", ["mse", "sum"])
def test_layer_gradients_vs_module_loop(case: dict[str, Any], loss: str) -> None:
    nets, x, y = _problem(case)
    fast = D.layer_gradients(nets, x, y, loss)
    slow = D.layer_gradients_reference(nets, x, y, loss)
    assert [f.shape for f in fast] == [p.shape for p in nets.parameters()]
    for name, f, s in zip(nets.parameter_names(), fast, slow, strict=True):
        assert f.abs().max() > 0 or s.abs().max() == 0, name
        _close(f, s)


def test_layer_gradients_functional_params_and_per_network_inputs() -> None:
    nets, x, y = _problem(CASES[0])
    shifted = [p * 1.1 for p in nets.parameters()]
    g = D.layer_gradients(nets, x, y, params=shifted)
    other = nets.with_parameters(shifted)
    _close(g[0], D.layer_gradients_reference(other, x, y)[0])
    xs = _rand(3, 5, 4, seed=7)
    ys = _rand(3, 5, 6, seed=8)
    g3 = D.layer_gradients(nets, xs, ys)
    for n in range(3):
        gn = D.layer_gradients(nets.select([n]), xs[n], ys[n])
        _close(g3[0][n], gn[0][0])


def test_chunked_equals_unchunked() -> None:
    nets, x, y = _problem(CASES[3], batch=4)
    budget = nets.estimate_bytes(4) // 3
    assert len(list(nets.chunks(batch=4, max_bytes=budget))) > 1
    for a, b in zip(D.layer_gradients(nets, x, y, max_bytes=budget),
                    D.layer_gradients(nets, x, y), strict=True):
        _close(a, b, 1e-15)
    _close(D.per_sample_gram(nets, x, y, max_bytes=budget // 2), D.per_sample_gram(nets, x, y))
    _close(D.input_jacobian(nets, x, max_bytes=budget), D.input_jacobian(nets, x))
    xs, ys = _rand(3, 4, 4, seed=5), _rand(3, 4, 3, seed=6)  # per-network data is sliced too
    _close(D.per_sample_gram(nets, xs, ys, max_bytes=budget // 2),
           D.per_sample_gram_reference(nets, xs, ys))
    for a, b in zip(D.layer_gradients(nets, xs, ys, max_bytes=budget),
                    D.layer_gradients_reference(nets, xs, ys), strict=True):
        _close(a, b)


def test_gradient_norms_consistent() -> None:
    nets, x, y = _problem(CASES[3])
    r = D.gradient_norms(nets, x, y)
    g = D.layer_gradients(nets, x, y)
    w = np.stack([gi.reshape(3, -1).norm(dim=1).numpy() for gi in g[:3]], 1)
    b = np.stack([gi.reshape(3, -1).norm(dim=1).numpy() for gi in g[3:]], 1)
    np.testing.assert_allclose(r.weights, w, rtol=1e-13)
    np.testing.assert_allclose(r.per_layer, np.sqrt(w**2 + b**2), rtol=1e-13)
    np.testing.assert_allclose(r.total, np.sqrt((w**2 + b**2).sum(1)), rtol=1e-13)
    assert r.provenance["builder"] == "gradient_norms"


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("residual", [None, 0.3])
def test_chain_gradients_vs_loop(activation: str, residual: float | None) -> None:
    c = chains(count=20, depth=7, init="xavier_normal", activation=activation,
               residual=residual, seed=2)
    fast = D.chain_gradients(c, x=1.3, y=0.4)
    slow = D.chain_gradients_reference(c, x=1.3, y=0.4)
    for name in ("output", "df_dw", "dl_dw"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name),
                                   rtol=1e-12, atol=1e-300, err_msg=name)
    assert fast.df_dw.shape == (20, 7)


def test_linear_chain_gradient_is_product_of_other_weights() -> None:
    """df/dw_i = x prod_{k != i} w_k and dl/dw_i = (f - y) df/dw_i (chain rule)."""
    c = chains(count=200, depth=9, sigma=1.0, seed=4)
    w = np.stack([p.reshape(200).numpy() for p in c.parameters()], 1)
    r = D.chain_gradients(c, x=0.7, y=0.2)
    f = 0.7 * np.prod(w, axis=1)
    others = np.stack([0.7 * np.prod(np.delete(w, i, axis=1), axis=1) for i in range(9)], 1)
    np.testing.assert_allclose(r.output, f, rtol=1e-13)
    np.testing.assert_allclose(r.df_dw, others, rtol=1e-12)
    np.testing.assert_allclose(r.dl_dw, (f - 0.2)[:, None] * others, rtol=1e-12)
    g = D.layer_gradients(c, 0.7, 0.2)  # per-layer gradients, (count, 1, 1) each
    np.testing.assert_allclose(torch.cat([t.reshape(200, 1) for t in g], 1).numpy(),
                               r.dl_dw, rtol=1e-12)


def test_chain_gradients_per_chain_inputs_and_errors() -> None:
    c = chains(count=4, depth=3, sigma=1.0, seed=0)
    xs = np.array([1.0, -1.0, 2.0, 0.5])
    r = D.chain_gradients(c, x=xs)
    for n in range(4):
        np.testing.assert_allclose(r.df_dw[n], D.chain_gradients(c.select([n]), x=xs[n]).df_dw[0])
    with pytest.raises(ValueError, match="width-1"):
        D.chain_gradients(mlps(count=2, width=3, depth=2), 1.0)
    with pytest.raises(ValueError, match="x must be"):
        D.chain_gradients(c, x=np.ones(3))


# ---------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_input_jacobian_vs_autograd_functional(case: dict[str, Any]) -> None:
    nets, x, _ = _problem(case, batch=3)
    J = D.input_jacobian(nets, x)
    assert J.shape == (3, 3, nets.output_dim, nets.input_dim)
    _close(J, D.input_jacobian_reference(nets, x))


def test_input_jacobian_vs_finite_differences() -> None:
    nets = mlps(count=2, width=5, depth=3, input_dim=3, output_dim=4, activation="tanh", seed=1)
    x = _rand(2, 3)
    J = D.input_jacobian(nets, x)  # forward-mode branch (out 4 > in 3)
    h = 1e-6
    for k in range(3):
        e = torch.zeros(3, dtype=F64)
        e[k] = h
        fd = (nets(x + e) - nets(x - e)) / (2 * h)
        assert torch.allclose(J[..., k], fd, atol=1e-8, rtol=0)
        assert not torch.allclose(J[..., k], 1.01 * fd, atol=1e-8, rtol=0)  # mutant


def test_jacobian_singular_values() -> None:
    nets = mlps(count=2, width=4, depth=3, init="orthogonal", activation="linear", seed=0)
    s = D.jacobian_singular_values(nets, _rand(3, 4))
    assert torch.allclose(s, torch.ones_like(s), atol=1e-12)  # products of orthogonal matrices
    nets = mlps(count=2, width=4, depth=3, seed=0, activation="tanh")
    x = _rand(3, 4)
    ref = torch.linalg.svdvals(D.input_jacobian_reference(nets, x))
    _close(D.jacobian_singular_values(nets, x), ref)


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


@pytest.mark.parametrize("method", D.JACOBIAN_METHODS)
@pytest.mark.parametrize("case", JAC_CASES, ids=JAC_IDS)
def test_input_jacobian_methods_vs_reference(case: dict[str, Any], method: str) -> None:
    """Every route (product / replicated autograd / torch.func) equals the module reference,
    for shared and per-network inputs, at the stored and at perturbed parameters."""
    nets, x, _ = _problem(case, batch=3)
    xs = _rand(3, 2, nets.input_dim, seed=9)
    for net in (nets, _perturbed(nets)):
        for inp in (x, xs):
            J = D.input_jacobian(net, inp, method=method)
            ref = D.input_jacobian_reference(net, inp)
            assert J.shape == ref.shape == (3, inp.shape[-2], net.output_dim, net.input_dim)
            assert J.dtype == ref.dtype
            _close(J, ref)


def test_input_jacobian_product_mutants_rejected() -> None:
    """The 1e-12 comparison has teeth: wrong parameters or a wrong norm Jacobian are caught."""
    case = dict(width=6, depth=3, input_dim=4, norm="layer", bias=True, activation="tanh")
    nets, x, _ = _problem(case, batch=3)
    other = _perturbed(nets)
    ref = D.input_jacobian_reference(other, x)
    _close(D.input_jacobian(other, x), ref)
    with pytest.raises(AssertionError):  # mutant: the unperturbed nets (gamma = 1, beta = 0)
        _close(D.input_jacobian(nets, x), ref)
    plain = mlps(count=3, seed=0, width=6, depth=3, input_dim=4, bias=True, activation="tanh")
    with pytest.raises(AssertionError):  # mutant: the same weights without layer norm
        _close(D.input_jacobian(plain.with_parameters(other.parameters()[:6]), x), ref)


@pytest.mark.parametrize("method", ["product", "autograd"])
def test_input_jacobian_chunked_preallocated(method: str) -> None:
    """Chunked evaluation (written into a preallocated output) equals one pass, per-network
    inputs sliced per chunk."""
    nets = mlps(count=7, width=5, depth=3, input_dim=4, output_dim=6, norm="layer", seed=3)
    xs = _rand(7, 2, 4, seed=4)
    budget = nets.estimate_bytes(2, 4.0 * 4) // 3
    assert len(list(nets.chunks(batch=2, max_bytes=budget, factor=16.0))) > 1
    J = D.input_jacobian(nets, xs, max_bytes=budget, method=method)
    assert J.is_contiguous()
    _close(J, D.input_jacobian(nets, xs), 1e-15)
    _close(J, D.input_jacobian_reference(nets, xs))


def test_input_jacobian_bad_method() -> None:
    nets, x, _ = _problem(CASES[0], batch=2)
    with pytest.raises(ValueError, match="method"):
        D.input_jacobian(nets, x, method="finite")


# ---------------------------------------------------------------------------- per-sample
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_per_sample_gradients_vmap_vs_loop(case: dict[str, Any]) -> None:
    nets, x, y = _problem(case, batch=4)
    fast = D.per_sample_gradients(nets, x, y)
    slow = D.per_sample_gradients_reference(nets, x, y)
    assert isinstance(fast, list) and isinstance(slow, list)
    for f, s, p in zip(fast, slow, nets.parameters(), strict=True):
        assert f.shape == (3, 4, *p.shape[1:])
        _close(f, s)
    layerwise = D.per_sample_gradients(nets, x, y, method="layerwise")
    assert isinstance(layerwise, list)
    for f, s in zip(layerwise, slow, strict=True):
        _close(f, s)
    flat = D.per_sample_gradients(nets, x, y, flat=True, chunk_size=2)
    assert isinstance(flat, torch.Tensor) and flat.shape == (3, 4, nets.parameter_count)
    _close(flat, torch.cat([f.reshape(3, 4, -1) for f in fast], -1))
    # the mean of per-sample gradients is the mse-loss gradient
    mean = [f.mean(dim=1) for f in fast]
    for a, b in zip(mean, D.layer_gradients(nets, x, y), strict=True):
        _close(a, b)


def test_per_sample_gradients_per_network_data() -> None:
    nets = mlps(count=3, width=4, depth=2, input_dim=3, output_dim=2, seed=0)
    xs, ys = _rand(3, 5, 3, seed=1), _rand(3, 5, 2, seed=2)
    ref = D.per_sample_gradients_reference(nets, xs, ys, flat=True)
    for method in D.PER_SAMPLE_METHODS:
        _close(D.per_sample_gradients(nets, xs, ys, flat=True, method=method),  # type: ignore
               ref)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gram_without_per_sample_gradients_vs_vmap(case: dict[str, Any]) -> None:
    nets, x, y = _problem(case, batch=6)
    G = D.per_sample_gram(nets, x, y)
    ref = D.per_sample_gram_reference(nets, x, y)
    assert G.shape == (3, 6, 6)
    _close(G, ref)
    assert torch.allclose(G, G.transpose(1, 2), atol=1e-14 * max(1.0, G.abs().max().item()))


def test_gram_per_network_inputs_and_mutant() -> None:
    nets = mlps(count=2, width=5, depth=3, input_dim=3, bias=True, seed=3)
    xs, ys = _rand(2, 4, 3, seed=1), _rand(2, 4, 5, seed=2)
    G = D.per_sample_gram(nets, xs, ys)
    _close(G, D.per_sample_gram_reference(nets, xs, ys))
    nobias = mlps(count=2, width=5, depth=3, input_dim=3, bias=False, seed=3)
    nobias = nobias.with_parameters(nets.parameters()[:3])
    # mutant: dropping the bias term must change the Gram matrix
    assert not torch.allclose(D.per_sample_gram(nobias, xs, ys), G)


def test_batch_norm_per_sample_quantities_raise() -> None:
    nets = mlps(count=2, width=3, depth=2, norm="batch")
    x = _rand(4, 3)
    for fn in (D.per_sample_gram, D.per_sample_gradients):
        with pytest.raises(ValueError, match="norm='batch'"):
            fn(nets, x, 0.0)
    with pytest.raises(ValueError, match="norm='batch'"):
        D.input_jacobian(nets, x)


def test_cosines_from_gram() -> None:
    g = torch.tensor([[[4.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]], dtype=F64)
    c = D.cosines_from_gram(g)
    assert c[0, 0, 1].item() == pytest.approx(0.5)
    assert c[0, 0, 0].item() == pytest.approx(1.0)
    assert math.isnan(c[0, 2, 2].item()) and math.isnan(c[0, 0, 2].item())
    with pytest.raises(ValueError, match="gram"):
        D.cosines_from_gram(torch.ones(2, 3))
    nets, x, y = _problem(CASES[1], batch=5)
    gs = D.per_sample_gradients(nets, x, y, flat=True)
    assert isinstance(gs, torch.Tensor)
    ref = torch.nn.functional.cosine_similarity(gs[:, :, None, :], gs[:, None, :, :], dim=-1)
    _close(D.cosines_from_gram(D.per_sample_gram(nets, x, y)), ref)


def test_bad_arguments() -> None:
    nets, x, y = _problem(CASES[0])
    with pytest.raises(ValueError, match="loss"):
        D.layer_gradients(nets, x, y, loss="l1")
    with pytest.raises(ValueError, match="y must"):
        D.layer_gradients(nets, x, torch.ones(5, 2))
    with pytest.raises(TypeError, match="nets"):
        D.layer_gradients("nets", x, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        D.per_sample_gradients(nets, x, y, method="backpack")
    with pytest.raises(ValueError, match="chunk_size"):
        D.per_sample_gradients(nets, x, y, chunk_size=0)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_flat_loss_for_curvature_tools() -> None:
    nets, x, y = _problem(CASES[3])
    f, theta = D.flat_loss(nets, x, y, index=2)
    assert theta.shape == (nets.parameter_count,)
    assert torch.isclose(f(theta), D.loss_values(nets, x, y)[2], rtol=1e-14)
    g = torch.func.grad(f)(theta)
    _close(g, nets.flatten(D.layer_gradients(nets, x, y))[2])
    f_all, thetas = D.flat_loss(nets, x, y, index=None)
    assert torch.allclose(f_all(thetas), D.loss_values(nets, x, y), rtol=1e-14, atol=0)
    h = torch.func.hessian(f)(theta)
    assert h.shape == (nets.parameter_count,) * 2
    _close(h, h.T)
    with pytest.raises(ValueError, match="index"):
        D.flat_loss(nets, x, y, index=3)
