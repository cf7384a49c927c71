"""The report of a verification run: ``index.html``, ``summary.md``, ``results.json``,
``results.parquet`` and one PNG + SVG figure per claim under ``figures/``.

``results.json`` schema: a JSON list with one object per claim run, holding every field of
:class:`flatstart.validation.claims.Result`:

=================  ======================================================================
key                meaning
=================  ======================================================================
id                 claim id ("VC.mean-vs-median"); a catalogue module that failed to import
                   appears with its module name and verdict "error"
verdict            "consistent" | "refuted" | "underpowered" | "error"
statistic          test statistic at the most significant grid point (null on error)
p_value            Holm-combined p-value over the grid, ``min(1, m min p)`` (null on error)
run_p_value        Holm-adjusted across the claims of the run (null when not applied)
resolution         smallest relative error of the prediction (1%, 2%, 5%, ...) whose scalings
                   up and down the test rejects: on this run's data (one seed, an estimate),
                   or with probability >= 0.8 over N run seeds (``verify --resolution-reps
                   N``); ``details.resolution.basis`` says which (null: none or unscalable)
run_verdict        the verdict after Holm across the run; differs from ``verdict`` only for a
                   claim refuted on its own but not after the run-wide correction
alpha              the claim's significance level
n                  total samples over the grid points
seed, budget,      how it ran
device
parameters         list of parameter objects, one per grid point
mutant_rejected    whether the Holm-combined test rejected the mutant (null on error)
mutant_p_value     Holm-combined p-value of the mutant
seconds            compute seconds summed over grid points
versions           {flatstart, torch, numpy, scipy, sympy, mpmath, python}
prediction,        per grid point, JSON summaries of the prediction and the measurement
measured
details            {"combination": "holm", "points": [{index, params, point_seed, seconds,
                   cached, outcome, mutant, error, p_holm, reject_holm}], ...}
error              traceback text (verdict "error"), else null
title, family,     from the claim
source, kind,
claim_version
=================  ======================================================================

``results.parquet`` has the same columns; the nested ones (parameters, versions, prediction,
measured, details) are JSON strings.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flatstart.validation.claims import Claim, Result, registered
from flatstart.validation.stats import TestOutcome
from flatstart.validation.sweeps import PointRecord

__all__ = ["NESTED_COLUMNS", "figure_stem", "records_from_result", "write_report",
           "summary_table"]

NESTED_COLUMNS: tuple[str, ...] = ("parameters", "versions", "prediction", "measured", "details")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def figure_stem(claim_id: str) -> str:
    """File-name stem of a claim's figure ("VC.mean-vs-median" stays as it is).

    >>> figure_stem("VC.a/b c")
    'VC.a_b_c'
    """
    return _SAFE.sub("_", claim_id)


def records_from_result(result: Result) -> list[PointRecord]:
    """Light records (outcomes only, no samples) rebuilt from a result's ``details``."""
    out = []
    for pt in result.details.get("points", []):
        out.append(PointRecord(
            claim_id=result.id, index=int(pt.get("index", 0)), params=dict(pt.get("params", {})),
            seed=result.seed, point_seed=int(pt.get("point_seed", 0)), budget=result.budget,
            device=result.device, key="",
            outcome=TestOutcome.from_dict(pt["outcome"]) if pt.get("outcome") else None,
            mutant=TestOutcome.from_dict(pt["mutant"]) if pt.get("mutant") else None,
            seconds=float(pt.get("seconds", 0.0)), error=pt.get("error"),
        ))
    return out


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def summary_table(results: Sequence[Result], markdown: bool = False) -> str:
    """Plain-text (or Markdown) table: id, verdict, p-value, mutant p-value, n, seconds."""
    head = ["claim", "verdict", "p", "run p", "mutant p", "resolves", "n", "seconds"]
    rows = [[r.id, r.verdict_text, _fmt(r.p_value), _fmt(r.run_p_value), _fmt(r.mutant_p_value),
             _resolves(r), str(r.n), f"{r.seconds:.2f}"] for r in results]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    counts = _counts(results)
    lines.append(", ".join(f"{v}: {k}" for k, v in counts.items() if v) or "no claims")
    alone = [r.id for r in results if r.run_verdict not in (None, r.verdict)]
    if alone:
        lines.append(f"refuted on their own but not after Holm across the run: "
                     f"{', '.join(alone)}")
    return "\n".join(lines)


def _resolves(r: Result) -> str:
    """The claim's resolution as shown in tables: ``±5% (1 run)`` (the smallest relative error
    of the prediction its test rejects on this run's data) or ``±5% (P≥0.8, 10 seeds)`` (rejected
    with probability >= 0.8 over 10 run seeds), ``-`` when not resolved or not scalable."""
    if r.resolution is None:
        return "-"
    info = r.details.get("resolution") or {}
    reps = info.get("reps")
    how = f"P≥{info.get('power', 0.8):g}, {reps} seeds" if reps else "1 run"
    return f"±{100 * r.resolution:g}% ({how})"


def _counts(results: Sequence[Result]) -> dict[str, int]:
    counts = {v: 0 for v in ("consistent", "refuted", "underpowered", "error")}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


