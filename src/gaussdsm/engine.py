"""The one engine of the error breakdown: :func:`error` (``gaussdsm.error``, and the command ``gaussdsm error``,
which parses its options and calls it) and :func:`run_study` (``gaussdsm.run_study``: a whole study config, in
memory, through the workflow's stages).

Front door (a notebook)::

    >>> import gaussdsm
    >>> ds = gaussdsm.error(d=8, n_samples=[100, 1000], sigma=0.2, gamma=0.02, mc=50)
    >>> ds["total"].sel(n_samples=1000).item(), ds["z"].values  # theory vs Monte Carlo, in standard errors

Every option is the command line's, by its Python name; a list is a grid axis (the Cartesian product of the
lists, one dimension each, named by the option).  The sampler of every setting is built by the one builder
:func:`gaussdsm.samplers.spec.build` (through :class:`~gaussdsm.samplers.spec.SamplerSpec`); the theory is
:func:`gaussdsm.theory.error_terms`, the Monte Carlo :mod:`gaussdsm.montecarlo`.  Bad input raises ``ValueError``
with one line naming the key as a study's config does (``sampler.scheme``, ``grid.sigma``) and its allowed values,
before any work.  Heavy modules are imported inside the functions: ``import gaussdsm`` stays light.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _checks, rules

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["error", "run_study", "StudyResult", "check_metric", "KEYS", "choices", "schema_path"]

def check_metric(metric: str) -> str:
    """The one place :func:`error` reads its ``metric``: a name of the registry :data:`gaussdsm.metrics.METRICS`
    (``w2``: the squared Wasserstein-2 distance; ``kl_sample_data``, ``kl_data_sample``)."""
    from .metrics import METRICS

    return _checks.choice("metric", metric, METRICS)


SPECTRUM_KEYS = ("alpha", "scale", "beta", "omega0", "values", "file", "image", "side", "resize", "grayscale", "data")
"""The spectrum parameters (:data:`gaussdsm.spectra.PARAM_KEYS`; ``test_frontdoor`` checks they agree)."""
LANGEVIN_AXES = ("n_samples", "sigma", "gamma", "tau", "n_steps", "friction")
"""Options that :func:`gaussdsm.theory.error_terms` takes as axes for the Langevin family (one vectorised call)."""
DIFFUSION_AXES = ("n_samples", "scheme", "init", "n_steps", "t_min", "train_time")
"""Options that :func:`gaussdsm.theory.error_terms` takes as axes for diffusion samplers."""
DIFFUSION_ONLY = ("process", "scheme", "grid", "t_min", "init", "T", "beta_min", "beta_max", "sigma_min", "sigma_max",
                  "denoise", "steps_per_level", "eps", "exp_rate", "s_churn", "s_tmin", "s_tmax", "s_noise", "eta",
                  "noise_scale", "rho", "poly_rho", "beta_alpha", "beta_beta", "shift", "image_seq_len")
"""The :class:`~gaussdsm.samplers.diffusion.Diffusion` arguments besides ``n_steps`` (``test_frontdoor`` checks them
against :data:`gaussdsm.samplers.diffusion.DEFAULTS`)."""
OPTIMAL_OPTIONS = ("optimal_n_samples", "optimal_metric")
"""``grid='optimal'``: what the grid minimises (:data:`gaussdsm.samplers.spec.OPTIMAL_PARAMS`; the grid is resolved
for the spectrum by :func:`gaussdsm.schedule.resolve` when the leaf runs)."""
FIT_KEYS = {"fit": "fit.method", "train_time": "fit.train_time", "fit_init": "fit.init", "lr": "fit.lr",
            "depth": "fit.depth", "init_scale": "fit.init_scale"}
"""The fit options and their config keys."""
FIT_DEFAULTS = {"fit": "exact", "train_time": math.inf, "fit_init": "zero", "lr": 0.0, "depth": 1, "init_scale": None}
"""The fit options' defaults (the exact fit): any other value is for diffusion samplers only."""
KEYS = {"spectrum": "spectrum.kind", "d": "spectrum.d", **{k: f"spectrum.{k}" for k in SPECTRUM_KEYS},
        **{k: f"grid.{k}" for k in ("n_samples", "sigma", "gamma", "tau")},
        "loss_factor": "fit.loss_factor", "model": "fit.model", "kernel_size": "fit.kernel_size",
        "sampler": "sampler.kind",
        **{k: f"sampler.{k}" for k in ("n_steps", "init_var", "friction", *DIFFUSION_ONLY, *OPTIMAL_OPTIONS)},
        **FIT_KEYS,
        "metric": "metric", "theory": "theory.kind", "mc": "mc", "seed": "seed", "max_time": "max_time"}
"""Every option of :func:`error` and the key its messages name (a study config's, where it has one)."""


def choices() -> dict[str, Sequence]:
    """The allowed values of the choice options, from their registries."""
    from .dsm import FIT_INITS, FIT_METHODS
    from .metrics import METRICS
    from .samplers import KINDS as SAMPLERS
    from .samplers.diffusion import GRIDS, PROCESSES, SCHEMES, START_LAWS
    from .samplers.spec import OPTIMAL
    from .spectra import SOURCES
    from .theory import MODELS
    from .theory.kinds import CHOICES as THEORIES

    return {"spectrum": tuple(SOURCES), "model": (*MODELS, "conv"), "theory": THEORIES, "sampler": tuple(SAMPLERS),
            "process": tuple(PROCESSES), "scheme": tuple(SCHEMES), "grid": (*GRIDS, OPTIMAL), "init": START_LAWS,
            "fit": FIT_METHODS, "fit_init": FIT_INITS, "optimal_metric": tuple(METRICS)}


