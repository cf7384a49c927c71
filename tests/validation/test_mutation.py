"""The mutation engine plants faults, restores the code, and tells detected from equivalent."""

from __future__ import annotations

import pytest

from flatstart.theory.chains import NeuralChain
from flatstart.validation.claims import get
from flatstart.validation.mutation import (
    Fault,
    applied,
    automatic_faults,
    baseline,
    changed,
    evaluate,
    function_object,
    mutated_code,
    numbers,
)

TARGET = "flatstart.theory.laws.law.Law.median"
FAULT = Fault(TARGET, "median at the 0.55 quantile", old="quantile(0.5,", new="quantile(0.55,")


def _median() -> float:
    return float(NeuralChain(5, sigma=1.3).median_abs_output())


def test_applied_swaps_code_and_restores_it() -> None:
    fn = function_object(TARGET)
    original = fn.__code__
    before = _median()
    with applied(FAULT):
        assert fn.__code__ is not original
        assert _median() > 1.01 * before  # every reference runs the faulty code
    assert fn.__code__ is original and _median() == before


def test_a_curated_fault_must_match_once() -> None:
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutated_code(Fault(TARGET, "absent", old="no such text", new="x"))


def test_automatic_faults_are_deterministic_and_compile() -> None:
    a = automatic_faults("flatstart.theory.noise.b_simple", limit=None)
    assert a == automatic_faults("flatstart.theory.noise.b_simple", limit=None) and a
    for f in a:
        mutated_code(f)


@pytest.fixture(scope="module")
def chain_baseline():
    return baseline(get("VC.mean-vs-median"), "quick")


def test_a_real_fault_is_detected(chain_baseline) -> None:
    assert not chain_baseline.refuted and TARGET in chain_baseline.reached
    res = evaluate(FAULT, [chain_baseline])
    assert res.changed and res.detected_by == "VC.mean-vs-median" and res.how == "refuted"


def test_an_equivalent_fault_is_not_counted(chain_baseline) -> None:
    # a fault in a function the claim does not reach changes nothing for it
    res = evaluate(Fault("flatstart.theory.noise.b_simple", "x", site=0, kind="automatic"),
                   [chain_baseline])
    assert res.claims == [] and not res.changed and not res.detected


def test_numbers_and_changed() -> None:
    import numpy as np

    assert numbers({"b": [1, 2.5], "a": np.arange(2)}) == [0.0, 1.0, 1.0, 2.5]
    assert not changed([1.0, float("nan")], [1.0 + 1e-9, float("nan")])
    assert changed([1.0], [float("nan")]) and changed([0.0], [1e-300])


def test_memo_hits_do_not_count_as_changes(chain_baseline) -> None:
    # the truth observed with cold memos and with warm ones: calls spared by lru_cache are not
    # compared, the calls made in both runs agree, so nothing "changed"
    from flatstart.validation.mutation import _clear_caches, _observe, values_changed

    claim, p, m = chain_baseline.claim, chain_baseline.params[0], chain_baseline.measurements[0]
    _clear_caches()
    cold, _, _ = _observe(claim, p, m)
    warm, _, _ = _observe(claim, p, m)
    assert cold and not values_changed(cold, warm)
    with applied(FAULT):
        faulty, _, _ = _observe(claim, p, m)
    assert values_changed(cold, faulty) and values_changed(warm, faulty)


def test_private_state_of_theory_objects_is_not_a_prediction() -> None:
    class Obj:
        __module__ = "flatstart.theory.fake"

        def __init__(self) -> None:
            self.value, self._grid = 1.0, [5.0, 6.0]

    assert numbers(Obj()) == [1.0]
