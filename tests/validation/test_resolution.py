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
