"""flatstart.montecarlo: batched sampling of real torch networks.

Measures, never predicts: never imports ``theory`` or ``validation``.
"""

# the folder is installed as flatstart.montecarlo, never bare
if __name__ != "flatstart.montecarlo":
    raise ImportError(f"import flatstart.montecarlo, not {__name__} (the folder montecarlo/ is the "
                      "package flatstart.montecarlo; install flatstart, or run from the repository "
                      "root, where flatstart/ links to it)")


__all__: list[str] = []
