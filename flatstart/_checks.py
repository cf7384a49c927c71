"""Argument checks: the ground floor that every layer (theory, montecarlo, validation) uses.

Every public function validates its input with these helpers so that bad input raises a
``ValueError``/``TypeError`` naming the parameter, the value and what is allowed, instead of a
NaN or a traceback from deep inside sympy, mpmath or torch. Imports nothing of flatstart.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_choice",
    "check_int",
    "check_positive",
    "check_probability",
    "check_real",
]


def _is_real_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise naming ``name``.

    >>> check_real("x", 2)
    2.0
    """
    if not _is_real_scalar(value):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float that is > 0 (or >= 0 with ``allow_zero``).

    >>> check_positive("sigma", 0.5)
    0.5
    """
    out = check_real(name, value)
    if out < 0 or (out == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return out


def check_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int in ``[minimum, maximum]`` or raise naming ``name``.

    >>> check_int("depth", 3)
    3
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= {minimum}, got the bool {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(
        value
    ).is_integer():
        out = int(float(value))
    else:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if out < minimum or (maximum is not None and out > maximum):
        rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return out


def check_probability(name: str, value: Any, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1] with ``open_interval=False``).

    >>> check_probability("q", 0.5)
    0.5
    """
    out = check_real(name, value)
    if open_interval and not 0.0 < out < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    if not open_interval and not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return out


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise listing the choices.

    >>> check_choice("activation", "relu", ["linear", "relu"])
    'relu'
    """
    options = list(allowed)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
