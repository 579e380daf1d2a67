r"""One diffusion sampler setting (:class:`Diffusion`): a process, a scheme on a time grid, a stopping time, an
initialisation and optional final Tweedie step; its variance map per eigen-direction (samplers.md §4–§5).

Per eigen-direction of the covariance the score is built from (eigenvalue :math:`\mu` of :math:`\hat\Sigma` for the exact
DSM minimiser at every level, :math:`\hat s_t(y) = -(m_t^2\hat\Sigma + \sigma_t^2 I)^{-1}y`, or :math:`\lambda` for the
population score, or a trained denoiser's) the output variance is affine in the start variance,
:math:`v_K = \Phi(\mu)\,v_0 + \Psi(\mu)`: from the scheme's step (:mod:`.law`), or from the scheme's compiled fast path
(:mod:`.fast`) where it has one and the score is exact.  ``n_steps = inf``: the continuous-time law at
:math:`t_{\min}` (deviation :math:`e = v - \lambda_t`): reverse SDE :math:`e(t_{\min}) = e(T)(\lambda_{t_{\min}}/\lambda_T)^2R`
(:math:`R = e^{-\int_{t_{\min}}^T\beta}` for VP, 1 otherwise), ODE :math:`v(t_{\min}) = v(T)\lambda_{t_{\min}}/\lambda_T`.

Initialisation (``init``): ``standard`` (the reference Gaussian) or ``exact`` (:math:`p_T` itself).  Optional final
``denoise`` (Tweedie at :math:`t_{\min}`: :math:`y \leftarrow (y + \sigma_t^2 s(y))/m_t`).

A point is diverged where the score is infinite at an evaluated time (:math:`m_t^2\mu + \sigma_t^2 = 0`, e.g. a zero
eigenvalue of :math:`\hat\Sigma` scored at t = 0) or the output variance blows up (not finite or above
:data:`BLOWUP` times the largest of 1, μ and the start variance).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ... import _checks, _jet, rules
from ...dsm import Training
from .._base import Sampler
from . import continuous, fast, law
from .grids import PARAMS, SCHEDULES, check_process, horizon, time_grid
from .processes import DEFAULT_T, PROCESSES, make_process
from .schemes import SCHEMES, scheme_record

__all__ = ["Diffusion", "START_LAWS", "BLOWUP", "DEFAULTS", "FIXED_PARAMS", "compatible"]

START_LAWS = ("standard", "exact", "diffusers", "k_diffusion")
r"""``sampler.init``: the reference Gaussian, :math:`p_T` itself, or the libraries' starts in k-diffusion's variable
:math:`z = y/m_T` with noise level :math:`\tilde\sigma_{\max} = \sigma_T/m_T`: ``diffusers`` :math:`z_T \sim
\mathcal N(0, (\tilde\sigma_{\max}^2 + 1) I)` (diffusers' ``init_noise_sigma`` of EulerDiscrete and the other σ̃
schedulers with ``timestep_spacing="leading"``, and of its EDM schedulers), i.e. :math:`y_T \sim \mathcal N(0, (m_T^2
+ \sigma_T^2) I)`, the reference N(0, I) on variance-preserving processes; ``k_diffusion`` :math:`z_T \sim \mathcal N(0,
\tilde\sigma_{\max}^2 I)` (k-diffusion's ``noise * sigmas[0]``; diffusers' with ``"linspace"`` or ``"trailing"``), i.e.
:math:`y_T \sim \mathcal N(0, \sigma_T^2 I)`, the reference on ``edm``."""
BLOWUP = 1e8


def compatible(process: str, scheme: str, T=None) -> bool:
    """Whether ``scheme`` is defined on ``process`` with horizon ``T`` (default the process's): its required process
    class, and a signal scale m_T > 0 if it divides by it."""
    rec, cls = scheme_record(scheme), PROCESSES[process]
    if rec.needs is not None and not issubclass(cls, rec.needs):
        return False
    return not (rec.needs_signal and float(make_process(process, T).m2(cls.default_T if T is None else T)) == 0)



class Diffusion(Sampler):
    r"""One diffusion sampler setting (module docstring) and its variance map.

    Parameters
    ----------
    process : {'vp', 'vp_cosine', 'vp_exp', 've', 'heat', 'edm', 'flow', 'sd_discrete'}
    scheme : str
        A name of :data:`~.schemes.SCHEMES`: 'em', 'ei', 'ddpm', 'euler', 'ddim', 'heun', 'rk4', 'dpm_2', 'dpmpp_2m',
        'heun_churn', 'annealed_langevin', and by their practitioners' names (docs: samplers by name)
        'euler_ancestral', 'ipndm', 'k_euler', 'k_heun', 'k_dpm_2', 'dpm_2_ancestral', 'dpmpp_2s_ancestral',
        'dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde', 'lms', 'uni_pc', 'uni_pc_bh2', 'deis',
        and diffusers' 'unipc_bh1', 'unipc_bh2', 'unipc_bh1_3', 'unipc_bh2_3', 'deis_logrho', 'deis_logrho_3'.
    grid : str or sequence of float
        A name of :data:`~.grids.GRIDS` ('uniform', 'geometric', 'edm'; the schedules 'karras', 'exponential',
        'polyexponential', 'vp', 'kl_optimal', 'linear_quadratic', 'ays_sd15', 'ays_sdxl', 'ays_svd'; on the SD
        table 'simple', 'normal', 'sgm_uniform', 'ddim_uniform', 'beta'; on process 'sd_discrete' only diffusers'
        spacings 'leading', 'trailing', 'linspace'; on 'flow' only 'flow_shift', 'flow_dynamic').  An explicit
        grid fixes T, n_steps and t_min; on 'sd_discrete' a table schedule fixes T (its first timestep's time).
    n_steps : int or inf
        K steps (annealed Langevin: the number of noise levels); ``inf``: the continuous-time law.
    t_min : float
        Stopping time (``>= 0``; 0 only for schemes that never evaluate the score at t = 0).
    init : {'standard', 'exact', 'diffusers', 'k_diffusion'}
        The start (:data:`START_LAWS`).
    T : float, optional
        Horizon (default :data:`DEFAULT_T` of the process).
    beta_min, beta_max : float
        VP schedule (Song et al. 2021: 0.1, 20); also the ends of vp_exp's.
    exp_rate : float
        vp_exp: the rate a of :math:`\beta(t) = \beta_{\min} + \delta(e^{at} - 1)` (non-zero; default 2).
    sigma_min, sigma_max : float
        VE schedule and annealed Langevin's levels (0.01, 50).
    denoise : bool
        A final Tweedie step at t_min.
    steps_per_level, eps : int, float
        Annealed Langevin: L and ε (Song & Ermon 2019: 100, 2e-5).
    s_churn, s_tmin, s_tmax, s_noise : float
        heun_churn (Karras et al. 2022, Algorithm 2; defaults their ImageNet-64 settings, Table 5: 80, 0.05, 50,
        1.003): the churn, the range of t where it applies (k_euler, k_heun, k_dpm_2: of the noise level
        :math:`\sigma_t/m_t`; ``s_tmax`` may be ``inf``), and the inflation of the fresh noise.
    eta : float
        The ancestral and SDE samplers' :math:`\eta \ge 0` (k-diffusion's ``eta``, default 1): the share of each step's
        noise renewed (0: their deterministic limit; euler_ancestral with :math:`\eta \le 1` is DDIM with
        :math:`\eta`).
    noise_scale : float
        The ancestral and SDE samplers' ``s_noise`` (k-diffusion's, default 1): the fresh noise is scaled by it
        (heun_churn and the k_* churns use ``s_noise``).
    rho, poly_rho, beta_alpha, beta_beta : float
        The grids ``karras`` (ρ, default 7), ``polyexponential`` (default 1, k-diffusion's) and ``beta`` (α, β, default
        0.6, 0.6, ComfyUI's).
    shift, image_seq_len : float, int
        The grids ``flow_shift`` (diffusers' FlowMatchEulerDiscreteScheduler ``shift``, default 3, SD3's) and
        ``flow_dynamic`` (Flux's image token count, default 4096).
    """

    kind = "diffusion"
    axes = ("scheme", "init", "n_steps", "t_min")

    def __init__(self, process="vp", scheme="em", grid="uniform", n_steps=100, t_min=1e-3, init="standard", T=None,
                 beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0, denoise=False, steps_per_level=100,
                 eps=2e-5, exp_rate=2.0, s_churn=80.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003, eta=1.0,
                 noise_scale=1.0, rho=7.0, poly_rho=1.0, beta_alpha=0.6, beta_beta=0.6, shift=3.0, image_seq_len=4096):
        _checks.choice("sampler.process", process, PROCESSES)
        self.record = scheme_record(scheme_name := scheme)
        _checks.choice("sampler.init", init, START_LAWS)
        T_given = T is not None and isinstance(grid, str)
        T = DEFAULT_T[process] if T is None else _checks.number("sampler.T", T, gt=0)
        if not isinstance(grid, str):
            t = np.asarray(grid, dtype=float)
            if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) >= 0) or t[-1] < 0:
                raise ValueError(f"sampler.grid as a list must decrease strictly from T to t_min >= 0; got {grid!r}")
            T, t_min, n_steps = float(t[0]), float(t[-1]), t.size - 1
        self.beta_min = _checks.number("sampler.beta_min", beta_min, gt=0)
        self.beta_max = _checks.number("sampler.beta_max", beta_max, gt=0)
        self.sigma_min = _checks.number("sampler.sigma_min", sigma_min, gt=0)
        self.sigma_max = _checks.number("sampler.sigma_max", sigma_max, gt=0)
        if beta_min > beta_max:
            raise ValueError(f"sampler.beta_min must be <= sampler.beta_max; got {beta_min} > {beta_max}")
        if sigma_min >= sigma_max:
            raise ValueError(f"sampler.sigma_min must be < sampler.sigma_max; got {sigma_min} >= {sigma_max}")
        self.exp_rate = _checks.number("sampler.exp_rate", exp_rate)
        self.s_churn = _checks.number("sampler.s_churn", s_churn, ge=0)
        self.s_tmin = _checks.number("sampler.s_tmin", s_tmin, ge=0)
        self.s_tmax = _checks.number("sampler.s_tmax", s_tmax, ge=0, allow_inf=True)
        self.s_noise = _checks.number("sampler.s_noise", s_noise, gt=0)
        self.eta = _checks.number("sampler.eta", eta, ge=0)
        self.noise_scale = _checks.number("sampler.noise_scale", noise_scale, ge=0)
        self.rho = _checks.number("sampler.rho", rho, gt=0)
        self.poly_rho = _checks.number("sampler.poly_rho", poly_rho, gt=0)
        self.beta_alpha = _checks.number("sampler.beta_alpha", beta_alpha, gt=0)
        self.beta_beta = _checks.number("sampler.beta_beta", beta_beta, gt=0)
        self.shift = _checks.number("sampler.shift", shift, gt=0)
        self.image_seq_len = _checks.integer("sampler.image_seq_len", image_seq_len)
        if self.s_tmin > self.s_tmax:
            raise ValueError(f"sampler.s_tmin must be <= sampler.s_tmax; got {s_tmin} > {s_tmax}")
        self.process = make_process(process, T, beta_min=self.beta_min, beta_max=self.beta_max,
                                    sigma_min=self.sigma_min, sigma_max=self.sigma_max, exp_rate=self.exp_rate)
        self.scheme, self.grid, self.init, self.denoise = scheme_name, grid, init, bool(denoise)
        self.training = None
        self.n_steps = _checks.integer("sampler.n_steps", n_steps, allow_inf=True)
        check_process(grid, self.process)
        own = horizon(self.process, grid, self.n_steps, self.grid_params)
        if own is not None and own != self.process.T:  # a table schedule starting below the top: T is its start
            if T_given:
                raise ValueError(f"sampler.T must be left out with sampler.grid {grid} on process {process}: the grid "
                                 f"starts at its first timestep, t = {own:g} with n_steps {self.n_steps:g}; got {T:g}")
            T = own
            self.process = make_process(process, T, beta_min=self.beta_min, beta_max=self.beta_max,
                                        sigma_min=self.sigma_min, sigma_max=self.sigma_max, exp_rate=self.exp_rate)
        self.t_min = _checks.number("sampler.t_min", t_min, ge=0)
        if not self.t_min < T:
            raise ValueError(f"sampler.T must be > sampler.t_min; got T = {T:g}, t_min = {self.t_min:g}")
        self.steps_per_level = _checks.integer("sampler.steps_per_level", steps_per_level)
        self.eps = _checks.number("sampler.eps", eps, gt=0)
        rec = self.record
        if rec.needs is not None and not isinstance(self.process, rec.needs):
            names = [n for n, c in PROCESSES.items() if issubclass(c, rec.needs)]
            raise ValueError(f"sampler.scheme {rec.name}{f' ({rec.cite})' if rec.cite else ''} needs sampler.process: "
                             f"{' or '.join(names)}")
        annealed = rec.integrates == "langevin"
        if annealed and init not in ("standard", "exact"):
            raise ValueError(f"sampler.init must be standard or exact with scheme {rec.name}; got {init}")
        if rec.needs_finite_steps and math.isinf(self.n_steps):
            raise ValueError(f"sampler.scheme {rec.name} needs a finite n_steps ({rec.needs_finite_steps})")
        if math.isinf(self.n_steps) and rec.integrates == "sde":
            for key in ("eta", "noise_scale"):
                if key in rec.uses and getattr(self, key) != 1:
                    raise ValueError(f"sampler.{key} must be 1 with scheme {rec.name} and n_steps: inf (its "
                                     f"continuous-time law is the reverse SDE's); got {getattr(self, key):g}")
        if rec.needs_signal and not math.isinf(self.n_steps) and float(self.process.m2(self.process.T)) == 0:
            ok = [n for n, r in SCHEMES.items() if not r.needs_signal and r.needs is None and r.integrates != "langevin"]
            raise ValueError(f"sampler.scheme {rec.name} divides by the signal scale m_t, which is 0 at t = T = "
                             f"{self.process.T:g} for process {process}: take sampler.T < {self.process.T:g} or a "
                             f"scheme among {', '.join(ok)}")
        if isinstance(grid, str) and grid in SCHEDULES and not math.isinf(self.n_steps) and not annealed:
            self.times  # a schedule in the noise level: its times decrease strictly (or one line naming the key)
        evaluates_at_t_min = rec.evaluates_at_t_min or self.denoise
        if self.t_min == 0 and (evaluates_at_t_min or grid == "geometric") and not annealed:
            raise ValueError(f"sampler.t_min must be > 0 with scheme {scheme_name}"
                             f"{' and denoise' if self.denoise else ''}{' on a geometric grid' if grid == 'geometric' else ''}"
                             " (the score, or the grid, is not defined at t = 0)")

    @classmethod
    def config_errors(cls, study, where: str) -> list[str]:
        """A diffusion study: no Langevin keys, exact fits, and every setting constructible (the bounds of each key,
        from this class's own argument checks)."""
        cfg, errors = study.config, []
        for k in ("sigma", "gamma"):
            broken = rules.not_for_diffusion([f"grid.{k}"] if k in cfg["grid"] else [])
            if broken:
                errors.append(f"{where}.{broken}")
        if any(t != 0 for t in study.grid["tau"]) or cfg["fit"]["method"] == "sgd":
            errors.append(f"{where}.fit.method must be exact, gradient_flow or gd with sampler.kind: diffusion (and "
                          "grid.tau [0.0])")
        elif cfg["fit"]["method"] != "exact" and cfg["fit"].get("model", "full") == "fourier":
            errors.append(f"{where}.fit.method {cfg['fit']['method']} needs fit.model full or diagonal")
        elif cfg["fit"].get("noise") == "drawn" and cfg["fit"].get("model", "full") != "full":
            errors.append(f"{where}.{rules.drawn_noise('drawn', 'gd', 0.0, cfg['fit'].get('model', 'full'))}")
        if cfg["fit"]["method"] == "exact":
            for k in ("train_time", "init", "lr", "noise"):
                if k in cfg["fit"]:
                    errors.append(f"{where}.{rules.only_for_trained_fits([f'fit.{k}'])}")
        if cfg["sampler"].get("friction") is not None:
            errors.append(f"{where}.sampler.friction is only used by sampler.kind: uld")
        if not isinstance(cfg["sampler"].get("grid", "uniform"), str) and "t_min" in cfg["sampler"]:
            errors.append(f"{where}.sampler.t_min: an explicit sampler.grid (a list of times) fixes t_min; remove it")
        if errors:
            return errors
        sp = study.sampler
        for combo in sp.settings():
            try:
                sp.make(combo)
            except ValueError as err:
                msg = f"{where}.{err} (at {', '.join(f'{k}={v}' for k, v in zip(sp.axes, combo))})"
                if msg not in errors:
                    errors.append(msg)
        return errors[:6]

    # -------------------------------------------------------------------- the grid and its coefficients
    @property
    def grid_params(self) -> dict:
        """The named grids' parameters (:data:`~.grids.PARAMS`) of this sampler."""
        return {k: getattr(self, k) for k in PARAMS}

    @property
    def times(self) -> np.ndarray:
        return time_grid(self.process, self.grid, self.n_steps, self.t_min, self.grid_params)

    @property
    def nfe(self) -> float:
        """Score evaluations: K (em, ei, ddpm, euler, ddim, dpmpp_2m), 2K (heun, dpm_2, heun_churn), 4K (rk4), L x levels
        (annealed Langevin)."""
        if math.isinf(self.n_steps):
            return math.inf
        per = self.steps_per_level if self.record.evals is None else self.record.evals
        return float(per * self.n_steps + (1 if self.denoise else 0))


    def coefficients(self) -> np.ndarray:
        """The per-step coefficients of the compiled fast path (:func:`.fast.coefficients`)."""
        return fast.coefficients(self)

    # -------------------------------------------------------------------- the variance map
    def start_variance(self, mu):
        """v_0 (a jet where ``mu`` is one: the exact start p_T depends on mu)."""
        p = self.process
        annealed = self.record.integrates == "langevin"
        if self.init == "standard":
            return p.reference_variance if not annealed else self.sigma_max**2
        if annealed:
            return mu + self.sigma_max**2
        if self.init == "exact":
            return float(p.m2(p.T)) * mu + float(p.s2(p.T))
        return float(p.s2(p.T)) + (float(p.m2(p.T)) if self.init == "diffusers" else 0.0)

    @property
    def compiled(self) -> bool:
        """Whether the law comes from the scheme's compiled fast path (exact score, finite K)."""
        return self.training is None and self.record.fast is not None and not math.isinf(self.n_steps)

    def affine(self, mu, compiled: bool | None = None):
        """``(Phi, Psi, bad)``: the law is affine in the start variance, :math:`v_K = \\Phi v_0 + \\Psi` (before the
        Tweedie step), so one pass serves both initialisations; jets if ``mu`` is a jet.  ``compiled``: force the fast
        path (True) or the law from the step (False); default :attr:`compiled`."""
        p = self.process
        if math.isinf(self.n_steps) and self.training is not None:  # a trained score: by quadrature over t
            return continuous.trained_affine(self, mu)
        if math.isinf(self.n_steps):  # the continuous-time laws at t_min
            lt = float(p.m2(self.t_min)) * mu + float(p.s2(self.t_min))
            lT = float(p.m2(p.T)) * mu + float(p.s2(p.T))
            ratio = lt / lT
            if self.record.integrates == "sde":
                R = p.sde_decay(p.T, self.t_min)
                Phi = ratio * ratio * R
                Psi = lt - lT * Phi
            else:
                Phi, Psi = ratio, 0.0 * ratio
            return Phi, Psi, ~(np.asarray(_jet.value(lt)) > 0)
        if self.compiled if compiled is None else compiled:
            return fast.affine(self, mu)
        if self.record.step is None:
            raise ValueError(f"sampler.scheme {self.record.name} has no step to derive its law from")
        return law.affine(self, mu)

    def _finish(self, mu, v, population: bool = False):
        """The final Tweedie step, if any: v <- ((1 - sigma_t^2 a_t)/m_t)^2 v at t_min."""
        if not self.denoise:
            return v
        p = self.process
        m2, s2 = float(p.m2(self.t_min)), float(p.s2(self.t_min))
        if self.training is None or population:
            D = (1.0 - s2 / (m2 * mu + s2)) / math.sqrt(m2)
        else:
            D = (1.0 - s2 * self.training.score_coefficient(mu, m2, s2)) / math.sqrt(m2)
        return D * D * v

    def variance_and_flags(self, mu):
        """``(F, bad)``: the variance map at ``mu`` and where the point is diverged (module docstring)."""
        Phi, Psi, bad = self.affine(mu)
        v0 = self.start_variance(mu)
        F = self._finish(mu, Phi * v0 + Psi)
        Fv = np.asarray(_jet.value(F))
        scale = np.maximum(1.0, np.maximum(np.abs(np.asarray(_jet.value(mu))), np.asarray(_jet.value(v0))))
        blown = ~np.isfinite(Fv) | (Fv > BLOWUP * scale) | (Fv < 0)
        return F, bad | blown

    def variance(self, mu, sigma=None):
        return self.variance_and_flags(mu)[0]

    def deviation(self, mu, sigma=None):
        return self.variance(mu) - mu

    def terms(self, mu, sigma=None):
        F = self.variance(mu)
        return F, F - mu

    def stable(self, mu, sigma=None):
        return ~self.variance_and_flags(np.asarray(_jet.value(mu), dtype=float))[1]

    def variance_and_stable(self, mu, sigma=None):
        F, bad = self.variance_and_flags(np.asarray(mu, dtype=float))
        return F, ~bad

    def reference(self, lam):
        """The variance the sampler aims at: :math:`\\lambda_{t_{\\min}} = m^2\\lambda + \\sigma^2` (after the Tweedie step
        if ``denoise``); annealed Langevin: :math:`\\lambda + \\sigma_{\\min}^2`."""
        p = self.process
        lam = np.asarray(lam, dtype=float)
        if self.record.integrates == "langevin":
            return lam + self.sigma_min**2
        return self._finish(lam, float(p.m2(self.t_min)) * lam + float(p.s2(self.t_min)), population=True)

    def trajectory(self, lam):
        """The law along the reverse grid (values, population score): ``(t (K+1,), v (K+1, d), target (K+1, d))`` with
        ``target`` the variance of :math:`p_{t_k}`.  A loop over the steps (for figures; finite K, not annealed
        Langevin)."""
        if math.isinf(self.n_steps) or self.record.integrates == "langevin":
            raise ValueError("a trajectory needs a finite n_steps and a time grid (not annealed_langevin)")
        lam = np.asarray(lam, dtype=float)
        p, t = self.process, self.times
        v = np.empty((t.size, lam.size))
        v[0] = self.start_variance(lam)
        if self.compiled:
            c = self.coefficients()
            multistep = bool(self.record.history)  # a multistep recursion: every prefix from the start
            for k in range(t.size - 1):
                v[k + 1] = (fast.steps_values(self, c[:k + 1], lam, v[0]) if multistep else
                            fast.steps_values(self, c[k:k + 1], lam, v[k]))
        else:
            for k in range(t.size - 1):
                Phi, Psi, bad = law.affine(self._with_grid(t[:k + 2]), lam)
                v[k + 1] = np.where(bad, np.nan, Phi * v[0] + Psi)
        return t, v, p.m2(t)[:, None] * lam + p.s2(t)[:, None]

    def _with_grid(self, times) -> "Diffusion":
        """The same sampler on a prefix of its grid (for :meth:`trajectory`)."""
        other = object.__new__(Diffusion)
        other.__dict__.update(self.__dict__)
        other.grid, other.n_steps, other.t_min = [float(x) for x in times], float(len(times) - 1), float(times[-1])
        return other

    def with_training(self, training: Training) -> "Diffusion":
        """The same sampler with the scores of :class:`Training` (exact: ``self`` unchanged).  Its law is the one
        derived from the scheme's step (:mod:`.law`, the model asked at each time the step needs), or at ``n_steps =
        inf`` the continuous-time law by quadrature (:mod:`.continuous`), so it needs a time grid, t_min > 0 and
        m_T > 0."""
        if training is None or training.is_minimiser:
            return self
        where = f"fit.method {training.method}"
        if self.record.integrates == "langevin":
            raise ValueError(f"{where} needs a time grid (not annealed_langevin): the law of a trained score is "
                             "computed step by step, or in continuous time (n_steps: inf) by quadrature")
        if not self.t_min > 0:
            raise ValueError(f"{where} needs sampler.t_min > 0 (the trained score is -(1 - m theta) / sigma_t^2)")
        if float(self.process.m2(self.process.T)) == 0:
            raise ValueError(f"{where} needs a signal scale m_T > 0 at T (process {self.process.name}: take "
                             f"sampler.T < {self.process.T:g})")
        other = object.__new__(Diffusion)
        other.__dict__.update(self.__dict__)
        other.training = training
        return other

    def score_times(self) -> np.ndarray:
        """The distinct times at which the steps evaluate the score (:func:`.law.score_times`), for scores given per
        time (:meth:`covariance_with_scores`)."""
        return law.score_times(self)

    def covariance_with_scores(self, A, start_cov) -> np.ndarray:
        """The output covariance for matrix scores :math:`s_t(y) = -A(t)y` (:func:`.law.covariance_with_scores`)."""
        return law.covariance_with_scores(self, A, start_cov)

    def exactly_initialised(self) -> "Diffusion":
        """The same sampler started from p_T itself."""
        other = object.__new__(Diffusion)
        other.__dict__.update(self.__dict__)
        other.init = "exact"
        return other

    def n_samples_scale(self, lam, sigma=None, per_mode: bool = False):
        """:math:`2(\\lambda_{\\max}/m)^2` with m the smallest marginal variance the score is used at,
        :math:`m = \\min_i \\lambda_{t_{\\min},i}` (:math:`\\lambda_i + \\sigma_{\\min}^2` for annealed Langevin): small where
        the learned score of low-variance directions is steep (the analogue of theory.md §7.2 note 5).
        ``per_mode`` (diagonal models): :math:`\\max_i 2(\\lambda_i/m_i)^2`, each mode against its own variance."""
        lam = _checks.spectrum(lam, allow_zero=True)
        m = np.asarray(self.reference(lam) if not self.denoise else
                       float(self.process.m2(self.t_min)) * lam + float(self.process.s2(self.t_min)), dtype=float)
        if per_mode:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(m > 0, 2.0 * (lam / np.where(m > 0, m, 1.0)) ** 2, np.where(lam > 0, np.inf, 0.0))
            return float(r.max())
        m = float(m.min())
        return 2.0 * (float(lam.max()) / m) ** 2 if m > 0 else math.inf


DEFAULTS = {k: p.default for k, p in inspect.signature(Diffusion.__init__).parameters.items() if k != "self"}
"""Every :class:`Diffusion` argument (the config's ``sampler.<key>``, the CLI's ``--<key>``) and its default."""
FIXED_PARAMS = tuple(k for k in DEFAULTS if k not in Diffusion.axes)
"""The arguments that are not grid axes (one value per study)."""
