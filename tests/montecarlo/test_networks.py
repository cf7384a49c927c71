"""Tests of flatstart.montecarlo.networks and flatstart.montecarlo.inits: shapes, semantics,
seeds, init laws."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from flatstart.montecarlo import inits
from flatstart.montecarlo.networks import NetworkBatch, chains, mlps

F64 = torch.float64
ALPHA = 0.01


def _x(batch: int, dim: int, seed: int = 0, count: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (batch, dim) if count is None else (count, batch, dim)
    return torch.randn(shape, generator=g, dtype=F64)


# ---------------------------------------------------------------------------- configurations
MLP_CASES: list[dict[str, Any]] = [
    dict(width=6, depth=3, input_dim=4),
    dict(width=6, depth=3, input_dim=4, output_dim=2),
    dict(width=[5, 7, 3], depth=3, input_dim=4, activation="tanh"),
    dict(width=[5, 7], depth=3, input_dim=4, output_dim=1, activation="linear"),
    dict(width=6, depth=4, input_dim=6, residual=0.5, activation="relu"),
    dict(width=6, depth=4, input_dim=3, residual=0.3, activation="tanh", output_dim=2),
    dict(width=6, depth=3, input_dim=4, bias=True, init="torch_default"),
    dict(width=6, depth=3, input_dim=4, norm="batch", bias=True),
    dict(width=6, depth=3, input_dim=4, norm="layer", output_dim=3, residual=0.5),
    dict(width=6, depth=3, input_dim=4, norm="layer", norm_affine=False),
    dict(width=5, depth=2, input_dim=7, init="orthogonal", gain=1.5),
    dict(width=1, depth=5, input_dim=1, output_dim=1, activation="relu"),
]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return ["-".join(f"{k}={v}" for k, v in c.items()) for c in cases]


@pytest.mark.parametrize("case", MLP_CASES, ids=_ids(MLP_CASES))
def test_shapes_and_parameter_order(case: dict[str, Any]) -> None:
    nets = mlps(count=3, seed=1, **case)
    x = _x(5, nets.input_dim)
    out, trace = nets.forward(x, return_activations=True)
    assert out.shape == (3, 5, nets.widths[-1]) and out.dtype == F64
    assert len(trace) == nets.depth + 1 and len(trace.pre) == nets.depth
    assert trace[0].shape == (3, 5, nets.input_dim)
    for layer in range(1, nets.depth + 1):
        assert trace[layer].shape == (3, 5, nets.widths[layer])
    assert torch.equal(trace[nets.depth], out)
    shapes = [tuple(p.shape) for p in nets.parameters()]
    assert shapes == [(3, *s) for s in nets.parameter_shapes()]
    depth = nets.depth
    assert shapes[:depth] == [(3, nets.widths[i + 1], nets.widths[i]) for i in range(depth)]
    assert nets.parameter_count == sum(math.prod(s[1:]) for s in shapes)
    assert len(nets.parameter_names()) == len(shapes) == len(nets.parameter_layers())


def test_output_dim_semantics_and_width_list_errors() -> None:
    nets = mlps(count=2, width=8, depth=3, input_dim=5, output_dim=2)
    assert nets.widths == [5, 8, 8, 2] and nets.depth == 3
    assert [s.activation for s in nets.layers] == [True, True, False]
    assert mlps(count=2, width=8, depth=3).widths == [8, 8, 8, 8]
    with pytest.raises(ValueError, match="width must have length 2"):
        mlps(count=2, width=[3, 4, 5], depth=3, output_dim=1)
    with pytest.raises(ValueError, match="width must have length 3"):
        mlps(count=2, width=[3, 4], depth=3)


@pytest.mark.parametrize("case", MLP_CASES, ids=_ids(MLP_CASES))
def test_functional_forward_equals_call_and_modules(case: dict[str, Any]) -> None:
    """nets(x) == nets.forward(x, params=parameters()) == the nn.Module copies, to 1e-12."""
    nets = mlps(count=3, seed=2, **case)
    x = _x(6, nets.input_dim, seed=3)
    out = nets(x)
    assert torch.equal(out, nets.forward(x, params=[p.clone() for p in nets.parameters()]))
    for n in range(nets.count):
        ref = nets.to_module(n)(x)
        err = (ref - out[n]).abs().max().item()
        assert err <= 1e-12 * max(1.0, ref.abs().max().item()), (n, err)
    g = torch.Generator().manual_seed(9)
    other = [p * (1 + 0.1 * torch.randn(p.shape, generator=g, dtype=F64)) + 0.05
             for p in nets.parameters()]
    assert not torch.allclose(nets.forward(x, params=other), out)


def test_per_network_inputs() -> None:
    nets = mlps(count=3, width=4, depth=2, input_dim=3, seed=0)
    xs = _x(5, 3, count=3)
    out = nets(xs)
    for n in range(3):
        assert torch.allclose(out[n], nets.select([n])(xs[n])[0], rtol=0, atol=1e-14)


def test_manual_mlp_semantics_numpy() -> None:
    """Independent numpy evaluation of relu(W3 relu(W2 relu(W1 x + b1) + b2) + b3)."""
    nets = mlps(count=2, width=[4, 3, 2], depth=3, input_dim=5, bias=True, init="torch_default")
    x = _x(7, 5, seed=4)
    out = nets(x).numpy()
    ps = [p.numpy() for p in nets.parameters()]
    for n in range(2):
        h = x.numpy()
        for layer in range(3):
            h = np.maximum(h @ ps[layer][n].T + ps[3 + layer][n], 0.0)
        np.testing.assert_allclose(out[n], h, rtol=1e-13, atol=1e-15)


def test_residual_semantics() -> None:
    """First layer (4 -> 6) is plain; equal-width layers add alpha * phi(W x)."""
    alpha = 0.7
    nets = mlps(count=2, width=6, depth=3, input_dim=4, residual=alpha, activation="tanh")
    assert [s.residual for s in nets.layers] == [False, True, True]
    x = _x(5, 4)
    w = [p.numpy() for p in nets.parameters()]
    out = nets(x).numpy()
    for n in range(2):
        h = np.tanh(x.numpy() @ w[0][n].T)
        for layer in (1, 2):
            h = h + alpha * np.tanh(h @ w[layer][n].T)
        np.testing.assert_allclose(out[n], h, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_chain_semantics(activation: str) -> None:
    c = chains(count=50, depth=6, init="xavier_normal", activation=activation, seed=3)
    w = torch.stack([p.reshape(50) for p in c.parameters()], 1)
    out = c(2.0).reshape(50)
    h = torch.full((50,), 2.0, dtype=F64)
    for i in range(6):
        h = h * w[:, i]
        if activation == "relu" and i < 5:  # the readout w_L is linear
            h = torch.relu(h)
    assert torch.allclose(out, h, rtol=1e-14, atol=0)


def test_residual_chain_is_product_of_one_plus_alpha_w() -> None:
    alpha = 1 / math.sqrt(10)
    c = chains(count=100, depth=10, sigma=1.0, residual=alpha, seed=0)
    w = torch.stack([p.reshape(100) for p in c.parameters()], 1)
    expected = torch.prod(1 + alpha * w, dim=1) * 1.5
    assert torch.allclose(c(1.5).reshape(100), expected, rtol=1e-13, atol=0)


def test_batch_and_layer_norm_semantics() -> None:
    x = _x(16, 5, seed=1)
    bn = mlps(count=3, width=6, depth=2, input_dim=5, norm="batch", activation="linear")
    _, t = bn.forward(x, return_activations=True)
    z = t.normalized[0]
    assert z is not None
    assert torch.allclose(z.mean(dim=1), torch.zeros(3, 6, dtype=F64), atol=1e-13)
    var = z.var(dim=1, unbiased=False)
    pre_var = t.pre[0].var(dim=1, unbiased=False)
    assert torch.allclose(var, pre_var / (pre_var + 1e-5), atol=1e-12)
    ln = mlps(count=3, width=6, depth=2, input_dim=5, norm="layer", activation="linear")
    _, t = ln.forward(x, return_activations=True)
    z = t.normalized[1]
    assert z is not None
    assert torch.allclose(z.mean(dim=-1), torch.zeros(3, 16, dtype=F64), atol=1e-13)
    # batch statistics are per network: network 0 alone gives the same outputs
    assert torch.allclose(bn.select([0])(x)[0], bn(x)[0], atol=1e-14, rtol=0)


def test_norm_affine_parameters_are_parameters() -> None:
    nets = mlps(count=2, width=4, depth=3, input_dim=4, norm="layer", output_dim=1)
    names = nets.parameter_names()
    assert names == ["W1", "W2", "W3", "gamma1", "gamma2", "beta1", "beta2"]
    assert torch.equal(nets.parameters()[3], torch.ones(2, 4, dtype=F64))
    assert torch.equal(nets.parameters()[5], torch.zeros(2, 4, dtype=F64))


# ---------------------------------------------------------------------------- seeds, dtypes
def test_same_seed_identical_different_seed_differs() -> None:
    a = mlps(count=4, width=5, depth=3, init="orthogonal", bias=True, seed=7)
    b = mlps(count=4, width=5, depth=3, init="orthogonal", bias=True, seed=7)
    c = mlps(count=4, width=5, depth=3, init="orthogonal", bias=True, seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.parameters()[0], c.parameters()[0])
    s1 = chains(count=10, depth=4, sigma=0.5, seed=1)
    s2 = chains(count=10, depth=4, sigma=0.5, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(s1.parameters(), s2.parameters(), strict=True))


def test_float32_is_the_rounded_float64_draw() -> None:
    a = mlps(count=2, width=4, depth=2, seed=3)
    b = mlps(count=2, width=4, depth=2, seed=3, dtype=torch.float32)
    assert b.parameters()[0].dtype == torch.float32
    assert torch.equal(b.parameters()[0], a.parameters()[0].float())
    assert b(torch.ones(3, 4)).dtype == torch.float32


def test_flatten_unflatten_select_chunks() -> None:
    nets = mlps(count=5, width=4, depth=3, bias=True, norm="layer")
    flat = nets.flatten()
    assert flat.shape == (5, nets.parameter_count)
    back = nets.unflatten(flat)
    assert all(torch.equal(p, q) for p, q in zip(back, nets.parameters(), strict=True))
    x = _x(3, 4)
    parts = list(nets.chunks(batch=3, max_bytes=nets.estimate_bytes(3) // 3))
    assert len(parts) >= 3
    joined = torch.cat([sub(x) for _, sub in parts])
    assert torch.equal(joined, nets(x))
    assert nets.select(slice(1, 3)).count == 2


def test_provenance() -> None:
    nets = chains(count=3, depth=2, init="he_normal", seed=5)
    p = nets.provenance()
    assert p["builder"] == "chains" and p["seed"] == 5 and p["dtype"] == "torch.float64"
    assert p["parameters"]["init"] == "he_normal" and p["torch"] == torch.__version__
    assert mlps(count=1, width=2, depth=1).provenance()["builder"] == "mlps"


# ---------------------------------------------------------------------------- bad input
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("mlps", dict(count=0), "count"),
    ("mlps", dict(depth=0), "depth"),
    ("mlps", dict(width=0), "width"),
    ("mlps", dict(width=-3), "width"),
    ("mlps", dict(width=[2, 0]), r"width\[1\]"),
    ("mlps", dict(activation="gelu"), "activation"),
    ("mlps", dict(init="kaiming"), "init"),
    ("mlps", dict(norm="group"), "norm"),
    ("mlps", dict(dtype=torch.int64), "dtype"),
    ("mlps", dict(device="nonsense"), "device"),
    ("mlps", dict(residual=0.0), "residual"),
    ("mlps", dict(residual=-1.0), "residual"),
    ("mlps", dict(seed=-1), "seed"),
    ("mlps", dict(bias=1), "bias"),
    ("mlps", dict(init="torch_default", gain=2.0), "gain"),
    ("mlps", dict(output_dim=0), "output_dim"),
    ("chains", dict(init=None), "exactly one"),
    ("chains", dict(init="xavier_normal", sigma=1.0), "exactly one"),
    ("chains", dict(init=None, sigma=0.0), "sigma"),
    ("chains", dict(init=None, sigma=float("nan")), "sigma"),
    ("chains", dict(init=None, bound=-1.0), "bound"),
    ("chains", dict(depth=0), "depth"),
    ("chains", dict(activation="sigmoid"), "activation"),
]


@pytest.mark.parametrize(("builder", "kwargs", "name"), BAD, ids=[f"{b}-{n}" for b, _, n in BAD])
def test_bad_input_raises_naming_parameter(builder: str, kwargs: dict[str, Any], name: str) -> None:
    if builder == "mlps":
        base: dict[str, Any] = dict(count=2, width=3, depth=2)
        base.update(kwargs)
        with pytest.raises((ValueError, TypeError), match=name):
            mlps(**base)
    else:
        base = dict(count=2, depth=2, init="xavier_normal")
        base.update(kwargs)
        with pytest.raises((ValueError, TypeError), match=name):
            chains(**base)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="device"):
        mlps(count=2, width=3, depth=2, device="cuda")


def test_bad_inputs_to_forward() -> None:
    nets = mlps(count=2, width=3, depth=2)
    with pytest.raises(ValueError, match="x must have shape"):
        nets(torch.ones(4, 5, dtype=F64))
    with pytest.raises(ValueError, match="count=2"):
        nets(torch.ones(3, 4, 3, dtype=F64))
    with pytest.raises(ValueError, match="params"):
        nets.forward(torch.ones(4, 3, dtype=F64), params=nets.parameters()[:1])
    with pytest.raises(ValueError, match="floating"):
        nets(torch.ones(4, 3, dtype=torch.int64))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    cpu = mlps(count=3, width=8, depth=4, seed=0)
    gpu = mlps(count=3, width=8, depth=4, seed=0, device="cuda")
    assert torch.equal(gpu.parameters()[0].cpu(), cpu.parameters()[0])
    x = _x(5, 8)
    assert torch.allclose(gpu(x.cuda()).cpu(), cpu(x), atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------- init laws
INIT_SHAPES = (30, 20)  # (n_out, n_in): fan_in 20, fan_out 30


def _ours(init: str, count: int = 150, seed: int = 0, gain: float | None = None) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    return inits.sample_weights(init, count, *INIT_SHAPES, g, gain).numpy().ravel()


def _torch(init: str, count: int = 150, seed: int = 1, gain: float | None = None) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    return np.concatenate(
        [inits.torch_reference_weight(init, *INIT_SHAPES, g, gain).numpy().ravel()
         for _ in range(count)]
    )


@pytest.mark.parametrize("init", inits.INITS)
def test_init_law_matches_torch_nn_init(init: str) -> None:
    """Two-sample KS (alpha 0.01) of our batched draws against torch.nn.init's; mutant x1.1."""
    ours, ref = _ours(init), _torch(init)
    p = stats.ks_2samp(ours, ref).pvalue
    assert p > ALPHA, f"{init}: KS p={p:.3g} (ours sd {ours.std():.4g}, torch sd {ref.std():.4g})"
    p_mut = stats.ks_2samp(1.1 * ours, ref).pvalue
    assert p_mut < ALPHA, f"{init}: mutant (x1.1) not rejected, p={p_mut:.3g}"


