"""Provenance records attached to every Monte Carlo result.

A Monte Carlo result is only reproducible if it says how it was made: which builder, with
which parameters, from which seed, in which dtype, on which device, with which library
versions. :func:`make_provenance` builds that record as a plain JSON-friendly ``dict``;
:class:`Samples` pairs a numpy array with its record.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Samples", "make_provenance", "jsonable"]


@functools.lru_cache(maxsize=1)
def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("flatstart")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def jsonable(value: Any) -> Any:
    """Return ``value`` converted to JSON-friendly builtins (str for dtypes/devices).

    >>> jsonable({"dtype": torch.float64, "w": (1, 2)})
    {'dtype': 'torch.float64', 'w': [1, 2]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.dtype | torch.device):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def make_provenance(
    builder: str,
    parameters: Mapping[str, Any],
    *,
    seed: int | None,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Return the provenance record of a Monte Carlo result.

    The record holds ``builder`` (the function that produced the result), ``parameters``
    (its arguments, JSON-friendly), ``seed``, ``dtype``, ``device`` and the versions of
    torch, numpy, python and flatstart. It is deterministic (no timestamp), so it can be part
    of a content-addressed cache key.

    >>> p = make_provenance("chains", {"depth": 3}, seed=0, dtype=torch.float64, device="cpu")
    >>> p["builder"], p["seed"], p["dtype"], p["parameters"]
    ('chains', 0, 'torch.float64', {'depth': 3})
    """
    return {
        "builder": builder,
        "parameters": jsonable(dict(parameters)),
        "seed": seed,
        "dtype": None if dtype is None else str(dtype),
        "device": None if device is None else str(device),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "flatstart": _package_version(),
    }


@dataclass(frozen=True)
class Samples:
    """A float64 numpy sample array together with its provenance record.

    Attributes:
        values: the samples (numpy, float64).
        provenance: the record from :func:`make_provenance`.
    """

    values: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.values.shape[0])
