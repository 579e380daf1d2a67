"""Where the first-order expansion holds (``in_regime``, theory.md §7.2): an estimate of the term it neglects.

The expansion is the delta method to second order in the fluctuation of the sample covariance: per mode,
:math:`g(\\hat\\mu) = \\sqrt{F(\\hat\\mu)}` around :math:`\\mu = \\lambda_i`, with
:math:`\\mathbb E\\,\\delta_i^2 = \\nu_i/N` the variance the mode's learned score sees.  The first neglected order is
:math:`O(1/N^2)`; its part computable from the same :math:`F, F', F''` is the square of the quadratic term,

.. math::

    \\texttt{second\\_order} = \\frac{1}{N^2}\\sum_{i:\\,\\lambda_i > 0} \\tfrac34\\,\\nu_i^2\\,g''(\\lambda_i)^2,
    \\qquad g'' = \\frac{F''}{2\\sqrt F} - \\frac{F'^2}{4F^{3/2}},

with :math:`\\nu_i = \\lambda_i(\\lambda_i + \\operatorname{tr}\\Sigma)` for the full model (a column of the sample
covariance: the mode's own variance and its couplings to every other mode, :math:`\\mathbb E\\,\\hat\\Sigma_{ik}^2 - \\Sigma_{ik}^2 =
\\lambda_i\\lambda_k/N` for :math:`i \\ne k`) and :math:`\\nu_i = \\kappa_i\\lambda_i^2` for the diagonal models (R11).
Modes of zero variance never fluctuate and contribute nothing (a spectrum with zeros is not penalised for them).

In d = 1 with :math:`F(\\mu) = \\mu` the exact error is :math:`\\lambda/(2N) - \\lambda/(16N^2) + O(N^{-3})` and the
estimate :math:`3\\lambda/(16N^2)`: three times the true second order (``ESTIMATE_OVERSHOOT``); against Monte Carlo it
overshoots by 3-10.  Hence ``in_regime``: ``valid`` and ``second_order <= ESTIMATE_OVERSHOOT * REGIME_TOL * total``
(and, with SGD, :math:`c_\\ell\\tau/\\sigma^2 \\le` ``REGIME_TAU``), and what it promises: inside, the first-order
total is within ``REGIME_TOL`` = 10 % of the exact error (checked against exact Monte Carlo on sweeps in N, with no
point flagged outside where the Monte Carlo agrees to |z| <= 2: ``tests/unit/test_regime.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["REGIME_TOL", "ESTIMATE_OVERSHOOT", "REGIME_BOUND", "REGIME_TAU", "second_order_coefficient",
           "fluctuation"]

REGIME_TOL = 0.1
"""Inside the regime the first-order total is within this fraction of the exact error (the promise)."""
ESTIMATE_OVERSHOOT = 3.0
"""``second_order`` / the true O(1/N^2) term in d = 1 (exact; 3-10 measured in higher d)."""
REGIME_BOUND = ESTIMATE_OVERSHOOT * REGIME_TOL
"""``in_regime`` needs ``second_order <= REGIME_BOUND * total`` (0.3)."""
REGIME_TAU = 0.01
"""``in_regime`` needs c tau / sigma^2 <= REGIME_TAU (R8 within ~5 %, theory.md §7.2 note 6)."""


def fluctuation(lam, model: str, kappa=None) -> np.ndarray:
    """:math:`\\nu_i = N\\,\\mathbb E\\,\\delta_i^2`, shape ``(d,)``: :math:`\\lambda_i(\\lambda_i + \\operatorname{tr}\\Sigma)`
    (full model), :math:`\\kappa_i\\lambda_i^2` (diagonal models; ``kappa`` the spectrum's R11 factors, default 2)."""
    lam = np.asarray(lam, dtype=float)
    if model == "full":
        return lam * (lam + lam.sum())
    k = 2.0 if kappa is None or model != "fourier" else np.asarray(kappa, dtype=float)
    return k * lam**2


def second_order_coefficient(lam, F, D1, D2, model: str, kappa=None) -> np.ndarray:
    """:math:`N^2\\,\\texttt{second\\_order}` (module docstring) from the variance map per mode: ``F`` and the
    deviation's derivatives ``D1`` :math:`= F' - 1`, ``D2`` :math:`= F''` (shape ``B + (d,)``); shape ``B``."""
    lam = np.asarray(lam, dtype=float)
    nu = fluctuation(lam, model, kappa)
    Fp, Fpp = 1.0 + np.asarray(D1), np.asarray(D2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sF = np.sqrt(F)
        gpp = Fpp / (2.0 * sF) - Fp**2 / (4.0 * F * sF)
        term = np.where(lam > 0, 0.75 * nu**2 * gpp**2, 0.0)
    return term.sum(axis=-1)
