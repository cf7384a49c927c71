"""flatstart.theory: exact predictions for randomly initialized networks.

Pure mathematics (sympy, mpmath, numpy, scipy). Never imports torch, ``montecarlo`` or
``validation``: the theory side must stay independent of what it is checked against.
"""

__all__: list[str] = []
