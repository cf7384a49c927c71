"""Calibration and resolution of every claim: one command, one table.

Usage::

    python -m benchmarks.calibration                     # quick budget, 20 reps, every claim
    python -m benchmarks.calibration --reps 100 --claims P.choi VC.residual

For each claim, :func:`flatstart.validation.claims.calibrate` reruns the claim's Monte Carlo side
under run seeds ``seed .. seed + reps - 1`` and applies the claim's own test (Holm over its
grid at its alpha) to the true prediction: the false-rejection rate, its 95% Clopper-Pearson
interval and whether the exact one-sided test of ``rate <= alpha`` passes. The same repetitions
give the resolution: the smallest relative error of the prediction rejected with probability
>= 0.8 (:func:`flatstart.validation.resolution.power_resolution`).

Writes ``benchmarks/calibration-<budget>.json`` (every claim's record) and
``benchmarks/calibration-<budget>.md`` (the table that docs/calibration.md quotes), and prints
the table. Not a test (minutes to hours); claims run one after another, each in this process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import time
from collections.abc import Sequence
from typing import Any

HERE = pathlib.Path(__file__).parent


def run(ids: Sequence[str], reps: int, seed: int, budget: str) -> list[dict[str, Any]]:
    """Calibrate each claim of ``ids``; a claim that raises is recorded with its error."""
    from flatstart.validation.claims import calibrate

    rows = []
    for cid in ids:
        t0 = time.perf_counter()
        try:
            d = calibrate(cid, reps=reps, seed=seed, budget=budget).to_dict()
            d.pop("p_values", None)
        except Exception as exc:  # recorded, the run goes on
            d = {"claim_id": cid, "error": f"{type(exc).__name__}: {exc}"}
        d["seconds"] = time.perf_counter() - t0
        rows.append(d)
        print(_row(d), flush=True)
    return rows


def _row(d: dict[str, Any]) -> str:
    if "error" in d:
        return f"| `{d['claim_id']}` | error: {d['error'][:80]} | | | | |"
    res = d.get("resolution") or {}
    e = res.get("relative_error")
    lo, hi = d["ci"]
    return (f"| `{d['claim_id']}` | {d['rejections']}/{d['reps']} | {lo:.4f}–{hi:.4f} | "
            f"{'yes' if d['ok'] else 'NO'} | {'-' if e is None else f'±{100 * e:g}%'} | "
            f"{d['seconds']:.0f} |")


def table(rows: Sequence[dict[str, Any]], reps: int, seed: int, budget: str) -> str:
    """The markdown table of a run."""
    ok = [r for r in rows if "error" not in r]
    rej = sum(r["rejections"] for r in ok)
    runs = sum(r["reps"] for r in ok)
    head = [
        f"### Calibration and resolution, `{budget}` budget, {reps} repetitions "
        f"(run seeds {seed}–{seed + reps - 1})",
        "",
        f"{datetime.date.today().isoformat()}; `python -m benchmarks.calibration --budget "
        f"{budget} --reps {reps} --seed {seed}`. Total: {rej} false rejections in {runs} runs"
        + (f" ({100 * rej / runs:.2f}%)" if runs else "") + "; each claim's alpha is 0.01. "
        "`calibrated`: the exact one-sided test of rate <= alpha does not reject at 5%. "
        "`resolution`: smallest relative error of the prediction (ladder 1, 2, 5, 10, 20, 50, "
        "100, 200%) rejected on >= 80% of the repetitions, both scalings.",
        "",
        "| claim | false rejections | 95% CI of the rate | calibrated | resolution (P≥0.8) "
        "| seconds |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(head + [_row(r) for r in rows])


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - a benchmark driver
    from flatstart.validation.claims import select

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="quick", choices=["quick", "standard", "full"])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--claims", nargs="*", default=None, help="claim ids (default: all)")
    args = ap.parse_args(argv)
    ids = args.claims or [c.id for c in select(None)]
    rows = run(ids, args.reps, args.seed, args.budget)
    md = table(rows, args.reps, args.seed, args.budget)
    (HERE / f"calibration-{args.budget}.json").write_text(json.dumps(rows, indent=1,
                                                                       default=str))
    (HERE / f"calibration-{args.budget}.md").write_text(md + "\n")
    print(md)
    bad = [r for r in rows if "error" in r or not r.get("ok", False)]
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
