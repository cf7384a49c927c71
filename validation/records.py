"""Records of work: one grid point's task and result, its cache key, seed and fingerprint.

Every grid point of a claim is an independent :class:`Task` whose result is a
:class:`PointRecord`; :func:`point_key` is its content address (claim, version, parameters,
budget, seed, device, a hash of all the code the result can depend on, library versions) and
:func:`point_seed` its seed. :func:`describe` turns measurements into what the report shows.
Running a task is :func:`flatstart.validation.executors.run_point`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flatstart._seeds import derive_seed
from flatstart.validation.stats import TestOutcome

if TYPE_CHECKING:
    from flatstart.validation.claim import Claim

__all__ = [
    "CACHE_SCHEMA",
    "CODE_PACKAGES",
    "KEY_LIBRARIES",
    "PointRecord",
    "Task",
    "canonical_json",
    "code_fingerprint",
    "describe",
    "ensure_predictions",
    "flatstart_version",
    "library_versions",
    "outside_sources",
    "package_roots",
    "point_key",
    "point_seed",
    "relative_paths",
    "source_tree_hash",
]

CACHE_SCHEMA = "2"
"""Bumped whenever the layout of a cached :class:`PointRecord` changes."""


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
        spec = importlib.util.find_spec(name)  # where it lives; nothing is imported here
        roots.append(Path((spec.origin if spec else None) or "").resolve().parent)
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
    if len(_TREE_HASHES) >= 8:  # flatstart's tree and a few users' packages
        _TREE_HASHES.pop(next(iter(_TREE_HASHES)))
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
    if module is not None:
        f = getattr(module, "__file__", None)
    else:
        try:
            spec = importlib.util.find_spec(module_name)
        except Exception:
            return None
        f = spec.origin if spec is not None else None
    return Path(f).resolve() if f and f not in ("built-in", "frozen") else None


def code_fingerprint(claim: Claim, roots: Sequence[str | Path] | None = None) -> str:
    """Hash of all the code a claim's result can depend on.

    Covers the source of every module of ``theory``, ``montecarlo`` and ``validation``
    (``roots``, default :func:`package_roots`: a claim's ``predict``, ``simulate`` and ``test``
    can reach any of them), the versions of torch, numpy, scipy, sympy and mpmath, and, for a
    user's claim whose functions live outside those packages, the code it can reach there
    (:func:`outside_sources`: the whole top-level package of a claim module inside a package —
    its theory, networks and quantities modules included —, or for a claim file the file and
    every module loaded from its folder). Editing any of that code changes every key it can
    affect; editing tests, docs or benchmarks changes none.
    """
    base = [Path(r).resolve() for r in (roots if roots is not None else package_roots())]
    fns = [claim.predict, claim.simulate, claim.test, claim.mutant]
    extra: list[str] = []
    for m in sorted({getattr(f, "__module__", None) or "?" for f in fns}):
        extra += outside_sources(m, base)
    material = {
        "tree": source_tree_hash(base),
        "outside": extra,
        "libraries": library_versions(),
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()[:32]


def outside_sources(module_name: str, base: Sequence[Path]) -> list[str]:
    """Hashes of the user code a claim module outside ``base`` (flatstart's folders) can reach.

    A module of a package (``mypkg.claims``): one hash of every ``*.py`` file of its top-level
    package ``mypkg`` (:func:`source_tree_hash`). A lone module or claim file: the sha256 of the
    file and of every module currently loaded from the same folder (what it imported beside
    it). Nothing for modules inside ``base`` (covered by the tree hash) or without a file.
    """
    f = _module_file(module_name)
    if f is None or not f.is_file() or any(_is_below(f, r) for r in base):
        return []
    top = module_name.split(".")[0]
    package = sys.modules.get(top) if top != module_name else None
    paths = [Path(p).resolve() for p in getattr(package, "__path__", None) or []]
    if paths and all(not any(_is_below(p, r) for r in base) for p in paths):
        return [source_tree_hash(paths)]
    folder = f.parent
    files = {f}
    for mod in list(sys.modules.values()):
        mf = getattr(mod, "__file__", None)
        if isinstance(mf, str) and mf.endswith(".py"):
            p = Path(mf).resolve()
            if p.parent == folder:
                files.add(p)
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files) if p.is_file()]


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


def ensure_predictions(claim: Claim, records: Sequence[PointRecord]) -> list[PointRecord]:
    """Recompute ``prediction`` for records that came from the cache or another process."""
    for r in records:
        if r.prediction is None and r.error is None:
            r.prediction = claim.predict(dict(r.params))
    return list(records)


def relative_paths(text: str) -> str:
    """A traceback with this machine's absolute paths shown relative to the packages (and
    site-packages), so a shared report does not leak local folders.

    >>> from flatstart import validation
    >>> from pathlib import Path
    >>> root = str(Path(validation.__file__).resolve().parents[1])
    >>> relative_paths(f'File "{root}/theory/products.py", line 3')
    'File "theory/products.py", line 3'
    """
    root = str(Path(__file__).resolve().parents[1]) + "/"  # the folder above the packages
    text = text.replace(root, "")
    return re.sub(r'File "[^"]*/(site-packages|dist-packages)/', r'File "<\1>/', text)
