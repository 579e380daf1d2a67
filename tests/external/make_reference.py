r"""Reference output variances from k-diffusion's samplers and diffusers' schedulers themselves, run on the linear
Gaussian denoiser, for ``tests/data/external_reference.json`` (read by ``tests/unit/test_external_reference.py``,
which needs no torch).

Needs the ``external`` extra (torch CPU, k-diffusion, diffusers), in a venv of its own::

    python3 -m venv .venv-external
    .venv-external/bin/pip install torch==2.13.0          # the CPU build (a plain `torch` may pull a CUDA one)
    .venv-external/bin/pip install --no-deps k-diffusion==0.1.1.post1
    .venv-external/bin/pip install torchsde==0.2.6 torchdiffeq==0.2.5 scipy==1.17.1 tqdm==4.70.1 \
        Pillow==13.0.0 safetensors==0.8.0 diffusers==0.42.1
    .venv-external/bin/python tests/external/make_reference.py

The data are Gaussian, :math:`x_0 \sim N(0, \operatorname{diag}\lambda)`, and the denoiser is the exact one per
eigen-direction, :math:`D(x, \sigma) = \lambda x/(\lambda + \sigma^2)` (k-diffusion's σ-denoiser; for the VP models of
diffusers, the same in the variable :math:`z = x_t/\sqrt{\bar\alpha_t}`, :math:`\tilde\sigma^2 = (1 - \bar\alpha_t)/\bar
\alpha_t`, given to the scheduler as the noise prediction :math:`\hat\epsilon = \tilde\sigma\sqrt{1 + \tilde\sigma^2}
\,x_{in}/(\lambda + \tilde\sigma^2)`).

Every sampler is linear in its start and in each of its noise draws, so the output variance is exact:

* deterministic samplers: the gain g per eigenvalue from one run started at 1; variance = g² × start variance;
* stochastic samplers (superposition): one run on a batch of 1 + M rows, row 0 the start (σ_max, or the library's
  initial noise scale) with every noise 0, row j ≥ 1 started at 0 with unit noise in source j only; variance = the sum
  of the squared rows.  Independent draws (``torch.randn_like``, diffusers' ``randn_tensor``): one source per draw.
  Brownian-tree noise (k-diffusion's ``BrownianTreeNoiseSampler``, whose calls may overlap — dpmpp_sde's sub-steps):
  one source per elementary interval of the partition of all the calls' end points, a call over [a, b] returning
  :math:`\sum_{I \subset [a, b]} \sqrt{|I|/|b - a|}\,\xi_I` (the increment of the same Brownian path, normalised as
  the library does).  A particle Monte Carlo with the library's own noise (its default noise sampler, its Brownian
  tree) confirms each superposition within standard errors.

Named schedules (:data:`SCHEDULE_CASES`): diffusers' EulerDiscreteScheduler on SD's table with ``timestep_spacing``
leading, trailing and linspace, and FlowMatchEulerDiscreteScheduler (rectified flow, the exact velocity) with SD3's
``shift=3`` and Flux's dynamic shifting (μ by FluxPipeline's ``calculate_shift``, compiled from the library's source);
each case records its process and grid, for gaussdsm's grids of the same names.

Precision: k-diffusion runs in float64 (``torch.set_default_dtype(torch.float64)``, so ``get_sigmas_karras`` builds a
float64 grid).  diffusers' schedulers hard-code float32 (their β table, σ list and a ``sample.to(torch.float32)`` in
``step``): each scheduler module is run with its ``torch``/``np`` names bound to proxies whose ``float32`` is float64
(:func:`widened`), so the library's own code runs unchanged in float64; the σ grid stored is the one the scheduler
built.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import importlib.util
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

LAM = [2.0, 0.5, 0.05, 0.001]
KS = [5, 12, 30]
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0
N_PARTICLES = 20000
OUT = Path(__file__).resolve().parents[1] / "data" / "external_reference.json"


# ----------------------------------------------------------------------------------------------------------- loading
def load_kdiffusion():
    """``k_diffusion.sampling`` of the installed package.  The package's ``__init__`` imports its training stack
    (torchvision, clean-fid, wandb, …), which the samplers do not use: the package is registered without running it,
    and ``sampling`` imported (with its own ``utils``; torchvision, imported by utils for image helpers only, stubbed
    when absent)."""
    spec = importlib.util.find_spec("k_diffusion")
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["k_diffusion"] = pkg
    stubs = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    try:
        importlib.import_module("torchvision.transforms.functional")
        stubs = ()
    except Exception:
        for name in stubs:
            sys.modules[name] = types.ModuleType(name)
        sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
        sys.modules["torchvision.transforms"].functional = sys.modules["torchvision.transforms.functional"]
    try:
        return importlib.import_module("k_diffusion.sampling")
    finally:  # the stubs only for that import (diffusers looks for a real torchvision)
        for name in stubs:
            del sys.modules[name]


class _Proxy(types.ModuleType):
    """A module that forwards every name to ``base`` except those given."""

    def __init__(self, base, **override):
        super().__init__(base.__name__)
        self.__dict__.update(override)
        self._base = base

    def __getattr__(self, name):
        return getattr(self._base, name)


def widened(module):
    """Run a diffusers scheduler module in float64: its ``torch`` and ``np`` with ``float32`` bound to float64."""
    module.torch = _Proxy(torch, float32=torch.float64)
    module.np = _Proxy(np, float32=np.float64)
    return module


# ----------------------------------------------------------------------------------------------------------- helpers
class Denoiser:
    """k-diffusion's ``model(x, sigma)``: the exact linear denoiser per column (eigen-direction); counts its calls."""

    def __init__(self, lam):
        self.lam = torch.as_tensor(lam)
        self.calls = 0

    def __call__(self, x, sigma, **kw):
        self.calls += 1
        s2 = sigma.reshape(-1, 1) ** 2
        return self.lam / (self.lam + s2) * x


