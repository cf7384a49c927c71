"""flatstart.validation: claims = theory prediction + Monte Carlo experiment + calibrated test."""

__all__: list[str] = []
