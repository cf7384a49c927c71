"""Claims, the registry, and running them: ``verify``, ``verify_all``, ``calibrate``.

A :class:`Claim` joins a theory prediction to a Monte Carlo measurement through a statistical
test, and carries a *mutant* (a deliberately wrong prediction the same test must reject).
Writing one needs no knowledge of the framework's internals::

    from flatstart.validation.claims import Claim, register
    from flatstart.validation import stats

    def predict(p):                      # theory side: params -> prediction
        return theory_median(p["depth"])
    def simulate(p, seed, device, budget):   # Monte Carlo side -> measurement (must pickle)
        n = {"quick": 2_000, "standard": 20_000, "full": 200_000}[budget]
        return montecarlo_samples(p["depth"], n, seed=seed, device=device)
    def test(prediction, samples, alpha):    # -> stats.TestOutcome
        return stats.quantile_test(samples, prediction, 0.5, alpha)
    def mutant(p):                       # a wrong prediction the test must reject
        return 1.5 * theory_median(p["depth"])

    register(Claim(
        id="VC.median-depth", title="...", family="VC", source="VC, Thm 1",
        statement="...", latex=r"...", kind="quantile",
        grids={"quick": [{"depth": 5}, {"depth": 20}], "full": [{"depth": d} for d in ...]},
        predict=predict, simulate=simulate, test=test, mutant=mutant))

All four functions must be module-level functions (so worker processes can import them).

Verdicts of a claim run over its grid (per-point p-values combined with Holm's method):

* ``refuted``: Holm rejects at least one grid point at the claim's alpha (combined p-value
  ``min(1, m * min p) <= alpha``);
* ``underpowered``: not refuted, but the same Holm test does *not* reject the mutant;
* ``consistent``: not refuted and the mutant is rejected;
* ``error``: a grid point raised (traceback in ``Result.error``); the run goes on.

:func:`verify_all` additionally applies Holm across the claims of the run: ``run_p_value``
and ``run_verdict`` sit beside the claim's own ``verdict``, which they never overwrite (a claim
refuted on its own but not after the run-wide correction shows both).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import pkgutil
import platform
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flatstart._checks import check_int
from flatstart.validation.cache import Cache, default_cache_dir
from flatstart.validation.executors import Executor, make_executor
from flatstart.validation.stats import TestOutcome, bound_violation_test, clopper_pearson, holm
from flatstart.validation.sweeps import (
    BUDGETS,
    PointRecord,
    Task,
    canonical_json,
    code_fingerprint,
    expand_grid,
    flatstart_version,
    grid_for,
    point_key,
    point_seed,
)

__all__ = [
    "BUDGETS",
    "DEVICES",
    "FAMILIES",
    "KINDS",
    "VERDICTS",
    "Calibration",
    "Claim",
    "Result",
    "by_budget",
    "calibrate",
    "catalogue_errors",
    "check_budget",
    "check_device",
    "claims",
    "ensure_predictions",
    "get",
    "ids",
    "register",
    "registered",
    "select",
    "unregister",
    "verify",
    "verify_all",
    "versions",
]

FAMILIES: dict[str, str] = {
    "P": "products of random variables",
    "VC": "vanishing curvature",
    "GC": "gradient confusion",
    "SP": "SGD phases",
    "RW": "random wide networks",
    "DEMO": "toy claims that exercise the framework (hidden unless FLATSTART_DEMO_CLAIMS=1)",
}
KINDS: tuple[str, ...] = (
    "distribution", "quantile", "probability", "moment", "bound", "trend", "identity", "other",
)
VERDICTS: tuple[str, ...] = ("consistent", "refuted", "underpowered", "error")
DEVICES: tuple[str, ...] = ("cpu", "cuda")
DEMO_ENV = "FLATSTART_DEMO_CLAIMS"
_ID_RE = re.compile(r"^([A-Z]+)\.[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def by_budget(budget: str, quick: Any, standard: Any = None, full: Any = None) -> Any:
    """Pick a value by budget, falling back to the next cheaper one that is given.

    >>> by_budget("standard", quick=1_000, full=100_000)
    1000
    >>> by_budget("full", 1_000, 10_000, 100_000)
    100000
    """
    check_budget(budget)
    values = {"quick": quick, "standard": standard, "full": full}
    for b in reversed(BUDGETS[: BUDGETS.index(budget) + 1]):
        if values[b] is not None:
            return values[b]
    return quick  # pragma: no cover


def check_budget(budget: Any) -> str:
    """Return ``budget`` if it is one of :data:`BUDGETS`, else raise listing them."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {list(BUDGETS)}, got {budget!r}")
    return str(budget)


