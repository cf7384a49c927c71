"""The strategies of flatstart.validation.strategies generate valid objects."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from flatstart.montecarlo.networks import chains, mlps
from flatstart.theory.confusion import QuadraticFiniteSum
from flatstart.theory.inits import INITS
from flatstart.theory.laws import Law
from flatstart.theory.products import Product
from flatstart.validation import strategies as S


@settings(max_examples=20)
@given(S.factor_laws())
def test_factor_laws_construct_and_sample(law):
    assert isinstance(law, Law)
    x = law.sample(50, seed=0)
    assert x.shape == (50,) and np.all(np.isfinite(x))
    assert float(law.moment(1)) > 0


@settings(max_examples=10)
@given(S.products(max_factors=3))
def test_products_construct(p):
    assert isinstance(p, Product)
    m = float(p.abs().moment(1))
    assert math.isfinite(m) and m > 0
    x = p.sample(20, seed=1)
    assert np.all(np.isfinite(x))


@given(S.init_schemes())
def test_init_schemes(name):
    assert name in INITS


@settings(max_examples=20)
@given(S.chain_architectures(max_depth=6))
def test_chain_architectures_build(arch):
    nets = chains(count=3, seed=0, **arch)
    out = nets(torch.ones(1, 1, dtype=torch.float64))
    assert out.shape == (3, 1, 1) and torch.all(torch.isfinite(out))


@settings(max_examples=20)
@given(S.mlp_architectures(max_depth=3, max_width=6))
def test_mlp_architectures_build(arch):
    nets = mlps(count=2, seed=0, **arch)
    x = torch.ones(2, arch["input_dim"], dtype=torch.float64)
    out = nets(x)
    assert out.shape[:2] == (2, 2) and torch.all(torch.isfinite(out))


@settings(max_examples=10)
@given(S.mlp_architectures(max_depth=3, max_width=4, with_kind=True))
def test_with_kind_is_a_network_dict(arch):
    from flatstart.validation.toolkit import NETWORK_KEYS

    assert arch["kind"] == "mlp" and set(arch) <= set(NETWORK_KEYS)


@given(S.seeds())
def test_seeds_valid_for_generators(seed):
    torch.Generator().manual_seed(seed)
    np.random.default_rng(seed)


@settings(max_examples=15)
@given(S.datasets(max_n=8, max_dim=3))
def test_datasets_shapes(data):
    x, y = data
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert x.ndim == 2 and y.shape == (x.shape[0], 1) and 2 <= x.shape[0] <= 8
    assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 3)


@settings(max_examples=15)
@given(S.quadratic_finite_sums())
def test_quadratic_finite_sums(prob):
    assert isinstance(prob, QuadraticFiniteSum)
    assert 0 < prob.pl_constant <= prob.smoothness
    assert prob.gap(prob.minimizer) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=15)
@given(S.sgd_runs())
def test_sgd_runs_step_size_in_theorem_range(run):
    prob = run["problem"]
    assert 0 < run["alpha"] < 2 / (prob.n * prob.smoothness)
    assert run["w1"].shape == (prob.a.shape[1],) and run["T"] >= 1


@pytest.mark.parametrize(
    ("factory", "kwargs", "name"),
    [
        (S.factor_laws, {"kinds": ("cauchy",)}, "kinds"),
        (S.products, {"max_factors": 0}, "max_factors"),
        (S.chain_architectures, {"max_depth": 0}, "max_depth"),
        (S.mlp_architectures, {"max_width": 0}, "max_width"),
        (S.datasets, {"max_n": 1}, "max_n"),
    ],
)
def test_bad_arguments(factory, kwargs, name):
    with pytest.raises(ValueError, match=name):
        factory(**kwargs)
