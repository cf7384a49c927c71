"""Synthetic data sets and the seeded mini-batch iterator."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from flatstart.montecarlo.data import (
    Dataset,
    as_dataset,
    batch_indices,
    icosahedron,
    idnn_task,
    minibatches,
    random_labels,
    sphere_inputs,
    teacher_dataset,
)

ALPHA = 1e-3



GENERATORS = [
    lambda s: sphere_inputs(50, 4, seed=s),
    lambda s: sphere_inputs(50, 4, labels="sign", seed=s),
    lambda s: teacher_dataset(50, 4, width=8, depth=3, seed=s, noise=0.1),
    lambda s: teacher_dataset(50, 4, activation="tanh", inputs="sphere", seed=s),
    lambda s: random_labels(torch.zeros(50, 3, dtype=torch.float64), seed=s),
]


@pytest.mark.parametrize("make", GENERATORS)
def test_seeded_and_shapes(make):
    a, b, c = make(0), make(0), make(1)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)
    assert a.x.dim() == 2 and a.y.dim() == 2 and a.y.shape[0] == a.x.shape[0] == 50
    assert a.x.dtype == torch.float64 and a.y.dtype == torch.float64
    assert a.seed == 0


def test_sphere_is_uniform_first_coordinate_beta():
    # (1 + x_1)/2 ~ Beta((d-1)/2, (d-1)/2) on S^{d-1}; KS test, with a mutant that must fail
    d = 5
    x = sphere_inputs(4000, d, seed=3).x
    u = ((1 + x[:, 0]) / 2).numpy()
    assert torch.allclose(x.norm(dim=1), torch.ones(4000, dtype=torch.float64))
    p = stats.kstest(u, stats.beta((d - 1) / 2, (d - 1) / 2).cdf).pvalue
    assert p > ALPHA, p
    p_mut = stats.kstest(u, stats.beta(d / 2, d / 2).cdf).pvalue  # mutant: wrong dimension
    assert p_mut < ALPHA, p_mut


def test_sign_labels_fair_coin():
    y = sphere_inputs(4000, 3, labels="sign", seed=0).y
    assert set(y.unique().tolist()) == {-1.0, 1.0}
    k = int((y > 0).sum())
    assert stats.binomtest(k, 4000, 0.5).pvalue > ALPHA
    assert stats.binomtest(k, 4000, 0.55).pvalue < ALPHA  # mutant


def test_teacher_labels_match_teacher():
    ds = teacher_dataset(20, 3, width=5, depth=2, activation="relu", seed=2)
    w1, w2 = ds.info["teacher"]
    assert torch.allclose(ds.y, torch.relu(ds.x @ w1.T) @ w2.T, rtol=1e-13, atol=1e-15)


def test_idnn_task():
    ds = idnn_task(seed=0)
    assert ds.x.shape == (4096, 12) and ds.y.shape == (4096, 1)
    assert torch.unique(ds.x, dim=0).shape[0] == 4096
    assert set(ds.x.unique().tolist()) == {0.0, 1.0}
    assert abs(ds.info["positive_fraction"] - 0.5) < 0.05
    v = icosahedron()
    assert torch.allclose(v.norm(dim=1), torch.ones(12, dtype=torch.float64))
    # the un-broken score is invariant under the antipodal map s -> -s (complement of bits)
    plain = idnn_task(seed=0, tie_break=0.0)
    comp = (4095 - torch.arange(4096))
    assert torch.equal(plain.y[:, 0], plain.y[comp, 0])
    # the tie-break makes the rule seed-dependent
    assert not torch.equal(idnn_task(seed=0).y, idnn_task(seed=1).y)


def test_batch_iterator_epochs_and_seed():
    batches = list(batch_indices(10, 3, epochs=2, seed=5))
    assert len(batches) == 6 and all(b.numel() == 3 for b in batches)
    for e in range(2):
        seen = torch.cat(batches[3 * e:3 * e + 3])
        assert seen.unique().numel() == 9
    again = list(batch_indices(10, 3, epochs=2, seed=5))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    other = list(batch_indices(10, 3, epochs=2, seed=6))
    assert not all(torch.equal(a, b) for a, b in zip(batches, other, strict=True))
    full = list(batch_indices(10, 3, drop_last=False, shuffle=False))
    assert [b.tolist() for b in full][-1] == [9]
    ds = sphere_inputs(10, 2, seed=0)
    xb, yb = next(minibatches(ds, 3, seed=5))
    assert torch.equal(xb, ds.x[batches[0]]) and torch.equal(yb, ds.y[batches[0]])


@pytest.mark.parametrize("call,word", [
    (lambda: list(batch_indices(5, 6)), "batch_size"),
    (lambda: list(batch_indices(5, 0)), "batch_size"),
    (lambda: list(batch_indices(5, 2, epochs=0)), "epochs"),
    (lambda: sphere_inputs(0, 3), "n"),
    (lambda: sphere_inputs(5, 3, labels="poisson"), "labels"),
    (lambda: sphere_inputs(5, 3, seed=-1), "seed"),
    (lambda: teacher_dataset(5, 3, activation="gelu"), "activation"),
    (lambda: teacher_dataset(5, 3, noise=-1.0), "noise"),
    (lambda: Dataset(torch.zeros(3, 2), torch.zeros(4, 1)), "same number"),
    (lambda: list(minibatches(sphere_inputs(4, 2), 5)), "batch_size"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_as_dataset():
    ds = as_dataset((torch.zeros(4, 2, dtype=torch.float64), torch.ones(4)))
    assert ds.y.shape == (4, 1) and ds.y.dtype == torch.float64
    with pytest.raises(TypeError):
        as_dataset(torch.zeros(3))
