"""flatstart.validation: claims = theory prediction + Monte Carlo experiment + calibrated test.

>>> from validation import claims, verify
>>> isinstance(claims(), list)
True
"""

from __future__ import annotations

from typing import Any

from validation.claims import (
    BUDGETS,
    FAMILIES,
    VERDICTS,
    Calibration,
    Claim,
    Result,
    by_budget,
    calibrate,
    claims,
    get,
    register,
    verify,
    verify_all,
)
from validation.stats import TestOutcome

__all__ = [
    "BUDGETS",
    "FAMILIES",
    "VERDICTS",
    "Calibration",
    "Claim",
    "Result",
    "TestOutcome",
    "by_budget",
    "calibrate",
    "check_bound",
    "claims",
    "get",
    "register",
    "verify",
    "verify_all",
]


def check_bound(*args: Any, **kwargs: Any) -> Any:
    """Check a user's bound against Monte Carlo (``validation.toolkit.check_bound``).

    Arrives with issue 7; until ``validation.toolkit`` exists this raises
    ``NotImplementedError``.
    """
    try:
        from validation import toolkit  # type: ignore[attr-defined]
    except ImportError:
        raise NotImplementedError(
            "check_bound arrives with issue 7 (validation.toolkit is not there yet)"
        ) from None
    return toolkit.check_bound(*args, **kwargs)