class Independent:
    """A noise source per draw: call j returns unit noise on row ``offset + j`` (``record``: zeros, counting)."""

    def __init__(self, rows=1, offset=1, record=False):
        self.rows, self.offset, self.record, self.n = rows, offset, record, 0

    def draw(self, shape):
        z = torch.zeros(shape)
        if not self.record:
            z[self.offset + self.n] = 1.0
        self.n += 1
        return z

    def __call__(self, sigma, sigma_next):
        return self.draw((self.rows, len(LAM)))


class Brownian:
    """Brownian-path noise as k-diffusion's ``BrownianTreeNoiseSampler`` returns it, (W(b) - W(a))/sqrt|b - a| with
    the path over σ, in a basis of independent increments over the partition ``points`` (``record``: zeros, keeping
    the calls' end points)."""

    def __init__(self, points=None, rows=1, offset=1):
        self.record = points is None
        self.points = sorted(set(points or []))
        self.rows, self.offset, self.ends = rows, offset, []

    @property
    def n_sources(self):
        return len(self.points) - 1

    def __call__(self, sigma, sigma_next):
        a, b = float(sigma), float(sigma_next)
        if self.record:
            self.ends += [a, b]
            return torch.zeros(self.rows, len(LAM))
        lo, hi = min(a, b), max(a, b)
        z = torch.zeros(self.rows, len(LAM))
        sign = 1.0 if b > a else -1.0
        p = self.points
        for j in range(len(p) - 1):
            if p[j] >= lo and p[j + 1] <= hi:
                z[self.offset + j] = sign * math.sqrt((p[j + 1] - p[j]) / (hi - lo))
        return z


def karras(kd, K, zero):
    """K steps on k-diffusion's Karras grid: ``get_sigmas_karras(K, …)`` (K points, then 0) with the final step to 0,
    else ``get_sigmas_karras(K + 1, …)`` without its appended 0."""
    if zero:
        return kd.get_sigmas_karras(K, SIGMA_MIN, SIGMA_MAX, RHO)
    return kd.get_sigmas_karras(K + 1, SIGMA_MIN, SIGMA_MAX, RHO)[:-1]


def z_scores(mc, exact, n):
    """(mc - exact)/se with se = exact sqrt(2/(n - 1)) (the output is Gaussian)."""
    return [(m - e) / (e * math.sqrt(2.0 / (n - 1))) for m, e in zip(mc, exact)]


