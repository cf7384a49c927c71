"""Assertions for researchers' own tests (pytest-style: they raise ``AssertionError``).

Each failure message prints both sides, the parameters, the seed and the test statistic /
p-value, so that a red test says what was compared and how to reproduce it::

    from flatstart.validation.assertions import assert_law_matches
    from flatstart.theory.laws import Normal from flatstart.theory.products import product

    def test_product_law():
        x = np.random.default_rng(0).normal(size=(2, 4000)).prod(axis=0)
        assert_law_matches(x, product(Normal(), 2), alpha=0.01, seed=0)

* :func:`assert_law_matches` — Kolmogorov–Smirnov against ``law.cdf`` (randomized probability
  integral transform at atoms, so laws with atoms are tested exactly);
* :func:`assert_bound_holds` — almost-sure statements (any violation fails) or
  ``P(Q > B) ≤ δ`` (exact one-sided binomial test = Clopper–Pearson, with a power check);
* :func:`assert_identity` — agreement to round-off with an ``allclose``-style report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from flatstart._checks import check_positive, check_probability
from flatstart.validation.stats import bound_violation_test, ks_test

__all__ = ["assert_bound_holds", "assert_identity", "assert_law_matches", "allclose_report"]


def _context(params: Mapping[str, Any] | None, seed: Any) -> str:
    p = "{}" if not params else ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"params: {p}; seed: {seed!r}"


def _finite_samples(samples: Any) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("samples must hold at least one value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"samples must be finite, got {int(np.sum(~np.isfinite(x)))} "
                         f"non-finite value(s) of {x.size}")
    return x


def _pit(x: np.ndarray, cdf: Callable[[np.ndarray], Any], law: Any, seed: int) -> np.ndarray:
    """Randomized probability integral transform ``u = F(x−) + V (F(x) − F(x−))``.

    Exactly uniform under H0 for any law (atoms included) [ref: Brockwell 2007]; equals
    ``F(x)`` where F is continuous.
    """
    fx = np.clip(np.asarray(cdf(x), dtype=np.float64).reshape(x.shape), 0.0, 1.0)
    p0 = float(getattr(law, "p0", 0.0) or 0.0)
    atoms = bool(getattr(law, "nonzero_atom", False))
    if p0 == 0.0 and not atoms:
        return fx
    fminus = fx.copy()
    if atoms:
        fminus = np.clip(np.asarray(cdf(np.nextafter(x, -np.inf)), dtype=np.float64)
                         .reshape(x.shape), 0.0, 1.0)
    elif p0 > 0.0:
        zero = x == 0.0
        fminus[zero] = np.clip(fx[zero] - p0, 0.0, 1.0)
    v = np.random.default_rng(seed).random(x.size)
    return fminus + v * (fx - fminus)


def assert_law_matches(
    samples: Any,
    law: Any,
    alpha: float = 0.01,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> None:
    r"""Assert that ``samples`` are iid draws from ``law`` (Kolmogorov–Smirnov at level alpha).

    ``law`` is a :class:`flatstart.theory.laws.Law` (anything with ``cdf``; ``p0`` and
    ``nonzero_atom`` mark atoms) or a plain CDF callable. Statistic ``D = sup |F_n − F|`` of the
    randomized PIT (exact for atoms; ``seed`` seeds the randomization) [ref: Kolmogorov 1933].
    The message shows, at the worst points, the empirical CDF against the law's CDF.

    >>> from flatstart.theory.laws import Normal
    >>> assert_law_matches(np.random.default_rng(0).normal(size=500), Normal(1.0))
    """
    a = check_probability("alpha", alpha)
    x = np.sort(_finite_samples(samples))
    cdf = law.cdf if hasattr(law, "cdf") else law
    if not callable(cdf):
        raise TypeError(f"law must have a cdf or be a CDF callable, got {type(law).__name__}")
    u = _pit(x, cdf, law, seed)
    out = ks_test(u, lambda t: t, alpha=a)
    if not out.reject:
        return
    n = x.size
    fx = np.clip(np.asarray(cdf(x), dtype=np.float64).reshape(x.shape), 0.0, 1.0)
    ecdf_hi = np.arange(1, n + 1) / n
    ecdf_lo = np.arange(0, n) / n
    gap = np.maximum(np.abs(ecdf_hi - fx), np.abs(ecdf_lo - fx))
    worst = np.argsort(gap)[::-1][:5]
    rows = "\n".join(
        f"  x = {x[i]:.6g}: empirical F_n = {ecdf_hi[i]:.5f}, law F = {fx[i]:.5f}, "
        f"|diff| = {gap[i]:.5f}" for i in sorted(worst, key=lambda j: x[j])
    )
    raise AssertionError(
        f"samples do not follow {law!r}: KS D = {out.statistic:.5f}, p = {out.p_value:.3g} <= "
        f"alpha = {a} (n = {n})\n{rows}\n  {_context(params, seed)}"
    )


def _bound_values(bound: Any, params: Mapping[str, Any] | None, n: int) -> np.ndarray:
    if callable(bound):
        bound = bound(**dict(params or {}))
    if hasattr(bound, "free_symbols"):  # a sympy expression
        if bound.free_symbols:
            from flatstart.validation.toolkit import evaluate_bound

            bound = evaluate_bound(bound, dict(params or {}))
        bound = float(bound)
    b = np.asarray(bound, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(n, float(b))
    b = b.ravel()
    if b.size != n:
        raise ValueError(f"bound must be a number or have one value per sample ({n}), got "
                         f"{b.size}")
    if np.any(np.isnan(b)):
        raise ValueError("bound must not be NaN")
    return b


def assert_bound_holds(
    bound: Any,
    quantity: Any,
    params: Mapping[str, Any] | None = None,
    prob: float | None = None,
    alpha: float = 0.01,
    *,
    direction: str = "upper",
    seed: Any = None,
    require_power: bool = True,
) -> None:
    r"""Assert that measured values ``quantity`` respect ``bound``.

    * ``prob=None`` (almost surely): every sample satisfies ``Q ≤ B`` (``Q ≥ B`` with
      ``direction="lower"``); a single violation fails.
    * ``prob=δ``: ``P(Q > B) ≤ δ``; with ``k`` violations of ``n`` the exact one-sided test
      ``p = P(Bin(n, δ) ≥ k)`` rejects at ``alpha`` (equivalently the one-sided
      Clopper–Pearson lower limit exceeds δ) [ref: Clopper & Pearson 1934]. With
      ``require_power`` it also fails when ``n`` is too small to detect a violation rate
      ``min(2δ, (1+δ)/2)`` with probability 0.8 (a check that cannot fail is no check).

    Args:
        bound: a number, one number per sample, a sympy expression or ``callable(**params)``.
        quantity: measured samples (array-like, finite).
        params: the parameters (evaluate a callable/sympy bound; printed on failure).
        prob: δ in (0, 1), or ``None`` for an almost-sure statement.
        alpha: level of the binomial test.
        direction: ``"upper"`` or ``"lower"``.
        seed: the seed that produced the samples (printed on failure).
        require_power: fail underpowered probability checks.

    >>> q = np.abs(np.random.default_rng(1).normal(size=2000))
    >>> assert_bound_holds(3.0, q, {"sigma": 1}, prob=0.01)   # P(|Z| > 3) = 0.0027
    """
    from flatstart.validation.toolkit import DIRECTIONS, POWER, detection_power

    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    a = check_probability("alpha", alpha)
    q = _finite_samples(quantity)
    n = q.size
    b = _bound_values(bound, params, n)
    sign = 1.0 if direction == "upper" else -1.0
    bad = sign * (q - b) > 0
    k = int(bad.sum())
    rel = "<=" if direction == "upper" else ">="
    ctx = _context(params, seed)

    def worst_rows() -> str:
        idx = np.nonzero(bad)[0]
        idx = idx[np.argsort(-(sign * (q[idx] - b[idx])))][:5]
        return "\n".join(f"  sample {i}: quantity = {q[i]:.6g}, bound = {b[i]:.6g}" for i in idx)

    if prob is None:
        if k:
            raise AssertionError(
                f"bound violated almost-sure statement quantity {rel} bound: {k} of {n} "
                f"samples violate it (worst first):\n{worst_rows()}\n  {ctx}"
            )
        return
    d = check_probability("prob", prob)
    out = bound_violation_test(k, n, d, a)
    if out.reject:
        raise AssertionError(
            f"bound violated: P(quantity {'>' if sign > 0 else '<'} bound) <= {d} rejected: "
            f"{k} of {n} violations (rate {k / n:.4g}, one-sided Clopper-Pearson lower limit "
            f"{out.details['cp_lower']:.4g} > {d}), p = {out.p_value:.3g} <= alpha = {a}\n"
            f"{worst_rows()}\n  {ctx}"
        )
    power = detection_power(n, d, a)
    if require_power and power < POWER:
        raise AssertionError(
            f"underpowered: {n} samples detect a violation rate {min(2 * d, (1 + d) / 2):.3g} "
            f"(claimed <= {d}) with probability {power:.2f} < {POWER}; use more samples or "
            f"require_power=False ({k} violations observed)\n  {ctx}"
        )


def allclose_report(
    lhs: Any, rhs: Any, rtol: float = 1e-12, atol: float = 0.0, limit: int = 5
) -> tuple[bool, str]:
    """Compare two arrays elementwise: ``|l − r| ≤ atol + rtol |r|``; return ``(ok, report)``.

    The report gives the shapes, the number of mismatches, the max absolute and relative
    errors and the ``limit`` worst entries (index, lhs, rhs, errors). NaN never matches.

    >>> allclose_report([1.0, 2.0], [1.0, 2.0])[0]
    True
    >>> print(allclose_report([1.0, 2.5], [1.0, 2.0])[1].splitlines()[0])
    1 of 2 entries differ (rtol=1e-12, atol=0.0): max abs error 0.5, max rel error 0.25
    """
    rt = check_positive("rtol", rtol, allow_zero=True)
    at = check_positive("atol", atol, allow_zero=True)
    lv = np.asarray(lhs, dtype=np.float64)
    rv = np.asarray(rhs, dtype=np.float64)
    if lv.shape != rv.shape:
        try:
            lv, rv = np.broadcast_arrays(lv, rv)
        except ValueError:
            return False, f"shapes differ: lhs {lv.shape} vs rhs {rv.shape}"
    if lv.size == 0:
        return True, "both empty"
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(lv - rv)
        tol = at + rt * np.abs(rv)
        ok_mask = (err <= tol) | ((lv == rv) & np.isfinite(lv))
        rel = np.where(rv != 0, err / np.abs(rv), np.where(err == 0, 0.0, np.inf))
    ok_mask &= ~(np.isnan(lv) | np.isnan(rv))
    nbad = int(np.sum(~ok_mask))
    err_f = np.where(np.isnan(err), np.inf, err)
    rel_f = np.where(np.isnan(rel), np.inf, rel)
    head = (f"{nbad} of {lv.size} entries differ (rtol={rt}, atol={at}): "
            f"max abs error {float(np.max(err_f)):.6g}, max rel error {float(np.max(rel_f)):.6g}")
    if nbad == 0:
        return True, head
    flat = np.argsort(-np.where(ok_mask, -1.0, err_f).ravel(), kind="stable")[:limit]
    rows = []
    for fi in flat:
        if ok_mask.ravel()[fi]:
            continue
        idx = np.unravel_index(fi, lv.shape)
        where = tuple(int(i) for i in idx) if lv.ndim else ()
        rows.append(f"  at {where}: lhs = {lv[idx]!r}, rhs = {rv[idx]!r}, abs error "
                    f"{float(err_f[idx]):.3g}, rel error {float(rel_f[idx]):.3g}")
    return False, head + "\n" + "\n".join(rows)


def assert_identity(
    lhs: Any,
    rhs: Any,
    rtol: float = 1e-12,
    atol: float = 0.0,
    *,
    params: Mapping[str, Any] | None = None,
    seed: Any = None,
) -> None:
    """Assert an exact identity up to round-off: ``|lhs − rhs| ≤ atol + rtol |rhs|`` everywhere.

    Not statistical; the message is an :func:`allclose_report` (worst entries, max abs/rel
    error) plus the parameters and the seed.

    >>> assert_identity(np.array([0.1 + 0.2]), np.array([0.3]), rtol=1e-15)
    """
    ok, report = allclose_report(lhs, rhs, rtol, atol)
    if not ok:
        raise AssertionError(f"identity lhs == rhs fails: {report}\n  {_context(params, seed)}")
