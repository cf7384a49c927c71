"""Curated theory faults that the GC, SP and RW claims refute at the ``standard`` budget.

Each ``old`` occurs exactly once in its function's source. Verified with
``flatstart.validation.mutation.applied`` + ``flatstart.validation.claims.verify(...,
budget="standard")``; the comment after each names the claim(s) that refute it and whether ``quick``
does too."""

from __future__ import annotations

from flatstart.validation.mutation import Fault

FAULTS: list[Fault] = [
    # GC.sgd-bound (tight N = 1 point); quick too
    Fault("flatstart.theory.confusion.sgd_bound_thm31", "rate: 2 mu written as 1.9 mu",
          old="(2.0 * m / n)", new="(1.9 * m / n)"),
    # GC.sgd-bound; quick too
    Fault("flatstart.theory.confusion.sgd_bound_thm31", "exponent off by one: rho^(T-1)",
          old="rho**t * gap", new="rho**(t - 1) * gap"),
    # GC.thm32-corrected (eta identity at T = 1); quick too
    Fault("flatstart.theory.confusion.QuadraticFiniteSum.grads", "centre 10% off",
          old="self.a * (ww - self.b)", new="self.a * (ww - 1.1 * self.b)"),
    # GC.linear-confusion; quick too
    Fault("flatstart.theory.confusion.linear_confusion_probability_bound", "C(N, 2) written N",
          old="math.comb(n, 2) * p", new="n * p"),
    # GC.linear-confusion; quick too
    Fault("flatstart.theory.confusion.linear_confusion_failure_probability", "dimension off by one",
          old="law = linear_cosine_law(d)", new="law = linear_cosine_law(d + 1)"),
    # GC.noise-identity; quick too
    Fault("flatstart.theory.noise.pairwise_identity_sides", "divisor N-1 for Sigma_N",
          old="np.sum((g - mean) ** 2) / n", new="np.sum((g - mean) ** 2) / (n - 1)"),
    # GC.minibatch-cosine and SP.snr-noise-scale; quick too
    Fault("flatstart.theory.noise.b_simple", "constant 10% off", old="t / g", new="1.1 * t / g"),
    # GC.minibatch-cosine (standard only)
    Fault("flatstart.theory.noise.two_batch_estimates", "1/B_big 10% off in the trace estimator",
          old="(1.0 / bs - 1.0 / bb)", new="(1.0 / bs - 0.9 / bb)"),
    # GC.width-depth; quick too
    Fault("flatstart.theory.ntk.arccos_kernel_derivative", "constant 10% off",
          old='_sigma_dot(_rho_array(rho, "rho"))', new='1.1 * _sigma_dot(_rho_array(rho, "rho"))'),
    # RW.hanin-jacobian (standard only; quick p = 0.025)
    Fault("flatstart.theory.wide.hanin_jacobian_moments", "constant 3 written 3.3",
          old="ez4 = 3 * prod / n0**2", new="ez4 = sp.Rational(33, 10) * prod / n0**2"),
    # RW.hanin-rolnick (standard only; quick p = 0.02)
    Fault("flatstart.theory.wide.hanin_rolnick_length_moments", "5/n written 5.5/n",
          old="prod *= 1 + sp.Rational(5, n)", new="prod *= 1 + sp.Rational(11, 2 * n)"),
    # RW.hanin-rolnick; quick too
    Fault("flatstart.theory.wide.hanin_rolnick_length_moments", "eta^2 10% off",
          old="prod *= 1 + sp.nsimplify(e) ** 2",
          new="prod *= 1 + sp.Rational(11, 10) * sp.nsimplify(e) ** 2"),
]