def check_device(device: Any) -> str:
    """Return ``device`` if it is "cpu", or "cuda" with a visible GPU; else raise."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but no CUDA device is available; use 'cpu'")
    return str(device)


def _identity(x: Any) -> Any:
    return x


def _is_flatstart_module(name: str) -> bool:
    """Whether a module belongs to flatstart (its claims use the families of FAMILIES)."""
    return name == "flatstart" or name.startswith("flatstart.")


def _known_families() -> list[str]:
    """:data:`FAMILIES` followed by the families of registered user claims."""
    extra = sorted({c.family for c in _REGISTRY.values()} - set(FAMILIES))
    return [*FAMILIES, *extra]


@dataclass(frozen=True)
class Claim:
    """A checkable statement: theory prediction + Monte Carlo measurement + test + mutant.

    Attributes:
        id: "FAMILY.short-name", e.g. "VC.mean-vs-median"; the prefix is the family.
        title: one line.
        family: one of :data:`FAMILIES` ("P", "VC", "GC", "SP", "RW"; "DEMO" for toys); a
            user's claim (its functions defined outside flatstart) may name its own family
            (``flatstart.validation.plugins.load_claims`` then requires one that is not in
            :data:`FAMILIES`).
        source: paper and theorem ("VC, Thm 3.1"), a classical reference, or "derived".
        statement: the claim in words.
        predict: ``predict(params) -> prediction`` (theory side; never uses samples).
        simulate: ``simulate(params, seed, device, budget) -> measurement`` (Monte Carlo side;
            never uses theory formulas; the result must pickle).
        test: ``test(prediction, measurement, alpha) -> TestOutcome`` (see
            :mod:`flatstart.validation.stats`).
        mutant: ``mutant(params) -> prediction`` that is wrong; ``test`` must reject it.
        grids: ``{"quick": [params, ...], "standard": ..., "full": ...}``; a missing budget
            falls back to the next cheaper one; a dict of lists is a Cartesian product.
        latex: the statement in LaTeX.
        alpha: significance level of the claim's test (default 0.01).
        kind: type of test, one of :data:`KINDS`.
        version: bump when the claim's meaning changes (part of the cache key; the claim's
            module source is hashed into the key too).
        plot: optional ``plot(fig, records)`` drawing the run on a matplotlib Figure;
            ``records`` are :class:`~flatstart.validation.sweeps.PointRecord` with ``params``,
            ``prediction``, ``measurement``, ``outcome``, ``mutant``.
        describe_prediction / describe_measurement: optional maps to something JSON-friendly
            for the report (default: :func:`~flatstart.validation.sweeps.describe` of the object).
        mutant_description: how the mutant is wrong, in words.
        tags: free labels.
    """

    id: str
    title: str
    family: str
    source: str
    statement: str
    predict: Callable[[dict[str, Any]], Any]
    simulate: Callable[[dict[str, Any], int, str, str], Any]
    test: Callable[[Any, Any, float], TestOutcome]
    mutant: Callable[[dict[str, Any]], Any]
    grids: Mapping[str, Any]
    latex: str = ""
    alpha: float = 0.01
    kind: str = "distribution"
    version: str = "1"
    plot: Callable[[Any, list[PointRecord]], Any] | None = None
    describe_prediction: Callable[[Any], Any] | None = None
    describe_measurement: Callable[[Any], Any] | None = None
    mutant_description: str = ""
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m = _ID_RE.match(self.id) if isinstance(self.id, str) else None
        if m is None:
            raise ValueError(
                f"id must look like 'FAMILY.short-name' (letters, digits, '.', '-', '_'), "
                f"got {self.id!r}"
            )
        if self.family not in FAMILIES and _is_flatstart_module(self.module):
            raise ValueError(f"family must be one of {list(FAMILIES)}, got {self.family!r}")
        if m.group(1) != self.family:
            raise ValueError(f"id {self.id!r} must start with its family {self.family!r}")
        for name in ("predict", "simulate", "test", "mutant"):
            if not callable(getattr(self, name)):
                raise TypeError(f"claim {self.id}: {name} must be callable")
        if self.plot is not None and not callable(self.plot):
            raise TypeError(f"claim {self.id}: plot must be callable or None")
        if not (isinstance(self.alpha, float) and 0.0 < self.alpha < 1.0):
            raise ValueError(
                f"claim {self.id}: alpha must be a float in (0, 1), got {self.alpha!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(
                f"claim {self.id}: kind must be one of {list(KINDS)}, got {self.kind!r}"
            )
        if not isinstance(self.grids, Mapping) or "quick" not in self.grids:
            raise ValueError(f"claim {self.id}: grids must be a dict with at least a 'quick' grid")
        unknown = sorted(set(self.grids) - set(BUDGETS))
        if unknown:
            raise ValueError(
                f"claim {self.id}: grid budgets must be among {list(BUDGETS)}, got {unknown}"
            )
        for b in self.grids:
            expand_grid(self.grids[b])
        object.__setattr__(self, "tags", tuple(self.tags))

    @property
    def module(self) -> str:
        """Module that defines the claim's functions (imported by worker processes)."""
        return str(getattr(self.predict, "__module__", "") or "")

    def grid(self, budget: str = "quick") -> list[dict[str, Any]]:
        """Parameter dicts of ``budget`` (with fallback to cheaper budgets)."""
        return grid_for(self.grids, budget)

    def summarize_prediction(self, prediction: Any) -> Any:
        """What the report shows of a prediction."""
        return (self.describe_prediction or _identity)(prediction)

    def summarize_measurement(self, measurement: Any) -> Any:
        """What the report shows of a measurement."""
        return (self.describe_measurement or _identity)(measurement)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description (what ``flatstart list``/``show`` print)."""
        return {
            "id": self.id,
            "title": self.title,
            "family": self.family,
            "source": self.source,
            "statement": self.statement,
            "latex": self.latex,
            "kind": self.kind,
            "alpha": self.alpha,
            "version": self.version,
            "mutant": self.mutant_description,
            "grids": {b: len(self.grid(b)) for b in BUDGETS},
        }


# --------------------------------------------------------------------------- results


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


@dataclass
class Result:
    """Outcome of verifying one claim (JSON-serializable with :meth:`to_json`).

    Attributes:
        id, title, family, source, kind: from the claim.
        verdict: "consistent", "refuted", "underpowered" or "error".
        statistic: the test statistic at the grid point with the smallest p-value.
        p_value: Holm-combined p-value over the grid points, ``min(1, m * min p)``.
        alpha: the claim's significance level.
        n: total number of samples over the grid points.
        seed, budget, device: how it was run.
        parameters: the grid (one parameter dict per point).
        mutant_rejected, mutant_p_value: the same for the mutant prediction.
        seconds: compute time summed over the grid points (cached points count with the time
            they originally took).
        versions: package versions (flatstart, torch, numpy, scipy, sympy, mpmath, python).
        prediction, measured: per grid point, JSON summaries.
        details: per-point outcomes under ``details["points"]`` and more.
        error: traceback text when the verdict is "error".
        claim_version: the claim's ``version``.
        run_p_value: Holm-adjusted across the claims of a :func:`verify_all` run.
        resolution: the smallest relative error of the prediction (on a ladder 1%, 2%, 5%, ...)
            whose scalings up and down the claim's test rejects on this run's measurements
            (None: not resolved or not scalable); details in ``details["resolution"]``.
        run_verdict: the verdict after Holm across the run (None when not applied); it differs
            from ``verdict`` only for a claim refuted on its own but not after the run-wide
            correction, which is shown with both.
    """

    id: str
    verdict: str
    statistic: float | None
    p_value: float | None
    alpha: float
    n: int
    seed: int
    budget: str
    parameters: list[dict[str, Any]]
    mutant_rejected: bool | None
    mutant_p_value: float | None
    seconds: float
    versions: dict[str, str]
    prediction: list[Any] = field(default_factory=list)
    measured: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    title: str = ""
    family: str = ""
    source: str = ""
    kind: str = ""
    device: str = "cpu"
    claim_version: str = ""
    run_p_value: float | None = None
    run_verdict: str | None = None
    resolution: float | None = None

    @property
    def verdict_text(self) -> str:
        """The verdict as shown in tables: ``"refuted (run: consistent)"`` when the run-wide
        Holm correction disagrees with the claim's own verdict."""
        if self.run_verdict is not None and self.run_verdict != self.verdict:
            return f"{self.verdict} (run: {self.run_verdict})"
        return self.verdict

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of JSON types (non-finite floats become None)."""
        d = dataclasses.asdict(self)
        for k in ("statistic", "p_value", "mutant_p_value", "run_p_value"):
            d[k] = _finite_or_none(d[k])
        return _sanitize(d)

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> Result:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def _repr_html_(self) -> str:
        """A small HTML table for Jupyter: verdict (coloured), p-values, resolution, run, and
        the claim's figure as an embedded PNG (when the claim is registered here)."""
        import html as _html

        colors = {"consistent": "#2a7", "refuted": "#c33", "underpowered": "#e90",
                  "error": "#84a"}
        res = "-" if self.resolution is None else f"±{100 * self.resolution:g}%"

        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.3g}"

        rows = [("verdict", f'<b style="color:{colors.get(self.verdict, "#000")}">'
                            f"{_html.escape(self.verdict_text)}</b>"),
                ("p (Holm over the grid)", fmt(self.p_value)),
                ("run p (Holm across the run)", fmt(self.run_p_value)),
                ("mutant p", fmt(self.mutant_p_value)), ("resolves", res),
                ("n", str(self.n)), ("grid points", str(len(self.parameters))),
                ("budget, seed, device", f"{self.budget}, {self.seed}, {self.device}"),
                ("source", _html.escape(self.source))]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>"
                       for k, v in rows)
        try:  # the claim's figure as an embedded PNG (report.figure_html)
            from flatstart.validation.report import figure_html

            figure = figure_html(self)
        except Exception:  # the table alone rather than no display
            figure = ""
        return (f"<div><b>{_html.escape(self.id)}</b> — {_html.escape(self.title)}"
                f"<table>{body}</table>{figure}</div>")

    @property
    def ok(self) -> bool:
        """True when the verdict is neither "refuted" nor "error"."""
        return self.verdict in ("consistent", "underpowered")


