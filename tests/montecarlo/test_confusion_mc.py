"""Gradient confusion from the Gram matrix vs explicit per-sample gradients; noise scale.

The per-sample quantities come from flatstart.montecarlo.per_sample with the training loss
``"mse"`` (the confusion functions' default)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from flatstart.montecarlo.confusion import (
    confusion_stats,
    confusion_stats_reference,
    confusion_sweep,
    exact_noise_scale,
    minibatch_confusion,
    noise_scale,
    noise_scale_from_gram,
    pairwise_offdiag,
    two_batch_noise_scale,
    with_replacement_pair_products,
)
from flatstart.montecarlo.data import sphere_inputs, teacher_dataset
from flatstart.montecarlo.losses import network_loss, per_sample_loss
from flatstart.montecarlo.networks import mlps
from flatstart.montecarlo.per_sample import (
    gram_from_gradients,
    per_sample_gradients,
    per_sample_gram,
)

D = torch.float64
ALPHA = 1e-3



NETS = [
    ("relu-bias", lambda: mlps(3, 8, 3, input_dim=6, output_dim=1, bias=True, seed=0)),
    ("tanh-out2", lambda: mlps(2, 6, 3, input_dim=6, output_dim=2, activation="tanh", seed=1)),
    ("layernorm-skip", lambda: mlps(2, 6, 3, input_dim=6, output_dim=1, norm="layer",
                                    residual=0.5, seed=2)),
    ("batchnorm", lambda: mlps(2, 6, 3, input_dim=6, output_dim=1, norm="batch", seed=3)),
    ("orthogonal", lambda: mlps(2, 6, 3, input_dim=6, output_dim=1, init="orthogonal", seed=4)),
]


def _data(n=10, k=1, seed=1):
    ds = sphere_inputs(n, 6, seed=seed)
    y = torch.randn(n, k, generator=torch.Generator().manual_seed(seed), dtype=D)
    return ds.x, y


@pytest.mark.parametrize("name,make", NETS)
@pytest.mark.parametrize("loss", ["mse", "half_mse", "logistic"])
def test_per_sample_gradients_vs_loop(name, make, loss):
    nets = make()
    x, y = _data(8, nets.output_dim)
    if loss == "logistic":
        y = torch.sign(y)
    g = per_sample_gradients(nets, x, y, loss)
    leaves = [p.detach().clone().requires_grad_(True) for p in nets.parameters()]
    ls = per_sample_loss(nets.forward(x, params=leaves), y, loss)
    for i in range(x.shape[0]):
        gi = torch.autograd.grad(ls[:, i].sum(), leaves, retain_graph=True)
        for a, b in zip(gi, g, strict=True):
            assert torch.allclose(a, b[:, i], rtol=1e-12, atol=1e-14), (name, i)
    if nets.norm != "batch":  # single-sample forward equals the batch forward's ℓ_i
        i = 3
        gi = torch.autograd.grad(
            network_loss(nets.forward(x[i:i + 1], params=leaves), y[i:i + 1], loss).sum(),
            leaves)
        assert all(torch.allclose(a, b[:, i], rtol=1e-12, atol=1e-14)
                   for a, b in zip(gi, g, strict=True))


@pytest.mark.parametrize("name,make", NETS)
def test_confusion_stats_gram_vs_explicit(name, make):
    nets = make()
    x, y = _data(10, nets.output_dim)
    g = per_sample_gradients(nets, x, y, "mse")
    K = per_sample_gram(nets, x, y, "mse")  # layer-wise route where available
    assert torch.allclose(K, gram_from_gradients(g), rtol=1e-11, atol=1e-13)
    eta = float(K.abs().mean()) * 0.1
    s = confusion_stats(K, eta=eta, cos_eta=0.1)
    r = confusion_stats_reference(g, eta=eta, cos_eta=0.1)
    for key, ref in r.items():
        assert torch.allclose(s[key], ref, rtol=1e-10, atol=1e-12), (key, s[key], ref)
    # quantiles against numpy on the explicit pair list
    flat = torch.cat([t.reshape(t.shape[0], t.shape[1], -1) for t in g], dim=2)
    for k in range(nets.count):
        v = flat[k]
        nrm = v.norm(dim=1)
        cos = [(v[i] @ v[j] / (nrm[i] * nrm[j])).item() for i in range(10)
               for j in range(i + 1, 10)]
        assert np.isclose(s["cos_q0.05"][k].item(), np.quantile(cos, 0.05), rtol=1e-10)
    assert torch.equal(s["bound_holds"], (s["inner_min"] >= -eta).to(D))


def test_cosines_with_zero_gradient_are_zero_and_counted():
    K = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.5, 0.0, 1.0]]], dtype=D)
    inner, cos = pairwise_offdiag(K)
    assert cos.tolist() == [[0.0, 0.5, 0.0]]
    s = confusion_stats(K)
    assert abs(float(s["zero_pairs"][0]) - 2 / 3) < 1e-15
    assert not torch.isnan(torch.stack(list(s.values()))).any()


def test_noise_scale_identity_and_routes():
    nets = mlps(3, 8, 3, input_dim=6, output_dim=1, bias=True, seed=0)
    x, y = _data(12)
    g = per_sample_gradients(nets, x, y, "mse")
    ns = noise_scale(nets, (x, y), grads=g)
    K = gram_from_gradients(g)
    b, tr, g2 = noise_scale_from_gram(K)
    assert torch.allclose(ns.b_simple, b, rtol=1e-10)
    assert torch.allclose(ns.trace_cov, ns.layer_trace_cov.sum(dim=1), rtol=1e-12)
    n = 12
    # (1/(N(N-1))) Σ_{i≠j} <g_i, g_j> = |G|² − tr Σ/(N−1), Σ with divisor N [derived]
    off = (K.sum(dim=(1, 2)) - torch.diagonal(K, dim1=1, dim2=2).sum(dim=1)) / (n * (n - 1))
    assert torch.allclose(off, g2 - tr / (n - 1), rtol=1e-10, atol=1e-14)
    # mutant: using the ddof=1 covariance in the identity must fail
    _, tr1, _ = noise_scale_from_gram(K, ddof=1)
    assert not torch.allclose(off, g2 - tr1 / (n - 1), rtol=1e-6)
    # |G|² is the squared norm of the full-batch gradient (no batch-norm)
    leaves = [p.detach().clone().requires_grad_(True) for p in nets.parameters()]
    full = torch.autograd.grad(network_loss(nets.forward(x, params=leaves), y, "mse").sum(),
                               leaves)
    sq = sum(t.reshape(3, -1).pow(2).sum(dim=1) for t in full)
    assert torch.allclose(ns.grad_sq_norm, sq, rtol=1e-11)
    assert ns.layers == [1, 2, 3] and ns.layer_b_simple.shape == (3, 3)


def test_minibatch_direct_vs_gram():
    nets = mlps(3, 8, 3, input_dim=6, output_dim=1, bias=True, seed=0)
    ds = teacher_dataset(20, 6, seed=2)
    a = minibatch_confusion(nets, ds, 4, pairs=6, seed=3)
    b = minibatch_confusion(nets, ds, 4, pairs=6, seed=3, method="gram")
    assert torch.allclose(a["cos"], b["cos"], rtol=1e-10, atol=1e-12)
    assert torch.allclose(a["inner"], b["inner"], rtol=1e-10, atol=1e-13)
    c = minibatch_confusion(nets, ds, 4, pairs=6, seed=4)
    assert not torch.allclose(a["cos"], c["cos"])


def _stouffer_p(est: torch.Tensor, target: torch.Tensor) -> float:
    """Two-sided p-value of Stouffer's combined z over networks for mean(est) == target."""
    z = (est.mean(dim=1) - target) / (est.std(dim=1) / est.shape[1] ** 0.5)
    zc = float(z.sum()) / z.numel() ** 0.5
    return float(2 * stats.norm.sf(abs(zc)))


