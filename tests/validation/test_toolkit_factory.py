"""check_bound on any torch network (a factory, a module class, given inputs) and on quantities of
your own (register_quantity): vmap vs loop at 1e-12 for every built-in quantity, the loop
fallback, clear errors, bound files, the HTML view of a result, and the docs' examples."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn
from torch.func import functional_call, grad

from flatstart.montecarlo import modules as M
from flatstart.validation import toolkit as T
from flatstart.validation.toolkit import (
    QUANTITIES,
    Quantity,
    check_bound,
    main_check_bound,
    measure,
    register_quantity,
    unregister_quantity,
)
from flatstart.validation.toolkit import quantities as TQ
from flatstart.validation.toolkit.networks import _build, _check_network, _point_params
from tests.montecarlo._nets import (
    NETWORKS,
    BatchNormMLP,
    ResidualLN,
    SignFlip,
    SmallCNN,
    TinyTransformer,
)

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = sorted(TQ._BUILTIN_QUANTITIES)
RTOL = 1e-12


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    """Quantities registered by a test are removed after it."""
    with TQ._quantity_scope():
        yield


def _params(net: dict, quantity: str, point: dict | None = None) -> dict:
    return _point_params(_check_network(net), point or {}, quantity)


def _assert_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to 1e-12 of the values' scale (NaN where the other is NaN)."""
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    scale = float(np.max(np.abs(b[ok]))) if ok.any() else 0.0
    np.testing.assert_allclose(a[ok], b[ok], rtol=RTOL, atol=RTOL * max(scale, 1e-300))


# ------------------------------------------------------------------ every quantity, vmap = loop
NET_DICTS = {
    "cnn": {"factory": NETWORKS["cnn"][0], "input_shape": (1, 4, 4), "layer": "conv"},
    "residual_ln": {"module": ResidualLN, "kwargs": {"d": 3}, "input_shape": (3,), "layer": 2},
    "transformer": {"factory": NETWORKS["transformer"][0], "input_shape": (3, 2), "layer": 1},
}


@pytest.mark.parametrize("quantity", BUILTIN)
@pytest.mark.parametrize("name", sorted(NET_DICTS))
def test_vmap_equals_loop_for_every_quantity(name: str, quantity: str) -> None:
    net = {**NET_DICTS[name], "max_steps": 25, "lr": 0.05, "threshold": 0.05}
    fast = measure(quantity, _params({**net, "batching": "vmap"}, quantity), 3, seed=2)
    loop = measure(quantity, _params({**net, "batching": "loop"}, quantity), 3, seed=2)
    assert fast.seeds == loop.seeds and fast.undefined == loop.undefined
    if quantity == "escape_time":
        assert np.array_equal(fast.values, loop.values)  # equal step counts
        assert np.array_equal(fast.censored, loop.censored)
    else:
        _assert_equal(fast.values, loop.values)
    assert np.isfinite(fast.values).all()


@pytest.mark.parametrize("quantity", ["lambda_min", "lambda_max", "hessian_trace"])
def test_lanczos_and_hutchinson_paths(monkeypatch: pytest.MonkeyPatch, quantity: str) -> None:
    """Above DENSE_HESSIAN_MAX parameters Lanczos / Hutchinson: vmap equals the loop too."""
    monkeypatch.setattr(TQ, "DENSE_HESSIAN_MAX", 8)
    net = {**NET_DICTS["transformer"], "probes": 5}
    fast = measure(quantity, _params({**net, "batching": "vmap"}, quantity), 3, seed=1)
    loop = measure(quantity, _params({**net, "batching": "loop"}, quantity), 3, seed=1)
    _assert_equal(fast.values, loop.values)
    if quantity == "hessian_trace":  # the patch took effect: Hutchinson's estimate, not exact
        monkeypatch.setattr(TQ, "DENSE_HESSIAN_MAX", 256)
        exact = measure(quantity, _params({**net, "batching": "vmap"}, quantity), 3, seed=1)
        assert not np.allclose(fast.values, exact.values, rtol=1e-6)


