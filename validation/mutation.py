"""Planted faults in theory: does some claim refute them? (the engine of the mutation benchmark)

A verdict is only earned if a realistic fault in the theory would refute it. This module plants
one fault at a time in a function of ``theory``, in this process, by swapping the function's
code object (``fn.__code__``) for one compiled from edited source, so every reference to the
function (``from flatstart.theory.x import f`` included) runs the faulty code; then it re-evaluates
the claims whose ``predict``/``test`` reach that function, on measurements made once beforehand.

Reusing measurements is sound because a claim's ``simulate`` never executes theory (the
layering guard of :func:`flatstart.validation.executors.run_point` enforces it), so a fault in
theory cannot change a measurement; the measurements are made fresh (no cache) at the start of
a run.

Faults come in two kinds:

* **curated** (:class:`Fault` with ``old``/``new``): a realistic edit of one function's source,
  e.g. ``"sigma ** 2"`` → ``"sigma"``;
* **automatic** (:func:`automatic_faults`): AST operator and constant mutations (``+``↔``-``,
  ``*``↔``/``, ``**``→``*``, a numeric constant ``c`` → ``1.1 c`` or ``n`` → ``n + 1``, a unary
  minus dropped) on the functions that claims reach. We use a small AST mutator of our own
  rather than mutmut or cosmic-ray: those rewrite files on disk and rerun a test command per
  mutant, while here a mutant must be swapped into a running process so measurements made once
  can be reused (a few milliseconds per mutant instead of a full ``verify``).

A fault counts only if it changes what some claim takes from theory by at least ``rtol`` (1%):
the values returned by the calls that ``predict`` and ``test`` make into theory, recorded by
:class:`flatstart.validation.tracing.Recorder` (faults that change nothing are *equivalent*
mutants). It is *detected* when a claim reaching it is refuted (Holm over its grid at its alpha) or
raises."""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib
import inspect
import math
import sys
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flatstart.validation.claim import Claim
from flatstart.validation.executors import guarded_simulate
from flatstart.validation.records import Task, point_seed
from flatstart.validation.stats import holm
from flatstart.validation.tracing import Recorder

__all__ = [
    "ClaimBaseline",
    "Fault",
    "FaultResult",
    "applied",
    "automatic_faults",
    "baseline",
    "evaluate",
    "function_object",
    "numbers",
]


@dataclass(frozen=True)
class Fault:
    """One planted fault in one theory function.

    Attributes:
        target: qualified name, ``"flatstart.theory.hessian.median_bounds"`` or
            ``"flatstart.theory.chains.NeuralChain.median_abs_output"``.
        description: the fault in words ("σ² written as σ").
        old, new: curated faults: ``old`` must occur exactly once in the function's source and
            is replaced by ``new``.
        site: automatic faults: index of the mutation site (see :func:`mutation_sites`).
        kind: "curated" or "automatic".
    """

    target: str
    description: str
    old: str | None = None
    new: str | None = None
    site: int | None = None
    kind: str = "curated"


def function_object(target: str) -> types.FunctionType:
    """The plain function behind a qualified name (through properties, static/class methods
    and ``functools`` wrappers)."""
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = inspect.getattr_static(obj, name)
        break
    else:  # pragma: no cover
        raise ValueError(f"cannot import {target!r}")
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    obj = inspect.unwrap(obj)
    if not isinstance(obj, types.FunctionType):
        raise TypeError(f"{target} is not a Python function ({type(obj).__name__})")
    return obj


