"""flatstart.montecarlo: batched sampling of real torch networks.

Measures, never predicts: never imports ``theory`` or ``validation``.
"""

if __name__ != "flatstart.montecarlo":  # imported as bare `montecarlo` from the source tree
    from flatstart._alias import alias

    alias("montecarlo")  # `montecarlo`, `montecarlo.*`: the modules of flatstart.montecarlo


__all__: list[str] = []
