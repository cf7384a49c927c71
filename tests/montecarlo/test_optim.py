"""Batched optimizers vs torch.optim: identical float64 trajectories, batching, bad input."""

from __future__ import annotations

import pytest
import torch

from flatstart.montecarlo.optim import OPTIMIZERS, make_optimizer, torch_reference_optimizer

D = torch.float64



# (optimizer, lr, options) — every optimizer, with its options exercised.
CASES = [
    ("sgd", 0.05, {}),
    ("sgd", 0.05, {"weight_decay": 0.1}),
    ("sgd", 0.05, {"momentum": 0.9, "dampening": 0.3}),
    ("sgd", 0.05, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", 0.05, {"maximize": True}),
    ("momentum", 0.05, {}),
    ("nesterov", 0.05, {}),
    ("adam", 0.01, {}),
    ("adam", 0.01, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("adam", 0.01, {"amsgrad": True}),
    ("adam", 0.01, {"decoupled_weight_decay": True, "weight_decay": 0.05}),
    ("rmsprop", 0.01, {}),
    ("rmsprop", 0.01, {"alpha": 0.9, "eps": 1e-4, "weight_decay": 0.1}),
    ("rmsprop", 0.01, {"centered": True, "momentum": 0.5}),
    ("rmsprop", 0.01, {"momentum": 0.9}),
    ("adagrad", 0.05, {}),
    ("adagrad", 0.05, {"lr_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-6}),
    ("adagrad", 0.05, {"weight_decay": 0.1}),
]


def _loss(params: list[torch.Tensor]) -> torch.Tensor:
    """A nonconvex, non-separable loss per network: (count,)."""
    w, v = params
    h = torch.tanh(w @ v)  # (count, 3, 1)
    return (h.pow(2).sum(dim=(1, 2)) - 0.5).pow(2) + 0.1 * torch.log1p(w.pow(2)).sum(dim=(1, 2))


def _init(count: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(count, 3, 4, generator=g, dtype=D),
            torch.randn(count, 4, 1, generator=g, dtype=D)]


def _run_batched(name: str, lr, opts: dict, count: int, steps: int) -> list[torch.Tensor]:
    ps = _init(count)
    opt = make_optimizer(name, ps, lr, **opts)
    for _ in range(steps):
        leaves = [p.detach().requires_grad_(True) for p in ps]
        grads = torch.autograd.grad(_loss(leaves).sum(), leaves)
        opt.step(list(grads))
    return ps


def _run_torch(name: str, lr: float, opts: dict, k: int, steps: int) -> list[torch.Tensor]:
    leaves = [p[k:k + 1].clone().requires_grad_(True) for p in _init(3)]
    opt = torch_reference_optimizer(name, leaves, lr, **opts)
    for _ in range(steps):
        opt.zero_grad()
        _loss(leaves).sum().backward()
        opt.step()
    return [p.detach() for p in leaves]


@pytest.mark.parametrize("name,lr,opts", CASES)
def test_identical_to_torch_optim(name, lr, opts):
    mine = _run_batched(name, lr, opts, 3, 25)
    for k in range(3):
        ref = _run_torch(name, lr, opts, k, 25)
        for a, b in zip(mine, ref, strict=True):
            err = (a[k] - b[0]).abs().max().item()
            scale = b.abs().max().item()
            assert err <= 1e-14 * max(1.0, scale), (name, opts, k, err, a[k], b[0])


def test_trajectory_not_trivially_equal():
    # the check above must be able to fail: a different hyperparameter changes the trajectory
    a = _run_batched("adam", 0.01, {}, 3, 25)
    b = _run_batched("adam", 0.01, {"eps": 1e-3}, 3, 25)
    assert (a[0] - b[0]).abs().max() > 1e-8


@pytest.mark.parametrize("name,lr,opts", [c for c in CASES if not c[2].get("maximize")][::2])
def test_per_network_lr_equals_separate_runs(name, lr, opts):
    lrs = torch.tensor([lr, lr / 2, lr * 1.5], dtype=D)
    mine = _run_batched(name, lrs, opts, 3, 15)
    for k in range(3):
        one = _run_batched(name, float(lrs[k]), opts, 3, 15)
        for a, b in zip(mine, one, strict=True):
            assert torch.allclose(a[k], b[k], rtol=1e-13, atol=1e-14), (name, k)


def test_torch_defaults():
    p = [torch.zeros(2, 3, dtype=D)]
    assert make_optimizer("sgd", p).lr == 1e-3
    a = make_optimizer("adam", p)
    assert (a.lr, a.beta1, a.beta2, a.eps) == (1e-3, 0.9, 0.999, 1e-8)
    r = make_optimizer("rmsprop", p)
    assert (r.lr, r.alpha, r.eps) == (1e-2, 0.99, 1e-8)
    g = make_optimizer("adagrad", p)
    assert (g.lr, g.eps, float(g.state_sum[0].max())) == (1e-2, 1e-10, 0.0)
    assert make_optimizer("momentum", p).momentum == 0.9
    assert make_optimizer("nesterov", p).nesterov is True
    assert set(OPTIMIZERS) >= {"sgd", "momentum", "adam", "rmsprop", "adagrad"}


BAD = [
    (("lbfgs", 0.1, {}), ValueError, "optimizer"),
    (("sgd", 0.0, {}), ValueError, "lr"),
    (("sgd", -1.0, {}), ValueError, "lr"),
    (("sgd", float("nan"), {}), ValueError, "lr"),
    (("sgd", torch.tensor([0.1, -0.1, 0.1], dtype=D), {}), ValueError, "lr"),
    (("sgd", torch.tensor([0.1, 0.1], dtype=D), {}), ValueError, "lr"),
    (("sgd", 0.1, {"nesterov": True}), ValueError, "nesterov"),
    (("sgd", 0.1, {"momentum": -0.5}), ValueError, "momentum"),
    (("momentum", 0.1, {"momentum": 0.0}), ValueError, "momentum"),
    (("adam", 0.1, {"betas": (1.0, 0.9)}), ValueError, "betas"),
    (("adam", 0.1, {"betas": (0.9,)}), ValueError, "betas"),
    (("adam", 0.1, {"eps": -1.0}), ValueError, "eps"),
    (("rmsprop", 0.1, {"alpha": -0.1}), ValueError, "alpha"),
    (("adagrad", 0.1, {"initial_accumulator_value": -1.0}), ValueError, "initial_accumulator"),
    (("sgd", 0.1, {"weight_decay": -1.0}), ValueError, "weight_decay"),
    (("adam", 0.1, {"bogus": 1}), TypeError, "bogus"),
]


@pytest.mark.parametrize("args,exc,word", BAD)
def test_bad_input(args, exc, word):
    name, lr, opts = args
    with pytest.raises(exc, match=word):
        make_optimizer(name, [torch.zeros(3, 2, dtype=D)], lr, **opts)


def test_bad_params_and_grads():
    with pytest.raises(ValueError, match="params"):
        make_optimizer("sgd", [], 0.1)
    with pytest.raises(ValueError, match="leading"):
        make_optimizer("sgd", [torch.zeros(3, 2), torch.zeros(2, 2)], 0.1)
    opt = make_optimizer("sgd", [torch.zeros(3, 2, dtype=D)], 0.1)
    with pytest.raises(ValueError, match="grads"):
        opt.step([torch.zeros(3, 3, dtype=D)])
