"""Batched training vs a loop over networks; escape times vs a direct loop; censoring."""

from __future__ import annotations

import math

import pytest
import torch

from flatstart.montecarlo.data import teacher_dataset
from flatstart.montecarlo.networks import chains, mlps
from flatstart.montecarlo.training import (
    EscapeResult,
    censored_median,
    escape_times,
    escape_times_reference,
    summarize_escape,
    train,
    train_reference,
)

D = torch.float64




@pytest.fixture(scope="module")
def data():
    return teacher_dataset(24, 3, width=6, seed=1, noise=0.1)


NETS = [
    lambda: mlps(3, 6, 3, input_dim=3, output_dim=1, activation="tanh", bias=True, seed=0),
    lambda: mlps(3, 5, 3, input_dim=3, output_dim=2, activation="relu", norm="layer", seed=1),
    lambda: mlps(2, 6, 3, input_dim=3, output_dim=1, norm="batch", seed=2),
]
RUNS = [
    ("sgd", 0.05, {}),
    ("nesterov", 0.02, {"weight_decay": 0.01}),
    ("adam", 0.01, {"amsgrad": True}),
    ("rmsprop", 0.005, {"centered": True}),
    ("adagrad", 0.05, {}),
]


@pytest.mark.parametrize("make", NETS)
@pytest.mark.parametrize("name,lr,opts", RUNS)
def test_batched_equals_loop_with_torch_optim(make, name, lr, opts, data):
    nets = make()
    y = data.y if nets.output_dim == 1 else data.y.repeat(1, 2)
    ds = (data.x, y)
    h = train(nets, ds, name, lr, steps=12, batch_size=8, **opts)
    ref_losses, ref_params = train_reference(nets, ds, name, lr, steps=12, batch_size=8, **opts)
    assert torch.allclose(h.losses, ref_losses, rtol=1e-12, atol=1e-14), (h.losses, ref_losses)
    for a, b in zip(h.final_params, ref_params, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14), (a - b).abs().max()


def test_training_moves_and_leaves_nets_untouched(data):
    nets = NETS[0]()
    before = [p.clone() for p in nets.parameters()]
    h = train(nets, data, "adam", 0.02, steps=40, batch_size=8, record_every=10, full_loss=True)
    assert h.steps.tolist() == [0, 10, 20, 30]
    assert h.losses.shape == (4, 3) and h.grad_norms.shape == (4, 3)
    assert h.full_losses is not None and torch.allclose(h.full_losses[0], h.initial_loss)
    assert bool((h.final_loss < h.initial_loss).all())
    assert all(torch.equal(a, b) for a, b in zip(before, nets.parameters(), strict=True))


def test_per_network_lr(data):
    nets = NETS[0]()
    lrs = torch.tensor([0.01, 0.05, 0.1], dtype=D)
    h = train(nets, data, "sgd", lrs, steps=10, batch_size=8)
    for k in range(3):
        hk = train(nets, data, "sgd", float(lrs[k]), steps=10, batch_size=8)
        assert torch.allclose(h.final_params[0][k], hk.final_params[0][k], rtol=1e-12)


def test_seed_changes_batch_order(data):
    nets = NETS[0]()
    a = train(nets, data, "sgd", 0.05, steps=5, batch_size=8, seed=0)
    b = train(nets, data, "sgd", 0.05, steps=5, batch_size=8, seed=1)
    assert not torch.equal(a.final_params[0], b.final_params[0])


# ---------------------------------------------------------------- escape times
def _chain_data(y: float):
    return torch.ones(1, 1, dtype=D), torch.full((1, 1), y, dtype=D)


@pytest.mark.parametrize("name,lr,thr,cap,criterion,opts", [
    ("sgd", 0.1, 0.1, 200, "loss", {}),
    ("adam", 0.05, 0.1, 200, "loss", {}),
    ("rmsprop", 0.01, 0.1, 50, "loss", {}),       # cap small: some censored
    ("sgd", 0.1, 3.0, 100, "grad_norm", {}),
    ("momentum", 0.02, 0.1, 40, "loss", {}),
])
def test_escape_times_match_direct_loop(name, lr, thr, cap, criterion, opts):
    nets = chains(12, 4, init="xavier_normal", seed=3)
    data = _chain_data(1.0)
    r = escape_times(nets, data, name, lr, thr, cap, criterion, **opts)
    ref = escape_times_reference(nets, data, name, lr, thr, cap, criterion, **opts)
    assert torch.equal(r.times, ref.times), (r.times, ref.times)
    assert torch.equal(r.censored, ref.censored)
    assert bool((r.times[r.censored] == cap).all())
    assert r.depth == 4


def test_escape_time_exact_on_one_weight():
    # chain of depth 1, x = 1, y = 0: loss w^2, GD w_t = w_0 (1 - 2 lr)^t, so
    # T = min{t : w_0^2 (1-2lr)^{2t} < thr}
    nets = chains(5, 1, sigma=1.0, seed=0)
    w0 = nets.parameters()[0].reshape(-1).double()
    lr, thr = 0.05, 1e-3
    r = escape_times(nets, _chain_data(0.0), "sgd", lr, thr, 1000)
    expect = []
    for w in w0.tolist():
        t = 0
        while (w * (1 - 2 * lr) ** t) ** 2 >= thr:
            t += 1
        expect.append(t)
    assert r.times.tolist() == expect
    closed = [max(0, math.ceil(math.log(thr / w ** 2) / (2 * math.log(1 - 2 * lr))))
              for w in w0.tolist()]
    assert all(abs(a - b) <= 1 for a, b in zip(expect, closed, strict=True))
    # grad-norm criterion with maximize: |w| grows by (1 + 2 lr) per step
    g = escape_times(nets, _chain_data(0.0), "sgd", lr, 2.0, 1000, "grad_norm", maximize=True)
    assert g.times.tolist() == [math.ceil(math.log(2.0) / math.log(1 + 2 * lr))] * 5


