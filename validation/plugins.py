"""User claims: claims from a file, a module or an installed package, checked like the catalogue.

A user's claim module is an ordinary Python file that registers :class:`~flatstart.validation.
claims.Claim` objects at import time (see ``docs/user-claims.md`` and the toy module
``flatstart.validation.catalogue._demo``)::

    THEORY_MODULES = ["mypkg.theory"]      # optional: the user's own theory side

    register(Claim(id="MY.mean", family="MY", ...))

* :func:`load_claims` loads one such module, given as a path to a ``.py`` file or as a dotted
  module name (``flatstart verify --claims FILE_OR_MODULE``, ``pytest --flatstart-claims``);
* :func:`load_entry_points` loads the modules that installed packages declare in the
  entry-point group ``flatstart.claims`` (called by
  :func:`~flatstart.validation.claims.load_catalogue`; failures are collected like a catalogue
  module's import error and show up as "error" results of ``flatstart verify``).

User claims obey the catalogue's rules: an id ``FAMILY.name`` whose family is the user's own
(the families of :data:`~flatstart.validation.claims.FAMILIES` -- P, VC, GC, SP, RW, DEMO -- are
reserved for flatstart), a mutant, an alpha, a non-empty grid per budget, and a ``simulate``
that never reaches theory: neither ``flatstart.theory`` nor the module's ``THEORY_MODULES``
(:func:`flatstart.validation.layering.static_violations`). Running claims still traces
``flatstart.theory`` at run time, as for the catalogue.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flatstart.validation import registry as _registry
from flatstart.validation.claim import FAMILIES, Claim, is_flatstart_module

__all__ = [
    "ENTRY_POINT_GROUP",
    "is_file_spec",
    "load_claims",
    "load_entry_points",
    "loaded",
    "unload_claims",
]

ENTRY_POINT_GROUP = "flatstart.claims"
"""Entry-point group of installed packages' claim modules (``pyproject.toml``:
``[project.entry-points."flatstart.claims"] mine = "mypkg.claims"``)."""

_PREFIX = "_flatstart_user_claims_"
_ALLOWED = ("allowed: a path to a Python file (.py) or an importable dotted module name "
            "(mypkg.claims) that registers at least one Claim")
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: spec key -> the claims that loading it registered (id -> Claim object)
_LOADED: dict[str, dict[str, Claim]] = {}
#: spec key -> the name of the module it was imported as
_MODULES: dict[str, str] = {}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def is_file_spec(spec: str) -> bool:
    """Whether ``spec`` names a file (ends with ``.py``, contains a path separator, or exists
    as a file) rather than a dotted module name."""
    return (spec.endswith(".py") or "/" in spec or "\\" in spec or Path(spec).is_file()
            or not _MODULE_RE.match(spec))


def _file_module_name(path: Path) -> str:
    """A unique, stable module name for the file at ``path`` (resolved)."""
    stem = re.sub(r"\W", "_", path.stem) or "claims"
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"{_PREFIX}{stem}_{digest}"


def _import_file(path: Path, name: str) -> types.ModuleType:
    """Execute the file at ``path`` as the module ``name`` (kept in ``sys.modules`` so that its
    functions pickle and its source is found); its folder is on ``sys.path`` only meanwhile, so
    it may import its neighbours."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot create an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if added:
            try:
                sys.path.remove(folder)
            except ValueError:  # pragma: no cover - the module removed it itself
                pass
    return module


def _import_module(name: str, again: bool) -> types.ModuleType:
    if again and name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def _is_users(c: Claim) -> bool:
    """A user's claim: its functions are defined outside flatstart (the catalogue's claims,
    which a user module may cause to load, are never collected or rolled back)."""
    return not is_flatstart_module(c.module)


def _new_claims(before: dict[str, Claim]) -> dict[str, Claim]:
    """User claims registered (or replaced) since the registry was ``before``."""
    reg = _registry.registry_view()
    return {i: c for i, c in reg.items() if before.get(i) is not c and _is_users(c)}


def _rollback(before: dict[str, Claim]) -> None:
    """Undo the user registrations made since the registry was ``before``."""
    reg = _registry.registry_view()
    for cid in _new_claims(before):
        if cid in before:
            reg[cid] = before[cid]
        else:
            del reg[cid]