# ----------------------------------------------------------------------------------------------------------- k-diffusion
KD_SAMPLERS = {
    # name: (function, options, noise kind: None | "independent" | "brownian" | "randn_like")
    "euler": ("sample_euler", {}, None),
    "heun": ("sample_heun", {}, None),
    "dpm_2": ("sample_dpm_2", {}, None),
    "lms": ("sample_lms", {"order": 4}, None),
    "dpmpp_2m": ("sample_dpmpp_2m", {}, None),
    "euler_ancestral": ("sample_euler_ancestral", {"eta": 1.0, "s_noise": 1.0}, "independent"),
    "dpm_2_ancestral": ("sample_dpm_2_ancestral", {"eta": 1.0, "s_noise": 1.0}, "independent"),
    "dpmpp_2s_ancestral": ("sample_dpmpp_2s_ancestral", {"eta": 1.0, "s_noise": 1.0}, "independent"),
    "dpmpp_sde": ("sample_dpmpp_sde", {"eta": 1.0, "s_noise": 1.0, "r": 0.5}, "brownian"),
    "dpmpp_2m_sde": ("sample_dpmpp_2m_sde", {"eta": 1.0, "s_noise": 1.0, "solver_type": "midpoint"}, "brownian"),
    "dpmpp_2m_sde_heun": ("sample_dpmpp_2m_sde", {"eta": 1.0, "s_noise": 1.0, "solver_type": "heun"}, "brownian"),
    "dpmpp_3m_sde": ("sample_dpmpp_3m_sde", {"eta": 1.0, "s_noise": 1.0}, "brownian"),
    # churn (Karras et al. 2022, Algorithm 2): the fresh noise is torch.randn_like inside the sampler
    "heun_churn": ("sample_heun", {"s_churn": 80.0, "s_tmin": 0.05, "s_tmax": 50.0, "s_noise": 1.003}, "randn_like"),
    # a churn under the cap: S_churn/K < sqrt(2) - 1, so the count of steps matters
    "heun_churn_s1": ("sample_heun", {"s_churn": 1.0, "s_tmin": 0.05, "s_tmax": 50.0, "s_noise": 1.003},
                      "randn_like"),
    "euler_churn": ("sample_euler", {"s_churn": 80.0, "s_tmin": 0.05, "s_tmax": 50.0, "s_noise": 1.003}, "randn_like"),
    "dpm_2_churn": ("sample_dpm_2", {"s_churn": 80.0, "s_tmin": 0.05, "s_tmax": 50.0, "s_noise": 1.003},
                    "randn_like"),
}


def _kd_run(kd, fn, opts, kind, sigmas, x, noise):
    """Run one k-diffusion sampler; ``noise`` the replacement noise source (None: the library's own)."""
    model = Denoiser(LAM)
    kw = dict(opts)
    if kind in ("independent", "brownian") and noise is not None:
        kw["noise_sampler"] = noise
    if kind == "randn_like" and noise is not None:
        kd.torch = _Proxy(torch, randn_like=lambda like: noise.draw(like.shape))
    try:
        out = getattr(kd, fn)(model, x, sigmas, disable=True, **kw)
    finally:
        kd.torch = torch
    return out, model.calls


def kd_case(kd, name, K, zero):
    fn, opts, kind = KD_SAMPLERS[name]
    sigmas = karras(kd, K, zero)
    start_sd = float(sigmas[0])  # k-diffusion's x = noise * sigma_max
    one = torch.full((1, len(LAM)), start_sd)
    case = {"library": "k-diffusion", "sampler": name, "function": fn, "options": opts, "process": "edm",
            "sigmas": sigmas.tolist(), "final_zero": bool(zero), "n_steps": K, "lam": LAM,
            "start_variance": start_sd**2, "output_m2": 1.0, "noise": kind or "none"}
    if kind is None:
        out, calls = _kd_run(kd, fn, opts, kind, sigmas, torch.ones(1, len(LAM)), None)
        gain = out[0]
        big, _ = _kd_run(kd, fn, opts, kind, sigmas, torch.full((1, len(LAM)), 1e3), None)
        case.update(nfe=calls, gain=gain.tolist(), variance=(gain**2 * start_sd**2).tolist(),
                    linearity_error=float((big[0] / 1e3 / gain - 1).abs().max()))
        return case
    # superposition: count the sources, then one row per source
    rec = Brownian() if kind == "brownian" else Independent(record=True)
    _, calls = _kd_run(kd, fn, opts, kind, sigmas, one.clone(), rec)
    if kind == "brownian":
        basis = Brownian(rec.ends, rows=0)
        M = basis.n_sources
        gaps = np.diff(basis.points)
        case["min_partition_gap"] = float(gaps.min())
    else:
        M = rec.n
        basis = Independent(rows=1 + M)
    basis.rows = 1 + M
    x = torch.zeros(1 + M, len(LAM))
    x[0] = start_sd
    out, _ = _kd_run(kd, fn, opts, kind, sigmas, x, basis)
    var = (out**2).sum(0)
    case.update(nfe=calls, n_sources=M, variance=var.tolist())
    # Monte Carlo with the library's own noise
    torch.manual_seed(1000 + K + 7 * zero)
    xs = torch.randn(N_PARTICLES, len(LAM)) * start_sd
    if kind == "randn_like":
        out, _ = _kd_run(kd, fn, opts, None, sigmas, xs, None)
    else:
        out, _ = _kd_run(kd, fn, opts, kind, sigmas, xs, None)
    mc = out.var(0).tolist()
    z = z_scores(mc, case["variance"], N_PARTICLES)
    case["mc"] = {"n_particles": N_PARTICLES, "variance": mc, "z": z, "max_abs_z": max(abs(v) for v in z),
                  "noise": "torch.randn_like" if kind != "brownian" else "BrownianTreeNoiseSampler"}
    return case


