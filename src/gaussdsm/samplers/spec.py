"""One study's sampler as a typed value: its kind, its grid axes and its fixed parameters (the one owner of how a
sampler is read from a config, passed to the stages, evaluated, and written to and read back from NetCDF).

``SamplerSpec.from_config`` reads a study's validated ``sampler:`` section (with the grid's ``gamma``);
``as_dict``/``from_dict`` carry it through Snakemake's ``params:`` (plain JSON-able values); ``settings`` and
``make`` give the samplers of its grid of settings (:mod:`gaussdsm.stages`); ``theory_kwargs`` are the arguments of
:func:`gaussdsm.theory.error_terms`; ``to_attrs``/``from_attrs`` are its NetCDF attributes (flat: a list of times
is written comma-separated, a flag as 0/1) and their inverse (the figures redraw theory lines from a summary).

=========== ============================================================= ==========================================
kind        axes (grid dimensions)                                        params (one value per study)
=========== ============================================================= ==========================================
ula         gamma, n_steps                                                init_var
uld         gamma, n_steps, friction                                      init_var
diffusion   scheme, init, n_steps, t_min                                  :data:`gaussdsm.samplers.diffusion.FIXED_PARAMS`
=========== ============================================================= ==========================================

``sampler.grid: optimal`` (:data:`OPTIMAL`): the time grid minimising the expected error for the study's spectrum
(:func:`gaussdsm.schedule.optimal_grid`), which a sampler setting alone cannot give.  The spec then carries
:data:`OPTIMAL_PARAMS` (the optimiser's target: ``optimal_n_samples``, ``optimal_metric``) and, once
:func:`gaussdsm.schedule.resolve` has been given the spectrum, ``optimal_grids`` ``{grid_key(setting): times}``:
every stage that builds samplers (theory, Monte Carlo, :func:`gaussdsm.error`) resolves the same spec the same way,
and :func:`build` puts each setting's explicit times in place of the name.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np

from .. import _checks
from . import diffusion

__all__ = ["SamplerSpec", "ATTR_KEYS", "build", "OPTIMAL", "OPTIMAL_PARAMS", "grid_key"]

LANGEVIN_ATTRS = ("init_var",)
TRAINING_PARAMS = ("fit_method", "fit_init", "lr", "fit_noise", "fit_depth", "fit_init_scale")
"""A trained diffusion study's params beyond the sampler's: :class:`~gaussdsm.samplers.diffusion.Training` (its
``train_time`` is an axis)."""
OPTIMAL = "optimal"
"""``sampler.grid``'s name of the grid optimised for the spectrum (:func:`gaussdsm.schedule.resolve`)."""
OPTIMAL_PARAMS = {"optimal_n_samples": float("inf"), "optimal_metric": "w2"}
"""What ``sampler.grid: optimal`` minimises and their defaults: the expected error at N = ``optimal_n_samples``
(``inf``: the population score, the bias alone) in the metric ``optimal_metric``."""
OPTIMAL_KEYS = (*OPTIMAL_PARAMS, "optimal_grids")
"""The params of a spec with ``sampler.grid: optimal`` (``optimal_grids``: the resolved times per setting)."""
ATTR_KEYS = ("sampler", *LANGEVIN_ATTRS, *diffusion.FIXED_PARAMS, *TRAINING_PARAMS, *OPTIMAL_KEYS)
"""Every attribute :meth:`SamplerSpec.to_attrs` may write (besides nothing else)."""
DIFFUSION_DEFAULTS = {k: diffusion.DEFAULTS[k] for k in diffusion.FIXED_PARAMS}
TRAINING_KEYS = ("fit_method", "train_time", "fit_init", "lr", "fit_noise", "fit_depth", "fit_init_scale")
"""The settings of :func:`build` that make the :class:`~gaussdsm.samplers.diffusion.Training` of a diffusion sampler
(``fit.method``, ``fit.train_time``, ``fit.init``, ``fit.lr``, ``fit.noise``, ``fit.depth``, ``fit.init_scale``)."""


def grid_key(scheme, init, n_steps, t_min) -> str:
    """The key of one diffusion setting in ``optimal_grids`` (the grid an optimum depends on besides the params)."""
    return f"scheme={scheme} init={init} n_steps={float(n_steps):g} t_min={float(t_min)!r}"


