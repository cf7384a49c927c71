"""Benchmark: laws of products of n iid N(0, 1) — fast Mellin path vs mpmath.meijerg vs sympy.

Run ``python -m benchmarks.bench_products`` (prints a markdown table, returns the rows).
For n in (2, 5, 10, 20, 50, 100): cdf, sf and pdf at 100 points spread over the bulk
(κ₁ ± 3 sd of log|X|) (best of 5) and the median of |X|: cold (the first call for the law,
which computes the 30-digit log-cumulants of the quantile bracket) and warm (best of 2 later
calls, the bracket cached per law). Reference: a scalar ``mpmath.meijerg`` loop at
``mp.dps = 30`` on a subset of points (all 100 for n ≤ 5, 10 for n ≤ 20, 3 beyond; timings are
scaled to 100 points and marked ``~``); ``sympy.stats`` density in a subprocess with a time box.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from typing import Any

import numpy as np

from flatstart.theory.laws import Normal
from flatstart.theory.products import product
from flatstart.theory.products import quantiles as _quantiles

COUNTS = (2, 5, 10, 20, 50, 100)
SYMPY_TIMEOUT_S = 5.0


def _best_time(fn: Any, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _sympy_density(n: int) -> str:
    code = (
        "import sympy as sp\nfrom sympy.stats import Normal, density\n"
        f"xs=[Normal(f'w{{i}}',0,1) for i in range({n})]\nP=sp.Mul(*xs)\n"
        "d=density(P)(sp.Rational(1,2))\nprint(float(sp.N(d)))\n"
    )
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=SYMPY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"timeout > {SYMPY_TIMEOUT_S:g} s"
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["error"])[-1][:60]
        return f"fails ({last})"
    return f"{out.stdout.strip()} in {dt:.1f} s"


def run(counts: tuple[int, ...] = COUNTS, sympy: bool = True) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in counts:
        law = product(Normal(1.0), n)
        m, s = law.log_cumulant(1), math.sqrt(law.log_cumulant(2))
        x = np.exp(m + s * np.linspace(-3, 3, 100))
        law.cdf(x)  # warm-up
        t_cdf = _best_time(lambda law=law, x=x: law.cdf(x))
        t_sf = _best_time(lambda law=law, x=x: law.sf(x))
        t_pdf = _best_time(lambda law=law, x=x: law.pdf(x))
        absl = law.abs()
        _quantiles._LOG_CLT_CACHE.pop(repr(absl), None)
        t_med_cold = _best_time(lambda a=absl: a.median(), repeat=1)
        t_med = _best_time(lambda a=absl: a.median(), repeat=2)
        k = 100 if n <= 5 else (10 if n <= 20 else 3)
        idx = np.linspace(0, 99, k).astype(int)
        t0 = time.perf_counter()
        try:
            ref_c = law.cdf(x[idx], dps=30, method="meijer")
            ref_p = law.pdf(x[idx], dps=30, method="meijer")
            t_ref = (time.perf_counter() - t0) * 100 / k / 2
            fast_c, fast_p = law.cdf(x[idx]), law.pdf(x[idx])
            err_c = max(abs(float(f / r) - 1) for f, r in zip(fast_c, ref_c, strict=True))
            err_p = max(abs(float(f / r) - 1) for f, r in zip(fast_p, ref_p, strict=True))
            ref_note = ("" if k == 100 else "~") + f"{t_ref:.2f} s"
        except ValueError as exc:
            t_ref, err_c, err_p = float("nan"), float("nan"), float("nan")
            ref_note = f"fails: {str(exc)[:40]}"
        rows.append({
            "n": n, "cdf_ms": 1e3 * t_cdf, "sf_ms": 1e3 * t_sf, "pdf_ms": 1e3 * t_pdf,
            "median_cold_ms": 1e3 * t_med_cold, "median_ms": 1e3 * t_med,
            "meijer_100pts": ref_note, "speedup_cdf": t_ref / t_cdf,
            "max_rel_err_cdf": err_c, "max_rel_err_pdf": err_p,
            "sympy_stats": _sympy_density(n) if sympy and n <= 5 else "not tried (n > 5)",
        })
    _print(rows)
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print("| n | cdf 100 pts (ms) | sf 100 pts (ms) | pdf 100 pts (ms) | median cold (ms) "
          "| median (ms) | mpmath.meijerg 100 pts | speed-up (cdf) | max rel err cdf "
          "| max rel err pdf | sympy.stats density(½) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['cdf_ms']:.2f} | {r['sf_ms']:.2f} | {r['pdf_ms']:.2f} | "
              f"{r['median_cold_ms']:.1f} | {r['median_ms']:.1f} | "
              f"{r['meijer_100pts']} | {r['speedup_cdf']:.0f}x | {r['max_rel_err_cdf']:.1e} | "
              f"{r['max_rel_err_pdf']:.1e} | {r['sympy_stats']} |")


if __name__ == "__main__":
    run()
