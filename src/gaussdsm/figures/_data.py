"""What the panels' ``data`` functions share: reading a summary, theory on a dense grid, the Monte-Carlo points.

No plotting here.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory
from ..io import read_dataset
from ..samplers import Diffusion
from ..samplers.spec import SamplerSpec

__all__ = ["load", "metric_view", "first_setting", "kappa_kwargs", "diffusion_kwargs", "diffusion_theory", "theory_kwargs", "sgd_kwargs", "sampler_kwargs", "theory_on", "mc_vars",
           "mc_sigma_star", "dense_n", "dense_steps", "dense_log"]

SAMPLER_AXES = ("n_steps", "friction")
DIFFUSION_AXES = Diffusion.axes

MC_VARS = ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "diverged", "theory_total")
MC_OPT_VARS = ("mc_opt_mean", "mc_opt_stderr", "theory_optimization")


def load(summary_path, rule: str) -> xr.Dataset:
    """A study's ``summary.nc``, with the variables every panel needs."""
    return read_dataset(summary_path, rule, required=("mc_mean", "mc_stderr", "theory_total", "lam", "diverged"))


#: the summary variables a metric other than W2 has under its own name (``<metric>_<name>``)
METRIC_VIEW_VARS = ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "mc_opt_mean", "mc_opt_stderr", "zscore",
                    "zscore_opt", "theory_bias", "theory_generalization", "theory_optimization", "theory_total",
                    "theory_valid", "theory_in_regime", "theory_optimization_available", "theory_bias_init",
                    "theory_bias_discretization", "theory_bias_stopping")


def summary_metric(summary: xr.Dataset) -> str:
    """The metric a summary's figures plot by default: the first of its study's ``metrics`` (``w2`` if none)."""
    return str(summary.attrs.get("metrics", "w2")).split()[0]


def metric_view(summary: xr.Dataset, metric: str | None = None) -> xr.Dataset:
    """The summary as the panels read it, for ``metric`` (default :func:`summary_metric`): for W2 the summary itself;
    for another metric its variables ``<metric>_<name>`` under W2's names (``mc_mean``, ``theory_total``, ...),
    ``diverged`` from its own counts, and the attribute ``metric`` (the theory lines then use it).

    Raises
    ------
    ValueError
        If the summary does not hold that metric (one line naming the study's ``metrics``).
    """
    from ..metrics import get

    name = get(metric if metric is not None else summary_metric(summary)).name
    if name == "w2":
        return summary
    if f"{name}_mc_mean" not in summary:
        raise ValueError(f"this summary has no {name}: add it to the study's metrics (now: "
                         f"{summary.attrs.get('metrics', 'w2')})")
    view = summary.drop_vars([k for k in METRIC_VIEW_VARS if k in summary])
    for k in METRIC_VIEW_VARS:
        if f"{name}_{k}" in summary:
            view[k] = summary[f"{name}_{k}"]
    view["diverged"] = (view["n_diverged"] > 0).astype(np.int8).assign_attrs(summary["diverged"].attrs)
    view.attrs["metric"] = name
    return view


def first_setting(summary: xr.Dataset) -> xr.Dataset:
    """The summary at the first value of the sampler's own axes (``n_steps``, ``friction``): a panel that draws
    against the fit's parameters shows one sampler setting (scalar coordinates then say which)."""
    return summary.isel({k: 0 for k in SAMPLER_AXES if k in summary.dims})


def diffusion_kwargs(summary: xr.Dataset) -> dict:
    """The diffusion sampler's fixed parameters of a summary (its ``theory_*`` attributes), for
    ``theory.error_terms(..., sampler="diffusion", **kw)``, and the scalar axes the summary is at."""
    kw = {"model": str(summary.attrs.get("theory_model", "full")), **kappa_kwargs(summary),
          **SamplerSpec.from_attrs(summary.attrs, prefix="theory_").params, **_metric_kwargs(summary)}
    for k in DIFFUSION_AXES:
        if k in summary.coords and summary[k].ndim == 0:
            kw[k] = summary[k].item()
    return kw


def diffusion_theory(summary: xr.Dataset, n_samples, **axes) -> xr.Dataset:
    """Theory for a diffusion summary's spectrum and sampler, on any grid of N and of the sampler's axes."""
    kw = {**diffusion_kwargs(summary), **axes}
    return theory.error_terms(summary["lam"].values, n_samples, sampler="diffusion", **kw)


def _metric_kwargs(summary: xr.Dataset) -> dict:
    """``{"metric": ...}`` for a :func:`metric_view` of a metric other than W2, else ``{}``."""
    return {"metric": summary.attrs["metric"]} if "metric" in summary.attrs else {}


def kappa_kwargs(summary: xr.Dataset) -> dict:
    """``{"kappa": ...}`` for a Fourier-model summary (R11's factors of its stationary spectrum), else ``{}``."""
    if str(summary.attrs.get("theory_model", "full")) == "fourier" and "kappa" in summary:
        return {"kappa": summary["kappa"].values}
    return {}


