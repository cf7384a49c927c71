"""Curated theory faults that the VC claims of validation/catalogue/vc_curvature.py
refute (helper "vccurv"); each ``old`` occurs exactly once in its function's source."""

from __future__ import annotations

from flatstart.validation.mutation import Fault

FAULTS = [
    Fault("flatstart.theory.chains.chain_moment_formulas", "factor 4 written as 3 in E H_ij^2",
          old="E_H_ij_sq=p * (4 * x**4", new="E_H_ij_sq=p * (3 * x**4"),
    Fault("flatstart.theory.chains.chain_moment_formulas", "E w^4 = 3 sigma^4 10% off",
          old="m2, m4 = SIGMA_SYM**2, 3 * SIGMA_SYM**4",
          new="m2, m4 = SIGMA_SYM**2, 3.3 * SIGMA_SYM**4"),
    Fault("flatstart.theory.chains.chain_moment_formulas", "m4^{L-2} off by one (L-1) in E H_ij^2",
          old="m4 ** (L - 2)", new="m4 ** (L - 1)"),
    Fault("flatstart.theory.chains.chain_moment_formulas", "y^2 written as y in E H_ij^2",
          old="x**2 * y**2 * m2 ** (L - 2)", new="x**2 * y * m2 ** (L - 2)"),
    Fault("flatstart.theory.hessian.trace_bound", "union level delta/(L-1) instead of delta/L",
          old="law.quantile(1.0 - delta / L)", new="law.quantile(1.0 - delta / (L - 1))"),
    Fault("flatstart.theory.hessian.norm_bound", "factor 2 dropped at y = 0",
          old="return 2.0 * trace_bound(chain, delta)", new="return trace_bound(chain, delta)"),
    Fault("flatstart.theory.hessian.max_entry_bound",
          "entry count: off-diagonal pairs L(L-1) not /2",
          old="n = L + L * (L - 1) // 2", new="n = L + L * (L - 1)"),
    Fault("flatstart.theory.chains.NeuralChain.hessian_entry_law", "off-diagonal factor 2 dropped",
          old="(self._weight(math.sqrt(2.0) * ax), 2)", new="(self._weight(ax), 2)"),
    Fault("flatstart.theory.chains.NeuralChain.gradient_norm_bound", "sqrt(L) written as L",
          old="return float(math.sqrt(L) * g.quantile(1.0 - delta / L))",
          new="return float(L * g.quantile(1.0 - delta / L))"),
    Fault("flatstart.theory.escape.gd_escape_steps_asymptotic", "eta*lambda written as lambda",
          old="(eta_a[inside] * lam_a[inside])", new="(lam_a[inside])"),
    Fault("flatstart.theory.escape.adam_escape_steps_reference", "bias correction of v dropped",
          old="vhat = v / (1.0 - b2 ** (t + 1))", new="vhat = v"),
    Fault("flatstart.theory.escape.chain_hessian", "residual sign: y - Px",
          old="r = p * xf - yf", new="r = yf - p * xf"),
    Fault("flatstart.theory.escape.log_median_pair_product", "n = L - 1 factors (off by one)",
          old="n = L - 2", new="n = L - 1"),
    Fault("flatstart.theory.laws.normal.Normal._log_cumulant_exact", "kappa_3 of log|w| 10% off",
          old="return half**k * mp.psi(k - 1, half)",
          new="return (1.1 if k == 3 else 1.0) * half**k * mp.psi(k - 1, half)"),
    Fault("flatstart.theory.chains.residual_chain_log_cdf", "alpha squared",
          old="out = _residual_cdf(yy.ravel(), L, a, s, lw)",
          new="out = _residual_cdf(yy.ravel(), L, a * a, s, lw)"),
]
