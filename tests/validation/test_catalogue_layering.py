"""No claim's Monte Carlo side reaches a theory formula (the check would be circular).

Two passes (:mod:`flatstart.validation.layering`): a static one over names and module constants, and
the profiler that ``run_point`` wraps around every ``simulate`` (any theory frame is an error). The
five bypasses a reviewer planted are each caught.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from flatstart.theory.noise import b_simple
from flatstart.validation import stats
from flatstart.validation.claims import Claim, register, unregister, verify
from flatstart.validation.layering import check_simulate, static_violations, traced_violations
from tests.validation import _bypass_helper


# ------------------------------------------------------------------- the five bypasses
def _sim_local_import(params: Any, seed: int, device: str, budget: str) -> float:
    from flatstart.theory.noise import b_simple as bs

    return float(bs(2.0, 1.0))


def _sim_other_module(params: Any, seed: int, device: str, budget: str) -> float:
    return _bypass_helper.helper(2.0)


def _make_closure() -> Any:
    f = b_simple

    def sim(params: Any, seed: int, device: str, budget: str) -> float:
        return float(f(2.0, 1.0))

    return sim


_sim_closure = _make_closure()


class _Measurer:
    def measure(self) -> float:
        import importlib

        return float(importlib.import_module("flatstart.theory.noise").b_simple(2.0, 1.0))


_MEASURER = _Measurer()


def _sim_method(params: Any, seed: int, device: str, budget: str) -> float:
    return _MEASURER.measure()


_FROM_THEORY = b_simple(2.0, 1.0) * math.pi


def _sim_constant(params: Any, seed: int, device: str, budget: str) -> float:
    return _FROM_THEORY


def _sim_clean(params: Any, seed: int, device: str, budget: str) -> float:
    return 2.0 * math.pi


BYPASSES = {
    "local import": _sim_local_import,
    "helper in another module": _sim_other_module,
    "closure": _sim_closure,
    "method": _sim_method,
    "module constant": _sim_constant,
}


@pytest.mark.parametrize("name", list(BYPASSES))
def test_every_bypass_is_caught(name: str) -> None:
    sim = BYPASSES[name]
    with pytest.raises(AssertionError, match="theory"):
        check_simulate(sim, {}, label=name)


def test_which_pass_catches_which() -> None:
    assert static_violations(_sim_local_import) == ["import flatstart.theory.noise"]
    assert static_violations(_sim_closure) == ["b_simple (closure)"]
    assert static_violations(_sim_constant) == ["_FROM_THEORY (computed from theory)"]
    for sim in (_sim_other_module, _sim_method, _sim_local_import, _sim_closure):
        _, ran = traced_violations(sim, {})
        assert "flatstart.theory.noise.b_simple" in ran
    assert static_violations(_sim_clean) == [] and traced_violations(_sim_clean, {})[1] == []


def _predict(p: dict[str, Any]) -> float:
    return 1.0


def _test(pred: float, meas: float, alpha: float) -> stats.TestOutcome:
    return stats.identity_test(meas, pred, rtol=1e-9, alpha=alpha)


def test_run_point_guard_makes_a_bypass_an_error() -> None:
    """verify runs every simulate under the profiler: a bypass is an "error" verdict."""
    claim = register(Claim(
        id="DEMO.bypass", title="bypass", family="DEMO", source="test", statement="bypass",
        predict=_predict, simulate=_sim_other_module, test=_test, mutant=_predict,
        grids={"quick": [{"n": 1}]},
    ))
    try:
        r = verify(claim.id, cache=False)
    finally:
        unregister(claim.id)
    assert r.verdict == "error" and "LayeringError" in (r.error or "")
    assert "flatstart.theory.noise.b_simple" in (r.error or "")
