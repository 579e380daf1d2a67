"""The squared Wasserstein-2 distance :math:`W_2^2` (theory.md R1, R5, R7, R8): the registry's wrapper of
:mod:`gaussdsm.wasserstein` and the theory's kernels, bitwise the numbers the pipeline has always produced.

* commuting: :math:`W_2^2 = \\sum_i(\\sqrt{F_i} - \\sqrt{\\lambda_i})^2`;
* full: :math:`\\mathrm{tr}\\,C + \\mathrm{tr}\\,\\Sigma - 2\\,\\mathrm{tr}(\\Sigma^{1/2}C\\Sigma^{1/2})^{1/2}`
  (:func:`gaussdsm.wasserstein.w2_squared`);
* bias :math:`\\sum_i D_i^2/(\\sqrt{F_i} + \\sqrt{\\lambda_i})^2`; generalization :math:`\\sum_{ik}K_F(i,k)` (R7 with
  f -> F, :func:`gaussdsm.theory.kernels.kernel_sums`); optimization :math:`\\sum_{ik}K_\\tau(i,k)` (R8,
  :func:`gaussdsm.theory.optimization_sum`).
"""

from __future__ import annotations

import numpy as np

from .. import wasserstein
from ._base import Metric

__all__ = ["METRIC"]


def per_mode(a, b) -> np.ndarray:
    """:math:`(\\sqrt{a_i} - \\sqrt{b_i})^2 = (a_i - b_i)^2/(\\sqrt{a_i} + \\sqrt{b_i})^2` per mode, shape ``(..., d)``
    (0 where both are 0); summed: :func:`gaussdsm.wasserstein.w2_squared_commuting`."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    den = (np.sqrt(a) + np.sqrt(b)) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a - b) ** 2 / np.where(den > 0, den, 1.0), 0.0)


def _bias(lam, F, D):
    from ..theory.kernels import bias  # lazily: the registry imports light (the command line builds its choices from it)

    return bias(lam, F, D)


def _generalization_sum(lam, F, D, D1, D2, model="full", kappa=None):
    from ..theory.kernels import kernel_sums

    return kernel_sums(lam, F, D, D1, D2, model, kappa)


def _optimization_sum(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model="full"):
    from ..theory.langevin import optimization_sum

    return optimization_sum(lam, sigma, gamma, tau, loss_factor, batch_size, model)


def _singular_reason(F, lam) -> str:
    return ""  # W2 is finite for every pair of PSD covariances


METRIC = Metric(
    name="w2",
    long_name="squared Wasserstein-2 error",
    symbol="W_2^2",
    units="1",
    reference="theory.md R1 (Dowson & Landau 1982; Givens & Shortt 1984), R5, R7, R8",
    per_mode=per_mode,
    commuting=wasserstein.w2_squared_commuting,
    full=wasserstein.w2_squared,
    eig_to_diagonal=wasserstein.w2_squared_eig_to_diagonal,
    to_diagonal=wasserstein.w2_squared_to_diagonal,
    bias=_bias,
    generalization_sum=_generalization_sum,
    optimization_sum=_optimization_sum,
    singular_reason=_singular_reason,
)
