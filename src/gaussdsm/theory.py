"""Closed-form error expansions: bias (R5), generalization (R7/R11), optimization (R6, R8), total (R9).

Notation (theory.md §1, §3, with the renamings of §7.3 note 16):

* ``lam`` :math:`\\lambda_i` data eigenvalues, ``sigma`` noise amplitude,
  ``gamma`` ULA step, ``tau`` SGD step, ``loss_factor`` :math:`c_\\ell`,
  ``n_samples`` :math:`N`, ``batch_size`` :math:`B`;
* :math:`s_i = \\lambda_i + \\sigma^2`, :math:`h = \\gamma/2`, :math:`\\tilde u_i = s_i - h`;
* :math:`c_i = s_i^2/\\tilde u_i` the stationary ULA variance of mode i with the
  population score (R4) — called ``c`` everywhere below;
* :math:`a_i = 1/s_i`, :math:`b_i = 1 - \\gamma a_i` (R8 only).

Kernels are returned as ``(..., d, d)`` arrays indexed ``[i, k]``; they are not
symmetric in ``(i, k)`` (§7.3 note 12).  The error is
:math:`\\mathbb E W_2^2 \\approx \\mathcal B + \\frac1N\\sum_{ik}K_N + \\sum_{ik}K_\\tau`.

The expansions need (§7.2): :math:`\\tilde u_{\\min} > 0` (ULA stable with the
population score), :math:`N \\gg d` and :math:`N \\gg 2(\\lambda_{\\max}/\\tilde u_{\\min})^2`,
and :math:`c_\\ell\\tau/\\sigma^2 \\lesssim 0.01` for R8 to be within ~5 %.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import _checks
from .vocabulary import attrs

__all__ = [
    "MODELS",
    "mode_variance",
    "bias",
    "kernel_generalization",
    "sgd_entry_variance",
    "sgd_is_stable",
    "kernel_optimization",
    "kernel",
    "error_terms",
]

MODELS = ("full", "diagonal")


def _prep(lam, sigma, gamma):
    """Broadcast ``lam (d,)`` against parameter arrays; return per-mode arrays ``(..., d)``."""
    lam = _checks.spectrum(lam)
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


def bias(lam, sigma, gamma) -> np.ndarray:
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


def kernel_generalization(lam, sigma, gamma, model: str = "full") -> np.ndarray:
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
    _checks.choice("model", model, MODELS)
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
        K = (1.0 + delta) * li * lk * (t2 + t1)
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
    _checks.choice("model", model, MODELS)
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
        li, lk = lam[:, None], lam[None, :]
        gik = ai + ak - g_[..., None] * ai * ak
        vt = np.swapaxes(v, -1, -2)
        delta = np.eye(lam.size)
        c1sq = (1.0 + delta) * (v * ck**2 * bk**2 + vt * ci**2 * bi**2) / gik**2
        coef = np.sqrt(li * lk / (ci * ck)) / (2.0 * (np.sqrt(li * ci) + np.sqrt(lk * ck)))
        c2 = v * (2.0 * bi * bk * ck / (Di * gik) + g_[..., None] * ck / Di) + delta * 2.0 * v * bi**2 * ci / Di**2
        K = coef * c1sq + _one_minus_sqrt_ratio(li, ci) * c2
    return np.where(tau[..., None, None] > 0, K, 0.0)


def kernel(lam, n_samples, sigma, gamma, tau=0.0, loss_factor=1.0, batch_size=1, model: str = "full") -> np.ndarray:
    """The kernel :math:`\\mathfrak K` of R9: :math:`\\mathbb E W_2^2 \\approx \\sum_{i,k}\\lambda_i\\lambda_k\\,\\mathfrak K(\\lambda_i,\\lambda_k)`.

    .. math::

        \\mathfrak K(i,k) = \\delta_{ik}\\frac{(\\sqrt{c_i}-\\sqrt{\\lambda_i})^2}{\\lambda_i^2}
            + \\frac{K_N(i,k)}{N\\lambda_i\\lambda_k} + \\frac{K_\\tau(i,k)}{\\lambda_i\\lambda_k}

    The paper's "kernel-type norm of the power spectrum" in our reading (R9).

    Returns
    -------
    K : ndarray, shape ``(..., d, d)`` (not symmetric; symmetrise for plots).
    """
    lam_, s, h, ut, c = _prep(lam, sigma, gamma)
    ll = lam_[:, None] * lam_[None, :]
    diag = ((c - lam_) ** 2 / (np.sqrt(c) + np.sqrt(lam_)) ** 2) / lam_**2
    Kn = kernel_generalization(lam_, sigma, gamma, model) / np.asarray(n_samples, dtype=float)[..., None, None]
    Kt = kernel_optimization(lam_, sigma, gamma, tau, loss_factor, batch_size, model)
    return diag[..., :, None] * np.eye(lam_.size) + (Kn + Kt) / ll


def _as_param(name, value):
    arr = np.asarray(value, dtype=float)
    if name == "n_samples" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if arr.ndim == 0:
        return xr.DataArray(arr[()], attrs=attrs(name))
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} values must be unique, got {value!r}")
    return xr.DataArray(arr, dims=[name], coords={name: (name, arr, attrs(name))}, attrs=attrs(name))


def _pointwise(func, *das, elements_per_point: int = 1, max_elements: int = 4_000_000):
    """Apply ``func(*flat_arrays) -> (P,)`` over the broadcast of DataArrays, in chunks of points.

    Chunks bound the memory of the ``(P, d, d)`` kernel temporaries.
    """
    b = xr.broadcast(*das)
    shape, dims, coords = b[0].shape, b[0].dims, b[0].coords
    flat = [np.ravel(x.values) for x in b]
    P = flat[0].size
    step = max(1, max_elements // elements_per_point)
    out = np.concatenate([func(*(f[j : j + step] for f in flat)) for j in range(0, P, step)]) if P else np.empty(0)
    return xr.DataArray(out.reshape(shape), dims=dims, coords=coords)


def error_terms(
    lam,
    n_samples,
    sigma,
    gamma,
    tau=0.0,
    loss_factor: float = 1.0,
    batch_size: int = 1,
    model: str = "full",
) -> xr.Dataset:
    """First-order expansion of :math:`\\mathbb E\\,W_2^2` and its parts (R5, R7/R11, R8, R9).

    .. math::

        \\mathbb E W_2^2 \\approx \\underbrace{\\mathcal B(\\sigma,\\gamma)}_{\\texttt{bias}}
           + \\underbrace{\\frac1N\\sum_{i,k}K_N(\\lambda_i,\\lambda_k)}_{\\texttt{generalization}}
           + \\underbrace{\\sum_{i,k}K_\\tau(\\lambda_i,\\lambda_k)}_{\\texttt{optimization}}

    (cross terms :math:`\\tau/N` neglected, §7.2 note 7).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        Data spectrum.
    n_samples, sigma, gamma, tau : float or 1-D array_like
        Scalars stay scalar coordinates; arrays become dimensions named after
        the parameter, and the outputs broadcast over all of them.
    loss_factor : float
        :math:`c_\\ell` of the per-sample loss (1 by default; 1/2 for the ½ convention).
    batch_size : int
        SGD mini-batch size :math:`B`.
    model : {'full', 'diagonal'}
        Full-matrix (R7) or eigen/Fourier-diagonal (R11) denoiser.

    Returns
    -------
    xarray.Dataset
        ``bias``, ``generalization``, ``optimization``, ``total`` (all in units
        of the data variance), ``valid`` (1 where the expansion is defined:
        ULA stable with the population score, :math:`\\sigma > 0` or
        :math:`\\tau = 0`, SGD stable; elsewhere the terms are NaN) and
        ``n_samples_scale`` :math:`2(\\lambda_{\\max}/\\tilde u_{\\min})^2`, which N must
        exceed by far for the 1/N expansion to hold (§7.2 note 5).
    """
    _checks.choice("model", model, MODELS)
    lam = np.asarray(lam, dtype=float)
    d = lam.size
    N = _as_param("n_samples", n_samples)
    if np.any(N.values < 1):
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    sig, gam, ta = _as_param("sigma", sigma), _as_param("gamma", gamma), _as_param("tau", tau)
    if np.any(sig.values < 0) or np.any(gam.values < 0) or np.any(ta.values < 0):
        raise ValueError("sigma, gamma and tau must be >= 0")

    def f_bias(sg, gm):
        return bias(lam, sg, gm)

    def f_gen(sg, gm):
        return kernel_generalization(lam, sg, gm, model).sum(axis=(-2, -1))

    def f_opt(sg, gm, tu):
        return kernel_optimization(lam, sg, gm, tu, loss_factor, batch_size, model).sum(axis=(-2, -1))

    def f_scale(sg, gm):
        ut = lam.min() + sg**2 - 0.5 * gm
        with np.errstate(divide="ignore"):
            return np.where(ut > 0, 2.0 * (lam.max() / np.where(ut > 0, ut, 1.0)) ** 2, np.inf)

    b = _pointwise(f_bias, sig, gam)
    g = _pointwise(f_gen, sig, gam, elements_per_point=d * d) / N
    o = _pointwise(f_opt, sig, gam, ta, elements_per_point=d * d)
    total = b + g + o
    valid = np.isfinite(total)
    ds = xr.Dataset(
        {
            "bias": b.assign_attrs(attrs("bias")),
            "generalization": g.assign_attrs(attrs("generalization")),
            "optimization": o.assign_attrs(attrs("optimization")),
            "total": total.assign_attrs(attrs("total")),
            "valid": valid.astype(np.int8).assign_attrs(attrs("valid")),
            "n_samples_scale": _pointwise(f_scale, sig, gam).assign_attrs(attrs("n_samples_scale")),
        }
    )
    for name, da in (("n_samples", N), ("sigma", sig), ("gamma", gam), ("tau", ta)):
        if da.ndim == 0:
            ds = ds.assign_coords({name: da})
    ds.attrs.update(model=model, loss_factor=float(loss_factor), batch_size=int(batch_size))
    return ds.transpose(*[n for n in ("n_samples", "sigma", "gamma", "tau") if n in ds.dims])
