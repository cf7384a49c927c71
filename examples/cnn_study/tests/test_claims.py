"""cnnstudy's tests. Run from examples/cnn_study with ``pytest`` (package installed, or
``PYTHONPATH=src``).

flatstart's pytest plugin adds one more test per claim of ``cnnstudy.claims`` (the
``--flatstart-claims`` option in ``pyproject.toml``): ``CNN.he-second-moment`` passes when its
verdict is "consistent" and its mutant (a constant 10 % too large) is rejected. The tests
below check what that claim rests on: the derivation's exact steps, the network's
initialization, the quantity, the layering, and that a 10 % wrong bound is refuted.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from flatstart.validation.layering import static_violations
from flatstart.validation.toolkit import QUANTITIES, check_bound

from cnnstudy import claims, quantities, theory
from cnnstudy.networks import cnn


def test_every_pixel_lies_in_nine_circular_patches() -> None:
    """The step of eq. (10) for a convolution: with circular padding the patches' squared
    norms sum to 9 ||x||^2 exactly, so the mean over positions of E[y^2] is n_l Var[w] E[x^2]."""
    x = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    patches = F.unfold(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel_size=3)
    assert torch.allclose((patches ** 2).sum(dim=(1, 2)), 9 * (x ** 2).sum(dim=(1, 2, 3)),
                          rtol=1e-12, atol=0)


def test_theory_is_he_equation_10() -> None:
    assert theory.output_second_moment(3) == 2.0
    assert math.isclose(theory.output_second_moment(3, gain=0.8, x=2.0), 8 * 0.8 ** 4)
    # eq. (10) with explicit layer gains a_l = n_l Var[w_l]: the first is not halved
    assert theory.he_gain_product(1.0, [2.0, 4.0]) == 4.0
    with pytest.raises(ValueError, match="depth must be an integer >= 0"):
        theory.output_second_moment(-1)
    with pytest.raises(ValueError, match="gain must be a finite number > 0"):
        theory.output_second_moment(2, gain=0.0)


def test_network_is_seeded_and_he_initialized() -> None:
    a, b, c = cnn(7, depth=2, channels=64), cnn(7, depth=2, channels=64), cnn(8, depth=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[0].weight, c[0].weight)
    w = a[2].weight.detach()                          # 64 x 64 x 3 x 3, fan-in 576
    assert abs(float(w.var()) * 576 / 2 - 1) < 0.03   # Var[w] = 2 / fan_in
    assert all(p.ndim > 1 for p in a.parameters())    # no biases
    with pytest.raises(ValueError, match="image must be an integer >= 3"):
        cnn(0, image=2)


def test_quantity_is_registered_and_measures_the_mean_square() -> None:
    assert quantities.NAME in QUANTITIES
    net = cnn(0, depth=2)
    x = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    q = quantities.output_second_moment(net, dict(net.named_parameters()), (x, None))
    assert torch.allclose(q, (net(x) ** 2).mean())


def test_simulate_never_uses_the_theory() -> None:
    assert claims.THEORY_MODULES == ["cnnstudy.theory"]
    assert static_violations(claims.simulate, claims.THEORY_MODULES) == []


def test_a_bound_10_percent_too_small_is_refuted() -> None:
    """The check can fail: eq. (10) times 0.9 is violated on 1000 CNNs."""
    res = check_bound(lambda depth, gain, x: 0.9 * theory.output_second_moment(depth, gain, x),
                      quantities.register(), "mean", {"depth": [2]},
                      claims.network({"depth": 2, "gain": 1.0}), samples=1000)
    assert res.holds is False
    assert res.failures[0]["params"]["depth"] == 2