#: numeric options: (check, bounds) -- the command line's argument types (gaussdsm.cli) say the same
NUMBERS = {
    "d": ("integer", {"ge": 1}), "side": ("integer", {"ge": 1}), "kernel_size": ("integer", {"ge": 1}),
    "n_samples": ("integer", {"ge": 1, "allow_inf": True}),
    "sigma": ("number", {"ge": 0}), "gamma": ("number", {"ge": 0}), "tau": ("number", {"ge": 0}),
    "loss_factor": ("number", {"gt": 0}), "n_steps": ("integer", {"ge": 1, "allow_inf": True}),
    "init_var": ("number", {"ge": 0}), "friction": ("number", {"gt": 0}), "t_min": ("number", {"ge": 0}),
    "T": ("number", {"gt": 0}), "beta_min": ("number", {"gt": 0}), "beta_max": ("number", {"gt": 0}),
    "sigma_min": ("number", {"gt": 0}), "sigma_max": ("number", {"gt": 0}),
    "steps_per_level": ("integer", {"ge": 1}), "eps": ("number", {"gt": 0}), "exp_rate": ("number", {}),
    "s_churn": ("number", {"ge": 0}), "s_tmin": ("number", {"ge": 0}), "s_tmax": ("number", {"ge": 0, "allow_inf": True}),
    "s_noise": ("number", {"gt": 0}), "eta": ("number", {"ge": 0}), "noise_scale": ("number", {"ge": 0}),
    "rho": ("number", {"gt": 0}), "poly_rho": ("number", {"gt": 0}), "beta_alpha": ("number", {"gt": 0}),
    "beta_beta": ("number", {"gt": 0}), "shift": ("number", {"gt": 0}), "image_seq_len": ("integer", {"ge": 1}),
    "train_time": ("number", {"ge": 0, "allow_inf": True}),
    "lr": ("number", {"ge": 0}), "depth": ("integer", {"ge": 1}), "init_scale": ("number", {"gt": 0}),
    "alpha": ("number", {"ge": 0}), "scale": ("number", {"gt": 0}),
    "beta": ("number", {"ge": 0}), "omega0": ("number", {"gt": 0}), "mc": ("integer", {"ge": 0}),
    "seed": ("integer", {"ge": 0}), "max_time": ("number", {"gt": 0, "allow_inf": True}),
    "optimal_n_samples": ("number", {"gt": 0, "allow_inf": True}),
}
NOT_AXES = ("values", "max_time", "progress", "theory")
"""Options that are never a grid axis (``values`` is the list of eigenvalues; ``grid`` as a list of numbers is an
explicit time grid)."""


def _is_axis(name: str, value) -> bool:
    import numpy as np

    if name in NOT_AXES or not isinstance(value, list | tuple | np.ndarray):
        return False
    return not (name == "grid" and all(isinstance(v, int | float | np.number) for v in value))


def _check_value(name: str, value, allowed: dict):
    """One value of option ``name``, checked (one line naming its key and the allowed range or values)."""
    key = KEYS[name]
    if value is None:
        return None
    if name == "metric":
        return check_metric(value)
    if name in allowed and not (name == "grid" and not isinstance(value, str)):
        return _checks.choice(key, value, allowed[name])
    if name in NUMBERS:
        check, bounds = NUMBERS[name]
        return getattr(_checks, check)(key, value, **bounds)
    return value


def _options(opts: dict) -> tuple[dict, dict]:
    """``(scalars, axes)``: every option checked; the lists (grid axes) apart, each value checked."""
    allowed = choices()
    scalars, axes = {}, {}
    for name, value in opts.items():
        if _is_axis(name, value):
            vals = list(value)
            if not vals:
                raise ValueError(f"{KEYS[name]}: an axis needs at least 1 value")
            vals = [_check_value(name, v, allowed) for v in vals]
            if len(set(map(str, vals))) != len(vals):
                raise ValueError(f"{KEYS[name]}: the values of an axis must be unique; got {list(value)!r}")
            axes[name] = vals
        else:
            scalars[name] = value if name in ("values", "progress") else _check_value(name, value, allowed)
    return scalars, axes


# ------------------------------------------------------------------------------------------------- one setting
class _Leaf(NamedTuple):
    """A setting whose remaining lists are the theory's own axes: its spectrum, sampler and options."""

    options: dict  # every option: scalars, and lists for the theory's own axes
    axes: tuple  # the option names that are lists here
    sp: Any  # gaussdsm.spectra.Spectrum
    spectrum_info: dict
    spec: Any  # SamplerSpec
    sampler_info: dict  # the sampler's parameters, as the command line's JSON reports them


def _given(value) -> bool:
    """An option the caller set: not None and not a switch left off (0 and 0.0 are values: ``alpha=0`` is flat)."""
    return value is not None and value is not False


def _spectrum(o: dict, made: dict):
    """The spectrum of the options (made once per distinct setting of a call: ``made``) and its description."""
    from .spectra import SOURCES, spectrum

    params = {k: o[k] for k in SPECTRUM_KEYS if _given(o.get(k))}
    d = o["d"] if o["d"] is not None or not SOURCES[o["spectrum"]].needs_d else 16
    key = json.dumps([o["spectrum"], d, params], sort_keys=True, default=str)
    if key not in made:
        made[key] = spectrum(o["spectrum"], d, **params)
    sp = made[key]
    return sp, {"kind": o["spectrum"], "d": sp.d, **params, **({"source": sp.info} if sp.info else {})}


def _as_list(v) -> list:
    return list(v) if isinstance(v, list) else [v]


def _sampler_spec(o: dict):
    """The setting's :class:`~gaussdsm.samplers.spec.SamplerSpec` (axes: the sampler's options, lists or one value)
    and its parameters as reported; the rules of which options a sampler takes (:mod:`gaussdsm.rules`)."""
    from .samplers.spec import SamplerSpec

    kind = o["sampler"]
    if kind == "diffusion":
        given = [k for k in ("sigma", "gamma", "friction") if o[k] is not None]
        if given or any(float(t) > 0 for t in _as_list(o["tau"])):
            raise ValueError(rules.not_for_diffusion(KEYS[k] for k in (given or ["tau"])))
        fixed = {k: o[k] for k in (*DIFFUSION_ONLY, *OPTIMAL_OPTIONS) if k not in ("scheme", "init", "t_min")
                 and o[k] is not None}
        axes = {"scheme": _as_list(o["scheme"] or "em"), "init": _as_list(o["init"] or "standard"),
                "n_steps": _as_list(o["n_steps"]), "t_min": _as_list(1e-3 if o["t_min"] is None else o["t_min"])}
        info = {"n_steps": o["n_steps"], **{k: o[k] for k in (*DIFFUSION_ONLY, *OPTIMAL_OPTIONS) if o[k] is not None}}
        info.setdefault("scheme", "em")
        if o["fit"] != "exact":  # scores trained for a finite time at every level
            axes["train_time"] = _as_list(o["train_time"])
            fixed.update(fit_method=o["fit"], fit_init=o["fit_init"], lr=o["lr"])
            info.update(fit_method=o["fit"], train_time=o["train_time"], fit_init=o["fit_init"], lr=o["lr"])
            if o["depth"] != 1 or o["init_scale"] is not None:  # the two-layer denoiser P P^T
                fixed.update(fit_depth=o["depth"], fit_init_scale=o["init_scale"])
                info.update(fit_depth=o["depth"], fit_init_scale=o["init_scale"])
        else:
            why = rules.only_for_trained_fits(KEYS[k] for k, default in FIT_DEFAULTS.items() if o[k] != default)
            if why:
                raise ValueError(why)
        return SamplerSpec("diffusion", axes, fixed), {"kind": "diffusion", **info}
    given = [KEYS[k] for k in (*DIFFUSION_ONLY, *OPTIMAL_OPTIONS) if _given(o[k])]
    given += [KEYS[k] for k, default in FIT_DEFAULTS.items() if o[k] != default]
    why = rules.only_for_diffusion(given) or rules.required_by(kind, [KEYS[k] for k in ("sigma", "gamma")
                                                                      if o[k] is None])
    if why:
        raise ValueError(why)
    axes = {"gamma": _as_list(o["gamma"]), "n_steps": _as_list(o["n_steps"])}
    if o["friction"] is not None:
        axes["friction"] = _as_list(o["friction"])
    info = {"gamma": o["gamma"], "n_steps": o["n_steps"], "init_var": o["init_var"], "friction": o["friction"]}
    return SamplerSpec(kind, axes, {"init_var": o["init_var"]}), {"kind": kind, **info}


