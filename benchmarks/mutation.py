"""Mutation benchmark: plant faults in theory, count how many the catalogue refutes.

    python -m benchmarks.mutation                       # standard budget, every claim
    python -m benchmarks.mutation --budget quick
    python -m benchmarks.mutation --claims VC.residual --per-function 8

Steps: (1) measure every selected claim's grid once, fresh (no cache), and record what the
true theory gives (:func:`flatstart.validation.mutation.baseline`); (2) list the theory functions
those claims reach; (3) plant each curated fault (:func:`curated_faults`: the ``FAULTS`` of every
``benchmarks/faults_*.py``) and up to ``--per-function``
automatic operator/constant faults per reached function, one at a time, each in a forked child
process with a time limit; (4) report the kill rate: faults detected (a claim refuted, or
raising) over faults that change some claim's theory values by >= 1% (equivalent mutants do
not count). A fault whose child runs past ``--timeout`` is reported apart (a hang is visible to
a user, but it is not a refutation).

Writes ``benchmarks/mutation-<budget>.json`` (every fault and its fate) and
``benchmarks/mutation-<budget>.md`` (the summary that ``benchmarks.run`` includes in
``benchmarks/RESULTS.md``), and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flatstart.validation.mutation import (
    ClaimBaseline,
    Fault,
    automatic_faults,
    baseline,
    evaluate,
    mutable_targets,
    reached_functions,
)


def curated_faults() -> list[Fault]:
    """Realistic faults (a constant off, an exponent off by one, σ for σ², a dropped term), from
    every ``benchmarks/faults_*.py`` module's ``FAULTS`` list. Each ``old`` must occur exactly
    once in its function's source."""
    import importlib
    import pkgutil

    import benchmarks

    out: list[Fault] = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        if info.name.startswith("faults_"):
            out += list(importlib.import_module(f"benchmarks.{info.name}").FAULTS)
    return out


_BASELINES: list[ClaimBaseline] = []