# --------------------------------------------------------------------------- automatic sites
_SWAP: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
}
_SKIP_CALLS = ("check_", "_check", "ValueError", "TypeError", "warn")


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Nodes where a mutation cannot change a value: docstrings, raise statements, argument
    checks, default values, asserts."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.Assert)):
            skip |= {id(n) for n in ast.walk(node)}
        elif isinstance(node, ast.Call):
            f = node.func
            name = (f.id if isinstance(f, ast.Name)
                    else f.attr if isinstance(f, ast.Attribute) else "")
            if any(s in name for s in _SKIP_CALLS):
                skip |= {id(n) for n in ast.walk(node)}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                skip |= {id(n) for n in ast.walk(d)}
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                skip |= {id(n) for d in node.decorator_list for n in ast.walk(d)}
                if node.returns is not None:
                    skip |= {id(n) for n in ast.walk(node.returns)}
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(
                        getattr(body[0], "value", None), ast.Constant):
                    skip |= {id(n) for n in ast.walk(body[0])}
        elif isinstance(node, ast.arg) and node.annotation is not None:
            skip |= {id(n) for n in ast.walk(node.annotation)}
        elif isinstance(node, ast.AnnAssign):
            skip |= {id(n) for n in ast.walk(node.annotation)}
    return skip


