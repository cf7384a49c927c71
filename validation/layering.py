"""The rule that makes a check non-circular: a claim's ``simulate`` never uses theory.

Two passes, both used by the catalogue tests and available for users' own claims:

* :func:`static_violations` (fast, no execution): theory objects that ``simulate`` names
  through module globals, following functions of its own module, plus *module constants whose
  value was computed from theory* (an assignment at module level whose right-hand side names a
  theory import or another such constant).
* :func:`traced_violations` (cannot be fooled by indirection): runs ``simulate`` under
  :class:`flatstart.validation.tracing.Recorder` and returns every function of ``theory`` that
  executed, however it was reached: a local ``from theory... import`` inside ``simulate``, a helper
  in another module, a closure, a method.

:func:`check_simulate` runs both and raises ``AssertionError`` with the offending names.
"""

from __future__ import annotations

import ast
import dis
import inspect
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flatstart.validation.tracing import Recorder

__all__ = ["check_simulate", "global_names", "static_violations", "traced_violations"]

THEORY = "flatstart.theory"


def _in_theory(name: str, roots: Sequence[str] = (THEORY,)) -> bool:
    """Whether a dotted module name is one of ``roots`` (``flatstart.theory``) or below one."""
    return any(name == r or name.startswith(r + ".") for r in roots)


def _roots(theory_modules: Sequence[str]) -> tuple[str, ...]:
    """``flatstart.theory`` followed by a user's own theory modules (validated names)."""
    if isinstance(theory_modules, str):
        theory_modules = [theory_modules]
    extra = []
    for m in theory_modules:
        if not isinstance(m, str) or not m or any(not part.isidentifier()
                                                  for part in m.split(".")):
            raise ValueError(f"theory_modules must be dotted module names, got {m!r}")
        extra.append(m)
    return (THEORY, *dict.fromkeys(extra))


def global_names(code: types.CodeType) -> set[str]:
    """Global names loaded by ``code`` and its nested code objects."""
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return {str(n) for n in names}


def _absolute(name: str, level: int, package: str | None) -> str:
    """The absolute module name of ``from <level dots><name> import ...`` inside ``package``
    (``name`` unchanged for an absolute import or when the package is unknown)."""
    if level <= 0 or not package:
        return name
    parts = package.split(".")
    if level - 1 >= len(parts):
        return name
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{name}" if name else base


def _imports_theory(code: types.CodeType, roots: Sequence[str] = (THEORY,),
                    package: str | None = None) -> list[str]:
    """Modules of ``theory`` (or of ``roots``) imported inside ``code`` (a local import);
    relative imports are resolved against ``package``."""
    ins = list(dis.get_instructions(code))
    out = []
    for i, x in enumerate(ins):
        if x.opname != "IMPORT_NAME":
            continue
        name = str(x.argval)
        # ``from flatstart import theory``: the fromlist (the constant loaded just before)
        fromlist = ins[i - 1].argval if i and ins[i - 1].opname == "LOAD_CONST" else None
        level = ins[i - 2].argval if i > 1 and ins[i - 2].opname == "LOAD_CONST" else 0
        if isinstance(level, int) and level > 0:
            name = _absolute(name, level, package)
        if _in_theory(name, roots):
            out.append(name)
            continue
        for item in fromlist or ():
            if isinstance(item, str) and _in_theory(f"{name}.{item}", roots):
                out.append(f"{name}.{item}")
                break
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += _imports_theory(const, roots, package)
    return out


def _is_theory(obj: Any, roots: Sequence[str] = (THEORY,)) -> bool:
    if isinstance(obj, types.ModuleType):
        return _in_theory(obj.__name__, roots)
    mod = getattr(obj, "__module__", None)
    return isinstance(mod, str) and _in_theory(mod, roots)


