"""Which code runs: a profiler-based recorder of the functions a call executes.

Two uses, both about the rule that a claim's Monte Carlo side never evaluates theory:

* :func:`theory_calls_during` runs a callable under :func:`sys.setprofile` (and
  :func:`threading.setprofile`, so threads it starts are watched too) and returns every function
  of the watched packages that executed. The layering guard of
  :func:`flatstart.validation.layering.check_simulate` fails when a claim's ``simulate`` executes
  any frame of ``theory``, however it got there (a local import, a helper in another module, a
  closure, a method).
* :class:`Recorder` also records the *boundary* calls, where code outside the watched packages
  calls into them, with their return values: what a claim's ``predict`` and ``test`` actually
  take from theory. The coverage table (:mod:`flatstart.validation.coverage`) and the mutation
  benchmark are built on it.

The profiler sees Python frames only; theory is pure Python (plus numpy/scipy/mpmath called from
Python frames), so every theory function that runs produces a frame.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BoundaryCall", "Recorder", "package_dir", "qualified_name", "theory_calls_during"]


def package_dir(name: str) -> str:
    """Absolute folder of an importable package, with a trailing separator."""
    import importlib

    module = importlib.import_module(name)
    return os.path.dirname(os.path.abspath(module.__file__ or "")) + "/"


def qualified_name(code: types.CodeType, root: str, package: str) -> str:
    """``package.module.Qualname`` of a code object whose file lies below ``root``.

    >>> import flatstart.validation.tracing as t
    >>> root = t.package_dir("flatstart.validation")
    >>> qualified_name(t.package_dir.__code__, root, "flatstart.validation")
    'flatstart.validation.tracing.package_dir'
    """
    rel = code.co_filename[len(root):]
    mod = rel[:-3] if rel.endswith(".py") else rel
    mod = mod.replace("/", ".")
    if mod.endswith(".__init__"):
        mod = mod[: -len(".__init__")]
    return f"{package}.{mod}.{getattr(code, 'co_qualname', code.co_name)}"


@dataclass
class BoundaryCall:
    """One call from outside the watched packages into them, with what it returned."""

    name: str
    value: Any
    key: str = ""


@dataclass
class Recorder:
    """Context manager recording the functions of ``packages`` that execute inside it.

    Attributes:
        executed: qualified names (``flatstart.theory.products.Product.cdf``) of every function of
        the
            watched packages that ran.
        boundary: with ``boundary=True``, the calls made from outside the packages into them,
            in order, with their return values.
        keyer: with ``boundary=True``, a function of a boundary call's frame (taken when the
            call starts, so it sees the arguments) whose string is stored as
            :attr:`BoundaryCall.key`: lets two runs match the same call by its arguments.

    >>> from flatstart.theory.noise import b_simple
    >>> with Recorder(["flatstart.theory"]) as rec:
    ...     _ = b_simple(2.0, 1.0)
    >>> "flatstart.theory.noise.b_simple" in rec.executed
    True
    """

    packages: Iterable[str]
    boundary: bool = False
    keyer: Callable[[types.FrameType], str] | None = None
    executed: set[str] = field(default_factory=set)
    calls: list[BoundaryCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.packages = tuple(self.packages)
        # the folder as imported and, where a link leads there, the folder it points to
        self._roots = []
        for p in self.packages:
            root = package_dir(p)
            real = str(Path(root).resolve()) + "/"
            self._roots += [(root, p)] + ([(real, p)] if real != root else [])
        self._names: dict[types.CodeType, str | None] = {}
        self._old: Any = None
        self._old_thread: Any = None
        self._keys: dict[int, str] = {}

    def _name(self, code: types.CodeType) -> str | None:
        try:
            return self._names[code]
        except KeyError:
            pass
        name = None
        fn = code.co_filename
        for root, pkg in self._roots:
            if fn.startswith(root):
                name = qualified_name(code, root, pkg)
                break
        self._names[code] = name
        return name

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = self._name(frame.f_code)
            if name is not None:
                self.executed.add(name)
                if self.boundary and self.keyer is not None:
                    back = frame.f_back
                    if back is None or self._name(back.f_code) is None:
                        self._keys[id(frame)] = self.keyer(frame)
        elif event == "return" and self.boundary:
            name = self._name(frame.f_code)
            if name is not None:
                back = frame.f_back
                if back is None or self._name(back.f_code) is None:
                    key = self._keys.pop(id(frame), "")
                    self.calls.append(BoundaryCall(name, arg, key))

    def __enter__(self) -> Recorder:
        self._old = sys.getprofile()
        self._old_thread = getattr(threading, "getprofile", lambda: None)()
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.setprofile(self._old)
        threading.setprofile(self._old_thread)


def theory_calls_during(fn: Callable[..., Any], *args: Any, **kwargs: Any
                        ) -> tuple[Any, set[str]]:
    """Call ``fn(*args, **kwargs)`` and return ``(its result, theory functions that ran)``.

    >>> from flatstart.theory.noise import b_simple
    >>> theory_calls_during(lambda: 1 + 1)
    (2, set())
    >>> "flatstart.theory.noise.b_simple" in theory_calls_during(b_simple, 2.0, 1.0)[1]
    True
    """
    with Recorder(["flatstart.theory"]) as rec:
        out = fn(*args, **kwargs)
    return out, set(rec.executed)
