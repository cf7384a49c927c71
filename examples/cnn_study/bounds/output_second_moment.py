"""Bound file for ``flatstart check-bound bounds/output_second_moment.py`` (cnnstudy installed,
or ``PYTHONPATH=src``).

He et al. (2015), "Delving deep into rectifiers", eq. (10), for the study's ReLU CNN
(:func:`cnnstudy.networks.cnn`: ``depth`` circular 3 x 3 convolutions with ReLU, a linear
readout of k = 10 outputs, ``Var[w_l] = 2 gain / n_l``, no biases):

    E ||f(x)||^2 / k = 2 x^2 gain^(depth + 1)

Here as a bound on the mean of the registered quantity ``output_second_moment``: the check
measures it on 500 freshly initialized CNNs per grid point (quick budget) and runs a one-sided
t test of ``E q <= B`` (Holm over the grid). Expected: it holds (exit status 0) with tightness
close to 1, since eq. (10) is an equality (``direction = "lower"`` holds as well).
"""

from cnnstudy.networks import cnn
from cnnstudy.quantities import register
from cnnstudy.theory import output_second_moment


def bound(depth: int, gain: float, x: float) -> float:
    """He et al. (2015) eq. (10) for the study's CNN (``cnnstudy.theory``)."""
    return output_second_moment(depth, gain, x)


quantity = register()                        # cnnstudy's quantity, by its Quantity object
statement = "mean"                           # E quantity <= bound (one-sided t test)
grid = {"depth": [1, 2, 4], "gain": [1.0, 1.25]}
network = {"factory": cnn, "input_shape": (1, 6, 6), "batch": 4}
seed = 0
budget = "quick"
