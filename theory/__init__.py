"""flatstart.theory: exact predictions for randomly initialized networks.

Pure mathematics (sympy, mpmath, numpy, scipy). Never imports torch, ``montecarlo`` or
``validation``: the theory side must stay independent of what it is checked against.
"""

if __name__ != "flatstart.theory":  # the folder is installed as flatstart.theory, never bare
    raise ImportError(f"import flatstart.theory, not {__name__} (the folder theory/ is the "
                      "package flatstart.theory; install flatstart, or run from the repository "
                      "root, where flatstart/ links to it)")


__all__: list[str] = []