def test_measurements_equal_module_references() -> None:
    """With given inputs the measured values are those of the loop over real module copies
    (modules.*_reference) of the batch that chunk seed builds."""
    x = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net = {"factory": NETWORKS["cnn"][0], "inputs": x, "y": 0.5}
    m_out = measure("output", _params(net, "output"), 4, seed=3)
    m_grad = measure("gradient_norm", _params(net, "gradient_norm"), 4, seed=3)
    m_tr = measure("hessian_trace", _params(net, "hessian_trace"), 4, seed=3)
    (s, count), = m_out.seeds
    mb = M.build_modules(NETWORKS["cnn"][0], count, s, input_shape=(1, 4, 4))
    _assert_equal(m_out.values, M.outputs_reference(mb, x)[:, 0, :].norm(dim=-1).numpy())
    g = torch.cat([t.reshape(count, -1) for t in M.gradients_reference(mb, x, 0.5)], 1)
    _assert_equal(m_grad.values, g.norm(dim=1).numpy())
    h = M.hessians_reference(mb, x, 0.5)
    _assert_equal(m_tr.values, torch.diagonal(h, dim1=1, dim2=2).sum(-1).numpy())


# ------------------------------------------------------------------ check_bound
def test_check_bound_on_a_cnn_holds_and_mutant_is_refuted() -> None:
    """|cos| ≤ 1 surely; the mutant bound 0 on the cosine is refuted with a counterexample whose
    copy seed rebuilds the offending network."""
    x = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    net = {"factory": NETWORKS["cnn"][0], "inputs": x}
    ok = check_bound(1, "gradient_cosine", "almost_surely", {"y": [0.0, 1.0]}, net, samples=200)
    assert ok.holds is True and ok.points[0].params["factory"] == "cnn"
    bad = check_bound(2.0, "output", "median", {"y": [1.0]}, net, samples=60, direction="lower")
    assert bad.holds is False
    f = bad.failures[0]
    assert "module_copy(cnn, seed=" in f["reproduce"]
    again = M.module_copy(NETWORKS["cnn"][0], f["copy_seed"])
    with torch.no_grad():
        value = float(again(x)[0].norm())
    assert value == pytest.approx(f["value"], rel=1e-12)


def test_module_class_kwargs_init_and_grid_forwarding() -> None:
    """A class with kwargs and an init function; a grid key the class takes (d) is passed to
    it, changing the network; the bound may use it."""
    def zero_readout(m: nn.Module) -> None:
        with torch.no_grad():
            m.out.weight.zero_()  # type: ignore[union-attr,operator]
            m.out.bias.zero_()  # type: ignore[union-attr,operator]

    net = {"module": ResidualLN, "kwargs": {"d": 3, "blocks": 1}, "init": zero_readout,
           "input_shape": (3,)}
    res = check_bound(0.0, "output", "almost_surely", {"blocks": [1, 2]}, net, samples=200)
    assert res.holds is True and [p.measured for p in res.points] == [0.0, 0.0]
    sizes = [_build(_params(net, "output", {"blocks": b}), "module", 1, 0, "cpu")
             .parameter_count for b in (1, 2)]
    assert sizes == [6 + 12 + 4, 2 * (6 + 12) + 4]  # blocks x (LayerNorm + Linear) + readout
    res = check_bound(sp.Symbol("blocks") + 100, "gradient_norm", "almost_surely",
                      {"blocks": [1, 2]}, {**net, "init": None}, samples=200)
    assert res.holds is True and res.bound_text == "blocks + 100"
    assert [p.bound for p in res.points] == [101.0, 102.0]


def test_fallback_to_loop_in_check_bound() -> None:
    net = {"factory": lambda s: SignFlip(), "input_shape": (3,), "batch": 2}
    with pytest.warns(M.LoopFallbackWarning, match="SignFlip"):
        auto = measure("gradient_norm", _params(net, "gradient_norm"), 5, seed=0)
    loop = measure("gradient_norm", _params({**net, "batching": "loop"}, "gradient_norm"), 5)
    _assert_equal(auto.values, loop.values)
    with pytest.raises(RuntimeError):
        measure("output", _params({**net, "batching": "vmap"}, "output"), 2)


