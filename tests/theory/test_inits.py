"""Tests for flatstart.theory.inits: formulas, torch semantics (empirical), argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from flatstart.theory.inits import INITS, weight_law, weight_spec, weight_variance

torch = pytest.importorskip("torch")

ALPHA = 0.01

# (init, fan_in, fan_out, expected variance)
FORMULAS = [
    ("xavier_normal", 3, 5, 2 / 8),
    ("xavier_uniform", 3, 5, 2 / 8),
    ("he_normal", 3, 5, 2 / 3),
    ("he_uniform", 3, 5, 2 / 3),
    ("lecun_normal", 4, 9, 1 / 4),
    ("lecun_uniform", 4, 9, 1 / 4),
    ("torch_default", 4, 9, 1 / 12),
    ("orthogonal", 4, 9, 1 / 9),
    ("orthogonal", 9, 4, 1 / 9),
    ("orthogonal", 6, 6, 1 / 6),
]


@pytest.mark.parametrize(("init", "fan_in", "fan_out", "expected"), FORMULAS)
def test_variance_formula(init: str, fan_in: int, fan_out: int, expected: float) -> None:
    got = weight_variance(init, fan_in, fan_out)
    assert math.isclose(got, expected, rel_tol=1e-15), (init, got, expected)


WIDTH1 = [
    ("xavier_normal", "normal", 1.0),
    ("he_normal", "normal", math.sqrt(2)),
    ("xavier_uniform", "uniform", math.sqrt(3)),
    ("torch_default", "uniform", 1.0),
    ("lecun_normal", "normal", 1.0),
]


@pytest.mark.parametrize(("init", "family", "scale"), WIDTH1)
def test_width_one_values(init: str, family: str, scale: float) -> None:
    spec = weight_spec(init, 1, 1)
    assert spec.family == family
    assert math.isclose(spec.scale, scale, rel_tol=1e-15), (spec, scale)


def test_gain_scales_std() -> None:
    assert math.isclose(weight_variance("xavier_normal", 3, 5, gain=2.0), 4 * 2 / 8)
    assert math.isclose(weight_spec("he_uniform", 6, 1, gain=0.5).scale, 0.5)


TORCH_FN = {
    "xavier_normal": lambda w: torch.nn.init.xavier_normal_(w),
    "xavier_uniform": lambda w: torch.nn.init.xavier_uniform_(w),
    "he_normal": lambda w: torch.nn.init.kaiming_normal_(w),
    "he_uniform": lambda w: torch.nn.init.kaiming_uniform_(w),
    "lecun_normal": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="linear"),
    "lecun_uniform": lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="linear"),
    "torch_default": lambda w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5)),
    "orthogonal": lambda w: torch.nn.init.orthogonal_(w),
}


def _torch_entries(init: str, fan_in: int, fan_out: int, reps: int) -> np.ndarray:
    g = torch.Generator().manual_seed(1234)
    out = []
    for _ in range(reps):
        w = torch.empty(fan_out, fan_in, dtype=torch.float64)
        TORCH_FN[init](w) if init != "orthogonal" else torch.nn.init.orthogonal_(w, generator=g)
        out.append(w.numpy().ravel().copy())
    return np.concatenate(out)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 500), (500, 300)])
def test_variance_matches_torch(init: str, fan_in: int, fan_out: int) -> None:
    """Empirical variance of torch's initializer vs the formula, with a mutant."""
    torch.manual_seed(0)
    x = _torch_entries(init, fan_in, fan_out, reps=1 if init != "orthogonal" else 2)
    n = x.size
    v = float(np.mean(x**2))  # mean is 0 for every scheme
    # CI for E[w^2] by CLT with the empirical fourth moment (light tails: normal/uniform/Haar)
    se = float(np.std(x**2)) / math.sqrt(n)
    z = stats.norm.ppf(1 - ALPHA / 2)
    pred = weight_variance(init, fan_in, fan_out)
    assert abs(v - pred) <= z * se, (init, v, pred, se)
    # mutant: fan-in and fan-out swapped (differs for every scheme on rectangles except xavier)
    mutant = weight_variance(init, fan_out, fan_in) if not init.startswith("xavier") else pred * 1.1
    if init == "orthogonal":
        mutant = pred * (fan_in + fan_out) / (2 * max(fan_in, fan_out))  # "1/mean fan" variant
    assert abs(v - mutant) > z * se, (init, v, mutant, se)


@pytest.mark.parametrize("init", ["xavier_uniform", "he_uniform", "lecun_uniform", "torch_default"])
def test_uniform_bound_matches_torch(init: str) -> None:
    torch.manual_seed(1)
    x = _torch_entries(init, 200, 100, reps=1)
    a = weight_spec(init, 200, 100).scale
    assert np.max(np.abs(x)) <= a * (1 + 1e-12)
    assert np.max(np.abs(x)) > a * 0.999  # 20000 draws come this close to the edge


def test_weight_law_objects() -> None:
    law = weight_law("he_normal", 1, 1)
    assert math.isclose(float(law.sigma), math.sqrt(2))
    law_u = weight_law("xavier_uniform", 1, 1)
    assert math.isclose(float(law_u.b), math.sqrt(3))
    assert math.isclose(float(law_u.a), -math.sqrt(3))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"init": "glorot", "fan_in": 1, "fan_out": 1}, "init"),
        ({"init": "he_normal", "fan_in": 0, "fan_out": 1}, "fan_in"),
        ({"init": "he_normal", "fan_in": 1, "fan_out": -2}, "fan_out"),
        ({"init": "he_normal", "fan_in": 1, "fan_out": 1, "gain": 0.0}, "gain"),
    ],
)
def test_bad_input(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        weight_variance(**kwargs)


def test_orthogonal_has_no_iid_law() -> None:
    with pytest.raises(ValueError, match="orthogonal"):
        weight_law("orthogonal", 4, 4)
