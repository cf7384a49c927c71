"""flatstart.montecarlo: batched sampling of real torch networks.

Measures, never predicts: never imports ``theory`` or ``validation``.
"""

__all__: list[str] = []