def test_two_batch_estimator_unbiased():
    # With replacement E|G_b|² = |G|² + trΣ/b exactly (Σ with divisor N), so the per-draw 𝒮
    # and |𝒢|² are unbiased for tr Σ and |G|²: z-tests (CLT over 1000 draws) pooled over the
    # networks with Stouffer's method.
    nets = mlps(4, 8, 2, input_dim=6, output_dim=1, bias=True, seed=0)
    ds = teacher_dataset(16, 6, seed=2, noise=1.0)
    exact = noise_scale(nets, ds)
    est = two_batch_noise_scale(nets, ds, 1, 4, draws=1000, seed=1)
    assert _stouffer_p(est["S"], exact.trace_cov) > ALPHA
    assert _stouffer_p(est["G2"], exact.grad_sq_norm) > ALPHA
    # mutants: tr Σ 25% low (e.g. a without-replacement factor), and ddof=1 |G|² mix-up
    assert _stouffer_p(est["S"], 0.75 * exact.trace_cov) < ALPHA
    assert _stouffer_p(est["G2"], exact.grad_sq_norm + exact.trace_cov / 4) < ALPHA
    ratio = est["b_simple"] / exact.b_simple
    assert bool(((ratio > 0.5) & (ratio < 2)).all()), ratio


def test_sweep_rows():
    rows = confusion_sweep(
        [{"width": 8, "depth": 2, "init": "he_normal"},
         {"width": 8, "depth": 2, "init": "orthogonal"},
         {"width": 8, "depth": 3, "norm": "batch", "residual": 0.5}],
        count=3, n_samples=12, input_dim=8, batch_size=3, pairs=4)
    assert len(rows) == 3
    for r in rows:
        for key in ("mean_cos_min", "mean_cos_mean", "p_bound", "minibatch_cos_mean",
                    "median_cos_min"):
            assert key in r and np.isfinite(r[key])
        assert -1 <= r["mean_cos_min"] <= r["mean_cos_mean"] <= 1
    assert rows[1]["init"] == "orthogonal"