def _optimal(settings: dict) -> None:
    """``sampler.grid: optimal`` in ``settings`` (in place): its checks, and the setting's resolved times for the
    name where ``optimal_grids`` has them (else the name stays: the sampler's ``times`` then says how to resolve)."""
    opt = {k: settings.pop(k) for k in OPTIMAL_KEYS if k in settings}
    if settings.get("grid") != OPTIMAL:
        given = [k for k in OPTIMAL_PARAMS if k in opt and opt[k] is not None]
        if given:
            raise ValueError(f"sampler.{given[0]} is only used with sampler.grid: {OPTIMAL}")
        return
    K = settings.get("n_steps", diffusion.DEFAULTS["n_steps"])
    if not np.isfinite(float(K)):
        raise ValueError(f"sampler.grid {OPTIMAL} needs a finite sampler.n_steps (a grid of K steps); got inf")
    scheme = settings.get("scheme", diffusion.DEFAULTS["scheme"])
    if diffusion.scheme_record(scheme).integrates == "langevin":
        raise ValueError(f"sampler.grid {OPTIMAL} is a time grid: not for sampler.scheme {scheme} (noise levels)")
    if settings.get("fit_method", "exact") != "exact":
        raise ValueError(f"sampler.grid {OPTIMAL} is optimised for the exact score: it needs fit.method exact; got "
                         f"{settings['fit_method']}")
    grids = opt.get("optimal_grids") or {}
    key = grid_key(scheme, settings.get("init", diffusion.DEFAULTS["init"]), K,
                   settings.get("t_min", diffusion.DEFAULTS["t_min"]))
    if key in grids:
        settings["grid"] = [float(x) for x in grids[key]]
        settings.pop("T", None)  # the explicit times fix T, n_steps and t_min
        settings.pop("t_min", None)
        settings.pop("n_steps", None)


def build(kind: str = "ula", **settings):
    """The sampler of one setting: the one builder from settings to a :class:`gaussdsm.samplers.Sampler` (the
    stages, the theory, Monte Carlo and :func:`gaussdsm.error` all build theirs here).

    Parameters
    ----------
    kind : {'ula', 'uld', 'diffusion'}
    **settings
        The sampler's arguments (:func:`gaussdsm.samplers.make`; None = not given) and, for a diffusion sampler
        whose scores are trained, :data:`TRAINING_KEYS`: ``fit_method`` (``exact``, the default, ignores the
        others), ``train_time``, ``fit_init``, ``lr``, ``fit_noise``, ``fit_depth`` (1 or 2), ``fit_init_scale``.

    Returns
    -------
    gaussdsm.samplers.Sampler
        Langevin family: arrays broadcast into a grid of settings; diffusion: one setting.
    """
    from . import make

    if kind == "diffusion":
        _optimal(settings)
    elif any(settings.get(k) is not None for k in OPTIMAL_KEYS):
        raise ValueError(f"sampler.grid {OPTIMAL} is for sampler.kind: diffusion")
    train = {k: settings.pop(k) for k in TRAINING_KEYS if k in settings}
    method = train.get("fit_method", "exact")
    smp = make(kind, **settings)
    if method == "exact":
        return smp
    return smp.with_training(diffusion.Training(method, train.get("train_time", float("inf")),
                                                train.get("fit_init", "zero"), train.get("lr", 0.0),
                                                train.get("fit_noise", "expected"), _depth(train.get("fit_depth", 1)),
                                                train.get("fit_init_scale")))


def _depth(depth):
    """``fit_depth`` as given, an integral float (a NetCDF attribute, a grid value) as an int."""
    return int(depth) if isinstance(depth, float | np.floating | np.integer) and float(depth) == int(depth) else depth
DIFFUSION_AXES = {a: [diffusion.DEFAULTS[a]] for a in ("scheme", "init", "t_min")}


