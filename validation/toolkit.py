"""The researcher's toolkit: check your own bound on real networks, search for counterexamples.

:func:`check_bound` measures a quantity (an output, a gradient norm, a Hessian eigenvalue, an
escape time, ...) on freshly initialized torch networks from :mod:`montecarlo` at every point of
a parameter grid and decides with an exact or calibrated test whether a closed-form bound
(a sympy expression or a Python function) holds:

=================  ==========================================  ===============================
statement          claim (``direction="upper"``)               test
=================  ==========================================  ===============================
``almost_surely``  ``Q ≤ B`` for every network                 any violation refutes
``probability``    ``P(Q > B) ≤ δ``                            exact binomial (Clopper–Pearson)
``median``         ``median Q ≤ B``, i.e. ``P(Q > B) ≤ ½``     exact binomial (sign test)
``mean``           ``E Q ≤ B``                                 one-sided Student t
=================  ==========================================  ===============================

``direction="lower"`` flips every inequality (``Q ≥ B``, ``P(Q < B) ≤ δ``, ...). Grid points
are combined with Holm's method at level ``alpha``. The verdict ``holds`` is

* ``False``: some grid point rejects (a counterexample is reported: parameters, seed, network
  index and measured value);
* ``None`` (underpowered): nothing rejects but the test could not have detected a violation
  at some point (see :data:`POWER`), or censoring/heavy tails make it inconclusive;
* ``True``: nothing rejects and every point had the power to detect a violation.

:func:`search_counterexample` runs a derandomized :func:`hypothesis.find` over a strategy for
an input where ``lhs > bound``: the showcase finds the counterexample to the printed GC
Theorem 3.2 (:func:`gc_thm32_sides`) and none to its corrected form (docs/confusion.md).

:func:`main_check_bound` is ``flatstart check-bound FILE`` (file format in docs/toolkit.md).

**Any torch network** (``network={"factory": f, "input_shape": (C, H, W)}``, or
``{"module": MyNet, "kwargs": {...}, "init": fn}``, or ``"inputs": tensor``): every quantity is
measured on ``count`` independent copies batched with ``torch.func``
(:mod:`flatstart.montecarlo.modules`: ``stack_module_state`` + ``vmap(functional_call)``, a loop
with a notice when vmap cannot batch the module).

**Your own quantity**: :func:`register_quantity` adds a named ``fn(model, params, batch)`` (one
value per network) to the table behind :data:`QUANTITIES`, the same table that holds the
built-in quantities; :func:`check_bound`, :func:`measure`, ``flatstart check-bound FILE`` and
user claims (calling :func:`measure`) use it by name.
"""

from __future__ import annotations

import base64
import contextlib
import html
import inspect
import io
import math
import runpy
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
import torch
from scipy import stats as sps

from flatstart._checks import check_choice, check_int, check_probability
from flatstart._seeds import derive_seed
from flatstart.validation.grid import check_budget, check_device
from flatstart.validation.stats import clopper_pearson_upper, holm

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from matplotlib.figure import Figure

__all__ = [
    "COSTS",
    "DIRECTIONS",
    "NETWORK_KEYS",
    "PARAMETER_NAMES",
    "POWER",
    "QUANTITIES",
    "STATEMENTS",
    "BoundResult",
    "PointResult",
    "Quantity",
    "SearchResult",
    "check_bound",
    "evaluate_bound",
    "gc_thm32_sides",
    "get_quantity",
    "main_check_bound",
    "measure",
    "register_quantity",
    "search_counterexample",
    "unregister_quantity",
]

#: The built-in quantities (name -> definition). ``ℓ = ½ mean_batch ‖f(x) − y‖²``.
_BUILTIN_QUANTITIES: dict[str, str] = {
    "output": "‖f(x)‖ (|f(x)| for a scalar output), first input",
    "gradient_norm": "‖∇_θ ℓ‖₂ over all parameters",
    "layer_gradient": "‖∂ℓ/∂θ_l‖₂ of layer `layer` (1-based; |∂ℓ/∂w_l| for a chain)",
    "hessian_norm": "‖∇²_θ ℓ‖₂ = max(|λ_min|, |λ_max|)",
    "hessian_trace": "tr ∇²_θ ℓ",
    "lambda_min": "smallest eigenvalue of ∇²_θ ℓ",
    "lambda_max": "largest eigenvalue of ∇²_θ ℓ",
    "norm_ratio": "‖x_L‖²/‖x_0‖² (forward signal; MLPs default to no readout)",
    "gradient_cosine": "cos(∇_θ ℓ_1, ∇_θ ℓ_2) of two inputs (undefined for a zero gradient)",
    "escape_time": "steps until the loss falls below `threshold` (training.escape_times)",
}
STATEMENTS: tuple[str, ...] = ("almost_surely", "probability", "median", "mean")
DIRECTIONS: tuple[str, ...] = ("upper", "lower")
KINDS: tuple[str, ...] = ("chain", "mlp", "module")
#: Keys a ``network`` dict (or a grid) may set for the network and the measurement.
NETWORK_KEYS: tuple[str, ...] = (
    "kind", "depth", "width", "widths", "init", "sigma", "bound", "activation", "residual",
    "norm", "input_dim", "output_dim", "bias", "gain", "x", "y", "batch", "layer", "lr",
    "optimizer", "threshold", "max_steps", "criterion", "probes",
    "factory", "module", "kwargs", "input_shape", "inputs", "batching",
)
#: Keys only a network of your own (kind ``"module"``) takes.
MODULE_KEYS: tuple[str, ...] = ("factory", "module", "kwargs", "input_shape", "inputs")
#: Architecture keys of chains and MLPs; a module network passes them to its factory and
#: refuses those the factory does not take (they would be used by the bound only).
_ARCH_KEYS: tuple[str, ...] = (
    "depth", "width", "widths", "sigma", "bound", "activation", "residual", "norm", "input_dim",
    "output_dim", "bias", "gain",
)
#: Symbols a bound may always use (besides the keys of ``grid`` and ``network``).
PARAMETER_NAMES: tuple[str, ...] = (
    "depth", "width", "sigma", "eps", "delta", "x", "y", "layer", "input_dim", "output_dim",
    "residual", "lr", "threshold", "max_steps", "batch", "n", "n0",
)
#: A test "has power" when it detects, with probability >= POWER, a violation rate of
#: ``min(2δ, (1+δ)/2)`` (probability/median statements) or AS_DETECT_RATE (almost surely).
POWER = 0.8
AS_DETECT_RATE = 0.01
#: mean statements: below this effective sample size ``(Σ|q|)²/Σq²`` (or ESS_FRACTION·n) the
#: sample is dominated by a few values and the t test is not trusted (verdict underpowered).
MIN_ESS = 50.0
ESS_FRACTION = 0.05
#: Hessians are formed densely (exact eigenvalues) up to this many parameters, beyond that
#: Lanczos (eigenvalues) and Hutchinson (trace, ``probes`` probes) estimate them.
DENSE_HESSIAN_MAX = 256
#: Networks per grid point by cost class and budget (quick, standard, full).
SAMPLES: dict[str, tuple[int, int, int]] = {
    "cheap": (2000, 20000, 200000),
    "network": (500, 5000, 50000),
    "curvature": (200, 2000, 20000),
    "training": (200, 1000, 5000),
}
_BUDGET_INDEX = {"quick": 0, "standard": 1, "full": 2}
_MAX_ELEMENTS = 2**22  # parameters x networks per chunk
#: Cost classes of a quantity (the keys of :data:`SAMPLES`).
COSTS: tuple[str, ...] = tuple(SAMPLES)
_CURVATURE = ("hessian_norm", "hessian_trace", "lambda_min", "lambda_max")


# ============================================================================ quantities


@dataclass(frozen=True)
class Quantity:
    """One entry of the quantity table (built-in or registered with :func:`register_quantity`).

    Attributes:
        name: the name :func:`check_bound` and bound files use.
        description: what is measured (shown by :data:`QUANTITIES`).
        cost: cost class, a key of :data:`SAMPLES` (networks per grid point by budget);
            ``None`` for the built-ins, whose class depends on the network kind.
        fn: the registered ``fn(model, params, batch) -> tensor`` (``None`` for a built-in).
        builtin: one of flatstart's own quantities (cannot be replaced or unregistered).
    """

    name: str
    description: str
    cost: str | None = None
    fn: Callable[..., Any] | None = field(default=None, compare=False)
    builtin: bool = False

    def measure_chunk(self, p: dict[str, Any], nets: Any, seed: int,
                      device: str) -> tuple[np.ndarray, np.ndarray]:
        """Values and censoring flags of this quantity on one chunk of networks."""
        if self.builtin:
            return _measure_builtin(self.name, p, nets, seed, device)
        return _measure_registered(self, p, nets, seed, device)


_TABLE: dict[str, Quantity] = {
    name: Quantity(name, text, builtin=True) for name, text in _BUILTIN_QUANTITIES.items()
}


