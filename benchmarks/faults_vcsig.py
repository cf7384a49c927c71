"""Curated theory faults for the VC chain / wide-net claims (validation/catalogue/vc_signal.py).

Each ``old`` occurs exactly once in its function's source; each fault was checked to make some
VC claim refuted at the ``standard`` budget (seed 0) by ``flatstart.validation.mutation.evaluate``.
"""

from __future__ import annotations

from flatstart.validation.mutation import Fault

FAULTS: list[Fault] = [
    Fault("flatstart.theory.chains.median_stable_variance",
          "2 e^gamma written 2.2 e^gamma (10% off)",
          old="2 * sp.exp(sp.EulerGamma)", new="2.2 * sp.exp(sp.EulerGamma)"),
    Fault("flatstart.theory.laws.normal.Normal._log_cumulant_exact",
          "kappa_1 = log(sqrt2 sigma) + psi(1/2)/2 with 1/2 written 1/3 ((gamma + log 2)/2 as /3)",
          old="return mp.log(mp.sqrt(2) * _mpf(self.sigma)) + half * mp.psi(0, half)",
          new="return mp.log(mp.sqrt(2) * _mpf(self.sigma)) + half * 2 / 3 * mp.psi(0, half)"),
    Fault("flatstart.theory.chains.NeuralChain.prob_small_gradient", "L - 1 factors written L",
          old="self._small(eps / abs(self.x), self.depth - 1)",
          new="self._small(eps / abs(self.x), self.depth)"),
    Fault("flatstart.theory.chains.NeuralChain.alive_probability", "2^-(L-1) written 2^-L",
          old="2.0 ** -(self.depth - 1)", new="2.0 ** -self.depth"),
    Fault("flatstart.theory.chains.NeuralChain.median_abs_output", "a^L written a^(L-1) (uniform)",
          old="self.depth * math.log(self.scale) - g",
          new="(self.depth - 1) * math.log(self.scale) - g"),
    Fault("flatstart.theory.chains.NeuralChain.output_law",
          "input |x| dropped from the first factor",
          old="self._product([(self._weight(abs(self.x)), 1), (self._weight(), L - 1)], twin)",
          new="self._product([(self._weight(), 1), (self._weight(), L - 1)], twin)"),
    Fault("flatstart.theory.chains.NeuralChain.gradient_law", "L - 2 extra factors written L - 1",
          old="(self._weight(), L - 2)], twin)", new="(self._weight(), L - 1)], twin)"),
    Fault("flatstart.theory.chains.NeuralChain.log_median_abs_output",
          "log|x| dropped (uniform branch)",
          old="return math.log(abs(self.x)) + self.depth * math.log(self.scale) - g",
          new="return self.depth * math.log(self.scale) - g"),
    Fault("flatstart.theory.chains.NeuralChain.uniform_median_bounds", "Choi's 2/3 written 3/4",
          old="lo_nu = n + 2.0 / 3.0", new="lo_nu = n + 3.0 / 4.0"),
    Fault("flatstart.theory.wide.layer_factor", "factor 2 dropped in log(2 v)",
          old="lc = math.log(2.0 * spec.variance)", new="lc = math.log(spec.variance)"),
    Fault("flatstart.theory.wide.critical_width_asymptotic", "5/2 written 9/4 (10% off)",
          old="c = 2.5 if activation", new="c = 2.25 if activation"),
    Fault("flatstart.theory.inits.weight_variance",
          "variance written as the scale (sigma for sigma^2)",
          old="gain).variance", new="gain).scale"),
    Fault("flatstart.theory.inits.weight_law", "uniform bound written as the variance",
          old="return laws.Uniform(-spec.scale, spec.scale)",
          new="return laws.Uniform(-spec.variance, spec.variance)"),
    Fault("flatstart.theory.products.gil_pelaez.LogProductLaw.log_cumulant", "cumulant 10% off",
          old="return float(self._cum[k - 1])", new="return float(1.1 * self._cum[k - 1])"),
]
