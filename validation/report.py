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

Figures are cached (``write_report(..., figure_cache=...)``; ``flatstart verify`` uses its
result cache): a claim's figure is stored under :func:`figure_key` (its grid points' cache
keys and outcomes, what the figure shows of the result, the plotting code, the style) and a
later report with the same key copies it instead of redrawing. In Jupyter, :class:`Results`
(or :func:`results_html`) shows a run as an HTML table and :func:`figure_html` a claim's
figure as an embedded PNG.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import html
import inspect
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flatstart.validation import result as _result
from flatstart.validation.cache import Cache, default_cache_dir
from flatstart.validation.claim import Claim
from flatstart.validation.records import PointRecord, canonical_json, relative_paths
from flatstart.validation.registry import registered
from flatstart.validation.result import Result
from flatstart.validation.stats import TestOutcome

__all__ = ["FIGURE_CACHE_SCHEMA", "NESTED_COLUMNS", "Results", "figure_html", "figure_key",
           "figure_stem", "records_from_result", "results_html", "summary_table",
           "write_report"]

FIGURE_CACHE_SCHEMA = "1"
"""Bumped when the figure cache's key or layout changes (old figures become misses)."""

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
    tail = relative_paths((result.error or "").strip()).splitlines()[-6:]
    fig.text(0.02, 0.8, "\n".join(line[:110] for line in tail) or "no data", fontsize=7,
             va="top", family="monospace")
    fig.text(0.01, 0.01, f"n = {result.n}, seed = {result.seed}, parameters: "
             f"{json.dumps(result.parameters, default=str)[:150]}", fontsize=6)
    return save_figure(fig, str(stem))


def _figure_code_hash(claim: Claim) -> str:
    """sha256 of the code that draws a claim's figure: ``plots.py``, this module, the claim's
    plot hook (its source; its ``repr`` when the source cannot be read, which includes its
    address, so such a figure is never reused across processes) and matplotlib's version."""
    import matplotlib

    from flatstart.validation import plots

    h = hashlib.sha256()
    for module_file in (plots.__file__, __file__):
        h.update(Path(str(module_file)).read_bytes())
    if claim.plot is not None:
        try:
            h.update(inspect.getsource(claim.plot).encode())
        except (OSError, TypeError):
            h.update(repr(claim.plot).encode())
    h.update(matplotlib.__version__.encode())
    return h.hexdigest()


