"""The claim catalogue: one module per family, named by its code: ``p`` (products of
random variables), ``vc_signal`` and ``vc_curvature`` (vanishing curvature: signals in chains and
wide nets; Hessian, escape, residual, normalization), ``gc`` (gradient confusion), ``sp`` (the
two phases of SGD), ``rw`` (random wide networks).

Each module defines module-level functions and registers its claims at import time with
:func:`flatstart.validation.claims.register`; :func:`flatstart.validation.claims.load_catalogue`
imports every module here whose name does not start with "_" (``_demo`` only with
``FLATSTART_DEMO_CLAIMS=1``). A module that fails to import shows up as an "error" result of
``flatstart verify``.
"""