def _sanitize(obj: Any) -> Any:
    """Recursively turn an object into JSON types; non-finite floats become None."""
    if isinstance(obj, Mapping):
        return {str(k): _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v) for v in obj]
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite_or_none(obj)
    from flatstart.validation.sweeps import describe

    return _sanitize(describe(obj))


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Claim] = {}
_LOAD_ERRORS: dict[str, str] = {}
_LOADED = False


def register(claim: Claim) -> Claim:
    """Add a claim to the registry and return it.

    Registering the same id again from the same module replaces it (module reloads);
    from a different module it raises ``ValueError``.
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"register() needs a Claim, got {type(claim).__name__}")
    old = _REGISTRY.get(claim.id)
    if old is not None and old.module != claim.module:
        raise ValueError(
            f"claim id {claim.id!r} is already registered by module {old.module!r}"
        )
    _REGISTRY[claim.id] = claim
    return claim


def unregister(claim_id: str) -> None:
    """Remove a claim from the registry (tests)."""
    _REGISTRY.pop(claim_id, None)


def _catalogue_modules() -> list[str]:
    import flatstart.validation.catalogue as cat

    names = []
    for info in pkgutil.iter_modules(cat.__path__):
        if info.name.startswith("_"):
            if info.name == "_demo" and os.environ.get(DEMO_ENV, "") == "1":
                names.append(f"flatstart.validation.catalogue.{info.name}")
            continue
        names.append(f"flatstart.validation.catalogue.{info.name}")
    return sorted(names)


def load_catalogue(force: bool = False) -> None:
    """Import every ``flatstart.validation.catalogue`` module (once); remember modules that fail.

    Modules whose name starts with "_" are skipped, except ``_demo`` when the environment
    variable ``FLATSTART_DEMO_CLAIMS=1`` is set. Then the claims of installed packages are
    loaded (entry-point group ``flatstart.claims``,
    :func:`flatstart.validation.plugins.load_entry_points`); their failures are remembered too.
    """
    global _LOADED
    if _LOADED and not force:
        return
    _LOADED = True
    for name in _catalogue_modules():
        try:
            importlib.import_module(name)
            _LOAD_ERRORS.pop(name, None)
        except Exception:
            _LOAD_ERRORS[name] = traceback.format_exc()
    from flatstart.validation.plugins import load_entry_points

    load_entry_points()  # installed packages' claims (group "flatstart.claims")


def catalogue_errors() -> dict[str, str]:
    """Catalogue modules that failed to import: module name -> traceback text."""
    load_catalogue()
    return dict(_LOAD_ERRORS)


#: Other names under which a claim is known (an earlier spelling of the API example wrote
#: ``VC.median-vs-mean`` for the catalogue's ``VC.mean-vs-median``).
ALIASES: dict[str, str] = {"VC.median-vs-mean": "VC.mean-vs-median"}


def registered(claim_id: str) -> Claim | None:
    """The claim registered under ``claim_id`` in this process, or ``None`` (no catalogue load,
    no alias: a plain look-up for the report and the executors).

    >>> registered("no.such-claim") is None
    True
    """
    return _REGISTRY.get(claim_id)


def get(claim_id: str) -> Claim:
    """The registered claim ``claim_id`` (or an alias of it, see :data:`ALIASES`).

    Raises ``KeyError`` listing the known ids otherwise.
    """
    claim_id = ALIASES.get(claim_id, claim_id)
    if claim_id not in _REGISTRY:
        load_catalogue()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise KeyError(
            f"unknown claim id {claim_id!r}; known ids: {', '.join(sorted(_REGISTRY)) or '(none)'}"
        ) from None


def ids(family: str | None = None) -> list[str]:
    """Sorted ids of the registered claims (optionally of one family)."""
    load_catalogue()
    return sorted(k for k, c in _REGISTRY.items() if family is None or c.family == family)


def claims(family: str | None = None) -> list[dict[str, Any]]:
    """The catalogue: one summary dict per claim (id, title, family, source, statement, ...).

    >>> isinstance(claims(), list)
    True
    """
    if family is not None and family not in FAMILIES:
        load_catalogue()  # a user family is known once its claims are registered
        if family not in _known_families():
            raise ValueError(f"family must be one of {_known_families()}, got {family!r}")
    return [_REGISTRY[i].summary() for i in ids(family)]


def select(
    claim_ids: Iterable[str] | None = None, family: str | Sequence[str] | None = None
) -> list[Claim]:
    """Claims by id (in the given order) and/or family; ``ValueError`` for unknown ones."""
    load_catalogue()
    fams: set[str] | None = None
    if family is not None:
        fams = {family} if isinstance(family, str) else set(family)
        bad = sorted(fams - set(_known_families()))
        if bad:
            raise ValueError(f"family must be among {_known_families()}, got {bad}")
    if claim_ids is None:
        chosen = [_REGISTRY[i] for i in sorted(_REGISTRY)]
    else:
        wanted = [ALIASES.get(i, i) for i in claim_ids]
        unknown = [i for i in wanted if i not in _REGISTRY]
        if unknown:
            raise ValueError(
                f"unknown claim id(s) {unknown}; known ids: "
                f"{', '.join(sorted(_REGISTRY)) or '(none)'}"
            )
        chosen = [_REGISTRY[i] for i in dict.fromkeys(wanted)]
    if fams is not None:
        chosen = [c for c in chosen if c.family in fams]
    return chosen


def versions() -> dict[str, str]:
    """Versions of flatstart, torch, numpy, scipy, sympy, mpmath and python."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"flatstart": flatstart_version()}
    for pkg in ("torch", "numpy", "scipy", "sympy", "mpmath"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "missing"
    out["python"] = platform.python_version()
    return out


# --------------------------------------------------------------------------- running


def _make_cache(cache: bool | str | os.PathLike[str] | Cache | None) -> Cache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return Cache(default_cache_dir())
    if isinstance(cache, Cache):
        return cache
    return Cache(Path(cache))


def _tasks_for(
    claim: Claim, budget: str, seed: int, device: str, run_mutant: bool = True
) -> list[Task]:
    tasks = []
    code = code_fingerprint(claim)
    for i, params in enumerate(claim.grid(budget)):
        tasks.append(Task(
            claim_id=claim.id, claim_module=claim.module, index=i, params=params, seed=seed,
            point_seed=point_seed(seed, claim.id, params), budget=budget, device=device,
            key=point_key(claim, params, budget, seed, device, code=code),
            run_mutant=run_mutant,
        ))
    return tasks


def _base_result(
    claim: Claim, budget: str, seed: int, device: str, vers: dict[str, str],
    parameters: list[dict[str, Any]],
) -> Result:
    return Result(
        id=claim.id, verdict="error", statistic=None, p_value=None, alpha=claim.alpha, n=0,
        seed=seed, budget=budget, parameters=parameters, mutant_rejected=None,
        mutant_p_value=None, seconds=0.0, versions=vers, title=claim.title,
        family=claim.family, source=claim.source, kind=claim.kind, device=device,
        claim_version=claim.version,
    )


def _combine(
    claim: Claim, records: list[PointRecord], budget: str, seed: int, device: str,
    vers: dict[str, str],
) -> Result:
    res = _base_result(claim, budget, seed, device, vers, [dict(r.params) for r in records])
    res.seconds = float(sum(r.seconds for r in records))
    res.prediction = [r.prediction_summary for r in records]
    res.measured = [r.measured_summary for r in records]
    points: list[dict[str, Any]] = []
    for r in records:
        points.append({
            "index": r.index,
            "params": dict(r.params),
            "point_seed": r.point_seed,
            "seconds": r.seconds,
            "cached": r.cached,
            "outcome": r.outcome.to_dict() if r.outcome is not None else None,
            "mutant": r.mutant.to_dict() if r.mutant is not None else None,
            "error": r.error,
        })
    res.details = {
        "combination": "holm",
        "points": points,
        "cached_points": sum(1 for r in records if r.cached),
        "mutant_description": claim.mutant_description,
    }
    errors = [r for r in records if r.error is not None or r.outcome is None]
    if errors:
        res.verdict = "error"
        res.error = "\n".join(
            f"grid point {r.index} {r.params}:\n{r.error or 'no outcome'}" for r in errors
        )
        return res
    outcomes = [r.outcome for r in records if r.outcome is not None]
    ps = np.array([o.p_value for o in outcomes])
    rej, adj = holm(ps, claim.alpha)
    best = int(np.argmin(ps))
    res.statistic = float(outcomes[best].statistic)
    res.p_value = float(np.min(adj))
    res.n = int(sum(o.n for o in outcomes))
    for pt, a, rj in zip(points, adj, rej, strict=True):
        pt["p_holm"] = float(a)
        pt["reject_holm"] = bool(rj)
    mutants = [r.mutant for r in records]
    if all(m is not None for m in mutants):
        mps = np.array([m.p_value for m in mutants if m is not None])
        mrej, madj = holm(mps, claim.alpha)
        res.mutant_rejected = bool(np.any(mrej))
        res.mutant_p_value = float(np.min(madj))
    if bool(np.any(rej)):
        res.verdict = "refuted"
    elif res.mutant_rejected:
        res.verdict = "consistent"
    else:
        res.verdict = "underpowered"
    return res


def _apply_run_holm(results: list[Result]) -> None:
    """Holm across the claims of a run, shown beside each claim's own verdict.

    ``verdict`` stays the claim's own (its grid-level Holm test at its alpha). ``run_p_value``
    is the Holm-adjusted p-value across the claims of the run and ``run_verdict`` the verdict
    after that correction: a claim refuted on its own whose adjusted p exceeds its alpha reads
    ``verdict="refuted"``, ``run_verdict="consistent"`` (or "underpowered"), never silently
    "consistent". Both are also in ``details["claim_verdict"]`` / ``details["run_verdict"]``.
    """
    tested = [r for r in results if r.p_value is not None and r.verdict != "error"]
    for r in results:
        r.run_verdict = r.verdict
        r.details["claim_verdict"] = r.verdict
        r.details["run_verdict"] = r.verdict
    if not tested:
        return
    _, adj = holm([float(r.p_value or 0.0) for r in tested], 0.5)  # alpha: unused here
    for r, a in zip(tested, adj, strict=True):
        r.run_p_value = float(a)
        r.details["run_holm"] = {"claims": len(tested), "p_adjusted": float(a)}
        if r.verdict == "refuted" and a > r.alpha:
            r.run_verdict = "consistent" if r.mutant_rejected else "underpowered"
            r.details["run_verdict"] = r.run_verdict


def verify_all(
    ids: Iterable[str] | None = None,
    budget: str = "quick",
    seed: int = 0,
    device: str = "cpu",
    *,
    family: str | Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] | Cache | None = True,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    executor: Executor | None = None,
    holm_across: bool = True,
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    resolution: bool = True,
    resolution_reps: int = 1,
) -> list[Result]:
    """Verify several claims (all registered real claims when ``ids`` is None).

    Args:
        ids: claim ids, or None for every claim (``family`` filters).
        budget: "quick", "standard" or "full".
        seed: run seed (>= 0); each grid point gets :func:`~flatstart.validation.sweeps.point_seed`.
        device: "cpu" or "cuda".
        family: only claims of this family (or these families).
        cache: True (default folder ``$FLATSTART_CACHE`` or ``.flatstart-cache``), a folder,
            a :class:`~flatstart.validation.cache.Cache`, or False/None for no cache.
        workers: > 1 runs grid points in a local process pool.
        scheduler: address of a dask.distributed scheduler; ``client``: a dask Client.
        executor: an explicit executor (overrides ``workers``/``scheduler``).
        holm_across: apply Holm across the claims of the run (see module docstring).
        out: when given, write the report there (:func:`flatstart.validation.report.write_report`).
        progress: called with one line per finished grid point.
        resolution: measure each claim's resolution on the run's data (the smallest relative
            error of its prediction that its test rejects; :mod:`flatstart.validation.resolution`).
        resolution_reps: with ``n > 1``, the resolution is the smallest relative error rejected
            with probability >= 0.8 over ``n`` run seeds (``seed, seed + 1, ..., seed + n - 1``:
            the extra seeds' grid points are the same computations as ``verify`` at those seeds,
            and share the cache); with 1 it is the one-run estimate.

    Returns:
        One :class:`Result` per claim, in the order of ``ids`` (sorted ids otherwise); with
        ``ids=None``, catalogue modules that fail to import appear as "error" results.
    """
    budget = check_budget(budget)
    seed = check_int("seed", seed, minimum=0)
    device = check_device(device)
    resolution_reps = check_int("resolution_reps", resolution_reps, minimum=1, maximum=1000)
    chosen = select(ids, family)
    by_id = {c.id: c for c in chosen}
    store = _make_cache(cache)
    vers = versions()

    tasks_by_claim: dict[str, list[Task]] = {}
    setup_errors: dict[str, str] = {}
    for c in chosen:
        try:
            tasks_by_claim[c.id] = _tasks_for(c, budget, seed, device)
        except Exception:
            setup_errors[c.id] = traceback.format_exc()
    rep_tasks: dict[str, list[list[Task]]] = {}
    if resolution and resolution_reps > 1:
        for cid in tasks_by_claim:
            rep_tasks[cid] = [_tasks_for(by_id[cid], budget, seed + r, device)
                              for r in range(1, resolution_reps)]
    records: dict[str, PointRecord] = {}
    pending: list[Task] = []
    seen: set[str] = set()
    for tasks in [*tasks_by_claim.values(), *(t for v in rep_tasks.values() for t in v)]:
        for t in tasks:
            if t.key in seen:  # identical grid points share one computation
                continue
            seen.add(t.key)
            hit = store.get(t.key) if store is not None else None
            if hit is not None:
                records[t.key] = hit
            else:
                pending.append(t)
    total = len(pending)
    if progress is not None:
        progress(f"{len(chosen)} claim(s), {sum(map(len, tasks_by_claim.values()))} grid "
                 f"point(s), {len(records)} cached, {total} to compute")
    own = executor is None
    ex = executor if executor is not None else make_executor(workers, scheduler, client)
    if progress is not None and hasattr(ex, "started"):
        def _started(t: Task) -> None:
            progress(f"start {t.claim_id} point {t.index} {canonical_json(t.params)[:60]}")

        ex.started = _started
    try:
        for done, rec in enumerate(ex.run(pending, by_id), start=1):
            records[rec.key] = rec
            if store is not None:
                store.put(rec)
            if progress is not None:
                status = "error" if rec.error else (
                    f"p={rec.outcome.p_value:.3g}" if rec.outcome is not None else "?")
                progress(f"[{done}/{total}] {rec.claim_id} point {rec.index} {status} "
                         f"({rec.seconds:.2f}s)")
    finally:
        if own:
            ex.close()

    results: list[Result] = []
    for c in chosen:
        if c.id in setup_errors:
            r = _base_result(c, budget, seed, device, vers, [])
            r.error = setup_errors[c.id]
            results.append(r)
            continue
        recs = [_copy_record(records[t.key], t) for t in tasks_by_claim[c.id]]
        results.append(_combine(c, recs, budget, seed, device, vers))
    if ids is None and family is None:
        for module, tb in sorted(catalogue_errors().items()):
            results.append(Result(
                id=module, verdict="error", statistic=None, p_value=None, alpha=0.01, n=0,
                seed=seed, budget=budget, parameters=[], mutant_rejected=None,
                mutant_p_value=None, seconds=0.0, versions=vers, error=tb,
                title=f"catalogue module {module} failed to import", device=device,
            ))
    if holm_across:
        _apply_run_holm(results)
    if resolution:
        by_claim = _records_by_claim(tasks_by_claim, records)
        for r in results:
            if r.id in by_id and r.verdict != "error":
                extra = [[_copy_record(records[t.key], t) for t in ts]
                         for ts in rep_tasks.get(r.id, [])]
                _attach_resolution(r, by_id[r.id], by_claim.get(r.id, []), extra)
    if out is not None:
        from flatstart.validation.report import write_report

        write_report(results, out, records=_records_by_claim(tasks_by_claim, records))
    _LAST_RECORDS.clear()
    _LAST_RECORDS.update(_records_by_claim(tasks_by_claim, records))
    return results