def mutation_sites(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Mutable nodes of a parsed function, in a fixed order, with what the mutation does."""
    skip = _skipped_nodes(tree)
    sites: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _SWAP:
            a, b = type(node.op).__name__, _SWAP[type(node.op)].__name__
            sites.append((node, f"{a} -> {b} at line {node.lineno}"))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
              and not isinstance(node.value, bool)):
            v = node.value
            sites.append((node, f"constant {v!r} -> {_bumped(v)!r} at line {node.lineno}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sites.append((node, f"unary minus dropped at line {node.lineno}"))
    return sites


def _bumped(v: Any) -> Any:
    """The mutated constant: ``n + 1`` for an int, ``1.1 v`` for a float (0 -> 0.1)."""
    if isinstance(v, int):
        return v + 1
    return v * 1.1 if v != 0 else 0.1


class _Mutator(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit(self, node: ast.AST) -> Any:
        if node is self.target:
            if isinstance(node, ast.BinOp):
                node.op = _SWAP[type(node.op)]()
                return node
            if isinstance(node, ast.Constant):
                node.value = _bumped(node.value)
                return node
            if isinstance(node, ast.UnaryOp):
                return node.operand
        return self.generic_visit(node)


def _source(fn: types.FunctionType) -> str:
    return textwrap.dedent(inspect.getsource(fn))


def automatic_faults(target: str, limit: int | None = 4) -> list[Fault]:
    """Up to ``limit`` automatic faults of one function, spread evenly over its sites."""
    fn = function_object(target)
    sites = mutation_sites(ast.parse(_source(fn)))
    idx = list(range(len(sites)))
    if limit is not None and len(idx) > limit:
        idx = sorted({round(i * (len(sites) - 1) / max(limit - 1, 1)) for i in range(limit)})
    return [Fault(target, sites[i][1], site=i, kind="automatic") for i in idx]


def mutated_code(fault: Fault) -> types.CodeType:
    """Code object of the target function with the fault applied."""
    fn = function_object(fault.target)
    src = _source(fn)
    if fault.old is not None:
        n = src.count(fault.old)
        if n != 1:
            raise ValueError(f"fault {fault.description!r}: {fault.old!r} occurs {n} times in "
                             f"{fault.target} (needs exactly 1)")
        tree = ast.parse(src.replace(fault.old, fault.new or ""))
    else:
        tree = ast.parse(src)
        sites = mutation_sites(tree)
        if fault.site is None or not 0 <= fault.site < len(sites):
            raise ValueError(f"{fault.target} has no mutation site {fault.site}")
        tree = _Mutator(sites[fault.site][0]).visit(tree)
    fdef = tree.body[0]
    if not isinstance(fdef, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise TypeError(f"{fault.target}: source is not a function definition")
    fdef.decorator_list = []
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, fn.__code__.co_firstlineno - 1)
    module = compile(tree, fn.__code__.co_filename, "exec")
    code = next(c for c in module.co_consts
                if isinstance(c, types.CodeType) and c.co_name == fn.__code__.co_name)
    if code.co_freevars != fn.__code__.co_freevars:
        raise TypeError(f"{fault.target}: closures and zero-argument super() are not supported")
    if hasattr(code, "co_qualname"):
        code = code.replace(co_qualname=fn.__code__.co_qualname)
    return code


def _clear_caches() -> None:
    """Drop every memo of theory results: ``lru_cache`` functions of theory and of the
    catalogue, and the catalogue's module-level ``*_CACHE`` dicts (a memo keyed by a law's
    ``repr`` would otherwise serve the truth's numbers to a faulty theory)."""
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith(("flatstart.theory.",
                                                "flatstart.validation.catalogue.")):
            continue
        for key, obj in list(vars(mod).items()):
            if key.endswith("_CACHE") and isinstance(obj, dict):
                obj.clear()
            _clear(obj)
            if inspect.isclass(obj):
                for v in vars(obj).values():
                    _clear(v)


def _clear(obj: Any) -> None:
    clear = getattr(obj, "cache_clear", None)
    if callable(clear) and isinstance(obj, functools._lru_cache_wrapper):
        clear()


@contextmanager
def applied(fault: Fault) -> Iterator[None]:
    """Plant ``fault`` for the duration of the block (code swapped back afterwards; theory's
    ``lru_cache`` memos are cleared on the way in and out)."""
    fn = function_object(fault.target)
    original = fn.__code__
    fn.__code__ = mutated_code(fault)
    _clear_caches()
    try:
        yield
    finally:
        fn.__code__ = original
        _clear_caches()


# --------------------------------------------------------------------------- values
def numbers(obj: Any, depth: int = 0) -> list[float]:
    """The numbers inside a value returned by theory (recursing into containers, dataclasses
    and theory objects; large arrays subsampled at fixed positions)."""
    if depth > 5:
        return []
    if isinstance(obj, (bool, np.bool_)):
        return [float(obj)]
    if isinstance(obj, (int, float, np.integer, np.floating)):
        return [float(obj)]
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            flat = obj.astype(np.float64).ravel()
            if flat.size > 256:
                flat = flat[np.linspace(0, flat.size - 1, 256).astype(int)]
            return flat.tolist()
        if obj.dtype.kind == "c":
            return numbers(np.concatenate([obj.real.ravel(), obj.imag.ravel()]), depth)
        return [v for x in obj.ravel()[:64] for v in numbers(x, depth + 1)]
    if isinstance(obj, dict):
        return [v for k in sorted(obj, key=str) for v in numbers(obj[k], depth + 1)]
    if isinstance(obj, (list, tuple)):
        return [v for x in list(obj)[:64] for v in numbers(x, depth + 1)]
    mod = type(obj).__module__ or ""
    if mod.startswith("mpmath"):
        try:
            c = complex(obj)
            return [c.real] if c.imag == 0 else [c.real, c.imag]
        except (TypeError, ValueError):
            return []
    if mod.startswith("sympy"):
        try:
            return [float(obj)]
        except (TypeError, ValueError):
            return []
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [v for f in dataclasses.fields(obj) for v in numbers(getattr(obj, f.name),
                                                                     depth + 1)]
    if mod.startswith("flatstart.theory.") and hasattr(obj, "__dict__"):
        # a theory object's public state only: private attributes are caches and work grids
        return [v for k in sorted(vars(obj)) if not k.startswith("_")
                for v in numbers(vars(obj)[k], depth + 1)]
    return []


def fingerprint(obj: Any, depth: int = 0) -> str:
    """A short string identifying an argument by value (numbers to 12 digits, arrays by a hash
    of their bytes, theory objects by their type), equal across two runs that pass equal
    arguments.

    >>> fingerprint((1.0, [2, "a"])) == fingerprint((1.0 + 1e-16, [2, "a"]))
    True
    >>> fingerprint(np.arange(3.0)) == fingerprint(np.arange(3.0) + 1)
    False
    """
    if depth > 4:
        return "..."
    if obj is None or isinstance(obj, (bool, np.bool_, str, int, np.integer)):
        return repr(obj)
    if isinstance(obj, (float, np.floating)):
        return format(float(obj), ".12g")
    if isinstance(obj, complex):
        return f"({obj.real:.12g},{obj.imag:.12g})"
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biufc":
            digest = hashlib.sha1(np.ascontiguousarray(obj).tobytes()).hexdigest()[:16]
            return f"array{obj.shape}{digest}"
        return f"array{obj.shape}[" + ",".join(fingerprint(x, depth + 1)
                                               for x in obj.ravel()[:32]) + "]"
    if isinstance(obj, (list, tuple)):
        return "(" + ",".join(fingerprint(x, depth + 1) for x in list(obj)[:64]) + ")"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{k}:{fingerprint(obj[k], depth + 1)}"
                              for k in sorted(obj, key=str)) + "}"
    mod = type(obj).__module__ or ""
    if mod.startswith(("mpmath", "sympy")):
        return str(obj)[:200]
    if mod.startswith("flatstart.theory."):
        # by type only: a fault in a constructor changes the object's state, and the calls made
        # on it must still be compared with the truth's (they are told apart by their order)
        return type(obj).__qualname__
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return type(obj).__qualname__ + fingerprint(
            {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}, depth + 1)
    if callable(obj):
        return getattr(obj, "__qualname__", type(obj).__qualname__)
    return type(obj).__qualname__


