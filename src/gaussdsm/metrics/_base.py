"""The record every metric is, and the arithmetic the two Kullback–Leibler metrics share.

Notation (theory.md §1, R7, R8): ``lam`` :math:`\\lambda_i` the data spectrum (the data covariance
:math:`\\Sigma = \\mathrm{diag}(\\lambda)` in its eigenbasis), ``F`` :math:`F_j` the variances of the sampled law, ``D``
:math:`D = F - \\lambda` the deviation a sampler's variance map computes without cancellation, ``D1``, ``D2`` its
first two derivatives (:mod:`gaussdsm.samplers._jet`).

The Kullback–Leibler divergences between centred Gaussians are sums of the convex function

.. math:: \\phi(x) = x - 1 - \\log x \\ge 0,\\qquad \\phi(x) = 0 \\iff x = 1,

evaluated on ratios of variances (Cover & Thomas, *Elements of Information Theory*, 2nd ed., §8.6, Ex. 8.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Metric", "phi", "phi_of_increment", "second_difference_sum", "spectral_parts", "kappa_of",
           "kl_full", "r8_weighted_sum"]

SERIES_BELOW = 1e-3
""":func:`phi_of_increment` uses its Taylor series for :math:`|r|` below this (error :math:`< r^8/8`)."""

CLOSE = 1e-4
"""Relative gap below which two eigenvalues use the Taylor forms of the divided differences (as
:data:`gaussdsm.theory.kernels.CLOSE`)."""

NUMPY_BLOCK_ELEMENTS = 2**18
""":func:`second_difference_sum` works on blocks of grid points of at most this many ``(point, i, k)`` elements."""


@dataclass(frozen=True)
class Metric:
    """One error metric between the sampled law :math:`\\mathcal N(0, C)` and the data law :math:`\\mathcal N(0, \\Sigma)`.

    Attributes
    ----------
    name : str
        Registry key (:data:`gaussdsm.metrics.METRICS`).
    long_name, symbol, units : str
        The NetCDF vocabulary of its values (axis labels, ``long_name``, ``units``).
    reference : str
        Where its formulas come from.
    per_mode : callable ``(a, b) -> (..., d)``
        Commuting covariances, variances ``a`` (sampled) and ``b`` (reference) in a common eigenbasis, shape
        ``(..., d)``: each mode's term.
    commuting : callable ``(a, b) -> (...)``
        The same summed over the modes.
    full : callable ``(C, Sigma) -> (...)``
        General covariances, shape ``(..., d, d)``.
    eig_to_diagonal : callable ``(U, F, lam) -> (...)``
        :math:`C = U\\mathrm{diag}(F)U^\\top` against :math:`\\mathrm{diag}(\\lambda)`, ``U (..., d, d)``, ``F (..., d)``.
    to_diagonal : callable ``(C, lam) -> (...)``
        General ``C (..., d, d)`` against :math:`\\mathrm{diag}(\\lambda)` (SGD scores' laws).
    bias : callable ``(lam, F, D) -> (...)``
        Commuting form at :math:`N = \\infty` from the deviation, without cancellation.
    generalization_sum : callable ``(lam, F, D, D1, D2, model, kappa) -> (...)``
        The 1/N coefficient of the expansion (multiply by 1/N).
    optimization_sum : callable ``(lam, sigma, gamma, tau, loss_factor, batch_size, model) -> (...)``
        The first-order SGD term (stationary ULA, R8's Lyapunov moments).
    singular_reason : callable ``(F, lam) -> str``
        Why the metric is infinite at these variances ('' where it is finite).
    """

    name: str
    long_name: str
    symbol: str
    units: str
    reference: str
    per_mode: Callable
    commuting: Callable
    full: Callable
    eig_to_diagonal: Callable
    to_diagonal: Callable
    bias: Callable
    generalization_sum: Callable
    optimization_sum: Callable
    singular_reason: Callable


def phi_of_increment(r) -> np.ndarray:
    """:math:`\\phi(1 + r) = r - \\log(1 + r)` without cancellation: the series
    :math:`r^2/2 - r^3/3 + r^4/4 - r^5/5 + r^6/6 - r^7/7` for :math:`|r| <` :data:`SERIES_BELOW`; ``inf`` at
    :math:`r = -1` (a zero variance) and for :math:`r = \\infty`.

    Parameters
    ----------
    r : array_like, shape ``(...)``, ``>= -1``

    Returns
    -------
    ndarray, shape ``(...)``, ``>= 0``
    """
    r = np.asarray(r, dtype=float)
    small = np.abs(r) < SERIES_BELOW
    rs = np.where(small, r, 0.0)
    series = rs * rs * (0.5 + rs * (-1.0 / 3 + rs * (0.25 + rs * (-0.2 + rs * (1.0 / 6 - rs / 7.0)))))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rl = np.where(small, 0.0, r)
        big = np.where(rl <= -1.0, np.inf, np.where(np.isinf(rl), np.inf, rl - np.log1p(np.maximum(rl, -1.0))))
    return np.where(small, series, big)


def phi(x) -> np.ndarray:
    """:math:`\\phi(x) = x - 1 - \\log x` (``inf`` at ``x = 0`` and ``x = inf``), through :func:`phi_of_increment`."""
    return phi_of_increment(np.asarray(x, dtype=float) - 1.0)


def kappa_of(model: str, kappa, d: int) -> np.ndarray:
    """R11's variance factor of the diagonal term (2, or the spectrum's for the ``fourier`` model)."""
    from ..theory.kernels import kappa_factors

    return kappa_factors(model, kappa, d)


def second_difference_sum(lam, parts, model: str = "full", kappa=None) -> np.ndarray:
    """:math:`\\sum_{ik}\\kappa_{ik}\\lambda_i\\lambda_k\\sum_p w^{(p)}_i H_p^{[2]}(\\lambda_i, \\lambda_k, \\lambda_i)`,
    the 1/N coefficient of :math:`\\mathbb E\\sum_i w_i H(\\hat\\Sigma)_{ii}` (second-order Daleckii–Krein).

    With :math:`\\hat\\Sigma = \\Sigma + E`, :math:`\\Sigma = \\mathrm{diag}(\\lambda)` and the Wishart moments
    :math:`\\mathbb E[E_{ij}E_{kl}] = (\\Sigma_{ik}\\Sigma_{jl} + \\Sigma_{il}\\Sigma_{jk})/N`,
    :math:`H(\\Sigma + E)_{ii} = H(\\lambda_i) + H'(\\lambda_i)E_{ii} + \\sum_k H^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i)
    E_{ik}^2 + O(E^3)`, so :math:`\\mathbb E H(\\hat\\Sigma)_{ii} = H(\\lambda_i) + \\frac1N\\sum_k(1 + \\delta_{ik})
    \\lambda_i\\lambda_k H^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i) + O(N^{-2})` (Daleckii & Krein 1965; Bhatia,
    *Matrix Analysis*, §V.3).  The diagonal models keep ``k = i`` with :math:`\\kappa_i` (R11: the delta method with
    :math:`\\mathrm{Var}\\,\\hat\\mu_i = \\kappa_i\\lambda_i^2/N`).  :math:`\\mathbb E\\,\\mathrm{tr}\\,H(\\hat\\Sigma)`
    is the case :math:`w = 1`.

    Divided differences: :math:`H^{[2]}(a, b, a) = (H^{[1]}(a, b) - H'(a))/(b - a)`, and for
    :math:`|b - a| \\le 10^{-4}\\max(a, b)` the Taylor form :math:`H''(a)/3 + H''(b)/6` (as
    :mod:`gaussdsm.theory.kernels`).

    Parameters
    ----------
    lam : ndarray, shape ``(d,)``, ``> 0``
    parts : list of ``(w, dH, ddH, first)``
        ``w, dH, ddH`` arrays of shape ``(P, d)`` (weight, :math:`H'`, :math:`H''` at :math:`\\lambda`);
        ``first(sl, rows, gap)`` returns :math:`H^{[1]}(\\lambda_i, \\lambda_k)` of shape ``(p, r, d)`` for the
        grid points ``sl``, the rows ``i`` in ``rows`` and ``gap = lam_k - lam_i`` of shape ``(r, d)`` (its value
        is used only where the gap is not small).  Memory: blocks of at most :data:`NUMPY_BLOCK_ELEMENTS`
        ``(point, i, k)`` elements (rows of one point at large d), O(d) per row.
    model : {'full', 'diagonal', 'fourier'}
    kappa : array_like, shape ``(d,)``, optional

    Returns
    -------
    ndarray, shape ``(P,)``
    """
    d = lam.size
    kap = kappa_of(model, kappa, d)
    P = parts[0][0].shape[0]
    if model != "full":  # k = i only: the Taylor form at a zero gap, H''/2
        return sum((kap * lam * lam * w * ddH * 0.5).sum(axis=-1) for w, _, ddH, _ in parts)
    out = np.zeros(P)
    # blocks of (points, rows i) of at most NUMPY_BLOCK_ELEMENTS (point, i, k) elements: O(d) memory per row
    rows_per = max(1, min(d, NUMPY_BLOCK_ELEMENTS // d))
    step = max(1, NUMPY_BLOCK_ELEMENTS // (rows_per * d))
    eye = np.eye(d, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for r0 in range(0, d, rows_per):
            rows = slice(r0, r0 + rows_per)
            li, lk = lam[rows, None], lam[None, :]
            gap = lk - li
            near = (np.abs(gap) <= CLOSE * np.maximum(li, lk)) | eye[rows]
            safe_gap = np.where(near, 1.0, gap)
            weight = li * lk * np.where(eye[rows], kap[rows, None], 1.0)
            for a in range(0, P, step):
                sl = slice(a, a + step)
                tot = 0.0
                for w, dH, ddH, first in parts:
                    taylor = ddH[sl, rows, None] / 3.0 + ddH[sl, None, :] / 6.0
                    h2 = np.where(near, taylor, (first(sl, rows, safe_gap) - dH[sl, rows, None]) / safe_gap)
                    tot = tot + w[sl, rows, None] * h2
                out[sl] += (weight * tot).sum(axis=(-2, -1))
    return out


def spectral_parts(lam, F, D, D1, D2):
    """Per-mode pieces for the three spectral functions the metrics need, flattened to ``(P, d)``.

    Returns a dict of ``(H', H'', first)`` for ``F`` (the variance map), ``log`` (:math:`\\log F`) and ``inv``
    (:math:`1/F`), with cancellation-free first divided differences:
    :math:`F^{[1]}(a,b) = 1 + (D_b - D_a)/(b - a)`,
    :math:`(\\log F)^{[1]}(a,b) = \\log(1 + (b - a)F^{[1]}/F_a)/(b - a)`,
    :math:`(1/F)^{[1]}(a,b) = -F^{[1]}(a,b)/(F_aF_b)`.
    """
    d = lam.size
    F, D, D1, D2 = (np.ascontiguousarray(np.broadcast_to(x, np.shape(F)).reshape(-1, d), dtype=float)
                    for x in (F, D, D1, D2))
    F1, F2 = 1.0 + D1, D2

    def f_first(sl, rows, gap):
        return 1.0 + (D[sl, None, :] - D[sl, rows, None]) / gap

    def log_first(sl, rows, gap):
        return np.log1p(gap * f_first(sl, rows, gap) / F[sl, rows, None]) / gap

    def inv_first(sl, rows, gap):
        return -f_first(sl, rows, gap) / (F[sl, rows, None] * F[sl, None, :])

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r1 = F1 / F
        out = {
            "F": (F1, F2, f_first),
            "log": (r1, F2 / F - r1 * r1, log_first),
            "inv": (-r1 / F, (-F2 + 2.0 * F1 * r1) / (F * F), inv_first),
        }
    return F, out


def kl_eig_to_diagonal(U, F, lam, sample_first: bool) -> np.ndarray:
    r"""KL between :math:`C = U\,\mathrm{diag}(F)\,U^\top` and :math:`\Sigma = \mathrm{diag}(\lambda)`, O(d²), every term
    non-negative: :math:`\frac12\sum_{ij}U_{ij}^2\phi(F_j/\lambda_i)` (``sample_first``: KL(C ‖ Σ)) or
    :math:`\frac12\sum_{ij}U_{ij}^2\phi(\lambda_i/F_j)` (KL(Σ ‖ C)); inf for a singular covariance.  ``U (..., d, d)``,
    ``F (..., d)``, ``lam (d,)``."""
    U = np.asarray(U, dtype=float)
    F = np.asarray(F, dtype=float)
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if sample_first:
            x = np.where(lam[:, None] > 0, F[..., None, :] / np.where(lam > 0, lam, 1.0)[:, None], np.inf)
        else:
            x = np.where((F[..., None, :] > 0) & (lam[:, None] > 0),
                         lam[:, None] / np.where(F > 0, F, 1.0)[..., None, :], np.inf)
    U2 = U * U
    with np.errstate(invalid="ignore"):
        val = 0.5 * np.where(U2 > 0, U2 * phi(x), 0.0).sum(axis=(-2, -1))
    return np.where(np.any(F <= 0, axis=-1) | np.any(lam <= 0), np.inf, val)  # a singular covariance: inf


def kl_full(C1, C2) -> np.ndarray:
    """:math:`\\mathrm{KL}(\\mathcal N(0, C_1)\\,\\|\\,\\mathcal N(0, C_2)) = \\frac12\\big[\\mathrm{tr}(C_2^{-1}C_1) - d
    - \\log\\det(C_2^{-1}C_1)\\big] = \\frac12\\sum_j\\phi(m_j)`, :math:`m_j` the eigenvalues of
    :math:`C_2^{-1/2}C_1C_2^{-1/2}` (``eigh`` of :math:`C_2`, then ``eigvalsh``: every term is
    :math:`\\ge 0`, no cancellation of log-determinants).

    Parameters
    ----------
    C1, C2 : array_like, shape ``(..., d, d)``
        Symmetric PSD (the symmetric part is used); leading axes broadcast.

    Returns
    -------
    ndarray, shape ``(...)``
        ``inf`` where :math:`C_2` or :math:`C_1` is singular (an eigenvalue at most :math:`d\\,\\epsilon` times the
        largest: numerically singular).
    """
    C1 = np.asarray(C1, dtype=float)
    C2 = np.asarray(C2, dtype=float)
    C1 = 0.5 * (C1 + np.swapaxes(C1, -1, -2))
    C2 = 0.5 * (C2 + np.swapaxes(C2, -1, -2))
    d = C1.shape[-1]
    tol = d * np.finfo(float).eps
    s, V = np.linalg.eigh(C2)
    sing2 = s[..., 0] <= tol * np.abs(s).max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        W = V / np.sqrt(np.where(s > 0, s, 1.0))[..., None, :]
        m = np.linalg.eigvalsh(np.swapaxes(W, -1, -2) @ C1 @ W)
    sing1 = m[..., 0] <= tol * np.abs(m).max(axis=-1)
    val = 0.5 * phi(np.clip(m, 0.0, None)).sum(axis=-1)
    return np.where(sing1 | sing2, np.inf, val)


def r8_weighted_sum(lam, sigma, gamma, tau, loss_factor, batch_size, model, w_c2, w_c1,
                    max_elements: int = 1 << 20) -> np.ndarray:
    """:math:`\\sum_{ik}w^{(2)}_i\\,[\\text{term } k \\text{ of } \\mathbb E(C_2)_{ii}] + \\sum_{ik}w^{(1)}_{ik}\\,
    \\mathbb E[(C_1)_{ik}^2]`: a metric's second-order expansion in the Lyapunov perturbation
    :math:`C = C_0 + C_1 + C_2` of R8 (stationary ULA, SGD step :math:`\\tau`), with R8's moments
    (:func:`gaussdsm.theory.langevin.r8_moments`: O(d) per point for the diagonal model, d x d arrays per point for the
    full one, in blocks of at most ``max_elements`` entries).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, gamma, tau : float or 1-D array_like (broadcast together)
    w_c2 : callable ``(lam, c) -> (..., d)``
    w_c1 : callable ``(lam_i, c_i, c_k) -> (..., d, d)`` (called with ``lam[:, None], c[..., :, None],
        c[..., None, :]``; for the diagonal model with ``lam, c, c``, shape ``(..., d)``)

    Returns
    -------
    ndarray, the broadcast shape: 0 where ``tau = 0``, ``inf`` at ``sigma = 0 < tau``, ``nan`` where SGD or ULA is
    unstable.
    """
    from ..theory.langevin import r8_moments, r8_moments_diagonal

    lam = np.asarray(lam, dtype=float)
    shape = np.broadcast(np.asarray(sigma), np.asarray(gamma), np.asarray(tau)).shape
    sg, g, t = (np.ravel(x) for x in np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                                             for x in (sigma, gamma, tau))))
    out = np.zeros(sg.shape)
    out[(t > 0) & (sg == 0)] = np.inf
    idx = np.flatnonzero((t > 0) & (sg > 0))
    d = lam.size
    step = max(1, max_elements // (d if model != "full" else d * d))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(0, idx.size, step):
            sl = idx[j:j + step]
            if model == "full":
                _, c, c1sq, c2, _ = r8_moments(lam, sg[sl], g[sl], t[sl], loss_factor, batch_size, "full")
                val = (w_c2(lam, c)[..., :, None] * c2).sum((-2, -1)) + (
                    w_c1(lam[:, None], c[..., :, None], c[..., None, :]) * c1sq).sum((-2, -1))
            else:
                _, c, c1sq, c2, _ = r8_moments_diagonal(lam, sg[sl], g[sl], t[sl], loss_factor, batch_size)
                val = (w_c2(lam, c) * c2 + w_c1(lam, c, c) * c1sq).sum(-1)
            out[sl] = val
    return out.reshape(shape)