_LAST_RECORDS: dict[str, list[PointRecord]] = {}


def _attach_resolution(result: Result, claim: Claim, records: list[PointRecord],
                       extra: Sequence[Sequence[PointRecord]] = ()) -> None:
    from flatstart.validation.resolution import power_resolution, resolution

    try:
        recs = ensure_predictions(claim, records)
        preds = [r.prediction for r in recs]
        if extra:
            runs = [[r.measurement for r in recs]]
            for more in extra:
                if any(r.error is not None or r.measurement is None for r in more):
                    continue  # a repetition whose grid point raised does not count
                runs.append([r.measurement for r in more])
            res = power_resolution(claim.test, preds, runs, claim.alpha)
        else:
            res = resolution(claim.test, preds, [r.measurement for r in recs], claim.alpha)
    except Exception as exc:  # the resolution is information, never a verdict
        res = {"relative_error": None, "basis": f"failed: {type(exc).__name__}: {exc}"}
    result.resolution = res.get("relative_error")
    result.details["resolution"] = res


def last_records(claim_id: str) -> list[PointRecord]:
    """Point records of ``claim_id`` from the latest :func:`verify_all` in this process."""
    return list(_LAST_RECORDS.get(claim_id, []))


def _copy_record(rec: PointRecord, task: Task) -> PointRecord:
    if rec.index == task.index and rec.params == task.params:
        return rec
    return dataclasses.replace(rec, index=task.index, params=dict(task.params))


