"""Bounds: a sympy expression, a string sympy parses, a number or a ``callable(**params)``,
validated once against the names a grid point will have (:data:`PARAMETER_NAMES` and the keys of
``grid`` and ``network``) and evaluated at every grid point.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp

from flatstart.validation.toolkit.vocabulary import PARAMETER_NAMES, _short


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
