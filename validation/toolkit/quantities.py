"""The quantity table: every measurable quantity by name, the built-ins (outputs, gradients,
Hessian spectra and traces, cosines, escape times; measured on chains, MLPs and torch networks of
your own) and those added with :func:`register_quantity`, with their cost classes
(:data:`SAMPLES`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int
from flatstart.validation.toolkit.networks import _chunk_io

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
#: Cost classes of a quantity (the keys of :data:`SAMPLES`).
COSTS: tuple[str, ...] = tuple(SAMPLES)
_CURVATURE = ("hessian_norm", "hessian_trace", "lambda_min", "lambda_max")


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
    """The table name of ``quantity`` (a name or a registered :class:`Quantity`)."""
    if isinstance(quantity, Quantity):
        if _TABLE.get(quantity.name) is not quantity:
            raise ValueError(f"quantity {quantity.name!r} is not registered (register it with "
                             "register_quantity)")
        return quantity.name
    return check_choice("quantity", quantity, tuple(_TABLE))


def _cost_class(quantity: str, kind: str) -> str:
    """The cost class (key of :data:`SAMPLES`) of ``quantity`` on networks of ``kind``."""
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


def _memory_per_net(quantity: str, parameter_count: int) -> int:
    """Tensor elements one network of ``parameter_count`` parameters needs (chunk sizing): its
    parameters, times the columns of a dense Hessian (at most :data:`DENSE_HESSIAN_MAX`) + 1
    for curvature quantities."""
    per_net = max(1, parameter_count)
    if quantity in _CURVATURE:
        per_net *= min(per_net, DENSE_HESSIAN_MAX) + 1
    return per_net


def _measure_builtin(quantity: str, p: dict[str, Any], nets: Any, seed: int,
                     device: str) -> tuple[np.ndarray, np.ndarray]:
    """A built-in quantity on one chunk: chains and MLPs (:mod:`flatstart.montecarlo.networks`)
    or copies of a torch network of your own (:mod:`flatstart.montecarlo.modules`; batched with
    vmap, or the loop fallback)."""
    from flatstart.montecarlo import modules as mm
    from flatstart.montecarlo.derivatives import flat_loss
    from flatstart.montecarlo.per_sample import cosines_from_gram, per_sample_gram

    module = isinstance(nets, mm.ModuleBatch)
    xt, yt = _chunk_io(p, nets, seed + 1, device)
    count = nets.count
    cens = np.zeros(count, dtype=bool)
    if quantity in ("output", "norm_ratio"):
        if module:
            out = mm.outputs(nets, xt)
        else:
            with torch.no_grad():
                out = nets.forward(xt)
        if quantity == "output":
            return out[:, 0, :].norm(dim=-1).double().cpu().numpy(), cens
        ratio = out[:, 0, :].square().sum(-1) / xt[0].square().sum()
        return ratio.double().cpu().numpy(), cens
    if quantity in ("gradient_norm", "layer_gradient"):
        return _gradient(quantity, p, nets, xt, yt, module), cens
    if quantity == "gradient_cosine":
        if xt.shape[0] < 2:
            raise ValueError(f"gradient_cosine needs batch >= 2, got batch={xt.shape[0]}")
        gram = mm.per_sample_gram(nets, xt, yt) if module else per_sample_gram(nets, xt, yt)
        return cosines_from_gram(gram)[:, 0, 1].double().cpu().numpy(), cens
    if quantity in _CURVATURE:
        f, theta = mm.flat_loss(nets, xt, yt) if module else flat_loss(nets, xt, yt, index=None)
        return _curvature(quantity, f, theta, p, seed, count, cens)
    if quantity == "escape_time":
        return _escape(p, nets, xt, yt, seed)
    raise ValueError(f"unknown quantity {quantity!r}; allowed: {list(QUANTITIES)}")


def _gradient(quantity: str, p: dict[str, Any], nets: Any, xt: torch.Tensor, yt: torch.Tensor,
              module: bool) -> np.ndarray:
    """``‖∇_θ ℓ‖₂`` (``gradient_norm``) or the norm over layer ``p["layer"]``'s parameters
    (``layer_gradient``): :func:`flatstart.montecarlo.derivatives.gradient_norms` for chains and
    MLPs, per-parameter gradients (:func:`flatstart.montecarlo.modules.gradients`) for modules."""
    if module:
        from flatstart.montecarlo.modules import gradients

        count = nets.count
        sq = torch.stack([g.reshape(count, -1).double().square().sum(dim=1)
                          for g in gradients(nets, xt, yt)], 1)
        if quantity == "gradient_norm":
            return sq.sum(dim=1).sqrt().cpu().numpy()
        idx = _module_layer(p, nets, quantity)
        return sq[:, idx].sum(dim=1).sqrt().cpu().numpy()
    from flatstart.montecarlo.derivatives import gradient_norms

    r = gradient_norms(nets, xt, yt)
    if quantity == "gradient_norm":
        return np.asarray(r.total, dtype=np.float64)
    layer = check_int("layer", p.get("layer"), minimum=1, maximum=nets.depth) if p.get(
        "layer") is not None else _missing("layer", quantity)
    return np.asarray(r.per_layer[:, layer - 1], dtype=np.float64)


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


def _measure_registered(q: Quantity, p: dict[str, Any], nets: Any, seed: int,
                        device: str) -> tuple[np.ndarray, np.ndarray]:
    """A registered ``fn(model, params, batch)`` on every network of the chunk (vmap over the
    networks, or the loop fallback); chains and MLPs through their ``to_module`` modules."""
    from flatstart.montecarlo.modules import ModuleBatch, quantity_values

    xt, yt = _chunk_io(p, nets, seed + 1, device)
    mb = nets if isinstance(nets, ModuleBatch) else ModuleBatch.from_networks(
        nets, batching=p.get("batching", "auto"))
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
