"""SP catalogue (two phases of SGD, basins): validation/catalogue/sp.py and its Monte Carlo
helpers in montecarlo/per_sample.py, confusion.py and phases.py.

Every claim is consistent at the standard budget (slow); the Monte Carlo side never executes
theory at run time; the fast measurement paths agree with their slow references; the SNR
relation is checked exactly by enumerating all batches of a tiny data set.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch

import flatstart.validation.catalogue.sp as sp
from flatstart.montecarlo.confusion import exact_noise_scale, noise_scale
from flatstart.montecarlo.data import teacher_dataset
from flatstart.montecarlo.networks import mlps
from flatstart.montecarlo.per_sample import (
    batch_gradients,
    batch_gradients_reference,
    iid_batch_indices,
    per_sample_gradients,
    replica_gradients,
)
from flatstart.montecarlo.phases import fixed_point_snr, gradient_snr, snr_training
from flatstart.theory.noise import layer_snr
from flatstart.validation import stats
from flatstart.validation.claims import get, verify

matplotlib.use("Agg")

IDS = list(sp.SP_IDS)


# --------------------------------------------------------------------------- verdicts


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", IDS)
def test_claim_consistent_standard_budget(claim_id: str) -> None:
    r = verify(claim_id, budget="standard", seed=1, cache=False)
    assert r.verdict == "consistent", (claim_id, r.verdict, r.p_value, r.details["points"])


# --------------------------------------------------------------------------- layering


def test_simulate_never_uses_theory_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("simulate called a theory function")

    for name, obj in list(vars(sp).items()):
        if str(getattr(obj, "__module__", "") or "").startswith("flatstart.theory"):
            monkeypatch.setattr(sp, name, boom)
    assert sp.layer_snr is boom  # type: ignore[comparison-overlap]
    out = sp.simulate_snr(dict(get("SP.snr-noise-scale").grid("quick")[0]), 3, "cpu", "quick")
    assert out["A"].shape[0] == 16


# --------------------------------------------------------------------------- theory side
def test_snr_prediction_values() -> None:
    p = sp.predict_snr({"batch_size": 16, "n": 32, "batches": 8})
    bs = np.array([[4.0, 8.0], [16.0, 2.0]])
    np.testing.assert_allclose(p.snr(bs), 16.0 / bs, rtol=1e-15)
    np.testing.assert_allclose(p.snr(bs), layer_snr(16, bs), rtol=1e-15)
    np.testing.assert_allclose(p.ratio_of_means(bs), 16.0 / bs + 1 / 8, rtol=1e-15)
    m = sp.mutant_snr({"batch_size": 16, "n": 32, "batches": 8})
    np.testing.assert_allclose(m.snr(bs), 16.0 / bs * 31 / 16, rtol=1e-15)


def _tiny() -> tuple[Any, Any]:
    nets = mlps(3, 5, 3, activation="tanh", init="xavier_normal", input_dim=4, output_dim=1,
                bias=True, seed=2)
    ds = teacher_dataset(7, 4, width=6, depth=2, noise=0.3, seed=3)
    return nets, ds


def _flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(g.shape[0], g.shape[1], -1) for g in grads], dim=2)


@pytest.mark.parametrize("replacement", [True, False])
def test_snr_relation_exact_by_enumerating_all_batches(replacement: bool) -> None:
    """E over *all* size-2 batches of a 7-sample set: tr Cov ḡ = tr Σ/B (i.i.d.) or
    (tr Σ/B)(N−B)/(N−1) (without replacement), and ‖E ḡ‖² = |G|² — so the population SNR is
    B/B_simple exactly for i.i.d. batches and the mutant's value without replacement."""
    nets, ds = _tiny()
    n, b = ds.n, 2
    pairs = [(i, j) for i, j in itertools.product(range(n), repeat=2) if replacement or i != j]
    idx = torch.tensor(pairs)
    g = _flat(replica_gradients(nets, ds.x[idx], ds.y[idx]))  # (count, #batches, P)
    ns = exact_noise_scale(nets, ds)
    mean = g.mean(dim=1)
    tr_cov = (g - mean[:, None]).pow(2).sum(dim=2).mean(dim=1)
    torch.testing.assert_close(mean.pow(2).sum(dim=1), ns.grad_sq_norm, rtol=1e-12, atol=0)
    pred = sp.SNRPrediction(b, n, 2, "with-replacement" if replacement else "without-replacement")
    snr = (mean.pow(2).sum(dim=1) / tr_cov).numpy()
    np.testing.assert_allclose(snr, pred.snr(ns.b_simple.numpy()), rtol=1e-11)


def test_snr_mutant_differs_from_claim_by_finite_population_factor() -> None:
    p = sp.predict_snr({"batch_size": 8, "n": 256, "batches": 8})
    m = sp.mutant_snr({"batch_size": 8, "n": 256, "batches": 8})
    assert math.isclose(float(m.snr(4.0) / p.snr(4.0)), 255 / 248, rel_tol=1e-15)