def test_batch_norm_network_is_batched() -> None:
    net = {"module": BatchNormMLP, "input_shape": (3,), "batch": 4}
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.LoopFallbackWarning)
        fast = measure("lambda_max", _params({**net, "batching": "vmap"}, "lambda_max"), 3)
    loop = measure("lambda_max", _params({**net, "batching": "loop"}, "lambda_max"), 3)
    _assert_equal(fast.values, loop.values)


BAD = [
    ({"factory": NETWORKS["cnn"][0]}, ValueError, "needs input_shape"),
    ({"factory": 3, "input_shape": (3,)}, TypeError, "factory must be a callable"),
    ({"module": ResidualLN, "factory": NETWORKS["cnn"][0], "input_shape": (3,)}, ValueError,
     "exactly one of factory"),
    ({"module": "ResidualLN", "input_shape": (3,)}, TypeError, "nn.Module subclass"),
    ({"module": ResidualLN, "kwargs": {"width": 3}, "input_shape": (3,)}, ValueError,
     "not parameters of ResidualLN"),
    ({"module": ResidualLN, "init": "he_normal", "input_shape": (3,)}, ValueError,
     "init is a function"),
    ({"module": ResidualLN, "input_shape": (3,), "width": 5}, ValueError,
     "width=5 is not a keyword parameter of ResidualLN"),
    ({"module": ResidualLN, "inputs": [[1.0, 2.0, 3.0]]}, ValueError, "floating tensor"),
    ({"module": ResidualLN, "inputs": torch.ones(2, 3), "batch": 3}, ValueError,
     "batch=3 differs"),
    ({"module": ResidualLN, "inputs": torch.ones(2, 3), "input_shape": (4,)}, ValueError,
     "does not match input_shape"),
    ({"module": ResidualLN, "input_shape": (3, 0)}, ValueError, "input_shape"),
    ({"module": ResidualLN, "input_shape": (3,), "batching": "gpu"}, ValueError, "batching"),
    ({"kind": "chain", "input_shape": (3,)}, ValueError, "torch network of your own"),
    ({"kind": "module", "input_shape": (3,)}, ValueError, "exactly one of factory"),
    ({"module": ResidualLN, "input_shape": (3,), "layer": "blocks.7"}, ValueError,
     "names no parameters"),
    ({"module": ResidualLN, "input_shape": (3,), "layer": 9}, ValueError, "layer"),
    ({"factory": lambda s: nn.Linear(3, 1), "input_shape": (4,)}, ValueError,
     r"fails on inputs of shape \(1, 4\)"),
]


