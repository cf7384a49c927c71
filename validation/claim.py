"""A claim: a theory prediction, a Monte Carlo measurement, a statistical test and a mutant.

:class:`Claim` is a frozen dataclass of four module-level functions (``predict``, ``simulate``,
``test``, ``mutant``), a grid per budget and what the report shows; it validates itself on
construction (id ``FAMILY.short-name``, a known family for flatstart's own claims, an alpha in
(0, 1), a kind of :data:`KINDS`, a ``quick`` grid). Registering and running claims live in
:mod:`flatstart.validation.registry` and :mod:`flatstart.validation.run`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flatstart.validation.grid import BUDGETS, expand_grid, grid_for
from flatstart.validation.stats import TestOutcome

if TYPE_CHECKING:
    from flatstart.validation.records import PointRecord

__all__ = [
    "FAMILIES",
    "KINDS",
    "Claim",
    "is_flatstart_module",
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


_ID_RE = re.compile(r"^([A-Z]+)\.[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _identity(x: Any) -> Any:
    return x


def is_flatstart_module(name: str) -> bool:
    """Whether a module belongs to flatstart (its claims use the families of FAMILIES)."""
    return name == "flatstart" or name.startswith("flatstart.")


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
            ``records`` are :class:`~flatstart.validation.records.PointRecord` with ``params``,
            ``prediction``, ``measurement``, ``outcome``, ``mutant``.
        describe_prediction / describe_measurement: optional maps to something JSON-friendly
            for the report (default: :func:`~flatstart.validation.records.describe` of the object).
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
        if self.family not in FAMILIES and is_flatstart_module(self.module):
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
