"""flatstart.validation.toolkit: check_bound on real networks, the counterexample search, the
CLI."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from flatstart import validation
from flatstart.montecarlo.derivatives import chain_gradients
from flatstart.montecarlo.networks import chains
from flatstart.validation.assertions import assert_identity
from flatstart.validation.strategies import sgd_runs
from flatstart.validation.toolkit import (
    QUANTITIES,
    BoundResult,
    check_bound,
    detection_power,
    gc_thm32_sides,
    main_check_bound,
    measure,
    search_counterexample,
)
from flatstart.validation.toolkit.networks import _point_params

ROOT = Path(__file__).resolve().parents[2]
L, SIG, X, D = sp.symbols("depth sigma x delta", positive=True)
CHEBYSHEV = SIG**L * X / sp.sqrt(D)  # P(|f| > σ^L |x|/√δ) ≤ δ for linear Gaussian chains
CHAIN = {"kind": "chain", "activation": "linear"}


# ------------------------------------------------------------------ probability statements
def test_rigorous_probability_bound_holds():
    res = check_bound(CHEBYSHEV, "output", "probability", {"depth": [1, 4, 12], "sigma": [1.0]},
                      CHAIN, seed=0, delta=0.1)
    assert res.holds is True, res
    assert len(res.tightness) == 3 and all(0 < t < 1 for t in res.tightness)
    assert res.failures == []


def test_too_small_bound_fails_with_reproducible_counterexample():
    """Mutant: a fifth of the Chebyshev bound is violated far more often than δ."""
    res = check_bound(CHEBYSHEV / 5, "output", "probability", {"depth": [1, 2], "sigma": [1.0]},
                      CHAIN, seed=3, delta=0.1)
    assert res.holds is False
    assert res.failures, res
    f = res.failures[0]
    assert f["value"] > f["bound"] and f["violations"] > 0.1 * f["n"] and f["p_value"] <= 0.01
    assert {"depth", "sigma", "x"} <= set(f["params"]) and "chains(" in f["reproduce"]
    # the reported seed and index rebuild the offending network: same |f(x)|
    nets = chains(count=f["count"], depth=f["params"]["depth"], sigma=1.0, seed=f["seed"])
    value = abs(float(nets.select([f["index"]])(torch.ones(1, 1, dtype=torch.float64))))
    assert value == pytest.approx(f["value"], rel=1e-12)
    assert "VIOLATED" in res.summary() and "counterexample" in res.summary()
    assert "| violated |" in res.table()


def test_underpowered_returns_none():
    """δ = 5e-4 with 2000 samples cannot detect a doubled violation rate: None, never True."""
    res = check_bound(CHEBYSHEV, "output", "probability", {"depth": [3]}, CHAIN, delta=5e-4)
    assert res.holds is None
    assert res.points[0].verdict == "underpowered" and res.points[0].power < 0.8
    assert "underpowered" in res.summary()


def test_detection_power_monotone_in_n():
    assert detection_power(100, 0.05, 0.01) < detection_power(1000, 0.05, 0.01)
    assert detection_power(5, 0.5, 0.01) == 0.0  # 5 samples can never reject δ = 1/2 at 1 %


# ------------------------------------------------------------------ almost surely, median
def test_almost_sure_uniform_chain_bound_and_mutant():
    """U(−a, a) weights: |f(x)| ≤ a^L |x| surely; 0.9 a^L is violated by some chain."""
    a = sp.Symbol("bound")
    net = {"kind": "chain", "bound": 1.5}
    ok = check_bound(a**L, "output", "almost_surely", {"depth": [2, 3]}, net)
    assert ok.holds is True and max(ok.tightness) <= 1.0
    bad = check_bound(0.9 * a**L, "output", "almost_surely", {"depth": [2]}, net)
    assert bad.holds is False and bad.failures[0]["value"] > bad.failures[0]["bound"]


def test_median_vc_chain_and_lower_direction():
    """Median of |f| for a depth-L Xavier chain is far below 1 (VC) but above 1e-12 at L = 8."""
    up = check_bound(sp.Integer(1), "output", "median", {"depth": [8]}, CHAIN)
    assert up.holds is True
    lo = check_bound(sp.Float(1e-12), "output", "median", {"depth": [8]}, CHAIN,
                     direction="lower")
    assert lo.holds is True
    wrong = check_bound(sp.Integer(1), "output", "median", {"depth": [8]}, CHAIN,
                        direction="lower")  # mutant: median >= 1 is false
    assert wrong.holds is False


# ------------------------------------------------------------------ mean statements
def test_mean_hessian_trace_small_depth():
    """E tr H = L σ^{2(L−1)} x² for a linear chain holds as a mean [derived,
    docs/theory/vc-curvature.md#moments-of-the-chain-derived]."""
    res = check_bound(L * SIG ** (2 * (L - 1)) * X**2, "hessian_trace", "mean",
                      {"depth": [2, 3]}, CHAIN, samples=4000)
    assert res.holds is not False
    assert res.points[0].verdict == "holds"
    mutant = check_bound(0.8 * L * SIG ** (2 * (L - 1)) * X**2, "hessian_trace", "mean",
                         {"depth": [2]}, CHAIN, samples=4000)
    assert mutant.holds is False


def test_mean_refused_for_heavy_tails():
    res = check_bound(L * SIG ** (2 * (L - 1)), "hessian_trace", "mean", {"depth": [12]}, CHAIN)
    assert res.holds is None and "heavy-tailed" in res.points[0].reason


# ------------------------------------------------------------------ measurements
def test_hessian_trace_measurement_matches_chain_identity():
    """tr ∇²ℓ = Σ_i (∂f/∂w_i)² for ℓ = ½(f − y)² on a chain (∂²f/∂w_i² = 0) [derived]."""
    params = _point_params(dict(CHAIN), {"depth": 4}, "hessian_trace")
    m = measure("hessian_trace", params, 40, seed=5)
    (s, count), = m.seeds
    g = chain_gradients(chains(count=count, depth=4, init="xavier_normal", seed=s), x=1.0, y=1.0)
    assert_identity(m.values, np.sum(g.df_dw**2, axis=1), rtol=1e-10, atol=1e-14,
                    params={"depth": 4}, seed=s)


@pytest.mark.parametrize("quantity", sorted(QUANTITIES))
def test_every_quantity_measures_on_small_mlp(quantity):
    net = {"kind": "mlp", "width": 4, "layer": 1, "max_steps": 20}
    if quantity == "escape_time":
        net = {"kind": "chain", "max_steps": 20}
    params = _point_params(net, {"depth": 2}, quantity)
    m = measure(quantity, params, 6, seed=1)
    assert m.values.shape == (6,)
    assert np.sum(np.isfinite(m.values)) + m.undefined == 6


def test_escape_time_censoring_is_inconclusive():
    res = check_bound(sp.Integer(100), "escape_time", "probability", {"depth": [6]},
                      {"kind": "chain", "max_steps": 3, "lr": 0.01}, delta=0.1, samples=300)
    assert res.holds is None and res.points[0].unknown > 0


# ------------------------------------------------------------------ result object
def test_result_figure_and_table(tmp_path):
    res = check_bound(CHEBYSHEV, "output", "probability", {"depth": [1, 3]}, CHAIN, delta=0.2,
                      samples=500)
    assert isinstance(res, BoundResult)
    paths = res.save_figure(tmp_path / "fig")
    assert [Path(p).suffix for p in paths] == [".png", ".svg"]
    assert all(Path(p).stat().st_size > 1000 for p in paths)
    assert res.table().count("\n") == 3 and "tightness" in res.table()
    assert res.to_dict()["verdict"] == "holds"


def test_validation_check_bound_hook():
    res = validation.check_bound(CHEBYSHEV, "output", "probability", {"depth": [2]}, CHAIN,
                                 delta=0.2, samples=500)
    assert res.holds is True


def test_callable_bound():
    res = check_bound(lambda depth, sigma, x, delta: sigma**depth * x / math.sqrt(delta),
                      "output", "probability", {"depth": [2]}, CHAIN, delta=0.2, samples=500)
    assert res.holds is True


# ------------------------------------------------------------------ bad input
BAD = [
    ({"bound": L * sp.Symbol("widht")}, "unknown symbol.*widht.*allowed"),
    ({"quantity": "curvature"}, "quantity.*gradient_norm"),
    ({"grid": {}}, "grid must be a non-empty"),
    ({"grid": {"depth": []}}, "grid\\['depth'\\] is empty"),
    ({"statement": "always"}, "statement.*almost_surely"),
    ({"direction": "up"}, "direction.*upper"),
    ({"delta": 1.5}, "delta"),
    ({"delta": 0.0}, "delta"),
    ({"delta": None}, "needs delta"),
    ({"network": {"kind": "chain", "widht": 3}}, "unknown key.*widht.*allowed"),
    ({"network": {"kind": "cnn"}}, "kind"),
    ({"network": {"kind": "chain", "init": "xavier_normal", "sigma": 2.0}}, "exactly one"),
    ({"budget": "huge"}, "budget"),
    ({"bound": lambda depth, zeta: 1.0}, "unknown parameter.*zeta"),
]


@pytest.mark.parametrize(("override", "match"), BAD, ids=[m for _, m in BAD])
def test_bad_input(override, match):
    args = {"bound": CHEBYSHEV, "quantity": "output", "statement": "probability",
            "grid": {"depth": [2]}, "network": CHAIN, "delta": 0.1, "samples": 10}
    args.update(override)
    with pytest.raises(ValueError, match=match):
        check_bound(**args)


# ------------------------------------------------------------------ showcase: GC Theorem 3.2
def _lhs(run):
    return gc_thm32_sides(run)["lhs"]


def test_search_finds_printed_thm32_counterexample():
    res = search_counterexample(lambda r: gc_thm32_sides(r)["printed"], _lhs, sgd_runs(), 500)
    assert res.found and res.lhs > res.bound
    sides = gc_thm32_sides(res.example)
    assert sides["lhs"] > sides["printed"] and sides["lhs"] <= sides["corrected"] * (1 + 1e-9)


def test_search_finds_none_for_corrected_thm32():
    res = search_counterexample(lambda r: gc_thm32_sides(r)["corrected"], _lhs, sgd_runs(), 300)
    assert not res.found, res


def test_search_refutes_corrected_without_confusion_term():
    """Mutant: the corrected bound without ρη(N−1)/N must be refuted by the same search."""

    def mutant(r):
        s = gc_thm32_sides(r)
        rho = 2 * r["problem"].n / (2 - r["problem"].n * r["problem"].smoothness * r["alpha"])
        return s["corrected"] - rho * s["eta"] * (r["problem"].n - 1) / r["problem"].n

    res = search_counterexample(mutant, _lhs, sgd_runs(), 2000)
    assert res.found, res


def test_search_is_deterministic():
    a = search_counterexample(lambda r: gc_thm32_sides(r)["printed"], _lhs, sgd_runs(), 200)
    b = search_counterexample(lambda r: gc_thm32_sides(r)["printed"], _lhs, sgd_runs(), 200)
    assert a.found and b.found and a.lhs == b.lhs and a.bound == b.bound


# ------------------------------------------------------------------ CLI
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flatstart.validation.cli", "check-bound", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_example_holds(tmp_path):
    shutil.copy(ROOT / "examples" / "bound.py", tmp_path / "bound.py")
    proc = _cli("bound.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HOLDS" in proc.stdout and (tmp_path / "bound-check.png").is_file()


def test_cli_violated_and_usage(tmp_path):
    text = (ROOT / "examples" / "bound.py").read_text().replace(
        "bound = sigma**L", "bound = 0.2 * sigma**L").replace(
        '"depth": [1, 2, 5, 10, 20], "sigma": [1.0, 1.5]', '"depth": [1, 2]')
    (tmp_path / "bad.py").write_text(text)
    assert main_check_bound(tmp_path / "bad.py") == 1
    (tmp_path / "empty.py").write_text("x = 1\n")
    assert main_check_bound(tmp_path / "empty.py") == 2
    assert main_check_bound(tmp_path / "missing.py") == 2
    (tmp_path / "typo.py").write_text(
        "bound = 1\nquantity = 'outptu'\nstatement = 'median'\ngrid = {'depth': [1]}\n"
        "network = {'kind': 'chain'}\n")
    assert main_check_bound(tmp_path / "typo.py") == 2


def test_bound_not_a_number_is_a_clear_error():
    with pytest.raises(ValueError, match="not"):
        check_bound(1 / (L - 2), "output", "median", {"depth": [2]}, CHAIN, samples=10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_check_bound_on_cuda_matches_cpu():
    """Same seed, float64: the CUDA measurement equals the CPU one up to round-off."""
    args = (CHEBYSHEV, "output", "probability", {"depth": [3]}, CHAIN)
    cpu = check_bound(*args, delta=0.1, samples=500)
    gpu = check_bound(*args, delta=0.1, samples=500, device="cuda")
    assert gpu.holds is True and cpu.points[0].violations == gpu.points[0].violations
    assert gpu.points[0].measured == pytest.approx(cpu.points[0].measured, rel=1e-12)


@pytest.mark.parametrize("sigma", [1e6, -1.0])
def test_mlp_sigma_is_an_error_not_ignored(sigma: float) -> None:
    """An mlp's weights follow its init: a sigma that the builder would ignore (and feed only to
    the bound) is a clear error, not a silent "holds"/"violated"."""
    from flatstart.validation import check_bound

    with pytest.raises(ValueError, match="sigma=.*not supported for kind 'mlp'"):
        check_bound("sigma", "output", "median", {"depth": [2]},
                    {"kind": "mlp", "width": 4, "input_dim": 2, "sigma": sigma}, samples=50)