def call_key(frame: types.FrameType) -> str:
    """The key of a boundary call: the function and the fingerprint of its arguments."""
    code = frame.f_code
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    local = frame.f_locals
    args = {k: local[k] for k in code.co_varnames[:n] if k in local}
    return f"{getattr(code, 'co_qualname', code.co_name)}{fingerprint(args)}"


def changed(a: Sequence[float], b: Sequence[float], rtol: float = 0.01) -> bool:
    """Whether two number lists differ by at least ``rtol`` relative somewhere (or in length,
    or in which entries are NaN).

    >>> changed([1.0, 2.0], [1.0, 2.001]), changed([1.0], [1.05]), changed([1.0], [1.0, 2.0])
    (False, True, True)
    """
    if len(a) != len(b):
        return True
    for x, y in zip(a, b, strict=True):
        if math.isnan(x) or math.isnan(y):
            if math.isnan(x) != math.isnan(y):
                return True
            continue
        if x == y:
            continue
        if math.isinf(x) or math.isinf(y) or abs(x - y) >= rtol * max(abs(x), abs(y)):
            return True
    return False


# --------------------------------------------------------------------------- claims
@dataclass
class ClaimBaseline:
    """A claim's grid, fresh measurements and the truth's view of theory, for one budget."""

    claim: Claim
    budget: str
    params: list[dict[str, Any]]
    measurements: list[Any]
    values: list[Values]
    refuted: bool
    reached: set[str] = field(default_factory=set)
    seconds: float = 0.0


Values = dict[str, list[float]]


def _observe(claim: Claim, params: dict[str, Any], measurement: Any
             ) -> tuple[Values, float, set[str]]:
    """Predict and test one point under the recorder: (theory values seen, p-value, reached).

    The values are keyed by call (function, arguments and occurrence, :func:`call_key`), so
    that two runs compare the same calls even when a memo (``lru_cache``) spares one of them a
    call.
    """
    with Recorder(["flatstart.theory"], boundary=True, keyer=call_key) as rec:
        prediction = claim.predict(dict(params))
        outcome = claim.test(prediction, measurement, claim.alpha)
    vals: Values = {}
    seen: dict[str, int] = {}
    for call in rec.calls:
        n = seen[call.key] = seen.get(call.key, 0) + 1
        vals[f"{call.key}#{n}"] = numbers(call.value)
    return vals, float(outcome.p_value), set(rec.executed)


