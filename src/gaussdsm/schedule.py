r"""The best time grid of a diffusion sampler for a spectrum (``gaussdsm schedule``, :func:`optimal_grid`).

For a spectrum :math:`\lambda` (shape ``(d,)``), a number of training samples N (``inf``: the population score), a
process, a scheme, K steps, a stopping time :math:`t_{\min}` and a horizon T, the grid
:math:`T = t_0 > t_1 > \dots > t_K = t_{\min}` minimising the expected error of the first-order theory
(:func:`gaussdsm.theory.error_terms`): the population-score bias :math:`\mathcal M(F(\lambda), \lambda)` at
N = inf, bias + generalization (the 1/N term) at finite N, in the metric ``metric``.

Parametrisation (unconstrained, strictly decreasing by construction): the grid is written on a monotone variable
:math:`u(t)`, :math:`u = \log\tilde\sigma_t` (:math:`\tilde\sigma_t = \sigma_t/m_t`, k-diffusion's noise level)
where it is finite at T and :math:`t_{\min}`, else :math:`u = t`; with K free reals :math:`z_1 \dots z_K`,

.. math:: u_k = u(T) + (u(t_{\min}) - u(T))\sum_{j \le k}\operatorname{softmax}(z)_j,

so the increments are positive and sum to the whole range (one redundant direction, the common shift of z, which
the objective does not see).  The objective is minimised by :func:`scipy.optimize.minimize` (L-BFGS-B, forward
finite-difference gradients: the exact laws are smooth in the grid), from the best of the baselines :data:`BASELINES`
(``karras``, ``exponential``, ``kl_optimal``, the AYS lists), a grid uniform in u and, at finite N, the population
optimum.  The result is never worse
than its start, hence than any baseline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["optimal_grid", "OptimalGrid", "BASELINES", "grid_error", "library_format", "FORMATS", "resolve",
           "optimal_times"]

BASELINES = ("karras", "exponential", "kl_optimal", "ays_sd15", "ays_sdxl")
"""The named grids reported beside the optimum (at the same number of steps)."""
STARTS = BASELINES
"""The named grids the optimiser may start from (the best of them, or a grid uniform in the parametrisation's u)."""


@dataclass
class OptimalGrid:
    """The result of :func:`optimal_grid`: ``grid`` (shape ``(K + 1,)``, T down to t_min), its ``value`` (the expected
    error), the ``baselines`` ``{name: value}`` (``None`` where undefined) and ``skipped`` ``{name: reason}``,
    ``start`` (the baseline it started from), ``nfev`` (objective evaluations) and ``sigmas`` (:math:`\\tilde\\sigma`
    of the grid, where defined)."""

    grid: np.ndarray
    value: float
    baselines: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    start: str = ""
    nfev: int = 0
    sigmas: np.ndarray | None = None


def _sampler(process, scheme, grid, n_steps, t_min, T, params):
    from .samplers.diffusion import Diffusion

    return Diffusion(process=process, scheme=scheme, grid=grid, n_steps=n_steps, t_min=t_min, T=T, **params)


def grid_error(lam, times, *, n_samples=math.inf, process="vp", scheme="euler", metric="w2", model="full",
               kappa=None, params=None) -> float:
    r"""The expected error of the scheme on the explicit grid ``times`` (shape ``(K + 1,)``, decreasing): the bias
    :math:`\mathcal M(F(\lambda), \lambda)` at ``n_samples = inf``, else the total of
    :func:`gaussdsm.theory.error_terms` (bias + generalization / N); ``inf`` where the sampler diverges."""
    from .metrics import get

    params = dict(params or {})
    times = [float(x) for x in times]
    lam = np.asarray(lam, dtype=float)
    if math.isinf(float(n_samples)):
        s = _sampler(process, scheme, times, len(times) - 1, times[-1], times[0], params)
        F, bad = s.variance_and_flags(lam)
        if np.any(bad) or not np.all(np.isfinite(F)):
            return math.inf
        v = float(get(metric).bias(lam, F, F - lam))
    else:
        from .theory import error_terms

        ds = error_terms(lam, float(n_samples), sampler="diffusion", model=model, kappa=kappa, scheme=scheme,
                         process=process, grid=times, n_steps=len(times) - 1, t_min=times[-1], metric=metric,
                         **{k: v for k, v in params.items() if k != "T"})
        v = float(ds["total"])
    return v if np.isfinite(v) else math.inf


class _Coordinate:
    """The monotone variable u(t) of the parametrisation: log sigma~ where finite at both ends, else t."""

    def __init__(self, process, t_min):
        self.process, self.t_min = process, float(t_min)
        m2T = float(process.m2(process.T))
        r_min = float(process.s2(t_min) / process.m2(t_min)) if float(process.m2(t_min)) > 0 else math.inf
        self.log_sigma = m2T > 0 and 0 < r_min < math.inf
        self.ends = (self.u(np.array([process.T]))[0], self.u(np.array([t_min]))[0])

    def u(self, t):
        if not self.log_sigma:
            return np.asarray(t, dtype=float)
        return 0.5 * np.log(np.asarray(self.process.s2(t) / self.process.m2(t), dtype=float))

    def t(self, u):
        if not self.log_sigma:
            return np.asarray(u, dtype=float)
        return np.asarray(self.process.t_of_ratio(np.exp(2 * np.asarray(u, dtype=float))), dtype=float)

    def grid(self, z):
        a, b = self.ends
        w = np.exp(z - z.max())
        c = np.concatenate([[0.0], np.cumsum(w / w.sum())])
        t = self.t(a + (b - a) * c)
        t[0], t[-1] = self.process.T, self.t_min
        return t

    def z(self, times):
        du = np.abs(np.diff(self.u(np.asarray(times, dtype=float))))
        return np.log(np.maximum(du, 1e-300))


def optimal_grid(lam, *, n_samples=math.inf, process: str = "vp", scheme: str = "euler", n_steps: int = 10,
                 t_min: float = 1e-3, T: float | None = None, metric: str = "w2", model: str = "full", kappa=None,
                 params: dict | None = None, maxiter: int = 200, ftol: float | None = None) -> OptimalGrid:
    r"""The decreasing time grid (K + 1 points, T down to ``t_min``) minimising the scheme's expected error on the
    spectrum ``lam`` (module docstring: objective, parametrisation, optimiser).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        Data spectrum (``>= 0``).
    n_samples : float
        N, or ``inf`` (the population score: the bias alone).
    process, scheme : str
        :class:`gaussdsm.samplers.Diffusion`'s.
    n_steps : int
        K >= 1.
    t_min, T : float
        Stopping time and horizon (default the process's).
    metric : str
        A :data:`gaussdsm.metrics.METRICS` name.
    model, kappa :
        The denoiser model of the generalization term (finite N).
    params : dict, optional
        Other :class:`~gaussdsm.samplers.Diffusion` parameters (``beta_min``, ``rho``, ``eta``, ...).
    maxiter, ftol :
        L-BFGS-B's; ``ftol`` default 1e-10 at N = inf, 1e-6 at finite N (each evaluation there is the theory's
        generalization term; the optimum's value moves by ~1e-7 relative between the two).

    Returns
    -------
    OptimalGrid
        ``grid`` shape ``(K + 1,)``, ``value``, ``baselines`` at the same K (``None`` where undefined, the reason in
        ``skipped``).
    """
    from scipy.optimize import minimize

    from . import _checks
    from .metrics import METRICS
    from .samplers.diffusion import Diffusion

    lam = np.asarray(lam, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(~np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("spectrum: the eigenvalues must be a non-empty 1-D array of finite values >= 0")
    K = _checks.integer("sampler.n_steps", n_steps, ge=1)
    n_samples = _checks.number("n_samples", n_samples, gt=0, allow_inf=True)
    metric = _checks.choice("metric", metric, METRICS)
    params = dict(params or {})
    kw = dict(n_samples=n_samples, process=process, scheme=scheme, metric=metric, model=model, kappa=kappa,
              params=params)
    probe = Diffusion(process=process, scheme=scheme, grid="uniform", n_steps=K, t_min=t_min, T=T, **params)
    proc = probe.process
    baselines, skipped, grids = {}, {}, {}
    for name in BASELINES:
        try:
            t = Diffusion(process=process, scheme=scheme, grid=name, n_steps=K, t_min=t_min, T=T, **params).times
            grids[name] = t
            baselines[name] = grid_error(lam, t, **kw)
        except ValueError as err:
            baselines[name], skipped[name] = None, str(err)
    coord = _Coordinate(proc, probe.t_min)
    a, b = coord.ends
    grids["uniform_u"] = coord.t(a + (b - a) * np.arange(K + 1) / K)
    grids["uniform_u"][0], grids["uniform_u"][-1] = proc.T, probe.t_min
    if math.isfinite(n_samples):  # the population optimum (cheap: no generalization term) as one more start
        try:
            grids["population_optimum"] = optimal_grid(lam, process=process, scheme=scheme, n_steps=K, t_min=t_min,
                                                       T=T, metric=metric, params=params, maxiter=maxiter).grid
        except ValueError:
            pass
    start_values = {n: (baselines[n] if n in baselines else grid_error(lam, grids[n], **kw))
                    for n in (*STARTS, "uniform_u", "population_optimum") if n in grids}
    start_values = {n: v for n, v in start_values.items() if v is not None and np.isfinite(v)}
    if not start_values:
        raise ValueError(f"sampler.scheme {scheme} diverges on every starting grid ({', '.join(STARTS)}, "
                         f"uniform) with process {process}, n_steps {K}, t_min {t_min:g}")
    start = min(start_values, key=start_values.get)
    z0 = coord.z(grids[start])
    scale = max(start_values[start], 1e-300)
    count = [0]

    def f(z):
        count[0] += 1
        t = coord.grid(z)
        if not (np.all(np.isfinite(t)) and np.all(np.diff(t) < 0)):
            return 1e30
        v = grid_error(lam, t, **kw)
        return v / scale if np.isfinite(v) else 1e30

    if ftol is None:
        ftol = 1e-10 if math.isinf(n_samples) else 1e-6
    res = minimize(f, z0, method="L-BFGS-B", options={"maxiter": maxiter, "ftol": ftol, "eps": 1e-7})
    best_t, best_v = coord.grid(res.x), res.fun * scale
    if not (np.isfinite(best_v) and best_v <= start_values[start]) or not np.all(np.diff(best_t) < 0):
        best_t, best_v = grids[start], start_values[start]
    sig = None
    if coord.log_sigma:
        sig = np.sqrt(np.asarray(proc.s2(best_t) / proc.m2(best_t), dtype=float))
    return OptimalGrid(grid=np.asarray(best_t, dtype=float), value=float(best_v), baselines=baselines,
                       skipped=skipped, start=start, nfev=count[0], sigmas=sig)


FORMATS = ("k-diffusion", "comfyui", "diffusers")
r"""``gaussdsm schedule --format``: k-diffusion and ComfyUI take the noise levels
:math:`\tilde\sigma_k = \sigma_{t_k}/m_{t_k}` of the grid, decreasing, with a final 0 appended (their step to σ = 0;
here the grid's last level is :math:`\tilde\sigma(t_{\min})`, and the library's last step from it to 0 is the
data prediction, gaussdsm's
``denoise``); diffusers takes ``timesteps`` on its 1000-step table: the grid's times scaled to the table,
:math:`1000\,t_k/T` (continuous, for a scheduler built with ``timesteps=`` of floats; the VP process with
diffusers' default linear β matches ``process vp`` only in its continuous-time limit), without a final 0; on process
``sd_discrete``, whose times are the table's (Ho et al.'s t), diffusers' own timesteps t − 1."""


def library_format(process, times, fmt: str) -> list[float]:
    """The grid ``times`` (shape ``(K + 1,)``) as the library ``fmt`` of :data:`FORMATS` takes it (mapping:
    :data:`FORMATS`)."""
    t = np.asarray(times, dtype=float)
    if fmt in ("k-diffusion", "comfyui"):
        m2 = np.asarray(process.m2(t), dtype=float)
        if np.any(m2 <= 0):
            raise ValueError(f"--format {fmt}: the noise level sigma_t/m_t is infinite at t = T = {process.T:g} for "
                             f"process {process.name} (m_T = 0): take --T < {process.T:g}")
        return [*np.sqrt(np.asarray(process.s2(t), dtype=float) / m2).tolist(), 0.0]
    if fmt == "diffusers":
        index = getattr(process, "index_of_time", None)  # a process on a timestep table: its timesteps
        return (index(t) if index is not None else 1000.0 * t / process.T).tolist()
    raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")


# ------------------------------------------------------------------------------- sampler.grid: optimal
_CACHE: dict = {}
"""The resolved grids of this process, by everything they depend on (:func:`optimal_times`)."""
DIGITS = 12
"""The resolved grid's times are rounded to this many significant digits (a grid that prints and copies as it is
used; the theory and the Monte Carlo of a point, computed in different jobs, get the same numbers)."""


def _digest(a) -> str:
    import hashlib

    if a is None:
        return ""
    a = np.ascontiguousarray(np.asarray(a, dtype=float))
    return hashlib.sha256(a.tobytes()).hexdigest()


def optimal_times(lam, *, kappa=None, model: str = "full", n_samples=math.inf, metric: str = "w2",
                  process: str = "vp", scheme: str = "euler", n_steps: int = 10, t_min: float = 1e-3,
                  T: float | None = None, params: dict | None = None) -> list[float]:
    """The times of :func:`optimal_grid` (shape ``(K + 1,)``, T down to ``t_min``), rounded to :data:`DIGITS`
    significant digits where that keeps them strictly decreasing; a pure function of its arguments, cached per
    process.  What ``sampler.grid: optimal`` uses (:func:`resolve`)."""
    params = dict(params or {})
    key = json.dumps([_digest(lam), _digest(kappa), model, float(n_samples), metric, process, scheme, float(n_steps),
                      float(t_min), T, sorted(params.items())], default=str)
    if key not in _CACHE:
        t = optimal_grid(lam, n_samples=n_samples, process=process, scheme=scheme, n_steps=int(n_steps),
                         t_min=t_min, T=T, metric=metric, model=model, kappa=kappa, params=params).grid
        r = np.array([float(f"{x:.{DIGITS}g}") for x in t])
        r[0], r[-1] = t[0], t[-1]  # T and t_min exactly as given
        _CACHE[key] = (r if np.all(np.diff(r) < 0) else t).tolist()
    return list(_CACHE[key])


def resolve(spec, lam, *, kappa=None, model: str = "full"):
    """The :class:`~gaussdsm.samplers.spec.SamplerSpec` ``spec`` with ``sampler.grid: optimal`` resolved for the
    spectrum ``lam`` (shape ``(d,)``; ``kappa`` and the denoiser ``model`` for a finite ``optimal_n_samples``):
    its params get ``optimal_grids`` ``{grid_key(setting): times}``, one optimum (:func:`optimal_times`) per setting
    of its axes; any other spec is returned as it is.

    The one place the name becomes times: the workflow's theory and Monte-Carlo stages, :func:`gaussdsm.error` and
    ``gaussdsm error`` resolve here, then build their samplers from the same spec
    (:func:`gaussdsm.samplers.spec.build`), so the grid of a point is the same for its theory and its Monte Carlo,
    and is written in the results (the ``optimal_grids`` attribute, JSON).
    """
    from .samplers.diffusion import DEFAULTS
    from .samplers.spec import OPTIMAL, SamplerSpec, grid_key

    if not spec.diffusion or spec.params.get("grid") != OPTIMAL:
        return spec
    p = spec.params
    fixed = {k: v for k, v in p.items() if k in DEFAULTS and k not in ("process", "scheme", "grid", "n_steps",
                                                                         "t_min", "T", "init") and v is not None}
    grids = {}
    for setting in spec.settings():
        st = dict(zip(spec.axes, setting))
        scheme, init = str(st["scheme"]), str(st["init"])
        grids[grid_key(scheme, init, st["n_steps"], st["t_min"])] = optimal_times(
            lam, kappa=kappa, model=model, n_samples=float(p.get("optimal_n_samples", math.inf)),
            metric=str(p.get("optimal_metric", "w2")), process=p.get("process", "vp"), scheme=scheme,
            n_steps=float(st["n_steps"]), t_min=float(st["t_min"]), T=p.get("T"), params={**fixed, "init": init})
    target = {"optimal_n_samples": float(p.get("optimal_n_samples", math.inf)),
              "optimal_metric": str(p.get("optimal_metric", "w2"))}  # recorded beside the grids
    return SamplerSpec(spec.kind, spec.axes, {**p, **target, "optimal_grids": grids})
