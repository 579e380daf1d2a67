"""Closed forms for the stationary ULA with the population score (theory.md R4, R5, R6, R7, R8, R11).

R5/R7 here are the analytic special case of the generic sampler kernel (:mod:`gaussdsm.theory.kernels`) that the
tests check it against; R6/R8 (the SGD term) are derived for stationary ULA only.

Notation (theory.md §1, §3, with the renamings of §7.3 note 16):

* ``lam`` :math:`\\lambda_i` data eigenvalues (``>= 0``), ``sigma`` noise amplitude, ``gamma`` ULA step, ``tau`` SGD
  step, ``loss_factor`` :math:`c_\\ell`, ``batch_size`` :math:`B`;
* :math:`s_i = \\lambda_i + \\sigma^2`, :math:`h = \\gamma/2`, :math:`\\tilde u_i = s_i - h`;
* :math:`c_i = s_i^2/\\tilde u_i` the stationary ULA variance of mode i with the population score (R4);
* :math:`a_i = 1/s_i`, :math:`b_i = 1 - \\gamma a_i` (R8 only).

Kernels are ``(..., d, d)`` arrays indexed ``[i, k]``; they are not symmetric in ``(i, k)`` (§7.3 note 12).
Terms whose factor :math:`\\lambda_i\\lambda_k` is 0 (zero eigenvalues) are 0 (their limit), not NaN.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks

__all__ = [
    "optimization_sum",
    "R8_COMPILED_MIN_D",
    "R8_MODELS",
    "mode_variance",
    "bias_ula",
    "kernel_generalization_ula",
    "sgd_entry_variance",
    "sgd_is_stable",
    "kernel_optimization",
    "r8_moments",
    "r8_moments_diagonal",
]

R8_MODELS = ("full", "diagonal")


def _prep(lam, sigma, gamma):
    """Broadcast ``lam (d,)`` against parameter arrays; return per-mode arrays ``(..., d)``."""
    lam = _checks.spectrum(lam, allow_zero=True)
    sigma = np.asarray(sigma, dtype=float)[..., None]
    gamma = np.asarray(gamma, dtype=float)[..., None]
    if np.any(sigma < 0) or np.any(gamma < 0):
        raise ValueError("sigma and gamma must be >= 0")
    s = lam + sigma**2
    h = 0.5 * gamma
    ut = s - h
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(ut > 0, s**2 / np.where(ut > 0, ut, 1.0), np.nan)
    return lam, s, h, ut, c


def mode_variance(lam, sigma, gamma) -> np.ndarray:
    """Stationary ULA variance per mode with the population score (R4/R5).

    .. math:: c_i = \\frac{(\\lambda_i + \\sigma^2)^2}{\\lambda_i + \\sigma^2 - \\gamma/2}

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, gamma : float or array_like, shape ``(...)``

    Returns
    -------
    c : ndarray, shape ``(..., d)``; ``nan`` where :math:`\\gamma \\ge 2(\\lambda_i+\\sigma^2)`.
    """
    return _prep(lam, sigma, gamma)[4]


def _one_minus_sqrt_ratio(lam, c):
    # 1 - sqrt(lam/c) = (c - lam) / (c + sqrt(lam c)), without cancellation
    return (c - lam) / (c + np.sqrt(lam * c))


def bias_ula(lam, sigma, gamma) -> np.ndarray:
    """Bias error (noise + discretization) at :math:`N = \\infty`, :math:`\\tau \\to 0` (R5).

    .. math:: \\mathcal B(\\sigma, \\gamma) = \\sum_i (\\sqrt{c_i} - \\sqrt{\\lambda_i})^2
              = \\sum_i \\frac{(c_i - \\lambda_i)^2}{(\\sqrt{c_i} + \\sqrt{\\lambda_i})^2},
              \\qquad c_i - \\lambda_i = \\sigma^2 + h + \\frac{h^2}{\\tilde u_i}

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, gamma : float or array_like, shape ``(...)``

    Returns
    -------
    bias : ndarray, shape ``(...)``; ``nan`` where the population chain is unstable.
    """
    lam, s, h, ut, c = _prep(lam, sigma, gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = (s - lam) + h + h**2 / ut
        out = (diff**2 / (np.sqrt(c) + np.sqrt(lam)) ** 2).sum(axis=-1)
    return np.where(np.all(ut > 0, axis=-1), out, np.nan)


def kernel_generalization_ula(lam, sigma, gamma, model: str = "full") -> np.ndarray:
    """Generalization kernel :math:`K_N(\\lambda_i, \\lambda_k)` of R7 (full model) or R11 (diagonal).

    .. math::

        K_N(i,k) = (1+\\delta_{ik})\\lambda_i\\lambda_k\\Big[
           \\Big(1-\\sqrt{\\tfrac{\\lambda_i}{c_i}}\\Big)\\frac{h^2}{\\tilde u_i^2\\tilde u_k}
           + \\sqrt{\\tfrac{\\lambda_i\\lambda_k}{c_ic_k}}\\,
             \\frac{(1-h^2/(\\tilde u_i\\tilde u_k))^2}{2(\\sqrt{\\lambda_ic_i}+\\sqrt{\\lambda_kc_k})}\\Big]

    so that :math:`\\mathbb E W_2^2 = \\mathcal B + \\frac1N\\sum_{i,k}K_N(i,k) + O(N^{-2})`.
    For ``model='diagonal'`` (R11, real eigenbasis, :math:`\\kappa_i = 2`) only the
    diagonal :math:`K_N(i,i)` remains: no cross-frequency terms.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, gamma : float or array_like, shape ``(...)``
    model : {'full', 'diagonal'}

    Returns
    -------
    K : ndarray, shape ``(..., d, d)``
    """
    _checks.choice("model", model, R8_MODELS)
    lam, s, h, ut, c = _prep(lam, sigma, gamma)
    li, lk = lam[:, None], lam[None, :]
    ci, ck = c[..., :, None], c[..., None, :]
    ui, uk = ut[..., :, None], ut[..., None, :]
    hh = h[..., None] ** 2
    d = lam.size
    delta = np.eye(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = _one_minus_sqrt_ratio(li, ci) * hh / (ui**2 * uk)
        t1 = (
            np.sqrt(li * lk / (ci * ck))
            * (1.0 - hh / (ui * uk)) ** 2
            / (2.0 * (np.sqrt(li * ci) + np.sqrt(lk * ck)))
        )
        K = np.where(li * lk > 0, (1.0 + delta) * li * lk * (t2 + t1), 0.0)
    if model == "diagonal":
        K = K * delta
    return K


def sgd_is_stable(lam, sigma, tau, loss_factor=1.0, batch_size=1, model: str = "full") -> np.ndarray:
    """Whether constant-step SGD on the DSM loss has finite stationary second moments (R6b, §7.1).

    Full model, :math:`\\tau' = c_\\ell\\tau`:
    :math:`\\tau'(1+1/B)s_{\\max} < 1` and :math:`\\tau' S_B/B < 1` with
    :math:`S_B = \\sum_j s_j/(1-\\tau'(1+1/B)s_j)`.
    Diagonal model: :math:`(B+2)\\tau' s_{\\max} < B`.

    Returns
    -------
    stable : ndarray of bool, shape of the broadcast ``sigma``/``tau``.
    """
    lam = np.asarray(lam, dtype=float)
    s = lam + np.asarray(sigma, dtype=float)[..., None] ** 2
    tp = (loss_factor * np.asarray(tau, dtype=float))[..., None]
    B = float(batch_size)
    if model == "diagonal":
        return np.all((B + 2.0) * tp * s < B, axis=-1)
    k = tp * (1.0 + 1.0 / B) * s
    with np.errstate(divide="ignore", invalid="ignore"):
        S_B = np.where(k < 1, s / (1.0 - k), np.inf).sum(axis=-1)
    return np.all(k < 1, axis=-1) & (tp[..., 0] * S_B / B < 1)


def sgd_entry_variance(lam, sigma, tau, loss_factor=1.0, batch_size=1, model: str = "full") -> np.ndarray:
    """Stationary variance of the SGD denoiser entries, :math:`q_{ik} = \\mathrm{Var}(\\Delta_{ik})` (R6b, §7.1).

    Population sampling, :math:`\\tau' = c_\\ell\\tau`, :math:`\\rho_i = \\sigma^2\\lambda_i/s_i`:

    .. math::

        q_{ik} = \\frac{\\tau'\\rho_i/B}{(1 - \\tau' S_B/B)(1 - \\tau'(1+1/B)s_k)},\\qquad
        S_B = \\sum_j \\frac{s_j}{1 - \\tau'(1+1/B)s_j}

    (:math:`B = 1` is R6b).  For the diagonal model only the diagonal is trained and,
    per coordinate, :math:`q_i = \\tau'\\rho_i/(B - (B+2)\\tau' s_i)` (§7.1 note 2 at
    :math:`B = 1`; the general :math:`B` follows from the same scalar recursion).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, tau : float or array_like, shape ``(...)``
    loss_factor : float
    batch_size : int
    model : {'full', 'diagonal'}

    Returns
    -------
    q : ndarray, shape ``(..., d, d)``; zero off the diagonal for the diagonal model;
        ``nan`` where SGD is unstable (see :func:`sgd_is_stable`).
    """
    _checks.choice("model", model, R8_MODELS)
    lam = np.asarray(lam, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    s = lam + sigma[..., None] ** 2
    rho = sigma[..., None] ** 2 * lam / s
    tp = (loss_factor * np.asarray(tau, dtype=float))[..., None]
    B = float(batch_size)
    stable = sgd_is_stable(lam, sigma, tau, loss_factor, batch_size, model)[..., None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        if model == "diagonal":
            qd = tp * rho / (B - (B + 2.0) * tp * s)
            q = qd[..., :, None] * np.eye(lam.size)
        else:
            k = tp * (1.0 + 1.0 / B) * s
            S_B = (s / (1.0 - k)).sum(axis=-1)[..., None]
            q = (tp * rho / B / (1.0 - tp * S_B / B))[..., :, None] / (1.0 - k)[..., None, :]
    return np.where(stable, q, np.nan)


def kernel_optimization(
    lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model: str = "full"
) -> np.ndarray:
    """Optimization (SGD) kernel :math:`K_\\tau(\\lambda_i, \\lambda_k)` of R8 (entry by entry, §7.3 note 12).

    With :math:`v_{ik} = q_{ik}/\\sigma^4` the variance of the score fluctuation
    :math:`\\delta A = -\\Delta/\\sigma^2` (R6c), :math:`g_{ik} = a_i + a_k - \\gamma a_ia_k`
    (so :math:`1 - b_ib_k = \\gamma g_{ik}`) and :math:`D_i = a_i(2 - \\gamma a_i)`:

    .. math::

        \\mathbb E[(C_1)_{ik}^2] = (1+\\delta_{ik})\\frac{v_{ik}c_k^2b_k^2 + v_{ki}c_i^2b_i^2}{g_{ik}^2},\\qquad
        \\mathbb E[(C_2)_{ii}] = \\sum_k\\Big[v_{ik}\\Big(\\frac{2b_ib_kc_k}{D_ig_{ik}} + \\frac{\\gamma c_k}{D_i}\\Big)\\Big]
             + \\frac{2v_{ii}b_i^2c_i}{D_i^2},

    .. math::

        K_\\tau(i,k) = \\frac{\\sqrt{\\lambda_i\\lambda_k/(c_ic_k)}}{2(\\sqrt{\\lambda_ic_i}+\\sqrt{\\lambda_kc_k})}
            \\mathbb E[(C_1)_{ik}^2] + \\Big(1 - \\sqrt{\\tfrac{\\lambda_i}{c_i}}\\Big)\\,[\\text{term } k \\text{ of } \\mathbb E(C_2)_{ii}].

    This is R8's expression with the factors :math:`\\gamma^2/(1-b_ib_k)^2`,
    :math:`\\gamma^2/(1-b_i^2)` simplified, so that ``gamma = 0`` gives the
    continuous-time limit exactly (no 0/0).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    sigma, gamma, tau : float or array_like, broadcast to shape ``(...)``
    loss_factor, batch_size, model : see :func:`sgd_entry_variance`

    Returns
    -------
    K : ndarray, shape ``(..., d, d)``.  Zero where ``tau == 0``; ``inf`` at
        ``sigma == 0 < tau``; ``nan`` where SGD or ULA is unstable.
    """
    lam, c, c1sq, c2, tau = r8_moments(lam, sigma, gamma, tau, loss_factor, batch_size, model)
    li, lk = lam[:, None], lam[None, :]
    ci, ck = c[..., :, None], c[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(li * lk > 0, np.sqrt(li * lk / (ci * ck)) / (2.0 * (np.sqrt(li * ci) + np.sqrt(lk * ck))), 0.0)
        K = coef * c1sq + _one_minus_sqrt_ratio(li, ci) * c2
    return np.where(tau[..., None, None] > 0, K, 0.0)


def r8_moments(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model: str = "full"):
    """The second moments of R8's Lyapunov perturbation :math:`C = C_0 + C_1 + C_2 + \\dots` (stationary ULA, SGD
    score fluctuation of :func:`sgd_entry_variance`), entry by entry: the metric-independent part of
    :func:`kernel_optimization`.

    Returns
    -------
    lam : ndarray, shape ``(d,)``
    c : ndarray, shape ``(..., d)``
        :math:`c_i` (R4).
    c1sq : ndarray, shape ``(..., d, d)``
        :math:`\\mathbb E[(C_1)_{ik}^2]`.
    c2 : ndarray, shape ``(..., d, d)``
        Term k of :math:`\\mathbb E[(C_2)_{ii}] = \\sum_k c2_{ik}`.
    tau : ndarray
        The broadcast ``tau`` (entries are meaningless where it is 0: callers mask them).
    """
    lam = np.asarray(lam, dtype=float)
    sigma, gamma, tau = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (sigma, gamma, tau)))
    lam, s, h, ut, c = _prep(lam, sigma, gamma)
    q = sgd_entry_variance(lam, sigma, tau, loss_factor, batch_size, model)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(tau[..., None, None] > 0, q / sigma[..., None, None] ** 4, 0.0)
        g_ = gamma[..., None]
        a = 1.0 / s
        b = 1.0 - g_ * a
        D = a * (2.0 - g_ * a)
        ai, ak = a[..., :, None], a[..., None, :]
        bi, bk = b[..., :, None], b[..., None, :]
        ci, ck = c[..., :, None], c[..., None, :]
        Di = D[..., :, None]
        gik = ai + ak - g_[..., None] * ai * ak
        vt = np.swapaxes(v, -1, -2)
        delta = np.eye(lam.size)
        c1sq = (1.0 + delta) * (v * ck**2 * bk**2 + vt * ci**2 * bi**2) / gik**2
        c2 = v * (2.0 * bi * bk * ck / (Di * gik) + g_[..., None] * ck / Di) + delta * 2.0 * v * bi**2 * ci / Di**2
    return lam, c, c1sq, c2, tau


def kernel_optimization_diagonal(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1) -> np.ndarray:
    """The diagonal :math:`K_\\tau(i,i)` of R8 for the diagonal model, shape ``(..., d)``, in O(d) memory.

    Only the diagonal is trained (§7.1 note 2), so :math:`v_{ik} = 0` for :math:`i \\ne k` and every off-diagonal
    entry of :func:`kernel_optimization` vanishes.  With :math:`g_{ii} = D_i = a_i(2 - \\gamma a_i)`:

    .. math::

        K_\\tau(i,i) = \\frac{\\lambda_i/c_i}{4\\sqrt{\\lambda_ic_i}}\\,\\frac{4v_ic_i^2b_i^2}{D_i^2}
            + \\Big(1 - \\sqrt{\\tfrac{\\lambda_i}{c_i}}\\Big)\\,v_i\\Big(\\frac{4b_i^2c_i}{D_i^2} + \\frac{\\gamma c_i}{D_i}\\Big),
        \\qquad v_i = q_i/\\sigma^4,\\ q_i = \\frac{\\tau'\\rho_i}{B - (B+2)\\tau's_i}.

    Equal to ``np.diagonal(kernel_optimization(..., model='diagonal'))`` (tested).
    """
    lam, c, v, b, D, tau, g_ = _r8_diagonal_parts(lam, sigma, gamma, tau, loss_factor, batch_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(lam > 0, (lam / c) / (4.0 * np.sqrt(lam * c)), 0.0)
        K = coef * 4.0 * v * c**2 * b**2 / D**2 + _one_minus_sqrt_ratio(lam, c) * v * (4.0 * b**2 * c / D**2
                                                                                       + g_ * c / D)
    return np.where(tau[..., None] > 0, K, 0.0)


def _r8_diagonal_parts(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1):
    """The per-mode pieces of R8 for the diagonal model: ``lam, c, v, b, D, tau, gamma[..., None]``."""
    lam = np.asarray(lam, dtype=float)
    sigma, gamma, tau = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (sigma, gamma, tau)))
    lam, s, h, ut, c = _prep(lam, sigma, gamma)
    tp = (loss_factor * tau)[..., None]
    B = float(batch_size)
    stable = sgd_is_stable(lam, sigma, tau, loss_factor, batch_size, "diagonal")[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = sigma[..., None] ** 2 * lam / s
        q = np.where(stable, tp * rho / (B - (B + 2.0) * tp * s), np.nan)
        v = np.where(tau[..., None] > 0, q / sigma[..., None] ** 4, 0.0)
        g_ = gamma[..., None]
        a = 1.0 / s
        b = 1.0 - g_ * a
        D = a * (2.0 - g_ * a)
    return lam, c, v, b, D, tau, g_


def r8_moments_diagonal(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1):
    """:func:`r8_moments` for the diagonal model in O(d) memory: ``lam, c, c1sq, c2, tau`` with ``c1sq`` the diagonal
    :math:`\\mathbb E[(C_1)_{ii}^2] = 4v_ic_i^2b_i^2/D_i^2` and ``c2`` :math:`\\mathbb E[(C_2)_{ii}] =
    v_i(4b_i^2c_i/D_i^2 + \\gamma c_i/D_i)`, shape ``(..., d)`` (the off-diagonal moments vanish)."""
    lam, c, v, b, D, tau, g_ = _r8_diagonal_parts(lam, sigma, gamma, tau, loss_factor, batch_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lam, c, 4.0 * v * c**2 * b**2 / D**2, v * (4.0 * b**2 * c / D**2 + g_ * c / D), tau


_R8_LOOP = []


def _r8_loop():
    """The compiled double sum of R8's full-model kernel (numba imported on first use only)."""
    if _R8_LOOP:
        return _R8_LOOP[0]
    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def r8_sum(lam, s, c, alpha, beta, gamma):
        """sum_ik K_tau(i,k) with v_ik = alpha_i beta_k (R6b: separable in i and k)."""
        d = lam.size
        total = 0.0
        for i in range(d):
            ai = 1.0 / s[i]
            bi = 1.0 - gamma * ai
            Di = ai * (2.0 - gamma * ai)
            ci, li = c[i], lam[i]
            wi = (ci - li) / (ci + np.sqrt(li * ci))  # 1 - sqrt(lam_i / c_i)
            qi = np.sqrt(li * ci)
            for k in range(d):
                ak = 1.0 / s[k]
                bk = 1.0 - gamma * ak
                ck, lk = c[k], lam[k]
                g = ai + ak - gamma * ai * ak
                v, vt = alpha[i] * beta[k], alpha[k] * beta[i]
                c1 = (v * ck * ck * bk * bk + vt * ci * ci * bi * bi) / (g * g)
                c2 = v * (2.0 * bi * bk * ck / (Di * g) + gamma * ck / Di)
                if k == i:
                    c1 *= 2.0
                    c2 += 2.0 * v * bi * bi * ci / (Di * Di)
                coef = 0.0
                if li * lk > 0.0:
                    coef = np.sqrt(li * lk / (ci * ck)) / (2.0 * (qi + np.sqrt(lk * ck)))
                total += coef * c1 + wi * c2
        return total

    _R8_LOOP.append(r8_sum)
    return r8_sum


def optimization_sum_full(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1) -> float:
    """:math:`\\sum_{ik}K_\\tau(i,k)` of :func:`kernel_optimization` for the full model at one point, in a compiled
    O(d^2)-time, O(d)-memory loop: :math:`v_{ik} = q_{ik}/\\sigma^4` is separable,
    :math:`q_{ik} = \\alpha_i\\beta_k`, :math:`\\alpha_i = \\tau'\\rho_i/B/(1 - \\tau'S_B/B)`,
    :math:`\\beta_k = 1/(1 - \\tau'(1+1/B)s_k)` (R6b).  ``inf`` at ``sigma = 0 < tau``, ``nan`` where SGD or ULA
    is unstable, 0 at ``tau = 0`` (equal to the matrix sum, tested)."""
    lam = np.ascontiguousarray(lam, dtype=float)
    sigma, gamma, tau = float(sigma), float(gamma), float(tau)
    if tau == 0:
        return 0.0
    if sigma == 0:
        return math.inf
    if not bool(sgd_is_stable(lam, sigma, tau, loss_factor, batch_size, "full")):
        return math.nan
    _, s, h, ut, c = _prep(lam, sigma, gamma)
    if np.any(~(ut > 0)):
        return math.nan
    tp, B = loss_factor * tau, float(batch_size)
    rho = sigma**2 * lam / s
    k = tp * (1.0 + 1.0 / B) * s
    S_B = float((s / (1.0 - k)).sum())
    alpha = tp * rho / B / (1.0 - tp * S_B / B) / sigma**4
    beta = 1.0 / (1.0 - k)
    return float(_r8_loop()(lam, s, np.ascontiguousarray(c), alpha, beta, gamma))


R8_COMPILED_MIN_D = 256
"""From this d on, the full model's R8 sum runs in a compiled loop per grid point (below: batched matrices)."""


def optimization_sum(lam, sigma, gamma, tau, loss_factor=1.0, batch_size=1, model: str = "full",
                     max_elements: int = 1 << 22) -> np.ndarray:
    """:math:`\\sum_{ik}K_\\tau(i,k)` of R8 (stationary ULA), broadcast over ``sigma, gamma, tau`` (1-D or scalars):
    O(d) per point for the diagonal model (:func:`kernel_optimization_diagonal`, blocks of ``max_elements``); for the
    full one batched d x d matrices below :data:`R8_COMPILED_MIN_D` and a compiled O(d^2)-time, O(d)-memory loop per
    point from it on (:func:`optimization_sum_full`).  0 where ``tau = 0``."""
    _checks.choice("model", model, R8_MODELS)
    lam = np.asarray(lam, dtype=float)
    sg, g, t = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float)) for x in (sigma, gamma, tau)))
    out = np.zeros(sg.shape)
    idx = np.flatnonzero(t > 0)
    d = lam.size
    with np.errstate(invalid="ignore", divide="ignore"):
        if model == "diagonal":
            step = max(1, max_elements // d)
            for j in range(0, idx.size, step):
                sl = idx[j:j + step]
                out[sl] = kernel_optimization_diagonal(lam, sg[sl], g[sl], t[sl], loss_factor, batch_size).sum(-1)
        elif d <= R8_COMPILED_MIN_D:  # small d: the d x d matrices of many points at once (vectorised)
            step = max(1, max_elements // (d * d))
            for j in range(0, idx.size, step):
                sl = idx[j:j + step]
                out[sl] = kernel_optimization(lam, sg[sl], g[sl], t[sl], loss_factor, batch_size, model).sum((-2, -1))
        else:  # large d: a compiled O(d^2)-time, O(d)-memory double sum per point
            for j in idx:
                out[j] = optimization_sum_full(lam, sg[j], g[j], t[j], loss_factor, batch_size)
    return out.reshape(np.broadcast(np.asarray(sigma), np.asarray(gamma), np.asarray(tau)).shape)
