"""A helper in another module that evaluates theory (a bypass of the static layering check)."""

from __future__ import annotations


def helper(x: float) -> float:
    """Calls theory only at run time, through an import inside the function."""
    import importlib

    noise = importlib.import_module("flatstart.theory.noise")
    return float(noise.b_simple(x, 1.0))
