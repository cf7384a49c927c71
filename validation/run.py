"""Running claims: :func:`verify`, :func:`verify_all`, :func:`calibrate`.

Verdicts of a claim run over its grid (per-point p-values combined with Holm's method):

* ``refuted``: Holm rejects at least one grid point at the claim's alpha (combined p-value
  ``min(1, m * min p) <= alpha``);
* ``underpowered``: not refuted, but the same Holm test does *not* reject the mutant;
* ``consistent``: not refuted and the mutant is rejected;
* ``error``: a grid point raised (traceback in ``Result.error``); the run goes on.

:func:`verify_all` additionally applies Holm across the claims of the run: ``run_p_value``
and ``run_verdict`` sit beside the claim's own ``verdict``, which they never overwrite (a claim
refuted on its own but not after the run-wide correction shows both). It returns a
:class:`~flatstart.validation.report.Results` (a list of results that also holds the point
records, for the report and the figures).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flatstart._checks import check_int
from flatstart.validation.cache import Cache, default_cache_dir
from flatstart.validation.claim import Claim
from flatstart.validation.executors import DEFAULT_WORKER_TIMEOUT, Executor, make_executor
from flatstart.validation.grid import check_budget, check_device
from flatstart.validation.records import (
    PointRecord,
    Task,
    canonical_json,
    code_fingerprint,
    ensure_predictions,
    flatstart_version,
    point_key,
    point_seed,
)
from flatstart.validation.registry import catalogue_errors, get, register, select
from flatstart.validation.report import Results, write_report
from flatstart.validation.resolution import power_resolution, resolution
from flatstart.validation.result import Result
from flatstart.validation.stats import bound_violation_test, clopper_pearson, holm

__all__ = [
    "Calibration",
    "calibrate",
    "verify",
    "verify_all",
    "versions",
]

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
    worker_timeout: float | None = DEFAULT_WORKER_TIMEOUT,
) -> Results:
    """Verify several claims (all registered real claims when ``ids`` is None).

    Args:
        ids: claim ids, or None for every claim (``family`` filters).
        budget: "quick", "standard" or "full".
        seed: run seed (>= 0); each grid point gets
            :func:`~flatstart.validation.records.point_seed`.
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
        worker_timeout: with dask, seconds to wait for the scheduler and a first worker
            (None: forever; :class:`~flatstart.validation.executors.DaskExecutor`).
        resolution_reps: with ``n > 1``, the resolution is the smallest relative error rejected
            with probability >= 0.8 over ``n`` run seeds (``seed, seed + 1, ..., seed + n - 1``:
            the extra seeds' grid points are the same computations as ``verify`` at those seeds,
            and share the cache); with 1 it is the one-run estimate.

    Returns:
        A :class:`~flatstart.validation.report.Results`: one :class:`Result` per claim, in the
        order of ``ids`` (sorted ids otherwise; with ``ids=None``, catalogue modules that fail
        to import appear as "error" results), and ``.records`` (claim id -> its point records,
        also on each result as ``Result.records``) for the report and the figures.
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
    ex = executor if executor is not None else make_executor(workers, scheduler, client,
                                                             worker_timeout=worker_timeout)
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
    by_claim_records = _records_by_claim(tasks_by_claim, records)
    for r in results:
        r.records = list(by_claim_records.get(r.id, []))
    run = Results(results, by_claim_records)
    if out is not None:
        write_report(run, out, records=by_claim_records, figure_cache=store)
    return run


def _attach_resolution(result: Result, claim: Claim, records: list[PointRecord],
                       extra: Sequence[Sequence[PointRecord]] = ()) -> None:
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