def figure_key(result: Result, claim: Claim, records: Sequence[PointRecord],
               style: str = "report") -> str | None:
    """Cache key of a claim's figure, or None when the figure must not be cached.

    sha256 of: the records' cache keys (:func:`flatstart.validation.records.point_key`, which
    already hash the claim, its parameters, budget, seed, device and the source of every
    module), their indices, parameters and outcomes (claim and mutant), what the figure shows
    of the result (id, verdict, p-value, n, seed, alpha, parameters), the plotting code
    (:func:`_figure_code_hash`), the style and :data:`FIGURE_CACHE_SCHEMA`. None when a record
    has no cache key (rebuilt from ``results.json``), an error or no outcome: such figures are
    always drawn.
    """
    if not records or any(not r.key or r.error is not None or r.outcome is None
                          for r in records):
        return None
    payload = {
        "schema": FIGURE_CACHE_SCHEMA,
        "style": style,
        "points": [[r.key, r.index, r.params, r.outcome.to_dict() if r.outcome else None,
                    r.mutant.to_dict() if r.mutant else None] for r in records],
        "shown": [result.id, result.verdict, result.p_value, result.n, result.seed,
                  result.alpha, result.parameters],
        "code": _figure_code_hash(claim),
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _copy_atomic(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    tmp = f"{os.fspath(dst)}.tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


_REPORT_FORMATS = ("png", "svg")


def _figure(result: Result, claim: Claim | None, records: Sequence[PointRecord] | None,
            stem: Path, figure_cache: Cache | None = None) -> tuple[list[str], bool]:
    """Write the claim's figure (PNG + SVG); returns the paths and whether they came from
    ``figure_cache``."""
    from flatstart.validation.plots import claim_figure, save_figure

    if claim is None:
        return _text_figure(result, stem), False
    recs = list(records) if records else records_from_result(result)
    if not recs:
        return _text_figure(result, stem), False
    key = figure_key(result, claim, recs) if figure_cache is not None else None
    paths = [f"{stem}.{f}" for f in _REPORT_FORMATS]
    if key is not None and figure_cache is not None:
        hit = figure_cache.get_figure(key, _REPORT_FORMATS)
        if hit is not None:
            try:
                for src, dst in zip(hit, paths, strict=True):
                    _copy_atomic(src, dst)
                return paths, True
            except OSError:
                pass  # draw it instead
    paths = save_figure(claim_figure(claim, recs, result), str(stem))
    if key is not None and figure_cache is not None:
        try:
            figure_cache.put_figure(key, paths)
        except OSError:  # a full or read-only cache must not lose the report
            pass
    return paths, False


def _figure_cache(cache: bool | str | os.PathLike[str] | Cache | None) -> Cache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return Cache(default_cache_dir())
    return cache if isinstance(cache, Cache) else Cache(cache)


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
    figure_cache: bool | str | os.PathLike[str] | Cache | None = None,
) -> dict[str, Any]:
    """Write the report folder and return the paths written.

    Args:
        results: one :class:`~flatstart.validation.claims.Result` per claim.
        out: the folder (created).
        records: claim id -> point records (with measurements) for the claims' plot hooks;
            claims without records get the default p-value figure rebuilt from ``details``.
        figures: draw the figures (PNG + SVG per claim).
        figure_cache: reuse figures drawn from the same grid points and code: a
            :class:`~flatstart.validation.cache.Cache` or its folder (True: the default
            folder; None/False: draw every figure). Keys: :func:`figure_key`.

    Returns:
        ``{"index": ..., "summary": ..., "json": ..., "parquet": ... or None,
        "figures": {claim id: [png, svg]}, "cached_figures": [claim ids whose figure came
        from the cache]}`` (paths as strings).
    """
    root = Path(out)
    (root / "figures").mkdir(parents=True, exist_ok=True)
    rows = [r.to_dict() for r in results]
    _write_text(root / "results.json", json.dumps(rows, indent=2, allow_nan=False))
    parquet = root / "results.parquet"
    has_parquet = _write_parquet(rows, parquet)
    figs: dict[str, list[str]] = {}
    from_cache: list[str] = []
    store = _figure_cache(figure_cache)
    if figures:
        for r in results:
            stem = root / "figures" / figure_stem(r.id)
            claim = registered(r.id)
            recs = records.get(r.id) if records is not None else None
            try:
                figs[r.id], hit = _figure(r, claim, recs, stem, store)
                if hit:
                    from_cache.append(r.id)
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
        "cached_figures": from_cache,
    }


_ORDER = {"refuted": 0, "error": 1, "underpowered": 2, "consistent": 3}


def problems_first(results: Sequence[Result]) -> list[Result]:
    """Refuted, error and underpowered claims first (then consistent), each group by id; a
    claim refuted on its own but not after Holm across the run counts as refuted."""
    return sorted(results, key=lambda r: (_ORDER.get(r.verdict, 4), r.id))




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


# --------------------------------------------------------------------------- Jupyter


def _matching_records(result: Result) -> list[PointRecord]:
    """The records the result carries (:attr:`Result.records`) when they are its own (same
    grid, seed, budget, device and p-values), else light records rebuilt from its ``details``."""
    recs = result.records
    points = result.details.get("points", [])
    same = (
        len(recs) == len(points) == len(result.parameters) and bool(recs)
        and all(r.seed == result.seed and r.budget == result.budget
                and r.device == result.device and r.params == pt.get("params")
                and (r.outcome.to_dict() if r.outcome else None) == pt.get("outcome")
                for r, pt in zip(recs, points, strict=True))
    )
    return recs if same else records_from_result(result)


def figure_html(result: Result, records: Sequence[PointRecord] | None = None,
                width: int = 640) -> str:
    """The claim's report figure as an embedded PNG (``<img src="data:image/png;base64,...">``)
    for Jupyter; "" when there is nothing to draw (a claim not registered in this process, a
    result without grid points), a short note when drawing fails.

    ``records`` default: the records ``result`` carries (the claim's own figure, with samples),
    else the default p-value figure rebuilt from ``result.details``.
    """
    import matplotlib.pyplot as plt

    from flatstart.validation.plots import claim_figure

    claim = registered(result.id)
    if claim is None:
        return ""
    try:
        recs = list(records) if records else _matching_records(result)
        if not recs:
            return ""
        if all(r.measurement is None for r in recs):  # rebuilt: no samples for the hook
            claim = dataclasses.replace(claim, plot=None)
        fig = claim_figure(claim, recs, result)
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=80)
        finally:
            plt.close(fig)
    except Exception as exc:  # a figure must not break the display of a result
        return (f'<p style="color:#888">no figure: {html.escape(type(exc).__name__)}: '
                f"{html.escape(str(exc)[:200])}</p>")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="figure of {html.escape(result.id)}"'
            f' width="{int(width)}" style="max-width:100%">')