def _leaf(o: dict, listed: Sequence[str], made: dict, at: dict) -> _Leaf:
    """Check one setting and make its spectrum and sampler (every sampler setting built once: its errors are the
    config's, raised before any work; on a grid they say at which values: ``at``, the outer axes' values)."""

    def where(values: dict) -> str:
        return f" (at {', '.join(f'{k}={v}' for k, v in values.items())})" if values else ""

    try:
        sp, sp_info = _spectrum(o, made)
        spec, info = _sampler_spec(o)
    except ValueError as err:
        raise ValueError(f"{err}{where(at)}") from None
    for setting in spec.settings():
        try:
            made_sampler = spec.make(setting)
            if o["model"] == "conv":
                from .conv import check_sampler

                check_sampler(made_sampler)
        except ValueError as err:
            here = {k: v for k, v in zip(spec.axes, setting) if k in listed}
            raise ValueError(f"{err}{where({**at, **here})}") from None
    if any(float(t) > 0 for t in _as_list(o["tau"])):
        why = rules.population_learns_nothing(_as_list(o["n_samples"]), "SGD (grid.tau > 0)")
        if why:
            raise ValueError(why)
    kernel_size = o["kernel_size"] if o["model"] == "conv" or "model" not in at else None  # models compared: conv's
    why = rules.fourier_spectrum(o["model"], o["spectrum"], sp.kappa is not None) or rules.conv_model(
        o["model"], kernel_size, o["spectrum"], sp.grid, o["fit"], any(float(t) > 0 for t in _as_list(o["tau"])),
        o["depth"])
    if why:
        raise ValueError(why)
    from .theory.kinds import resolve

    for t in _as_list(o["tau"]):  # the theory kind applies at every point (auto: always)
        try:
            resolve(o["theory"], o["model"], float(t), key=KEYS["theory"])
        except ValueError as err:
            raise ValueError(f"{err}{where(at)}") from None
    return _Leaf(o, tuple(listed), sp, sp_info, spec, info)


def _points(leaf: _Leaf) -> list[dict]:
    """Every point of a leaf: the options at one value of each of its lists."""
    names = list(leaf.axes)
    return [{**leaf.options, **dict(zip(names, vals))}
            for vals in itertools.product(*(leaf.options[n] for n in names))]


def _cost(leaf: _Leaf):
    """``(theory cost, total cost)`` of a leaf (:func:`gaussdsm.budget.estimate`, summed over its points)."""
    from . import budget

    pts = _points(leaf)
    lam, o = leaf.sp.lam, {**leaf.options, "model": _cost_model(leaf.options)}
    theory = budget.estimate(lam.size, model=o["model"], n_samples=float(pts[0]["n_samples"]), theory_points=len(pts))
    costs = [budget.estimate(lam.size, model=o["model"], n_samples=float(p["n_samples"]), mc=o["mc"] or 0,
                             tau=float(p["tau"]), lam_min=float(lam.min()), sigma=float(p["sigma"] or 0.0),
                             loss_factor=o["loss_factor"]) for p in pts]
    top = max(costs, key=lambda c: c.seconds)
    total = budget.Cost(sum(c.seconds for c in costs), max(c.memory_mb for c in costs), top.what)
    if leaf.options["model"] == "conv":  # its expansion evaluates the law of many patch covariances
        from .conv import seconds

        th, mc = seconds(leaf.sp, o["kernel_size"], leaf.spec, pts, o["mc"] or 0)
        where = f"model conv, kernel_size = {o['kernel_size']}, d = {lam.size}"
        theory = budget.Cost(th, theory.memory_mb, f"theory, {where}")
        total = budget.Cost(th + mc, total.memory_mb, f"{'theory' if th >= mc else 'Monte Carlo'}, {where}")
    return theory, total


def _cost_model(o: dict) -> str:
    """The model whose costs :mod:`gaussdsm.budget` estimates (``conv``: O(d) per level, as the Fourier model's)."""
    return "fourier" if o["model"] == "conv" else o["model"]


# ------------------------------------------------------------------------------------------------- the work
def _theory(leaf: _Leaf) -> xr.Dataset:
    """:func:`gaussdsm.theory.error_terms` of the leaf in one vectorised call (its lists as dimensions); ``conv``:
    its terms at every point (:func:`gaussdsm.conv.fill_terms`) on that grid."""
    from .theory import error_terms

    o, lam = leaf.options, leaf.sp.lam
    kw = leaf.spec.theory_kwargs()
    model = _cost_model(o)
    if leaf.spec.diffusion:
        ds = error_terms(lam, o["n_samples"], model=model, kappa=leaf.sp.kappa, metric=o["metric"], **kw)
    else:
        ds = error_terms(lam, o["n_samples"], o["sigma"], tau=o["tau"], loss_factor=o["loss_factor"], model=model,
                         kappa=leaf.sp.kappa, metric=o["metric"], **kw)
    if o["model"] == "conv":
        from .conv import fill_terms

        ds = fill_terms(ds, leaf.sp, leaf.spec, o["kernel_size"], o["metric"])
    return _theory_kind(ds.squeeze([d for d in ds.dims if d not in leaf.axes]), leaf)


