"""flatstart.validation: claims = theory prediction + Monte Carlo experiment + calibrated test.

>>> from flatstart.validation import claims, verify
>>> isinstance(claims(), list)
True
"""

from __future__ import annotations

if __name__ != "flatstart.validation":  # imported as bare `validation` from the source tree
    from flatstart._alias import alias

    alias("validation")  # `validation`, `validation.*`: the modules of flatstart.validation

from typing import Any

from flatstart.validation.claims import (
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
from flatstart.validation.report import Results
from flatstart.validation.stats import TestOutcome

__all__ = [
    "BUDGETS",
    "FAMILIES",
    "VERDICTS",
    "Calibration",
    "Claim",
    "Result",
    "Results",
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
    """Check a user's bound against Monte Carlo: :func:`flatstart.validation.toolkit.check_bound`
    (imported on first use, so that ``import flatstart.validation`` stays light)."""
    from flatstart.validation.toolkit import check_bound as _check_bound

    return _check_bound(*args, **kwargs)
