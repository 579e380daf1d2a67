"""The error expansion for diffusion samplers on a grid of settings (samplers.md §3–§5).

The same first-order theory as for the Langevin family (R7 with f -> F, :mod:`gaussdsm.theory.kernels`), with F the
diffusion scheme's variance map (:class:`gaussdsm.samplers.Diffusion`), plus the bias split into three W₂² of their
own (commuting laws, samplers.md §4): initialisation :math:`W_2^2(P_K, \\tilde P_K)` (:math:`\\tilde P_K` the exactly
initialised sampler), discretization :math:`W_2^2(\\tilde P_K, p_{t_{\\min}})` and stopping
:math:`W_2^2(p_{t_{\\min}}, p_0) = \\sum_i(\\sqrt{\\lambda_{t_{\\min},i}} - \\sqrt{\\lambda_i})^2`.
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr

from .. import _jet
from ..samplers.spec import SamplerSpec, build
from ..vocabulary import attrs
from ._regime import REGIME_BOUND, second_order_coefficient

__all__ = ["diffusion_terms"]


def _coord(name, value):
    arr = np.asarray(value)
    if arr.dtype.kind not in "US":
        arr = arr.astype(float)
    if arr.ndim == 0:
        return xr.DataArray(arr[()], attrs=attrs(name))
    return xr.DataArray(arr, dims=[name], coords={name: (name, arr, attrs(name))}, attrs=attrs(name))


def diffusion_terms(lam, n_samples, *, model: str = "full", scheme="em", init="standard", n_steps=100, t_min=1e-3,
                    kappa=None, fit_method="exact", train_time=np.inf, fit_init="zero", lr=0.0,
                    fit_noise="expected", metric="w2", **fixed) -> xr.Dataset:
    """First-order :math:`\\mathbb E W_2^2` of diffusion samplers and the bias split, on the grid of ``n_samples`` and
    the sampler's axes ``scheme``, ``init``, ``n_steps``, ``t_min`` (scalars: scalar coordinates; lists: dimensions).

    ``fixed``: the other :class:`~gaussdsm.samplers.Diffusion` parameters (``process``, ``grid``, ``T``,
    ``beta_min``, ...).  Returns the variables of :func:`gaussdsm.theory.error_terms` (``optimization`` is 0: the
    scores are exact DSM minimisers) and ``bias_init``, ``bias_discretization``, ``bias_stopping``, ``nfe``.
    ``kappa``: the spectrum's R11 factors for ``model='fourier'``.  With the population score alone (every N inf)
    the variance maps are evaluated without derivatives (no kernel to compute).  ``fit_method``, ``train_time``
    (a scalar or a list: one more axis), ``fit_init``, ``lr``: scores trained for a finite time
    (:class:`gaussdsm.samplers.diffusion.Training`; ``fit_noise`` is Monte Carlo's: the theory is that of the
    expected loss; the fit is still a function of each eigenvalue of
    :math:`\\hat\\Sigma`, so the same expansion holds with F the variance map of sampler and training together).
    ``metric``: a :data:`gaussdsm.metrics.METRICS` name; the bias split then holds that metric between the same
    commuting laws (sampled law first).
    """
    from ..metrics import get as _metric

    m = _metric(metric)
    lam = np.asarray(lam, dtype=float)
    N = np.asarray(n_samples, dtype=float)
    axes = {"scheme": scheme, "init": init, "n_steps": n_steps, "t_min": t_min}
    trained = fit_method != "exact"
    if trained:
        axes["train_time"] = train_time
    axis_names = tuple(axes)
    vals = {k: np.atleast_1d(np.asarray(v)) for k, v in axes.items()}
    shape = tuple(v.size for v in vals.values())
    names = ("bias", "bias_init", "bias_discretization", "bias_stopping", "generalization_sum", "n_samples_scale",
             "nfe", "second_order")
    out = {k: np.full(shape, np.nan) for k in names}
    population = bool(np.all(np.isinf(N)))
    for idx in itertools.product(*(enumerate(v) for v in vals.values())):
        (_, sch), (_, ini), (_, K), (_, tm) = idx[:4]
        train = dict(fit_method=fit_method, train_time=float(idx[4][1]), fit_init=fit_init, lr=lr) if trained else {}
        s = build("diffusion", scheme=str(sch), init=str(ini), n_steps=float(K), t_min=float(tm), **fixed, **train)
        at = tuple(i for i, _ in idx)
        if population:
            F, bad = s.variance_and_flags(lam)
            D = F - lam
        else:
            mu = _jet.variable(lam)
            F, bad = s.variance_and_flags(mu)
            F, D, D1, D2 = (*_jet.derivatives(F, lam.shape)[:1], *_jet.derivatives(F - mu, lam.shape))
        out["nfe"][at] = s.nfe
        out["n_samples_scale"][at] = s.n_samples_scale(lam, per_mode=model != "full")
        if np.any(bad):
            continue
        r = s.reference(lam)
        F_exact = F if s.init == "exact" else s.exactly_initialised().variance(lam)
        out["bias"][at] = m.bias(lam, F, D)
        out["bias_init"][at] = m.commuting(F, F_exact)
        out["bias_discretization"][at] = m.commuting(F_exact, r)
        out["bias_stopping"][at] = m.commuting(r, lam)
        out["generalization_sum"][at] = 0.0 if population else m.generalization_sum(lam, F, D, D1, D2, model, kappa)
        out["second_order"][at] = 0.0 if population else second_order_coefficient(lam, F, D1, D2, model, kappa)
    dims = [a for a in axis_names if vals[a].size > 1 or np.ndim(axes[a]) > 0]
    coords = {a: _coord(a, axes[a]) for a in axis_names}

    def da(name):
        arr = out[name].reshape([vals[a].size for a in axis_names])
        arr = arr.reshape([vals[a].size for a in axis_names if a in dims] or [])  # drop scalar axes
        return xr.DataArray(arr, dims=dims, coords={a: coords[a] for a in dims})

    Nda = _coord("n_samples", N if N.ndim else N[()])
    if Nda.ndim == 0:
        Nda = Nda.astype(np.int64) if np.isfinite(N) and float(N) == round(float(N)) else Nda
    elif np.all(np.isfinite(N)) and np.all(N == np.round(N)):
        Nda = Nda.astype(np.int64)
        Nda = Nda.assign_coords(n_samples=Nda.values)
        Nda["n_samples"].attrs.update(attrs("n_samples"))
    b = da("bias")
    g = da("generalization_sum") / Nda
    o = xr.zeros_like(b)
    total = b + g + o
    valid = np.isfinite(total)
    scale = da("n_samples_scale")
    second = xr.where(np.isinf(Nda), 0.0, da("second_order") / Nda.astype(float) ** 2).where(valid)
    in_regime = valid & (second <= REGIME_BOUND * total)
    ds = xr.Dataset({
        "bias": b.assign_attrs(attrs("bias")),
        "bias_init": da("bias_init").assign_attrs(attrs("bias_init")),
        "bias_discretization": da("bias_discretization").assign_attrs(attrs("bias_discretization")),
        "bias_stopping": da("bias_stopping").assign_attrs(attrs("bias_stopping")),
        "generalization": g.assign_attrs(attrs("generalization")),
        "optimization": o.assign_attrs(attrs("optimization")),
        "total": total.assign_attrs(attrs("total")),
        "valid": valid.astype(np.int8).assign_attrs(attrs("valid")),
        "in_regime": in_regime.astype(np.int8).assign_attrs(attrs("in_regime")),
        "optimization_available": xr.ones_like(valid, dtype=np.int8).assign_attrs(attrs("optimization_available")),
        "n_samples_scale": scale.assign_attrs(attrs("n_samples_scale")),
        "second_order": second.assign_attrs(attrs("second_order")),
        "nfe": da("nfe").assign_attrs(attrs("nfe")),
    })
    for a in axis_names:
        if a not in dims:
            ds = ds.assign_coords({a: coords[a]})
    if Nda.ndim == 0:
        ds = ds.assign_coords(n_samples=Nda)
    ds.attrs.update(model=model, loss_factor=1.0, batch_size=1, **SamplerSpec("diffusion", {}, fixed).to_attrs())
    if trained:
        ds.attrs.update(fit_method=fit_method, fit_init=fit_init, lr=float(lr), fit_noise=fit_noise)
    if m.name != "w2":
        ds.attrs["metric"] = m.name
    return ds