def theory_kwargs(summary: xr.Dataset) -> dict:
    """The theory conventions a summary was computed with (its ``theory_*`` attributes) and, where the summary
    is at one sampler setting (scalar ``n_steps``/``friction``), that setting."""
    spec = SamplerSpec.from_attrs(summary.attrs, prefix="theory_")
    kw = {
        "loss_factor": float(summary.attrs.get("theory_loss_factor", 1.0)),
        "batch_size": int(summary.attrs.get("theory_batch_size", 1)),
        "model": str(summary.attrs.get("theory_model", "full")),
        "sampler": spec.kind,
        "init_var": float(spec.params.get("init_var", 1.0)),
        **kappa_kwargs(summary),
        **_metric_kwargs(summary),
    }
    for k in SAMPLER_AXES:
        if k in summary.coords and summary[k].ndim == 0:
            kw[k] = float(summary[k])
    return kw


def theory_on(summary: xr.Dataset, n_samples, sigma, gamma, tau) -> xr.Dataset:
    """Theory R9 and its parts (:func:`gaussdsm.theory.error_terms`) for the summary's spectrum, on any grid
    (``fit.model: conv``: :func:`gaussdsm.conv.theory_on`)."""
    kw = theory_kwargs(summary)
    if kw["model"] == "conv":
        from ..conv import theory_on as conv_theory_on

        return conv_theory_on(summary, n_samples, sigma, gamma, tau, kw)
    return theory.error_terms(summary["lam"].values, n_samples, sigma, gamma, tau, **kw)


def sgd_kwargs(summary: xr.Dataset) -> dict:
    """The SGD conventions alone (``loss_factor``, ``batch_size``, ``model``): for R8-based quantities."""
    kw = theory_kwargs(summary)
    return {k: kw[k] for k in ("loss_factor", "batch_size", "model")}


def sampler_kwargs(summary: xr.Dataset) -> dict:
    """The sampler's keyword arguments for :mod:`gaussdsm.theory` functions (``sampler``, ``n_steps``, ...)."""
    kw = theory_kwargs(summary)
    return {k: kw[k] for k in ("sampler", "init_var", *SAMPLER_AXES) if k in kw}


def mc_vars(summary: xr.Dataset) -> dict:
    """The Monte-Carlo points (and the theory at them) that a panel stores beside its lines."""
    keep = list(MC_VARS) + [k for k in MC_OPT_VARS if k in summary]
    return {k: summary[k] for k in keep if k in summary}


def dense_n(n_samples) -> np.ndarray:
    """60 log-spaced integers spanning the N grid (for theory lines)."""
    return np.unique(np.geomspace(np.min(n_samples), np.max(n_samples), 60).round().astype(int))


def dense_steps(n_steps, n: int = 40) -> np.ndarray:
    """About ``n`` log-spaced whole numbers of steps from half the smallest finite K of ``n_steps`` (at least 1) to
    twice the largest (the NFE figures' theory lines: P7, P12)."""
    ks = np.asarray(n_steps, dtype=float)
    fin = ks[np.isfinite(ks)]
    return np.unique(np.geomspace(max(1.0, fin.min() / 2), fin.max() * 2, n).round())


def dense_log(values, n: int, pad: float = 1.5) -> np.ndarray:
    """``n`` log-spaced points from ``min / pad`` to ``max * pad``."""
    return np.geomspace(np.min(values) / pad, np.max(values) * pad, n)


def mc_sigma_star(s: xr.Dataset, N, g, t, z: float = 2.0):
    """MC argmin over the sigma grid at ``(N, gamma, tau)``, and the range of sigma whose mean is within z s.e.

    Returns ``(sigma*, low, high)``; NaN where no point is stable.  Points with diverged draws are left out.
    """
    pt = s.sel(n_samples=N, gamma=g, tau=t)
    m = pt["mc_mean"].where(pt["diverged"] == 0).values
    e = pt["mc_stderr"].values
    if not np.any(np.isfinite(m)):
        return np.nan, np.nan, np.nan
    j = int(np.nanargmin(m))
    ok = np.isfinite(m) & (m - z * np.sqrt(e**2 + e[j] ** 2) <= m[j])
    sig = s["sigma"].values
    return sig[j], sig[ok].min(), sig[ok].max()


def study_points(data: xr.Dataset, name: str) -> xr.Dataset:
    """A comparison's Monte-Carlo points of study ``name`` (``<name>_mc_mean``, ``<name>_mc_stderr``,
    ``<name>_diverged``) under the names :func:`gaussdsm.figures._plot.mc_points` reads."""
    return xr.Dataset({k: data[f"{name}_{k}"] for k in ("mc_mean", "mc_stderr", "diverged")})