@pytest.mark.parametrize(("net", "err", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_network_input(net: dict, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        check_bound(1e9, "layer_gradient", "median", {"y": [1.0]}, {"layer": 1, **net},
                    samples=4)


# ------------------------------------------------------------------ your own quantity
def _grad_sq(model: nn.Module, params: dict[str, torch.Tensor],
             batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        out = functional_call(model, p, (x,)).reshape(x.shape[0], -1)
        return 0.5 * (out - y).square().sum(-1).mean()

    return sum(g.square().sum() for g in grad(loss)(params).values())  # type: ignore[return-value]


@pytest.mark.parametrize("net", [
    {"kind": "chain", "depth": 3},
    {"kind": "mlp", "depth": 2, "width": 3, "norm": "layer", "bias": True},
    {"factory": NETWORKS["transformer"][0], "input_shape": (3, 2)},
    {"module": SmallCNN, "input_shape": (1, 4, 4)},
], ids=["chain", "mlp", "transformer", "cnn"])
def test_registered_quantity_equals_builtin(net: dict) -> None:
    """‖∇ℓ‖² written by the user with torch.func equals the built-in gradient norm squared, on
    chains and MLPs (their to_module modules) and on networks of your own."""
    q = register_quantity("grad_sq", _grad_sq, description="‖∇ℓ‖²")
    assert isinstance(q, Quantity) and QUANTITIES["grad_sq"] == "‖∇ℓ‖²"
    mine = measure("grad_sq", _params(net, "grad_sq"), 4, seed=1)
    ref = measure("gradient_norm", _params(net, "gradient_norm"), 4, seed=1)
    _assert_equal(mine.values, ref.values**2)
    loop = measure(q, _params({**net, "batching": "loop"}, "grad_sq"), 4, seed=1)
    _assert_equal(loop.values, mine.values)


def test_registered_quantity_in_check_bound_and_registry_rules() -> None:
    @register_quantity("weight_sq", description="Σ of squared weights", cost="cheap")
    def weight_sq(model: nn.Module, params: dict, batch: tuple) -> torch.Tensor:
        return sum(p.square().sum() for n, p in params.items() if n.endswith("weight"))

    assert callable(weight_sq) and "weight_sq" in QUANTITIES and "weight_sq" in list(QUANTITIES)
    res = check_bound(0.0, "weight_sq", "almost_surely", {"depth": [2]},
                      {"kind": "mlp", "width": 3}, direction="lower")
    assert res.holds is True and res.points[0].n == T.SAMPLES["cheap"][0]
    mutant = check_bound(1e-3, "weight_sq", "median", {"depth": [2]},
                         {"kind": "mlp", "width": 3}, samples=50)
    assert mutant.holds is False
    with pytest.raises(ValueError, match="already registered"):
        register_quantity("weight_sq", weight_sq)
    assert register_quantity("weight_sq", weight_sq, replace=True).cost == "network"
    with pytest.raises(ValueError, match="built-in"):
        register_quantity("output", weight_sq, replace=True)
    with pytest.raises(TypeError, match="callable"):
        register_quantity("nope", 3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="three arguments"):
        register_quantity("nope", lambda model, params: 0.0)
    with pytest.raises(ValueError, match="cost"):
        register_quantity("nope", weight_sq, cost="expensive")
    with pytest.raises(ValueError, match="non-empty"):
        register_quantity(" ", weight_sq)
    with pytest.raises(TypeError, match="name must be a string"):
        register_quantity(3, weight_sq)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="built in"):
        unregister_quantity("output")
    unregister_quantity("weight_sq")
    assert "weight_sq" not in QUANTITIES
    with pytest.raises(ValueError, match="no registered quantity"):
        unregister_quantity("weight_sq")
    with pytest.raises(ValueError, match="quantity"):
        check_bound(1.0, "weight_sq", "median", {"depth": [2]}, {"kind": "chain"}, samples=4)


def test_failing_quantity_is_a_clear_error() -> None:
    def broken(model: nn.Module, params: dict, batch: tuple) -> torch.Tensor:
        raise KeyError("no such parameter")

    register_quantity("broken", broken)
    with pytest.raises(ValueError, match="quantity 'broken' failed: KeyError"):
        check_bound(1.0, "broken", "median", {"depth": [2]}, {"kind": "chain"}, samples=4)


BOUND_FILE = '''
import torch
from torch import nn
from flatstart.validation.toolkit import register_quantity

class Net(nn.Module):
    def __init__(self, d=3):
        super().__init__()
        self.lin = nn.Linear(d, 1)
    def forward(self, x):
        return self.lin(torch.relu(x))

def bias_abs(model, params, batch):
    return params["lin.bias"].abs().sum()

quantity = register_quantity("bias_abs", bias_abs, description="|b|")
bound = "1/sqrt(d)"      # nn.Linear biases are U(-1/sqrt(fan_in), 1/sqrt(fan_in))
statement = "almost_surely"
grid = {"d": [5]}
network = {"module": Net, "input_shape": (5,)}
samples = 200
'''


def test_registered_quantity_in_a_bound_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.py"
    path.write_text(BOUND_FILE)
    for _ in range(2):  # twice in one process: the file's registration is scoped to its run
        assert main_check_bound(path, out=tmp_path) == 0
        assert "bias_abs" not in QUANTITIES
    out = capsys.readouterr().out
    assert "HOLDS" in out and (tmp_path / "mine-check.png").is_file()
    mutant = tmp_path / "mutant.py"
    mutant.write_text(BOUND_FILE.replace('"1/sqrt(d)"', '"0.5/sqrt(d)"'))
    assert main_check_bound(mutant, out=tmp_path) == 1


def test_bad_network_in_a_bound_file_is_a_usage_error(tmp_path: Path) -> None:
    """An architecture key the class does not take, or inputs the module refuses: exit 2."""
    path = tmp_path / "bad.py"
    path.write_text(BOUND_FILE.replace('grid = {"d": [5]}', 'grid = {"width": [2]}'))
    assert main_check_bound(path, out=tmp_path) == 2
    path.write_text(BOUND_FILE.replace('grid = {"d": [5]}', 'grid = {"d": [2]}'))
    assert main_check_bound(path, out=tmp_path) == 2


# ------------------------------------------------------------------ HTML
def test_repr_html_has_verdict_p_values_and_figure() -> None:
    res = check_bound(sp.Symbol("sigma") ** sp.Symbol("depth") * 10, "output", "probability",
                      {"depth": [1, 2]}, {"kind": "chain"}, delta=0.1, samples=300)
    page = res._repr_html_()
    assert "HOLDS" in page and "<table>" in page and page.count("<tr>") == 3
    assert f"{res.points[0].p_value:.3g}" in page and f"{res.points[1].adjusted_p:.3g}" in page
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert png is not None and len(png.group(1)) > 1000


# ------------------------------------------------------------------ docs
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def test_docs_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of docs/toolkit.md run (in order, one namespace)."""
    monkeypatch.chdir(tmp_path)
    blocks = FENCE.findall((ROOT / "docs" / "toolkit.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    ns: dict[str, object] = {"__name__": "toolkit_docs"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for i, block in enumerate(blocks):
            try:
                exec(compile(block, f"docs/toolkit.md[block {i}]", "exec"), ns)
            except Exception as exc:  # pragma: no cover - the failure message
                raise AssertionError(f"block {i} failed: {exc!r}\n{block}") from exc


def test_transformer_is_plain_torch_nn() -> None:
    assert isinstance(TinyTransformer().attn, nn.MultiheadAttention)


CLAIM_FILE = '''"""A user claim measuring a registered quantity on a torch network of its own."""
from typing import Any

import numpy as np
from torch import nn

from flatstart.validation import stats
from flatstart.validation.claims import Claim, by_budget, register
from flatstart.validation.toolkit import measure, register_quantity


class Net(nn.Module):
    def __init__(self, d: int = 4):
        super().__init__()
        self.lin = nn.Linear(d, 1)

    def forward(self, x):
        return self.lin(x)


def bias_abs(model, params, batch):
    return params["lin.bias"].abs().sum()


register_quantity("bias_abs", bias_abs, description="|b|", replace=True)


def predict(params: dict[str, Any]) -> float:        # E|b| = 1/(2 sqrt(d)), b ~ U(+-1/sqrt(d))
    return 0.5 / np.sqrt(params["d"])


def mutant(params: dict[str, Any]) -> float:
    return 0.7 / np.sqrt(params["d"])


def simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> np.ndarray:
    net = {"module": Net, "kwargs": {"d": params["d"]}, "input_shape": (params["d"],)}
    return measure("bias_abs", net, by_budget(budget, 400, 4000, 40000), seed).values


def test(prediction: float, samples: np.ndarray, alpha: float) -> stats.TestOutcome:
    return stats.mean_test(samples, prediction, alpha)


register(Claim(
    id="MYQ.bias", title="Mean |bias| of nn.Linear", family="MYQ", source="derived",
    statement="E|b| = 1/(2 sqrt(d)) for torch's default nn.Linear bias.", kind="moment",
    grids={"quick": [{"d": 4}, {"d": 9}]},
    predict=predict, simulate=simulate, test=test, mutant=mutant,
    mutant_description="0.7/sqrt(d)",
))
'''


def test_registered_quantity_in_a_user_claim(tmp_path: Path) -> None:
    """A user claim's simulate measures a registered quantity on its own torch network."""
    from flatstart.validation import verify
    from flatstart.validation.plugins import load_claims, unload_claims

    path = tmp_path / "myq_claims.py"
    path.write_text(CLAIM_FILE)
    assert load_claims(str(path)) == ["MYQ.bias"]
    try:
        res = verify("MYQ.bias", budget="quick", seed=0, cache=False)
    finally:
        unload_claims(str(path))
    assert res.verdict == "consistent" and res.mutant_rejected, res
