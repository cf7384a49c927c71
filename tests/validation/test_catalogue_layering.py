"""No claim's Monte Carlo side reaches a theory formula (the check would be circular)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.validation._layering import reaches_theory
from theory.noise import b_simple
from validation.claims import get, ids


@pytest.mark.parametrize("claim_id", ids())
def test_simulate_never_uses_theory(claim_id: str) -> None:
    assert reaches_theory(get(claim_id).simulate) == [], f"{claim_id}.simulate reaches theory"


def _helper(x: float) -> float:
    return b_simple(x, 1.0)


def _bad_simulate(params: Any, seed: int, device: str, budget: str) -> float:
    return _helper(1.0)


def test_the_check_can_fail() -> None:
    """A simulate that reaches a theory function through a same-module helper is caught."""
    assert reaches_theory(_bad_simulate) == ["b_simple"]