def test_censoring_is_honest():
    nets = chains(6, 8, init="xavier_normal", seed=0)
    r = escape_times(nets, _chain_data(1.0), "sgd", 1e-4, 1e-6, 5)
    assert bool(r.censored.all()) and r.times.tolist() == [5] * 6 and r.count == 6
    row = summarize_escape([r])[0]
    assert row["median"] is None and row["median_str"] == "> 5" and row["censored"] == 6


def test_dead_relu_chains_never_escape_by_grad_norm():
    nets = chains(16, 3, activation="relu", init="he_normal", seed=0)
    data = _chain_data(1.0)
    r = escape_times(nets, data, "sgd", 0.1, 2.0, 30, "grad_norm")
    ref = escape_times_reference(nets, data, "sgd", 0.1, 2.0, 30, "grad_norm")
    w = torch.stack([p.reshape(-1) for p in nets.parameters()], dim=1)
    dead = (w[:, 0] <= 0) | (w[:, 1] <= 0)   # x = 1 > 0: alive iff w_1, w_2 > 0
    assert bool(dead.any())
    assert bool(r.censored[dead].all()) and torch.equal(r.censored, ref.censored)
    assert torch.equal(r.times, ref.times)


@pytest.mark.parametrize("times,cens,expect", [
    ([1, 2, 3], [False, False, False], (2.0, "2")),
    ([1, 2, 3, 4], [False, False, False, False], (2.5, "2.5")),
    ([1, 9, 9], [False, True, True], (None, "> 9")),
    ([1, 3, 9, 9], [False, False, True, True], (None, ">= 6")),
    ([9, 2, 9, 9], [True, False, True, False], (None, ">= 9")),
    ([9, 1, 9], [False, False, True], (9.0, "9")),   # an escape exactly at the cap is not
])                                                 # censored and sorts before censored ones
def test_censored_median(times, cens, expect):
    assert censored_median(torch.tensor(times), torch.tensor(cens), 9) == expect


def test_summarize_groups_by_depth_and_optimizer():
    mk = lambda d, o, t: EscapeResult(torch.tensor(t), torch.tensor([False] * len(t)), 50,  # noqa: E731
                                      "loss", 0.1, o, 0.1, depth=d)
    rows = summarize_escape([mk(2, "sgd", [1, 2]), mk(2, "sgd", [3]), mk(4, "adam", [7])])
    assert [(r["depth"], r["optimizer"], r["n"], r["median"]) for r in rows] == [
        (2, "sgd", 3, 2.0), (4, "adam", 1, 7.0)]
    with pytest.raises(ValueError, match="max_steps"):
        summarize_escape([mk(2, "sgd", [1]), EscapeResult(torch.tensor([1]), torch.tensor([False]),
                                                          9, "loss", 0.1, "sgd", 0.1, depth=2)])


@pytest.mark.parametrize("call,word", [
    (lambda n, d: train(n, d, "lbfgs", 0.1, 5), "optimizer"),
    (lambda n, d: train(n, d, "sgd", 0.0, 5), "lr"),
    (lambda n, d: train(n, d, "sgd", 0.1, 0), "steps"),
    (lambda n, d: train(n, d, "sgd", 0.1, 5, batch_size=100), "batch_size"),
    (lambda n, d: train(n, d, "sgd", 0.1, 5, loss="hinge"), "loss"),
    (lambda n, d: train(n, d, "sgd", 0.1, 5, record_every=0), "record_every"),
    (lambda n, d: escape_times(n, d, "sgd", 0.1, 0.1, 0), "max_steps"),
    (lambda n, d: escape_times(n, d, "sgd", 0.1, -1.0, 5), "threshold"),
    (lambda n, d: escape_times(n, d, "sgd", 0.1, 0.1, 5, "hessian"), "criterion"),
    (lambda n, d: escape_times(n, d, "sgd", 0.1, 1.0, 5, "grad_norm"), "threshold"),
    (lambda n, d: escape_times(n, d, "sgd", -0.1, 0.1, 5), "lr"),
])
def test_bad_input(call, word, data):
    with pytest.raises(ValueError, match=word):
        call(NETS[0](), data)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_matches_cpu():
    from flatstart.montecarlo.data import as_dataset
    nets_cpu = mlps(3, 6, 3, input_dim=3, output_dim=1, bias=True, seed=0)
    nets_gpu = mlps(3, 6, 3, input_dim=3, output_dim=1, bias=True, seed=0, device="cuda")
    ds = teacher_dataset(24, 3, seed=1)
    ds_gpu = as_dataset((ds.x.cuda(), ds.y.cuda()))
    a = train(nets_cpu, ds, "adam", 0.01, steps=20, batch_size=8)
    b = train(nets_gpu, ds_gpu, "adam", torch.full((3,), 0.01, dtype=D, device="cuda"),
              steps=20, batch_size=8)
    for p, q in zip(a.final_params, b.final_params, strict=True):
        assert torch.allclose(p, q.cpu(), rtol=1e-10, atol=1e-12)
    r = escape_times(nets_gpu, ds_gpu, "sgd", 0.05, 0.5, 50)
    assert r.times.device.type == "cpu" and r.times.shape == (3,)
