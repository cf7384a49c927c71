"""Tests of flatstart.montecarlo.derivatives: every fast path against its slow reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from flatstart.montecarlo import derivatives as D
from flatstart.montecarlo import jacobians as JA
from flatstart.montecarlo import per_sample as PS
from flatstart.montecarlo.networks import chains, mlps
from tests.montecarlo._cases import CASES, IDS, close, problem, rand


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("case", CASES + [dict(width=5, depth=3, input_dim=4, norm="batch")],
                         ids=IDS + ["batchnorm"])
@pytest.mark.parametrize("loss", ["half_sq_norm", "sum", "half_mse", "logistic"])
def test_layer_gradients_vs_module_loop(case: dict[str, Any], loss: str) -> None:
    nets, x, y = problem(case)
    fast = D.layer_gradients(nets, x, y, loss)
    slow = D.layer_gradients_reference(nets, x, y, loss)
    assert [f.shape for f in fast] == [p.shape for p in nets.parameters()]
    for name, f, s in zip(nets.parameter_names(), fast, slow, strict=True):
        assert f.abs().max() > 0 or s.abs().max() == 0, name
        close(f, s)


def test_layer_gradients_functional_params_and_per_network_inputs() -> None:
    nets, x, y = problem(CASES[0])
    shifted = [p * 1.1 for p in nets.parameters()]
    g = D.layer_gradients(nets, x, y, params=shifted)
    other = nets.with_parameters(shifted)
    close(g[0], D.layer_gradients_reference(other, x, y)[0])
    xs = rand(3, 5, 4, seed=7)
    ys = rand(3, 5, 6, seed=8)
    g3 = D.layer_gradients(nets, xs, ys)
    for n in range(3):
        gn = D.layer_gradients(nets.select([n]), xs[n], ys[n])
        close(g3[0][n], gn[0][0])


def test_chunked_equals_unchunked() -> None:
    nets, x, y = problem(CASES[3], batch=4)
    budget = nets.estimate_bytes(4) // 3
    assert len(list(nets.chunks(batch=4, max_bytes=budget))) > 1
    for a, b in zip(D.layer_gradients(nets, x, y, max_bytes=budget),
                    D.layer_gradients(nets, x, y), strict=True):
        close(a, b, 1e-15)
    close(PS.per_sample_gram(nets, x, y, max_bytes=budget // 2), PS.per_sample_gram(nets, x, y))
    close(JA.input_jacobian(nets, x, max_bytes=budget), JA.input_jacobian(nets, x))
    xs, ys = rand(3, 4, 4, seed=5), rand(3, 4, 3, seed=6)  # per-network data is sliced too
    close(PS.per_sample_gram(nets, xs, ys, max_bytes=budget // 2),
          PS.per_sample_gram_reference(nets, xs, ys))
    for a, b in zip(D.layer_gradients(nets, xs, ys, max_bytes=budget),
                    D.layer_gradients_reference(nets, xs, ys), strict=True):
        close(a, b)


def test_gradient_norms_consistent() -> None:
    nets, x, y = problem(CASES[3])
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


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_flat_loss_for_curvature_tools() -> None:
    nets, x, y = problem(CASES[3])
    f, theta = D.flat_loss(nets, x, y, index=2)
    assert theta.shape == (nets.parameter_count,)
    assert torch.isclose(f(theta), D.loss_values(nets, x, y)[2], rtol=1e-14)
    g = torch.func.grad(f)(theta)
    close(g, nets.flatten(D.layer_gradients(nets, x, y))[2])
    f_all, thetas = D.flat_loss(nets, x, y, index=None)
    assert torch.allclose(f_all(thetas), D.loss_values(nets, x, y), rtol=1e-14, atol=0)
    h = torch.func.hessian(f)(theta)
    assert h.shape == (nets.parameter_count,) * 2
    close(h, h.T)
    with pytest.raises(ValueError, match="index"):
        D.flat_loss(nets, x, y, index=3)


def test_loss_names_old_spellings_and_refusal() -> None:
    """The vocabulary's names; ``"sum"`` is the old spelling of ``"half_sq_norm_sum"``; the old
    ``"mse"`` (which meant ``"half_sq_norm"`` here) raises instead of changing meaning."""
    nets, x, y = problem(CASES[1])
    out = nets.forward(x)
    half = 0.5 * (out - y).square().sum(dim=-1)  # ½‖f − y‖² per sample, k = 2 outputs
    close(D.loss_values(nets, x, y), half.mean(dim=-1))
    close(D.loss_values(nets, x, y, "half_sq_norm_sum"), half.sum(dim=-1))
    close(D.loss_values(nets, x, y, "sum"), half.sum(dim=-1))
    close(D.loss_values(nets, x, y, "half_mse"), half.mean(dim=-1) / 2)
    for fn in (D.loss_values, D.layer_gradients, D.gradient_norms, D.flat_loss):
        with pytest.raises(ValueError, match="'mse' is ambiguous.*half_sq_norm"):
            fn(nets, x, y, loss="mse")  # type: ignore[operator]
        with pytest.raises(ValueError, match="loss must be one of"):
            fn(nets, x, y, loss="cross_entropy")  # type: ignore[operator]
    assert D.gradient_norms(nets, x, y, "sum").provenance["parameters"]["loss"] == (
        "half_sq_norm_sum")


def test_bad_arguments() -> None:
    nets, x, y = problem(CASES[0])
    with pytest.raises(ValueError, match="loss"):
        D.layer_gradients(nets, x, y, loss="l1")
    with pytest.raises(ValueError, match="y must"):
        D.layer_gradients(nets, x, torch.ones(5, 2))
    with pytest.raises(TypeError, match="nets"):
        D.layer_gradients("nets", x, y)  # type: ignore[arg-type]
