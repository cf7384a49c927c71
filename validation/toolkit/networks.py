"""Networks from a ``network`` dict: checking it and the grid, the full parameters of one grid
point (defaults, derived ``sigma``, ``n``, ``n0``; a torch network of your own through its
factory), building ``count`` networks (:mod:`flatstart.montecarlo.networks` or
:mod:`flatstart.montecarlo.modules`) and their seeded inputs and targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from flatstart._checks import check_choice, check_int
from flatstart.validation.toolkit.vocabulary import (
    _ARCH_KEYS,
    KINDS,
    MODULE_KEYS,
    NETWORK_KEYS,
    PARAMETER_NAMES,
    _short,
)


def _check_network(network: Any) -> dict[str, Any]:
    """A copy of ``network`` with known keys only and ``kind`` set (``"module"`` implied by
    ``factory`` / ``module``); raises ValueError / TypeError naming what is allowed."""
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
    """The points of the Cartesian product of ``grid`` (dict of lists; scalars are one value)."""
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
    """A numpy scalar as a Python int / float (anything else unchanged)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _quantity_defaults(p: dict[str, Any], quantity: str) -> None:
    """Defaults a quantity adds to ``p`` (in place): two inputs for ``gradient_cosine``; the
    optimizer, step size, threshold, step limit and criterion of ``escape_time``."""
    if quantity == "gradient_cosine":
        p["batch"] = 2
    if quantity == "escape_time":
        p.update({"optimizer": "sgd", "lr": 0.1, "threshold": 0.1, "max_steps": 1000,
                  "criterion": "loss"})


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
    _quantity_defaults(p, quantity)
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
    _quantity_defaults(p, quantity)
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
    """``count`` networks of ``kind`` with parameters ``p`` built from ``seed``."""
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


def _chunk_io(p: dict[str, Any], nets: Any, seed: int, device: str
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of one chunk of networks: :func:`_module_io` for a torch network of
    your own, :func:`_inputs` (one target column per output) for chains and MLPs."""
    from flatstart.montecarlo.modules import ModuleBatch

    if isinstance(nets, ModuleBatch):
        return _module_io(p, nets, seed, device)
    return _inputs(p, nets.output_dim, seed, device)