def _theory_modules(label: str, module: types.ModuleType | None) -> list[str]:
    value = getattr(module, "THEORY_MODULES", ()) if module is not None else ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(m, str) and _MODULE_RE.match(m) for m in value
    ):
        raise ValueError(
            f"claims {label!r}: THEORY_MODULES must be a list of dotted module names "
            f"(e.g. ['mypkg.theory']), got {value!r}"
        )
    return list(value)


def _check_user_claims(label: str, found: dict[str, Claim], theory_modules: Sequence[str]) -> None:
    """The catalogue's rules for user claims (ValueError naming the first broken rule)."""
    from flatstart.validation.layering import static_violations

    for cid, c in sorted(found.items()):
        if c.family in FAMILIES:
            raise ValueError(
                f"claims {label!r}: claim {cid!r} uses the family {c.family!r}, which is "
                f"reserved for flatstart's own claims ({', '.join(FAMILIES)}); allowed: a "
                f"family code of your own (capital letters, e.g. 'MY.{cid.split('.', 1)[1]}')"
            )
        for budget in c.grids:
            if not c.grid(budget):
                raise ValueError(
                    f"claims {label!r}: claim {cid!r} has an empty {budget!r} grid; allowed: "
                    "at least one parameter dict per budget"
                )
        bad = static_violations(c.simulate, theory_modules)
        if bad:
            where = ", ".join(["flatstart.theory", *theory_modules])
            raise ValueError(
                f"claims {label!r}: claim {cid!r}: simulate reaches theory statically "
                f"({', '.join(bad)}); allowed: a Monte Carlo side that uses none of {where}"
            )


def _load(
    key: str, label: str, do_import: Callable[[bool], types.ModuleType | None],
    module_name: str,
) -> list[str]:
    """Import with ``do_import(again)``, collect the claims it registered, check the rules.

    ``again`` is True when the module was imported before (by us or by anyone): its claims
    are then re-registered by a reload (registering again from the same module is allowed).
    """
    cached = _LOADED.get(key)
    reg = _registry.registry_view()
    if cached is not None and all(reg.get(i) is c for i, c in cached.items()):
        return sorted(cached)
    before = dict(reg)
    again = cached is not None or module_name in sys.modules
    if cached is None and any(c.module == module_name for c in reg.values()):
        again = False  # imported elsewhere first (a conftest, a notebook): its claims are here
    try:
        module = do_import(again)
    except Exception as exc:
        _rollback(before)
        if isinstance(exc, ValueError) and str(exc).startswith("claims "):
            raise  # a nested load_claims() of the user's module
        raise ValueError(
            f"claims {label!r}: cannot import it ({type(exc).__name__}: {_one_line(str(exc))}); "
            f"{_ALLOWED}"
        ) from exc
    found = _new_claims(before)
    found.update({i: c for i, c in reg.items() if c.module == module_name and _is_users(c)})
    if not found and module is not None:
        # module-level Claim objects that were never registered
        for value in vars(module).values():
            if isinstance(value, Claim) and _is_users(value):
                found[value.id] = _registry.register(value)
    if not found:
        raise ValueError(f"claims {label!r}: importing it registered no claim; {_ALLOWED}")
    try:
        _check_user_claims(label, found, _theory_modules(label, module))
    except ValueError:
        _rollback(before)
        for cid, c in found.items():  # claims that were registered before this load
            if reg.get(cid) is c:
                del reg[cid]
        if key.startswith("file:"):
            sys.modules.pop(module_name, None)
        raise
    _LOADED[key] = dict(found)
    _MODULES[key] = module_name
    return sorted(found)


