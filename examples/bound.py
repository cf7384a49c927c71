"""Example bound file for ``flatstart check-bound examples/bound.py``.

A rigorous bound (Chebyshev's inequality): the output of a linear Gaussian neural chain
``f(x) = w_L ⋯ w_1 x`` with ``w_l ~ N(0, σ²)`` has ``E f² = σ^{2L} x²``, so

    P(|f(x)| > σ^L |x| / √δ) ≤ δ        for every depth L and every δ in (0, 1).

The check measures |f(x)| on 2000 freshly initialized chains per depth (quick budget) and
tests the violation rate against δ with an exact binomial (Clopper–Pearson) test, Holm over
the depths. Expected: the bound holds (exit status 0); its tightness falls with depth because
the median of |f| vanishes exponentially while the second moment stays σ^{2L}.
"""

import sympy as sp

L, sigma, x, d = sp.symbols("depth sigma x delta", positive=True)

bound = sigma**L * x / sp.sqrt(d)            # Chebyshev: E f^2 = sigma^(2L) x^2
quantity = "output"                          # |f(x)|
statement = "probability"                    # P(quantity > bound) <= delta
delta = 0.1                                  # the value of the symbol delta
grid = {"depth": [1, 2, 5, 10, 20], "sigma": [1.0, 1.5]}
network = {"kind": "chain", "activation": "linear", "x": 1.0}
seed = 0
budget = "quick"