# ----------------------------------------------------------------------------------------------------------- diffusers
SD = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
      "steps_offset": 1, "timestep_spacing": "leading"}
"""Stable Diffusion 1.x's scheduler config (the scaled-linear β table)."""
EDM = {"sigma_min": SIGMA_MIN, "sigma_max": SIGMA_MAX, "rho": RHO, "sigma_data": 0.5, "prediction_type": "epsilon"}
"""diffusers' EDM schedulers (Karras et al. 2022): the Karras grid of the k-diffusion cases."""


def base_config(cls):
    """The base config of a scheduler class: EDM's for diffusers' ``EDM*`` schedulers, else Stable Diffusion's."""
    return EDM if cls.startswith("EDM") else SD


DF_SAMPLERS = {
    # name: (module, class, config, step kwargs, noise: None | "randn_tensor" | "variance_noise")
    "euler": ("scheduling_euler_discrete", "EulerDiscreteScheduler", {}, {}, None),
    "euler_karras": ("scheduling_euler_discrete", "EulerDiscreteScheduler", {"use_karras_sigmas": True}, {}, None),
    "euler_ancestral": ("scheduling_euler_ancestral_discrete", "EulerAncestralDiscreteScheduler", {}, {},
                        "randn_tensor"),
    "heun": ("scheduling_heun_discrete", "HeunDiscreteScheduler", {}, {}, None),
    "dpm_2": ("scheduling_k_dpm_2_discrete", "KDPM2DiscreteScheduler", {}, {}, None),
    "dpm_2_ancestral": ("scheduling_k_dpm_2_ancestral_discrete", "KDPM2AncestralDiscreteScheduler", {}, {},
                        "randn_tensor"),
    "lms": ("scheduling_lms_discrete", "LMSDiscreteScheduler", {}, {}, None),
    "dpmpp_2m": ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler",
                 {"algorithm_type": "dpmsolver++", "solver_order": 2}, {}, None),
    "dpmpp_2m_karras": ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler",
                        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}, {}, None),
    "dpmpp_2m_sde": ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler",
                     {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "midpoint"}, {},
                     "variance_noise"),
    "dpmpp_2m_sde_heun": ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler",
                          {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "heun"}, {},
                          "variance_noise"),
    # bh1 with the default final_sigmas_type="zero" returns NaN at its step to 0 (library_issues): it ends at σ̃_min
    "uni_pc_bh1": ("scheduling_unipc_multistep", "UniPCMultistepScheduler",
                   {"solver_type": "bh1", "final_sigmas_type": "sigma_min"}, {}, None),
    "uni_pc_bh2": ("scheduling_unipc_multistep", "UniPCMultistepScheduler", {"solver_type": "bh2"}, {}, None),
    "deis": ("scheduling_deis_multistep", "DEISMultistepScheduler", {"solver_order": 2}, {}, None),
    "deis_3": ("scheduling_deis_multistep", "DEISMultistepScheduler", {"solver_order": 3}, {}, None),
    "edm_euler": ("scheduling_edm_euler", "EDMEulerScheduler", {}, {}, None),
    "edm_dpmpp_2m": ("scheduling_edm_dpmsolver_multistep", "EDMDPMSolverMultistepScheduler",
                     {"algorithm_type": "dpmsolver++", "solver_order": 2}, {}, None),
    "edm_dpmpp_2m_sde": ("scheduling_edm_dpmsolver_multistep", "EDMDPMSolverMultistepScheduler",
                         {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "midpoint"}, {},
                         "randn_tensor"),
    "ddim": ("scheduling_ddim", "DDIMScheduler", {"set_alpha_to_one": False, "clip_sample": False}, {"eta": 0.0}, None),
    "ddim_eta1": ("scheduling_ddim", "DDIMScheduler", {"set_alpha_to_one": False, "clip_sample": False}, {"eta": 1.0}, "variance_noise"),
}


