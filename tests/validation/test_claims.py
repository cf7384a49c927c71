"""Claim type, registry, verdict logic, Result JSON, calibration (with the toy claims)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import flatstart.validation.catalogue._demo as demo
from flatstart.validation import claims as claims_fn
from flatstart.validation.claims import (
    Claim,
    Result,
    by_budget,
    calibrate,
    get,
    register,
    unregister,
    verify,
    verify_all,
)
from flatstart.validation.grid import expand_grid, grid_for, product_grid
from flatstart.validation.records import point_seed
from flatstart.validation.run import _apply_run_holm
from flatstart.validation.stats import TestOutcome

SEED = 1  # at seed 0, DEMO.normal-cdf's first point has p = 0.0033: a legitimate false alarm

VERDICT_CASES = [
    ("DEMO.normal-mean", "consistent"),
    ("DEMO.normal-cdf", "consistent"),
    ("DEMO.wrong-mean", "refuted"),
    ("DEMO.weak-mutant", "underpowered"),
    ("DEMO.broken", "error"),
]


@pytest.mark.parametrize(("claim_id", "verdict"), VERDICT_CASES)
def test_demo_verdicts(claim_id: str, verdict: str) -> None:
    r = verify(claim_id, seed=SEED, cache=False)
    assert r.verdict == verdict, (r.verdict, r.p_value, r.mutant_p_value, r.error)
    assert r.seed == SEED and r.budget == "quick" and r.alpha == 0.01
    assert set(r.versions) == {"flatstart", "torch", "numpy", "scipy", "sympy", "mpmath",
                               "python"}
    if verdict == "error":
        assert r.error is not None and "simulated failure" in r.error
    else:
        assert r.error is None
        assert len(r.parameters) == len(get(claim_id).grid("quick")) == len(r.details["points"])
        assert 0.0 <= r.p_value <= 1.0


def test_mutant_of_true_claim_is_rejected_and_mutant_of_weak_one_is_not() -> None:
    ok = verify("DEMO.normal-mean", seed=SEED, cache=False)
    weak = verify("DEMO.weak-mutant", seed=SEED, cache=False)
    assert ok.mutant_rejected is True and ok.mutant_p_value <= ok.alpha
    assert weak.mutant_rejected is False and weak.p_value > weak.alpha
    assert weak.verdict != "consistent"  # never "consistent" when the mutant survives


def test_holm_combination_within_claim() -> None:
    r = verify("DEMO.normal-mean", seed=SEED, cache=False)
    ps = [pt["outcome"]["p_value"] for pt in r.details["points"]]
    assert r.p_value == pytest.approx(min(1.0, len(ps) * min(ps)), rel=1e-12)
    assert r.n == sum(pt["outcome"]["n"] for pt in r.details["points"])


def test_error_does_not_stop_the_run() -> None:
    rs = verify_all(["DEMO.broken", "DEMO.normal-mean"], seed=SEED, cache=False)
    assert [r.id for r in rs] == ["DEMO.broken", "DEMO.normal-mean"]
    assert [r.verdict for r in rs] == ["error", "consistent"]


def test_result_json_round_trip() -> None:
    for cid in ("DEMO.normal-cdf", "DEMO.broken"):
        r = verify(cid, seed=SEED, cache=False)
        text = r.to_json()
        back = Result.from_json(text)
        assert back == Result.from_dict(json.loads(text))
        assert back.to_dict() == r.to_dict()
        assert back.verdict == r.verdict and back.p_value == r.p_value


def test_result_json_has_required_keys_and_no_nan() -> None:
    r = verify("DEMO.broken", seed=SEED, cache=False)
    d = json.loads(r.to_json())  # allow_nan=False inside: would raise on NaN
    for key in ("id", "verdict", "statistic", "p_value", "alpha", "n", "seed", "budget",
                "parameters", "mutant_rejected", "mutant_p_value", "seconds", "versions",
                "prediction", "measured", "details", "error"):
        assert key in d, key


def test_run_level_holm() -> None:
    def res(cid: str, p: float, verdict: str) -> Result:
        return Result(id=cid, verdict=verdict, statistic=1.0, p_value=p, alpha=0.01, n=10,
                      seed=0, budget="quick", parameters=[], mutant_rejected=True,
                      mutant_p_value=0.0, seconds=0.0, versions={})

    rs = [res("A.x", 0.006, "refuted"), res("A.y", 0.5, "consistent"),
          res("A.z", 1e-6, "refuted")]
    _apply_run_holm(rs)
    # the claim's own verdict is never overwritten; the run-wide one sits beside it
    assert [r.verdict for r in rs] == ["refuted", "consistent", "refuted"]
    assert [r.run_verdict for r in rs] == ["consistent", "consistent", "refuted"]
    assert rs[0].run_p_value == pytest.approx(0.012)  # rank 2 of 3: 2 * 0.006
    assert rs[0].details["claim_verdict"] == "refuted"
    assert rs[0].details["run_verdict"] == "consistent"
    assert rs[0].verdict_text == "refuted (run: consistent)"
    assert rs[1].verdict_text == "consistent"
    from flatstart.validation.report import summary_table

    table = summary_table(rs)
    assert "refuted (run: consistent)" in table
    assert "not after Holm across the run: A.x" in table
    assert json.loads(rs[0].to_json())["run_verdict"] == "consistent"


def test_calibration_of_a_true_claim_and_of_a_false_one() -> None:
    cal = calibrate("DEMO.normal-mean", reps=60, seed=100)
    assert cal.ok, cal
    assert cal.reps == 60 and 0.0 <= cal.ci[0] <= cal.rate <= cal.ci[1]
    bad = calibrate("DEMO.wrong-mean", reps=10, seed=100)  # the mutant of calibration
    assert not bad.ok and bad.rejections == 10, bad


# --------------------------------------------------------------------------- registry

def test_registry_lists_summaries() -> None:
    items = {c["id"]: c for c in claims_fn(family="DEMO")}
    assert set(demo.DEMO_IDS) <= set(items)
    for key in ("id", "title", "source", "statement", "family"):
        assert key in items["DEMO.normal-mean"]
    with pytest.raises(KeyError, match="known ids"):
        get("VC.no-such-claim")
    with pytest.raises(ValueError, match="unknown claim id"):
        verify_all(["VC.no-such-claim"], cache=False)
    with pytest.raises(ValueError, match="family"):
        claims_fn(family="XX")


def _c(**kw) -> Claim:
    base = dict(id="DEMO.t", title="t", family="DEMO", source="derived", statement="s",
                predict=demo.predict_mean, simulate=demo.simulate_normal, test=demo.check_mean,
                mutant=demo.mutant_mean, grids={"quick": [{"mu": 0.0, "sigma": 1.0}]})
    base.update(kw)
    return Claim(**base)


BAD_CLAIMS = [
    ({"id": "nodot"}, "FAMILY.short-name"),
    ({"id": "VC.x"}, "must start with its family"),
    ({"family": "ZZ", "id": "ZZ.x"}, "family must be one of"),
    ({"grids": {"full": [{}]}}, "quick"),
    ({"grids": {"quick": [{}], "huge": [{}]}}, "grid budgets"),
    ({"kind": "vibes"}, "kind"),
    ({"alpha": 2.0}, "alpha"),
    ({"predict": 3}, "predict must be callable"),
]


@pytest.mark.parametrize(("kw", "msg"), BAD_CLAIMS)
def test_claim_validation(kw: dict, msg: str) -> None:
    with pytest.raises((ValueError, TypeError), match=msg):
        _c(**kw)


def test_register_conflict_from_other_module() -> None:
    other = dataclasses.replace(_c(id="DEMO.normal-mean"), predict=lambda p: 0.0)
    with pytest.raises(ValueError, match="already registered"):
        register(other)
    same = register(_c(id="DEMO.tmp-claim"))
    register(same)  # re-registering from the same module replaces it
    unregister("DEMO.tmp-claim")


def test_bad_run_arguments() -> None:
    with pytest.raises(ValueError, match="budget"):
        verify("DEMO.normal-mean", budget="huge", cache=False)
    with pytest.raises(ValueError, match="device"):
        verify("DEMO.normal-mean", device="tpu", cache=False)
    with pytest.raises(ValueError, match="seed"):
        verify("DEMO.normal-mean", seed=-1, cache=False)


def test_test_must_return_outcome() -> None:
    def bad_test(pred, meas, alpha):  # noqa: ARG001
        return 0.5

    claim = register(_c(id="DEMO.bad-test", test=bad_test))
    try:
        r = verify(claim.id, cache=False)
        assert r.verdict == "error" and "TestOutcome" in (r.error or "")
    finally:
        unregister(claim.id)


# --------------------------------------------------------------------------- grids and seeds

def test_grids_and_budgets() -> None:
    assert product_grid(a=[1, 2], b=["x"]) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert expand_grid({"a": [1, 2]}) == [{"a": 1}, {"a": 2}]
    g = {"quick": [{"n": 1}], "full": [{"n": 3}]}
    assert grid_for(g, "standard") == [{"n": 1}] and grid_for(g, "full") == [{"n": 3}]
    assert by_budget("standard", 1, None, 3) == 1 and by_budget("full", 1, 2) == 2
    with pytest.raises(ValueError, match="budget"):
        grid_for(g, "huge")


def test_point_seeds_depend_on_seed_claim_params_not_order() -> None:
    a = point_seed(0, "DEMO.x", {"n": 1, "m": 2})
    assert a == point_seed(0, "DEMO.x", {"m": 2, "n": 1})
    others = {point_seed(1, "DEMO.x", {"n": 1, "m": 2}), point_seed(0, "DEMO.y", {"n": 1, "m": 2}),
              point_seed(0, "DEMO.x", {"n": 2, "m": 2})}
    assert a not in others and len(others) == 3
    assert 0 <= a < 2**63


def test_same_seed_same_result() -> None:
    r1 = verify("DEMO.normal-cdf", seed=3, cache=False)
    r2 = verify("DEMO.normal-cdf", seed=3, cache=False)
    r3 = verify("DEMO.normal-cdf", seed=4, cache=False)
    assert r1.p_value == r2.p_value and r1.statistic == r2.statistic
    assert r1.p_value != r3.p_value


def test_outcome_dict_round_trip() -> None:
    o = TestOutcome(1.5, 0.25, False, 10, {"ci": [0.0, 1.0]})
    assert TestOutcome.from_dict(o.to_dict()) == o
    assert np.isclose(o.p_value, 0.25)


def test_verify_accepts_a_claim_object() -> None:
    claim = _c(id="DEMO.user-claim")
    try:
        r = verify(claim, seed=SEED, cache=False)
        assert r.id == "DEMO.user-claim" and r.verdict == "consistent", r
    finally:
        unregister(claim.id)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["DEMO.normal-mean", "DEMO.normal-cdf"])
def test_calibration_many_reps(claim_id: str) -> None:
    cal = calibrate(claim_id, reps=400, seed=1000)
    assert cal.ok, cal


def test_design_alias_resolves_to_catalogue_id() -> None:
    """The API example's id ``VC.median-vs-mean`` names the catalogue's ``VC.mean-vs-median``."""
    from flatstart.validation.claims import ALIASES, get, select

    assert ALIASES["VC.median-vs-mean"] == "VC.mean-vs-median"
    assert get("VC.median-vs-mean").id == "VC.mean-vs-median"
    assert [c.id for c in select(["VC.median-vs-mean"])] == ["VC.mean-vs-median"]
