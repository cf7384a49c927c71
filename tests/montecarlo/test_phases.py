"""Per-layer gradient SNR: exact cases, a synthetic case with known mean/covariance, Welford vs
two-pass reference, transition epochs, IDNNs compatibility mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from flatstart.montecarlo.data import teacher_dataset
from flatstart.montecarlo.networks import mlps
from flatstart.montecarlo.phases import (
    gradient_snr,
    gradient_snr_reference,
    idnn_compat,
    idnn_compat_from_history,
    snr_from_batch_gradients,
    transition_epochs,
)

D = torch.float64
ALPHA = 1e-3




def test_snr_exact_small_case():
    # layer 1: two params (tensor 0 and 1) pooled; layer 2: tensor 2
    g0 = torch.tensor([[[1.0], [3.0], [5.0]]], dtype=D)          # (1, M=3, 1)
    g1 = torch.tensor([[[0.0], [0.0], [3.0]]], dtype=D)
    g2 = torch.tensor([[[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]], dtype=D)
    r = snr_from_batch_gradients([g0, g1, g2], groups=[1, 1, 2])
    # layer 1: mean (3, 1), |mean|² = 10; deviations (-2,-1),(0,-1),(2,2): Σ = 5+1+8 = 14, /2
    assert r["mean_sq"].tolist() == [[10.0, 8.0]]
    assert r["trace_cov"][0, 0].item() == 7.0
    assert r["snr"][0, 0].item() == pytest.approx(10 / 7, rel=1e-15)
    assert math.isinf(r["snr"][0, 1].item())  # zero covariance -> inf, not NaN


def test_snr_synthetic_known_mean_cov():
    # g_b ~ N(μ, C) iid, M batches, R replicate "networks": with divisor M − 1,
    # E tr Ĉ = tr C and E‖ḡ‖² = ‖μ‖² + tr C / M exactly; z-tests, with a mutant (divisor M).
    R, M, P = 4000, 5, 3
    gen = torch.Generator().manual_seed(0)
    mu = torch.tensor([1.0, -0.5, 0.25], dtype=D)
    A = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [0.2, -0.3, 0.6]], dtype=D)
    C = A @ A.T
    g = mu + torch.randn(R, M, P, generator=gen, dtype=D) @ A.T
    r = snr_from_batch_gradients([g])
    tr = r["trace_cov"][:, 0]
    ms = r["mean_sq"][:, 0]

    def p_mean(sample: torch.Tensor, target: float) -> float:
        z = (sample.mean() - target) / (sample.std() / len(sample) ** 0.5)
        return float(2 * stats.norm.sf(abs(float(z))))

    trC = float(torch.trace(C))
    assert p_mean(tr, trC) > ALPHA
    assert p_mean(ms, float(mu @ mu) + trC / M) > ALPHA
    assert p_mean(tr * (M - 1) / M, trC) < ALPHA          # mutant: biased divisor M
    assert p_mean(ms, float(mu @ mu)) < ALPHA             # mutant: forgets the tr C/M bias


@pytest.mark.parametrize("opt,lr,kw", [("sgd", 0.05, {}), ("adam", 0.01, {}),
                                       ("momentum", 0.02, {"weights_only": True})])
def test_welford_matches_two_pass_reference(opt, lr, kw):
    nets = mlps(3, 8, 3, input_dim=5, output_dim=1, bias=True, seed=0)
    ds = teacher_dataset(48, 5, seed=1, noise=0.5)
    h = gradient_snr(nets, ds, opt, lr, epochs=3, batch_size=8, **kw)
    r = gradient_snr_reference(nets, ds, opt, lr, epochs=3, batch_size=8, **kw)
    assert h.snr.shape == (3, 3, 3) and h.batches_per_epoch == 6 and h.layers == [1, 2, 3]
    for key, val in (("snr", h.snr), ("mean_sq", h.mean_sq), ("trace_cov", h.trace_cov)):
        assert torch.allclose(val, r[key], rtol=1e-11), key
    assert h.losses.shape == (3, 3)


def test_weights_only_differs_with_bias():
    nets = mlps(2, 6, 2, input_dim=5, output_dim=1, bias=True, seed=0)
    ds = teacher_dataset(32, 5, seed=1)
    a = gradient_snr(nets, ds, "sgd", 0.05, epochs=1, batch_size=8)
    b = gradient_snr(nets, ds, "sgd", 0.05, epochs=1, batch_size=8, weights_only=True)
    assert not torch.allclose(a.trace_cov, b.trace_cov)
    assert bool((b.trace_cov <= a.trace_cov * (1 + 1e-12)).all())  # a subset of coordinates


@pytest.mark.parametrize("snr,window,expect", [
    ([5.0, 3.0, 0.5, 0.1, 0.1], 1, 2),
    ([5.0, 3.0, 0.5, 0.1, 0.1], 2, 3),     # averages 5, 4, 1.75, 0.3
    ([5.0, 3.0, 0.5, 0.1, 0.1], 3, 4),     # 5, 4, 2.83, 1.2, 0.23
    ([2.0, 2.0, 2.0], 2, -1),
    ([math.inf, 0.1, 0.1, 0.1], 2, 2),     # inf only delays, never NaNs
    ([1.0, 5.0], 3, 0),                    # "≤ 1" includes equality
])
def test_transition_epochs(snr, window, expect):
    s = torch.tensor(snr, dtype=D)
    # reference: direct trailing average
    ref = -1
    for t in range(len(snr)):
        lo = max(0, t - window + 1)
        if sum(snr[lo:t + 1]) / (t + 1 - lo) <= 1.0:
            ref = t
            break
    got = transition_epochs(s[None, :, None], window=window)
    assert got.shape == (1, 1) and int(got) == ref == expect, (int(got), ref, expect)


def test_idnn_compat_matches_direct_transcription():
    # numpy transcription of idnns/plots/plot_gradients.py for one network
    gen = np.random.default_rng(0)
    E, M, sizes = 4, 5, [6, 4, 3]
    grads = [gen.normal(size=(E, M, s)) + 0.3 for s in sizes]
    means, covs = [], []
    for layer in range(3):
        mean_e, cov_e = [], []
        for e in range(E):
            gm = grads[layer][e]
            avg = gm.mean(axis=0)
            mean_e.append(np.linalg.norm(avg))
            cov = sum(np.outer(v - avg, v - avg) for v in gm) / M
            cov_e.append(np.sqrt(np.trace(cov)))
        means.append(mean_e)
        covs.append(cov_e)
    y_var = np.cumsum(np.array(covs), axis=0).T      # (E, layers)
    y_mean = np.cumsum(np.array(means), axis=0).T
    mean_norm = torch.tensor(np.array(means).T)
    tr_biased = torch.tensor((np.array(covs) ** 2).T)
    out = idnn_compat(mean_norm, tr_biased)
    assert np.allclose(out["var"].numpy(), y_var, rtol=1e-13)
    assert np.allclose(out["std"].numpy(), np.sqrt(y_var), rtol=1e-13)
    assert np.allclose(out["snr"].numpy(), y_mean ** 2 / y_var, rtol=1e-13)


def test_idnn_compat_from_history_uses_biased_divisor():
    nets = mlps(2, 6, 2, input_dim=5, output_dim=1, seed=0)
    h = gradient_snr(nets, teacher_dataset(32, 5, seed=1), "sgd", 0.05, epochs=2, batch_size=8)
    out = idnn_compat_from_history(h)
    m = h.batches_per_epoch
    first = (h.trace_cov[..., 0] * (m - 1) / m).sqrt()
    assert torch.allclose(out["var"][..., 0], first, rtol=1e-13)


@pytest.mark.parametrize("kw,word", [
    ({"batch_size": 20}, "2 batches"),
    ({"batch_size": 64}, "batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"optimizer": "newton"}, "optimizer"),
])
def test_bad_input(kw, word):
    nets = mlps(2, 4, 2, input_dim=5, output_dim=1, seed=0)
    args = {"optimizer": "sgd", "lr": 0.1, "epochs": 1, "batch_size": 8, **kw}
    with pytest.raises(ValueError, match=word):
        gradient_snr(nets, teacher_dataset(32, 5, seed=1), **args)
    with pytest.raises(ValueError, match="window"):
        transition_epochs(torch.ones(1, 3, 1), window=0)
