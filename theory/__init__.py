"""flatstart.theory: exact predictions for randomly initialized networks.

Pure mathematics (sympy, mpmath, numpy, scipy). Never imports torch, ``montecarlo`` or
``validation``: the theory side must stay independent of what it is checked against.
"""

if __name__ != "flatstart.theory":  # imported as bare `theory` from the source tree
    from flatstart._alias import alias

    alias("theory")  # `theory` and `theory.*` are the modules of flatstart.theory, never copies


# the law engine: every Law evaluates through it (it registers itself in laws.ENGINE)
import flatstart.theory.products  # noqa: E402,F401

__all__: list[str] = []
