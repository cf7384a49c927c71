"""The result of running one claim: verdict, p-values, mutant, resolution, provenance.

:class:`Result` is what :func:`flatstart.validation.run.verify` returns and what ``results.json``
holds (one object per claim, :meth:`Result.to_dict` / :meth:`Result.from_dict`). The point
records a result was combined from travel with it (:attr:`Result.records`, never serialized).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flatstart.validation.records import PointRecord, describe

__all__ = [
    "VERDICTS",
    "Result",
]

#: Draws a result's figure as HTML for :meth:`Result._repr_html_`; the report module installs
#: :func:`flatstart.validation.report.figure_html` here when it is imported (this floor cannot
#: import the report, which is built on results).
FIGURE_HTML: list[Callable[[Any], str]] = []



VERDICTS: tuple[str, ...] = ("consistent", "refuted", "underpowered", "error")


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
        try:  # the claim's figure as an embedded PNG (report.figure_html, see FIGURE_HTML)
            figure = FIGURE_HTML[-1](self) if FIGURE_HTML else ""
        except Exception:  # the table alone rather than no display
            figure = ""
        return (f"<div><b>{_html.escape(self.id)}</b> — {_html.escape(self.title)}"
                f"<table>{body}</table>{figure}</div>")

    @property
    def records(self) -> list[PointRecord]:
        """The point records this result was combined from (empty when it was read back from
        ``results.json``); never serialized."""
        return list(self.__dict__.get("_records", []))

    @records.setter
    def records(self, value: Sequence[PointRecord]) -> None:
        self.__dict__["_records"] = list(value)

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
    return _sanitize(describe(obj))