def test_he_vs_xavier_mutant_is_rejected() -> None:
    p = stats.ks_2samp(_ours("he_normal"), _torch("xavier_normal")).pvalue
    assert p < ALPHA, f"he_normal vs torch xavier_normal should differ, p={p:.3g}"
    p = stats.ks_2samp(_ours("he_uniform"), _torch("lecun_uniform")).pvalue
    assert p < ALPHA


def test_gain_matches_torch() -> None:
    p = stats.ks_2samp(_ours("xavier_normal", gain=2.0), _torch("xavier_normal", gain=2.0)).pvalue
    assert p > ALPHA
    assert stats.ks_2samp(_ours("xavier_normal"), _torch("xavier_normal", gain=2.0)).pvalue < ALPHA


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3)])
def test_orthogonal_is_orthogonal_and_haar(shape: tuple[int, int]) -> None:
    n_out, n_in = shape
    g = torch.Generator().manual_seed(0)
    w = inits.sample_weights("orthogonal", 2000, n_out, n_in, g, gain=1.0)
    small = min(shape)
    gram = w @ w.transpose(1, 2) if n_out <= n_in else w.transpose(1, 2) @ w
    assert torch.allclose(gram, torch.eye(small, dtype=F64).expand_as(gram), atol=1e-13)
    # Haar: the law of W[0,0] + W[1,1] must match torch.nn.init.orthogonal_ (KS) ...
    ref_gen = torch.Generator().manual_seed(1)
    ref = torch.stack([inits.torch_reference_weight("orthogonal", n_out, n_in, ref_gen)
                       for _ in range(2000)])
    stat = (w[:, 0, 0] + w[:, 1, 1]).numpy()
    stat_ref = (ref[:, 0, 0] + ref[:, 1, 1]).numpy()
    assert stats.ks_2samp(stat, stat_ref).pvalue > ALPHA
    # ... and the mutant without the sign fix diag(sign(diag R)) must be rejected.
    a = torch.randn((2000, max(shape), small), generator=torch.Generator().manual_seed(2),
                    dtype=F64)
    q, _ = torch.linalg.qr(a)
    q = q if n_out >= n_in else q.transpose(1, 2)
    bad = (q[:, 0, 0] + q[:, 1, 1]).numpy()
    assert stats.ks_2samp(bad, stat_ref).pvalue < ALPHA