def _df_scheduler(name, K):
    mod, cls, cfg, step_kw, noise = DF_SAMPLERS[name]
    module = widened(importlib.import_module(f"diffusers.schedulers.{mod}"))
    sched = getattr(module, cls)(**{**base_config(cls), **cfg})
    sched.set_timesteps(K)
    return module, sched, step_kw, noise


VP_VARIABLE = ("DPMSolverMultistepScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler", "DDIMScheduler")
"""Schedulers whose sample is the VP variable x_t itself (initial noise N(0, 1)); the others sample the σ̃ variable
z = x_t/sqrt(ᾱ_t) (k-diffusion's) from N(0, init_noise_sigma²) and scale the model input by 1/sqrt(σ̃² + 1)."""


def _is_ddim(sched):
    return type(sched).__name__ == "DDIMScheduler"


def _tilde_sigma(sched, t):
    """The noise level σ̃ of the model call at timestep t, as the scheduler's own ``scale_model_input`` and update
    read it: its σ list at its step counter (KDPM2's second stage: its interpolated σ), or DDIM's ᾱ table at t."""
    if _is_ddim(sched):
        a = float(sched.alphas_cumprod[int(t)])
        return math.sqrt((1.0 - a) / a)
    i = sched.step_index if sched.step_index is not None else 0
    if hasattr(sched, "sigmas_interpol") and not sched.state_in_first_order:
        # KDPM2Discrete reads its interpolated σ at the step counter, KDPM2AncestralDiscrete at the counter - 1
        # (its scale_model_input and step; its interleaved timesteps agree)
        j = i - 1 if type(sched).__name__ == "KDPM2AncestralDiscreteScheduler" else i
        return float(sched.sigmas_interpol[j])
    return float(sched.sigmas[i])


def _df_run(name, K, x, noise_rows=None):
    """One run of a diffusers scheduler loop with the exact ε-prediction; ``noise_rows``: replace its noise by the
    superposition basis (a :class:`Independent`) or count draws (record); returns (output, model calls, σ̃ of calls,
    scheduler)."""
    module, sched, step_kw, noise = _df_scheduler(name, K)
    lam = torch.as_tensor(LAM)
    x = x * sched.init_noise_sigma
    calls, levels = 0, []
    if noise == "randn_tensor" and noise_rows is not None:
        module.randn_tensor = lambda shape, **kw: noise_rows.draw(shape)
    try:
        for t in sched.timesteps:
            s = _tilde_sigma(sched, t)
            xin = sched.scale_model_input(x, t)
            if hasattr(sched, "precondition_outputs"):  # EDM: F with c_skip x + c_out F = D(x, σ)
                c_skip, c_out = EDM["sigma_data"] ** 2 / (s * s + EDM["sigma_data"] ** 2), \
                    s * EDM["sigma_data"] / math.sqrt(s * s + EDM["sigma_data"] ** 2)
                eps = (lam / (lam + s * s) * x - c_skip * x) / c_out
            else:
                eps = s * math.sqrt(1.0 + s * s) / (lam + s * s) * xin
            calls += 1
            levels.append(s)
            kw = dict(step_kw)
            if noise == "variance_noise" and noise_rows is not None:
                kw["variance_noise"] = noise_rows.draw(x.shape)
            x = sched.step(eps, t, x, **kw).prev_sample
    finally:
        module.randn_tensor = sys.modules["diffusers.utils.torch_utils"].randn_tensor
    return x, calls, levels, sched


