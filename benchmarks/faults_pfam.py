"""Curated faults for the P family (products of random variables), each refuted by a P claim
at the standard budget (see the report of the "earned verdicts" work)."""

from __future__ import annotations

from flatstart.validation.mutation import Fault

FAULTS = [
    Fault("flatstart.theory.log_moments.log_abs_cgf",
          "K^(r) = beta^r (...) written beta^(r-1) (K'' of log|N| 1/2 instead of 1/4 psi')",
          old="v = beta**r * v", new="v = beta**(r - 1) * v"),
    Fault("flatstart.theory.laws.gamma.Gamma.__init__", "scale theta read as a rate",
          old='self.theta = check_positive("theta", theta)',
          new='self.theta = 1.0 / check_positive("theta", theta)'),
    Fault("flatstart.theory.laws.normal.Normal._log_cumulant_exact",
          "kappa_r = psi^(r-1)(1/2)/2^r written /2^(r-1) (Var log|N| = pi^2/4 instead of pi^2/8)",
          old="return half**k * mp.psi(k - 1, half)",
          new="return half**(k - 1) * mp.psi(k - 1, half)"),
    Fault("flatstart.theory.log_moments._uniform", "rho constant off by 0.2",
          old="12.0 / math.e - 2.0", new="12.0 / math.e - 2.2"),
    Fault("flatstart.theory.asymptotics.LogCLT.bound", "sqrt(L) written as L",
          old="math.sqrt(self.count)", new="self.count"),
    Fault("flatstart.theory.medians.choi_series", "off-by-one in the power of n",
          old="float(c) / arr**j", new="float(c) / arr**(j + 1)"),
    Fault("flatstart.theory.medians.cornish_fisher_median_shift", "constant 6 off by 10%",
          old="-k3 / (6.0 * k2)", new="-k3 / (6.6 * k2)"),
    Fault("flatstart.theory.medians.gamma_median_shape", "shape k read as n = k - 1",
          old="special.gammaincinv(arr, 0.5)", new="special.gammaincinv(arr + 1.0, 0.5)"),
    Fault("flatstart.theory.asymptotics.saddlepoint_pdf", "5/24 written as 5/12 in the correction",
          old="5.0 * lam3**2 / 24.0", new="5.0 * lam3**2 / 12.0"),
    Fault("flatstart.theory.log_moments.log_abs_cgf", "t log(rho) dropped from K (scale lost)",
          old="v = (log_rho * flat(t)", new="v = (0.0 * flat(t)"),
    Fault("flatstart.theory.medians.choi_bounds", "lower bound n + 3/5 instead of n + 2/3",
          old="lo = arr + 2.0 / 3.0", new="lo = arr + 0.6"),
    Fault("flatstart.theory.products.core.Product.count",
          "distinct factor laws counted instead of factors",
          old="return sum(n for _, n in self.factors)", new="return len(self.factors)"),
    Fault("flatstart.theory.laws.law.Law.mean_log", "E log|X| 10% off",
          old="return float(self.log_cumulant(1))", new="return 1.1 * float(self.log_cumulant(1))"),
]
