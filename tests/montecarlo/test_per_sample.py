"""Tests of flatstart.montecarlo.per_sample: every route against the slow references, and the
loss conventions of the one vocabulary (``half_sq_norm`` by default, ``mse`` for training)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from flatstart.montecarlo import derivatives as D
from flatstart.montecarlo import per_sample as PS
from flatstart.montecarlo.data import as_dataset
from flatstart.montecarlo.losses import network_loss, per_sample_loss
from flatstart.montecarlo.networks import mlps
from tests.montecarlo._cases import CASES, F64, IDS, close, problem, rand


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_per_sample_gradients_routes_vs_loop(case: dict[str, Any]) -> None:
    nets, x, y = problem(case, batch=4)
    slow = PS.per_sample_gradients_reference(nets, x, y)
    assert isinstance(slow, list)
    for method in PS.PER_SAMPLE_METHODS:
        fast = PS.per_sample_gradients(nets, x, y, method=method)
        assert isinstance(fast, list)
        for f, s, p in zip(fast, slow, nets.parameters(), strict=True):
            assert f.shape == (3, 4, *p.shape[1:]), method
            close(f, s)
    flat = PS.per_sample_gradients(nets, x, y, flat=True, chunk_size=2, method="vmap")
    assert isinstance(flat, torch.Tensor) and flat.shape == (3, 4, nets.parameter_count)
    close(flat, torch.cat([s.reshape(3, 4, -1) for s in slow], -1))
    # the mean of per-sample gradients is the gradient of the network loss "half_sq_norm"
    mean = [s.mean(dim=1) for s in slow]
    for a, b in zip(mean, D.layer_gradients(nets, x, y), strict=True):
        close(a, b)


def test_per_sample_gradients_per_network_data() -> None:
    nets = mlps(count=3, width=4, depth=2, input_dim=3, output_dim=2, seed=0)
    xs, ys = rand(3, 5, 3, seed=1), rand(3, 5, 2, seed=2)
    for loss in ("half_sq_norm", "mse"):
        ref = PS.per_sample_gradients_reference(nets, xs, ys, loss, flat=True)
        for method in PS.PER_SAMPLE_METHODS:
            close(PS.per_sample_gradients(nets, xs, ys, loss, flat=True, method=method),  # type: ignore
                  ref)  # type: ignore[arg-type]
    # shared inputs, per-network targets (the replica route expands the inputs)
    ref = PS.per_sample_gradients_reference(nets, xs[0], ys, flat=True)
    close(PS.per_sample_gradients(nets, xs[0], ys, flat=True, method="replica"),  # type: ignore
          ref)  # type: ignore[arg-type]


NETS = [
    ("relu-bias", lambda: mlps(3, 8, 3, input_dim=6, output_dim=1, bias=True, seed=0)),
    ("tanh-out2", lambda: mlps(2, 6, 3, input_dim=6, output_dim=2, activation="tanh", seed=1)),
    ("layernorm-skip", lambda: mlps(2, 6, 3, input_dim=6, output_dim=1, norm="layer",
                                    residual=0.5, seed=2)),
]


@pytest.mark.parametrize("name,make", NETS)
@pytest.mark.parametrize("loss", ["mse", "half_mse", "half_sq_norm", "logistic"])
def test_every_loss_every_route_vs_autograd(name: str, make: Any, loss: str) -> None:
    """For each loss of the vocabulary the routes agree with autograd of ``ℓ_i`` itself."""
    nets = make()
    x, y = rand(6, 6, seed=1), rand(6, nets.output_dim, seed=2)
    if loss == "logistic":
        y = torch.sign(y)
    leaves = [p.detach().clone().requires_grad_(True) for p in nets.parameters()]
    ls = per_sample_loss(nets.forward(x, params=leaves), y, loss)
    ref = [torch.autograd.grad(ls[:, i].sum(), leaves, retain_graph=True) for i in range(6)]
    for method in PS.PER_SAMPLE_METHODS:
        g = PS.per_sample_gradients(nets, x, y, loss, method=method)
        for i in range(6):
            for a, b in zip(ref[i], g, strict=True):
                close(b[:, i], a)
    gram = PS.per_sample_gram(nets, x, y, loss)
    close(gram, PS.gram_from_gradients(PS.per_sample_gradients(nets, x, y, loss)))
    close(PS.per_sample_gram(nets, x, y, loss, method="layerwise"), gram)


def test_loss_conventions_scale_the_gradients() -> None:
    """``mse`` per sample is ``(2/k)`` times ``half_sq_norm``, ``half_mse`` ``1/k`` times: the
    gradients scale by that factor and the Gram by its square; a mutant factor is caught."""
    nets = mlps(2, 5, 3, input_dim=4, output_dim=3, activation="tanh", seed=4)
    x, y = rand(5, 4, seed=1), rand(5, 3, seed=2)
    half = PS.per_sample_gradients(nets, x, y, flat=True)
    gram = PS.per_sample_gram(nets, x, y)
    for loss, c in (("mse", 2 / 3), ("half_mse", 1 / 3), ("half_sq_norm_sum", 1.0)):
        close(PS.per_sample_gradients(nets, x, y, loss, flat=True), c * half)  # type: ignore
        close(PS.per_sample_gram(nets, x, y, loss), c**2 * gram)
    with pytest.raises(AssertionError):
        close(PS.per_sample_gram(nets, x, y, "mse"), (2 / 3) * gram)


def test_params_argument_evaluates_elsewhere() -> None:
    nets, x, y = problem(CASES[3], batch=4)
    moved = [p * 1.1 for p in nets.parameters()]
    other = nets.with_parameters(moved)
    for method in PS.PER_SAMPLE_METHODS:
        close(PS.per_sample_gradients(nets, x, y, "mse", moved, flat=True, method=method),  # type: ignore
              PS.per_sample_gradients(other, x, y, "mse", flat=True))  # type: ignore[arg-type]
    close(PS.per_sample_gram(nets, x, y, "mse", moved), PS.per_sample_gram(other, x, y, "mse"))


def test_batch_norm_per_sample_quantities() -> None:
    """Batch norm couples the samples: the single-sample routes refuse it, the ``vjp`` route
    and the explicit Gram give the gradients of ``ℓ_i`` in the batch forward pass."""
    nets = mlps(count=2, width=3, depth=2, norm="batch")
    x = rand(4, 3)
    for method in ("vmap", "layerwise", "replica"):
        with pytest.raises(ValueError, match="norm='batch'"):
            PS.per_sample_gradients(nets, x, 0.0, method=method)
    with pytest.raises(ValueError, match="norm='batch'"):
        PS.per_sample_gram(nets, x, 0.0, method="layerwise")
    g = PS.per_sample_gradients(nets, x, 0.0)
    leaves = [p.detach().clone().requires_grad_(True) for p in nets.parameters()]
    ls = per_sample_loss(nets.forward(x, params=leaves), torch.zeros(4, 3, dtype=F64),
                         "half_sq_norm")
    for a, b in zip(torch.autograd.grad(ls[:, 2].sum(), leaves), g, strict=True):
        close(b[:, 2], a)
    close(PS.per_sample_gram(nets, x, 0.0), PS.gram_from_gradients(g))


def test_duck_typed_network_batch_uses_the_vjp_route() -> None:
    """Any object with ``parameters()`` and ``forward(x, params=...)`` works with ``vjp``."""
    nets, x, y = problem(CASES[0], batch=4)

    class Plain:
        def parameters(self) -> list[torch.Tensor]:
            return nets.parameters()

        def forward(self, xx: torch.Tensor, params: Any = None) -> torch.Tensor:
            return nets.forward(xx, params=params)

    close(PS.per_sample_gram(Plain(), x, y), PS.per_sample_gram(nets, x, y))
    with pytest.raises(TypeError, match="NetworkBatch"):
        PS.per_sample_gradients(Plain(), x, y, method="layerwise")


# ---------------------------------------------------------------------------- Gram matrices
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gram_without_per_sample_gradients_vs_vmap(case: dict[str, Any]) -> None:
    nets, x, y = problem(case, batch=6)
    G = PS.per_sample_gram(nets, x, y)
    ref = PS.per_sample_gram_reference(nets, x, y)
    assert G.shape == (3, 6, 6)
    close(G, ref)
    assert torch.allclose(G, G.transpose(1, 2), atol=1e-14 * max(1.0, G.abs().max().item()))


def test_gram_chunked_equals_unchunked() -> None:
    nets, x, y = problem(CASES[3], batch=4)
    budget = nets.estimate_bytes(4) // 6
    close(PS.per_sample_gram(nets, x, y, max_bytes=budget), PS.per_sample_gram(nets, x, y))
    xs, ys = rand(3, 4, 4, seed=5), rand(3, 4, 3, seed=6)  # per-network data is sliced too
    close(PS.per_sample_gram(nets, xs, ys, max_bytes=budget),
          PS.per_sample_gram_reference(nets, xs, ys))


def test_gram_per_network_inputs_and_mutant() -> None:
    nets = mlps(count=2, width=5, depth=3, input_dim=3, bias=True, seed=3)
    xs, ys = rand(2, 4, 3, seed=1), rand(2, 4, 5, seed=2)
    G = PS.per_sample_gram(nets, xs, ys)
    close(G, PS.per_sample_gram_reference(nets, xs, ys))
    nobias = mlps(count=2, width=5, depth=3, input_dim=3, bias=False, seed=3)
    nobias = nobias.with_parameters(nets.parameters()[:3])
    # mutant: dropping the bias term must change the Gram matrix
    assert not torch.allclose(PS.per_sample_gram(nobias, xs, ys), G)


def test_cosines_from_gram() -> None:
    g = torch.tensor([[[4.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]], dtype=F64)
    c = PS.cosines_from_gram(g)
    assert c[0, 0, 1].item() == pytest.approx(0.5)
    assert c[0, 0, 0].item() == pytest.approx(1.0)
    assert math.isnan(c[0, 2, 2].item()) and math.isnan(c[0, 0, 2].item())
    with pytest.raises(ValueError, match="gram"):
        PS.cosines_from_gram(torch.ones(2, 3))
    nets, x, y = problem(CASES[1], batch=5)
    gs = PS.per_sample_gradients(nets, x, y, flat=True)
    assert isinstance(gs, torch.Tensor)
    ref = torch.nn.functional.cosine_similarity(gs[:, :, None, :], gs[:, None, :, :], dim=-1)
    close(PS.cosines_from_gram(PS.per_sample_gram(nets, x, y)), ref)


# ---------------------------------------------------------------------------- batches
def test_replica_and_batch_gradients_are_network_loss_gradients() -> None:
    nets, x, y = problem(CASES[3], batch=6)
    idx = PS.iid_batch_indices(6, 3, 4, seed=2)
    got = PS.replica_gradients(nets, x[idx], y[idx], "half_mse")
    for b in range(4):
        leaves = [p.detach().clone().requires_grad_(True) for p in nets.parameters()]
        total = network_loss(nets.forward(x[idx[b]], params=leaves), y[idx[b]], "half_mse").sum()
        for a, g in zip(torch.autograd.grad(total, leaves), got, strict=True):
            close(g[:, b], a)
    ds = as_dataset((x, y))
    for shared in (False, True):
        close(PS.flat_per_sample(PS.batch_gradients(nets, ds, 2, 3, seed=1, shared=shared)),
              PS.flat_per_sample(PS.batch_gradients_reference(nets, ds, 2, 3, seed=1,
                                                              shared=shared)))
    with pytest.raises(ValueError, match="loss"):
        PS.replica_gradients(nets, x[idx], y[idx], "cross_entropy")


def test_bad_arguments() -> None:
    nets, x, y = problem(CASES[0])
    with pytest.raises(ValueError, match="method"):
        PS.per_sample_gradients(nets, x, y, method="backpack")
    with pytest.raises(ValueError, match="method"):
        PS.per_sample_gram(nets, x, y, method="backpack")
    with pytest.raises(ValueError, match="chunk_size"):
        PS.per_sample_gradients(nets, x, y, chunk_size=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        PS.per_sample_gradients(nets, x, y, "sum")
    with pytest.raises(TypeError, match="NetworkBatch"):
        PS.per_sample_gradients("nets", x, y)  # type: ignore[arg-type]