def _child(fault: Fault, conn: Any) -> None:
    try:
        res = evaluate(fault, _BASELINES)
        conn.send(asdict(res))
    except BaseException as exc:  # pragma: no cover - reported as an error of the harness
        conn.send({"harness_error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def run_faults(faults: Sequence[Fault], jobs: int, timeout: float,
               log: Any = sys.stderr, max_seconds: float | None = None) -> list[dict[str, Any]]:
    """Evaluate faults in forked children, ``jobs`` at a time, each with a time limit; with
    ``max_seconds``, start no new fault after that long (the rest are left out)."""
    started = time.monotonic()
    ctx = mp.get_context("fork")
    out: list[dict[str, Any] | None] = [None] * len(faults)
    running: dict[int, tuple[Any, Any, float]] = {}
    queue = list(range(len(faults)))
    done = 0
    while queue or running:
        if max_seconds is not None and time.monotonic() - started > max_seconds and queue:
            print(f"time budget of {max_seconds:g} s spent: {len(queue)} fault(s) left out",
                  file=log, flush=True)
            queue.clear()
        while queue and len(running) < jobs:
            i = queue.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(faults[i], child), daemon=True)
            proc.start()
            child.close()
            running[i] = (proc, parent, time.monotonic())
        time.sleep(0.01)
        for i, (proc, conn, t0) in list(running.items()):
            result = None
            if conn.poll():
                try:
                    result = conn.recv()
                except EOFError:
                    result = {"harness_error": "child died"}
            elif not proc.is_alive():
                result = {"harness_error": f"child exited with {proc.exitcode}"}
            elif time.monotonic() - t0 > timeout:
                proc.kill()
                result = {"timeout": True}
            if result is None:
                continue
            proc.join()
            conn.close()
            del running[i]
            f = faults[i]
            if "fault" not in result:
                result = {"fault": asdict(f), "claims": [], "changed": False, "detected_by": None,
                          "how": "timeout" if result.get("timeout") else "harness error",
                          "error": result.get("harness_error")}
            out[i] = result
            done += 1
            mark = ("KILLED " + str(result["detected_by"]) if result["detected_by"]
                    else result["how"] or ("survived" if result["changed"] else "equivalent"))
            print(f"[{done}/{len(faults)}] {f.target}: {f.description} -> {mark}", file=log,
                  flush=True)
    return [r for r in out if r is not None]


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts and kill rates, overall and per kind of fault."""
    def rate(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        counted = [r for r in rs if r["changed"] and r["how"] not in ("timeout",)]
        killed = [r for r in counted if r["detected_by"]]
        return {
            "faults": len(rs),
            "not_applicable": sum(r["how"] == "not applicable" for r in rs),
            "unreached": sum(not r["claims"]
                             and r["how"] not in ("not applicable", "timeout", "harness error")
                             for r in rs),
            "equivalent": sum(bool(r["claims"]) and not r["changed"] and r["how"] != "timeout"
                              for r in rs),
            "timeouts": sum(r["how"] == "timeout" for r in rs),
            "counted": len(counted),
            "killed": len(killed),
            "refuted": sum(r["how"] == "refuted" for r in killed),
            "errors": sum(r["how"] == "error" for r in killed),
            "kill_rate": (len(killed) / len(counted)) if counted else None,
        }

    return {
        "all": rate(results),
        "curated": rate([r for r in results if r["fault"]["kind"] == "curated"]),
        "automatic": rate([r for r in results if r["fault"]["kind"] == "automatic"]),
    }


def markdown(summary: dict[str, Any], results: Sequence[dict[str, Any]], budget: str,
             seconds: float) -> str:
    """A Markdown report: the rates and the surviving faults."""
    lines = [f"### Mutation benchmark, `{budget}` budget ({seconds:.0f} s)", "",
             "| faults | counted (change >= 1%) | killed | refuted | raised | equivalent | "
             "unreached | timeouts | kill rate |", "|---|---|---|---|---|---|---|---|---|"]
    for kind in ("curated", "automatic", "all"):
        s = summary[kind]
        kr = "n/a" if s["kill_rate"] is None else f"{100 * s['kill_rate']:.1f}%"
        lines.append(f"| {kind}: {s['faults']} | {s['counted']} | {s['killed']} | {s['refuted']} "
                     f"| {s['errors']} | {s['equivalent']} | {s['unreached']} | {s['timeouts']} "
                     f"| {kr} |")
    surv = [r for r in results if r["changed"] and not r["detected_by"] and r["how"] != "timeout"]
    if surv:
        lines += ["", "Surviving faults (they change a prediction by >= 1% but no claim refutes "
                  "them):", ""]
        for r in surv:
            f = r["fault"]
            lines.append(f"- `{f['target']}`: {f['description']} (claims: "
                         f"{', '.join(r['claims'])})")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="standard", choices=["quick", "standard", "full"])
    p.add_argument("--claims", nargs="*", default=None, help="claim ids (default: all)")
    p.add_argument("--per-function", type=int, default=3,
                   help="automatic faults per reached function (default 3; 0: curated only)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per fault (default 30)")
    p.add_argument("--jobs", type=int, default=2, help="faults evaluated at once (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="start no new fault after this many seconds of faults (partial run)")
    p.add_argument("--only", default=None, help="only faults whose target contains this text")
    p.add_argument("--out", default=None, help="JSON output (default "
                   "benchmarks/mutation-<budget>.json)")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from flatstart.validation.claims import select

    t0 = time.perf_counter()
    claims = select(args.claims)
    for c in claims:
        b = baseline(c, args.budget, args.seed)
        _BASELINES.append(b)
        print(f"baseline {c.id}: {len(b.params)} points, {b.seconds:.1f}s"
              + (" (REFUTED under the truth: skipped)" if b.refuted else ""), file=sys.stderr,
              flush=True)
    targets = mutable_targets(reached_functions(_BASELINES))
    faults = curated_faults()
    if args.per_function > 0:
        for t in targets:
            try:
                faults += automatic_faults(t, args.per_function)
            except Exception:
                continue
    if args.only:
        faults = [f for f in faults if args.only in f.target]
    print(f"{len(claims)} claims reach {len(targets)} theory functions; {len(faults)} faults",
          file=sys.stderr, flush=True)
    results = run_faults(faults, args.jobs, args.timeout, max_seconds=args.max_seconds)
    if len(results) < len(faults):
        print(f"partial run: {len(results)} of {len(faults)} faults evaluated", file=sys.stderr)
    seconds = time.perf_counter() - t0
    summary = summarize(results)
    out = Path(args.out or f"benchmarks/mutation-{args.budget}.json")
    out.write_text(json.dumps({"budget": args.budget, "seed": args.seed, "seconds": seconds,
                               "claims": [c.id for c in claims], "summary": summary,
                               "results": results}, indent=1, default=str))
    text = markdown(summary, results, args.budget, seconds)
    if len(results) < len(faults):
        text += (f"\nPartial run: {len(results)} of {len(faults)} faults evaluated (time budget "
                 f"--max-seconds {args.max_seconds:g}); faults are taken curated first, then "
                 f"automatic by module.\n")
    if args.out is None:
        Path(f"benchmarks/mutation-{args.budget}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