def _theory_kind(ds: xr.Dataset, leaf: _Leaf) -> xr.Dataset:
    """The kind of theory of every point (option ``theory``, :data:`gaussdsm.theory.kinds.THEORIES`): variable
    ``theory``; where it is not the expansion, ``total`` is that kind's value, ``total_expansion`` the first-order sum
    (the terms stay the first-order decomposition), ``p_unstable``, ``quad_error`` and ``theory_note`` (why the
    kind's total is infinite, NaN or not converged) beside it."""
    import numpy as np
    import xarray as xr

    from .theory.kinds import evaluate, resolve
    from .vocabulary import attrs

    o, lam = leaf.options, leaf.sp.lam
    dims, shape = ds["total"].dims, ds["total"].shape
    tau = ds["tau"].broadcast_like(ds["total"]).values if "tau" in ds.coords else np.zeros(shape)
    used = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        used[idx] = resolve(o["theory"], o["model"], float(tau[idx]), key=KEYS["theory"])
    if o["theory"] != "expansion":
        total, extra = ds["total"].values.copy(), {}
        kind_regime = np.ones(shape, dtype=bool)
        for kind in dict.fromkeys(k for k in used.flat if k != "expansion"):
            vals = evaluate(kind, ds, lam, leaf.spec, model=o["model"], kappa=leaf.sp.kappa, metric=o["metric"])
            here = used == kind
            total[here], kind_regime[here] = vals["total"][here], vals["in_regime"][here]
            for k in ("p_unstable", "quad_error", "reason"):
                extra.setdefault(k, np.full(shape, "" if k == "reason" else np.nan, dtype=object if k == "reason"
                                            else float))[here] = vals[k][here]
        ds["total_expansion"] = ds["total"].assign_attrs(attrs("total_expansion"))
        ds["total"] = xr.DataArray(total, dims=dims, attrs=attrs("total_by_theory"))
        for k in ("p_unstable", "quad_error"):
            if k in extra:
                ds[k] = xr.DataArray(extra[k], dims=dims, attrs=attrs(k))
        if "reason" in extra:
            ds["theory_note"] = xr.DataArray(extra["reason"].astype(str), dims=dims)
        exact_here = used != "expansion"  # the kind holds at every N: in regime where its total is defined (and the
        # kind's own condition holds: a deterministic equivalent's d)
        ds["in_regime"] = ds["in_regime"].copy(data=np.where(exact_here, np.isfinite(total) & kind_regime,
                                                             ds["in_regime"].values))
    ds["theory"] = xr.DataArray(used.astype(str), dims=dims, attrs=attrs("theory"))
    return ds


COUNTS = ("mc_n", "n_diverged", "mc_opt_n", "mc_opt_n_diverged", "mc_drawn_n", "mc_drawn_n_diverged")
"""The Monte-Carlo variables that are counts (0 where the Monte Carlo did not run; the others are NaN there)."""


def _monte_carlo(leaf: _Leaf, points: list) -> dict:
    """The Monte Carlo at every ``(idx, pt)`` of ``points`` (``pt``: the theory at that point, scalar coordinates):
    ``{idx: {variable: value}}``.

    Exact fits: one call of :func:`gaussdsm.montecarlo.exact_fit_errors` per ``n_samples`` serves every sigma and
    sampler setting of the leaf (one draw and decomposition per training set; the numbers of
    :func:`~gaussdsm.montecarlo.monte_carlo_error` at each point); SGD (``tau > 0``): one run per point with its
    paired optimization error; ``fit='gd'``: also the training noise drawn (per point)."""
    from . import progress as bars
    from .montecarlo import (data_streams, drawn_noise_monte_carlo_error, exact_fit_errors, sgd_monte_carlo_error,
                             summarize, zscore)

    o, lam, spec = leaf.options, leaf.sp.lam, leaf.spec
    out, exact = {}, {}
    for idx, pt in points:
        setting = tuple(pt[a].values.item() for a in spec.axes)
        N = pt["n_samples"].values.item()
        tau = float(pt["tau"]) if "tau" in pt.coords else 0.0
        sigma = float(pt["sigma"]) if "sigma" in pt.coords else 0.0
        if tau == 0:
            exact.setdefault(N, []).append((idx, sigma, setting, float(pt["total"])))
            continue
        with bars.timed(_cost_of_point(leaf, pt), "Monte Carlo (SGD)", bar=o["progress"]):
            r, opt = sgd_monte_carlo_error(lam, N, sigma, float(pt["gamma"]), tau, o["mc"], seed=o["seed"],
                                           model=o["model"], loss_factor=o["loss_factor"], sampler=spec.make(setting),
                                           metric=o["metric"])
        out[idx] = dict(mc_mean=r.mean, mc_stderr=r.stderr, mc_n=r.n_valid, n_diverged=r.n_diverged,
                        z=zscore(r.mean, r.stderr, float(pt["total"])), mc_opt_mean=opt.mean,
                        mc_opt_stderr=opt.stderr, mc_opt_n=opt.n_valid, mc_opt_n_diverged=opt.n_diverged,
                        z_opt=zscore(opt.mean, opt.stderr, float(pt["optimization"])))
    draw = "modes" if o["model"] != "full" else "wishart"
    for N, group in exact.items():
        oracle = math.isinf(float(N))
        sigmas = list(dict.fromkeys(g[1] for g in group))
        settings = list(dict.fromkeys(g[2] for g in group))
        smps = [spec.make(st) for st in settings]
        with bars.Progress(1 if oracle else o["mc"], "Monte Carlo", unit="replicates", bar=o["progress"]) as bar:
            if o["model"] == "conv":
                from .conv import conv_errors

                streams = [] if oracle else list(data_streams(o["seed"], o["mc"], N))
                w, dv = conv_errors(leaf.sp, N, streams, sigmas, smps, o["kernel_size"], o["metric"])
                bar.update(max(len(streams), 1))
            else:
                w, dv = exact_fit_errors(lam, N, [] if oracle else data_streams(o["seed"], o["mc"], N), sigmas, smps,
                                         model=o["model"], draw=draw, kappa=leaf.sp.kappa, progress=bar,
                                         metric=o["metric"])
        for idx, sigma, setting, total in group:
            at = (sigmas.index(sigma), settings.index(setting))
            r = summarize(w[at], dv[at], deterministic=oracle)
            out[idx] = dict(mc_mean=r.mean, mc_stderr=r.stderr, mc_n=r.n_valid, n_diverged=r.n_diverged,
                            z=zscore(r.mean, r.stderr, total))
            drawn_too = o["fit"] == "gd" and not oracle and o["metric"] == "w2" and o["model"] != "conv"
            if drawn_too:  # and with the training noise drawn, paired (d x d fits)
                drawn, _, diff = drawn_noise_monte_carlo_error(lam, int(N), smps[at[1]], o["mc"], o["seed"])
                out[idx].update(mc_drawn_mean=drawn.mean, mc_drawn_stderr=drawn.stderr, mc_drawn_n=drawn.n_valid,
                                mc_drawn_n_diverged=drawn.n_diverged, mc_drawn_difference=diff.mean,
                                mc_drawn_difference_stderr=diff.stderr)
    return out