def _text_figure(result: Result, stem: Path) -> list[str]:
    import matplotlib.pyplot as plt

    from flatstart.validation.plots import VERDICT_COLORS, save_figure

    fig = plt.figure(figsize=(8, 3))
    fig.suptitle(f"{result.id} — {result.verdict}", color=VERDICT_COLORS.get(result.verdict))
    tail = (result.error or "").strip().splitlines()[-6:]
    fig.text(0.02, 0.8, "\n".join(line[:110] for line in tail) or "no data", fontsize=7,
             va="top", family="monospace")
    fig.text(0.01, 0.01, f"n = {result.n}, seed = {result.seed}, parameters: "
             f"{json.dumps(result.parameters, default=str)[:150]}", fontsize=6)
    return save_figure(fig, str(stem))


def _figure(result: Result, claim: Claim | None, records: Sequence[PointRecord] | None,
            stem: Path) -> list[str]:
    from flatstart.validation.plots import claim_figure, save_figure

    if claim is None:
        return _text_figure(result, stem)
    recs = list(records) if records else records_from_result(result)
    if not recs:
        return _text_figure(result, stem)
    return save_figure(claim_figure(claim, recs, result), str(stem))


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a test dependency
        return False
    flat = []
    for row in rows:
        r = dict(row)
        for k in NESTED_COLUMNS:
            r[k] = json.dumps(r.get(k), sort_keys=True)
        flat.append(r)
    schema = pa.schema([
        ("id", pa.string()), ("verdict", pa.string()), ("statistic", pa.float64()),
        ("p_value", pa.float64()), ("run_p_value", pa.float64()), ("alpha", pa.float64()),
        ("n", pa.int64()), ("seed", pa.int64()), ("budget", pa.string()),
        ("device", pa.string()), ("parameters", pa.string()), ("mutant_rejected", pa.bool_()),
        ("mutant_p_value", pa.float64()), ("seconds", pa.float64()), ("versions", pa.string()),
        ("prediction", pa.string()), ("measured", pa.string()), ("details", pa.string()),
        ("error", pa.string()), ("title", pa.string()), ("family", pa.string()),
        ("source", pa.string()), ("kind", pa.string()), ("claim_version", pa.string()),
        ("run_verdict", pa.string()), ("resolution", pa.float64()),
    ])
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in flat],
                                 schema=schema)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return True


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(
    results: Sequence[Result],
    out: str | os.PathLike[str] = "flatstart-report",
    records: Mapping[str, Sequence[PointRecord]] | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Write the report folder and return the paths written.

    Args:
        results: one :class:`~flatstart.validation.claims.Result` per claim.
        out: the folder (created).
        records: claim id -> point records (with measurements) for the claims' plot hooks;
            claims without records get the default p-value figure rebuilt from ``details``.
        figures: draw the figures (PNG + SVG per claim).

    Returns:
        ``{"index": ..., "summary": ..., "json": ..., "parquet": ... or None,
        "figures": {claim id: [png, svg]}}`` (paths as strings).
    """
    root = Path(out)
    (root / "figures").mkdir(parents=True, exist_ok=True)
    rows = [r.to_dict() for r in results]
    _write_text(root / "results.json", json.dumps(rows, indent=2, allow_nan=False))
    parquet = root / "results.parquet"
    has_parquet = _write_parquet(rows, parquet)
    figs: dict[str, list[str]] = {}
    if figures:
        for r in results:
            stem = root / "figures" / figure_stem(r.id)
            claim = registered(r.id)
            recs = records.get(r.id) if records is not None else None
            try:
                figs[r.id] = _figure(r, claim, recs, stem)
            except Exception as exc:  # a broken figure must not lose the report
                r.details.setdefault("report_errors", []).append(f"figure: {exc!r}")
                figs[r.id] = _text_figure(r, stem)
    _write_text(root / "summary.md", _summary_md(results))
    _write_text(root / "index.html", _index_html(results, figs, root))
    return {
        "index": str(root / "index.html"),
        "summary": str(root / "summary.md"),
        "json": str(root / "results.json"),
        "parquet": str(parquet) if has_parquet else None,
        "figures": figs,
    }


_ORDER = {"refuted": 0, "error": 1, "underpowered": 2, "consistent": 3}


def problems_first(results: Sequence[Result]) -> list[Result]:
    """Refuted, error and underpowered claims first (then consistent), each group by id; a
    claim refuted on its own but not after Holm across the run counts as refuted."""
    return sorted(results, key=lambda r: (_ORDER.get(r.verdict, 4), r.id))


def relative_paths(text: str) -> str:
    """A traceback with this machine's absolute paths shown relative to the packages (and
    site-packages), so a shared report does not leak local folders.

    >>> from flatstart import validation
    >>> from pathlib import Path
    >>> root = str(Path(validation.__file__).resolve().parents[1])
    >>> relative_paths(f'File "{root}/theory/products.py", line 3')
    'File "theory/products.py", line 3'
    """
    from flatstart import validation

    root = str(Path(validation.__file__).resolve().parents[1]) + "/"
    text = text.replace(root, "")
    return re.sub(r'File "[^"]*/(site-packages|dist-packages)/', r'File "<\1>/', text)


def _run_header(results: Sequence[Result]) -> dict[str, str]:
    first = results[0] if results else None
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "budget": first.budget if first else "—",
        "seed": str(first.seed) if first else "—",
        "device": first.device if first else "—",
        "versions": ", ".join(f"{k} {v}" for k, v in (first.versions if first else {}).items()),
    }


def _summary_md(results: Sequence[Result]) -> str:
    results = problems_first(results)
    h = _run_header(results)
    counts = _counts(results)
    lines = [
        "# flatstart verification report", "",
        f"Generated {h['generated']}; budget `{h['budget']}`, seed {h['seed']}, "
        f"device `{h['device']}`.", "",
        f"Versions: {h['versions']}.", "",
        "Verdicts: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ".", "",
        summary_table(results, markdown=True), "",
        "p: Holm-combined over the claim's grid points; run p: Holm-adjusted across the run "
        "(a verdict that this correction changes is shown as `refuted (run: consistent)`); "
        "resolves: the smallest relative error of the prediction that the test rejects on this "
        "run's data (\"consistent\" means \"within\" that); "
        "a claim is *underpowered* when its mutant (a wrong prediction) is not rejected.", "",
    ]
    for r in results:
        if r.verdict == "error" and r.error:
            lines += [f"## {r.id}: error", "", "```", relative_paths(r.error.strip())[-2000:],
                      "```", ""]
    return "\n".join(lines)


def _count_link(verdict: str, n: int, results: Sequence[Result]) -> str:
    """``3 refuted`` linking to the first such claim's section (plain text when none)."""
    first = next((r for r in problems_first(results) if r.verdict == verdict), None)
    if first is None or n == 0:
        return f"{n} {verdict}"
    return f'<a href="#{html.escape(figure_stem(first.id))}">{n} {verdict}</a>'


