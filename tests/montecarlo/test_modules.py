"""flatstart.montecarlo.modules: any torch network, batched with torch.func; every fast path
against its loop reference over real nn.Module copies (float64, 1e-12)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from flatstart.montecarlo import curvature as cv
from flatstart.montecarlo import modules as M
from flatstart.montecarlo.derivatives import layer_gradients
from flatstart.montecarlo.networks import chains, mlps
from flatstart.montecarlo.training import escape_times, escape_times_reference
from tests.montecarlo._nets import NETWORKS, BatchNormMLP, SignFlip

RTOL = 1e-12


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    """|a − b| ≤ 1e-12 (|b| + max|b|): relative at the scale of the values (round-off only)."""
    scale = float(b.abs().max()) if b.numel() else 0.0
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=RTOL, atol=RTOL * max(scale, 1e-300)), (
        float((a - b).abs().max()), scale)


def _inputs(shape: tuple[int, ...], batch: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *shape, generator=g, dtype=torch.float64)


@pytest.fixture(params=sorted(NETWORKS), scope="module")
def net(request: pytest.FixtureRequest) -> tuple[M.ModuleBatch, torch.Tensor]:
    factory, shape = NETWORKS[request.param]
    return M.build_modules(factory, 3, seed=4, input_shape=shape), _inputs(shape)


# ------------------------------------------------------------------ building
def test_copies_are_seeded_reproducible_and_independent() -> None:
    factory, shape = NETWORKS["cnn"]
    a = M.build_modules(factory, 3, seed=7, input_shape=shape)
    b = M.build_modules(factory, 3, seed=7, input_shape=shape)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q) and p.dtype == torch.float64
    assert not torch.equal(a.parameters()[0][0], a.parameters()[0][1])
    # copy i is module_copy(factory, copy_seed(seed, i)): a reported network can be rebuilt
    one = M.module_copy(factory, M.copy_seed(7, 2))
    assert torch.equal(dict(one.named_parameters())["conv.weight"],
                       a.parameters()[a.names.index("conv.weight")][2])
    assert a.seeds == [M.copy_seed(7, i) for i in range(3)]
    # the global random state is left alone
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    M.build_modules(factory, 2, seed=1)
    assert torch.equal(torch.rand(1), before)


def test_structure_helpers(net: tuple[M.ModuleBatch, torch.Tensor]) -> None:
    mb, x = net
    flat = mb.flatten()
    assert flat.shape == (mb.count, mb.parameter_count)
    for p, q in zip(mb.unflatten(flat), mb.parameters(), strict=True):
        assert torch.equal(p, q)
    groups = mb.layer_groups()
    assert sorted(i for _, idx in groups for i in idx) == list(range(len(mb.names)))
    sub = mb.select([2, 0])
    _close(M.outputs(sub, x), M.outputs(mb, x)[[2, 0]])
    assert mb.with_batching("loop").parameters()[0] is mb.parameters()[0]
    assert mb.output_shape(x) == (1,)
    # flattened inputs are accepted
    _close(M.outputs(mb, x.reshape(x.shape[0], -1)), M.outputs(mb, x))


# ------------------------------------------------------------------ fast vs reference
@pytest.mark.parametrize("batching", ["vmap", "loop"])
def test_fast_paths_equal_references(net: tuple[M.ModuleBatch, torch.Tensor],
                                     batching: str) -> None:
    mb, x = net
    mb = mb.with_batching(batching)
    _close(M.outputs(mb, x), M.outputs_reference(mb, x))
    _close(M.losses(mb, x, 0.5), M.losses_reference(mb, x, 0.5))
    for g, r in zip(M.gradients(mb, x, 0.5), M.gradients_reference(mb, x, 0.5), strict=True):
        _close(g, r)
    _close(M.per_sample_gram(mb, x, 0.5), M.per_sample_gram_reference(mb, x, 0.5))
    _close(M.hessians(mb, x, 0.5), M.hessians_reference(mb, x, 0.5))


def test_lanczos_and_hutchinson_batched_equal_loop(net: tuple[M.ModuleBatch, torch.Tensor]
                                                   ) -> None:
    """Extreme eigenvalues and Hutchinson traces on the vmap loss equal those on the loop of
    module copies (same seeded start vectors and probes)."""
    mb, x = net
    f, theta = M.flat_loss(mb.with_batching("vmap"), x, 1.0)
    fr, theta_r = M.flat_loss_reference(mb, x, 1.0)
    assert torch.equal(theta, theta_r)
    _close(f(theta), fr(theta))
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=theta.dtype)
    _close(cv.hvp(f, theta, v, method="rev_rev"), cv.hvp(fr, theta, v, method="rev_rev"))
    e = cv.extreme_eigenvalues(f, theta, k=1, which="both", seed=3, tol=1e-8)
    er = cv.extreme_eigenvalues(fr, theta, k=1, which="both", seed=3, tol=1e-8)
    _close(torch.as_tensor(e.values), torch.as_tensor(er.values))
    t = cv.hutchinson_trace(f, theta, probes=4, seed=2)
    tr = cv.hutchinson_trace(fr, theta, probes=4, seed=2)
    _close(torch.as_tensor(t.estimate), torch.as_tensor(tr.estimate))
    # and the dense route agrees with Lanczos on the extremes
    h = M.hessians(mb, x, 1.0)
    ev = torch.linalg.eigvalsh(0.5 * (h + h.transpose(1, 2)))
    assert torch.allclose(torch.as_tensor(e.values)[:, -1], ev[:, -1], rtol=1e-6, atol=1e-8)


def test_escape_times_vmap_equal_loop_and_reference() -> None:
    factory, shape = NETWORKS["residual_ln"]
    mb = M.build_modules(factory, 4, seed=2, input_shape=shape)
    data = (_inputs(shape, batch=4).reshape(4, -1), torch.full((4, 1), 0.3, dtype=torch.float64))
    kw = {"optimizer": "sgd", "lr": 0.05, "threshold": 0.02, "max_steps": 40, "loss": "half_mse"}
    fast = escape_times(mb.with_batching("vmap"), data, **kw)
    loop = escape_times(mb.with_batching("loop"), data, **kw)
    ref = escape_times_reference(mb.with_batching("loop"), data, **kw)
    assert torch.equal(fast.times, loop.times) and torch.equal(fast.times, ref.times)
    assert torch.equal(fast.censored, ref.censored)
    assert 0 < int(fast.censored.sum()) < 4 or len(set(fast.times.tolist())) > 1


def test_from_networks_equals_network_batch() -> None:
    nets = mlps(count=3, width=3, depth=3, input_dim=2, output_dim=1, bias=True, norm="layer",
                residual=0.5, seed=1)
    mb = M.ModuleBatch.from_networks(nets)
    x = _inputs((2,))
    _close(M.outputs(mb, x), nets(x))
    flat = mb.flatten(M.gradients(mb, x, 1.0))
    want = nets.flatten(layer_gradients(nets, x, 1.0))
    _close(flat.sort(dim=1).values, want.sort(dim=1).values)  # same entries, other order
    c = chains(count=4, depth=3, sigma=1.0, seed=0)
    _close(M.outputs(M.ModuleBatch.from_networks(c), torch.ones(1, 1)), c(torch.ones(1, 1)))


# ------------------------------------------------------------------ batch norm and fallback
def test_batch_norm_in_training_mode_is_batched() -> None:
    """Stacked running statistics are batched buffers: vmap batches training-mode batch norm
    (no fallback) and equals the loop over real modules."""
    mb = M.build_modules(lambda s: BatchNormMLP(), 3, seed=0, input_shape=(3,))
    x = _inputs((3,), batch=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.LoopFallbackWarning)
        out = M.outputs(mb, x)
        grads = M.gradients(mb, x, 1.0)
    assert mb.resolved == "vmap"
    _close(out, M.outputs_reference(mb, x))
    for g, r in zip(grads, M.gradients_reference(mb, x, 1.0), strict=True):
        _close(g, r)
    _close(M.hessians(mb, x, 1.0), M.hessians_reference(mb, x, 1.0))


def test_unbatchable_module_falls_back_to_loop_with_notice() -> None:
    mb = M.build_modules(lambda s: SignFlip(), 4, seed=1, input_shape=(3,))
    x = _inputs((3,))
    with pytest.warns(M.LoopFallbackWarning, match="cannot batch the module SignFlip"):
        out = M.outputs(mb, x)
    assert mb.resolved == "loop"
    _close(out, M.outputs_reference(mb, x))
    with warnings.catch_warnings():  # decided once: no second notice
        warnings.simplefilter("error", M.LoopFallbackWarning)
        grads = M.gradients(mb, x, 0.0)
    for g, r in zip(grads, M.gradients_reference(mb, x, 0.0), strict=True):
        _close(g, r)
    with pytest.raises(RuntimeError):
        M.outputs(mb.with_batching("vmap"), x)


# ------------------------------------------------------------------ quantities
def _weight_sq(model: nn.Module, params: dict[str, torch.Tensor], batch: object) -> torch.Tensor:
    return sum(p.square().sum() for n, p in params.items() if n.endswith("weight"))


def _jac_norm(model: nn.Module, params: dict[str, torch.Tensor],
              batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, _ = batch
    out = torch.func.functional_call(model, params, (x,))
    return out.square().sum().sqrt()


def _item(model: nn.Module, params: dict[str, torch.Tensor], batch: object) -> float:
    return float(next(iter(params.values())).detach().sum())


def test_quantity_values_batched_equal_reference(net: tuple[M.ModuleBatch, torch.Tensor]) -> None:
    mb, x = net
    for fn in (_weight_sq, _jac_norm):
        _close(M.quantity_values(mb, fn, x, 1.0), M.quantity_values_reference(mb, fn, x, 1.0))
    with pytest.warns(M.LoopFallbackWarning, match="quantity _item"):
        v = M.quantity_values(mb.with_batching("auto"), _item, x, 1.0)
    _close(v, M.quantity_values_reference(mb, _item, x, 1.0))


def test_quantity_must_return_one_value() -> None:
    factory, shape = NETWORKS["residual_ln"]
    mb = M.build_modules(factory, 2, input_shape=shape)
    x = _inputs(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.LoopFallbackWarning)  # our own error: no fallback
        with pytest.raises(ValueError, match="one value per network"):
            M.quantity_values(mb, lambda m, p, b: torch.ones(2), x, 1.0)
    with pytest.raises(TypeError, match="must return a tensor"):
        M.quantity_values(mb.with_batching("loop"), lambda m, p, b: "x", x, 1.0)


# ------------------------------------------------------------------ bad input
class _TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lin(x), x


BAD_FACTORIES = [
    ({}, ValueError, "exactly one of factory"),
    ({"factory": lambda s: nn.Linear(2, 1), "module": nn.Linear}, ValueError, "exactly one"),
    ({"factory": 3}, TypeError, "factory must be a callable"),
    ({"factory": nn.Linear}, TypeError, "not a class"),
    ({"factory": lambda: nn.Linear(2, 1)}, TypeError, "seed as its first argument"),
    ({"module": lambda s: nn.Linear(2, 1)}, TypeError, "nn.Module subclass"),
    ({"module": nn.Linear, "kwargs": {"in_features": 2, "out_features": 1, "widht": 3}},
     ValueError, "widht.*not parameters of Linear"),
    ({"module": nn.Linear, "kwargs": [1]}, TypeError, "kwargs must be a dict"),
    ({"module": nn.Linear, "init": "xavier"}, TypeError, "init must be a callable"),
    ({"factory": lambda s: nn.Linear(2, 1), "init": print}, ValueError, "init is only used"),
]


@pytest.mark.parametrize(("kw", "err", "match"), BAD_FACTORIES, ids=[m for *_, m in BAD_FACTORIES])
def test_bad_factories(kw: dict, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        M.make_factory(kw.pop("factory", None), **kw)


def test_bad_modules_and_inputs() -> None:
    with pytest.raises(TypeError, match="must return an nn.Module"):
        M.build_modules(lambda s: 3, 2)
    with pytest.raises(ValueError, match="without parameters"):
        M.build_modules(lambda s: nn.ReLU(), 2)
    sizes = iter([1, 2, 1])
    with pytest.raises(ValueError, match="different structure.*copy 1"):
        M.build_modules(lambda s: nn.Linear(2, next(sizes)), 3, seed=0)
    with pytest.raises(ValueError, match="batching"):
        M.build_modules(lambda s: nn.Linear(2, 1), 2, batching="fast")
    with pytest.raises(ValueError, match="input_shape"):
        M.build_modules(lambda s: nn.Linear(2, 1), 2, input_shape=(0,))
    mb = M.build_modules(lambda s: nn.Linear(2, 1), 2, input_shape=(2,))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, \*\(2,\)\)"):
        mb(torch.ones(3, 5))
    with pytest.raises(ValueError, match="floating"):
        mb(torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="y must be a scalar"):
        M.losses(mb, torch.ones(3, 2), torch.ones(5))
    two = M.build_modules(lambda s: _TwoOutputs(), 2, batching="loop")
    with pytest.raises(TypeError, match="must return one tensor"):
        two(torch.ones(3, 2))
    with pytest.raises(TypeError, match="ModuleBatch"):
        M.outputs(mlps(count=1, width=2, depth=1), torch.ones(1, 2))