# --------------------------------------------------------------------------- test functions
def _fake_snr_measurement(rng: np.random.Generator, s: float, shift: float) -> dict[str, Any]:
    """A and C with E[A − C/M] = (s + shift) E[C] and tr Σ/B = E C = 1."""
    count, reps, m = 10, 200, 8
    c = rng.chisquare(m - 1, size=(count, reps, 2)) / (m - 1)
    a = (s + shift) + c / m + 0.3 * rng.standard_normal((count, reps, 2))
    bs = np.full((count, 2), 16.0 / s)
    return {"A": a, "C": c, "grad_sq_norm": np.full((count, 2), s),
            "trace_sigma": np.full((count, 2), 16.0), "b_simple": bs, "B": 16, "M": m, "N": 64,
            "layers": [1, 2]}


@pytest.mark.parametrize(("shift", "reject"), [(0.0, False), (0.3, True), (-0.3, True)])
def test_snr_test_function(shift: float, reject: bool) -> None:
    meas = _fake_snr_measurement(np.random.default_rng(0), 1.5, shift)
    out = sp.test_snr(sp.predict_snr({"batch_size": 16, "n": 64, "batches": 8}), meas, 0.01)
    assert out.reject is reject, out


def _phase_measurement(first: list[float], last: list[float]) -> dict[str, Any]:
    f, la = np.array(first), np.array(last)
    snr = np.stack([f, (f + la) / 2, la, la], axis=1)[:, :, None]  # (count, 4 epochs, 1 layer)
    t_star = np.where(np.minimum(f, la) <= 1, 1, -1)[:, None]
    return {"snr": snr, "late_smoothed": snr[:, -3:, :].mean(axis=1), "t_star": t_star}


def test_phase_events_and_bound_test() -> None:
    m = _phase_measurement([3.0] * 18 + [0.5, 3.0], [0.1] * 19 + [2.0])
    ev = sp._phase_events(m)
    assert ev["transition"].sum() == 18 and ev["no-transition"].sum() == 1
    out = sp.test_event(sp.EventPrediction("transition", 0.1), m, 0.01)
    assert out.statistic == 2 and not out.reject
    assert sp.test_event(sp.EventPrediction("no-transition", 0.1), m, 0.01).reject


def test_basin_test_counts_the_right_violations() -> None:
    rng = np.random.default_rng(1)
    n = 20
    forked = {"midpoint_gap": -rng.random(n), "barrier": np.zeros(n), "loss1": np.ones(n),
              "loss2": np.ones(n)}
    indep = {"midpoint_gap": 1 + rng.random(n), "barrier": 1 + rng.random(n),
             "loss1": np.ones(n), "loss2": np.ones(n)}
    m = {"forked": forked, "independent": indep}
    p = sp.predict_basins({})
    assert not sp.test_basins(p, m, 0.01).reject
    assert sp.test_basins(sp.mutant_basins({}), m, 0.01).reject
    # a claim violated by the forked group is rejected as well
    m2 = {"forked": {**forked, "midpoint_gap": rng.random(n)}, "independent": indep}
    assert sp.test_basins(p, m2, 0.01).reject


def test_distance_events() -> None:
    m = {"distance": np.array([[1.0, 0.5], [0.1, 0.1], [1.0, 0.1]]),
         "travel": np.ones((3, 2))}
    ev = sp._distance_events(m, 0.25)
    assert ev["distinct"].tolist() == [True, False, False]
    assert ev["same"].tolist() == [False, True, False]


def test_bonferroni_combination() -> None:
    o1 = stats.TestOutcome(1.0, 0.004, True, 5)
    o2 = stats.TestOutcome(2.0, 0.5, False, 5)
    out = sp._bonferroni([o1, o2], 0.01, ["a", "b"])
    assert math.isclose(out.p_value, 0.008) and out.reject and out.details["worst"] == "a"


# --------------------------------------------------------------------------- montecarlo helpers
def test_batch_gradients_match_reference() -> None:
    nets, ds = _tiny()
    for repl, shared in itertools.product((True, False), repeat=2):
        a = batch_gradients(nets, ds, 3, 6, replacement=repl, seed=4, shared=shared)
        b = batch_gradients_reference(nets, ds, 3, 6, replacement=repl, seed=4, shared=shared)
        for u, v in zip(a, b, strict=True):
            torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-14)
    sh = batch_gradients(nets, ds, 3, 4, seed=4, shared=True)[0]
    own = batch_gradients(nets, ds, 3, 4, seed=4, shared=False)[0]
    assert not torch.allclose(own[0], own[1])  # own batches per network
    idx = iid_batch_indices(ds.n, 3, 4, seed=4)
    one = replica_gradients(nets.select([1]), ds.x[idx], ds.y[idx])[0]
    torch.testing.assert_close(sh[1:2], one)