def _cost_of_point(leaf: _Leaf, pt) -> float:
    from . import budget

    o, lam = {**leaf.options, "model": _cost_model(leaf.options)}, leaf.sp.lam
    N = float(pt["n_samples"])
    full = budget.estimate(lam.size, model=o["model"], n_samples=N, mc=o["mc"], tau=float(pt["tau"]),
                           lam_min=float(lam.min()), sigma=float(pt["sigma"]), loss_factor=o["loss_factor"])
    return full.seconds - budget.estimate(lam.size, model=o["model"], n_samples=N).seconds


def _run_leaf(leaf: _Leaf, theory_cost) -> xr.Dataset:
    """The theory of a leaf, each point's diagnosis, and its Monte Carlo (``mc`` replicates at defined points)."""
    import numpy as np
    import xarray as xr

    from . import progress as bars
    from .theory import diagnose
    from .vocabulary import METRIC_TERMS, attrs, metric_attrs

    from .schedule import resolve

    o, lam = leaf.options, leaf.sp.lam
    leaf = leaf._replace(spec=resolve(leaf.spec, lam, kappa=leaf.sp.kappa, model=o["model"]))  # grid optimal
    with bars.timed(theory_cost.seconds, "theory", bar=o["progress"]):
        ds = _theory(leaf)
    dims, shape = ds["total"].dims, ds["total"].shape
    reason, regime, mc_note = (np.full(shape, "", dtype=object) for _ in range(3))
    run, infinite = [], []  # the points whose theory is defined: their Monte Carlo runs; where it is infinite
    for idx in np.ndindex(shape):
        pt = ds.isel(dict(zip(dims, idx)))
        why = diagnose(lam, pt)
        reason[idx], regime[idx] = "\n".join(why["valid"]), "\n".join(why["regime"])
        if np.isfinite(float(pt["bias"])) and np.isfinite(float(pt["generalization"])):
            run.append((idx, pt))
        elif o["mc"] and np.isposinf(float(pt["bias"])):  # a metric that is infinite here (KL, a singular law)
            infinite.append(idx)
            mc_note[idx] = "Monte Carlo not run: the error is infinite here, every draw's too (reason); mc_mean = inf"
        elif o["mc"]:
            mc_note[idx] = "Monte Carlo not run: the theory is not defined here (reason)"
    mc: dict[str, np.ndarray] = {}
    for idx, values in (_monte_carlo(leaf, run) if o["mc"] else {}).items():
        for k, v in values.items():
            mc.setdefault(k, np.full(shape, 0 if k in COUNTS else np.nan))[idx] = v
        if not np.isfinite(values["mc_mean"]):
            mc_note[idx] = f"Monte Carlo: every replicate diverged ({values['n_diverged']} draws)"
        elif not np.isfinite(values["z"]) and values["mc_stderr"] == 0:
            mc_note[idx] = ("z is not defined: the Monte Carlo is deterministic (the population score, standard "
                            "error 0); compare mc_mean with total")
    if o["mc"]:  # the Monte-Carlo variables are there even where no point ran (NaN or 0, with mc_note)
        for k in ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "z"):
            mc.setdefault(k, np.full(shape, 0 if k in COUNTS else np.nan))
        for idx in infinite:
            mc["mc_mean"][idx] = np.inf
    for idx, _ in run:  # values of other points' kinds of Monte Carlo
        missing = [k for k, v in mc.items() if v.dtype.kind == "f" and np.isnan(v[idx])
                   and k not in ("mc_mean", "mc_stderr", "z")]
        if missing:
            note = (f"{', '.join(missing)}: not computed at this point (the SGD values at tau > 0 only, the "
                    "drawn-noise ones for fit gd with a finite n_samples)")
            mc_note[idx] = "\n".join(x for x in (mc_note[idx], note) if x)
    if "theory_note" in ds:  # the theory kind's own notes (not the expansion's regime): why its total is not
        # finite (reason), or a caveat on a finite one (regime_note: not converged, a part estimated, small d)
        note, finite = ds["theory_note"].values, np.isfinite(ds["total"].values)
        reason = np.array([("\n".join(x for x in (r, "" if f or n in r else n) if x))
                           for r, n, f in zip(reason.flat, note.flat, finite.flat)], dtype=object).reshape(shape)
        regime = np.where(ds["theory"].values != "expansion", np.where(finite, note, ""), regime)
        ds = ds.drop_vars("theory_note")
    ds["reason"] = xr.DataArray(reason.astype(str), dims=dims, attrs=attrs("reason"))
    ds["regime_note"] = xr.DataArray(regime.astype(str), dims=dims, attrs=attrs("regime_note"))
    if o["mc"]:
        ds["mc_note"] = xr.DataArray(mc_note.astype(str), dims=dims, attrs=attrs("mc_note"))
    for k, v in mc.items():
        ds[k] = xr.DataArray(v, dims=dims, attrs=attrs(k))
    if o["metric"] != "w2":  # the terms and the Monte Carlo are that metric's: their long names say so
        for k in ds.data_vars:
            if k in METRIC_TERMS:
                ds[k].attrs.update(metric_attrs(o["metric"], k))
        if "z" in ds:
            ds["z"].attrs.update(metric_attrs(o["metric"], "zscore"))
        if "total_expansion" in ds:
            ds["total"].attrs["long_name"] = f"{ds['total'].attrs['long_name']} (by the theory of variable theory)"
    ds.attrs.update(spectrum_json=json.dumps(leaf.spectrum_info, sort_keys=True, default=str),
                    sampler_json=json.dumps(leaf.sampler_info, default=str))
    return ds


def _is_mc(name: str) -> bool:
    """A Monte-Carlo variable (its NaN is explained in ``mc_note``, the theory's in ``reason``)."""
    return name.startswith("mc_") or name in ("z", "z_opt", "n_diverged")


def _concat(parts: list, name: str, values: list) -> xr.Dataset:
    """Datasets of the settings of one outer axis, stacked along it (a variable one of them lacks is NaN there,
    with the reason; a scalar coordinate only some have is dropped)."""
    import numpy as np
    import xarray as xr

    from .vocabulary import TERMS, attrs

    kinds = {k: v.dtype.kind for p in parts for k, v in p.data_vars.items()}
    filled = []
    for p in parts:
        missing = [k for k in kinds if k not in p]
        if missing:
            p = p.copy()
            for k in missing:  # text: empty; counts: 0; values: NaN (with the reason)
                fill = "" if kinds[k] in "US" else 0 if kinds[k] in "iu" else np.nan
                p[k] = xr.full_like(p["total"], fill, dtype=type(fill) if kinds[k] != "f" else float)
                p[k].attrs.update(attrs(k) if k in TERMS else {})
            for where, which in (("mc_note", [k for k in missing if kinds[k] == "f" and _is_mc(k)]),
                                 ("reason", [k for k in missing if kinds[k] == "f" and not _is_mc(k)])):
                if which:
                    note = f"{', '.join(which)}: not defined for this setting ({KEYS[name]} = {p.attrs.get(name, '')})"
                    p[where] = xr.where(p[where] == "", note, p[where] + "\n" + note).assign_attrs(attrs(where))
        filled.append(p)
    shared = set.intersection(*(set(p.coords) for p in filled))
    filled = [p.drop_vars([c for c in p.coords if c not in shared]) for p in filled]
    dim_attrs = attrs(name) if name in TERMS else {"long_name": f"option {name} ({KEYS[name]})", "units": "1"}
    dim = xr.DataArray(np.asarray(values), dims=name, attrs=dim_attrs)
    out = xr.concat(filled, dim=dim, coords="different", compat="equals", join="outer", combine_attrs="drop_conflicts")
    if name == "metric":  # one variable holds every metric's values: its long name names the coordinate
        from .vocabulary import METRIC_TERMS

        for k in out.data_vars:
            term = "zscore" if k == "z" else k
            if term in METRIC_TERMS:
                out[k].attrs["long_name"] = METRIC_TERMS[term].format(metric="error metric (coordinate metric)")
    return out


