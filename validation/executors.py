"""Executors: where grid points run. In-process (default), a local process pool, or dask.

:func:`run_point` is the pure function every executor runs on one grid point: predict,
simulate (under the layering guard :func:`guarded_simulate`: a ``simulate`` that executes any
theory frame is an error), test, test the mutant, time it, and turn any ``Exception`` into a
record with ``error`` set (``KeyboardInterrupt`` still propagates).

Every executor maps :func:`run_point` over independent
:class:`~flatstart.validation.records.Task` objects and yields
:class:`~flatstart.validation.records.PointRecord`
objects as they finish (in any order); the caller merges them by cache key and writes the
cache, so an interrupted run keeps everything that finished. Grid points are seeded by
:func:`~flatstart.validation.records.point_seed`, so all executors give the same numbers (up to the
reduction order of multithreaded BLAS in torch; workers run ``torch.set_num_threads(1)``).

Out-of-process workers find a claim by importing the module that defines it (``Task.claim_module``),
so claims must be registered at import time of an importable module (as the catalogue is).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from flatstart._checks import check_positive
from flatstart.validation.claim import Claim
from flatstart.validation.records import PointRecord, Task, describe
from flatstart.validation.registry import get, registered
from flatstart.validation.stats import TestOutcome
from flatstart.validation.tracing import Recorder

__all__ = [
    "DEFAULT_WORKER_TIMEOUT",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "LayeringError",
    "PoolExecutor",
    "SchedulerUnavailable",
    "guarded_simulate",
    "make_executor",
    "resolve_claim",
    "run_point",
]

DEFAULT_WORKER_TIMEOUT = 60.0
"""Seconds a dask run waits for the scheduler to answer and for a first worker to join."""


class SchedulerUnavailable(TimeoutError):
    """The dask scheduler did not answer, or no worker joined it, within the timeout (a
    ``TimeoutError``, hence an ``OSError``); the message is one line saying what to do."""


class Executor(Protocol):
    """What :func:`flatstart.validation.verify_all` needs from an executor."""

    name: str

    def run(self, tasks: Sequence[Task], claims: dict[str, Claim]) -> Iterator[PointRecord]:
        """Yield one record per task, in completion order."""
        ...

    def close(self) -> None:
        """Release workers (no-op for in-process)."""
        ...


class InProcessExecutor:
    """Run grid points one after another in this process (keeps prediction objects)."""

    name = "in-process"

    def __init__(self) -> None:
        self.started: Any = None

    def run(self, tasks: Sequence[Task], claims: dict[str, Claim]) -> Iterator[PointRecord]:
        """Yield the records in task order (calling ``self.started(task)`` before each, when
        set: progress shows which point is running)."""
        for task in tasks:
            if self.started is not None:
                self.started(task)
            yield run_point(task, claims.get(task.claim_id), keep_prediction=True)

    def close(self) -> None:
        """Nothing to release."""
        return None


def _worker_init() -> None:
    """Process-pool initializer: one thread per worker (the workers share the cores).

    Sets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` to 1, which torch reads when a claim first
    imports it, and calls ``torch.set_num_threads(1)`` if torch is already loaded; importing
    torch here eagerly would cost every worker seconds of start-up even for claims that never
    use it. :func:`_run_remote` re-applies the limit before every grid point.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    _one_torch_thread()


def _one_torch_thread() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _run_remote(task: Task) -> PointRecord:
    _one_torch_thread()
    return run_point(task, None, keep_prediction=False)


def _run_dask(task: Task) -> PointRecord:
    # dask workers manage their own threads (and may share this process): no thread limits
    return run_point(task, None, keep_prediction=False)


def _result_or_error(fut: Any, task: Task) -> PointRecord:
    """The future's record; a failure outside the claim (a measurement that does not pickle, a
    worker that died) becomes an error record for that grid point instead of ending the run."""
    try:
        rec = fut.result()
    except Exception:
        rec = PointRecord(
            claim_id=task.claim_id, index=task.index, params=dict(task.params), seed=task.seed,
            point_seed=task.point_seed, budget=task.budget, device=task.device, key=task.key,
            error="executor failure:\n" + traceback.format_exc(),
        )
    return rec


class PoolExecutor:
    """A local pool of ``workers`` processes (``spawn`` context, one torch thread each).

    Args:
        workers: number of worker processes (>= 1).
    """

    name = "process-pool"

    def __init__(self, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
        return self._pool

    def run(self, tasks: Sequence[Task], claims: dict[str, Claim]) -> Iterator[PointRecord]:
        """Submit every task to the pool; yield records as they finish."""
        if not tasks:
            return
        pool = self._get_pool()
        futures = {pool.submit(_run_remote, t): t for t in tasks}
        try:
            for fut in as_completed(futures):
                yield _result_or_error(fut, futures[fut])
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        """Shut the pool down (pending tasks are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """Run grid points on a dask.distributed cluster.

    Args:
        scheduler: address of a running scheduler ("tcp://host:8786"), or None with ``client``.
        client: an existing ``distributed.Client`` (e.g. on a ``LocalCluster`` or a
            ``dask_jobqueue.SLURMCluster``); not closed by :meth:`close`.
        worker_timeout: seconds to wait for the scheduler to answer (when connecting to
            ``scheduler``) and, before the first tasks are submitted, for a worker to join
            (default :data:`DEFAULT_WORKER_TIMEOUT`); None waits forever (a scheduler without
            workers then hangs the run). Raises :class:`SchedulerUnavailable` when exceeded.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, client: Any = None,
                 worker_timeout: float | None = DEFAULT_WORKER_TIMEOUT) -> None:
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - the extra is installed here
            raise ImportError(
                "the dask executor needs the 'distributed' extra: "
                "pip install 'flatstart[distributed]'"
            ) from exc
        if client is None and scheduler is None:
            raise ValueError("DaskExecutor needs scheduler=ADDRESS or client=Client")
        if worker_timeout is not None:
            worker_timeout = check_positive("worker_timeout", worker_timeout)
        self.worker_timeout = worker_timeout
        self._own = client is None
        if client is None:
            try:
                client = distributed.Client(scheduler, timeout=worker_timeout)
            except (OSError, TimeoutError) as exc:
                raise SchedulerUnavailable(
                    f"cannot reach the dask scheduler {scheduler!r}"
                    + (f" within {worker_timeout:g} s" if worker_timeout is not None else "")
                    + f" ({_one_line(exc)}): is it running at that address?") from None
        self.client = client
        self._workers_seen = False

    def _wait_for_a_worker(self) -> None:
        """Wait up to ``worker_timeout`` for a running worker (once per executor)."""
        if self._workers_seen or self.worker_timeout is None:
            return
        try:
            self.client.wait_for_workers(1, timeout=self.worker_timeout)
        except (OSError, TimeoutError) as exc:
            address = getattr(self.client.scheduler, "address", None) or "the scheduler"
            raise SchedulerUnavailable(
                f"no dask worker joined {address} within {self.worker_timeout:g} s "
                f"({_one_line(exc)}): start workers (dask worker ADDRESS) or wait longer "
                "(--worker-timeout / worker_timeout)") from None
        self._workers_seen = True

    def run(self, tasks: Sequence[Task], claims: dict[str, Claim]) -> Iterator[PointRecord]:
        """Submit every task to the cluster; yield records as they finish (after waiting up
        to ``worker_timeout`` for a worker)."""
        if not tasks:
            return
        from distributed import as_completed as dask_as_completed

        self._wait_for_a_worker()

        futures = {self.client.submit(_run_dask, t, pure=False): t for t in tasks}
        try:
            for fut in dask_as_completed(list(futures)):
                yield _result_or_error(fut, futures[fut])
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._own:
            self.client.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def make_executor(
    workers: int | None = None, scheduler: str | None = None, client: Any = None,
    worker_timeout: float | None = DEFAULT_WORKER_TIMEOUT,
) -> Executor:
    """Pick an executor: dask when ``scheduler``/``client`` is given (``worker_timeout``: see
    :class:`DaskExecutor`), a process pool when ``workers`` > 1, else in-process."""
    if scheduler is not None or client is not None:
        return DaskExecutor(scheduler=scheduler, client=client, worker_timeout=worker_timeout)
    if workers is not None and workers != 1:
        return PoolExecutor(workers)
    return InProcessExecutor()


def resolve_claim(claim_id: str, claim_module: str) -> Claim:
    """Find a claim in this process: the registry, else its module (imported; registered there
    or a module-level :class:`~flatstart.validation.claim.Claim` object), else the catalogue."""
    found = registered(claim_id)
    if found is None and claim_module:  # a worker process: the claim's module registers it
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