def _records_by_claim(
    tasks_by_claim: dict[str, list[Task]], records: dict[str, PointRecord]
) -> dict[str, list[PointRecord]]:
    return {
        cid: [_copy_record(records[t.key], t) for t in tasks if t.key in records]
        for cid, tasks in tasks_by_claim.items()
    }


def verify(
    claim_id: str | Claim,
    budget: str = "quick",
    seed: int = 0,
    device: str = "cpu",
    **kwargs: Any,
) -> Result:
    """Verify one claim; keyword arguments as :func:`verify_all` (cache, workers, ...).

    ``claim_id`` may also be a :class:`Claim` object, which is registered first (so a user's
    own claim runs without a catalogue module).

    Returns:
        A :class:`Result` with the verdict, the Holm-combined p-value over the grid, the
        mutant's, and everything needed to reproduce it (seed, budget, versions).
    """
    if isinstance(claim_id, Claim):
        claim_id = register(claim_id).id
    if not isinstance(claim_id, str):
        raise TypeError(f"claim_id must be a claim id string or a Claim, got {claim_id!r}")
    return verify_all([claim_id], budget, seed, device, **kwargs)[0]


def ensure_predictions(claim: Claim, records: Sequence[PointRecord]) -> list[PointRecord]:
    """Recompute ``prediction`` for records that came from the cache or another process."""
    for r in records:
        if r.prediction is None and r.error is None:
            r.prediction = claim.predict(dict(r.params))
    return list(records)


