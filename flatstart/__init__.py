"""flatstart: check the theory of randomly initialized deep networks.

Three layers, each a subpackage:

* :mod:`flatstart.theory` — exact predictions (sympy, mpmath, scipy; never torch);
* :mod:`flatstart.montecarlo` — batched torch networks and what is measured on them (never
  theory);
* :mod:`flatstart.validation` — claims: a theory prediction, a Monte Carlo experiment and a
  calibrated test, run over parameter sweeps into a report (the only layer that joins them).

In the source tree the three folders sit at the repository's top level and ``flatstart/``
links to them; a wheel or an sdist holds them under ``flatstart/``.

>>> import flatstart.theory, flatstart.validation
>>> flatstart.__version__
'0.1.0'
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("flatstart")
except _metadata.PackageNotFoundError:  # pragma: no cover - an uninstalled source tree
    __version__ = "0.1.0"

__all__ = ["__version__"]