def _tainted_constants(module_name: str, roots: Sequence[str] = (THEORY,)) -> set[str]:
    """Module-level names whose value was computed from theory (taint through assignments)."""
    module = sys.modules.get(module_name)
    if module is None:
        return set()
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return set()
    tainted: set[str] = set()
    package = getattr(module, "__package__", None)
    for node in tree.body:
        source = (_absolute(node.module or "", node.level, package)
                  if isinstance(node, ast.ImportFrom) else "")
        if isinstance(node, ast.ImportFrom) and _in_theory(source, roots):
            tainted |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and source:
            tainted |= {a.asname or a.name for a in node.names
                        if _in_theory(f"{source}.{a.name}", roots)}
        elif isinstance(node, ast.Import):
            tainted |= {a.asname or a.name.split(".")[0] for a in node.names
                        if _in_theory(a.name, roots)}
    assigns: list[tuple[list[str], set[str]]] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        assigns.append((names, used))
    changed = True
    constants: set[str] = set()
    while changed:
        changed = False
        for names, used in assigns:
            if used & (tainted | constants) and not set(names) <= constants:
                constants |= set(names)
                changed = True
    return constants


def static_violations(fn: Callable[..., Any], theory_modules: Sequence[str] = ()) -> list[str]:
    """Theory objects that ``fn`` reaches statically (see the module docstring).

    Follows functions defined in ``fn``'s own module; reports theory functions, classes and
    modules named as globals, local imports of theory, and module constants computed from
    theory (``NAME (computed from theory)``).

    Args:
        fn: the function to inspect (a claim's ``simulate``).
        theory_modules: a user's own theory modules (dotted names, e.g. ``["mypkg.theory"]``),
            checked like ``flatstart.theory``: their functions, classes and modules named in
            ``fn``, imports of them, and module constants computed from them are violations.
            Empty (the default): ``flatstart.theory`` only.

    Returns:
        The offending names (empty when ``fn`` is free of theory).
    """
    roots = _roots(theory_modules)
    seen: set[int] = set()
    bad: list[str] = []
    tainted_cache: dict[str, set[str]] = {}

    def visit(f: Any) -> None:
        f = inspect.unwrap(f) if callable(f) else f
        if id(f) in seen or not isinstance(f, types.FunctionType):
            return
        seen.add(id(f))
        package = f.__globals__.get("__package__")
        bad.extend(f"import {m}" for m in _imports_theory(f.__code__, roots, package))
        mod = f.__module__
        if mod not in tainted_cache:
            tainted_cache[mod] = _tainted_constants(mod, roots)
        for name in sorted(global_names(f.__code__)):
            if name not in f.__globals__:
                continue
            obj = f.__globals__[name]
            if _is_theory(obj, roots):
                bad.append(name)
            elif name in tainted_cache[mod] and not callable(obj):
                bad.append(f"{name} (computed from theory)")
            elif isinstance(obj, types.FunctionType) and obj.__module__ == f.__module__:
                visit(obj)
        for cell in f.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if _is_theory(value, roots):
                bad.append(f"{getattr(value, '__name__', repr(value))} (closure)")
            elif isinstance(value, types.FunctionType):
                visit(value)

    visit(fn)
    return bad


def traced_violations(simulate: Callable[..., Any], params: Mapping[str, Any], seed: int = 0,
                      device: str = "cpu", budget: str = "quick") -> tuple[Any, list[str]]:
    """Run ``simulate(params, seed, device, budget)`` under the profiler; return its result and
    the sorted names of the theory functions that executed (empty when the rule holds)."""
    with Recorder([THEORY]) as rec:
        out = simulate(dict(params), seed, device, budget)
    return out, sorted(rec.executed)


def check_simulate(simulate: Callable[..., Any], params: Mapping[str, Any] | None = None,
                   seed: int = 0, device: str = "cpu", budget: str = "quick",
                   label: str = "simulate") -> None:
    """Raise ``AssertionError`` if ``simulate`` reaches theory, statically or when run.

    With ``params=None`` only the static pass runs.
    """
    static = static_violations(simulate)
    if static:
        raise AssertionError(f"{label} reaches theory statically: {', '.join(static)}")
    if params is None:
        return
    _, ran = traced_violations(simulate, params, seed, device, budget)
    if ran:
        shown = ", ".join(ran[:8]) + (f" and {len(ran) - 8} more" if len(ran) > 8 else "")
        raise AssertionError(f"{label} executed theory code: {shown}")