def _df_grid(sched):
    """The σ̃ grid of the steps: the scheduler's σ list (with its final 0; Heun's and KDPM2's repeated entries of
    their two-stage steps once), or, for DDIM, the ᾱ table at its timesteps, then its final ᾱ."""
    if _is_ddim(sched):
        a = [float(sched.alphas_cumprod[int(t)]) for t in sched.timesteps] + [float(sched.final_alpha_cumprod)]
        return [math.sqrt((1.0 - v) / v) for v in a]
    sig = [float(v) for v in sched.sigmas]
    return [v for i, v in enumerate(sig) if i == 0 or v != sig[i - 1]]


def df_case(name, K):
    mod, cls, cfg, step_kw, noise = DF_SAMPLERS[name]
    out, calls, levels, sched = _df_run(name, K, torch.ones(1, len(LAM)), Independent(record=True))
    sig = _df_grid(sched)
    init = float(sched.init_noise_sigma)
    # start and output in the σ̃ variable z = x/sqrt(ᾱ): VP-variable schedulers sample x_t itself (start N(0, 1) at
    # their first level, output at their last), the others z already (start N(0, init_noise_sigma²))
    vp = cls in VP_VARIABLE
    a0 = 1.0 / (1.0 + sig[0] ** 2) if vp else 1.0
    a_end = 1.0 / (1.0 + sig[-1] ** 2) if vp else 1.0
    case = {"library": "diffusers", "sampler": name, "class": cls, "config": {**base_config(cls), **cfg}, "step_options": step_kw,
            "process": "edm" if cls.startswith("EDM") else "vp_scaled_linear (as sigma-denoiser: edm on sigma~)", "sigmas": sig,
            "final_zero": sig[-1] == 0.0, "n_steps": K, "lam": LAM, "init_noise_sigma": init,
            "start_variance": init**2 / a0, "output_m2": a_end, "sample_variable": "x_t" if vp else "z", "model_sigmas": levels,
            "noise": noise or "none", "nfe": calls, "timesteps": [float(t) for t in sched.timesteps]}
    if noise is None:
        gain = out[0] / init  # the output per unit of the library's x_T = noise * init_noise_sigma
        case["variance"] = (gain**2 * init**2).tolist()  # in the library's own output variable
        case["gain"] = gain.tolist()
        big, _, _, _ = _df_run(name, K, torch.full((1, len(LAM)), 1e3))
        case["linearity_error"] = float((big[0] / 1e3 / out[0] - 1).abs().max())
        return case
    rec = Independent(record=True)
    _df_run(name, K, torch.ones(1, len(LAM)), rec)
    M = rec.n
    x = torch.zeros(1 + M, len(LAM))
    x[0] = 1.0
    out, _, _, _ = _df_run(name, K, x, Independent(rows=1 + M))
    case.update(n_sources=M, variance=(out**2).sum(0).tolist())
    torch.manual_seed(2000 + K)
    out, _, _, _ = _df_run(name, K, torch.randn(N_PARTICLES, len(LAM)))
    mc = out.var(0).tolist()
    z = z_scores(mc, case["variance"], N_PARTICLES)
    case["mc"] = {"n_particles": N_PARTICLES, "variance": mc, "z": z, "max_abs_z": max(abs(v) for v in z),
                  "noise": "randn_tensor (torch.manual_seed)"}
    return case


def library_issues():
    """What the libraries get wrong on this problem, measured: diffusers' UniPC bh1 with its default
    ``final_sigmas_type="zero"`` (B(h) = h is infinite at the step to σ = 0)."""
    DF_SAMPLERS["uni_pc_bh1_zero"] = ("scheduling_unipc_multistep", "UniPCMultistepScheduler", {"solver_type": "bh1"},
                                      {}, None)
    try:
        out, *_ = _df_run("uni_pc_bh1_zero", 5, torch.ones(1, len(LAM)))
    finally:
        del DF_SAMPLERS["uni_pc_bh1_zero"]
    return {"diffusers UniPCMultistepScheduler(solver_type='bh1'), final_sigmas_type='zero' (default), K = 5":
            f"output {out[0].tolist()} (also in the library's float32)"}


