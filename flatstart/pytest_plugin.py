"""pytest plugin: one test per user claim (``pytest --flatstart-claims my_claims.py``).

Installed with flatstart (entry point ``pytest11``: ``flatstart``), so it is loaded by every
pytest run in an environment where flatstart is installed; without ``--flatstart-claims`` it
does nothing (no flatstart module is imported). With it:

* ``--flatstart-claims MODULE_OR_FILE`` (repeatable): load the claims of a Python file or a
  dotted module (:func:`flatstart.validation.plugins.load_claims`) and collect one test item per
  claim, named by the claim id (``-k MY.mean`` selects one);
* ``--flatstart-budget quick|standard|full`` (default quick) and ``--flatstart-seed N``
  (default 0): how each claim is run (:func:`flatstart.validation.claims.verify`, no cache).

An item passes when the claim's verdict is "consistent" and its mutant is rejected; otherwise
it fails with the verdict, the p-value, alpha, the mutant's p-value and the error, if any.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ClaimFailure", "ClaimItem"]

_BUDGETS = ("quick", "standard", "full")  # flatstart.validation.grid.BUDGETS (not imported)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--flatstart-*`` options."""
    group = parser.getgroup("flatstart", "flatstart user claims")
    group.addoption("--flatstart-claims", action="append", default=[],
                    metavar="MODULE_OR_FILE",
                    help="collect one test per claim registered by this Python file or dotted "
                         "module (repeatable)")
    group.addoption("--flatstart-budget", default="quick", choices=_BUDGETS,
                    help="budget of the claim tests (default: quick)")
    group.addoption("--flatstart-seed", type=int, default=0,
                    help="run seed of the claim tests (default: 0)")


class ClaimFailure(Exception):
    """A claim that is not consistent, or whose mutant was not rejected."""


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def failure_message(result: Any) -> str:
    """What a failing claim test shows: verdict, p-value, alpha, mutant p-value, error."""
    lines = [
        f"claim {result.id}: verdict {result.verdict} (expected consistent with the mutant "
        "rejected)",
        f"  p-value {_fmt(result.p_value)} (Holm over {len(result.parameters)} grid point(s)), "
        f"alpha {result.alpha}",
        f"  mutant p-value {_fmt(result.mutant_p_value)}, mutant rejected: "
        f"{result.mutant_rejected}",
        f"  budget {result.budget}, seed {result.seed}, n {result.n}",
    ]
    if result.error:
        lines.append("  error:")
        lines.extend("    " + x for x in str(result.error).rstrip().splitlines())
    return "\n".join(lines)


class ClaimItem(pytest.Item):
    """One user claim, run with :func:`flatstart.validation.claims.verify`."""

    def __init__(self, *, claim_id: str, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim_id = claim_id
        self.spec = spec

    def runtest(self) -> None:
        """Verify the claim; raise :class:`ClaimFailure` unless consistent, mutant rejected."""
        from flatstart.validation.claims import verify

        budget = self.config.getoption("flatstart_budget")
        seed = self.config.getoption("flatstart_seed")
        result = verify(self.claim_id, budget, seed, cache=False)
        self.user_properties.append(("verdict", result.verdict))
        self.user_properties.append(("p_value", result.p_value))
        if result.verdict != "consistent" or result.mutant_rejected is not True:
            raise ClaimFailure(failure_message(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        """The failure message of a claim (no traceback into flatstart)."""
        if isinstance(excinfo.value, ClaimFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        """Where the claim comes from (its module file) and its id."""
        return self.path, None, f"flatstart claim {self.claim_id} ({self.spec})"


def _specs(config: pytest.Config) -> list[str]:
    return list(config.getoption("flatstart_claims", default=None) or [])


def pytest_configure(config: pytest.Config) -> None:
    """Load the claim modules of ``--flatstart-claims`` (a usage error when one fails)."""
    specs = _specs(config)
    if not specs:
        return
    if config.getoption("flatstart_seed") < 0:
        raise pytest.UsageError(f"--flatstart-seed must be >= 0, got "
                                f"{config.getoption('flatstart_seed')}")
    from flatstart.validation.plugins import load_claims

    loaded: dict[str, list[str]] = {}
    for spec in specs:
        try:
            loaded[spec] = load_claims(spec)
        except ValueError as exc:
            raise pytest.UsageError(f"--flatstart-claims: {exc}") from None
    config.stash[_LOADED_KEY] = loaded


_LOADED_KEY = pytest.StashKey[dict[str, list[str]]]()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister the claims this run loaded (in-process runs leave the registry as found)."""
    loaded = config.stash.get(_LOADED_KEY, None)
    if not loaded:
        return
    from flatstart.validation.plugins import unload_claims

    for spec in loaded:
        unload_claims(spec)


def _source(module: str, default: Path) -> Path:
    """The file of a claim's module (where pytest says the item comes from)."""
    import sys

    f = getattr(sys.modules.get(module), "__file__", None)
    return Path(f) if f else default


def _items(session: pytest.Session, loaded: dict[str, list[str]]) -> Iterator[ClaimItem]:
    from flatstart.validation.claims import get

    seen: set[str] = set()
    for spec, ids in loaded.items():
        for cid in ids:
            if cid in seen:
                continue
            seen.add(cid)
            yield ClaimItem.from_parent(session, name=cid, nodeid=cid, claim_id=cid, spec=spec,
                                        path=_source(get(cid).module, session.path))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Add one item per loaded claim (before ``-k``/``-m`` deselect, so they apply)."""
    loaded = config.stash.get(_LOADED_KEY, None)
    if not loaded:
        return
    items.extend(_items(session, loaded))