# --------------------------------------------------------------------------- calibration


@dataclass
class Calibration:
    """Measured false-rejection rate of a claim's combined test under its true prediction.

    ``ok`` is True when the data do not show the rate to exceed alpha: the one-sided exact
    binomial test of ``rate <= alpha`` (:func:`~flatstart.validation.stats.bound_violation_test` at
    level ``1 - level``) does not reject. ``ci`` is the two-sided Clopper-Pearson interval at
    ``level``.
    """

    claim_id: str
    budget: str
    reps: int
    rejections: int
    rate: float
    ci: tuple[float, float]
    alpha: float
    level: float
    ok: bool
    seed: int
    p_values: list[float] = field(default_factory=list)
    errors: int = 0
    resolution: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        d = dataclasses.asdict(self)
        d["ci"] = list(self.ci)
        return d


def calibrate(
    claim_id: str,
    reps: int = 100,
    seed: int = 0,
    budget: str = "quick",
    device: str = "cpu",
    level: float = 0.95,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    resolution: bool = True,
) -> Calibration:
    """Run a claim's test under its true prediction ``reps`` times (run seeds ``seed .. seed +
    reps - 1``) and measure how often the Holm-combined test rejects.

    For a correct prediction and a calibrated test the rate must be <= alpha. Grid points that
    raise count in ``errors`` and are skipped. No cache is used. With ``resolution`` the same
    repetitions also give the claim's resolution: the smallest relative error of the prediction
    that the test rejects with probability >= 0.8
    (:func:`flatstart.validation.resolution.power_resolution`).
    """
    claim = get(claim_id)
    reps = check_int("reps", reps)
    seed = check_int("seed", seed, minimum=0)
    budget = check_budget(budget)
    device = check_device(device)
    tasks = [t for r in range(reps)
             for t in _tasks_for(claim, budget, seed + r, device, run_mutant=False)]
    ex = make_executor(workers)
    outcomes: dict[tuple[int, int], PointRecord] = {}
    try:
        for done, rec in enumerate(ex.run(tasks, {claim.id: claim}), start=1):
            outcomes[(rec.seed, rec.index)] = rec
            if progress is not None and done % max(1, len(tasks) // 20) == 0:
                progress(f"calibrate {claim.id}: {done}/{len(tasks)} grid points")
    finally:
        ex.close()
    pvals: list[float] = []
    errors = 0
    rejections = 0
    runs: list[list[Any]] = []
    for r in range(reps):
        recs = [outcomes[(seed + r, t.index)] for t in tasks if t.seed == seed + r]
        if any(x.outcome is None for x in recs):
            errors += 1
            continue
        runs.append([x.measurement for x in recs])
        ps = [x.outcome.p_value for x in recs if x.outcome is not None]
        rej, adj = holm(ps, claim.alpha)
        pvals.append(float(np.min(adj)))
        rejections += int(np.any(rej))
    valid = reps - errors
    if valid == 0:
        raise RuntimeError(f"calibrate {claim_id}: every repetition raised")
    lo, hi = clopper_pearson(rejections, valid, level)
    ok = not bound_violation_test(rejections, valid, claim.alpha, 1.0 - level).reject
    res = None
    if resolution:
        from flatstart.validation.resolution import power_resolution

        try:
            preds = [claim.predict(dict(params)) for params in claim.grid(budget)]
            res = power_resolution(claim.test, preds, runs, claim.alpha)
        except Exception as exc:  # information, never a verdict
            res = {"relative_error": None, "basis": f"failed: {type(exc).__name__}: {exc}"}
    return Calibration(
        claim_id=claim.id, budget=budget, reps=valid, rejections=rejections,
        rate=rejections / valid, ci=(lo, hi), alpha=claim.alpha, level=level, ok=ok, seed=seed,
        p_values=pvals, errors=errors, resolution=res,
    )

