"""The registry of claims: register, look up, select, and load the catalogue.

flatstart's catalogue modules (``flatstart.validation.catalogue.*``) and users' claim modules
register :class:`~flatstart.validation.claim.Claim` objects here when imported;
:func:`load_catalogue` imports the catalogue (once) and runs the registered *loaders* (the
plugin module installs one that loads installed packages' entry points, group
``flatstart.claims``), remembering failures for :func:`catalogue_errors`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flatstart.validation.claim import FAMILIES, Claim

__all__ = [
    "ALIASES",
    "DEMO_ENV",
    "LOADERS",
    "catalogue_errors",
    "claims",
    "get",
    "ids",
    "known_families",
    "load_catalogue",
    "load_errors",
    "register",
    "registered",
    "registry_view",
    "select",
    "unregister",
]

DEMO_ENV = "FLATSTART_DEMO_CLAIMS"


_REGISTRY: dict[str, Claim] = {}


_LOAD_ERRORS: dict[str, str] = {}


_LOADED = False


#: Called (in order) by :func:`load_catalogue` after the catalogue modules are imported; the
#: plugin module appends its entry-point loader (``flatstart.claims`` group).
LOADERS: list[Callable[[], Any]] = []


def known_families() -> list[str]:
    """:data:`FAMILIES` followed by the families of registered user claims."""
    extra = sorted({c.family for c in _REGISTRY.values()} - set(FAMILIES))
    return [*FAMILIES, *extra]


def register(claim: Claim) -> Claim:
    """Add a claim to the registry and return it.

    Registering the same id again from the same module replaces it (module reloads);
    from a different module it raises ``ValueError``.
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"register() needs a Claim, got {type(claim).__name__}")
    old = _REGISTRY.get(claim.id)
    if old is not None and old.module != claim.module:
        raise ValueError(
            f"claim id {claim.id!r} is already registered by module {old.module!r}"
        )
    _REGISTRY[claim.id] = claim
    return claim


def unregister(claim_id: str) -> None:
    """Remove a claim from the registry (tests)."""
    _REGISTRY.pop(claim_id, None)


def _catalogue_modules() -> list[str]:
    import flatstart.validation.catalogue as cat

    names = []
    for info in pkgutil.iter_modules(cat.__path__):
        if info.name.startswith("_"):
            if info.name == "_demo" and os.environ.get(DEMO_ENV, "") == "1":
                names.append(f"flatstart.validation.catalogue.{info.name}")
            continue
        names.append(f"flatstart.validation.catalogue.{info.name}")
    return sorted(names)


def load_catalogue(force: bool = False) -> None:
    """Import every ``flatstart.validation.catalogue`` module (once); remember modules that fail.

    Modules whose name starts with "_" are skipped, except ``_demo`` when the environment
    variable ``FLATSTART_DEMO_CLAIMS=1`` is set. Then the claims of installed packages are
    loaded by the :data:`LOADERS` (the plugin module's
    :func:`~flatstart.validation.plugins.load_entry_points`, entry-point group
    ``flatstart.claims``); their failures are remembered too.
    """
    global _LOADED
    if _LOADED and not force:
        return
    _LOADED = True
    for name in _catalogue_modules():
        try:
            importlib.import_module(name)
            _LOAD_ERRORS.pop(name, None)
        except Exception:
            _LOAD_ERRORS[name] = traceback.format_exc()
    for loader in LOADERS:  # e.g. installed packages' claims (group "flatstart.claims")
        loader()


def catalogue_errors() -> dict[str, str]:
    """Catalogue modules that failed to import: module name -> traceback text."""
    load_catalogue()
    return dict(_LOAD_ERRORS)


def registry_view() -> dict[str, Claim]:
    """The live registry (claim id -> claim): the plugin loader adds and rolls back users'
    registrations through it; everyone else uses :func:`get`/:func:`registered`."""
    return _REGISTRY


def load_errors() -> dict[str, str]:
    """The live table of load failures (name -> traceback) that :func:`catalogue_errors`
    reports; loaders record their failures in it."""
    return _LOAD_ERRORS


#: Other names under which a claim is known (an earlier spelling of the API example wrote
#: ``VC.median-vs-mean`` for the catalogue's ``VC.mean-vs-median``).
ALIASES: dict[str, str] = {"VC.median-vs-mean": "VC.mean-vs-median"}


def registered(claim_id: str) -> Claim | None:
    """The claim registered under ``claim_id`` in this process, or ``None`` (no catalogue load,
    no alias: a plain look-up for the report and the executors).

    >>> registered("no.such-claim") is None
    True
    """
    return _REGISTRY.get(claim_id)


def get(claim_id: str) -> Claim:
    """The registered claim ``claim_id`` (or an alias of it, see :data:`ALIASES`).

    Raises ``KeyError`` listing the known ids otherwise.
    """
    claim_id = ALIASES.get(claim_id, claim_id)
    if claim_id not in _REGISTRY:
        load_catalogue()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise KeyError(
            f"unknown claim id {claim_id!r}; known ids: {', '.join(sorted(_REGISTRY)) or '(none)'}"
        ) from None


def ids(family: str | None = None) -> list[str]:
    """Sorted ids of the registered claims (optionally of one family)."""
    load_catalogue()
    return sorted(k for k, c in _REGISTRY.items() if family is None or c.family == family)


def claims(family: str | None = None) -> list[dict[str, Any]]:
    """The catalogue: one summary dict per claim (id, title, family, source, statement, ...).

    >>> isinstance(claims(), list)
    True
    """
    if family is not None and family not in FAMILIES:
        load_catalogue()  # a user family is known once its claims are registered
        if family not in known_families():
            raise ValueError(f"family must be one of {known_families()}, got {family!r}")
    return [_REGISTRY[i].summary() for i in ids(family)]


def select(
    claim_ids: Iterable[str] | None = None, family: str | Sequence[str] | None = None
) -> list[Claim]:
    """Claims by id (in the given order) and/or family; ``ValueError`` for unknown ones."""
    load_catalogue()
    fams: set[str] | None = None
    if family is not None:
        fams = {family} if isinstance(family, str) else set(family)
        bad = sorted(fams - set(known_families()))
        if bad:
            raise ValueError(f"family must be among {known_families()}, got {bad}")
    if claim_ids is None:
        chosen = [_REGISTRY[i] for i in sorted(_REGISTRY)]
    else:
        wanted = [ALIASES.get(i, i) for i in claim_ids]
        unknown = [i for i in wanted if i not in _REGISTRY]
        if unknown:
            raise ValueError(
                f"unknown claim id(s) {unknown}; known ids: "
                f"{', '.join(sorted(_REGISTRY)) or '(none)'}"
            )
        chosen = [_REGISTRY[i] for i in dict.fromkeys(wanted)]
    if fams is not None:
        chosen = [c for c in chosen if c.family in fams]
    return chosen