@pytest.mark.parametrize("call,word", [
    (lambda n, d: minibatch_confusion(n, d, 11, 3), "batch_size"),
    (lambda n, d: minibatch_confusion(n, d, 2, 0), "pairs"),
    (lambda n, d: minibatch_confusion(n, d, 2, 3, method="magic"), "method"),
    (lambda n, d: two_batch_noise_scale(n, d, 8, 4), "b_small"),
    (lambda n, d: confusion_stats(torch.zeros(1, 1, 1)), "2 samples"),
    (lambda n, d: confusion_stats(torch.zeros(1, 3, 3), eta=-1.0), "eta"),
    (lambda n, d: confusion_sweep([{"width": 4, "depth": 2, "colour": 1}]), "unknown"),
    (lambda n, d: confusion_sweep([]), "configs"),
    (lambda n, d: noise_scale(n, d, ddof=20), "ddof"),
])
def test_bad_input(call, word):
    nets = mlps(2, 4, 2, input_dim=6, output_dim=1, seed=0)
    with pytest.raises(ValueError, match=word):
        call(nets, teacher_dataset(20, 6, seed=0))


def test_confusion_over_training_records_init_and_end():
    from flatstart.montecarlo.confusion import confusion_over_training
    nets = mlps(2, 6, 2, input_dim=6, output_dim=1, seed=0)
    ds = teacher_dataset(16, 6, seed=2)
    r = confusion_over_training(nets, ds, "sgd", 0.05, steps=10, batch_size=4, record_every=5)
    assert r["steps"] == [0, 5, 10]
    s0 = confusion_stats(per_sample_gram(nets, ds.x, ds.y, "mse"))
    assert torch.allclose(r["stats"][0]["cos_mean"], s0["cos_mean"], rtol=1e-12)
    fin = r["history"].final_params
    s1 = confusion_stats(gram_from_gradients(per_sample_gradients(nets, ds.x, ds.y, "mse", fin)))
    assert torch.allclose(r["stats"][-1]["cos_min"], s1["cos_min"], rtol=1e-10)
    assert not torch.allclose(r["stats"][-1]["cos_min"], s0["cos_min"])


@pytest.mark.parametrize("kw", [{}, {"norm": "layer", "residual": 0.5}])
def test_exact_noise_scale_equals_noise_scale(kw):
    """The layer-wise (no norm) and replica (layer norm) routes give the noise scale of the
    vjp per-sample gradients."""
    nets = mlps(2, 6, 3, input_dim=6, output_dim=1, bias=True, seed=5, **kw)
    ds = teacher_dataset(10, 6, seed=1)
    e, r = exact_noise_scale(nets, ds), noise_scale(nets, ds)
    assert torch.allclose(e.layer_b_simple, r.layer_b_simple, rtol=1e-10)
    assert torch.allclose(e.grad_sq_norm, r.grad_sq_norm, rtol=1e-10)
    with pytest.raises(ValueError, match="norm='batch'"):
        exact_noise_scale(mlps(2, 6, 3, input_dim=6, output_dim=1, norm="batch"), ds)


def test_with_replacement_pair_products_match_explicit_batches():
    nets = mlps(1, 6, 2, input_dim=6, output_dim=1, bias=True, seed=2)
    ds = teacher_dataset(7, 6, seed=3)
    g = torch.cat([t.reshape(1, 7, -1) for t in per_sample_gradients(nets, ds.x, ds.y, "mse")],
                  dim=2)[0]
    r = with_replacement_pair_products(g @ g.T, 3, 5, seed=4)
    gen = torch.Generator().manual_seed(4)
    idx = torch.randint(0, 7, (2, 5, 3), generator=gen)
    m1, m2 = g[idx[0]].mean(dim=1), g[idx[1]].mean(dim=1)
    assert torch.allclose(r["inner"], (m1 * m2).sum(dim=1), rtol=1e-12)
    assert torch.allclose(r["sq1"], m1.square().sum(dim=1), rtol=1e-12)
    with pytest.raises(ValueError, match="batch_size"):
        with_replacement_pair_products(g @ g.T, 0, 5)