def values_changed(a: Values, b: Values, rtol: float = 0.01) -> bool:
    """Whether some call made in both runs returned numbers that differ by ``rtol``
    (:func:`changed`); calls made in one run only (a memo hit, another branch) are not compared.

    >>> values_changed({"f(1)": [1.0], "g": [2.0]}, {"f(1)": [1.05]})
    True
    >>> values_changed({"f(1)": [1.0]}, {"f(2)": [5.0]})
    False
    """
    return any(changed(a[k], b[k], rtol) for k in a.keys() & b.keys())


def baseline(claim: Claim, budget: str = "standard", seed: int = 0) -> ClaimBaseline:
    """Measure a claim's grid once (fresh, no cache) and record what the truth predicts."""
    import time

    t0 = time.perf_counter()
    params = claim.grid(budget)
    meas, values, ps = [], [], []
    reached: set[str] = set()
    for i, p in enumerate(params):
        task = Task(claim_id=claim.id, claim_module=claim.module, index=i, params=p, seed=seed,
                    point_seed=point_seed(seed, claim.id, p), budget=budget, device="cpu",
                    key="")
        m = guarded_simulate(claim, task)
        vals, pv, ran = _observe(claim, p, m)
        meas.append(m)
        values.append(vals)
        ps.append(pv)
        reached |= ran
    rej, _ = holm(ps, claim.alpha)
    return ClaimBaseline(claim, budget, params, meas, values, bool(np.any(rej)), reached,
                         time.perf_counter() - t0)


@dataclass
class FaultResult:
    """What one planted fault did."""

    fault: Fault
    claims: list[str]
    changed: bool
    detected_by: str | None = None
    how: str = ""
    error: str | None = None

    @property
    def detected(self) -> bool:
        """Refuted by some claim, or made it raise."""
        return self.detected_by is not None


def evaluate(fault: Fault, baselines: Iterable[ClaimBaseline], rtol: float = 0.01
             ) -> FaultResult:
    """Plant ``fault`` and run every claim that reaches its function on its measurements.

    Claims are tried in order and the first that refutes (or raises) detects the fault; a fault
    whose values change by less than ``rtol`` everywhere is equivalent (``changed=False``).
    """
    todo = [b for b in baselines if fault.target in b.reached and not b.refuted]
    res = FaultResult(fault, [b.claim.id for b in todo], changed=False)
    try:
        ctx = applied(fault)
        ctx.__enter__()
    except Exception as exc:  # the fault cannot be compiled: not a fault of the theory
        res.error = f"{type(exc).__name__}: {exc}"
        res.how = "not applicable"
        return res
    try:
        for b in todo:
            ps = []
            for p, m, vals in zip(b.params, b.measurements, b.values, strict=True):
                try:
                    got, pv, _ = _observe(b.claim, p, m)
                except Exception as exc:
                    res.changed = True
                    res.detected_by, res.how = b.claim.id, "error"
                    res.error = f"{type(exc).__name__}: {str(exc)[:200]}"
                    return res
                if values_changed(vals, got, rtol):
                    res.changed = True
                ps.append(pv)
            rej, _ = holm(ps, b.claim.alpha)
            if bool(np.any(rej)):
                res.changed = True
                res.detected_by, res.how = b.claim.id, "refuted"
                return res
        return res
    finally:
        ctx.__exit__(None, None, None)


def reached_functions(baselines: Iterable[ClaimBaseline]) -> list[str]:
    """Theory functions that some claim reaches (argument checks live outside theory, in
    ``flatstart._checks``)."""
    out: set[str] = set()
    for b in baselines:
        out |= set(b.reached)
    return sorted(n for n in out if "<" not in n)


def mutable_targets(names: Iterable[str]) -> list[str]:
    """The names that resolve to plain functions whose source can be edited."""
    ok = []
    for n in names:
        try:
            function_object(n)
        except Exception:
            continue
        ok.append(n)
    return ok


Callback = Callable[[FaultResult], None]
