"""Resolution: the smallest relative error of a prediction that a claim's test rejects."""

from __future__ import annotations

import numpy as np
import pytest

from flatstart.theory.laws import Normal
from flatstart.theory.products import product
from flatstart.validation import stats
from flatstart.validation.resolution import perturb, resolution


def _median_test(pred: dict, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    return stats.quantile_test(samples, pred["median"], 0.5, alpha)


def test_resolution_shrinks_with_the_sample_size() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.standard_normal(400) + 10.0, rng.standard_normal(40_000) + 10.0
    pred = {"median": 10.0, "depth": 3}
    r_small = resolution(_median_test, [pred], [small], 0.01)
    r_large = resolution(_median_test, [pred], [large], 0.01)
    assert r_large["relative_error"] is not None and r_small["relative_error"] is not None
    assert r_large["relative_error"] < r_small["relative_error"]
    # a 1% error of a median of 10 is 0.1 = 0.1 sd: 40k samples resolve it, 400 do not
    assert r_large["relative_error"] == 0.01 and r_small["relative_error"] >= 0.02


def test_perturb_scales_floats_laws_and_functions_but_not_counts() -> None:
    assert perturb({"m": 2.0, "n": 7, "s": "x"}, 1.5) == {"m": 3.0, "n": 7, "s": "x"}
    law = product(Normal(sigma=1.0), 2)
    scaled = perturb(law, 2.0)
    x = np.array([0.3, 1.0, 4.0])
    assert np.allclose(scaled.cdf(x), law.cdf(x / 2.0), rtol=0, atol=0)
    assert scaled.abs().median() == pytest.approx(2.0 * law.abs().median(), rel=1e-12)
    f = perturb(lambda a: {"v": 2.0 * a}, 1.1)
    assert f(1.0)["v"] == pytest.approx(2.2)
    with pytest.raises(Exception, match="str"):
        perturb("nothing to scale", 1.1)


def test_unscalable_predictions_have_no_resolution() -> None:
    r = resolution(lambda p, m, a: stats.TestOutcome(0.0, 1.0, False, 1), ["x"], [None], 0.01)
    assert r["relative_error"] is None and r["basis"] == "unscalable"


def test_scaled_laws_are_told_apart_by_repr() -> None:
    # caches keyed by repr (the P catalogue's interpolated cdfs) must never hand one step of the
    # ladder the cdf of another (an id in the repr made resolutions change from run to run)
    from flatstart.validation.resolution import ScaledLaw

    law = product(Normal(1.0), 2)
    up, down = ScaledLaw(law, 1.1), ScaledLaw(law, 1 / 1.1)
    assert repr(up) != repr(down) and repr(up) == repr(ScaledLaw(law, 1.1))
    assert up.mean_log() == pytest.approx(law.mean_log() + np.log(1.1))


def test_resolution_of_a_claim_is_reproducible() -> None:
    from flatstart.validation.claims import verify_all

    runs = [verify_all(["P.uniform-product", "P.gamma-product"], budget="quick", seed=0,
                       cache=False)
            for _ in range(2)]
    got = [[r.details["resolution"] for r in results] for results in runs]
    assert got[0] == got[1]


def test_power_resolution_matches_the_power_of_a_known_test() -> None:
    """Median of N(10, 1) from n = 400 samples, sign test at alpha 0.01: a relative error e
    shifts the median by 10e = 10e sd; the sign test's power at a shift d is about
    Φ(2√n (Φ(d) − ½) − z_{α/2}), so e = 2% (d = 0.2, power ≈ 0.68) is below 0.8 and e = 5%
    (d = 0.5, power ≈ 1) above: the P ≥ 0.8 resolution is 5% over many seeds. A single run
    can say 2% by luck (its estimate), the power reading cannot."""
    from flatstart.validation.resolution import power_resolution

    rng = np.random.default_rng(1)
    runs = [[rng.standard_normal(400) + 10.0] for _ in range(60)]
    pred = {"median": 10.0}
    r = power_resolution(_median_test, [pred], runs, 0.01)
    assert r["relative_error"] == 0.05 and r["reps"] == 60 and r["power"] == 0.8
    up2, down2 = r["rates"]["0.02"]
    assert 0.4 < up2 < 0.8 and 0.4 < down2 < 0.8  # ≈ 0.66: measured, not assumed
    assert min(r["rates"]["0.05"]) >= 0.8
    # mutant reading: a "resolution" taken as the first step rejected by any run is smaller
    singles = [resolution(_median_test, [pred], run, 0.01)["relative_error"] for run in runs]
    assert min(e for e in singles if e is not None) < r["relative_error"]


def test_verify_reports_the_power_resolution_over_seeds(tmp_path) -> None:
    from flatstart.validation.claims import verify_all

    one = verify_all(["P.uniform-product"], budget="quick", seed=0, cache=tmp_path)[0]
    assert one.details["resolution"]["basis"].startswith("this run")
    many = verify_all(["P.uniform-product"], budget="quick", seed=0, cache=tmp_path,
                      resolution_reps=4)[0]
    res = many.details["resolution"]
    assert res["reps"] == 4 and res["power"] == 0.8 and "4 run seeds" in res["basis"]
    # the main verdict and numbers are those of seed 0 either way
    assert (many.verdict, many.p_value) == (one.verdict, one.p_value)
    # seeds 1..3 are verify's own grid points at those seeds: served from the cache
    lines: list[str] = []
    again = verify_all(["P.uniform-product"], budget="quick", seed=1, cache=tmp_path,
                       progress=lines.append)[0]
    assert again.details["resolution"]["basis"].startswith("this run")
    assert " 0 to compute" in lines[0], lines[0]
    with pytest.raises(ValueError, match="resolution_reps"):
        verify_all(["P.uniform-product"], budget="quick", cache=False, resolution_reps=0)


def test_calibrate_gives_the_power_resolution() -> None:
    from flatstart.validation.claims import calibrate

    cal = calibrate("P.uniform-product", reps=5, seed=0)
    assert cal.resolution is not None and cal.resolution["reps"] == 5
    assert cal.to_dict()["resolution"]["power"] == 0.8