def load_claims(spec: str) -> list[str]:
    """Load a user's claim module and return the ids of the claims it registers.

    Args:
        spec: a path to a ``.py`` file (imported under a unique module name; its folder is on
            ``sys.path`` only while it runs) or a dotted module name (imported with
            :func:`importlib.import_module`).

    Returns:
        The sorted ids. Loading the same spec again returns the same ids without importing it
        again (unless its claims were unregistered meanwhile: then it is re-imported).

    Raises:
        ValueError: one line naming ``claims``, the value and what is allowed, when the file
            does not exist, the module cannot be imported, it registers no claim, or a claim
            breaks a rule (a reserved family, an empty grid, a ``simulate`` that reaches
            ``flatstart.theory`` or the module's ``THEORY_MODULES``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"claims {spec!r}: not a file or module name; {_ALLOWED}")
    spec = spec.strip()
    if is_file_spec(spec):
        path = Path(spec).expanduser().resolve()
        if not path.exists():
            raise ValueError(f"claims {spec!r}: no such file; {_ALLOWED}")
        if not path.is_file() or path.suffix != ".py":
            raise ValueError(f"claims {spec!r}: not a Python file (.py); {_ALLOWED}")
        name = _file_module_name(path)

        def import_file(again: bool) -> types.ModuleType:
            return _import_file(path, name)

        return _load(f"file:{path}", spec, import_file, name)

    def import_dotted(again: bool) -> types.ModuleType:
        return _import_module(spec, again)

    return _load(f"module:{spec}", spec, import_dotted, spec)


def loaded() -> dict[str, list[str]]:
    """The specs loaded so far (``file:PATH`` or ``module:NAME``) and their claim ids."""
    return {k: sorted(v) for k, v in _LOADED.items()}


def unload_claims(spec: str | None = None) -> list[str]:
    """Unregister the claims that :func:`load_claims` loaded from ``spec`` (every spec when
    None) and forget the spec, so that the registry holds the catalogue only; returns the ids.

    The module stays imported; a file's module is removed from ``sys.modules``.
    """
    if spec is None:
        keys = list(_LOADED)
    elif is_file_spec(spec):
        keys = [f"file:{Path(spec).expanduser().resolve()}"]
    else:
        keys = [f"module:{spec}"]
    removed: list[str] = []
    for key in keys:
        found = _LOADED.pop(key, None) or {}
        name = _MODULES.pop(key, None)
        for cid, c in found.items():
            if _registry.registry_view().get(cid) is c:
                _registry.unregister(cid)
                removed.append(cid)
        if name is not None and key.startswith("file:"):
            sys.modules.pop(name, None)
    return sorted(removed)


def _entry_point_key(ep: Any, group: str) -> str:
    """How a failing entry point is named among the catalogue's import errors."""
    return f"{ep.value} (entry point {ep.name!r} of {group!r})"


def _load_entry_point(ep: Any, group: str) -> list[str]:
    module_name = str(ep.module)
    attr = getattr(ep, "attr", None)
    label = f"{ep.name} = {ep.value}"

    def import_ep(again: bool) -> types.ModuleType:
        module = _import_module(module_name, again)
        if attr:
            target: Any = module
            for part in str(attr).split("."):
                target = getattr(target, part)
            if not callable(target):
                raise TypeError(f"entry point {ep.value!r} is neither a module nor a callable")
            target()
        return module

    return _load(f"entry-point:{group}:{ep.name}:{ep.value}", label, import_ep, module_name)


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> dict[str, list[str]]:
    """Load every entry point of ``group``: each names a module that registers claims when
    imported (``mypkg.claims``) or a callable that registers them (``mypkg.claims:register``).

    Failures are not raised: each is remembered with its traceback among
    :func:`~flatstart.validation.claims.catalogue_errors` (key ``"VALUE (entry point 'NAME' of
    'GROUP')"``), so ``flatstart list`` warns and ``flatstart verify`` reports it as an "error"
    result, like a catalogue module that fails to import.

    Returns:
        Entry-point name -> the ids its module registered (failed entry points are absent).
    """
    from importlib.metadata import entry_points

    out: dict[str, list[str]] = {}
    try:
        eps = list(entry_points(group=group))
    except Exception:  # pragma: no cover - broken distribution metadata
        _registry.load_errors()[f"entry points of {group!r}"] = traceback.format_exc()
        return out
    for ep in sorted(eps, key=lambda e: (e.name, e.value)):
        key = _entry_point_key(ep, group)
        try:
            out[ep.name] = _load_entry_point(ep, group)
            _registry.load_errors().pop(key, None)
        except Exception:
            _registry.load_errors()[key] = traceback.format_exc()
    return out


_registry.LOADERS.append(load_entry_points)  # registry.load_catalogue runs it after the catalogue