class _QuantityView(Mapping[str, str]):
    """Read-only ``name -> description`` view of the quantity table (built-in + registered)."""

    def __getitem__(self, name: str) -> str:
        return _TABLE[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(list(_TABLE))

    def __len__(self) -> int:
        return len(_TABLE)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Every measurable quantity, name -> definition: the built-ins and those added with
#: :func:`register_quantity` (a live, read-only view of the quantity table).
QUANTITIES: Mapping[str, str] = _QuantityView()


def register_quantity(
    name: str,
    fn: Callable[..., Any] | None = None,
    *,
    description: str = "",
    cost: str = "network",
    replace: bool = False,
) -> Any:
    """Register a named quantity ``fn(model, params, batch) -> tensor`` (one value per network).

    ``fn`` is called once per network, batched with ``torch.func.vmap`` over the networks
    (a loop, with a one-line notice, if vmap cannot batch it): ``model`` is the network as a
    stateless ``nn.Module`` (call it as ``torch.func.functional_call(model, params, (x,))``;
    for chains and MLPs the module of ``NetworkBatch.to_module``), ``params`` that network's
    parameters and buffers by name, ``batch = (x, y)`` the inputs ``(batch, *input_shape)``
    and the targets ``(batch, k)`` :func:`check_bound` uses. ``fn`` returns a scalar tensor
    (NaN or inf marks an undefined value: dropped and counted). ``torch.func.grad`` and friends
    compose with it, e.g. ``grad(lambda p: loss(functional_call(model, p, (x,))))(params)``.

    Used as ``register_quantity(name, fn, ...)`` it returns the :class:`Quantity`; as a
    decorator, ``@register_quantity(name, description=...)``, it returns ``fn``.

    Args:
        name: a new name (not a built-in one).
        fn: the quantity (omit it for the decorator form).
        description: one line shown by :data:`QUANTITIES`.
        cost: cost class, one of :data:`COSTS` (``"cheap"``, ``"network"``, ``"curvature"``,
            ``"training"``): how many networks a grid point gets per budget (:data:`SAMPLES`).
        replace: allow replacing a quantity registered before (never a built-in).

    Raises:
        ValueError: empty name, a built-in name, a name already registered (without
            ``replace``), unknown cost.
        TypeError: ``fn`` not callable or not taking ``(model, params, batch)``; a name or
            description that is not a string.

    >>> import torch
    >>> q = register_quantity("weight_sq", lambda model, params, batch: sum(
    ...     (p ** 2).sum() for p in params.values()), description="Σ θ²", replace=True)
    >>> QUANTITIES["weight_sq"], q.cost
    ('Σ θ²', 'network')
    >>> unregister_quantity("weight_sq")
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if not name.strip() or name != name.strip():
        raise ValueError(f"name must be a non-empty string without surrounding spaces, got "
                         f"{name!r}")
    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {description!r}")
    cost = check_choice("cost", cost, COSTS)
    if name in _TABLE and _TABLE[name].builtin:
        raise ValueError(f"quantity {name!r} is a built-in quantity and cannot be registered "
                         f"again; choose another name (built-ins: {list(_BUILTIN_QUANTITIES)})")
    if name in _TABLE and not replace:
        raise ValueError(f"quantity {name!r} is already registered; pass replace=True or call "
                         f"unregister_quantity({name!r}) first")

    def add(f: Any) -> Quantity:
        if not callable(f):
            raise TypeError(f"fn must be a callable fn(model, params, batch) -> tensor, got "
                            f"{f!r}")
        try:
            inspect.signature(f).bind(None, None, None)
        except TypeError:
            raise TypeError(f"fn must take three arguments (model, params, batch), got "
                            f"{getattr(f, '__name__', f)}{inspect.signature(f)}") from None
        except ValueError:  # pragma: no cover - no signature (builtins): accept
            pass
        q = Quantity(name, description or getattr(f, "__name__", name), cost, f, False)
        _TABLE[name] = q
        return q

    if fn is None:
        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            add(f)
            return f

        return decorator
    return add(fn)


def unregister_quantity(name: str) -> None:
    """Remove a quantity added with :func:`register_quantity` (built-ins cannot be removed).

    Raises:
        ValueError: a built-in or unknown name.
    """
    q = _TABLE.get(name)
    if q is None:
        raise ValueError(f"no registered quantity {name!r}; registered: "
                         f"{[n for n, v in _TABLE.items() if not v.builtin]}")
    if q.builtin:
        raise ValueError(f"quantity {name!r} is built in and cannot be unregistered")
    del _TABLE[name]


def get_quantity(name: str) -> Quantity:
    """The :class:`Quantity` registered under ``name`` (built-in or your own).

    >>> get_quantity("output").builtin
    True
    """
    name = check_choice("quantity", name, tuple(_TABLE))
    return _TABLE[name]


@contextlib.contextmanager
def _quantity_scope() -> Iterator[None]:
    """Quantities registered inside the block are removed (and replaced ones restored) after."""
    saved = dict(_TABLE)
    try:
        yield
    finally:
        _TABLE.clear()
        _TABLE.update(saved)


def _quantity_name(quantity: Any) -> str:
    if isinstance(quantity, Quantity):
        if _TABLE.get(quantity.name) is not quantity:
            raise ValueError(f"quantity {quantity.name!r} is not registered (register it with "
                             "register_quantity)")
        return quantity.name
    return check_choice("quantity", quantity, tuple(_TABLE))


# ============================================================================ bounds


def _allowed_symbols(grid: Mapping[str, Any], network: Mapping[str, Any]) -> list[str]:
    return sorted(set(PARAMETER_NAMES) | set(grid) | set(network))


def _prepare_bound(
    bound: Any, grid: Mapping[str, Any], network: Mapping[str, Any]
) -> tuple[Callable[[dict[str, Any]], float], str]:
    """Validate ``bound`` and return ``(evaluate(params) -> float, description)``."""
    if isinstance(bound, str):
        try:
            bound = sp.sympify(bound)
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(f"bound string {bound!r} is not a sympy expression: {exc}") from None
    if isinstance(bound, (int, float)) and not isinstance(bound, bool):
        bound = sp.Float(bound)
    if isinstance(bound, sp.Basic):
        expr = bound
        allowed = _allowed_symbols(grid, network)
        names = sorted(str(s) for s in expr.free_symbols)
        unknown = [s for s in names if s not in allowed]
        if unknown:
            raise ValueError(
                f"bound has unknown symbol(s) {unknown}; allowed: {allowed} (the keys of grid "
                "and network and the standard parameter names)"
            )
        symbols = sorted(expr.free_symbols, key=str)

        def eval_expr(params: dict[str, Any]) -> float:
            subs: dict[Any, float] = {}
            for s in symbols:
                name = str(s)
                if name not in params or params[name] is None:
                    raise ValueError(
                        f"bound symbol {name!r} has no value at grid point {_short(params)}: "
                        "add it to grid or network"
                    )
                v = params[name]
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                    raise ValueError(
                        f"bound symbol {name!r} must be numeric, got {v!r} at {_short(params)}"
                    )
                subs[s] = float(v)
            try:
                val = complex(sp.N(expr.subs(subs), 17))
            except (TypeError, ValueError):
                raise ValueError(f"bound is not a number at {_short(params)}: "
                                 f"{expr.subs(subs)}") from None
            if abs(val.imag) > 1e-12 * max(1.0, abs(val.real)):
                raise ValueError(f"bound is not real at {_short(params)}: {val}")
            return float(val.real)

        return eval_expr, str(expr)
    if callable(bound):
        try:
            sig = inspect.signature(bound)
        except (TypeError, ValueError):
            sig = None
        var_kw = sig is None or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()
        )
        wanted = [] if sig is None else [
            p.name for p in sig.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        required = [] if sig is None else [
            p.name for p in sig.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.default is inspect.Parameter.empty
        ]
        allowed = _allowed_symbols(grid, network)
        unknown = [n for n in required if n not in allowed]
        if unknown:
            raise ValueError(
                f"bound function needs unknown parameter(s) {unknown}; allowed: {allowed}"
            )

        def eval_fn(params: dict[str, Any]) -> float:
            if var_kw:
                kwargs = dict(params)
            else:
                missing = [n for n in required if params.get(n) is None]
                if missing:
                    raise ValueError(
                        f"bound function parameter(s) {missing} have no value at "
                        f"{_short(params)}: add them to grid or network"
                    )
                kwargs = {n: params[n] for n in wanted if n in params}
            val = bound(**kwargs)
            try:
                return float(val)
            except (TypeError, ValueError):
                raise ValueError(
                    f"bound function must return a real number, got {val!r} at {_short(params)}"
                ) from None

        return eval_fn, getattr(bound, "__name__", repr(bound))
    raise TypeError(
        f"bound must be a sympy expression, a string or a callable(**params), got "
        f"{type(bound).__name__}"
    )


def evaluate_bound(bound: Any, params: Mapping[str, Any]) -> float:
    """Evaluate a bound (sympy expression, string or callable) at one parameter point.

    >>> import sympy as sp
    >>> d = sp.Symbol("depth")
    >>> evaluate_bound(2 ** d, {"depth": 3})
    8.0
    >>> evaluate_bound(lambda depth: depth + 1, {"depth": 3, "width": 5})
    4.0
    """
    ev, _ = _prepare_bound(bound, dict(params), {})
    return ev(dict(params))


# ============================================================================ networks


def _short(params: Mapping[str, Any], limit: int = 160) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "kind")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_network(network: Any) -> dict[str, Any]:
    if not isinstance(network, Mapping):
        raise TypeError(f"network must be a dict, got {type(network).__name__}")
    net = dict(network)
    unknown = [k for k in net if k not in NETWORK_KEYS]
    if unknown:
        raise ValueError(f"network has unknown key(s) {unknown}; allowed: {list(NETWORK_KEYS)}")
    if "kind" not in net:
        if net.get("factory") is not None or net.get("module") is not None:
            net["kind"] = "module"
        else:
            raise ValueError(f"network needs 'kind', one of {list(KINDS)} (or 'factory' / "
                             "'module' for a torch network of your own)")
    check_choice("network['kind']", net["kind"], KINDS)
    if net["kind"] != "module":
        mod_keys = [k for k in MODULE_KEYS if net.get(k) is not None]
        if mod_keys:
            raise ValueError(f"network key(s) {mod_keys} describe a torch network of your own "
                             f"(kind 'module'), not kind {net['kind']!r}")
    return net


def _check_grid(grid: Any) -> list[dict[str, Any]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            f"grid must be a non-empty dict of lists (e.g. {{'depth': [2, 4, 8]}}), got {grid!r}"
        )
    keys = list(grid)
    values: list[list[Any]] = []
    for k in keys:
        v = grid[k]
        seq = list(v) if isinstance(v, (list, tuple, range, np.ndarray)) else [v]
        if not seq:
            raise ValueError(f"grid[{k!r}] is empty; every grid entry needs at least one value")
        if k == "kind":
            raise ValueError("grid cannot vary 'kind'; run check_bound once per kind")
        values.append(seq)
    points: list[dict[str, Any]] = [{}]
    for k, seq in zip(keys, values, strict=True):
        points = [{**p, k: _plain(v)} for p in points for v in seq]
    return points


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _point_params(network: dict[str, Any], point: dict[str, Any], quantity: str) -> dict[str, Any]:
    """Network defaults, then ``network``, then the grid point; derived names filled in."""
    if network.get("kind", "module" if network.get("factory") is not None
                   or network.get("module") is not None else None) == "module":
        return _module_params(network, point, quantity)
    p: dict[str, Any] = {"x": 1.0, "y": 1.0}
    kind = network["kind"]
    if kind == "chain":
        p.update({"activation": "linear"})
    else:
        p.update({"activation": "relu", "init": "he_normal",
                  "output_dim": None if quantity == "norm_ratio" else 1})
    if quantity == "gradient_cosine":
        p["batch"] = 2
    if quantity == "escape_time":
        p.update({"optimizer": "sgd", "lr": 0.1, "threshold": 0.1, "max_steps": 1000,
                  "criterion": "loss"})
    given = {**network, **point}
    if kind == "mlp":
        ignored = [k for k in ("sigma", "bound") if given.get(k) is not None]
        if ignored:
            raise ValueError(
                f"network {ignored[0]}={given[ignored[0]]!r} is not supported for kind 'mlp': "
                f"an mlp's weights follow its 'init' (one of the flatstart.montecarlo.inits "
                f"names); "
                f"use kind 'chain' for a weight law given by sigma or bound"
            )
    p.update(network)
    p.update(point)
    if kind == "chain":
        laws = [k for k in ("init", "sigma", "bound") if p.get(k) is not None]
        if len(laws) > 1:
            raise ValueError(f"a chain's weight law takes exactly one of init, sigma or bound, "
                             f"got {laws} at {_short(point)}")
        if not laws:
            p["init"] = "xavier_normal"
    if "depth" not in p:
        raise ValueError("depth must be given in network or grid")
    p["depth"] = check_int("depth", p["depth"])
    if kind == "mlp":
        if "widths" in p and p["widths"] is not None:
            p["width"] = list(p["widths"])
        if p.get("width") is None:
            raise ValueError("an mlp network needs 'width' (int) or 'widths' (list) in network "
                             "or grid")
        first = p["width"][0] if isinstance(p["width"], list) else p["width"]
        p.setdefault("input_dim", first)
        if p["input_dim"] is None:
            p["input_dim"] = first
        p["n0"] = p["input_dim"]
        if not isinstance(p["width"], list):
            p["n"] = p["width"]
    else:
        p["input_dim"] = p["n0"] = 1
        p["width"] = 1
    p.setdefault("batch", 1)
    if p.get("sigma") is None:
        p["sigma"] = _weight_std(p)
    return p


def _module_params(network: dict[str, Any], point: dict[str, Any], quantity: str
                   ) -> dict[str, Any]:
    """Parameters of a torch network of your own (kind ``"module"``) at one grid point.

    Keys of ``network`` and the grid point that the factory (or the module class) takes as
    keyword parameters are passed to it (private key ``_forward``); the normalized factory is
    ``_factory``. Inputs: ``inputs`` (a tensor ``(batch, *shape)``) or ``input_shape``; ``n0`` and
    ``input_dim`` are the number of input coordinates.
    """
    from flatstart.montecarlo.modules import BATCHING, check_input_shape, make_factory

    p: dict[str, Any] = {"x": 1.0, "y": 1.0, "batching": "auto"}
    if quantity == "gradient_cosine":
        p["batch"] = 2
    if quantity == "escape_time":
        p.update({"optimizer": "sgd", "lr": 0.1, "threshold": 0.1, "max_steps": 1000,
                  "criterion": "loss"})
    given = {**network, **point}
    p.update(given)
    p["kind"] = "module"
    init = p.get("init")
    if init is not None and not callable(init):
        raise ValueError(f"network init={init!r}: for a torch network of your own, init is a "
                         "function init(module) that re-initializes a new module in place (init "
                         "names are for kind 'mlp' and 'chain')")
    fac = make_factory(p.get("factory"), module=p.get("module"), kwargs=p.get("kwargs"),
                       init=init)
    skip = {"kind", "init", *MODULE_KEYS}
    forward = {k: v for k, v in given.items() if k not in skip and (
        k in fac.accepts or (fac.var_keyword and (
            k in _ARCH_KEYS or (k not in NETWORK_KEYS and k not in PARAMETER_NAMES))))}
    unused = [k for k in given if k in _ARCH_KEYS and k not in forward]
    if unused:
        k = unused[0]
        raise ValueError(
            f"network {k}={given[k]!r} is not a keyword parameter of {fac.name} (it takes "
            f"{sorted(fac.accepts)}): a torch network of your own is built by its factory; "
            f"add {k} to the factory's parameters or remove it"
        )
    inputs = p.get("inputs")
    shape = p.get("input_shape")
    if inputs is not None:
        if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point() or (
                inputs.ndim < 2):
            raise ValueError(f"network inputs must be a floating tensor (batch, *input_shape), "
                             f"got {type(inputs).__name__} "
                             f"{tuple(getattr(inputs, 'shape', ()))}")
        if shape is not None and tuple(inputs.shape[1:]) != check_input_shape(shape):
            raise ValueError(f"network inputs have shape {tuple(inputs.shape)}, which does not "
                             f"match input_shape={shape!r}")
        if given.get("batch") is not None and given["batch"] != inputs.shape[0]:
            raise ValueError(f"network batch={given['batch']!r} differs from the "
                             f"{inputs.shape[0]} rows of inputs")
        shape = tuple(inputs.shape[1:])
        p["batch"] = int(inputs.shape[0])
    elif shape is None:
        raise ValueError("a torch network of your own needs input_shape (the shape of one "
                         "input, e.g. (3, 8, 8)) or inputs (a tensor (batch, ...))")
    p["input_shape"] = check_input_shape(shape)
    p["n0"] = p["input_dim"] = math.prod(p["input_shape"])
    p.setdefault("batch", 1)
    p["batching"] = check_choice("network['batching']", p["batching"], BATCHING)
    p["_factory"] = fac
    p["_forward"] = forward
    return p


def _display_params(p: dict[str, Any]) -> dict[str, Any]:
    """``p`` for results and summaries: private keys dropped, callables and tensors named."""
    if p.get("kind") != "module":
        return p
    out: dict[str, Any] = {}
    for k, v in p.items():
        if k.startswith("_"):
            continue
        if isinstance(v, torch.Tensor):
            out[k] = f"tensor{tuple(v.shape)}"
        elif callable(v):
            out[k] = getattr(v, "__qualname__", None) or getattr(v, "__name__", repr(v))
        else:
            out[k] = v
    return out


def _weight_std(p: dict[str, Any]) -> float | None:
    """Std of one weight of the first equal-width layer (chains: the weight law's std)."""
    from flatstart.montecarlo.inits import init_scale

    if p.get("bound") is not None and p.get("init") is None:
        return float(p["bound"]) / math.sqrt(3.0)
    init = p.get("init")
    if init is None:
        return None
    fan = 1 if p.get("width") in (None, 1) else (
        p["width"][0] if isinstance(p["width"], list) else p["width"])
    law, scale = init_scale(init, fan, fan, p.get("gain"))
    if law == "normal":
        return float(scale)
    if law == "uniform":
        return float(scale) / math.sqrt(3.0)
    return float(scale) / math.sqrt(fan)  # orthogonal: entries of variance gain²/n


def _build(p: dict[str, Any], kind: str, count: int, seed: int, device: str) -> Any:
    from flatstart.montecarlo.networks import chains, mlps

    if kind == "module":
        from flatstart.montecarlo.modules import build_modules

        return build_modules(p["_factory"], count, seed, device=device, batching=p["batching"],
                             input_shape=p["input_shape"], **p["_forward"])
    if kind == "chain":
        # exactly one law was given (checked in _point_params); sigma may be derived from it
        given = {k: p[k] for k in ("init", "bound") if p.get(k) is not None}
        if not given:
            given = {"sigma": p["sigma"]}
        kwargs: dict[str, Any] = {"gain": p.get("gain")} if "init" in given else {}
        return chains(count=count, depth=p["depth"], activation=p["activation"],
                      residual=p.get("residual"), seed=seed, device=device,
                      bias=bool(p.get("bias", False)), norm=p.get("norm"), **given, **kwargs)
    return mlps(count=count, width=p["width"], depth=p["depth"], activation=p["activation"],
                init=p["init"], input_dim=p["input_dim"], output_dim=p.get("output_dim"),
                bias=bool(p.get("bias", False)), residual=p.get("residual"), norm=p.get("norm"),
                device=device, seed=seed, gain=p.get("gain"))


def _inputs(p: dict[str, Any], out_dim: int, seed: int, device: str) -> tuple[torch.Tensor,
                                                                             torch.Tensor]:
    """Inputs ``(batch, n0)`` with coordinates of RMS size ``x``; targets ``y`` everywhere."""
    batch = check_int("batch", p["batch"])
    n0 = p["input_dim"]
    x = float(p["x"])
    if batch == 1 and n0 == 1:
        xt = torch.tensor([[x]], dtype=torch.float64)
    else:
        g = torch.Generator().manual_seed(int(seed) % (2**63))
        u = torch.randn(batch, n0, dtype=torch.float64, generator=g)
        u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
        xt = x * math.sqrt(n0) * u
    yt = torch.full((batch, out_dim), float(p["y"]), dtype=torch.float64)
    return xt.to(device), yt.to(device)


def _cost_class(quantity: str, kind: str) -> str:
    q = _TABLE.get(quantity)
    if q is not None and q.cost is not None:
        return q.cost
    if quantity == "escape_time":
        return "training"
    if quantity in ("hessian_norm", "hessian_trace", "lambda_min", "lambda_max"):
        return "cheap" if kind == "chain" else "curvature"
    if kind == "chain" and quantity != "gradient_cosine":
        return "cheap"  # chain Hessians are depth x depth: cheap too
    return "network"


@dataclass
class _Measurement:
    values: np.ndarray
    censored: np.ndarray
    seeds: list[tuple[int, int]]  # (chunk seed, chunk size) in order
    undefined: int


def _measure_chunk(quantity: str, p: dict[str, Any], nets: Any, seed: int,
                   device: str) -> tuple[np.ndarray, np.ndarray]:
    """Values and censoring flags of ``quantity`` on one chunk: through the quantity table."""
    q = _TABLE.get(quantity)
    if q is None:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {list(QUANTITIES)}")
    return q.measure_chunk(p, nets, seed, device)


def _measure_builtin(quantity: str, p: dict[str, Any], nets: Any, seed: int,
                     device: str) -> tuple[np.ndarray, np.ndarray]:
    from flatstart.montecarlo.derivatives import flat_loss, gradient_norms
    from flatstart.montecarlo.modules import ModuleBatch
    from flatstart.montecarlo.per_sample import cosines_from_gram, per_sample_gram

    if isinstance(nets, ModuleBatch):
        return _measure_module(quantity, p, nets, seed, device)
    out_dim = nets.output_dim
    xt, yt = _inputs(p, out_dim, seed + 1, device)
    count = nets.count
    cens = np.zeros(count, dtype=bool)
    if quantity == "output":
        with torch.no_grad():
            out = nets.forward(xt)
        return out[:, 0, :].norm(dim=-1).double().cpu().numpy(), cens
    if quantity == "norm_ratio":
        with torch.no_grad():
            out = nets.forward(xt)
        ratio = out[:, 0, :].square().sum(-1) / xt[0].square().sum()
        return ratio.double().cpu().numpy(), cens
    if quantity in ("gradient_norm", "layer_gradient"):
        r = gradient_norms(nets, xt, yt)
        if quantity == "gradient_norm":
            return np.asarray(r.total, dtype=np.float64), cens
        layer = check_int("layer", p.get("layer"), minimum=1, maximum=nets.depth) if p.get(
            "layer") is not None else _missing("layer", quantity)
        return np.asarray(r.per_layer[:, layer - 1], dtype=np.float64), cens
    if quantity == "gradient_cosine":
        if xt.shape[0] < 2:
            raise ValueError(f"gradient_cosine needs batch >= 2, got batch={xt.shape[0]}")
        cos = cosines_from_gram(per_sample_gram(nets, xt, yt))
        return cos[:, 0, 1].double().cpu().numpy(), cens
    if quantity in _CURVATURE:
        f, theta = flat_loss(nets, xt, yt, index=None)
        return _curvature(quantity, f, theta, p, seed, count, cens)
    if quantity == "escape_time":
        return _escape(p, nets, xt, yt, seed)
    raise ValueError(f"unknown quantity {quantity!r}; allowed: {list(QUANTITIES)}")


def _curvature(quantity: str, f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
               p: dict[str, Any], seed: int, count: int, cens: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Hessian extremes / trace of the flat losses ``f`` at ``theta`` ``(count, P)``: dense up
    to :data:`DENSE_HESSIAN_MAX` parameters, else Lanczos and Hutchinson."""
    from flatstart.montecarlo import curvature as cv

    dim = int(theta.shape[1])
    if dim <= DENSE_HESSIAN_MAX:
        h = cv.dense_hessian(f, theta, method="hvp")
        h = 0.5 * (h + h.transpose(1, 2))
        if quantity == "hessian_trace":
            return torch.diagonal(h, dim1=1, dim2=2).sum(-1).double().cpu().numpy(), cens
        ev = torch.linalg.eigvalsh(h).double().cpu().numpy()
        lo, hi = ev[:, 0], ev[:, -1]
    else:
        if quantity == "hessian_trace":
            tr = cv.hutchinson_trace(f, theta, probes=int(p.get("probes", 100)), seed=seed)
            return np.asarray(tr.estimate, dtype=np.float64).reshape(count), cens
        er = cv.extreme_eigenvalues(f, theta, k=1, which="both", seed=seed, tol=1e-8)
        vals = np.asarray(er.values, dtype=np.float64).reshape(count, -1)
        lo, hi = vals[:, 0], vals[:, -1]
    if quantity == "lambda_min":
        return lo, cens
    if quantity == "lambda_max":
        return hi, cens
    return np.maximum(np.abs(lo), np.abs(hi)), cens


def _escape(p: dict[str, Any], nets: Any, xt: torch.Tensor, yt: torch.Tensor, seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Escape times (:func:`flatstart.montecarlo.training.escape_times`) and censoring."""
    from flatstart.montecarlo.training import escape_times

    res = escape_times(
        nets, (xt, yt), optimizer=p["optimizer"], lr=float(p["lr"]),
        threshold=float(p["threshold"]), max_steps=int(p["max_steps"]),
        criterion=p["criterion"], loss="half_mse", seed=seed,
    )
    return (res.times.double().cpu().numpy(),
            res.censored.cpu().numpy().astype(bool))


def _module_io(p: dict[str, Any], mb: Any, seed: int, device: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat inputs ``(batch, n0)`` (given ``inputs``, or seeded with coordinates of RMS size
    ``x`` as for MLPs) and targets ``y`` everywhere, ``(batch, k)``, of a module network."""
    if p.get("inputs") is not None:
        inp = p["inputs"]
        xt = inp.detach().reshape(inp.shape[0], -1).to(dtype=torch.float64, device=device)
    else:
        xt, _ = _inputs(p, 1, seed, device)
    k = math.prod(mb.output_shape(xt))
    yt = torch.full((xt.shape[0], k), float(p["y"]), dtype=torch.float64, device=xt.device)
    return xt, yt


def _module_layer(p: dict[str, Any], mb: Any, quantity: str) -> list[int]:
    """Indices (into ``mb.parameters()``) of the parameters of layer ``p["layer"]``: a 1-based
    index into ``mb.layer_groups()`` or a module name (prefix of the parameter names)."""
    layer = p.get("layer")
    if layer is None:
        _missing("layer", quantity)
    groups = mb.layer_groups()
    if isinstance(layer, str):
        idx = [i for i, n in enumerate(mb.names) if n == layer or n.startswith(layer + ".")]
        if not idx:
            raise ValueError(f"layer {layer!r} names no parameters; layers (modules owning "
                             f"parameters): {[g for g, _ in groups]}")
        return idx
    li = check_int("layer", layer, minimum=1, maximum=len(groups))
    return groups[li - 1][1]


def _measure_module(quantity: str, p: dict[str, Any], mb: Any, seed: int,
                    device: str) -> tuple[np.ndarray, np.ndarray]:
    """Built-in quantities on copies of a torch network of your own
    (:mod:`flatstart.montecarlo.modules`; batched with vmap, or the loop fallback)."""
    from flatstart.montecarlo import modules as mm
    from flatstart.montecarlo.per_sample import cosines_from_gram

    xt, yt = _module_io(p, mb, seed + 1, device)
    count = mb.count
    cens = np.zeros(count, dtype=bool)
    if quantity in ("output", "norm_ratio"):
        out = mm.outputs(mb, xt)
        if quantity == "output":
            return out[:, 0, :].norm(dim=-1).double().cpu().numpy(), cens
        ratio = out[:, 0, :].square().sum(-1) / xt[0].square().sum()
        return ratio.double().cpu().numpy(), cens
    if quantity in ("gradient_norm", "layer_gradient"):
        grads = mm.gradients(mb, xt, yt)
        sq = torch.stack([g.reshape(count, -1).double().square().sum(dim=1) for g in grads], 1)
        if quantity == "gradient_norm":
            return sq.sum(dim=1).sqrt().cpu().numpy(), cens
        idx = _module_layer(p, mb, quantity)
        return sq[:, idx].sum(dim=1).sqrt().cpu().numpy(), cens
    if quantity == "gradient_cosine":
        if xt.shape[0] < 2:
            raise ValueError(f"gradient_cosine needs batch >= 2, got batch={xt.shape[0]}")
        cos = cosines_from_gram(mm.per_sample_gram(mb, xt, yt))
        return cos[:, 0, 1].double().cpu().numpy(), cens
    if quantity in _CURVATURE:
        f, theta = mm.flat_loss(mb, xt, yt)
        return _curvature(quantity, f, theta, p, seed, count, cens)
    if quantity == "escape_time":
        return _escape(p, mb, xt, yt, seed)
    raise ValueError(f"unknown quantity {quantity!r}; allowed: {list(QUANTITIES)}")


def _measure_registered(q: Quantity, p: dict[str, Any], nets: Any, seed: int,
                        device: str) -> tuple[np.ndarray, np.ndarray]:
    """A registered ``fn(model, params, batch)`` on every network of the chunk (vmap over the
    networks, or the loop fallback); chains and MLPs through their ``to_module`` modules."""
    from flatstart.montecarlo.modules import ModuleBatch, quantity_values

    if isinstance(nets, ModuleBatch):
        mb = nets
        xt, yt = _module_io(p, mb, seed + 1, device)
    else:
        mb = ModuleBatch.from_networks(nets, batching=p.get("batching", "auto"))
        xt, yt = _inputs(p, nets.output_dim, seed + 1, device)
    assert q.fn is not None
    try:
        vals = quantity_values(mb, q.fn, xt, yt)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # the user's function: a clear error naming it
        raise ValueError(f"quantity {q.name!r} failed: {type(exc).__name__}: {exc}") from exc
    return vals.cpu().numpy(), np.zeros(mb.count, dtype=bool)


def _missing(name: str, quantity: str) -> int:
    raise ValueError(f"quantity {quantity!r} needs {name!r} in network or grid")


def _seed_for(seed: int, index: int, chunk: int) -> int:
    return derive_seed([seed, index, chunk], bits=62)


def measure(
    quantity: str, params: Mapping[str, Any], count: int, seed: int = 0, device: str = "cpu",
    *, point_index: int = 0,
) -> _Measurement:
    """Measure ``quantity`` on ``count`` independent networks described by ``params``.

    ``params`` is a full parameter dict (``network`` merged with a grid point, as
    :func:`check_bound` builds it: ``kind``, ``depth``, ``width``, ``init``, ``x``, ``y``, ...).
    Networks are built in chunks (memory), chunk ``c`` with seed
    ``SeedSequence([seed, point_index, c])``; values of undefined measurements (the cosine of a
    zero gradient) are dropped and counted. Pure Monte Carlo: no theory formula is used.

    ``quantity`` is any name of :data:`QUANTITIES` (built-in or registered with
    :func:`register_quantity`) or a registered :class:`Quantity`. For a torch network of your
    own ``params`` may simply be its ``network`` dict (``{"module": Net, "input_shape": (8,)}``;
    copy ``i`` of chunk ``c`` is ``modules.module_copy(factory, modules.copy_seed(chunk seed,
    i))``), which is how a user claim's ``simulate`` measures one.
    """
    quantity = _quantity_name(quantity)
    if "_factory" not in params and (params.get("kind") == "module" or params.get(
            "factory") is not None or params.get("module") is not None):
        params = _point_params(_check_network(params), {}, quantity)  # a network dict
    kind = params["kind"]
    probe = _build(dict(params), kind, 1, 0, device)
    per_net = max(1, probe.parameter_count)
    if quantity in _CURVATURE:
        per_net *= min(per_net, DENSE_HESSIAN_MAX) + 1
    chunk = max(1, min(count, _MAX_ELEMENTS // per_net))
    vals, cens, seeds = [], [], []
    done, c = 0, 0
    while done < count:
        m = min(chunk, count - done)
        s = _seed_for(seed, point_index, c)
        nets = _build(dict(params), kind, m, s, device)
        v, z = _measure_chunk(quantity, dict(params), nets, s, device)
        vals.append(v)
        cens.append(z)
        seeds.append((s, m))
        done += m
        c += 1
    values = np.concatenate(vals)
    censored = np.concatenate(cens)
    ok = np.isfinite(values)
    return _Measurement(values, censored, seeds, int(np.sum(~ok)))


# ============================================================================ statistics


def _critical(n: int, delta: float, alpha: float) -> int | None:
    """Smallest k with ``P(Bin(n, δ) ≥ k) ≤ α`` (None if even k = n does not reject)."""
    ks = np.arange(n + 1)
    sf = sps.binom.sf(ks - 1, n, delta)
    hit = np.nonzero(sf <= alpha)[0]
    return int(hit[0]) if hit.size else None


def detection_power(n: int, delta: float, alpha: float) -> float:
    """Power of the exact violation test to detect the rate ``min(2δ, (1+δ)/2)``.

    ``P(Bin(n, δ_alt) ≥ k*)``, ``k*`` the critical count of :func:`_critical`; for ``δ = 0``
    (almost surely) the power to see at least one violation at rate :data:`AS_DETECT_RATE`,
    ``1 − (1 − r)^n``. [ref] exact binomial power.

    >>> round(detection_power(2000, 0.05, 0.01), 3)
    1.0
    >>> detection_power(2000, 0.0005, 0.01) < 0.5
    True
    """
    if n <= 0:
        return 0.0
    if delta == 0.0:
        return float(1.0 - (1.0 - AS_DETECT_RATE) ** n)
    k = _critical(n, delta, alpha)
    if k is None:
        return 0.0
    alt = min(2.0 * delta, 0.5 * (1.0 + delta))
    return float(sps.binom.sf(k - 1, n, alt))


@dataclass
class PointResult:
    """The check at one grid point.

    Attributes:
        params: the full parameters (network + grid point + defaults).
        bound: the bound's value there.
        n: defined samples used; ``undefined``: dropped undefined samples.
        violations: samples on the wrong side of the bound (censored ones excluded);
            ``unknown``: censored samples that could be violations.
        measured: the statistic compared with the bound (max/min for almost surely, the
            ``1−δ`` (``δ``) quantile for probability, the median, the mean).
        tightness: ``measured / bound`` (``nan`` when the bound is 0).
        statistic, p_value: of the point's test; ``adjusted_p``: after Holm over the grid.
        power: detection power (see :func:`detection_power`); ``None`` for mean statements.
        verdict: ``"holds"``, ``"violated"``, ``"underpowered"`` or ``"inconclusive"``.
        reason: a sentence explaining the verdict.
        worst: the most extreme sample: ``{"value", "seed", "index"}`` (network ``index`` of
            the chunk built with ``seed``).
        quantiles: 5%, 50%, 95% sample quantiles, max and min.
        cp_upper: one-sided Clopper–Pearson upper limit of the violation rate.
    """

    params: dict[str, Any]
    bound: float
    n: int
    undefined: int
    violations: int
    unknown: int
    measured: float
    tightness: float
    statistic: float
    p_value: float
    adjusted_p: float
    power: float | None
    verdict: str
    reason: str
    worst: dict[str, Any]
    quantiles: dict[str, float]
    cp_upper: float
    ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _locate(meas: _Measurement, idx: int) -> dict[str, Any]:
    off = 0
    for s, m in meas.seeds:
        if idx < off + m:
            return {"seed": s, "index": idx - off, "chunk_size": m}
        off += m
    return {"seed": None, "index": idx}  # pragma: no cover


def _test_point(
    meas: _Measurement, bound: float, statement: str, direction: str, delta: float | None,
    alpha: float, params: dict[str, Any],
) -> PointResult:
    v_all = meas.values
    ok = np.isfinite(v_all)
    idx_all = np.nonzero(ok)[0]
    v = v_all[ok]
    cz = meas.censored[ok]
    n = int(v.size)
    sign = 1.0 if direction == "upper" else -1.0
    qs = {"q05": math.nan, "median": math.nan, "q95": math.nan, "min": math.nan, "max": math.nan}
    if n:
        q = np.quantile(v, [0.05, 0.5, 0.95])
        qs = {"q05": float(q[0]), "median": float(q[1]), "q95": float(q[2]),
              "min": float(v.min()), "max": float(v.max())}
    # violation: the wrong side of the bound; a censored value (a lower limit of the truth)
    # is a sure violation when it already exceeds an upper bound, unknown otherwise.
    wrong = sign * (v - bound) > 0
    if direction == "upper":
        sure = wrong
        unknown_mask = cz & ~wrong
    else:
        sure = wrong & ~cz
        unknown_mask = cz & wrong
    k = int(np.sum(sure))
    unk = int(np.sum(unknown_mask))
    worst_i = int(np.argmax(sign * v)) if n else 0
    worst: dict[str, Any] = {"value": math.nan}
    if n:
        worst = {"value": float(v[worst_i]), **_locate(meas, int(idx_all[worst_i]))}
    d = {"almost_surely": 0.0, "median": 0.5}.get(statement, delta if delta is not None else 0.0)
    cp_up = clopper_pearson_upper(k, n, alpha) if n else 1.0
    ci = None
    if n == 0:
        return PointResult(params, bound, 0, meas.undefined, 0, unk, math.nan, math.nan,
                           math.nan, 1.0, 1.0, 0.0, "underpowered",
                           "no defined samples", worst, qs, 1.0)
    if statement == "mean":
        mean = float(np.mean(v))
        measured = mean
        sd = float(np.std(v, ddof=1)) if n > 1 else math.inf
        se = sd / math.sqrt(n)
        tq = float(sps.t.ppf(1 - alpha / 2, max(n - 1, 1)))
        ci = (mean - tq * se, mean + tq * se)
        if se == 0.0:
            t = 0.0 if mean == bound else math.copysign(1e300, mean - bound)
        else:
            t = (mean - bound) / se
        p = float(sps.t.sf(sign * t, max(n - 1, 1)))
        aw = np.abs(v)
        ess = float(aw.sum() ** 2 / np.sum(aw**2)) if np.any(aw > 0) else float(n)
        power: float | None = None
        if unk or np.any(cz):
            verdict, reason = "inconclusive", "censored samples: the mean is not identified"
            p = 1.0
        elif ess < max(MIN_ESS, ESS_FRACTION * n):
            verdict = "underpowered"
            reason = (f"heavy-tailed sample (effective sample size {ess:.0f} of {n}): the sample "
                      "mean is dominated by a few values; state the bound on the median or a "
                      "probability, or on log-moments")
            p = 1.0
        else:
            verdict, reason = "holds", f"mean {mean:.4g} vs bound {bound:.4g} (t = {t:.3g})"
        statistic = t
    else:
        p = float(sps.binom.sf(k - 1, n, d)) if k > 0 else 1.0
        if statement == "almost_surely":
            p = 0.0 if k > 0 else 1.0
        power = detection_power(n, d, alpha)
        statistic = float(k)
        if statement == "almost_surely":
            measured = float(v.max() if direction == "upper" else v.min())
        elif statement == "median":
            measured = float(np.median(v))
        else:
            level = 1.0 - d if direction == "upper" else d
            measured = float(np.quantile(v, level))
        # would the censored unknowns have made it reject?
        p_worst = float(sps.binom.sf(k + unk - 1, n, d)) if k + unk > 0 else 1.0
        if statement == "almost_surely":
            p_worst = 0.0 if k + unk > 0 else 1.0
        if p > alpha and p_worst <= alpha:
            verdict = "inconclusive"
            reason = (f"{unk} censored sample(s) could be violations (raise max_steps)")
        elif power < POWER:
            verdict = "underpowered"
            what = (f"a violation rate of {AS_DETECT_RATE}" if d == 0.0 else
                    f"a violation rate of {min(2 * d, 0.5 * (1 + d)):.3g}")
            reason = (f"n = {n} samples detect {what} with probability {power:.2f} < {POWER}: "
                      "raise the budget (or samples)")
        else:
            verdict = "holds"
            reason = f"{k} of {n} violations (rate <= {cp_up:.3g} at {1 - alpha:.0%})"
    tight = measured / bound if bound != 0 else math.nan
    return PointResult(params, bound, n, meas.undefined, k, unk, measured, tight, statistic, p,
                       p, power, verdict, reason, worst, qs, cp_up, ci)


# ============================================================================ result


@dataclass
class BoundResult:
    """Result of :func:`check_bound`.

    Attributes:
        holds: ``True`` (no grid point refutes and every point had power), ``False`` (a
            counterexample), ``None`` (underpowered or inconclusive somewhere).
        failures: one dict per refuted grid point: ``params``, ``seed``, ``count`` and
            ``index`` (the network in the batch of ``count`` built with that seed), ``value``
            (its measured value), ``bound``, ``violations``, ``n``, ``p_value`` (Holm-adjusted),
            ``reproduce`` (code).
        tightness: ``measured / bound`` per grid point (see :class:`PointResult`).
        points: the :class:`PointResult` of every grid point.
    """

    holds: bool | None
    failures: list[dict[str, Any]]
    tightness: list[float]
    points: list[PointResult]
    quantity: str
    statement: str
    direction: str
    delta: float | None
    alpha: float
    budget: str
    seed: int
    bound_text: str
    grid_keys: list[str]
    _figure: Any = field(default=None, repr=False)

    @property
    def verdict(self) -> str:
        """``"holds"``, ``"violated"`` or ``"underpowered"``."""
        return {True: "holds", False: "violated", None: "underpowered"}[self.holds]

    def summary(self) -> str:
        """One paragraph: the claim, the verdict and the worst counterexample."""
        rel = "<=" if self.direction == "upper" else ">="
        what = {
            "almost_surely": f"{self.quantity} {rel} B almost surely",
            "probability": (f"P({self.quantity} {'>' if self.direction == 'upper' else '<'} B)"
                            f" <= {self.delta}"),
            "median": f"median {self.quantity} {rel} B",
            "mean": f"E {self.quantity} {rel} B",
        }[self.statement]
        lines = [f"claim: {what}, B = {self.bound_text}",
                 f"verdict: {self.verdict.upper()} over {len(self.points)} grid point(s) "
                 f"(alpha = {self.alpha}, Holm over the grid, budget {self.budget}, "
                 f"seed {self.seed})"]
        for f in self.failures[:3]:
            lines.append(
                f"counterexample: {_short(f['params'])}: value {f['value']:.6g} vs bound "
                f"{f['bound']:.6g} ({f['violations']}/{f['n']} violations, p = "
                f"{f['p_value']:.3g}); seed {f['seed']}, network {f['index']}")
        for pt in self.points:
            if pt.verdict in ("underpowered", "inconclusive"):
                lines.append(f"{pt.verdict} at {_short(self._key_params(pt))}: {pt.reason}")
                break
        return "\n".join(lines)

    def _key_params(self, pt: PointResult) -> dict[str, Any]:
        return {k: pt.params.get(k) for k in self.grid_keys}

    def table(self) -> str:
        """Markdown table: one row per grid point."""
        head = [*self.grid_keys, "n", "violations", "measured", "bound", "tightness", "p (Holm)",
                "verdict"]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for pt in self.points:
            cells = [str(pt.params.get(k)) for k in self.grid_keys] + [
                str(pt.n), str(pt.violations) + (f" (+{pt.unknown}?)" if pt.unknown else ""),
                f"{pt.measured:.4g}", f"{pt.bound:.4g}", f"{pt.tightness:.3g}",
                f"{pt.adjusted_p:.3g}", pt.verdict,
            ]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary() + "\n" + self.table()

    @property
    def figure(self) -> Figure:
        """Theory vs empirics: measured statistic and bound per grid point, and tightness."""
        if self._figure is None:
            self._figure = _figure(self)
        return self._figure

    def save_figure(self, path: str | Path) -> list[str]:
        """Write the figure; ``path`` with a suffix (.png/.svg/.pdf) or a stem (PNG + SVG)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig = self.figure
        if path.suffix.lower() in (".png", ".svg", ".pdf"):
            fig.savefig(str(path), dpi=110)
            return [str(path)]
        paths = [str(path) + ".png", str(path) + ".svg"]
        fig.savefig(paths[0], dpi=110)
        fig.savefig(paths[1])
        return paths

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (no figure)."""
        return {
            "holds": self.holds, "verdict": self.verdict, "failures": self.failures,
            "tightness": self.tightness, "points": [p.to_dict() for p in self.points],
            "quantity": self.quantity, "statement": self.statement,
            "direction": self.direction, "delta": self.delta, "alpha": self.alpha,
            "budget": self.budget, "seed": self.seed, "bound": self.bound_text,
        }

    def _repr_html_(self) -> str:
        """Jupyter display: the verdict, a table of the grid points with their p-values (raw and
        Holm-adjusted) and the figure embedded as a base64 PNG."""
        esc = html.escape
        color = _COLORS["violated" if self.holds is False else
                        ("holds" if self.holds else "underpowered")]
        claim, _, rest = self.summary().partition("\n")
        head = [*self.grid_keys, "n", "violations", "measured", "bound", "tightness", "p",
                "p (Holm)", "verdict"]
        rows = []
        for pt in self.points:
            cells = [str(pt.params.get(k)) for k in self.grid_keys] + [
                str(pt.n), str(pt.violations) + (f" (+{pt.unknown}?)" if pt.unknown else ""),
                f"{pt.measured:.4g}", f"{pt.bound:.4g}", f"{pt.tightness:.3g}",
                f"{pt.p_value:.3g}", f"{pt.adjusted_p:.3g}",
            ]
            tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
            rows.append(f"<tr>{tds}<td style=\"color:{_COLORS[pt.verdict]}\">"
                        f"{esc(pt.verdict)}</td></tr>")
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80)
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        ths = "".join(f"<th>{esc(h)}</th>" for h in head)
        notes = "".join(f"<li>{esc(line)}</li>" for line in rest.splitlines()[1:])
        return (
            f"<div class=\"flatstart-bound\"><p><b>{esc(claim)}</b><br>"
            f"<span style=\"color:{color}\"><b>{esc(self.verdict.upper())}</b></span> "
            f"over {len(self.points)} grid point(s) (alpha = {self.alpha}, Holm over the grid, "
            f"budget {esc(self.budget)}, seed {self.seed})</p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<img alt=\"measured vs bound\" src=\"data:image/png;base64,{png}\"/></div>"
        )


_COLORS = {"holds": "#2e7d32", "violated": "#c62828", "underpowered": "#ef6c00",
           "inconclusive": "#6a1b9a"}


def _figure(res: BoundResult) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    pts = res.points
    varying = [k for k in res.grid_keys if len({repr(p.params.get(k)) for p in pts}) > 1]
    numeric = [k for k in varying if all(
        isinstance(p.params.get(k), (int, float)) and not isinstance(p.params.get(k), bool)
        for p in pts)]
    xkey = numeric[0] if numeric else None
    others = [k for k in varying if k != xkey]
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pts):
        label = ", ".join(f"{k}={p.params.get(k)}" for k in others)
        groups.setdefault(label, []).append(i)
    xs_all = np.array([float(p.params[xkey]) if xkey else i for i, p in enumerate(pts)])
    bnd_all = np.array([p.bound for p in pts])
    meas_all = np.array([p.measured for p in pts])
    lo_all = np.array([p.quantiles["q05"] for p in pts])
    cycle = ["#1f77b4", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22"]
    for gi, (label, idx) in enumerate(groups.items()):
        ii = np.array(sorted(idx, key=lambda j: xs_all[j]))
        col = cycle[gi % len(cycle)]
        suffix = f" ({label})" if label else ""
        ax1.fill_between(xs_all[ii], lo_all[ii], [pts[j].quantiles["q95"] for j in ii],
                         color=col, alpha=0.12, lw=0,
                         label="samples 5–95%" if gi == 0 else None)
        ax1.plot(xs_all[ii], [pts[j].quantiles["median"] for j in ii], color=col, lw=1,
                 alpha=0.6)
        ax1.plot(xs_all[ii], bnd_all[ii], "--", color=col, lw=1.5, label="bound B" + suffix)
        for j in ii:
            ax1.plot([xs_all[j]], [meas_all[j]], "o", color=_COLORS[pts[j].verdict])
            ax2.plot([xs_all[j]], [res.tightness[j]], "s", color=_COLORS[pts[j].verdict])
        ax2.plot(xs_all[ii], np.array(res.tightness)[ii], "-", color=col, lw=0.8,
                 label=label or None)
    ax1.plot([], [], "o", color="0.3", label=f"measured ({res.statement}); color = verdict")
    vals = np.concatenate([lo_all, bnd_all, meas_all])
    vals = vals[np.isfinite(vals)]
    if vals.size and np.all(vals > 0):
        ax1.set_yscale("log")
    ax1.set_xlabel(xkey or "grid point")
    ax1.set_ylabel(res.quantity)
    ax1.legend(fontsize=7)
    ax1.set_title(f"{res.quantity} vs B = {res.bound_text}"[:80], fontsize=9)
    tight = np.array(res.tightness, dtype=float)
    ax2.axhline(1.0, color="k", ls="--", lw=1)
    fin = tight[np.isfinite(tight)]
    if fin.size and np.all(fin > 0):
        ax2.set_yscale("log")
    if any(groups):
        ax2.legend(fontsize=7)
    ax2.set_xlabel(xkey or "grid point")
    ax2.set_ylabel("measured / bound")
    ax2.set_title(f"tightness; verdict: {res.verdict}", fontsize=9,
                  color=_COLORS["violated" if res.holds is False else
                                ("holds" if res.holds else "underpowered")])
    fig.text(0.01, 0.01, f"statement {res.statement} ({res.direction}), delta {res.delta}, "
             f"alpha {res.alpha}, budget {res.budget}, seed {res.seed}", fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# ============================================================================ check_bound


def check_bound(
    bound: Any,
    quantity: str,
    statement: str,
    grid: Mapping[str, Sequence[Any]],
    network: Mapping[str, Any],
    seed: int = 0,
    budget: str = "quick",
    *,
    delta: float | None = None,
    direction: str = "upper",
    alpha: float = 0.01,
    device: str = "cpu",
    samples: int | None = None,
) -> BoundResult:
    r"""Check a closed-form bound on a quantity of randomly initialized networks.

    At every point of the Cartesian ``grid`` (merged over ``network``), ``samples`` (default:
    by ``budget`` and the quantity's cost, :data:`SAMPLES`) independent networks are built with
    :mod:`flatstart.montecarlo.networks`, the quantity is measured (:data:`QUANTITIES`) and the
    statement is tested against the bound's value there; grid points are combined with Holm's method
    [ref: Holm 1979]. Tests: almost surely — any violation refutes; probability
    ``P(Q > B) ≤ δ`` — exact binomial test (``p = P(Bin(n, δ) ≥ k)``, equivalent to the
    one-sided Clopper–Pearson lower limit exceeding δ [ref: Clopper & Pearson 1934]); median —
    the same with ``δ = ½`` (sign test); mean — one-sided Student t, refused (underpowered) for
    heavy-tailed samples whose effective size ``(Σ|q|)²/Σq²`` is below
    ``max(MIN_ESS, ESS_FRACTION·n)``. ``holds=None`` (underpowered) whenever a point's test had
    power < :data:`POWER` to detect a violation rate ``min(2δ, (1+δ)/2)`` (probability/median) or
    1 % (almost surely), never ``True``.

    Args:
        bound: sympy expression (or string) in the parameter names, or ``callable(**params)``.
            Symbols must be keys of ``grid`` or ``network`` or :data:`PARAMETER_NAMES`.
        quantity: a key of :data:`QUANTITIES` (built-in or added with
            :func:`register_quantity`) or a registered :class:`Quantity`.
        statement: ``"almost_surely"``, ``"probability"``, ``"median"`` or ``"mean"``.
        grid: dict of lists; the Cartesian product is checked (non-empty).
        network: ``kind`` (``"chain"``/``"mlp"``/``"module"``) and any of :data:`NETWORK_KEYS`.
            A torch network of your own (kind ``"module"``, implied by ``factory``/``module``):
            ``factory`` (``seed -> nn.Module``) or ``module`` (an ``nn.Module`` class) with
            ``kwargs`` and ``init`` (``init(module)``), ``input_shape`` (one input's shape) or
            ``inputs`` (a tensor ``(batch, ...)``), ``batching`` (``"auto"``, ``"vmap"``,
            ``"loop"``); keys of ``network`` and ``grid`` that the factory takes as keyword
            parameters are passed to it. Chains and MLPs: ``depth``,
            ``width``/``widths``, ``init`` (chains: or ``sigma``/``bound``), ``activation``,
            ``residual``, ``norm``, ``input_dim``, ``output_dim``, ``x`` and ``y`` (input RMS
            coordinate and target, default 1, 1), ``layer``, ``batch``, and for escape times
            ``optimizer``, ``lr``, ``threshold``, ``max_steps``, ``criterion``.
        seed: run seed (>= 0); point ``i``'s chunk ``c`` uses ``SeedSequence([seed, i, c])``.
        budget: ``"quick"``, ``"standard"`` or ``"full"``.
        delta: δ in (0, 1) for ``statement="probability"`` (or put ``delta`` in the grid).
        direction: ``"upper"`` (``Q ≤ B``) or ``"lower"`` (``Q ≥ B``).
        alpha: family-wise level over the grid.
        device: ``"cpu"`` or ``"cuda"``.
        samples: override the number of networks per grid point.

    Returns:
        A :class:`BoundResult`.

    Raises:
        ValueError: unknown symbol, quantity, statement, direction, network key; empty grid;
            ``delta`` outside (0, 1) for a probability statement.

    >>> import sympy as sp
    >>> L = sp.Symbol("depth")
    >>> r = check_bound(L * 0 + 1e6, "output", "almost_surely", {"depth": [2]},
    ...                 {"kind": "chain", "init": "xavier_normal"}, samples=200)
    >>> r.holds
    True
    """
    quantity = _quantity_name(quantity)
    statement = check_choice("statement", statement, STATEMENTS)
    direction = check_choice("direction", direction, DIRECTIONS)
    alpha = check_probability("alpha", alpha)
    seed = check_int("seed", seed, minimum=0)
    budget = check_budget(budget)
    device = check_device(device)
    net = _check_network(network)
    points = _check_grid(grid)
    if statement == "probability":
        if delta is None and "delta" not in grid and "delta" not in net:
            raise ValueError("statement 'probability' needs delta in (0, 1) (argument, network "
                             "or grid)")
        if delta is not None:
            delta = check_probability("delta", delta)
    elif delta is not None:
        delta = check_probability("delta", delta)
    if samples is not None:
        samples = check_int("samples", samples, minimum=2)
    evaluate, text = _prepare_bound(bound, grid, net)
    kind = net["kind"]
    count = samples if samples is not None else SAMPLES[_cost_class(quantity, kind)][
        _BUDGET_INDEX[budget]]

    results: list[PointResult] = []
    full: list[dict[str, Any]] = []
    for i, point in enumerate(points):
        params = _point_params(net, point, quantity)
        if delta is not None and "delta" not in point:
            params.setdefault("delta", delta)
        d_here = params.get("delta") if statement == "probability" else None
        if statement == "probability":
            d_here = check_probability("delta", d_here)
        b = evaluate(params)
        if not math.isfinite(b):
            raise ValueError(f"bound is not finite at {_short(point)}: {b}")
        meas = measure(quantity, params, count, seed, device, point_index=i)
        full.append(params)
        results.append(_test_point(meas, b, statement, direction, d_here, alpha,
                                   _display_params(params)))

    pvals = [pt.p_value for pt in results]
    rej, adj = holm(pvals, alpha)
    for pt, r, a in zip(results, rej, adj, strict=True):
        pt.adjusted_p = float(a)
        if r:
            pt.verdict = "violated"
            pt.reason = (f"{pt.violations} of {pt.n} violations; Holm-adjusted p = {a:.3g} <= "
                         f"{alpha}")
        elif pt.verdict == "holds" and statement == "almost_surely" and pt.violations:
            pt.verdict = "violated"  # pragma: no cover - p = 0 always rejects
    failures = []
    for pt, params in zip(results, full, strict=True):
        if pt.verdict != "violated":
            continue
        w = pt.worst
        failure = {
            "params": {k: v for k, v in pt.params.items()}, "seed": w.get("seed"),
            "index": w.get("index"), "count": w.get("chunk_size"), "value": w["value"],
            "bound": pt.bound,
            "measured": pt.measured, "violations": pt.violations, "n": pt.n,
            "p_value": pt.adjusted_p,
            "reproduce": _reproduce(params, w),
        }
        if params["kind"] == "module" and w.get("seed") is not None:
            from flatstart.montecarlo.modules import copy_seed

            failure["copy_seed"] = copy_seed(w["seed"], w["index"])
        failures.append(failure)
    if failures:
        holds: bool | None = False
    elif any(pt.verdict != "holds" for pt in results):
        holds = None
    else:
        holds = True
    return BoundResult(
        holds=holds, failures=failures, tightness=[pt.tightness for pt in results],
        points=results, quantity=quantity, statement=statement, direction=direction,
        delta=delta, alpha=alpha, budget=budget, seed=seed, bound_text=text,
        grid_keys=list(grid),
    )


def _reproduce(params: dict[str, Any], worst: dict[str, Any]) -> str:
    if params["kind"] == "module":
        from flatstart.montecarlo.modules import copy_seed

        fac = params["_factory"]
        what = (fac.name if fac.fn is not None else
                f"make_factory(module={fac.name}, kwargs={fac.kwargs!r}"
                + (f", init={getattr(fac.init, '__name__', fac.init)}" if fac.init else "") + ")")
        kw = "".join(f", {k}={v!r}" for k, v in params["_forward"].items())
        cs = (copy_seed(worst["seed"], worst["index"]) if worst.get("seed") is not None
              else None)
        return f"flatstart.montecarlo.modules.module_copy({what}, seed={cs}{kw})"
    keys = ("depth", "width", "init", "sigma", "bound", "activation", "residual", "norm",
            "input_dim", "output_dim")
    args = ", ".join(f"{k}={params[k]!r}" for k in keys
                     if k in params and params[k] is not None
                     and not (params["kind"] == "chain" and k in ("width", "input_dim")))
    fn = "chains" if params["kind"] == "chain" else "mlps"
    return (f"flatstart.montecarlo.networks.{fn}(count={worst.get('chunk_size')}, {args}, "
            f"seed={worst.get('seed')}).select([{worst.get('index')}])")


# ============================================================================ CLI


_FILE_KEYS = ("bound", "quantity", "statement", "grid", "network")
_OPTIONAL_KEYS = ("delta", "seed", "budget", "direction", "alpha", "device", "samples")


def main_check_bound(path: str | Path, out: str | Path | None = None) -> int:
    """``flatstart check-bound FILE``: run :func:`check_bound` from a Python file.

    The file defines ``bound``, ``quantity``, ``statement``, ``grid``, ``network`` and
    optionally ``delta``, ``seed``, ``budget``, ``direction``, ``alpha``, ``device``,
    ``samples`` (the keyword arguments of :func:`check_bound`). Prints the summary and the
    table, writes ``<stem>-check.png`` next to the file (or into ``out``).

    Quantities the file registers (:func:`register_quantity`) are removed again afterwards, so
    the same file can run twice in one process.

    Returns:
        0 the bound holds, 1 it is violated, 2 usage error (missing file, bad definitions),
        3 underpowered / inconclusive.
    """
    with _quantity_scope():
        return _main_check_bound(path, out)


def _main_check_bound(path: str | Path, out: str | Path | None) -> int:
    p = Path(path)
    if not p.is_file():
        print(f"flatstart check-bound: error: no such file {str(p)!r}", file=sys.stderr)
        return 2
    try:
        ns = runpy.run_path(str(p), run_name="__flatstart_bound__")
    except Exception as exc:  # the user's file: report, do not crash
        print(f"flatstart check-bound: error: {p} failed to run: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    missing = [k for k in _FILE_KEYS if k not in ns]
    if missing:
        print(f"flatstart check-bound: error: {p} must define {list(_FILE_KEYS)}; missing "
              f"{missing} (optional: {list(_OPTIONAL_KEYS)})", file=sys.stderr)
        return 2
    kwargs = {k: ns[k] for k in _OPTIONAL_KEYS if k in ns}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = check_bound(ns["bound"], ns["quantity"], ns["statement"], ns["grid"],
                              ns["network"], **kwargs)
    except (ValueError, TypeError) as exc:
        print(f"flatstart check-bound: error: {exc}", file=sys.stderr)
        return 2
    print(res.summary())
    print(res.table())
    folder = Path(out) if out is not None else p.parent
    paths = res.save_figure(folder / f"{p.stem}-check.png")
    print(f"figure: {', '.join(paths)}")
    return {True: 0, False: 1, None: 3}[res.holds]


# ============================================================================ theorem search


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`search_counterexample`.

    Attributes:
        found: a counterexample was found.
        example: the (shrunk) counterexample, or ``None``.
        lhs, bound: both sides at the example (``nan`` when none was found).
        max_examples: the search budget.
    """

    found: bool
    example: Any
    lhs: float
    bound: float
    max_examples: int

    def __str__(self) -> str:
        if not self.found:
            return f"no counterexample in {self.max_examples} examples"
        return f"counterexample: lhs = {self.lhs:.6g} > bound = {self.bound:.6g} at {self.example}"


def search_counterexample(
    bound_fn: Callable[[Any], float],
    lhs_fn: Callable[[Any], float],
    strategy: SearchStrategy[Any],
    max_examples: int = 500,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    direction: str = "upper",
) -> SearchResult:
    """Search ``strategy`` for an input where ``lhs_fn(x) > bound_fn(x)`` (a counterexample).

    Runs :func:`hypothesis.find` with ``derandomize=True`` and no example database (the same
    search every run), ``max_examples`` examples, then shrinks the counterexample to a simple
    one. A violation must exceed round-off: ``lhs > bound (1 + rtol) + atol`` (``direction=
    "lower"``: ``lhs < bound (1 − rtol) − atol``). [ref: property-based testing, MacIver et al.
    2019 (Hypothesis)]

    >>> from hypothesis import strategies as st
    >>> r = search_counterexample(lambda x: x * x, lambda x: x, st.floats(0, 10), 200)
    >>> r.found, r.example  # x > x² on (0, 1): shrinks towards a simple witness
    (True, 0.5)
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    direction = check_choice("direction", direction, DIRECTIONS)
    max_examples = check_int("max_examples", max_examples)

    def violated(x: Any) -> bool:
        lhs, b = float(lhs_fn(x)), float(bound_fn(x))
        if direction == "upper":
            return lhs > b * (1 + rtol) + atol
        return lhs < b * (1 - rtol) - atol

    st_settings = settings(derandomize=True, database=None, max_examples=max_examples,
                           deadline=None, suppress_health_check=list(HealthCheck))
    try:
        ex = find(strategy, violated, settings=st_settings)
    except NoSuchExample:
        return SearchResult(False, None, math.nan, math.nan, max_examples)
    return SearchResult(True, ex, float(lhs_fn(ex)), float(bound_fn(ex)), max_examples)


def gc_thm32_sides(run: Mapping[str, Any]) -> dict[str, float]:
    """Both sides of GC Theorem 3.2 for one SGD run
    (:func:`flatstart.validation.strategies.sgd_runs`).

    ``lhs = min_{1≤k≤T} E‖∇F(w_k)‖²`` exactly (:func:`flatstart.theory.confusion.thm32_lhs`), the
    confusion bound η along every SGD path (enumerated when ``N^{T−1} ≤ 5000``, else the
    global sup), and the printed ``ρ(F(w_1) − F*)/T + ρη`` and corrected
    ``ρ(F(w_1) − F*)/(αT) + ρη(N−1)/N`` bounds, ``ρ = 2N/(2 − NLα)``. [paper: GC Thm 3.2;
    corrected form derived, docs/confusion.md]

    >>> import numpy as np
    >>> from flatstart.theory.confusion import QuadraticFiniteSum
    >>> run = {"problem": QuadraticFiniteSum(np.array([[1.0]]), np.array([[0.0]])),
    ...        "alpha": 0.1, "T": 1, "w1": np.array([1.0])}
    >>> s = gc_thm32_sides(run)
    >>> s["lhs"], round(s["printed"], 6), round(s["corrected"], 6)
    (1.0, 0.526316, 5.263158)
    """
    from flatstart.theory.confusion import thm32_corrected_bound, thm32_lhs, thm32_printed_bound

    prob, alpha, t, w1 = run["problem"], float(run["alpha"]), int(run["T"]), run["w1"]
    lhs = thm32_lhs(prob, w1, alpha, t)
    gap = prob.gap(w1)
    eta = (prob.confusion_eta_along_paths(w1, alpha, t - 1) if prob.n ** (t - 1) <= 5000
           else prob.confusion_eta_global)
    args = (t, alpha, prob.n, prob.smoothness, eta, gap)
    return {"lhs": lhs, "printed": thm32_printed_bound(*args),
            "corrected": thm32_corrected_bound(*args), "eta": eta, "gap": gap}
