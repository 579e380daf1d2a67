"""Kullback–Leibler divergence of the sampled law from the data law, :math:`\\mathrm{KL}(\\mathcal N(0,C)\\,\\|\\,
\\mathcal N(0,\\Sigma))` (Cover & Thomas, *Elements of Information Theory*, 2nd ed., Ex. 8.9).

With :math:`\\phi(x) = x - 1 - \\log x` (:func:`gaussdsm.metrics._base.phi`) and :math:`\\Sigma = \\mathrm{diag}(\\lambda)`:

* commuting (variances :math:`F_i` against :math:`\\lambda_i`): :math:`\\frac12\\sum_i\\phi(F_i/\\lambda_i)
  = \\frac12\\sum_i(F_i/\\lambda_i - 1 - \\log(F_i/\\lambda_i))`;
* full: :math:`\\frac12[\\mathrm{tr}(\\Sigma^{-1}C) - d - \\log\\det C + \\log\\det\\Sigma]`
  (:func:`gaussdsm.metrics._base.kl_full`);
* eigen form :math:`C = U\\mathrm{diag}(F)U^\\top`: :math:`\\mathrm{tr}(\\Sigma^{-1}C) = \\sum_{ij}U_{ij}^2F_j/\\lambda_i`,
  :math:`\\log\\det C = \\sum_j\\log F_j`; as :math:`\\sum_iU_{ij}^2 = \\sum_jU_{ij}^2 = 1`, the value is
  :math:`\\frac12\\sum_{ij}U_{ij}^2\\phi(F_j/\\lambda_i)`, a sum of non-negative terms (O(d²), no eigensolver).

First-order expansion (C = F(Σ̂) for an exact fit, F the sampler's variance map; :math:`F_i = F(\\lambda_i)`):

* bias: :math:`\\frac12\\sum_i\\phi(F_i/\\lambda_i)`, evaluated as :math:`\\phi(1 + D_i/\\lambda_i)`;
* generalization (:math:`\\times 1/N`): :math:`\\frac12\\sum_{ik}\\kappa_{ik}\\lambda_i\\lambda_k\\big[\\lambda_i^{-1}
  F^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i) - (\\log F)^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i)\\big]`, from
  :math:`\\mathbb E\\,\\mathrm{tr}(\\Sigma^{-1}F(\\hat\\Sigma))` and :math:`\\mathbb E\\,\\mathrm{tr}\\log F(\\hat\\Sigma)`
  to second order in :math:`E = \\hat\\Sigma - \\Sigma` (Daleckii–Krein with the Wishart moments,
  :func:`gaussdsm.metrics._base.second_difference_sum`); :math:`\\kappa_{ik} = 1 + \\delta_{ik}` (full model), only
  :math:`k = i` with :math:`\\kappa_i` for the diagonal/fourier models (the delta method, :math:`\\mathrm{Var}
  \\hat\\mu_i = \\kappa_i\\lambda_i^2/N`);
* optimization (stationary ULA, SGD step τ, R8's moments with :math:`c_i` R4's variance):
  :math:`\\frac12\\sum_i(\\lambda_i^{-1} - c_i^{-1})\\mathbb E(C_2)_{ii} + \\frac14\\sum_{ik}
  \\mathbb E[(C_1)_{ik}^2]/(c_ic_k)` (second order of :math:`\\mathrm{tr}(\\Sigma^{-1}C) - \\log\\det C` around
  :math:`C_0 = \\mathrm{diag}(c)`).

Infinite (``inf``, never NaN) if a data variance or a sampled variance is 0 (:attr:`Metric.singular_reason`).
"""

from __future__ import annotations

import numpy as np

from ._base import Metric, kl_eig_to_diagonal, kl_full, phi_of_increment, r8_weighted_sum, second_difference_sum, spectral_parts

__all__ = ["METRIC", "per_mode", "commuting", "eig_to_diagonal", "to_diagonal", "bias", "generalization_sum",
           "optimization_sum"]


