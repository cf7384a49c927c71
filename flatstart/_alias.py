"""Bare names in the source tree: ``theory`` *is* ``flatstart.theory`` (the same module objects).

An installed flatstart has only the package ``flatstart``. In the source tree the folders
``theory/``, ``montecarlo/`` and ``validation/`` also sit at the top level, so code run from the
repository root may write ``from theory.laws import Normal``; :func:`alias` (called by each
folder's ``__init__`` when it is imported under its bare name) makes that name and every
submodule below it resolve to the modules of ``flatstart.<name>``, so there is never a second
copy of a class or a registry. Imports nothing of flatstart's layers at module level.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["alias"]


class _AliasLoader(importlib.abc.Loader):
    """Hands back the module of the real name (and keeps its own ``__spec__``)."""

    def __init__(self, real: str) -> None:
        self.real = real
        self._spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.real)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._spec  # the import system set the alias's spec; put it back


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self, bare: str, real: str) -> None:
        self.bare, self.real = bare, real

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.bare + "."):
            return None
        return importlib.machinery.ModuleSpec(fullname,
                                              _AliasLoader(self.real + fullname[len(self.bare):]))


class _PackageView(types.ModuleType):
    """The bare top-level name: a view whose attributes are the real package's.

    Not the package object itself: the import system sets every imported submodule as an
    attribute of its parent (``import validation.claims`` would otherwise overwrite the
    function ``flatstart.validation.claims`` with the module of the same name); such writes
    land on this view, reads fall through to the real package.
    """

    def __init__(self, bare: str, package: types.ModuleType) -> None:
        super().__init__(bare, package.__doc__)
        self.__dict__["_package"] = package
        self.__path__ = list(getattr(package, "__path__", []))
        self.__file__ = getattr(package, "__file__", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_package"], name)


def alias(bare: str) -> types.ModuleType:
    """Make ``bare`` and ``bare.*`` the modules of ``flatstart.<bare>``; returns the package.

    Every submodule is the real one (one copy of every class and registry); the bare package
    name itself is a read-through view of ``flatstart.<bare>`` (see :class:`_PackageView`).

    >>> import flatstart.theory.laws
    >>> alias("theory").laws is flatstart.theory.laws
    True
    """
    real = "flatstart." + bare
    package = importlib.import_module(real)
    if not any(isinstance(f, _AliasFinder) and f.bare == bare for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder(bare, real))
    view = sys.modules.get(bare)
    if not (isinstance(view, _PackageView) and view.__dict__["_package"] is package):
        view = _PackageView(bare, package)
        sys.modules[bare] = view
    return package