def test_torch_default_bias_matches_nn_linear() -> None:
    g = torch.Generator().manual_seed(0)
    ours = inits.sample_biases("torch_default", 3000, 30, 20, g).numpy().ravel()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ref = np.concatenate(
            [torch.nn.Linear(20, 30, dtype=F64).bias.detach().numpy() for _ in range(3000)]
        )
    assert stats.ks_2samp(ours, ref).pvalue > ALPHA
    assert stats.ks_2samp(ours * 1.1, ref).pvalue < ALPHA
    assert np.abs(ours).max() <= 1 / math.sqrt(20)
    assert mlps(count=2, width=3, depth=2, bias=True).parameters()[2].abs().sum() == 0


CHAIN_LAWS: list[tuple[dict[str, Any], Any, Any]] = [
    # (chains kwargs, true law, mutant law)
    (dict(init="xavier_normal"), stats.norm(scale=1.0), stats.norm(scale=1.1)),
    (dict(init="he_normal"), stats.norm(scale=math.sqrt(2)), stats.norm(scale=1.0)),
    (dict(init="lecun_normal"), stats.norm(scale=1.0), stats.norm(scale=math.sqrt(2))),
    (dict(init="xavier_uniform"), stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
     stats.uniform(-1.0, 2.0)),
    (dict(init="he_uniform"), stats.uniform(-math.sqrt(6), 2 * math.sqrt(6)),
     stats.uniform(-math.sqrt(3), 2 * math.sqrt(3))),
    (dict(init="torch_default"), stats.uniform(-1.0, 2.0), stats.uniform(-1.1, 2.2)),
    (dict(sigma=0.3), stats.norm(scale=0.3), stats.norm(scale=0.33)),
    (dict(bound=2.0), stats.uniform(-2.0, 4.0), stats.uniform(-2.2, 4.4)),
]