def unipc_order3_cases():
    """diffusers' UniPCMultistepScheduler at ``solver_order=3`` (gaussdsm's ``unipc_bh1_3``, ``unipc_bh2_3``; the
    main cases use its default order 2): bh1 ending at σ̃_min (its step to 0 is NaN), bh2 with its step to 0."""
    extra = {"uni_pc_bh1_3": ("scheduling_unipc_multistep", "UniPCMultistepScheduler",
                              {"solver_type": "bh1", "solver_order": 3, "final_sigmas_type": "sigma_min"}, {}, None),
             "uni_pc_bh2_3": ("scheduling_unipc_multistep", "UniPCMultistepScheduler",
                              {"solver_type": "bh2", "solver_order": 3}, {}, None)}
    DF_SAMPLERS.update(extra)
    try:
        cases = [df_case(name, K) for name in extra for K in KS]
    finally:
        for name in extra:
            del DF_SAMPLERS[name]
    for c in cases:
        c["id"] = f"diffusers/{c['sampler']}/K{c['n_steps']}"
    return cases


# ----------------------------------------------------------------------------------------------------------- schedules
SPACINGS = {"euler_leading": "leading", "euler_trailing": "trailing", "euler_linspace": "linspace"}
"""diffusers' EulerDiscreteScheduler on Stable Diffusion's table with each ``timestep_spacing`` (gaussdsm's
``sd_discrete`` process with the grids of the same names)."""


def df_spacing_case(name, K):
    """One EulerDiscreteScheduler case with a timestep spacing, run by :func:`df_case` (the scheduler's own
    ``set_timesteps``, ``init_noise_sigma`` and ``step``); the case records its spacing and timesteps."""
    spacing = SPACINGS[name]
    DF_SAMPLERS[name] = ("scheduling_euler_discrete", "EulerDiscreteScheduler", {"timestep_spacing": spacing}, {},
                         None)
    try:
        case = df_case(name, K)
    finally:
        del DF_SAMPLERS[name]
    case.update(process="sd_discrete", grid=spacing)
    return case


FLOW = {"flow_shift": {"shift": 3.0}, "flow_dynamic": {"image_seq_len": 4096},
        "flow_dynamic_1024": {"image_seq_len": 1024}}
"""diffusers' FlowMatchEulerDiscreteScheduler: SD3's ``shift=3`` through its own ``set_timesteps(K)``, and Flux's
resolution-dependent shift (``use_dynamic_shifting``, μ from the image's token count by the pipeline's
``calculate_shift``, the pipeline's ``sigmas=np.linspace(1, 1/K, K)``)."""
FLUX = {"use_dynamic_shifting": True, "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
        "max_image_seq_len": 4096, "shift": 3.0}
"""Flux.1's scheduler config (its ``shift`` is not used with dynamic shifting)."""


def flux_calculate_shift():
    """``calculate_shift`` of diffusers' FluxPipeline, from the library's source (the pipeline module itself imports
    transformers, which the samplers do not need): its function definition compiled alone."""
    import ast

    path = Path(importlib.util.find_spec("diffusers").submodule_search_locations[0]) / "pipelines" / "flux" / \
        "pipeline_flux.py"
    tree = ast.parse(path.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "calculate_shift")
    ns = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(path), "exec"), ns)
    return ns["calculate_shift"]


def flow_case(name, K):
    """FlowMatchEulerDiscreteScheduler on rectified flow x_t = (1 - t) x_0 + t eps with the exact velocity
    v = E[eps - x_0 | x_t] = (t - (1 - t) lam) / ((1 - t)^2 lam + t^2) x_t, from x_1 ~ N(0, 1) (the scheduler has no
    ``init_noise_sigma``: SD3's and Flux's pipelines draw the latents unscaled) to its final level 0; deterministic:
    the gain per eigenvalue."""
    module = widened(importlib.import_module("diffusers.schedulers.scheduling_flow_match_euler_discrete"))
    opts = FLOW[name]
    lam = torch.as_tensor(LAM)

    def run(x):
        if "shift" in opts:
            cfg = {"shift": opts["shift"]}
            sched = module.FlowMatchEulerDiscreteScheduler(**cfg)
            sched.set_timesteps(K)
            mu = None
        else:
            cfg = dict(FLUX)
            sched = module.FlowMatchEulerDiscreteScheduler(**cfg)
            mu = flux_calculate_shift()(opts["image_seq_len"], cfg["base_image_seq_len"], cfg["max_image_seq_len"],
                                        cfg["base_shift"], cfg["max_shift"])
            sched.set_timesteps(sigmas=np.linspace(1.0, 1 / K, K), mu=mu)
        calls = 0
        for t in sched.timesteps:
            i = sched.step_index if sched.step_index is not None else 0
            s = float(sched.sigmas[i])
            v = (s - (1 - s) * lam) / ((1 - s) ** 2 * lam + s * s) * x
            calls += 1
            x = sched.step(v, t, x).prev_sample
        return x, calls, sched, cfg, mu

    out, calls, sched, cfg, mu = run(torch.ones(1, len(LAM)))
    big, *_ = run(torch.full((1, len(LAM)), 1e3))
    gain = out[0]
    sig = [float(v) for v in sched.sigmas]
    return {"library": "diffusers", "sampler": name, "class": "FlowMatchEulerDiscreteScheduler", "config": cfg,
            "options": opts, "mu": mu, "process": "flow", "grid": "flow_shift" if "shift" in opts else "flow_dynamic",
            "sigmas": sig, "final_zero": sig[-1] == 0.0, "n_steps": K, "lam": LAM,
            "init_noise_sigma": None, "start_variance": 1.0,
            "output_m2": 1.0, "sample_variable": "x_t", "noise": "none", "nfe": calls,
            "timesteps": [float(t) for t in sched.timesteps], "gain": gain.tolist(),
            "variance": (gain**2).tolist(),
            "linearity_error": float((big[0] / 1e3 / out[0] - 1).abs().max())}