def error(
    *,
    spectrum: str | list = "power_law",
    d: int | list | None = None,
    values: Sequence[float] | None = None,
    file: str | None = None,
    alpha: float | list | None = None,
    scale: float | list | None = None,
    beta: float | list | None = None,
    omega0: float | list | None = None,
    image: str | list | None = None,
    side: int | list | None = None,
    resize: bool = False,
    grayscale: bool = False,
    data: str | list | None = None,
    n_samples: float | list,
    sigma: float | list | None = None,
    tau: float | list = 0.0,
    loss_factor: float | list = 1.0,
    model: str | list = "full",
    kernel_size: int | list | None = None,
    sampler: str | list = "ula",
    gamma: float | list | None = None,
    n_steps: float | list = math.inf,
    init_var: float | list = 1.0,
    friction: float | list | None = None,
    process: str | list | None = None,
    scheme: str | list | None = None,
    grid: str | list | None = None,
    t_min: float | list | None = None,
    init: str | list | None = None,
    T: float | list | None = None,
    beta_min: float | list | None = None,
    beta_max: float | list | None = None,
    sigma_min: float | list | None = None,
    sigma_max: float | list | None = None,
    denoise: bool | list = False,
    steps_per_level: int | list | None = None,
    eps: float | list | None = None,
    exp_rate: float | list | None = None,
    s_churn: float | list | None = None,
    s_tmin: float | list | None = None,
    s_tmax: float | list | None = None,
    s_noise: float | list | None = None,
    eta: float | list | None = None,
    noise_scale: float | list | None = None,
    rho: float | list | None = None,
    poly_rho: float | list | None = None,
    beta_alpha: float | list | None = None,
    beta_beta: float | list | None = None,
    shift: float | list | None = None,
    image_seq_len: int | list | None = None,
    optimal_n_samples: float | list | None = None,
    optimal_metric: str | list | None = None,
    fit: str | list = "exact",
    train_time: float | list = math.inf,
    fit_init: str | list = "zero",
    lr: float | list = 0.0,
    depth: int = 1,
    init_scale: float | None = None,
    metric: str = "w2",
    theory: str = "expansion",
    mc: int | None = 0,
    seed: int = 0,
    max_time: float = 600.0,
    progress: bool | None = False,
) -> xr.Dataset:
    """The error of the sampled law, its parts by the first-order theory and, with ``mc``, by exact Monte Carlo:
    ``gaussdsm error`` in Python, on a grid.

    .. math::

        \\mathbb E\\,W_2^2 \\approx \\texttt{bias} + \\texttt{generalization} + \\texttt{optimization}

    (theory.md R5-R9, samplers.md §3-§5; :func:`gaussdsm.theory.error_terms`); the Monte Carlo is the exact pipeline
    R12 (:mod:`gaussdsm.montecarlo`), mean over stable replicates (theory.md §7.2 note 5).

    Every option is the command line's (``gaussdsm error --help``) by its Python name.  **A list is a grid axis**:
    the result has one dimension per list, named by the option (the Cartesian product of the lists); the other
    options are scalar coordinates or attributes.  Exceptions: ``values`` (the eigenvalues) and ``grid`` as a list of
    numbers (an explicit time grid) are one value.

    Parameters
    ----------
    spectrum : str
        Data spectrum kind (:data:`gaussdsm.spectra.SOURCES`: ``power_law``, ``stationary_1d``, ``custom``, ...).
    d : int, optional
        Dimension (default 16 for the kinds that need it).
    values : sequence of float, optional
        ``custom``: the eigenvalues :math:`\\lambda` (shape ``(d,)``, ``>= 0``).
    file : str, optional
        ``custom``: eigenvalues from a ``.npy``, ``.txt`` or ``.nc`` (variable ``lam``) file.
    alpha, scale, beta, omega0 : float, optional
        Spectrum parameters (power-law exponent, scale, stationary exponent and corner frequency).
    image, side, resize, grayscale, data : optional
        ``texture`` (an image file or bundled name, crop side, shrink, luminance) and ``pca`` (an array or a bundled
        data set) spectra.
    n_samples : int or inf
        Number :math:`N` of training samples; ``inf``: the population score (no generalization error).
    sigma : float, optional
        DSM noise amplitude :math:`\\sigma` (Langevin family; required there).
    tau : float
        SGD step :math:`\\tau` (0: the exact fit; > 0: stationary SGD, R8).
    loss_factor : float
        :math:`c` in :math:`c\\|x - \\theta y\\|^2`.
    model : {'full', 'diagonal', 'fourier', 'conv'}
        Denoiser (:data:`gaussdsm.theory.MODELS`, and ``conv``: a local convolution, :mod:`gaussdsm.conv`).
    kernel_size : int, optional
        ``model='conv'``: the filter's width K (odd, at most the image's side; a K x K patch in 2-D).
    sampler : {'ula', 'uld', 'diffusion'}
    gamma : float, optional
        Langevin step :math:`\\gamma` (0: continuous time; required by ula and uld).
    n_steps : int or inf
        Steps :math:`K` (inf: the stationary law, or diffusion's continuous-time law).
    init_var : float
        Langevin start :math:`y_0 \\sim \\mathcal N(0, v_0 I)`.
    friction : float, optional
        ULD friction :math:`\\gamma_f` (required by uld).
    process, scheme, grid, t_min, init, T, beta_min, beta_max, sigma_min, sigma_max, denoise, steps_per_level, eps, \
exp_rate, s_churn, s_tmin, s_tmax, s_noise, eta, noise_scale, rho, poly_rho, beta_alpha, beta_beta, shift, image_seq_len
        ``sampler='diffusion'``: the :class:`gaussdsm.samplers.diffusion.Diffusion` arguments (None: its default);
        ``grid='optimal'``: the grid minimising the expected error for the spectrum and the setting
        (:func:`gaussdsm.schedule.resolve`; its times in the ``optimal_grids`` attribute, JSON).
    optimal_n_samples, optimal_metric : float, str, optional
        ``grid='optimal'``: the N the grid is optimised for (default inf: the population score, the bias alone) and
        the metric it minimises (default ``w2``).
    fit : {'exact', 'gradient_flow', 'gd'}
        Diffusion: how every level's denoiser is learned (the DSM minimiser, or trained for ``train_time``).
    train_time, fit_init, lr : float, str, float
        Training time :math:`\\tau`, the denoiser at time 0 (``zero`` or ``identity``), gd's step.
    depth, init_scale : int, float
        ``fit='gradient_flow'``: the denoiser's depth, 1 or 2 (the symmetric two-layer :math:`PP^\\top`), and depth
        2's aligned start :math:`PP^\\top = Q I` (default 0.001; :func:`gaussdsm.dsm.trained_denoiser_depth2`).
    metric : {'w2', 'kl_sample_data', 'kl_data_sample'}
        The error metric (:data:`gaussdsm.metrics.METRICS`): ``w2`` :math:`\\mathbb E\\,W_2^2` (the Fréchet distance),
        ``kl_sample_data`` :math:`\\mathbb E\\,KL(\\text{sampled}\\|\\text{data})`, ``kl_data_sample`` the other way;
        the output's terms and Monte Carlo are that metric's (a list: a ``metric`` dimension).
    theory : {'expansion', 'exact', 'auto'}
        Which theory gives ``total`` (:data:`gaussdsm.theory.kinds.THEORIES`): ``expansion`` the first-order
        expansion (every model); ``exact`` the expected error at every N by chi-square quadrature per mode
        (:func:`gaussdsm.theory.exact_error`; ``model`` diagonal or fourier, ``tau = 0``), with ``total_expansion``
        (the first-order sum), ``p_unstable`` and ``quad_error`` beside it; ``auto``: exact where it applies, the
        expansion elsewhere.  The variable ``theory`` (and the attribute, when one kind served every point) says
        which.  The terms ``bias``, ``generalization``, ``optimization`` are always the first-order decomposition.
    mc : int, optional
        Monte-Carlo replicates per point (0 or None: the theory alone).
    seed : int
        Base seed of the Monte-Carlo streams (:mod:`gaussdsm.montecarlo.streams`: a point's numbers do not depend on
        the rest of the grid).
    max_time : float
        Refuse, before any work, a computation estimated to run longer (seconds; :mod:`gaussdsm.budget`).
    progress : bool, optional
        Progress bars on stderr (None: when stderr is a terminal).

    Returns
    -------
    xarray.Dataset
        Dimensions: one per list option.  Variables (units of the data variance; ``long_name``/``units`` from
        :mod:`gaussdsm.vocabulary`):

        * ``bias``, ``generalization``, ``optimization``, ``total``; diffusion also ``bias_init``,
          ``bias_discretization``, ``bias_stopping``, ``nfe``;
        * ``valid``, ``in_regime``, ``optimization_available``, ``n_samples_scale`` (the theory's flags);
        * ``reason`` (why a term is NaN at the point, one sentence per line; empty where every term is defined),
          ``regime_note`` (why the point is outside the first-order regime) and, with ``mc``, ``mc_note`` (why a
          Monte-Carlo value is NaN there);
        * with ``mc``: ``mc_mean``, ``mc_stderr``, ``mc_n``, ``n_diverged``, ``z`` = (mc_mean - total) / mc_stderr;
          SGD (``tau > 0``): ``mc_opt_mean``, ``mc_opt_stderr``, ``mc_opt_n``, ``mc_opt_n_diverged``, ``z_opt``
          (the paired optimization error, with its control variate);
          ``fit='gd'``: ``mc_drawn_*`` (the training noise drawn at every step, paired with the expected loss);
        * ``lam`` (the spectrum, when it is the same at every point).

        Attributes: ``metric``, the theory's conventions, ``spectrum_json`` and ``sampler_json`` (where one).

    Raises
    ------
    ValueError
        Bad input, before any work: one line naming the key as a study config does (``sampler.scheme must be one of
        em, ei, ...``, ``grid.sigma is required by sampler.kind: ula``); :class:`gaussdsm.budget.BudgetError` for a
        computation above ``max_time`` or the memory available.

    Examples
    --------
    >>> import gaussdsm
    >>> ds = gaussdsm.error(d=8, n_samples=[100, 1000], sigma=0.2, gamma=[0.0, 0.02], mc=40, seed=1)
    >>> ds["total"].dims
    ('n_samples', 'gamma')
    >>> bool((abs(ds["z"]) < 4).all())  # Monte Carlo within 4 standard errors of the theory
    True
    """
    import numpy as np
    import xarray as xr

    from . import budget
    from .vocabulary import attrs

    opts = {k: v for k, v in locals().items() if k in KEYS or k == "progress"}
    scalars, axes = _options(opts)
    kinds = axes.get("sampler", [scalars["sampler"]])
    native = (LANGEVIN_AXES if all(k != "diffusion" for k in kinds) else
              DIFFUSION_AXES if all(k == "diffusion" for k in kinds) else ("n_samples", "n_steps"))
    inner = [k for k in axes if k in native]
    outer = [(k, v) for k, v in axes.items() if k not in native]
    combos = list(itertools.product(*(v for _, v in outer)))
    leaves, made = {}, {}
    for combo in combos:  # every setting checked and made before any work
        o = {**scalars, **{k: axes[k] for k in inner}, **dict(zip((k for k, _ in outer), combo))}
        o["mc"] = o["mc"] or 0
        leaves[combo] = _leaf(o, inner, made, dict(zip((k for k, _ in outer), combo)))
    costs = {c: _cost(leaf) for c, leaf in leaves.items()}
    total = budget.Cost(sum(c[1].seconds for c in costs.values()), max(c[1].memory_mb for c in costs.values()),
                        max(costs.values(), key=lambda c: c[1].seconds)[1].what)
    budget.check(total, scalars["max_time"])
    results = {c: _run_leaf(leaf, costs[c][0]) for c, leaf in leaves.items()}
    for c, ds in results.items():
        ds.attrs.update({k: v for k, v in zip((k for k, _ in outer), c) if k not in ds.attrs})

    def stack(prefix: tuple, level: int):
        if level == len(outer):
            return results[prefix]
        name, vals = outer[level]
        return _concat([stack(prefix + (v,), level + 1) for v in vals], name, vals)

    ds = stack((), 0)
    for k, _ in outer:
        ds.attrs.pop(k, None)
    lams = {json.dumps(leaf.sp.lam.tolist()) for leaf in leaves.values()}
    if len(lams) == 1:
        sp = next(iter(leaves.values())).sp
        ds["lam"] = xr.DataArray(sp.lam, dims="mode", attrs=attrs("lam"))
        ds = ds.assign_coords(mode=("mode", np.arange(sp.lam.size), attrs("mode")))
    if "metric" in scalars:
        ds.attrs["metric"] = scalars["metric"]
    used = set(np.unique(ds["theory"].values).tolist())
    if len(used) == 1:
        ds.attrs["theory"] = used.pop()
    return ds


