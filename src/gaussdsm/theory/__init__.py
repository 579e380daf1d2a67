"""Closed-form error expansions of :math:`\\mathbb E\\,W_2^2` for any sampler (theory.md R5–R9, samplers.md §3).

.. math::

    \\mathbb E W_2^2 \\approx \\underbrace{\\sum_i(\\sqrt{F(\\lambda_i)} - \\sqrt{\\lambda_i})^2}_{\\texttt{bias}}
       + \\underbrace{\\frac1N\\sum_{i,k}K_F(\\lambda_i,\\lambda_k)}_{\\texttt{generalization}}
       + \\underbrace{\\sum_{i,k}K_\\tau(\\lambda_i,\\lambda_k)}_{\\texttt{optimization}}

with :math:`F` the sampler's variance map (:mod:`gaussdsm.samplers`): the generalization kernel :math:`K_F` is R7
with :math:`f \\to F` (:mod:`~gaussdsm.theory.kernels`), the bias R5 for stationary ULA; the optimization term R8
(SGD step :math:`\\tau`, :mod:`~gaussdsm.theory.langevin`) is derived for stationary ULA only and is reported as not
available (NaN, ``optimization_available = 0``) for other samplers.  Cross terms :math:`\\tau/N` are neglected
(§7.2 note 7).

Other error metrics (:mod:`gaussdsm.metrics`, ``error_terms(..., metric=...)``): the same three terms for the
Kullback–Leibler divergences in either direction, from the same variance maps and R8 moments.

Validity (§7.2) is reported in two parts: ``valid`` (every term is defined: the population chain is stable,
SGD stable, :math:`\\sigma > 0` if :math:`\\tau > 0`, R8 available if needed) and ``in_regime`` (the point is where
the first-order expansion holds):

* the first neglected order of the 1/N expansion, estimated from the same F, F', F'' (``second_order``,
  :mod:`gaussdsm.theory._regime`), is at most ``REGIME_BOUND`` = 5 % of the predicted total -- half the promised
  accuracy ``REGIME_TOL`` = 10 % (``n_samples_scale``,
  :math:`2(\\lambda_{\\max}/m)^2` with m the distance of :math:`\\lambda_{\\min} + \\sigma^2` to the sampler's stability
  bound, is still reported; it no longer decides);
* :math:`c_\\ell\\tau/\\sigma^2 \\le 0.01` (R8 within ~5 %, note 6).

Beyond the expansion: :func:`exact_error` (:mod:`~gaussdsm.theory.exact_n`), the exact expected error at every N of
the diagonal and Fourier denoisers; :func:`deterministic_equivalent` (:mod:`~gaussdsm.theory.proportional`), the full
denoiser's expected error in the proportional regime (d, N large, d/N fixed) by random matrix theory, with
:func:`renormalised_noise` and :func:`mean_denoiser` (the mean learned denoiser).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .. import _checks, samplers
from ..samplers.spec import SamplerSpec, build
from ..vocabulary import attrs
from . import _diffusion, kernels, langevin
from .exact_n import ExactError, exact_error
from .proportional import DeterministicEquivalent, deterministic_equivalent, mean_denoiser, renormalised_noise
from ._regime import REGIME_BOUND, REGIME_TAU, REGIME_TOL, second_order_coefficient
from .langevin import (
    optimization_sum,
    bias_ula,
    kernel_generalization_ula,
    kernel_optimization,
    kernel_optimization_diagonal,
    mode_variance,
    sgd_entry_variance,
    sgd_is_stable,
)

__all__ = [
    "MODELS",
    "REGIME_TOL",
    "REGIME_BOUND",
    "REGIME_TAU",
    "as_sampler",
    "mode_variance",
    "variance_map",
    "bias",
    "bias_ula",
    "kernel_generalization",
    "kernel_generalization_ula",
    "sgd_entry_variance",
    "sgd_is_stable",
    "kernel_optimization",
    "kernel_optimization_diagonal",
    "optimization_sum",
    "generalization_sum",
    "contributions",
    "kernel",
    "error_terms",
    "diagnose",
    "exact_error",
    "ExactError",
    "deterministic_equivalent",
    "DeterministicEquivalent",
    "renormalised_noise",
    "mean_denoiser",
]

MODELS = ("full", "diagonal", "fourier")
"""Denoiser models: ``full`` d x d (R7), ``diagonal`` in the real eigenbasis (R11, kappa = 2), ``fourier``: diagonal in
the Fourier basis with one multiplier per conjugate pair, i.e. a convolution (R11 with the spectrum's kappa)."""
SGD_MODELS = langevin.R8_MODELS
"""Models for which the SGD term R8 is derived."""
BLOCK_ELEMENTS = 1 << 20
""":func:`error_terms` evaluates the variance maps (and their derivatives) for blocks of at most this many
(grid point, mode) pairs: O(d) memory per grid point, bounded at any d."""



def as_sampler(sampler="ula", gamma=None, **params) -> samplers.Sampler:
    """A :class:`gaussdsm.samplers.Sampler`: given, or made from its kind and parameters (``gamma`` default 0)."""
    if isinstance(sampler, samplers.Sampler):
        return sampler
    return build(sampler, gamma=0.0 if gamma is None else gamma, **params)


def variance_map(lam, sigma, gamma=None, *, sampler="ula", **params):
    """``(F, D, D', D'', stable)`` of the sampler at :math:`\\mu = \\lambda`, shape ``B + (d,)`` (see
    :func:`gaussdsm.theory.kernels.variance_terms`)."""
    lam = _checks.spectrum(lam, allow_zero=True)
    return kernels.variance_terms(lam, sigma, as_sampler(sampler, gamma, **params))


def bias(lam, sigma, gamma=None, *, sampler="ula", **params) -> np.ndarray:
    """Bias error at :math:`N = \\infty`, :math:`\\tau \\to 0`: :math:`\\sum_i (\\sqrt{F(\\lambda_i)} - \\sqrt{\\lambda_i})^2`
    (R5 for stationary ULA); ``nan`` where the population chain is unstable.  Shape: the broadcast parameters."""
    lam = _checks.spectrum(lam, allow_zero=True)
    F, D, _, _, stable = kernels.variance_terms(lam, sigma, as_sampler(sampler, gamma, **params), derivatives=False)
    return np.where(np.all(stable, axis=-1), kernels.bias(lam, F, D), np.nan)


def kernel_generalization(lam, sigma, gamma=None, model: str = "full", *, sampler="ula", kappa=None,
                          **params) -> np.ndarray:
    """Generalization kernel :math:`K_F(i,k)`, shape ``B + (d, d)`` (R7 with f -> F; R11 for the diagonal models,
    ``kappa`` the spectrum's R11 factors for ``model='fourier'``); ``nan`` where the population chain is unstable."""
    _checks.choice("model", model, MODELS)
    lam = _checks.spectrum(lam, allow_zero=True)
    F, D, D1, D2, stable = kernels.variance_terms(lam, sigma, as_sampler(sampler, gamma, **params))
    K = kernels.kernel_matrix(lam, F, D, D1, D2, model, kappa)
    return np.where(np.all(stable, axis=-1)[..., None, None], K, np.nan)


def generalization_sum(lam, sigma, gamma=None, model: str = "full", *, sampler="ula", kappa=None,
                       **params) -> np.ndarray:
    """:math:`\\sum_{ik}K_F(i,k)` (shape ``B``) in O(d) memory (:func:`kernel_generalization` summed, without the
    matrix); ``nan`` where the population chain is unstable."""
    _checks.choice("model", model, MODELS)
    lam = _checks.spectrum(lam, allow_zero=True)
    F, D, D1, D2, stable = kernels.variance_terms(lam, sigma, as_sampler(sampler, gamma, **params))
    return np.where(np.all(stable, axis=-1), kernels.kernel_sums(lam, F, D, D1, D2, model, kappa), np.nan)


def contributions(lam, n_samples, sigma, gamma=None, tau=0.0, loss_factor=1.0, batch_size=1, model="full", *,
                  sampler="ula", kappa=None, **params) -> np.ndarray:
    """:math:`\\lambda_i\\lambda_k\\mathfrak K(i,k)`: each pair of modes' share of the predicted error (R9), ``(..., d, d)``:
    the bias on the diagonal, :math:`K_F/N` and :math:`K_\\tau` (stationary ULA; NaN elsewhere if ``tau > 0``).
    Finite at zero eigenvalues (a mode the data never visits contributes its bias :math:`F(0)`)."""
    lam = _checks.spectrum(lam, allow_zero=True)
    s = as_sampler(sampler, gamma, **params)
    F, D, D1, D2, stable = kernels.variance_terms(lam, sigma, s)
    den = (np.sqrt(F) + np.sqrt(lam)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(den > 0, D**2 / np.where(den > 0, den, 1.0), 0.0)
    N = np.asarray(n_samples, dtype=float)[..., None, None]
    out = b[..., :, None] * np.eye(lam.size) + kernels.kernel_matrix(lam, F, D, D1, D2, model, kappa) / N
    if np.any(np.asarray(tau) > 0):
        opt = kernel_optimization(lam, sigma, s.gamma, tau, loss_factor, batch_size, model)
        out = out + np.where(np.asarray(s.optimization_theory)[..., None, None], opt, np.nan)
    return np.where(np.all(stable, axis=-1)[..., None, None], out, np.nan)


def kernel(lam, n_samples, sigma, gamma=None, tau=0.0, loss_factor=1.0, batch_size=1, model="full", *,
           sampler="ula", kappa=None, **params) -> np.ndarray:
    """The kernel :math:`\\mathfrak K` of R9: :math:`\\mathbb E W_2^2 \\approx \\sum_{i,k}\\lambda_i\\lambda_k\\,\\mathfrak K(\\lambda_i,\\lambda_k)`.

    .. math::

        \\mathfrak K(i,k) = \\delta_{ik}\\frac{(\\sqrt{F_i}-\\sqrt{\\lambda_i})^2}{\\lambda_i^2}
            + \\frac{K_F(i,k)}{N\\lambda_i\\lambda_k} + \\frac{K_\\tau(i,k)}{\\lambda_i\\lambda_k}

    The paper's "kernel-type norm of the power spectrum" in our reading, for any sampler.  Not symmetric
    (symmetrise for plots); defined for :math:`\\lambda > 0` (:func:`contributions` is finite at zeros).
    """
    lam = _checks.spectrum(lam, allow_zero=True)
    c = contributions(lam, n_samples, sigma, gamma, tau, loss_factor, batch_size, model, sampler=sampler, kappa=kappa,
                      **params)
    with np.errstate(divide="ignore", invalid="ignore"):
        return c / (lam[:, None] * lam[None, :])


# --------------------------------------------------------------------------------------------- on a grid

AXES = ("n_samples", "sigma", "gamma", "tau", "scheme", "init", "n_steps", "t_min", "train_time", "friction")


def _as_param(name, value):
    arr = np.asarray(value, dtype=float)
    if name == "n_samples" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if np.any(np.isnan(arr)) or (name not in ("n_samples", "n_steps") and np.any(~np.isfinite(arr))):
        raise ValueError(f"{name} must be finite{' or inf' if name in ('n_samples', 'n_steps') else ''}, got {value!r}")
    if arr.ndim == 0:
        return xr.DataArray(arr[()], attrs=attrs(name))
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} values must be unique, got {value!r}")
    return xr.DataArray(arr, dims=[name], coords={name: (name, arr, attrs(name))}, attrs=attrs(name))


def _flat(*das):
    """Broadcast DataArrays; return the broadcast template and the flat values of each."""
    b = xr.broadcast(*das)
    return b[0], [np.ravel(x.values) for x in b]


def _on(template, values):
    return xr.DataArray(np.asarray(values).reshape(template.shape), dims=template.dims, coords=template.coords)


def error_terms(
    lam,
    n_samples,
    sigma=None,
    gamma=None,
    tau=0.0,
    loss_factor: float = 1.0,
    batch_size: int = 1,
    model: str = "full",
    sampler: str = "ula",
    n_steps=math.inf,
    init_var: float = 1.0,
    friction=None,
    kappa=None,
    metric: str = "w2",
    **diffusion,
) -> xr.Dataset:
    """First-order expansion of :math:`\\mathbb E\\,W_2^2` (or of another metric) and its parts on a grid, for any
    sampler (module docstring).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        Data spectrum, ``>= 0``.
    n_samples, sigma, gamma, tau, n_steps, friction : float or 1-D array_like
        Scalars stay scalar coordinates; arrays become dimensions named after the parameter, and the outputs
        broadcast over all of them.  ``n_samples = inf``: the population score (no generalization error);
        ``n_steps = inf``: the stationary law; ``friction``: ULD only.
    loss_factor : float
        :math:`c_\\ell` of the per-sample loss (1; 1/2 for the ½ convention).
    batch_size : int
        SGD mini-batch size :math:`B`.
    model : {'full', 'diagonal', 'fourier'}
        Full-matrix (R7), real-eigenbasis diagonal (R11, kappa = 2) or Fourier-diagonal, i.e. convolutional, denoiser
        (R11 with ``kappa``; exact fits only: R8 is not derived for it).
    kappa : array_like, shape ``(d,)``, optional
        ``model='fourier'``: the spectrum's R11 factors (:attr:`gaussdsm.spectra.Spectrum.kappa`).
    sampler : {'ula', 'uld', 'diffusion'}
    metric : str
        A :data:`gaussdsm.metrics.METRICS` name (default ``'w2'``): the terms are that metric's bias,
        generalization and optimization (:class:`gaussdsm.metrics.Metric`); ``w2`` is the expansion above.
    init_var : float
        Variance :math:`v_0` of the chain's start (finite ``n_steps``).
    **diffusion
        ``sampler='diffusion'`` (no ``sigma``, ``gamma``, ``tau``): the axes ``scheme``, ``init``, ``t_min``
        (scalars or lists, with ``n_steps``) and the fixed :class:`gaussdsm.samplers.Diffusion` parameters
        (``process``, ``grid``, ``T``, ...); adds ``bias_init``, ``bias_discretization``, ``bias_stopping``, ``nfe``
        (:func:`gaussdsm.theory._diffusion.diffusion_terms`).

    Returns
    -------
    xarray.Dataset
        ``bias``, ``generalization``, ``optimization``, ``total`` (in units of the data variance), ``valid``,
        ``in_regime``, ``optimization_available``, ``n_samples_scale``, ``second_order`` (the estimated neglected
        term, :mod:`gaussdsm.theory._regime`) and ``reason`` (text: why the total is NaN at a point, from
        :func:`diagnose`; empty where it is defined) (module docstring).
    """
    from ..metrics import get as _metric

    _checks.choice("model", model, MODELS)
    m = _metric(metric)
    lam = _checks.spectrum(lam, allow_zero=True)
    if sampler == "diffusion":
        if sigma is not None or gamma is not None or np.any(np.asarray(tau) != 0) or friction is not None:
            raise ValueError("sampler diffusion takes no sigma, gamma, tau or friction (its scores are the exact DSM "
                             "minimisers at every noise level of the forward process)")
        N = _as_param("n_samples", n_samples)
        if np.any(N.values < 1):
            raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
        ds = _diffusion.diffusion_terms(lam, N.values, model=model, n_steps=n_steps, kappa=kappa, metric=m.name,
                                        **diffusion)
        return _with_reasons(lam, ds.transpose(*[n for n in AXES if n in ds.dims]))
    if diffusion:
        raise ValueError(f"sampler {sampler!r} does not take {', '.join(sorted(diffusion))}")
    if sigma is None or gamma is None:
        raise ValueError(f"sampler {sampler!r} needs sigma and gamma")
    d = lam.size
    N = _as_param("n_samples", n_samples)
    if np.any(N.values < 1):
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    sig, gam, ta, ns = (_as_param(k, v) for k, v in (("sigma", sigma), ("gamma", gamma), ("tau", tau),
                                                     ("n_steps", n_steps)))
    if np.any(sig.values < 0) or np.any(gam.values < 0) or np.any(ta.values < 0):
        raise ValueError("sigma, gamma and tau must be >= 0")
    if model not in SGD_MODELS and np.any(ta.values > 0):
        raise ValueError(f"model {model!r} has no SGD theory (R8 is derived for {' and '.join(SGD_MODELS)}): tau must be 0")
    fr = _as_param("friction", friction) if friction is not None else None
    # the sampler side: every (sigma, gamma, n_steps, friction) at once, per mode
    side = [sig, gam, ns] + ([fr] if fr is not None else [])
    tpl, flat = _flat(*side)
    population = bool(np.all(np.isinf(N.values)))  # nothing to generalize: no derivatives, no O(d^2) kernel
    P = flat[0].size
    b_v, g_v, scale_v, avail_v = np.empty(P), np.empty(P), np.empty(P), np.empty(P, dtype=bool)
    c2_v = np.zeros(P)
    step = max(1, BLOCK_ELEMENTS // d)  # bounded memory at large d: blocks of grid points
    for j in range(0, P, step):
        sl = slice(j, j + step)
        s_blk = build(sampler, gamma=flat[1][sl], n_steps=flat[2][sl], init_var=init_var,
                      friction=flat[3][sl] if fr is not None else None)
        F, D, D1, D2, stable = kernels.variance_terms(lam, flat[0][sl], s_blk, derivatives=not population)
        ok = np.all(stable, axis=-1)
        b_v[sl] = np.where(ok, m.bias(lam, F, D), np.nan)
        g_v[sl] = np.where(ok, 0.0 if population else m.generalization_sum(lam, F, D, D1, D2, model, kappa), np.nan)
        if not population:
            c2_v[sl] = second_order_coefficient(lam, F, D1, D2, model, kappa)
        scale_v[sl] = s_blk.n_samples_scale(lam, flat[0][sl], per_mode=model != "full")
        avail_v[sl] = np.broadcast_to(s_blk.optimization_theory, flat[0][sl].shape)
    b, g_sum, scale, available_side, c2 = (_on(tpl, v) for v in (b_v, g_v, scale_v, avail_v, c2_v))
    g = g_sum / N  # N = inf: 0 (the population score does not generalize: nothing is learned)
    # optimization (R8): stationary ULA only; on the (sigma, gamma, tau) grid
    tpl_o, (so, go, to) = _flat(sig, gam, ta)
    o_vals = (m.optimization_sum(lam, so, go, to, loss_factor, batch_size, model) if model in SGD_MODELS
              else np.zeros(so.size))
    o = _on(tpl_o, o_vals)
    available = available_side | (ta == 0)
    o = o.where(available)
    total = b + g + o
    valid = np.isfinite(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_ok = (ta == 0) | (loss_factor * ta / sig**2 <= REGIME_TAU)
    second = xr.where(np.isinf(N), 0.0, c2 / N.astype(float) ** 2).where(valid)
    in_regime = valid & (second <= REGIME_BOUND * total) & tau_ok
    ds = xr.Dataset(
        {
            "bias": b.assign_attrs(attrs("bias")),
            "generalization": g.assign_attrs(attrs("generalization")),
            "optimization": o.assign_attrs(attrs("optimization")),
            "total": total.assign_attrs(attrs("total")),
            "valid": valid.astype(np.int8).assign_attrs(attrs("valid")),
            "in_regime": in_regime.astype(np.int8).assign_attrs(attrs("in_regime")),
            "optimization_available": available.astype(np.int8).assign_attrs(attrs("optimization_available")),
            "n_samples_scale": scale.assign_attrs(attrs("n_samples_scale")),
            "second_order": second.assign_attrs(attrs("second_order")),
        }
    )
    coords = {"n_samples": N, "sigma": sig, "gamma": gam, "tau": ta, "n_steps": ns, "friction": fr}
    for name, da in coords.items():
        if da is not None and da.ndim == 0:
            ds = ds.assign_coords({name: da})
    ds.attrs.update(model=model, loss_factor=float(loss_factor), batch_size=int(batch_size),
                    **SamplerSpec(sampler, {}, {"init_var": float(init_var)}).to_attrs())
    if m.name != "w2":  # W2's datasets keep their historical attributes exactly
        ds.attrs["metric"] = m.name
    return _with_reasons(lam, ds.transpose(*[n for n in AXES if n in ds.dims]))


def _with_reasons(lam, ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``reason``: at every point whose total is not finite, why (:func:`diagnose`, one sentence per
    line); empty elsewhere.  Only those points are diagnosed."""
    total = ds["total"]
    why = np.full(total.shape, "", dtype=object)
    undefined = ~np.isfinite(total.values)
    for idx in np.ndindex(total.shape):
        if undefined[idx]:
            said = diagnose(lam, ds.isel(dict(zip(total.dims, idx))))["valid"]
            why[idx] = "\n".join(said) or "a term is not finite here (no diagnosis for this case)"
    ds["reason"] = xr.DataArray(why.astype(str), dims=total.dims, coords=total.coords, attrs=attrs("reason"))
    return ds


def diagnose(lam, point: xr.Dataset) -> dict[str, list[str]]:
    """Why one point of :func:`error_terms` is not ``valid`` or not ``in_regime``: ``{"valid": [...], "regime": [...]}``,
    one sentence per condition that fails (empty lists: nothing to say).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    point : xarray.Dataset
        :func:`error_terms` at scalar parameters.
    """
    lam = _checks.spectrum(lam, allow_zero=True)
    kind = point.attrs.get("sampler", "ula")
    if kind == "diffusion":
        return _diagnose_diffusion(lam, point)
    p = {k: float(point[k]) for k in AXES if k in point.coords and point[k].ndim == 0}
    sigma, gamma, tau, N = p["sigma"], p["gamma"], p.get("tau", 0.0), p["n_samples"]
    lam_min, lam_max = float(lam.min()), float(lam.max())
    valid, regime = [], []
    singular = _singular_data(lam, point)
    if singular:
        valid.append(singular)
    elif not np.isfinite(float(point["bias"])):
        if sigma == 0 and lam_min == 0:
            valid.append("the score is infinite: sigma = 0 and the spectrum has a zero eigenvalue (use sigma > 0)")
        else:
            s = build(kind, gamma=gamma, friction=p.get("friction"), n_steps=p.get("n_steps", math.inf))
            valid.append(f"{kind.upper()} is unstable with the population score: "
                         f"{s.explain_unstable(lam_min, lam_max, sigma)}")
    if tau > 0 and not int(point["optimization_available"]):
        valid.append(f"the SGD term (R8) is derived for stationary ULA only, not for sampler {kind} with n_steps = "
                     f"{p.get('n_steps', float('inf')):g}: the total is not available (set tau = 0)")
    elif tau > 0 and not np.isfinite(float(point["optimization"])):
        valid.append("tau > 0 with sigma = 0: the score (I - theta)/sigma^2 is not defined" if sigma == 0 else
                     f"SGD is unstable at tau = {tau:g} (second moments diverge, R6b): lower tau")
    if valid:
        return {"valid": valid, "regime": regime}
    regime += _regime_note(N, point)
    c = float(point.attrs.get("loss_factor", 1.0))
    if tau > 0 and c * tau / sigma**2 > REGIME_TAU:
        regime.append(f"c tau / sigma^2 = {c * tau / sigma**2:.3g} > {REGIME_TAU:g}: R8 (first order in it) undershoots "
                      "by more than ~5 %")
    return {"valid": valid, "regime": regime}


def _regime_note(N: float, point: xr.Dataset) -> list[str]:
    """The sentence for a point whose neglected second-order term is estimated above ``REGIME_BOUND`` of its total
    (:mod:`gaussdsm.theory._regime`), or nothing."""
    second, total = float(point["second_order"]), float(point["total"])
    if not (np.isfinite(N) and np.isfinite(second) and second > REGIME_BOUND * total):
        return []
    share = f"{100 * second / total:.3g} % of the total" if total > 0 else "above the total"
    return [f"N = {N:g} is too small for the 1/N expansion: the neglected O(1/N^2) term is estimated at "
            f"{second:.3g} = {share} (> {100 * REGIME_BOUND:g} %: the first order may be off by more than "
            f"{100 * REGIME_TOL:g} %; second_order)"]


def _singular_data(lam: np.ndarray, point: xr.Dataset) -> str:
    """The metric's reason when its value is infinite because the data covariance is singular (a KL divergence with
    a zero eigenvalue in the spectrum), or ``""``."""
    metric = point.attrs.get("metric", "w2")
    if metric == "w2" or float(lam.min()) > 0 or np.isfinite(float(point["bias"])):
        return ""
    from ..metrics import get as _metric

    return _metric(metric).singular_reason(np.ones_like(lam), lam)


def _diagnose_diffusion(lam: np.ndarray, point: xr.Dataset) -> dict[str, list[str]]:
    """:func:`diagnose` for a diffusion point: the one reason its law is undefined, or why it is out of regime."""
    t_min, K, N = float(point["t_min"]), float(point["n_steps"]), float(point["n_samples"])
    scheme = str(point["scheme"].values)
    valid = []
    singular = _singular_data(lam, point)
    if singular:
        return {"valid": [singular], "regime": []}
    if not int(point["valid"]):
        if t_min == 0 and float(lam.min()) == 0:
            valid.append("the score is infinite: t_min = 0 evaluates the score at t = 0, where a zero eigenvalue "
                         "makes it infinite (use t_min > 0)")
        elif scheme == "ddpm":
            valid.append(f"ddpm (ancestral sampling) needs h_k beta(t_k) < 1 at every step, so that its step variance "
                         f"1 - alpha_k lies in (0, 1); with n_steps = {K:g} a step is longer: raise n_steps")
        else:
            valid.append(f"the {scheme} scheme is unstable on this time grid (n_steps = {K:g}, t_min = {t_min:g}): "
                         "a step is too long for the stiffness of the reverse dynamics (raise n_steps or t_min"
                         + (", or use the ei scheme" if scheme == "em" else "") + ")")
        return {"valid": valid, "regime": []}
    return {"valid": [], "regime": _regime_note(N, point)}
