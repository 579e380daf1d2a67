r"""Reverse time grids :math:`T = t_0 > t_1 > \dots > t_K = t_{\min}` (``sampler.grid``): ``uniform`` in t,
``geometric`` in t, ``edm`` (Karras et al. 2022, ρ = 7 in σ_t, mapped to t), or an explicit decreasing list of times;
and the schedules practitioners pick by name (k-diffusion's ``get_sigmas_*``, ComfyUI's schedulers), written on
k-diffusion's noise level :math:`\tilde\sigma_t = \sigma_t/m_t` between :math:`\tilde\sigma_{\max} = \tilde\sigma(T)` and
:math:`\tilde\sigma_{\min} = \tilde\sigma(t_{\min})` and mapped to times by :meth:`~.processes.Process.t_of_ratio`:
``karras`` (ρ = ``sampler.rho``), ``exponential``, ``polyexponential`` (ρ = ``sampler.poly_rho``), ``vp`` (k-diffusion's
``get_sigmas_vp``), ``kl_optimal``, ``linear_quadratic``, and the Align-Your-Steps 10-step lists ``ays_sd15``,
``ays_sdxl``, ``ays_svd`` (log-linearly interpolated to other step counts); and ComfyUI's schedulers on the discrete
table of Stable Diffusion's noise levels (:data:`SD_SIGMAS`): ``simple``, ``normal``, ``sgm_uniform``,
``ddim_uniform``, ``beta`` (α, β = ``sampler.beta_alpha``, ``sampler.beta_beta``).

Those libraries append a final level 0 (the step to σ = 0, i.e. the data prediction); here a grid ends at
:math:`t_{\min}`.  The schedules between :math:`\tilde\sigma_{\max}` and :math:`\tilde\sigma_{\min}` (karras, …) end
at the library's last non-zero level (``get_sigmas_karras(n)`` is ``karras`` with K = n - 1 steps; the step to 0 is
``sampler.denoise``, or an explicit list of times ending in 0).  The lists of absolute levels (AYS, the SD table's)
give K levels from T, and the library's final 0 is :math:`t_{\min}`: with :math:`t_{\min} = 0` (where
:math:`\tilde\sigma_0 = 0`) and T the time of their first level they are the library's grid.

A new grid is one function of ``(process, k, t_min, params)`` (k the fractions 0, 1/K, …, 1, ``params`` the
sampler's grid parameters :data:`PARAMS`) and one entry in :data:`GRIDS`.
"""

from __future__ import annotations

import math

import numpy as np

from .processes import TABLE_SIGMAS, Process

__all__ = ["GRIDS", "RHO", "PARAMS", "AYS", "NEEDS", "TABLE_STEPS", "time_grid", "sigma_range", "loglinear_interp",
           "horizon", "check_process", "flow_shift", "flow_mu"]

RHO = 7.0
"""Karras et al. (2022)'s ρ."""
PARAMS = {"rho": 7.0, "poly_rho": 1.0, "beta_alpha": 0.6, "beta_beta": 0.6, "shift": 3.0, "image_seq_len": 4096}
"""The grids' parameters (``sampler.<key>``) and their defaults: ``karras``'s ρ (Karras et al. 2022),
``polyexponential``'s (k-diffusion's default 1), ``beta``'s α, β (ComfyUI's 0.6, 0.6), ``flow_shift``'s shift (SD3's 3;
diffusers' class default is 1, no shift) and ``flow_dynamic``'s image token count (4096: a 1024² image)."""

AYS = {  # Sabour et al. 2024 (Align Your Steps), the 10-step lists as published and in ComfyUI's AlignYourStepsScheduler
    "ays_sd15": [14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177, 1.3943805092, 0.9642583904,
                 0.6523686016, 0.3977456272, 0.1515232662, 0.0291671582],
    "ays_sdxl": [14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141, 0.5550693289,
                 0.3798540708, 0.2332364134, 0.1114188177, 0.0291671582],
    "ays_svd": [700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002],
}
"""The Align-Your-Steps noise levels (k-diffusion's sigma) of 10 steps, for SD 1.5, SDXL and SVD."""


