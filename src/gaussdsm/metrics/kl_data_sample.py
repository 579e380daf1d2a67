"""Kullback–Leibler divergence of the data law from the sampled law, :math:`\\mathrm{KL}(\\mathcal N(0,\\Sigma)\\,\\|\\,
\\mathcal N(0,C))` (Cover & Thomas, *Elements of Information Theory*, 2nd ed., Ex. 8.9).

With :math:`\\phi(x) = x - 1 - \\log x` (:func:`gaussdsm.metrics._base.phi`) and :math:`\\Sigma = \\mathrm{diag}(\\lambda)`:

* commuting: :math:`\\frac12\\sum_i\\phi(\\lambda_i/F_i) = \\frac12\\sum_i(\\lambda_i/F_i - 1 - \\log(\\lambda_i/F_i))`;
* full: :math:`\\frac12[\\mathrm{tr}(C^{-1}\\Sigma) - d + \\log\\det C - \\log\\det\\Sigma]`
  (:func:`gaussdsm.metrics._base.kl_full` with the arguments swapped);
* eigen form :math:`C = U\\mathrm{diag}(F)U^\\top`: :math:`\\mathrm{tr}(C^{-1}\\Sigma) = \\sum_{ij}U_{ij}^2\\lambda_i/F_j`,
  so the value is :math:`\\frac12\\sum_{ij}U_{ij}^2\\phi(\\lambda_i/F_j)` (non-negative terms).

First-order expansion (C = F(Σ̂), :math:`G = 1/F`):

* bias: :math:`\\frac12\\sum_i\\phi(\\lambda_i/F_i)`, evaluated as :math:`\\phi(1 - D_i/F_i)`;
* generalization (:math:`\\times 1/N`): :math:`\\frac12\\sum_{ik}\\kappa_{ik}\\lambda_i\\lambda_k\\big[\\lambda_i
  G^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i) + (\\log F)^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i)\\big]` (from
  :math:`\\mathbb E\\,\\mathrm{tr}(\\Sigma G(\\hat\\Sigma))` and :math:`\\mathbb E\\,\\mathrm{tr}\\log F(\\hat\\Sigma)`;
  :math:`\\kappa` as in :mod:`gaussdsm.metrics.kl_sample_data`);
* optimization (stationary ULA, R8's moments): :math:`\\frac12\\sum_i(c_i^{-1} - \\lambda_ic_i^{-2})
  \\mathbb E(C_2)_{ii} + \\frac12\\sum_{ik}\\big(\\lambda_i/(c_i^2c_k) - 1/(2c_ic_k)\\big)\\mathbb E[(C_1)_{ik}^2]`
  (second order of :math:`\\mathrm{tr}(\\Sigma C^{-1}) + \\log\\det C`, with
  :math:`C^{-1} = C_0^{-1} - C_0^{-1}\\delta C\\,C_0^{-1} + C_0^{-1}\\delta C\\,C_0^{-1}\\delta C\\,C_0^{-1} + \\dots`).

Infinite (``inf``, never NaN) if a data variance or a sampled variance is 0.
"""

from __future__ import annotations

import numpy as np

from ._base import Metric, kl_eig_to_diagonal, kl_full, phi_of_increment, r8_weighted_sum, second_difference_sum, spectral_parts

__all__ = ["METRIC", "per_mode", "commuting", "eig_to_diagonal", "to_diagonal", "bias", "generalization_sum",
           "optimization_sum"]


def per_mode(a, b) -> np.ndarray:
    """:math:`\\frac12\\phi(b_i/a_i)` per mode, sampled variances ``a`` against reference ``b``, shape ``(..., d)``;
    ``inf`` where ``a_i = 0`` or ``b_i = 0``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((a > 0) & (b > 0), (b - a) / np.where(a > 0, a, 1.0), np.inf)
    return 0.5 * phi_of_increment(r)


def commuting(a, b) -> np.ndarray:
    """:math:`\\frac12\\sum_i\\phi(b_i/a_i)` (:func:`per_mode` summed), shape ``(..., d)`` -> ``(...)``."""
    return per_mode(a, b).sum(axis=-1)


def full(C, Sigma) -> np.ndarray:
    """:math:`\\mathrm{KL}(\\mathcal N(0,\\Sigma)\\,\\|\\,\\mathcal N(0,C))`, ``(..., d, d)`` -> ``(...)``."""
    return kl_full(Sigma, C)


def eig_to_diagonal(U, F, lam) -> np.ndarray:
    """:math:`\\frac12\\sum_{ij}U_{ij}^2\\phi(\\lambda_i/F_j)`: ``U (..., d, d)``, ``F (..., d)``, ``lam (d,)``."""
    return kl_eig_to_diagonal(U, F, lam, sample_first=False)


def to_diagonal(C, lam) -> np.ndarray:
    """A general ``C (..., d, d)`` against :math:`\\mathrm{diag}(\\lambda)`: :func:`full`."""
    return kl_full(np.diag(np.asarray(lam, dtype=float)), C)


def bias(lam, F, D) -> np.ndarray:
    """:math:`\\frac12\\sum_i\\phi(1 - D_i/F_i)` over the last axis."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((F > 0) & (lam > 0), -D / np.where(F > 0, F, 1.0), np.inf)
    return 0.5 * phi_of_increment(r).sum(axis=-1)


def generalization_sum(lam, F, D, D1, D2, model="full", kappa=None) -> np.ndarray:
    """The 1/N coefficient (module docstring), shape of ``F`` without its last axis."""
    lam = np.asarray(lam, dtype=float)
    shape = np.shape(F)[:-1]
    if np.any(lam <= 0):
        return np.full(shape, np.inf)
    Ff, p = spectral_parts(lam, F, D, D1, D2)
    one = np.ones_like(Ff)
    parts = [(one * lam, *p["inv"]), (one, *p["log"])]
    return 0.5 * second_difference_sum(lam, parts, model, kappa).reshape(shape)


def optimization_sum(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model="full") -> np.ndarray:
    """The first-order SGD term (module docstring), broadcast over ``sigma, gamma, tau``."""
    lam = np.asarray(lam, dtype=float)
    return r8_weighted_sum(lam, sigma, gamma, tau, loss_factor, batch_size, model,
                           lambda lam, c: 0.5 * (c - lam) / (c * c),
                           lambda li, ci, ck: 0.5 * (li / (ci * ci * ck) - 0.5 / (ci * ck)))


def singular_reason(F, lam) -> str:
    """Why the divergence is infinite at these variances ('' if finite)."""
    if np.any(np.asarray(F) <= 0):
        return "KL(data || sample) is infinite: the sampled covariance is singular (a zero variance)"
    if np.any(np.asarray(lam) <= 0):
        return "KL(data || sample) is infinite: the data covariance is singular (a zero eigenvalue)"
    return ""


METRIC = Metric(
    name="kl_data_sample",
    long_name="Kullback-Leibler divergence KL(data || sampled)",
    symbol="KL(Sigma || C)",
    units="1",
    reference="Cover & Thomas, Elements of Information Theory (2006), Ex. 8.9; Daleckii & Krein (1965)",
    per_mode=per_mode, commuting=commuting, full=full, eig_to_diagonal=eig_to_diagonal, to_diagonal=to_diagonal, bias=bias,
    generalization_sum=generalization_sum, optimization_sum=optimization_sum, singular_reason=singular_reason,
)