# ------------------------------------------------------------------------------------------------- a whole study
class StudyResult(NamedTuple):
    """What :func:`run_study` returns (in memory): the study's ``summary`` (``results/<study>/summary.nc`` of the
    workflow), its ``theory`` (``theory.nc``) and ``spectrum`` (``spectrum.nc``)."""

    summary: xr.Dataset
    theory: xr.Dataset
    spectrum: xr.Dataset


def schema_path() -> Path:
    """The workflow's config schema (``workflow/schemas/config.schema.yaml`` of the repository this package is in)."""
    return Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def default_config_path() -> Path:
    """The workflow's default config (``config/config.yaml`` of the repository this package is in)."""
    return Path(__file__).resolve().parents[2] / "config" / "config.yaml"


def _overlay(base: dict, overlay: dict) -> dict:
    """``overlay`` on ``base``, recursively, as Snakemake puts a ``--configfile`` on the Snakefile's ``configfile:``."""
    out = dict(base)
    for k, v in overlay.items():
        out[k] = _overlay(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_study(config: dict | str | Path, study: str | None = None, *, replicates: int | None = None,
              schema: str | Path | None = None) -> StudyResult:
    """Run one study of a config in memory, through the workflow's own stages (:mod:`gaussdsm.stages`).

    The config is validated exactly as the Snakefile does it (:func:`gaussdsm.schema.validate`, defaults filled,
    then :class:`gaussdsm.study.Plan`, i.e. :func:`gaussdsm.study.check_config`); the stages ``spectra``,
    ``fit_scores`` (SGD studies), ``run_sampler`` per chunk, ``analytic_error`` and ``aggregate`` then run in this
    process with the arguments the workflow gives them, on files in a temporary directory that is removed: the same
    numbers as ``snakemake`` (the same streams), without Snakemake.  Keep studies small (no parallel jobs here).

    Parameters
    ----------
    config : dict or path
        A configuration (``studies:``, ``seed``, ...), as a dict (not modified) or a YAML file; an overlay of the
        default config (``config/p1.yaml``: ``run_studies: [p1]``, a study it does not define) is put on
        :func:`default_config_path` first, as ``snakemake --configfile`` does.
    study : str, optional
        The study to run (default: the only one, or the only one of ``run_studies``).
    replicates : int, optional
        Override ``montecarlo.n_replicates`` of the study (>= 2), before validation.
    schema : path, optional
        The config schema (default :func:`schema_path`).

    Returns
    -------
    StudyResult
        ``(summary, theory, spectrum)`` Datasets, loaded in memory (the summary: ``mc_mean``, ``mc_stderr``,
        ``zscore``, ``theory_*`` on the study's grid; :func:`gaussdsm.stages.aggregate`).

    Raises
    ------
    gaussdsm.study.ConfigError
        A bad config (a ``ValueError``), one line per problem naming its key, before any stage runs.

    Examples
    --------
    >>> import gaussdsm
    >>> res = gaussdsm.run_study("tests/configs/tiny.yaml", replicates=10)
    >>> res.summary["zscore"].dims
    ('n_samples', 'sigma', 'gamma', 'tau', 'n_steps')
    """
    import copy
    import tempfile

    import yaml

    from . import stages
    from .io import collect_provenance, read_dataset
    from .schema import validate
    from .study import ConfigError, Plan, provenance_config

    if isinstance(config, dict):
        cfg = copy.deepcopy(config)
    else:
        with open(config, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
    wanted = [study] if study is not None else list(cfg.get("run_studies") or [])
    if not cfg.get("studies") or any(n not in cfg["studies"] for n in wanted):
        with open(default_config_path(), encoding="utf-8") as fh:
            cfg = _overlay(yaml.safe_load(fh), cfg)
    names = list(cfg.get("run_studies") or (cfg.get("studies") or {}))
    if study is None:
        if len(names) != 1:
            raise ConfigError(f"study: the config has {len(names)} studies to run; name one of {', '.join(names)}")
        study = names[0]
    if study not in (cfg.get("studies") or {}):
        raise ConfigError(f"study must be one of {', '.join(cfg.get('studies') or {})}; got {study!r}")
    cfg["run_studies"] = [study]
    cfg.pop("comparisons", None)  # figures of several studies: not run here
    if replicates is not None:
        n = _checks.integer(f"studies.{study}.montecarlo.n_replicates", replicates, ge=2)
        cfg["studies"][study].setdefault("montecarlo", {})["n_replicates"] = n
    path = Path(schema) if schema is not None else schema_path()
    if not path.is_file():
        raise FileNotFoundError(f"the config schema {path} is not there: pass schema= (the workflow's "
                                "workflow/schemas/config.schema.yaml)")
    validate(cfg, path)
    st = Plan(cfg).studies[study]

    def prov(rule: str) -> dict:  # what the workflow's job of that rule records
        return collect_provenance(provenance_config(cfg, {"study": study}, rule), rule=rule)

    with tempfile.TemporaryDirectory(prefix="gaussdsm-study-") as tmp:
        d = Path(tmp)
        spectrum = d / "spectrum.nc"
        stages.spectra(**st.spectrum_args(), out=spectrum, provenance=prov("spectra"))
        chunks = []
        for c in st.chunk_ids:
            fits = None
            if st.fits_scores:
                fits = d / f"fits-{c}.nc"
                stages.fit_scores(spectrum, **st.fit_args(c), out=fits, provenance=prov("fit_scores"))
            chunks.append(d / f"sampler-{c}.nc")
            stages.run_sampler(spectrum, fits, **st.sampler_args(c), out=chunks[-1], provenance=prov("run_sampler"))
        stages.analytic_error(spectrum, **st.theory_args(), out=d / "theory.nc", provenance=prov("analytic_error"))
        stages.aggregate(spectrum, d / "theory.nc", chunks, **st.aggregate_args(), out=d / "summary.nc",
                         provenance=prov("aggregate"))
        loaded = [read_dataset(d / f"{k}.nc").load() for k in ("summary", "theory", "spectrum")]
    return StudyResult(*loaded)