@dataclass(frozen=True)
class SamplerSpec:
    """A study's sampler (module docstring): ``kind``, ``axes`` ``{name: list}`` (grid dimensions, sorted where
    numeric) and ``params`` ``{name: value}``."""

    kind: str
    axes: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ from and to the config / params
    @classmethod
    def from_config(cls, sp: dict, gamma=(), fit=None) -> SamplerSpec:
        """From a validated ``sampler:`` section (defaults filled), the grid's ``gamma`` values and the ``fit:``
        section (a diffusion study with ``fit.method`` gradient_flow or gd gets the axis ``train_time`` and the
        params :data:`TRAINING_PARAMS`).

        Langevin family: axes ``gamma``, ``n_steps`` (inf = stationary), and ``friction`` (ULD); params
        ``init_var``.  Diffusion: axes ``scheme``, ``init``, ``n_steps`` (inf = continuous time), ``t_min``; params
        the other :class:`~gaussdsm.samplers.diffusion.Diffusion` arguments (defaults :data:`DIFFUSION_DEFAULTS`).
        An explicit time grid fixes ``n_steps`` and ``t_min``.
        """
        n_steps = sorted(float(_checks.count(k)) for k in sp["n_steps"])
        if sp["kind"] != "diffusion":
            axes = {"gamma": list(gamma), "n_steps": n_steps}
            if sp.get("friction") is not None:
                axes["friction"] = sorted(float(f) for f in sp["friction"])
            return cls(sp["kind"], axes, {"init_var": float(sp["init_var"])})
        params = {k: sp.get(k, v) for k, v in DIFFUSION_DEFAULTS.items()}
        axes = {"scheme": list(sp.get("scheme", DIFFUSION_AXES["scheme"])),
                "init": list(sp.get("init", DIFFUSION_AXES["init"])),
                "n_steps": n_steps,
                "t_min": sorted(float(t) for t in sp.get("t_min", DIFFUSION_AXES["t_min"]))}
        if params["grid"] == OPTIMAL:
            params.update({k: sp.get(k, v) for k, v in OPTIMAL_PARAMS.items()})
            params["optimal_n_samples"] = float(params["optimal_n_samples"])
        else:  # given without the optimal grid: build says so
            params.update({k: sp[k] for k in OPTIMAL_PARAMS if k in sp})
        if not isinstance(params["grid"], str):
            t = [float(x) for x in params["grid"]]
            params["grid"] = t
            axes["n_steps"], axes["t_min"] = [float(len(t) - 1)], [t[-1]]
        if fit is not None and fit.get("method", "exact") in ("gradient_flow", "gd"):
            axes["train_time"] = sorted(float(x) for x in fit.get("train_time", [float("inf")]))
            params.update(fit_method=fit["method"], fit_init=fit.get("init", "zero"), lr=float(fit.get("lr", 0.0)),
                          fit_noise=fit.get("noise", "expected"))
            if fit.get("depth", 1) != 1 or "init_scale" in fit:  # else nothing: a depth-1 study's params unchanged
                params.update(fit_depth=fit.get("depth", 1), fit_init_scale=fit.get("init_scale"))
        return cls("diffusion", axes, params)

    def as_dict(self) -> dict:
        """``{"kind", "axes", "params"}`` with plain values: what Snakemake's ``params:`` carry to a job."""
        return {"kind": self.kind, "axes": {k: list(v) for k, v in self.axes.items()}, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict) -> SamplerSpec:
        """The inverse of :meth:`as_dict`."""
        return cls(d["kind"], {k: list(v) for k, v in d["axes"].items()}, dict(d["params"]))

    @property
    def diffusion(self) -> bool:
        return self.kind == "diffusion"

    # ------------------------------------------------------------------ the samplers of its settings
    def settings(self) -> list[tuple]:
        """Every setting of the axes (their Cartesian product, in axis order)."""
        return list(itertools.product(*(list(v) for v in self.axes.values())))

    def make(self, setting):
        """The sampler (:func:`gaussdsm.samplers.make`) at one ``setting`` of :meth:`settings`."""
        kw = {k: (str(v) if isinstance(v, str | np.str_) else float(v)) for k, v in zip(self.axes, setting)}
        return build(self.kind, **kw, **self.params)

    def theory_kwargs(self) -> dict:
        """The sampler's arguments of :func:`gaussdsm.theory.error_terms` (axes as arrays or lists)."""
        if self.diffusion:
            return {"sampler": "diffusion", **{k: list(v) for k, v in self.axes.items()}, **self.params}
        fr = self.axes.get("friction")
        return {"gamma": np.asarray(self.axes["gamma"], dtype=float), "sampler": self.kind,
                "n_steps": np.asarray(self.axes["n_steps"], dtype=float), "init_var": float(self.params["init_var"]),
                "friction": None if fr is None else np.asarray(fr, dtype=float)}

    # ------------------------------------------------------------------ NetCDF attributes
    def to_attrs(self) -> dict:
        """Flat NetCDF attributes: ``sampler`` (the kind) and the params (None left out, a list of times
        comma-separated, a flag as 0/1)."""
        out = {"sampler": self.kind}
        for k, v in self.params.items():
            if v is None:
                continue
            if isinstance(v, bool):
                out[k] = int(v)
            elif isinstance(v, dict):  # optimal_grids: {setting: times}, as JSON
                out[k] = json.dumps(v, sort_keys=True)
            elif isinstance(v, list | tuple | np.ndarray):
                out[k] = ",".join(map(str, v))
            else:
                out[k] = v
        return out

    @classmethod
    def from_attrs(cls, attrs, prefix: str = "") -> SamplerSpec:
        """The inverse of :meth:`to_attrs` (axes empty: they are the file's dimensions), from attributes named
        ``prefix + key`` (a summary's are ``theory_*``)."""
        kind = str(attrs.get(f"{prefix}sampler", "ula"))
        if kind != "diffusion":
            return cls(kind, {}, {"init_var": float(attrs.get(f"{prefix}init_var", 1.0))})
        params = {}
        for k in (*diffusion.FIXED_PARAMS, *TRAINING_PARAMS, *OPTIMAL_KEYS):
            if f"{prefix}{k}" not in attrs:
                continue
            v = attrs[f"{prefix}{k}"]
            if k == "grid" and isinstance(v, str) and "," in v:
                v = [float(x) for x in v.split(",")]
            elif k == "optimal_grids":
                v = json.loads(str(v))
            elif k == "denoise":
                v = bool(v)
            params[k] = v.item() if hasattr(v, "item") else v
        return cls(kind, {}, params)
