"""In-process, process-pool and dask executors give identical results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flatstart.validation.catalogue._demo  # noqa: F401  (registers the toy claims)
from flatstart.validation import stats
from flatstart.validation.claims import Claim, register, unregister, verify_all
from flatstart.validation.executors import InProcessExecutor, PoolExecutor, make_executor

IDS = ["DEMO.normal-mean", "DEMO.normal-cdf", "DEMO.broken"]


def _fingerprint(results) -> list[tuple]:
    out = []
    for r in results:
        pts = [(pt["index"], pt["point_seed"],
                None if pt["outcome"] is None else pt["outcome"]["statistic"],
                None if pt["outcome"] is None else pt["outcome"]["p_value"],
                None if pt["mutant"] is None else pt["mutant"]["p_value"])
               for pt in r.details["points"]]
        out.append((r.id, r.verdict, r.statistic, r.p_value, r.mutant_p_value, r.n, pts))
    return out


@pytest.fixture(scope="module")
def reference():
    return _fingerprint(verify_all(IDS, seed=5, cache=False, executor=InProcessExecutor()))


def _predict(params: dict[str, Any]) -> float:
    return 0.0


def _simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> Any:
    if params["kind"] == "unpicklable":
        return lambda: None  # a measurement that cannot travel back from a worker
    return np.random.default_rng(seed).standard_normal(50)


def _check(prediction: float, measurement: Any, alpha: float) -> stats.TestOutcome:
    if callable(measurement):
        return stats.TestOutcome(0.0, 1.0, False, 1)
    return stats.mean_test(measurement, prediction, alpha)


def _mutant(params: dict[str, Any]) -> float:
    return 5.0


UNPICKLABLE = Claim(  # registered only while the test runs; workers find it by module scan
    id="DEMO.unpicklable", title="t", family="DEMO", source="derived", statement="s",
    predict=_predict, simulate=_simulate, test=_check, mutant=_mutant,
    grids={"quick": [{"kind": "fine"}, {"kind": "unpicklable"}]},
)


@pytest.fixture(scope="module")
def pool():
    ex = PoolExecutor(2)
    yield ex
    ex.close()


def test_process_pool_matches_in_process(reference, pool) -> None:
    got = _fingerprint(verify_all(IDS, seed=5, cache=False, executor=pool))
    assert got == reference


def test_process_pool_turns_transport_failures_into_errors(pool) -> None:
    register(UNPICKLABLE)
    try:
        _transport_failure(pool)
    finally:
        unregister(UNPICKLABLE.id)


def _transport_failure(pool) -> None:
    inproc = verify_all([UNPICKLABLE.id], cache=False)[0]
    assert inproc.verdict == "consistent", inproc.error
    r = verify_all([UNPICKLABLE.id], cache=False, executor=pool)[0]
    assert r.verdict == "error" and "executor failure" in (r.error or ""), r.error
    assert r.details["points"][0]["outcome"] is not None  # the good point still ran


def test_dask_local_cluster_matches_in_process(reference, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = _fingerprint(verify_all(IDS, seed=5, cache=tmp_path, client=client))
        # the cache written from dask results serves an in-process rerun
        again = _fingerprint(verify_all(IDS, seed=5, cache=tmp_path))
    assert got == reference
    assert again == reference


def test_make_executor_choices() -> None:
    assert isinstance(make_executor(), InProcessExecutor)
    assert isinstance(make_executor(workers=1), InProcessExecutor)
    pool = make_executor(workers=2)
    assert isinstance(pool, PoolExecutor)
    pool.close()
    with pytest.raises(ValueError, match="workers"):
        PoolExecutor(0)


def _threads_simulate(params: dict[str, Any], seed: int, device: str, budget: str) -> Any:
    import torch

    return np.full(10, float(torch.get_num_threads()))


def _threads_check(prediction: float, measurement: Any, alpha: float) -> stats.TestOutcome:
    return stats.identity_test(measurement[:1], [prediction], rtol=0.0, atol=0.5, alpha=alpha)


def _one(params: dict[str, Any]) -> float:
    return 1.0


def _two(params: dict[str, Any]) -> float:
    return 2.0


THREADS = Claim(
    id="DEMO.worker-threads", title="t", family="DEMO", source="derived", statement="s",
    kind="identity", predict=_one, simulate=_threads_simulate, test=_threads_check,
    mutant=_two, grids={"quick": [{"i": 0}, {"i": 1}]},
)


@pytest.mark.slow
def test_pool_workers_use_one_torch_thread(pool) -> None:
    register(THREADS)
    try:
        r = verify_all([THREADS.id], cache=False, executor=pool)[0]
    finally:
        unregister(THREADS.id)
    assert r.verdict == "consistent", (r.measured, r.error)