def _uniform(process: Process, k: np.ndarray, t_min: float, params=None) -> np.ndarray:
    return process.T - k * (process.T - t_min)


def _geometric(process: Process, k: np.ndarray, t_min: float, params=None) -> np.ndarray:
    return process.T * (t_min / process.T) ** k


def _edm(process: Process, k: np.ndarray, t_min: float, params=None) -> np.ndarray:
    r"""Uniform in :math:`\sigma_t^{1/\rho}` between :math:`\sigma_T` and :math:`\sigma_{t_{\min}}`."""
    smax, smin = math.sqrt(float(process.s2(process.T))), math.sqrt(float(process.s2(t_min)))
    sig = (smax ** (1 / RHO) + k * (smin ** (1 / RHO) - smax ** (1 / RHO))) ** RHO
    return process.t_of_s2(sig**2)


def sigma_range(process: Process, t_min: float) -> tuple[float, float]:
    r""":math:`(\tilde\sigma(T), \tilde\sigma(t_{\min}))`, k-diffusion's ``sigma_max`` and ``sigma_min``
    (:math:`\tilde\sigma = \sigma_t/m_t`); a ValueError naming ``sampler.T`` where :math:`m_T = 0`."""
    m2T = float(process.m2(process.T))
    if m2T == 0:
        raise ValueError(f"sampler.T must be < {process.T:g} for a schedule in the noise level sigma_t/m_t "
                         f"(m_t = 0 at t = T with process {process.name})")
    return math.sqrt(float(process.s2(process.T)) / m2T), math.sqrt(float(process.s2(t_min) / process.m2(t_min)))


def _times(process: Process, sig) -> np.ndarray:
    return process.t_of_ratio(np.asarray(sig, dtype=float) ** 2)


