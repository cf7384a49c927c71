"""The researcher's toolkit: check your own bound on real networks, search for counterexamples.

:func:`check_bound` measures a quantity (an output, a gradient norm, a Hessian eigenvalue, an
escape time, ...) on freshly initialized torch networks from :mod:`montecarlo` at every point of
a parameter grid and decides with an exact or calibrated test whether a closed-form bound
(a sympy expression or a Python function) holds:

=================  ==========================================  ===============================
statement          claim (``direction="upper"``)               test
=================  ==========================================  ===============================
``almost_surely``  ``Q ≤ B`` for every network                 any violation refutes
``probability``    ``P(Q > B) ≤ δ``                            exact binomial (Clopper–Pearson)
``median``         ``median Q ≤ B``, i.e. ``P(Q > B) ≤ ½``     exact binomial (sign test)
``mean``           ``E Q ≤ B``                                 one-sided Student t
=================  ==========================================  ===============================

``direction="lower"`` flips every inequality (``Q ≥ B``, ``P(Q < B) ≤ δ``, ...). Grid points
are combined with Holm's method at level ``alpha``. The verdict ``holds`` is

* ``False``: some grid point rejects (a counterexample is reported: parameters, seed, network
  index and measured value);
* ``None`` (underpowered): nothing rejects but the test could not have detected a violation
  at some point (see :data:`POWER`), or censoring/heavy tails make it inconclusive;
* ``True``: nothing rejects and every point had the power to detect a violation.

:func:`search_counterexample` runs a derandomized :func:`hypothesis.find` over a strategy for
an input where ``lhs > bound``: the showcase finds the counterexample to the printed GC
Theorem 3.2 (:func:`gc_thm32_sides`) and none to its corrected form
(docs/theory/gc.md#sgd-under-confusion).

:func:`main_check_bound` is ``flatstart check-bound FILE`` (file format in docs/toolkit.md).

**Any torch network** (``network={"factory": f, "input_shape": (C, H, W)}``, or
``{"module": MyNet, "kwargs": {...}, "init": fn}``, or ``"inputs": tensor``): every quantity is
measured on ``count`` independent copies batched with ``torch.func``
(:mod:`flatstart.montecarlo.modules`: ``stack_module_state`` + ``vmap(functional_call)``, a loop
with a notice when vmap cannot batch the module).

**Your own quantity**: :func:`register_quantity` adds a named ``fn(model, params, batch)`` (one
value per network) to the table behind :data:`QUANTITIES`, the same table that holds the
built-in quantities; :func:`check_bound`, :func:`measure`, ``flatstart check-bound FILE`` and
user claims (calling :func:`measure`) use it by name.

**Where things live** (one concern per module; each imports only the modules listed below it):

* :mod:`~flatstart.validation.toolkit.check`: :func:`check_bound`, :class:`BoundResult`
  (summary, table, figure, HTML), :func:`main_check_bound`;
* :mod:`~flatstart.validation.toolkit.search`: :func:`search_counterexample`,
  :class:`SearchResult`, :func:`gc_thm32_sides`;
* :mod:`~flatstart.validation.toolkit.decide`: the test at one grid point
  (:class:`PointResult`; exact binomial and Student t tests of :mod:`flatstart.validation.stats`),
  :func:`detection_power`, :data:`POWER`, :data:`MIN_ESS`;
* :mod:`~flatstart.validation.toolkit.measurement`: :func:`measure` (chunks and their seeds);
* :mod:`~flatstart.validation.toolkit.quantities`: the quantity table (:data:`QUANTITIES`,
  :func:`register_quantity`, :class:`Quantity`), the built-in quantities, :data:`SAMPLES`,
  :data:`DENSE_HESSIAN_MAX`;
* :mod:`~flatstart.validation.toolkit.networks`: ``network`` dicts and grids, the parameters
  of a grid point, building networks, their inputs and targets;
* :mod:`~flatstart.validation.toolkit.bounds`: :func:`evaluate_bound` (sympy expressions,
  strings, callables);
* :mod:`~flatstart.validation.toolkit.vocabulary`: :data:`STATEMENTS`, :data:`DIRECTIONS`,
  :data:`NETWORK_KEYS`, :data:`PARAMETER_NAMES`.

Constants such as :data:`DENSE_HESSIAN_MAX` are read from the module that defines them: to
change one, set it there (``flatstart.validation.toolkit.quantities.DENSE_HESSIAN_MAX``), not on
this package.
"""

from __future__ import annotations

# names public beside __all__ are re-exported in the form `import X as X`
from flatstart.validation.toolkit.bounds import evaluate_bound
from flatstart.validation.toolkit.check import BoundResult, check_bound, main_check_bound
from flatstart.validation.toolkit.decide import AS_DETECT_RATE as AS_DETECT_RATE
from flatstart.validation.toolkit.decide import ESS_FRACTION as ESS_FRACTION
from flatstart.validation.toolkit.decide import MIN_ESS as MIN_ESS
from flatstart.validation.toolkit.decide import POWER, PointResult
from flatstart.validation.toolkit.decide import detection_power as detection_power
from flatstart.validation.toolkit.measurement import measure
from flatstart.validation.toolkit.quantities import (
    COSTS,
    QUANTITIES,
    Quantity,
    get_quantity,
    register_quantity,
    unregister_quantity,
)
from flatstart.validation.toolkit.quantities import DENSE_HESSIAN_MAX as DENSE_HESSIAN_MAX
from flatstart.validation.toolkit.quantities import SAMPLES as SAMPLES
from flatstart.validation.toolkit.search import SearchResult, gc_thm32_sides, search_counterexample
from flatstart.validation.toolkit.vocabulary import (
    DIRECTIONS,
    NETWORK_KEYS,
    PARAMETER_NAMES,
    STATEMENTS,
)
from flatstart.validation.toolkit.vocabulary import KINDS as KINDS
from flatstart.validation.toolkit.vocabulary import MODULE_KEYS as MODULE_KEYS

__all__ = [
    "COSTS",
    "DIRECTIONS",
    "NETWORK_KEYS",
    "PARAMETER_NAMES",
    "POWER",
    "QUANTITIES",
    "STATEMENTS",
    "BoundResult",
    "PointResult",
    "Quantity",
    "SearchResult",
    "check_bound",
    "evaluate_bound",
    "gc_thm32_sides",
    "get_quantity",
    "main_check_bound",
    "measure",
    "register_quantity",
    "search_counterexample",
    "unregister_quantity",
]