def per_mode(a, b) -> np.ndarray:
    """:math:`\\frac12\\phi(a_i/b_i)` per mode, sampled variances ``a`` against reference ``b``, shape ``(..., d)``;
    ``inf`` where ``b_i = 0`` or ``a_i = 0``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b > 0, (a - b) / np.where(b > 0, b, 1.0), np.inf)
    return 0.5 * phi_of_increment(r)


def commuting(a, b) -> np.ndarray:
    """:math:`\\frac12\\sum_i\\phi(a_i/b_i)` (:func:`per_mode` summed), shape ``(..., d)`` -> ``(...)``."""
    return per_mode(a, b).sum(axis=-1)


def full(C, Sigma) -> np.ndarray:
    """:math:`\\mathrm{KL}(\\mathcal N(0,C)\\,\\|\\,\\mathcal N(0,\\Sigma))`, ``(..., d, d)`` -> ``(...)``."""
    return kl_full(C, Sigma)


def eig_to_diagonal(U, F, lam) -> np.ndarray:
    """:math:`\\frac12\\sum_{ij}U_{ij}^2\\phi(F_j/\\lambda_i)`: ``U (..., d, d)``, ``F (..., d)``, ``lam (d,)``."""
    return kl_eig_to_diagonal(U, F, lam, sample_first=True)


def to_diagonal(C, lam) -> np.ndarray:
    """A general ``C (..., d, d)`` against :math:`\\mathrm{diag}(\\lambda)`: :func:`full`."""
    lam = np.asarray(lam, dtype=float)
    return kl_full(C, np.diag(lam))


def bias(lam, F, D) -> np.ndarray:
    """:math:`\\frac12\\sum_i\\phi(1 + D_i/\\lambda_i)` over the last axis."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(lam > 0, D / np.where(lam > 0, lam, 1.0), np.inf)
    return 0.5 * phi_of_increment(r).sum(axis=-1)


def generalization_sum(lam, F, D, D1, D2, model="full", kappa=None) -> np.ndarray:
    """The 1/N coefficient (module docstring), shape of ``F`` without its last axis."""
    lam = np.asarray(lam, dtype=float)
    shape = np.shape(F)[:-1]
    if np.any(lam <= 0):
        return np.full(shape, np.inf)
    Ff, p = spectral_parts(lam, F, D, D1, D2)
    one = np.ones_like(Ff)
    parts = [(one / lam, *p["F"]), (-one, *p["log"])]
    return 0.5 * second_difference_sum(lam, parts, model, kappa).reshape(shape)


def optimization_sum(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model="full") -> np.ndarray:
    """The first-order SGD term (module docstring), broadcast over ``sigma, gamma, tau``."""
    lam = np.asarray(lam, dtype=float)
    return r8_weighted_sum(lam, sigma, gamma, tau, loss_factor, batch_size, model,
                           lambda lam, c: 0.5 * (c - lam) / (lam * c),
                           lambda li, ci, ck: 0.25 / (ci * ck))


def singular_reason(F, lam) -> str:
    """Why the divergence is infinite at these variances ('' if finite)."""
    if np.any(np.asarray(lam) <= 0):
        return "KL(sample || data) is infinite: the data covariance is singular (a zero eigenvalue)"
    if np.any(np.asarray(F) <= 0):
        return "KL(sample || data) is infinite: the sampled covariance is singular (a zero variance)"
    return ""


METRIC = Metric(
    name="kl_sample_data",
    long_name="Kullback-Leibler divergence KL(sampled || data)",
    symbol="KL(C || Sigma)",
    units="1",
    reference="Cover & Thomas, Elements of Information Theory (2006), Ex. 8.9; Daleckii & Krein (1965)",
    per_mode=per_mode, commuting=commuting, full=full, eig_to_diagonal=eig_to_diagonal, to_diagonal=to_diagonal, bias=bias,
    generalization_sum=generalization_sum, optimization_sum=optimization_sum, singular_reason=singular_reason,
)