@pytest.mark.parametrize(("kwargs", "law", "mutant"), CHAIN_LAWS,
                         ids=[str(c[0]) for c in CHAIN_LAWS])
def test_chain_weight_laws(kwargs: dict[str, Any], law: Any, mutant: Any) -> None:
    c = chains(count=4000, depth=5, seed=11, **kwargs)
    w = torch.cat([p.reshape(-1) for p in c.parameters()]).numpy()
    assert stats.kstest(w, law.cdf).pvalue > ALPHA
    assert stats.kstest(w, mutant.cdf).pvalue < ALPHA


def test_orthogonal_chain_is_sign() -> None:
    c = chains(count=100, depth=3, init="orthogonal", seed=0)
    assert torch.all(c.parameters()[0].abs() == 1.0)


def test_init_scale_table() -> None:
    assert inits.init_scale("xavier_normal", 20, 30) == ("normal", math.sqrt(2 / 50))
    assert inits.init_scale("he_normal", 20, 30) == ("normal", math.sqrt(2) / math.sqrt(20))
    law, a = inits.init_scale("he_uniform", 20, 30)
    assert law == "uniform" and math.isclose(a, math.sqrt(6 / 20))
    assert inits.init_scale("torch_default", 16, 3) == ("uniform", 0.25)
    assert isinstance(mlps(count=1, width=2, depth=1), NetworkBatch)