def _karras(process, k, t_min, params):
    r"""k-diffusion's ``get_sigmas_karras``: :math:`\tilde\sigma = (\tilde\sigma_{\max}^{1/\rho} + k(\tilde\sigma_{\min}^{1/\rho}
    - \tilde\sigma_{\max}^{1/\rho}))^\rho`."""
    smax, smin = sigma_range(process, t_min)
    rho = params["rho"]
    return _times(process, (smax ** (1 / rho) + k * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho)


def _positive(smin):
    if not smin > 0:
        raise ValueError("sampler.t_min must be > 0 on a grid uniform in log sigma (exponential, polyexponential)")


def _exponential(process, k, t_min, params):
    r"""k-diffusion's ``get_sigmas_exponential``: uniform in :math:`\log\tilde\sigma`."""
    smax, smin = sigma_range(process, t_min)
    _positive(smin)
    return _times(process, np.exp(math.log(smax) + k * (math.log(smin) - math.log(smax))))


def _polyexponential(process, k, t_min, params):
    r"""k-diffusion's ``get_sigmas_polyexponential``: :math:`\log\tilde\sigma = (1 - k)^\rho(\log\tilde\sigma_{\max} -
    \log\tilde\sigma_{\min}) + \log\tilde\sigma_{\min}`."""
    smax, smin = sigma_range(process, t_min)
    _positive(smin)
    return _times(process, np.exp((1.0 - k) ** params["poly_rho"] * (math.log(smax) - math.log(smin)) + math.log(smin)))


VP_BETA_D, VP_BETA_MIN = 19.9, 0.1
r"""k-diffusion's ``get_sigmas_vp`` schedule: :math:`\tilde\sigma(\tau)^2 = e^{\beta_d\tau^2/2 + \beta_{\min}\tau} - 1`."""


def _vp_tau(sig):
    """The time of k-diffusion's VP schedule at noise level ``sig``."""
    L = np.log1p(np.asarray(sig, dtype=float) ** 2)
    return 2.0 * L / (VP_BETA_MIN + np.sqrt(VP_BETA_MIN**2 + 2.0 * VP_BETA_D * L))


def _vp(process, k, t_min, params):
    r"""k-diffusion's ``get_sigmas_vp``: uniform in the time :math:`\tau` of the VP schedule :math:`\beta_d = 19.9`,
    :math:`\beta_{\min} = 0.1` (:math:`\tilde\sigma^2 = e^{\beta_d\tau^2/2 + \beta_{\min}\tau} - 1`), between the times of
    :math:`\tilde\sigma_{\max}` and :math:`\tilde\sigma_{\min}` (k-diffusion: :math:`\tau` from 1 to ``eps_s`` = 1e-3)."""
    smax, smin = sigma_range(process, t_min)
    a, b = _vp_tau(smax), _vp_tau(smin)
    tau = a + k * (b - a)
    return _times(process, np.sqrt(np.expm1(0.5 * VP_BETA_D * tau**2 + VP_BETA_MIN * tau)))


def _kl_optimal(process, k, t_min, params):
    r"""ComfyUI's ``kl_optimal`` (Sabour et al. 2024): uniform in :math:`\arctan\tilde\sigma`."""
    smax, smin = sigma_range(process, t_min)
    return _times(process, np.tan(k * math.atan(smin) + (1.0 - k) * math.atan(smax)))


def _linear_quadratic(process, k, t_min, params):
    r"""ComfyUI's ``linear_quadratic`` (Mochi's schedule; ``threshold_noise`` 0.025, ``linear_steps`` = K // 2): the
    fractions :math:`1 - s_j` of :math:`\tilde\sigma_{\max}`, :math:`s_j` linear to 0.025 over the first half then
    quadratic to 1; its last level 0 is :math:`t_{\min}` here."""
    K = k.size - 1
    if K == 1:
        frac = np.array([1.0, 0.0])
    else:
        thr, lin = 0.025, K // 2
        ls = [i * thr / lin for i in range(lin)]
        diff = lin - thr * K
        quad = K - lin
        qc = diff / (lin * quad**2)
        lc = thr / lin - 2 * diff / quad**2
        const = qc * lin**2
        qs = [qc * i**2 + lc * i + const for i in range(lin, K)]
        frac = 1.0 - np.array(ls + qs + [1.0])
    smax, _ = sigma_range(process, t_min)
    return _times(process, np.maximum(frac, 0.0) * smax)


def loglinear_interp(levels, n: int) -> np.ndarray:
    """ComfyUI's (and diffusers') ``loglinear_interp``: ``n`` levels, linear in log level over the list's positions."""
    levels = np.asarray(levels, dtype=float)
    xs = np.linspace(0, 1, levels.size)
    ys = np.log(levels[::-1])
    return np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1].copy()


def _ays(name):
    def make(process, k, t_min, params):
        r"""An Align-Your-Steps list (:data:`AYS`): its levels (log-linearly interpolated to K + 1 of them where K != 10)
        are noise levels :math:`\tilde\sigma` of the process; the first is T and the last (0 in ComfyUI) t_min."""
        sig = AYS[name] if k.size == len(AYS[name]) else loglinear_interp(AYS[name], k.size)
        return _times(process, sig)
    make.__name__ = f"_{name}"
    return make


SD_SIGMAS = TABLE_SIGMAS
"""The discrete table of SD 1.x/2.x/XL's noise levels that ComfyUI's ``simple``, ``sgm_uniform``, ``normal``,
``ddim_uniform`` and ``beta`` schedulers pick from (:data:`.processes.TABLE_SIGMAS`, the table of process
``sd_discrete``; float64 where ComfyUI keeps float32)."""


def _sd_sigma(ts):
    """ComfyUI's ``ModelSamplingDiscrete.sigma``: log sigma linear between the table's integer timesteps."""
    return np.exp(np.interp(ts, np.arange(SD_SIGMAS.size), np.log(SD_SIGMAS)))


