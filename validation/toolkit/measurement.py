"""Measuring a quantity on ``count`` independent networks: built in chunks (memory), chunk
``c`` of grid point ``i`` seeded with ``SeedSequence([seed, i, c])``; undefined values dropped
and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flatstart._seeds import derive_seed
from flatstart.validation.toolkit.networks import _build, _check_network, _point_params
from flatstart.validation.toolkit.quantities import (
    _TABLE,
    QUANTITIES,
    _memory_per_net,
    _quantity_name,
)

_MAX_ELEMENTS = 2**22  # parameters x networks per chunk


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
    chunk = max(1, min(count, _MAX_ELEMENTS // _memory_per_net(quantity, probe.parameter_count)))
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