def test_forward_works_under_torch_func_and_other_counts() -> None:
    nets = mlps(count=3, width=4, depth=3, input_dim=2, output_dim=1, activation="tanh")
    x = _x(5, 2)
    ps = [p.clone() for p in nets.parameters()]
    grads = torch.func.grad(lambda q: nets.forward(x, params=q).sum())(ps)
    assert [g.shape for g in grads] == [p.shape for p in ps]
    one = nets.unflatten(nets.flatten()[1:2])
    assert torch.equal(nets.forward(x, params=one)[0], nets(x)[1])
    assert nets.forward(_x(5, 2, count=1), params=one).shape == (1, 5, 1)


@settings(max_examples=15)
@given(depth=st.integers(1, 8), alpha=st.floats(0.05, 2.0), seed=st.integers(0, 2**16),
       x=st.floats(-3.0, 3.0, allow_subnormal=False))
def test_residual_linear_chain_property(depth: int, alpha: float, seed: int, x: float) -> None:
    """For any depth, alpha, seed and input: f = x * prod(1 + alpha w_l) (round-off only)."""
    c = chains(count=8, depth=depth, sigma=1.0, residual=alpha, seed=seed)
    w = torch.stack([p.reshape(8) for p in c.parameters()], 1)
    expected = x * torch.prod(1 + alpha * w, dim=1)
    got = c(x).reshape(8)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-300), (got, expected)


def test_batch_norm_module_copy_takes_a_batch_of_one() -> None:
    """The nn.Module copy of a batch-norm net accepts a batch of one, like the batched forward
    (batch statistics of one sample: every normalized value is 0)."""
    nets = mlps(count=2, width=4, depth=2, input_dim=3, norm="batch", seed=0)
    x = _x(1, 3, seed=1)
    ref = nets.to_module(1)(x)
    assert torch.allclose(ref, nets(x)[1], rtol=1e-12, atol=1e-12)