def _simple(K, params):
    """ComfyUI's ``simple``: every (1000/K)-th level of the SD table from the top."""
    taus = [SD_SIGMAS.size - 1 - int(x * SD_SIGMAS.size / K) for x in range(K)]
    return taus, [SD_SIGMAS[-(1 + int(x * SD_SIGMAS.size / K))] for x in range(K)]


def _normal(K, params):
    """ComfyUI's ``normal``: uniform in the SD table's timestep, 999 down to 0 in K levels."""
    taus = np.linspace(SD_SIGMAS.size - 1, 0, K)
    return taus, _sd_sigma(taus)


def _sgm_uniform(K, params):
    """ComfyUI's ``sgm_uniform``: ``normal`` on K + 1 timesteps without the last."""
    taus = np.linspace(SD_SIGMAS.size - 1, 0, K + 1)[:-1]
    return taus, _sd_sigma(taus)


def _ddim_uniform(K, params):
    """ComfyUI's ``ddim_uniform``: the table's levels 1, 1 + s, 1 + 2s, … (s = 1000 // K), from the top (it does not
    start at the table's top: T is its first level)."""
    ss = max(SD_SIGMAS.size // K, 1)
    return np.arange(1, SD_SIGMAS.size, ss)[::-1], SD_SIGMAS[1::ss][::-1]


def _beta(K, params):
    r"""ComfyUI's ``beta`` (Lee et al. 2024): the table's timesteps at the quantiles :math:`1 - j/K` of
    Beta(``beta_alpha``, ``beta_beta``), rounded, repeats dropped."""
    from scipy import stats

    ts = np.rint(stats.beta.ppf(1 - np.linspace(0, 1, K, endpoint=False), params["beta_alpha"], params["beta_beta"])
                 * (SD_SIGMAS.size - 1))
    keep = np.concatenate([[True], ts[1:] != ts[:-1]])
    return ts[keep].astype(int), SD_SIGMAS[ts[keep].astype(int)]


STEPS_OFFSET = 1
"""diffusers' ``steps_offset`` of Stable Diffusion's scheduler configs (SD 1.x, 2.x, XL), added by ``leading``."""


def _leading(K, params):
    """diffusers' ``timestep_spacing="leading"`` (Stable Diffusion's): timesteps j (1000 // K) + ``steps_offset``,
    j = K - 1 … 0 (its first below the table's top: T is its time)."""
    taus = (np.arange(0, K) * (SD_SIGMAS.size // K)).round()[::-1] + STEPS_OFFSET
    return taus.astype(int), SD_SIGMAS[taus.astype(int)]


def _trailing(K, params):
    """diffusers' ``timestep_spacing="trailing"`` (Lin et al. 2024, Table 2): timesteps round(1000 - j 1000/K) - 1,
    j = 0 … K - 1 (numpy's rounding, half to even)."""
    taus = np.arange(SD_SIGMAS.size, 0, -SD_SIGMAS.size / K).round() - 1
    return taus.astype(int), SD_SIGMAS[taus.astype(int)]


def _linspace(K, params):
    """diffusers' ``timestep_spacing="linspace"`` as EulerDiscreteScheduler has it: K fractional timesteps from 999 to
    0, their levels interpolated linearly in σ̃ between the table's (its ``interpolation_type="linear"``), not in log
    σ̃ as the process: the grid carries diffusers' levels, at the times of the process where σ̃ takes them."""
    taus = np.linspace(0, SD_SIGMAS.size - 1, K)[::-1]
    return None, np.interp(taus, np.arange(SD_SIGMAS.size), SD_SIGMAS)


TABLE_STEPS = {"simple": _simple, "normal": _normal, "sgm_uniform": _sgm_uniform, "ddim_uniform": _ddim_uniform,
               "beta": _beta, "leading": _leading, "trailing": _trailing, "linspace": _linspace}
"""The schedules on SD's table: ``f(K, params) -> (timesteps, levels)``, the K timesteps (0-based, as the libraries
number them; None where the levels are not the process's at those timesteps) and their noise levels σ̃."""


def _on_table(name):
    def make(process, k, t_min, params):
        """A schedule on SD's table (:data:`TABLE_STEPS`): on a process with that table (``sd_discrete``), the times
        of its timesteps themselves; on another, its K levels as noise levels σ̃ of the process; then t_min
        (ComfyUI's and diffusers' final 0).  Their count must be K."""
        K = k.size - 1
        taus, levels = TABLE_STEPS[name](K, params)
        levels = list(levels)
        if len(levels) != K:
            raise ValueError(f"sampler.n_steps {K} gives {len(levels)} levels with sampler.grid {name} (ComfyUI's own "
                             "count); take another n_steps")
        at = getattr(process, "time_of_index", None)
        if at is not None and taus is not None:
            return np.append(at(taus), 0.0)
        return _times(process, np.array(levels + [levels[-1] * 0.5]))
    make.__name__ = f"_{name}_grid"
    return make


def horizon(process: Process, grid, n_steps, params: dict | None = None) -> float | None:
    """The horizon T a named grid fixes on ``process`` (None: it starts at the process's T): a schedule on SD's table
    starts at its first timestep's time on a process with that table (``leading``, ``ddim_uniform`` below the top)."""
    if not isinstance(grid, str) or grid not in TABLE_STEPS or math.isinf(n_steps):
        return None
    at = getattr(process, "time_of_index", None)
    taus, _ = TABLE_STEPS[grid](int(n_steps), {**PARAMS, **(params or {})})
    return None if at is None or taus is None else float(at(taus[0]))


FLOW_TRAIN_STEPS = 1000
"""diffusers' ``num_train_timesteps`` of FlowMatchEulerDiscreteScheduler (its smallest unshifted level 1/1000)."""
BASE_SEQ_LEN, MAX_SEQ_LEN, BASE_SHIFT, MAX_SHIFT = 256, 4096, 0.5, 1.15
"""diffusers' resolution-dependent shift (Flux's scheduler config and ``calculate_shift``): μ linear in the image's
token count, from ``base_shift`` at ``base_image_seq_len`` to ``max_shift`` at ``max_image_seq_len``."""


def flow_shift(sig, shift: float):
    r"""SD3's time shift (Esser et al. 2024): :math:`\sigma' = s\sigma/(1 + (s - 1)\sigma)`."""
    return shift * sig / (1 + (shift - 1) * sig)


def flow_mu(image_seq_len: float) -> float:
    r"""diffusers' ``calculate_shift``: :math:`\mu = m\,n + b`, the line through (256, 0.5) and (4096, 1.15)."""
    m = (MAX_SHIFT - BASE_SHIFT) / (MAX_SEQ_LEN - BASE_SEQ_LEN)
    b = BASE_SHIFT - m * BASE_SEQ_LEN
    return image_seq_len * m + b


def _flow_shift(process, k, t_min, params):
    r"""diffusers' FlowMatchEulerDiscreteScheduler with ``shift`` s (``sampler.shift``; SD3's 3) and
    ``set_timesteps(K)``: K levels uniform between its shifted ends :math:`\sigma'(1) = 1` and :math:`\sigma'(1/1000)`,
    each shifted (the smallest is shifted twice, as the library does), then t_min (its final 0); on ``flow`` levels
    are times (σ = t)."""
    K, s = k.size - 1, params["shift"]
    smax, smin = flow_shift(1.0, s), flow_shift(1.0 / FLOW_TRAIN_STEPS, s)
    base = np.linspace(smax * FLOW_TRAIN_STEPS, smin * FLOW_TRAIN_STEPS, K) / FLOW_TRAIN_STEPS
    return np.append(flow_shift(base, s), 0.0)


def _flow_dynamic(process, k, t_min, params):
    r"""Flux's resolution-dependent shift (diffusers' FluxPipeline with ``use_dynamic_shifting``): the levels
    :math:`\sigma_j = 1 - j(1 - 1/K)/(K - 1)` (``np.linspace(1, 1/K, K)``) shifted to :math:`e^\mu/(e^\mu + 1/\sigma -
    1)`, μ = :func:`flow_mu` of ``sampler.image_seq_len`` (4096: a 1024² image, μ = 1.15), then t_min."""
    K = k.size - 1
    mu = flow_mu(params["image_seq_len"])
    sig = np.linspace(1.0, 1 / K, K)
    return np.append(math.exp(mu) / (math.exp(mu) + (1 / sig - 1) ** 1.0), 0.0)


NEEDS = {"leading": "sd_discrete", "trailing": "sd_discrete", "linspace": "sd_discrete", "flow_shift": "flow",
         "flow_dynamic": "flow"}
"""The grids defined on one process only: diffusers' timestep spacings pick timesteps of SD's table, the flow shifts
are times of rectified flow."""


def check_process(grid, process: Process) -> None:
    """A ValueError naming ``sampler.grid`` and ``sampler.process`` if ``grid`` needs another process
    (:data:`NEEDS`)."""
    need = NEEDS.get(grid) if isinstance(grid, str) else None
    if need is not None and process.name != need:
        raise ValueError(f"sampler.grid {grid} needs sampler.process {need} (its levels are that process's "
                         f"{'timesteps' if need == 'sd_discrete' else 'times'}); got {process.name}")


GRIDS = {"uniform": _uniform, "geometric": _geometric, "edm": _edm, "karras": _karras, "exponential": _exponential,
         "polyexponential": _polyexponential, "vp": _vp, "kl_optimal": _kl_optimal,
         "linear_quadratic": _linear_quadratic, **{name: _ays(name) for name in AYS},
         **{name: _on_table(name) for name in TABLE_STEPS}, "flow_shift": _flow_shift, "flow_dynamic": _flow_dynamic}
"""The named grids (``sampler.grid``), each ``f(process, k, t_min, params)`` of the fractions k = 0, 1/K, …, 1."""
SCHEDULES = ("karras", "exponential", "polyexponential", "vp", "kl_optimal", "linear_quadratic", *AYS, *TABLE_STEPS,
             "flow_shift", "flow_dynamic")
"""The grids given as noise levels (checked to decrease strictly once mapped to times)."""


def time_grid(process: Process, grid, n_steps: int, t_min: float, params: dict | None = None) -> np.ndarray:
    r"""The reverse time grid :math:`T = t_0 > t_1 > \dots > t_K = t_{\min}` (shape ``(K + 1,)``); ``grid`` a name of
    :data:`GRIDS` or an explicit list of times; ``params`` the grid parameters (defaults :data:`PARAMS`)."""
    if not isinstance(grid, str):
        return np.asarray(grid, dtype=float)
    make = GRIDS.get(grid)
    if grid == "optimal":  # gaussdsm.samplers.spec.OPTIMAL: a grid of the spectrum, not of (process, K, t_min)
        raise ValueError("sampler.grid optimal depends on the spectrum: resolve it first (gaussdsm.schedule.resolve; "
                         "the workflow, gaussdsm.error and the command line do)")
    if make is None:
        raise ValueError(f"sampler.grid must be one of {', '.join(GRIDS)} or a list of times; got {grid!r}")
    check_process(grid, process)
    K = int(n_steps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = np.asarray(make(process, np.arange(K + 1) / K, t_min, {**PARAMS, **(params or {})}), dtype=float).copy()
    t[0], t[-1] = process.T, t_min
    if grid in SCHEDULES and not (np.all(np.isfinite(t)) and np.all(np.diff(t) < 0)):
        raise ValueError(f"sampler.grid {grid} does not decrease strictly from T = {process.T:g} to t_min = {t_min:g} "
                         f"on process {process.name} with n_steps {K} (its noise levels are outside "
                         "[sigma(t_min), sigma(T)] or repeat)")
    return t