@pytest.mark.parametrize("kw", [{}, {"bias": True}, {"residual": 0.5, "bias": True}])
def test_per_sample_routes_agree(kw: dict[str, Any]) -> None:
    nets = mlps(2, 5, 3, activation="tanh", init="xavier_normal", input_dim=5, output_dim=1,
                seed=0, **kw)
    ds = teacher_dataset(6, 5, width=4, seed=1)
    a = per_sample_gradients(nets, ds.x, ds.y, "mse", method="layerwise")
    b = per_sample_gradients(nets, ds.x, ds.y, "mse", method="replica")
    c = per_sample_gradients(nets, ds.x, ds.y, "mse")
    for u, v, w in zip(a, b, c, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(u, w, rtol=1e-12, atol=1e-14)
    e = exact_noise_scale(nets, ds)
    r = noise_scale(nets, ds)
    torch.testing.assert_close(e.layer_b_simple, r.layer_b_simple, rtol=1e-10, atol=0)


def test_fixed_point_snr_shapes_and_consistency() -> None:
    nets, ds = _tiny()
    f = fixed_point_snr(nets, ds, 3, 4, 5, seed=1)
    assert tuple(f.mean_sq.shape) == (3, 5, 3) and f.layers == [1, 2, 3]
    torch.testing.assert_close(f.snr, f.mean_sq / f.trace_cov)
    # replication r of network c uses batches r*M .. r*M+M-1 of its own stream
    g = batch_gradients(nets, ds, 3, 20, seed=1)
    w1 = g[0][:, 4:8].reshape(3, 4, -1)
    mean = w1.mean(dim=1)
    b1 = g[3][:, 4:8].reshape(3, 4, -1)  # bias of layer 1
    mean_b = b1.mean(dim=1)
    torch.testing.assert_close(f.mean_sq[:, 1, 0], mean.pow(2).sum(1) + mean_b.pow(2).sum(1))


def test_iid_batch_indices() -> None:
    a = iid_batch_indices(5, 5, 50, replacement=False, seed=0)
    assert all(sorted(row.tolist()) == list(range(5)) for row in a)
    c = iid_batch_indices(6, 3, 40, replacement=False, seed=0, groups=2)
    assert tuple(c.shape) == (2, 40, 3)
    assert all(len(set(row.tolist())) == 3 for row in c.reshape(-1, 3))
    b = iid_batch_indices(3, 10, 50, replacement=True, seed=0)
    assert int(b.max()) <= 2 and tuple(b.shape) == (50, 10)
    torch.testing.assert_close(b, iid_batch_indices(3, 10, 50, seed=0))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 4, "batch_size": 5, "batches": 2, "replacement": False}, "batch_size"),
    ({"n": 0, "batch_size": 1, "batches": 2}, "n"),
    ({"n": 4, "batch_size": 2, "batches": 0}, "batches"),
])
def test_iid_batch_indices_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        iid_batch_indices(**kwargs)


def test_helper_errors() -> None:
    nets, ds = _tiny()
    with pytest.raises(ValueError, match="batches_per_rep"):
        fixed_point_snr(nets, ds, 2, 1, 3)
    bn = mlps(2, 4, 2, input_dim=3, output_dim=1, norm="batch", seed=0)
    small = teacher_dataset(4, 3, seed=0)
    with pytest.raises(ValueError, match="norm"):
        per_sample_gradients(bn, small.x, small.y, "mse", method="layerwise")
    with pytest.raises(ValueError, match="shapes"):
        replica_gradients(nets, ds.x, ds.y)
    with pytest.raises(TypeError, match="NetworkBatch"):
        replica_gradients(object(), ds.x[None], ds.y[None])


def test_snr_training_matches_gradient_snr_epoch_by_epoch() -> None:
    nets = mlps(3, 6, 3, activation="tanh", init="xavier_normal", input_dim=4, output_dim=1,
                seed=0)
    ds = teacher_dataset(24, 4, width=6, noise=0.2, seed=1)
    r = snr_training(nets, ds, 0.05, 2, 6, seed=2)
    h0 = gradient_snr(nets, ds, "sgd", 0.05, epochs=1, batch_size=6, seed=2 * 100003)
    h1 = gradient_snr(nets, ds, "sgd", 0.05, epochs=1, batch_size=6, seed=2 * 100003 + 1,
                      params=h0.final_params)
    torch.testing.assert_close(r.snr, torch.cat([h0.snr, h1.snr], dim=1))
    for u, v in zip(r.final_params, h1.final_params, strict=True):
        torch.testing.assert_close(u, v)
    assert tuple(r.b_simple.shape) == (3, 3, 3) and tuple(r.losses.shape) == (3, 3)
    ns = exact_noise_scale(nets, ds, params=h0.final_params)
    torch.testing.assert_close(r.b_simple[:, 1], ns.layer_b_simple)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("claim_id", IDS)
def test_claim_consistent_on_cuda(claim_id: str) -> None:
    r = verify(claim_id, budget="quick", seed=0, device="cuda", cache=False)
    assert r.error is None, r.error
    assert r.verdict == "consistent", (claim_id, r.verdict, r.p_value)
