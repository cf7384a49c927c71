"""Static check that a claim's Monte Carlo side never reaches ``theory`` (shared by the tests)."""

from __future__ import annotations

import dis
import types
from typing import Any


def global_names(code: types.CodeType) -> set[str]:
    """Global names loaded by ``code`` and its nested code objects."""
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return {str(n) for n in names}


def reaches_theory(fn: Any, seen: set[int] | None = None) -> list[str]:
    """Names of theory objects reachable from ``fn`` through module globals (static), following
    functions defined in the same module as ``fn``."""
    seen = set() if seen is None else seen
    if id(fn) in seen or not isinstance(fn, types.FunctionType):
        return []
    seen.add(id(fn))
    bad = []
    for name in global_names(fn.__code__):
        obj = fn.__globals__.get(name)
        mod = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
        if isinstance(obj, types.ModuleType):
            mod = obj.__name__
        if str(mod).startswith("theory"):
            bad.append(name)
        elif isinstance(obj, types.FunctionType) and obj.__module__ == fn.__module__:
            bad += reaches_theory(obj, seen)
    return bad