def _index_html(results: Sequence[Result], figs: Mapping[str, list[str]], root: Path) -> str:
    from flatstart.validation.plots import VERDICT_COLORS

    results = problems_first(results)
    h = _run_header(results)
    esc = html.escape
    rows = []
    for r in results:
        color = VERDICT_COLORS.get(r.verdict, "#000")
        anchor = figure_stem(r.id)
        rows.append(
            f'<tr><td><a href="#{anchor}">{esc(r.id)}</a></td><td>{esc(r.title)}</td>'
            f'<td class="v" style="background:{color}">{esc(r.verdict_text)}</td>'
            f"<td>{_fmt(r.p_value)}</td><td>{_fmt(r.run_p_value)}</td>"
            f"<td>{_fmt(r.mutant_p_value)}</td><td>{esc(_resolves(r))}</td><td>{r.n}</td>"
            f"<td>{r.seconds:.2f}</td><td>{esc(r.source)}</td></tr>"
        )
    sections = []
    for r in results:
        anchor = figure_stem(r.id)
        paths = figs.get(r.id, [])
        rel = [Path(p).relative_to(root).as_posix() for p in paths]
        img = ""
        if rel:
            img = (f'<p><img src="{esc(rel[0])}" alt="figure of {esc(r.id)}" width="760"></p>'
                   + (f'<p><a href="{esc(rel[1])}">SVG</a></p>' if len(rel) > 1 else ""))
        claim = registered(r.id)
        statement = esc(claim.statement) if claim is not None else ""
        err = f"<pre>{esc(relative_paths(r.error.strip())[-3000:])}</pre>" if r.error else ""
        sections.append(
            f'<section id="{esc(anchor)}"><h2>{esc(r.id)} — '
            f'<span style="color:{VERDICT_COLORS.get(r.verdict, "#000")}">{esc(r.verdict_text)}'
            f"</span></h2><p>{statement}</p><p>source: {esc(r.source)}; parameters: "
            f"<code>{esc(json.dumps(r.parameters, default=str)[:400])}</code>; n = {r.n}; "
            f"seed = {r.seed}</p>{img}{err}</section>"
        )
    counts = _counts(results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>flatstart verification report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
td.v {{ color: white; font-weight: bold; }} pre {{ background: #f4f4f4; overflow-x: auto; }}
</style></head><body>
<h1>flatstart verification report</h1>
<p>Generated {esc(h['generated'])}; budget <code>{esc(h['budget'])}</code>, seed {esc(h['seed'])},
device <code>{esc(h['device'])}</code>. Versions: {esc(h['versions'])}.</p>
<p>{", ".join(_count_link(k, v, results) for k, v in counts.items())}.
Files: <a href="results.json">results.json</a>, <a href="results.parquet">results.parquet</a>,
<a href="summary.md">summary.md</a>.</p>
<table><tr><th>claim</th><th>title</th><th>verdict</th><th>p</th><th>run p</th>
<th>mutant p</th><th>resolves</th><th>n</th><th>seconds</th><th>source</th></tr>
{chr(10).join(rows)}
</table>
{chr(10).join(sections)}
</body></html>
"""
