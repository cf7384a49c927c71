"""What a verdict can detect: the smallest relative error of a prediction that its test rejects.

"consistent" means "within x%": for each claim, the prediction is scaled by ``1 + e`` and by
``1/(1 + e)`` for ``e`` on a ladder (1%, 2%, 5%, ..., 200%), and the claim's own test (Holm over
its grid at its alpha) is run on the *same* measurements. The resolution is the smallest ``e``
whose both scalings are rejected.

Two readings: :func:`resolution` uses the run's own data (one seed), so it is what *this* run
could tell apart (an estimate, labelled so in the report); :func:`power_resolution` repeats the
claim's Monte Carlo side over several run seeds and gives the smallest error rejected with
probability >= :data:`POWER` (0.8) — ``flatstart verify --resolution-reps N`` and ``flatstart
calibrate`` report it.

Scaling a prediction (:func:`perturb`): every float inside it (containers and dataclasses
included; ints, which are counts and sizes, are kept) is multiplied by the factor; a law of
``theory`` becomes the law of ``c X`` (through the law's own cdf at ``x / c``); a function's
float outputs are scaled. Predictions with nothing to scale have no resolution (``None``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flatstart.validation.stats import holm

__all__ = ["LADDER", "POWER", "ScaledLaw", "perturb", "power_resolution", "resolution"]

#: Relative errors tried, smallest first.
LADDER: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


class _Unscalable(Exception):
    pass


class ScaledLaw:
    """The law of ``c X`` (``c > 0``) for a law ``X`` of theory, through ``X``'s own fast
    paths: ``F_{cX}(x) = F_X(x/c)``, ``f_{cX}(x) = f_X(x/c)/c``, quantiles times ``c``,
    ``E|cX|^s = c^s E|X|^s``; other attributes pass through."""

    def __init__(self, law: Any, c: float) -> None:
        self._law, self._c = law, float(c)

    @property
    def law(self) -> Any:
        """The law that is rescaled."""
        return self._law

    @property
    def c(self) -> float:
        """The factor."""
        return self._c

    def __repr__(self) -> str:  # a stable key: caches keyed by repr must never mix two scales
        return f"{self._c!r} * {self._law!r}"

    def mean_log(self, *a: Any, **k: Any) -> Any:
        return self._law.mean_log(*a, **k) + float(np.log(self._c))

    def cdf(self, x: Any, *a: Any, **k: Any) -> Any:
        return self._law.cdf(np.asarray(x, dtype=np.float64) / self._c, *a, **k)

    def sf(self, x: Any, *a: Any, **k: Any) -> Any:
        return self._law.sf(np.asarray(x, dtype=np.float64) / self._c, *a, **k)

    def logcdf(self, x: Any, *a: Any, **k: Any) -> Any:
        return self._law.logcdf(np.asarray(x, dtype=np.float64) / self._c, *a, **k)

    def logsf(self, x: Any, *a: Any, **k: Any) -> Any:
        return self._law.logsf(np.asarray(x, dtype=np.float64) / self._c, *a, **k)

    def pdf(self, x: Any, *a: Any, **k: Any) -> Any:
        return self._law.pdf(np.asarray(x, dtype=np.float64) / self._c, *a, **k) / self._c

    def quantile(self, q: Any, *a: Any, **k: Any) -> Any:
        return self._law.quantile(q, *a, **k) * self._c

    def median(self, *a: Any, **k: Any) -> Any:
        return self._law.median(*a, **k) * self._c

    def moment(self, s: Any, *a: Any, **k: Any) -> Any:
        return self._law.moment(s, *a, **k) * self._c ** float(s)

    def abs(self) -> ScaledLaw:
        return ScaledLaw(self._law.abs(), self._c)

    def sample(self, *a: Any, **k: Any) -> Any:
        return self._law.sample(*a, **k) * self._c

    def __getattr__(self, name: str) -> Any:
        return getattr(self._law, name)


def perturb(prediction: Any, factor: float) -> Any:
    """``prediction`` with every float scaled by ``factor`` (see the module docstring).

    >>> perturb({"median": 2.0, "depth": 5, "law": "x"}, 1.1)
    {'median': 2.2, 'depth': 5, 'law': 'x'}
    """
    found = [False]
    out = _perturb(prediction, factor, found, 0)
    if not found[0]:
        raise _Unscalable(type(prediction).__name__)
    return out


def _perturb(obj: Any, c: float, found: list[bool], depth: int) -> Any:
    if depth > 6 or obj is None or isinstance(obj, (bool, np.bool_, str, bytes, int,
                                                    np.integer)):
        return obj
    if isinstance(obj, (float, np.floating)):
        found[0] = True
        return type(obj)(obj * c) if isinstance(obj, np.floating) else obj * c
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            found[0] = True
            return obj * c
        return obj
    if isinstance(obj, dict):
        return {k: _perturb(v, c, found, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_perturb(v, c, found, depth + 1) for v in obj)
    mod = type(obj).__module__ or ""
    if (mod.startswith("flatstart.theory.") or isinstance(obj, ScaledLaw)) and hasattr(obj, "cdf"):
        found[0] = True
        return ScaledLaw(obj, c)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _perturb(getattr(obj, f.name), c, found, depth + 1)
                   for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    if callable(obj) and not isinstance(obj, type):
        found[0] = True
        fn = obj

        def scaled(*args: Any, **kwargs: Any) -> Any:
            return _perturb(fn(*args, **kwargs), c, [False], 0)

        return scaled
    return obj


def _rejects(test: Callable[[Any, Any, float], Any], predictions: Sequence[Any],
             measurements: Sequence[Any], alpha: float, factor: float) -> bool | None:
    ps = []
    for pred, meas in zip(predictions, measurements, strict=True):
        try:
            outcome = test(perturb(pred, factor), meas, alpha)
            p = float(outcome.p_value)
        except _Unscalable:
            return None
        except Exception:
            return False  # a scaled prediction the test cannot take is not a rejection
        if not math.isfinite(p):
            return False
        ps.append(p)
    rej, _ = holm(ps, alpha)
    return bool(np.any(rej))


#: The rejection probability that defines the resolution over repeated seeds.
POWER = 0.8


def power_resolution(test: Callable[[Any, Any, float], Any], predictions: Sequence[Any],
                     runs: Sequence[Sequence[Any]], alpha: float,
                     ladder: Sequence[float] = LADDER, power: float = POWER,
                     seconds: float = 120.0) -> dict[str, Any]:
    """The smallest relative error on ``ladder`` that the test rejects with probability >= power.

    ``runs`` holds the measurements of independent repetitions (one list per run seed, aligned
    with ``predictions``). For each step ``e`` the prediction is scaled by ``1 + e`` and by
    ``1/(1 + e)`` and the claim's own test (Holm over its grid at ``alpha``) is applied to every
    run; the rejection rate of a side is the fraction of runs that reject. The resolution is
    the smallest ``e`` at which *both* sides reach ``power`` (the definition of "detects with
    probability >= 0.8", estimated over ``len(runs)`` seeds: with ``n`` runs the estimate of a
    rate has a standard error of about ``sqrt(0.16/n)``).

    Returns ``{"relative_error", "up", "down", "power", "reps", "rates", "basis", "ladder"}``;
    ``rates[str(e)] = [rate_up, rate_down]`` for the steps tried; ``relative_error`` is None when
    no step reaches ``power`` (or the prediction cannot be scaled, or ``seconds`` ran out).

    >>> class Out:
    ...     def __init__(self, p): self.p_value = p
    >>> def test(pred, meas, alpha):  # rejects when the prediction is off by more than 4%
    ...     return Out(0.0 if abs(pred - meas) > 0.04 else 1.0)
    >>> power_resolution(test, [1.0], [[1.0], [1.0], [1.0]], 0.01)["relative_error"]
    0.05
    """
    import time

    t0 = time.perf_counter()
    n = len(runs)
    out: dict[str, Any] = {"relative_error": None, "up": None, "down": None, "power": power,
                           "reps": n, "rates": {}, "ladder": list(ladder),
                           "basis": f"P(reject) >= {power:g} over {n} run seeds"}
    if not predictions or n == 0:
        return out
    need = math.ceil(power * n - 1e-12)
    for e in ladder:
        if time.perf_counter() - t0 > seconds:
            out["basis"] += f"; stopped after {seconds:g} s"
            break
        rates = []
        for side, factor in (("up", 1.0 + e), ("down", 1.0 / (1.0 + e))):
            hits = 0
            for meas in runs:
                r = _rejects(test, predictions, meas, alpha, factor)
                if r is None:
                    out["basis"] = "unscalable"
                    return out
                hits += int(r)
            rates.append(hits / n)
            if hits >= need and out[side] is None:
                out[side] = e
        out["rates"][f"{e:g}"] = rates
        if out["up"] is not None and out["down"] is not None:
            out["relative_error"] = max(out["up"], out["down"])
            break
    return out


def resolution(test: Callable[[Any, Any, float], Any], predictions: Sequence[Any],
               measurements: Sequence[Any], alpha: float,
               ladder: Sequence[float] = LADDER, seconds: float = 20.0) -> dict[str, Any]:
    """The smallest relative error on ``ladder`` whose scalings up and down the test rejects.

    Returns ``{"relative_error": e or None, "up": e_up, "down": e_down, "basis": ...}``;
    ``None`` where no step of the ladder is rejected (or the prediction cannot be scaled:
    ``"basis": "unscalable"``; or the ladder was stopped after ``seconds``).
    """
    import time

    t0 = time.perf_counter()
    out: dict[str, Any] = {"relative_error": None, "up": None, "down": None,
                           "basis": "this run's measurements", "ladder": list(ladder)}
    if not predictions:
        return out
    for e in ladder:
        if time.perf_counter() - t0 > seconds:
            out["basis"] = f"stopped after {seconds:g} s"
            break
        for side, factor in (("up", 1.0 + e), ("down", 1.0 / (1.0 + e))):
            if out[side] is not None:
                continue
            r = _rejects(test, predictions, measurements, alpha, factor)
            if r is None:
                out["basis"] = "unscalable"
                return out
            if r:
                out[side] = e
        if out["up"] is not None and out["down"] is not None:
            out["relative_error"] = max(out["up"], out["down"])
            break
    return out