def results_html(results: Sequence[Result],
                 records: Mapping[str, Sequence[PointRecord]] | None = None,
                 figures: bool = False) -> str:
    """HTML of a run for Jupyter: verdict counts, then a table of the claims (refuted, error
    and underpowered first) with verdict colours, p-values, resolution, n, cached grid points
    and seconds; with ``figures``, each claim's figure (:func:`figure_html`, using
    ``records[claim id]`` when given) in a collapsible block below.
    """
    from flatstart.validation.plots import VERDICT_COLORS

    esc = html.escape
    ordered = problems_first(results)
    counts = _counts(ordered)
    first = ordered[0] if ordered else None
    run = (f"; budget {esc(first.budget)}, seed {first.seed}, device {esc(first.device)}"
           if first is not None else "")
    rows = []
    for r in ordered:
        color = VERDICT_COLORS.get(r.verdict, "#000")
        points = r.details.get("points", [])
        cached = sum(1 for pt in points if pt.get("cached"))
        rows.append(
            f"<tr><td>{esc(r.id)}</td><td>{esc(r.title)}</td>"
            f'<td style="background:{color};color:white;font-weight:bold">'
            f"{esc(r.verdict_text)}</td><td>{_fmt(r.p_value)}</td><td>{_fmt(r.run_p_value)}</td>"
            f"<td>{_fmt(r.mutant_p_value)}</td><td>{esc(_resolves(r))}</td><td>{r.n}</td>"
            f"<td>{cached}/{len(points)}</td><td>{r.seconds:.2f}</td></tr>")
    alone = [r.id for r in ordered if r.run_verdict not in (None, r.verdict)]
    note = (f"<p>refuted on their own but not after Holm across the run: "
            f"{esc(', '.join(alone))}</p>" if alone else "")
    blocks = []
    if figures:
        for r in ordered:
            img = figure_html(r, records.get(r.id) if records is not None else None)
            if img:
                blocks.append(f"<details><summary>{esc(r.id)}: {esc(r.verdict_text)}"
                              f"</summary>{img}</details>")
    head = "".join(f"<th>{h}</th>" for h in (
        "claim", "title", "verdict", "p", "run p", "mutant p", "resolves", "n",
        "cached points", "seconds"))
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    return (f'<div class="flatstart-results"><p><b>{len(ordered)} claim(s)</b>: {summary}'
            f"{run}</p><table><tr>{head}</tr>{''.join(rows)}</table>{note}"
            f"{''.join(blocks)}</div>")


class Results(list[Result]):
    """The results of a run: a list of :class:`~flatstart.validation.claims.Result` that
    Jupyter shows as an HTML table (:func:`results_html`).

    Args:
        results: the results (e.g. of :func:`~flatstart.validation.claims.verify_all`).
        records: claim id -> point records for the figures (default: the records each result
            carries, :attr:`~flatstart.validation.result.Result.records`).

    >>> Results([]).counts()
    {'consistent': 0, 'refuted': 0, 'underpowered': 0, 'error': 0}
    """

    def __init__(self, results: Iterable[Result] = (),
                 records: Mapping[str, Sequence[PointRecord]] | None = None) -> None:
        super().__init__(results)
        self.records: dict[str, Sequence[PointRecord]] = (
            dict(records) if records is not None else {r.id: r.records for r in self})

    def counts(self) -> dict[str, int]:
        """Number of claims per verdict."""
        return _counts(self)

    @property
    def ok(self) -> bool:
        """True when no claim is refuted or in error."""
        return all(r.ok for r in self)

    def summary(self, markdown: bool = False) -> str:
        """The text (or Markdown) table of :func:`summary_table`, problems first."""
        return summary_table(problems_first(self), markdown=markdown)

    def html(self, figures: bool = False) -> str:
        """:func:`results_html` of these results (``figures``: with each claim's figure)."""
        return results_html(self, self.records, figures=figures)

    def _repr_html_(self) -> str:
        return self.html()

    def write_report(self, out: str | os.PathLike[str] = "flatstart-report",
                     **kwargs: Any) -> dict[str, Any]:
        """:func:`write_report` of these results (with their records)."""
        kwargs.setdefault("records", self.records)
        return write_report(self, out, **kwargs)


_result.FIGURE_HTML.append(figure_html)  # Result._repr_html_ draws through it (see result.py)
