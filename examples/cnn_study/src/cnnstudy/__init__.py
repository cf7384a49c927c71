"""cnnstudy: an example study built on flatstart.

A user's own network (:mod:`cnnstudy.networks`, a ReLU CNN at He initialization), quantity
(:mod:`cnnstudy.quantities`, the output's mean square, registered with flatstart), theory
(:mod:`cnnstudy.theory`, He et al. 2015, eq. (10)) and claim (:mod:`cnnstudy.claims`,
``CNN.he-second-moment``). The walk-through: ``docs/tutorials/your-own-study.md`` of flatstart.

Importing the package imports nothing else: ``cnnstudy.claims`` registers the claim (and the
quantity) when it is imported.
"""

__version__ = "0.1.0"
