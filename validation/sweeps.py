"""Parameter grids, cache keys, per-point seeds and the unit of work (one grid point).

A claim's grid for a budget is a list of parameter dicts; every grid point is an independent
task (:class:`Task`) whose result is a :class:`PointRecord`. :func:`run_point` is the pure
function every executor runs: predict, simulate (under the layering guard: a ``simulate`` that
executes any theory frame is an error), test, test the mutant, time it, and turn any
``Exception`` into a record with ``error`` set (``KeyboardInterrupt`` still propagates).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import json
import math
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flatstart._seeds import derive_seed
from flatstart.validation.stats import TestOutcome

if TYPE_CHECKING:
    from flatstart.validation.claims import Claim

__all__ = [
    "BUDGETS",
    "LayeringError",
    "guarded_simulate",
    "PointRecord",
    "Task",
    "canonical_json",
    "code_fingerprint",
    "describe",
    "expand_grid",
    "flatstart_version",
    "grid_for",
    "library_versions",
    "package_roots",
    "point_key",
    "point_seed",
    "product_grid",
    "run_point",
    "source_tree_hash",
]

BUDGETS: tuple[str, ...] = ("quick", "standard", "full")
"""Budgets from cheapest to most thorough; a claim without a grid for a budget falls back to
the nearest cheaper budget that has one."""

CACHE_SCHEMA = "2"
"""Bumped whenever the layout of a cached :class:`PointRecord` changes."""


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


def _jsonable_key(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable_key(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable_key(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return repr(f) if not math.isfinite(f) else f
    if obj is None or isinstance(obj, str):
        return obj
    return repr(obj)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces) used for hashing.

    >>> canonical_json({"b": 1, "a": [1.0, "x"]})
    '{"a":[1.0,"x"],"b":1}'
    """
    return json.dumps(_jsonable_key(obj), sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def flatstart_version() -> str:
    """Installed version of the ``flatstart`` distribution ("unknown" when not installed)."""
    try:
        from importlib.metadata import version

        return version("flatstart")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


#: Packages whose source is part of every cache key (a claim's ``predict``, ``simulate`` and
#: ``test`` can reach any of them).
CODE_PACKAGES: tuple[str, ...] = ("flatstart", "flatstart.theory", "flatstart.montecarlo",
                                  "flatstart.validation")

#: Third-party libraries whose versions are part of every cache key.
KEY_LIBRARIES: tuple[str, ...] = ("torch", "numpy", "scipy", "sympy", "mpmath")


def package_roots() -> list[Path]:
    """Folders of the installed :data:`CODE_PACKAGES` (where their ``__init__.py`` lives)."""
    roots = []
    for name in CODE_PACKAGES:
        module = importlib.import_module(name)
        roots.append(Path(module.__file__ or "").resolve().parent)
    return roots


_TREE_HASHES: dict[tuple[Any, ...], str] = {}


def source_tree_hash(roots: Sequence[str | Path]) -> str:
    """sha256 over the path (relative to its root) and bytes of every ``*.py`` file below
    ``roots``.

    Memoized on the files' ``(path, size, mtime_ns)`` signature, so an edited file (new mtime
    or size) is read again while an unchanged tree costs one directory walk.
    """
    files: list[tuple[str, Path]] = []
    for i, root in enumerate(roots):
        root = Path(root)
        for f in sorted(root.rglob("*.py")):
            if "__pycache__" in f.parts:
                continue
            files.append((f"{i}:{f.relative_to(root).as_posix()}", f))
    signature = tuple((name, *_stat(f)) for name, f in files)
    found = _TREE_HASHES.get(signature)
    if found is not None:
        return found
    h = hashlib.sha256()
    for name, f in files:
        h.update(name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    digest = h.hexdigest()
    _TREE_HASHES.clear()  # one tree at a time is all a run needs
    _TREE_HASHES[signature] = digest
    return digest


def _stat(f: Path) -> tuple[int, int]:
    st = f.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries in :data:`KEY_LIBRARIES` ("missing" when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in KEY_LIBRARIES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "missing"
    return out


def _module_file(module_name: str) -> Path | None:
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception:
            return None
    f = getattr(module, "__file__", None)
    return Path(f).resolve() if f else None


def code_fingerprint(claim: Claim, roots: Sequence[str | Path] | None = None) -> str:
    """Hash of all the code a claim's result can depend on.

    Covers the source of every module of ``theory``, ``montecarlo`` and ``validation``
    (``roots``, default :func:`package_roots`: a claim's ``predict``, ``simulate`` and ``test``
    can reach any of them), the source of the modules that define the claim's functions when
    they live outside those packages (a user's claim file), and the versions of torch, numpy,
    scipy, sympy and mpmath. Editing any of that code changes every key it can affect; editing
    tests, docs or benchmarks changes none.
    """
    base = [Path(r).resolve() for r in (roots if roots is not None else package_roots())]
    fns = [claim.predict, claim.simulate, claim.test, claim.mutant]
    extra = []
    for m in sorted({getattr(f, "__module__", None) or "?" for f in fns}):
        f = _module_file(m)
        if f is not None and f.is_file() and not any(_is_below(f, r) for r in base):
            extra.append(hashlib.sha256(f.read_bytes()).hexdigest())
    material = {
        "tree": source_tree_hash(base),
        "outside": extra,
        "libraries": library_versions(),
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()[:32]


def _is_below(f: Path, root: Path) -> bool:
    try:
        f.relative_to(root)
    except ValueError:
        return False
    return True


def point_seed(seed: int, claim_id: str, params: Mapping[str, Any]) -> int:
    """Seed of one grid point: derived from the run seed, the claim id and the parameters.

    ``SeedSequence([seed, h])`` with ``h`` the first 64 bits of sha256(claim id, parameters),
    reduced to a nonnegative 63-bit int (valid for numpy and torch generators). Independent of
    the grid's order, so reordering or extending a grid keeps finished points' seeds.

    >>> point_seed(0, "X.y", {"n": 1}) == point_seed(0, "X.y", {"n": 1})
    True
    >>> point_seed(0, "X.y", {"n": 1}) != point_seed(1, "X.y", {"n": 1})
    True
    """
    h = hashlib.sha256(canonical_json([claim_id, params]).encode()).digest()
    words = [int(seed) & 0xFFFFFFFF, int(seed) >> 32, *np.frombuffer(h[:8], dtype=np.uint32)]
    return derive_seed(words)


def point_key(
    claim: Claim, params: Mapping[str, Any], budget: str, seed: int, device: str,
    code: str | None = None,
) -> str:
    """Content address of one grid point's result: sha256 of everything it depends on.

    The key covers the claim id and ``version``, the parameters, budget, run seed, device,
    the flatstart version, a fingerprint of all the code the result can depend on and of the
    library versions (:func:`code_fingerprint`; pass ``code`` to reuse one computed for the
    claim) and the cache schema; changing any of them is a cache miss.
    """
    material = {
        "claim": claim.id,
        "version": claim.version,
        "params": params,
        "budget": budget,
        "seed": int(seed),
        "device": device,
        "flatstart": flatstart_version(),
        "code": code if code is not None else code_fingerprint(claim),
        "alpha": claim.alpha,
        "schema": CACHE_SCHEMA,
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def describe(obj: Any, max_items: int = 16) -> Any:
    """JSON-friendly summary of a prediction or measurement.

    Scalars stay scalars (non-finite floats become strings "nan"/"inf"/"-inf"); small arrays
    (<= ``max_items`` elements) become lists; large arrays become a summary ``{"size",
    "min", "q01", "q25", "median", "q75", "q99", "max"}`` (quantiles, not a mean: measurements
    may be heavy-tailed); dicts and lists recurse; other objects become ``repr`` (<= 200 chars).

    >>> describe({"m": np.float64(1.5), "x": np.arange(3)})
    {'m': 1.5, 'x': [0, 1, 2]}
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else repr(f)
    if isinstance(obj, TestOutcome):
        return describe(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): describe(v, max_items) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and len(obj) <= max_items:
        return [describe(v, max_items) for v in obj]
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, (list, tuple, np.ndarray)):
        raw = np.asarray(obj)
        if raw.dtype.kind not in "biuf":
            return repr(obj)[:200]
        if raw.size <= max_items:
            return describe(raw.tolist(), max_items)
        arr = raw.astype(np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return {"size": int(arr.size), "finite": 0}
        qs = np.quantile(finite, [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0])
        names = ["min", "q01", "q25", "median", "q75", "q99", "max"]
        out: dict[str, Any] = {"size": int(arr.size), "shape": list(arr.shape)}
        out.update({k: float(v) for k, v in zip(names, qs, strict=True)})
        if finite.size < arr.size:
            out["non_finite"] = int(arr.size - finite.size)
        return out
    if callable(obj):
        return getattr(obj, "__qualname__", repr(obj))[:200]
    return repr(obj)[:200]


@dataclass(frozen=True)
class Task:
    """One grid point to compute.

    Attributes:
        claim_id: the claim's id; ``claim_module`` is imported by out-of-process workers to
            find it in the registry.
        claim_module: module that defines the claim.
        index: position of the point in the claim's grid.
        params: the parameter dict.
        seed: the run seed; ``point_seed`` is what ``simulate`` receives.
        point_seed: see :func:`point_seed`.
        budget: "quick", "standard" or "full".
        device: "cpu" or "cuda".
        key: cache key (:func:`point_key`).
        run_mutant: whether to also test the mutant.
    """

    claim_id: str
    claim_module: str
    index: int
    params: dict[str, Any]
    seed: int
    point_seed: int
    budget: str
    device: str
    key: str
    run_mutant: bool = True


@dataclass
class PointRecord:
    """Everything one grid point produced.

    ``prediction`` (the theory object) is only kept in-process; cached records and records from
    other processes carry ``prediction=None`` and a JSON summary in ``prediction_summary``
    (:func:`~flatstart.validation.claims.ensure_predictions` recomputes it for plots).
    ``measurement`` is kept (it must pickle) so plots can show the samples.
    """

    claim_id: str
    index: int
    params: dict[str, Any]
    seed: int
    point_seed: int
    budget: str
    device: str
    key: str
    outcome: TestOutcome | None = None
    mutant: TestOutcome | None = None
    prediction_summary: Any = None
    measured_summary: Any = None
    measurement: Any = None
    prediction: Any = None
    seconds: float = 0.0
    error: str | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def for_transport(self) -> PointRecord:
        """Copy without the (possibly unpicklable) prediction object."""
        out = PointRecord(**{**self.__dict__, "prediction": None})
        return out


def resolve_claim(claim_id: str, claim_module: str) -> Claim:
    """Find a claim in this process: the registry, else its module (imported; registered there
    or a module-level :class:`~flatstart.validation.claims.Claim` object), else the catalogue."""
    from flatstart.validation.claims import Claim, get, registered  # claims imports this module

    found = registered(claim_id)
    if found is None and claim_module:
        module = importlib.import_module(claim_module)
        found = registered(claim_id)
        if found is None:  # defined at module level but registered only at run time
            for value in vars(module).values():
                if isinstance(value, Claim) and value.id == claim_id:
                    found = value
                    break
    if found is None:
        found = get(claim_id)
    return found


def run_point(task: Task, claim: Claim | None = None, keep_prediction: bool = True) -> PointRecord:
    """Compute one grid point: prediction, measurement, test, mutant test.

    Any ``Exception`` is caught and stored as the traceback text in ``error`` (the run goes on);
    ``KeyboardInterrupt``/``SystemExit`` propagate. With ``claim=None`` the claim is looked up
    in this process (out-of-process executors).
    """
    rec = PointRecord(
        claim_id=task.claim_id, index=task.index, params=dict(task.params), seed=task.seed,
        point_seed=task.point_seed, budget=task.budget, device=task.device, key=task.key,
    )
    t0 = time.perf_counter()
    try:
        c = claim if claim is not None else resolve_claim(task.claim_id, task.claim_module)
        prediction = c.predict(dict(task.params))
        measurement = guarded_simulate(c, task)
        rec.prediction_summary = describe(c.summarize_prediction(prediction))
        rec.measured_summary = describe(c.summarize_measurement(measurement))
        outcome = c.test(prediction, measurement, c.alpha)
        if not isinstance(outcome, TestOutcome):
            raise TypeError(
                f"claim {c.id}: test() must return a TestOutcome, got {type(outcome).__name__}"
            )
        _check_p(c.id, "test", outcome)
        rec.outcome = outcome
        if task.run_mutant:
            wrong = c.mutant(dict(task.params))
            mutant = c.test(wrong, measurement, c.alpha)
            if not isinstance(mutant, TestOutcome):
                raise TypeError(f"claim {c.id}: test() on the mutant must return a TestOutcome")
            _check_p(c.id, "mutant test", mutant)
            rec.mutant = mutant
        rec.measurement = measurement
        if keep_prediction:
            rec.prediction = prediction
    except Exception:
        rec.error = traceback.format_exc()
    rec.seconds = time.perf_counter() - t0
    return rec


class LayeringError(RuntimeError):
    """A claim's ``simulate`` executed theory code (the check would be circular)."""


def guarded_simulate(c: Claim, task: Task) -> Any:
    """``c.simulate`` run under the profiler: any frame of ``theory`` that executes is an
    error (:class:`LayeringError`), however it was reached (see
    :mod:`flatstart.validation.layering`)."""
    from flatstart.validation.tracing import Recorder

    with Recorder(["flatstart.theory"]) as rec:
        out = c.simulate(dict(task.params), task.point_seed, task.device, task.budget)
    if rec.executed:
        ran = sorted(rec.executed)
        shown = ", ".join(ran[:6]) + (f" and {len(ran) - 6} more" if len(ran) > 6 else "")
        raise LayeringError(
            f"claim {c.id}: simulate executed theory code ({shown}); the Monte Carlo side "
            "must never evaluate a theory formula"
        )
    return out


def _check_p(claim_id: str, what: str, outcome: TestOutcome) -> None:
    p = outcome.p_value
    try:
        ok = not isinstance(p, bool) and 0.0 <= float(p) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"claim {claim_id}: {what} returned p_value {p!r}, not in [0, 1]")
