"""Budgets, devices and parameter grids: what a claim is run over.

A claim's grid for a budget is a list of parameter dicts (:func:`grid_for`, with fallback to the
next cheaper budget that is given); :func:`by_budget` picks a sample size by budget inside a
claim's ``simulate``. The bottom floor of ``validation``: imports nothing of it but ``_checks``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BUDGETS",
    "DEVICES",
    "by_budget",
    "check_budget",
    "check_device",
    "expand_grid",
    "grid_for",
    "product_grid",
]

BUDGETS: tuple[str, ...] = ("quick", "standard", "full")
"""Budgets from cheapest to most thorough; a claim without a grid for a budget falls back to
the nearest cheaper budget that has one."""


DEVICES: tuple[str, ...] = ("cpu", "cuda")


def product_grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Cartesian product of parameter axes as a list of dicts (first axis varies slowest).

    >>> product_grid(depth=[1, 2], width=[8])
    [{'depth': 1, 'width': 8}, {'depth': 2, 'width': 8}]
    """
    names = list(axes)
    for name in names:
        if isinstance(axes[name], (str, bytes)) or not isinstance(axes[name], Sequence):
            raise TypeError(f"axis {name} must be a sequence of values, got {axes[name]!r}")
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def expand_grid(spec: Any) -> list[dict[str, Any]]:
    """Normalize a grid specification to a list of parameter dicts.

    Accepts a list of dicts (returned as copies), a single dict whose values are all lists
    (their Cartesian product, see :func:`product_grid`), or a single dict of scalars (one
    point).

    >>> expand_grid({"n": [1, 2]})
    [{'n': 1}, {'n': 2}]
    >>> expand_grid([{"n": 1}])
    [{'n': 1}]
    """
    if isinstance(spec, Mapping):
        if spec and all(isinstance(v, (list, tuple)) for v in spec.values()):
            return product_grid(**{str(k): list(v) for k, v in spec.items()})
        return [dict(spec)]
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        out = []
        for i, point in enumerate(spec):
            if not isinstance(point, Mapping):
                raise TypeError(f"grid point {i} must be a dict of parameters, got {point!r}")
            out.append(dict(point))
        if not out:
            raise ValueError("a grid must hold at least one point")
        return out
    raise TypeError(f"a grid must be a list of parameter dicts or a dict of axes, got {spec!r}")


def grid_for(grids: Mapping[str, Any], budget: str) -> list[dict[str, Any]]:
    """The grid of ``budget``, falling back to the nearest cheaper budget that has one.

    >>> grid_for({"quick": [{"n": 1}]}, "full")
    [{'n': 1}]
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {list(BUDGETS)}, got {budget!r}")
    for b in reversed(BUDGETS[: BUDGETS.index(budget) + 1]):
        if b in grids:
            return expand_grid(grids[b])
    raise ValueError(f"no grid for budget {budget!r} or a cheaper one (have {sorted(grids)})")


def by_budget(budget: str, quick: Any, standard: Any = None, full: Any = None) -> Any:
    """Pick a value by budget, falling back to the next cheaper one that is given.

    >>> by_budget("standard", quick=1_000, full=100_000)
    1000
    >>> by_budget("full", 1_000, 10_000, 100_000)
    100000
    """
    check_budget(budget)
    values = {"quick": quick, "standard": standard, "full": full}
    for b in reversed(BUDGETS[: BUDGETS.index(budget) + 1]):
        if values[b] is not None:
            return values[b]
    return quick  # pragma: no cover


def check_budget(budget: Any) -> str:
    """Return ``budget`` if it is one of :data:`BUDGETS`, else raise listing them."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {list(BUDGETS)}, got {budget!r}")
    return str(budget)


def check_device(device: Any) -> str:
    """Return ``device`` if it is "cpu", or "cuda" with a visible GPU; else raise."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but no CUDA device is available; use 'cpu'")
    return str(device)