SCHEDULE_CASES = [(df_spacing_case, name) for name in SPACINGS] + [(flow_case, name) for name in FLOW]
"""The named-schedule cases (diffusers): each ``(function, name)`` run at every K of :data:`KS`."""


# ----------------------------------------------------------------------------------------------------------- main
def versions():
    out = {"python": sys.version.split()[0]}
    for p in ("torch", "k-diffusion", "diffusers", "torchsde", "scipy", "numpy"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--only", choices=["k-diffusion", "diffusers"], default=None,
                    help="run one library only; the other's cases are kept from --out if it exists")
    args = ap.parse_args(argv)
    cases, failed = [], {}
    if args.only and Path(args.out).exists():  # keep the other library's cases (same versions: checked)
        old = json.loads(Path(args.out).read_text())
        other = "diffusers" if args.only == "k-diffusion" else "k-diffusion"
        if old["versions"].get(other) != versions().get(other) or old["versions"]["torch"] != versions()["torch"]:
            raise SystemExit(f"--only {args.only}: {args.out} was made with other versions; run both libraries")
        cases = [c for c in old["cases"] if c["library"] == other]
        failed = {k: v for k, v in old["failed"].items() if k.startswith(other + "/")}
    if args.only != "diffusers":
        kd = load_kdiffusion()
        for name in KD_SAMPLERS:
            for K in KS:
                for zero in (True, False):
                    try:
                        cases.append(kd_case(kd, name, K, zero))
                    except Exception as err:  # recorded, not hidden
                        failed[f"k-diffusion/{name}/K={K}/zero={zero}"] = repr(err)
                    print("k-diffusion", name, K, "zero" if zero else "nozero", flush=True)
    if args.only != "k-diffusion":
        for name in DF_SAMPLERS:
            for K in KS:
                try:
                    cases.append(df_case(name, K))
                except Exception as err:
                    failed[f"diffusers/{name}/K={K}"] = repr(err)
                print("diffusers", name, K, flush=True)
        for fn, name in SCHEDULE_CASES:
            for K in KS:
                try:
                    cases.append(fn(name, K))
                except Exception as err:
                    failed[f"diffusers/{name}/K={K}"] = repr(err)
                print("diffusers", name, K, flush=True)
        try:
            cases.extend(unipc_order3_cases())
        except Exception as err:
            failed["diffusers/uni_pc_order3"] = repr(err)
    for c in cases:
        c["id"] = f"{c['library']}/{c['sampler']}/K{c['n_steps']}" + ("" if c["library"] == "diffusers" else
                                                                        ("/zero" if c["final_zero"] else "/nozero"))
    doc = {"description": "Output variances of library samplers on N(0, diag(lam)) with the exact linear denoiser "
                          "D(x, sigma) = lam x / (lam + sigma^2) (tests/external/make_reference.py)",
           "versions": versions(), "precision": "float64 (diffusers: float32 names widened to float64)",
           "karras": {"sigma_min": SIGMA_MIN, "sigma_max": SIGMA_MAX, "rho": RHO}, "failed": failed,
           "library_issues": library_issues(), "cases": cases}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(cases)} cases, {len(failed)} failed -> {args.out}")
    for k, v in failed.items():
        print("FAILED", k, v)


if __name__ == "__main__":
    main()
