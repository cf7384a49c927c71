"""flatstart.montecarlo: batched sampling of real torch networks.

Measures, never predicts: never imports ``theory`` or ``validation``. Every module is named by
what it measures: ``networks``/``inits``/``modules`` (random networks), ``losses`` (the one loss
vocabulary), ``derivatives``, ``jacobians``, ``per_sample``, ``curvature`` (a package:
``operator``, ``eigen``, ``trace``, ``density``, ``lanczos``, ``flat``), ``training``/``optim``/
``data``, ``sgd``, ``confusion``, ``phases``, ``basins``, ``sampling``, ``variables``
(docs/architecture.md).
"""

if __name__ != "flatstart.montecarlo":  # imported as bare `montecarlo` from the source tree
    from flatstart._alias import alias

    alias("montecarlo")  # `montecarlo`, `montecarlo.*`: the modules of flatstart.montecarlo


__all__: list[str] = []
