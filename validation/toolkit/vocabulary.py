"""The toolkit's words: statements, directions, network kinds and keys, the parameter names a
bound may use (the floor every other toolkit module stands on; imports nothing of flatstart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def _short(params: Mapping[str, Any], limit: int = 160) -> str:
    """``k=v, ...`` of a parameter dict (``kind`` left out), cut to ``limit`` characters."""
    text = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "kind")
    return text if len(text) <= limit else text[: limit - 3] + "..."
