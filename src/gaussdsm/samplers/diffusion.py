r"""Diffusion models with a linear score: forward processes, time grids, reverse-time schemes (samplers.md §4–§5).

A forward linear SDE :math:`dx = f(t)x\,dt + g(t)\,dW` has marginals :math:`p_t = \mathcal N(0, m_t^2\Sigma + \sigma_t^2 I)`;
per eigen-direction of the covariance the score is built from (eigenvalue :math:`\mu` of :math:`\hat\Sigma` for the
exact DSM minimiser at every level, :math:`\hat s_t(y) = -(m_t^2\hat\Sigma + \sigma_t^2 I)^{-1}y`, or :math:`\lambda` for
the population score) the score coefficient is :math:`a_t = 1/(m_t^2\mu + \sigma_t^2)`.  Every scheme below is, per
eigen-direction, :math:`y_{k+1} = \alpha_k y_k + \beta_k z_k`, so the output variance is affine in the start
variance: :math:`v_K = \Phi(\mu)\,v_0 + \Psi(\mu)`.  The variance map :math:`F(\mu) = v_K` comes from a compiled
loop over the K steps, vectorised over eigenvalues (the time grid is shared by all of them), with forward-mode
first and second derivatives for the generalization kernel.

Processes (``process``)
    ``vp`` (Song et al. 2021): :math:`f = -\tfrac12\beta(t)`, :math:`g^2 = \beta(t)`, :math:`\beta` linear from ``beta_min``
    to ``beta_max`` on [0, T]; :math:`m_t^2 = e^{-\int_0^t\beta}`, :math:`\sigma_t^2 = 1 - m_t^2`; reference N(0, I).
    ``ve``: :math:`f = 0`, :math:`g^2 = d\sigma(t)^2/dt`, :math:`\sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^{t/T}`,
    :math:`\sigma_t^2 = \sigma(t)^2 - \sigma_{\min}^2` (so :math:`p_0` is the data law); reference N(0, σ_max² I).
    ``heat`` (Perbost, Bach & Marion 2026): :math:`f = 0`, :math:`g = 1`, :math:`\sigma_t^2 = t`; reference N(0, T I).

Schemes (``scheme``) on the reverse grid :math:`T = t_0 > \dots > t_K = t_{\min}`, :math:`h_k = t_k - t_{k+1}`,
:math:`\varphi(t) = -f(t) - \tfrac12 g(t)^2 a_t`:
    reverse SDE: ``em`` :math:`\alpha = 1 + h_k(-f - g^2 a)(t_k)`, :math:`\beta^2 = g^2(t_k)h_k`; ``ei`` (linear drift exact,
    score frozen at :math:`t_k`; VP: :math:`E = e^{\frac12\int_{t_{k+1}}^{t_k}\beta}`, :math:`\alpha = E - 2(E-1)a`,
    :math:`\beta^2 = E^2 - 1`; VE/heat: :math:`\alpha = 1 - \Delta\sigma^2 a`, :math:`\beta^2 = \Delta\sigma^2`); ``ddpm`` (VP,
    Ho et al. 2020, :math:`b_k = h_k\beta(t_k)`: :math:`\alpha = (1 - b_k a)/\sqrt{1 - b_k}`, :math:`\beta^2 = b_k`);
    probability-flow ODE: ``euler`` :math:`\alpha = 1 + h\varphi_k`; ``heun`` :math:`\alpha = 1 + \tfrac h2(\varphi_k + \varphi_{k+1}(1 + h\varphi_k))`;
    ``rk4`` (midpoint :math:`t_k - h/2`); ``annealed_langevin`` (Song & Ermon 2019): ``n_steps`` noise levels
    :math:`\sigma_j` geometric from σ_max to σ_min, ``steps_per_level`` L ULA steps of size :math:`\epsilon\sigma_j^2/\sigma_{\min}^2`
    with :math:`a = 1/(\mu + \sigma_j^2)`, from N(0, σ_max² I).
    ``n_steps = inf``: the continuous-time law at :math:`t_{\min}` (deviation :math:`e = v - \lambda_t`): reverse SDE
    :math:`e(t_{\min}) = e(T)(\lambda_{t_{\min}}/\lambda_T)^2 R` (:math:`R = e^{-\int_{t_{\min}}^T\beta}` for VP, 1 otherwise),
    ODE :math:`v(t_{\min}) = v(T)\lambda_{t_{\min}}/\lambda_T`.

Time grids (``grid``): ``uniform`` in t, ``geometric`` in t, ``edm`` (Karras et al. 2022, ρ = 7 in σ_t, mapped to t),
or an explicit decreasing list of times.  Initialisation (``init``): ``standard`` (the reference Gaussian) or ``exact``
(:math:`p_T` itself).  Optional final ``denoise`` (Tweedie at :math:`t_{\min}`: :math:`y \leftarrow (y + \sigma_t^2 s(y))/m_t`).

A point is diverged where the score is infinite at an evaluated time (:math:`m_t^2\mu + \sigma_t^2 = 0`, e.g. a zero
eigenvalue of :math:`\hat\Sigma` scored at t = 0) or the output variance blows up (not finite or above
:data:`BLOWUP` times the largest of 1, μ and the start variance).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from .. import _checks
from . import _jet
from ._base import Sampler

__all__ = ["Diffusion", "Process", "time_grid", "particles", "PROCESSES", "SCHEMES", "GRIDS", "INITS", "SDE_SCHEMES",
           "ODE_SCHEMES", "BLOWUP", "DEFAULT_T", "DEFAULTS", "PARAMS"]

PROCESSES = ("vp", "ve", "heat")
SDE_SCHEMES = ("em", "ei", "ddpm")
ODE_SCHEMES = ("euler", "heun", "rk4")
SCHEMES = SDE_SCHEMES + ODE_SCHEMES + ("annealed_langevin",)
GRIDS = ("uniform", "geometric", "edm")
INITS = ("standard", "exact")
DEFAULT_T = {"vp": 1.0, "ve": 1.0, "heat": 100.0}
BLOWUP = 1e8
RHO = 7.0
_SCHEME_ID = {s: j for j, s in enumerate(SCHEMES)}
#: score evaluations per step
EVALS = {"em": 1, "ei": 1, "ddpm": 1, "euler": 1, "heun": 2, "rk4": 4}
#: order p of the discretization error, W_2 = O(K^-p) from the exact initialisation (annealed Langevin: none)
ORDER = {"em": 1, "ei": 1, "ddpm": 1, "euler": 1, "heun": 2, "rk4": 4}


@dataclass(frozen=True)
class Process:
    """A forward linear SDE (module docstring), vectorised over times ``t``."""

    kind: str = "vp"
    T: float = 1.0
    beta_min: float = 0.1
    beta_max: float = 20.0
    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def B(self, t):
        """:math:`\\int_0^t\\beta` (VP)."""
        t = np.asarray(t, dtype=float)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t / self.T

    def m2(self, t):
        t = np.asarray(t, dtype=float)
        return np.exp(-self.B(t)) if self.kind == "vp" else np.ones_like(t)

    def s2(self, t):
        """:math:`\\sigma_t^2` (``-expm1`` for VP: no cancellation at small t)."""
        t = np.asarray(t, dtype=float)
        if self.kind == "vp":
            return -np.expm1(-self.B(t))
        if self.kind == "ve":
            return self.sigma_min**2 * np.expm1(2.0 * t / self.T * math.log(self.sigma_max / self.sigma_min))
        return t.copy()

    def f(self, t):
        t = np.asarray(t, dtype=float)
        return -0.5 * self.beta(t) if self.kind == "vp" else np.zeros_like(t)

    def beta(self, t):
        return self.beta_min + (self.beta_max - self.beta_min) * np.asarray(t, dtype=float) / self.T

    def g2(self, t):
        t = np.asarray(t, dtype=float)
        if self.kind == "vp":
            return self.beta(t)
        if self.kind == "ve":
            L = math.log(self.sigma_max / self.sigma_min)
            return self.sigma_min**2 * np.exp(2.0 * t / self.T * L) * 2.0 * L / self.T
        return np.ones_like(t)

    @property
    def reference_variance(self) -> float:
        return {"vp": 1.0, "ve": self.sigma_max**2, "heat": self.T}[self.kind]

    def t_of_s2(self, s2):
        """Inverse of :math:`t \\mapsto \\sigma_t^2`."""
        s2 = np.asarray(s2, dtype=float)
        if self.kind == "vp":
            B = -np.log1p(-s2)
            q = 0.5 * (self.beta_max - self.beta_min) / self.T
            if q == 0:
                return B / self.beta_min
            return 2.0 * B / (self.beta_min + np.sqrt(self.beta_min**2 + 4.0 * q * B))
        if self.kind == "ve":
            return self.T * np.log1p(s2 / self.sigma_min**2) / (2.0 * math.log(self.sigma_max / self.sigma_min))
        return s2.copy()


def time_grid(process: Process, grid, n_steps: int, t_min: float) -> np.ndarray:
    """The reverse time grid :math:`T = t_0 > t_1 > \\dots > t_K = t_{\\min}` (shape ``(K + 1,)``)."""
    T = process.T
    if not isinstance(grid, str):
        return np.asarray(grid, dtype=float)
    K = int(n_steps)
    k = np.arange(K + 1) / K
    if grid == "uniform":
        t = T - k * (T - t_min)
    elif grid == "geometric":
        t = T * (t_min / T) ** k
    elif grid == "edm":
        smax, smin = math.sqrt(float(process.s2(T))), math.sqrt(float(process.s2(t_min)))
        sig = (smax ** (1 / RHO) + k * (smin ** (1 / RHO) - smax ** (1 / RHO))) ** RHO
        t = process.t_of_s2(sig**2)
    else:
        raise ValueError(f"sampler.grid must be one of {', '.join(GRIDS)} or a list of times; got {grid!r}")
    t[0], t[-1] = T, t_min
    return t


# ------------------------------------------------------------------------------------------- compiled loops

def _kernels():
    """The compiled loops over the steps (:mod:`._diffusion_kernels`; numba imported on first use only)."""
    from . import _diffusion_kernels as k

    return k.affine_values, k.affine_jets


class Diffusion(Sampler):
    """One diffusion sampler setting (module docstring); its variance map by the compiled recursion.

    Parameters
    ----------
    process : {'vp', 've', 'heat'}
    scheme : {'em', 'ei', 'ddpm', 'euler', 'heun', 'rk4', 'annealed_langevin'}
    grid : {'uniform', 'geometric', 'edm'} or sequence of float
        An explicit grid fixes T, n_steps and t_min.
    n_steps : int or inf
        K steps (annealed Langevin: the number of noise levels); ``inf``: the continuous-time law.
    t_min : float
        Stopping time (``>= 0``; 0 only for schemes that never evaluate the score at t = 0).
    init : {'standard', 'exact'}
    T : float, optional
        Horizon (default :data:`DEFAULT_T` of the process).
    beta_min, beta_max : float
        VP schedule (Song et al. 2021: 0.1, 20).
    sigma_min, sigma_max : float
        VE schedule and annealed Langevin's levels (0.01, 50).
    denoise : bool
        A final Tweedie step at t_min.
    steps_per_level, eps : int, float
        Annealed Langevin: L and ε (Song & Ermon 2019: 100, 2e-5).
    """

    kind = "diffusion"
    axes = ("scheme", "init", "n_steps", "t_min")

    def __init__(self, process="vp", scheme="em", grid="uniform", n_steps=100, t_min=1e-3, init="standard", T=None,
                 beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0, denoise=False, steps_per_level=100,
                 eps=2e-5):
        _checks.choice("sampler.process", process, PROCESSES)
        _checks.choice("sampler.scheme", scheme, SCHEMES)
        _checks.choice("sampler.init", init, INITS)
        T = DEFAULT_T[process] if T is None else _checks.number("sampler.T", T, gt=0)
        if not isinstance(grid, str):
            t = np.asarray(grid, dtype=float)
            if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) >= 0) or t[-1] < 0:
                raise ValueError(f"sampler.grid as a list must decrease strictly from T to t_min >= 0; got {grid!r}")
            T, t_min, n_steps = float(t[0]), float(t[-1]), t.size - 1
        self.process = Process(process, T, _checks.number("sampler.beta_min", beta_min, gt=0),
                               _checks.number("sampler.beta_max", beta_max, gt=0),
                               _checks.number("sampler.sigma_min", sigma_min, gt=0),
                               _checks.number("sampler.sigma_max", sigma_max, gt=0))
        if beta_min > beta_max:
            raise ValueError(f"sampler.beta_min must be <= sampler.beta_max; got {beta_min} > {beta_max}")
        if sigma_min >= sigma_max:
            raise ValueError(f"sampler.sigma_min must be < sampler.sigma_max; got {sigma_min} >= {sigma_max}")
        self.scheme, self.grid, self.init, self.denoise = scheme, grid, init, bool(denoise)
        self.n_steps = _checks.integer("sampler.n_steps", n_steps, allow_inf=True)
        self.t_min = _checks.number("sampler.t_min", t_min, ge=0)
        if not self.t_min < T:
            raise ValueError(f"sampler.T must be > sampler.t_min; got T = {T:g}, t_min = {self.t_min:g}")
        self.steps_per_level = _checks.integer("sampler.steps_per_level", steps_per_level)
        self.eps = _checks.number("sampler.eps", eps, gt=0)
        if scheme == "ddpm" and process != "vp":
            raise ValueError("sampler.scheme ddpm (ancestral sampling, Ho et al. 2020) needs sampler.process: vp")
        if scheme == "annealed_langevin" and math.isinf(self.n_steps):
            raise ValueError("sampler.scheme annealed_langevin needs a finite n_steps (its number of noise levels)")
        evaluates_at_t_min = scheme in ("heun", "rk4") or self.denoise
        if self.t_min == 0 and (evaluates_at_t_min or grid == "geometric") and scheme != "annealed_langevin":
            raise ValueError(f"sampler.t_min must be > 0 with scheme {scheme}"
                             f"{' and denoise' if self.denoise else ''}{' on a geometric grid' if grid == 'geometric' else ''}"
                             " (the score, or the grid, is not defined at t = 0)")

    # -------------------------------------------------------------------- the grid and its coefficients
    @property
    def times(self) -> np.ndarray:
        return time_grid(self.process, self.grid, self.n_steps, self.t_min)

    @property
    def nfe(self) -> float:
        """Score evaluations: K (em, ei, ddpm, euler), 2K (heun), 4K (rk4), L x levels (annealed Langevin)."""
        if math.isinf(self.n_steps):
            return math.inf
        per = self.steps_per_level if self.scheme == "annealed_langevin" else EVALS[self.scheme]
        return float(per * self.n_steps + (1 if self.denoise else 0))

    def coefficients(self) -> np.ndarray:
        """Per step, ``(K, 16)``: m², σ² at t_k, t_{k+1}, t_k − h/2; A0, A1 (SDE); h; P0, P1 of φ at t_k, t_{k+1},
        the midpoint; β² (the step's noise variance).  Annealed Langevin: m² = 1, σ² = σ_j², A0 = ε_j."""
        p = self.process
        if self.scheme == "annealed_langevin":
            n = int(self.n_steps)
            sig2 = (p.sigma_max * (p.sigma_min / p.sigma_max) ** (np.arange(n) / max(n - 1, 1))) ** 2
            c = np.zeros((n, 16))
            c[:, 0], c[:, 1], c[:, 6] = 1.0, sig2, self.eps * sig2 / p.sigma_min**2
            return c
        t = self.times
        tk, tn = t[:-1], t[1:]
        h = tk - tn
        tm = tk - 0.5 * h
        c = np.zeros((tk.size, 16))
        for j, tt in ((0, tk), (2, tn), (4, tm)):
            c[:, j], c[:, j + 1] = p.m2(tt), p.s2(tt)
        c[:, 8] = h
        for j, tt in ((9, tk), (11, tn), (13, tm)):
            c[:, j], c[:, j + 1] = -p.f(tt), 0.5 * p.g2(tt)  # phi = -f - g^2 a / 2 = P0 - P1 a
        if self.scheme == "em":
            c[:, 6], c[:, 7], c[:, 15] = 1.0 - h * p.f(tk), h * p.g2(tk), p.g2(tk) * h
        elif self.scheme == "euler":  # alpha = 1 + h phi(t_k) = (1 - h f) - (h g^2 / 2) a: linear in a, as the SDE schemes
            c[:, 6], c[:, 7] = 1.0 - h * p.f(tk), 0.5 * h * p.g2(tk)
        elif self.scheme == "ei":
            if p.kind == "vp":
                E = np.exp(0.5 * (p.B(tk) - p.B(tn)))
                c[:, 6], c[:, 7], c[:, 15] = E, 2.0 * (E - 1.0), np.expm1(p.B(tk) - p.B(tn))
            else:
                ds2 = p.s2(tk) - p.s2(tn)
                c[:, 6], c[:, 7], c[:, 15] = 1.0, ds2, ds2
        elif self.scheme == "ddpm":
            b = h * p.beta(tk)
            b = np.where(b < 1, b, np.nan)  # a step h beta >= 1 has no ancestral step: the point is diverged
            c[:, 6], c[:, 7], c[:, 15] = 1.0 / np.sqrt(1.0 - b), b / np.sqrt(1.0 - b), b
        return c

    # -------------------------------------------------------------------- the variance map
    def _start(self, mu):
        """v_0 (a jet where ``mu`` is one: the exact start p_T depends on mu)."""
        p = self.process
        if self.init == "standard":
            return p.reference_variance if self.scheme != "annealed_langevin" else p.sigma_max**2
        if self.scheme == "annealed_langevin":
            return mu + p.sigma_max**2
        return float(p.m2(p.T)) * mu + float(p.s2(p.T))

    def affine(self, mu):
        """``(Phi, Psi, bad)``: the law is affine in the start variance, :math:`v_K = \\Phi v_0 + \\Psi` (before the
        Tweedie step), so one pass serves both initialisations; jets if ``mu`` is a jet."""
        jets = isinstance(mu, _jet.Jet)
        x = np.asarray(_jet.value(mu), dtype=float)
        shape = x.shape
        flat = np.ascontiguousarray(x.reshape(-1))
        p = self.process
        if math.isinf(self.n_steps):  # the continuous-time laws at t_min
            lt = float(p.m2(self.t_min)) * mu + float(p.s2(self.t_min))
            lT = float(p.m2(p.T)) * mu + float(p.s2(p.T))
            ratio = lt / lT
            if self.scheme in SDE_SCHEMES:
                R = math.exp(-(float(p.B(p.T)) - float(p.B(self.t_min)))) if p.kind == "vp" else 1.0
                Phi = ratio * ratio * R
                Psi = lt - lT * Phi
            else:
                Phi, Psi = ratio, 0.0 * ratio
            return Phi, Psi, ~(np.asarray(_jet.value(lt)) > 0)
        values, jets_loop = _kernels()
        c = np.ascontiguousarray(self.coefficients())
        sid, L = _SCHEME_ID[self.scheme], self.steps_per_level
        bad = np.empty(flat.size, dtype=np.bool_)
        if not jets:
            phi, psi = np.empty(flat.size), np.empty(flat.size)
            values(flat, c, sid, L, phi, psi, bad)
            return phi.reshape(shape), psi.reshape(shape), bad.reshape(shape)
        out = np.empty((flat.size, 6))
        jets_loop(flat, c, sid, L, out, bad)
        d1, d2 = (np.broadcast_to(u, shape).reshape(-1) for u in (mu.d1, mu.d2))
        # chain rule from d/dmu to the jet's own variable (here d mu = d1, d^2 mu = d2)
        Phi = _jet.Jet(out[:, 0], out[:, 1] * d1, out[:, 2] * d1 * d1 + out[:, 1] * d2)
        Psi = _jet.Jet(out[:, 3], out[:, 4] * d1, out[:, 5] * d1 * d1 + out[:, 4] * d2)
        Phi, Psi = (_jet.Jet(*(u.reshape(shape) for u in (j.v, j.d1, j.d2))) for j in (Phi, Psi))
        return Phi, Psi, bad.reshape(shape)

    def _finish(self, mu, v):
        """The final Tweedie step, if any: v <- ((1 - sigma_t^2 a_t)/m_t)^2 v at t_min."""
        if not self.denoise:
            return v
        p = self.process
        m2, s2 = float(p.m2(self.t_min)), float(p.s2(self.t_min))
        D = (1.0 - s2 / (m2 * mu + s2)) / math.sqrt(m2)
        return D * D * v

    def variance_and_flags(self, mu):
        """``(F, bad)``: the variance map at ``mu`` and where the point is diverged (module docstring)."""
        Phi, Psi, bad = self.affine(mu)
        v0 = self._start(mu)
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
        if self.scheme == "annealed_langevin":
            return lam + p.sigma_min**2
        return self._finish(lam, float(p.m2(self.t_min)) * lam + float(p.s2(self.t_min)))

    def trajectory(self, lam):
        """The law along the reverse grid (values, population score): ``(t (K+1,), v (K+1, d), target (K+1, d))`` with
        ``target`` the variance of :math:`p_{t_k}`.  A plain loop over the steps (for figures; finite K, not annealed
        Langevin)."""
        if math.isinf(self.n_steps) or self.scheme == "annealed_langevin":
            raise ValueError("a trajectory needs a finite n_steps and a time grid (not annealed_langevin)")
        lam = np.asarray(lam, dtype=float)
        p, t = self.process, self.times
        v = np.empty((t.size, lam.size))
        v[0] = self._start(lam)
        c = self.coefficients()
        for k in range(t.size - 1):
            v[k + 1] = _one_step(self, c, k, lam, v[k])
        return t, v, p.m2(t)[:, None] * lam + p.s2(t)[:, None]

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
PARAMS = tuple(k for k in DEFAULTS if k not in Diffusion.axes)
"""The arguments that are not grid axes (one value per study)."""


def _one_step(sampler: Diffusion, c, k, mu, v):
    """One step of the variance recursion (values), through the compiled loop on a single step."""
    values, _ = _kernels()
    phi, psi, bad = np.empty(mu.size), np.empty(mu.size), np.empty(mu.size, dtype=np.bool_)
    values(np.ascontiguousarray(mu), np.ascontiguousarray(c[k:k + 1]), _SCHEME_ID[sampler.scheme],
           sampler.steps_per_level, phi, psi, bad)
    return np.where(bad, np.nan, phi * v + psi)


def particles(sampler: Diffusion, mu, n_particles: int, rng) -> np.ndarray:
    """Particle chains of the actual scheme (validation of the exact laws): ``(n_particles, d)`` samples of the output.

    Each step is written from the scheme's definition (reverse SDE / ODE drift with the linear score
    :math:`s_t(y) = -y/(m_t^2\\mu + \\sigma_t^2)` per eigen-direction), not from the variance recursion.
    """
    p, mu = sampler.process, np.asarray(mu, dtype=float)
    shape = (int(n_particles), mu.size)

    def score(t, y):
        return -y / (float(p.m2(t)) * mu + float(p.s2(t)))

    def ode(t, y):  # probability-flow drift in reverse time: dy/d(-t) = -(f y - g^2 s / 2)
        return -(float(p.f(t)) * y - 0.5 * float(p.g2(t)) * score(t, y))

    if sampler.scheme == "annealed_langevin":
        c = sampler.coefficients()
        y = math.sqrt(p.sigma_max**2) * rng.standard_normal(shape) if sampler.init == "standard" else \
            np.sqrt(mu + p.sigma_max**2) * rng.standard_normal(shape)
        for k in range(c.shape[0]):
            eps, s2 = c[k, 6], c[k, 1]
            for _ in range(sampler.steps_per_level):
                y = y - eps * y / (mu + s2) + math.sqrt(2 * eps) * rng.standard_normal(shape)
        return y
    t = sampler.times
    v0 = np.broadcast_to(np.asarray(sampler._start(mu), dtype=float), mu.shape)
    y = np.sqrt(v0) * rng.standard_normal(shape)
    for k in range(t.size - 1):
        tk, tn = t[k], t[k + 1]
        h = tk - tn
        if sampler.scheme == "em":
            y = y + h * (-float(p.f(tk)) * y + float(p.g2(tk)) * score(tk, y)) + math.sqrt(float(p.g2(tk)) * h) * rng.standard_normal(shape)
        elif sampler.scheme == "ei":
            s = score(tk, y)
            if p.kind == "vp":
                E = math.exp(0.5 * (float(p.B(tk)) - float(p.B(tn))))
                y = E * y + 2.0 * (E - 1.0) * s + math.sqrt(E * E - 1.0) * rng.standard_normal(shape)
            else:
                ds2 = float(p.s2(tk)) - float(p.s2(tn))
                y = y + ds2 * s + math.sqrt(ds2) * rng.standard_normal(shape)
        elif sampler.scheme == "ddpm":
            b = h * float(p.beta(tk))
            y = (y + b * score(tk, y)) / math.sqrt(1.0 - b) + math.sqrt(b) * rng.standard_normal(shape)
        elif sampler.scheme == "euler":
            y = y + h * ode(tk, y)
        elif sampler.scheme == "heun":
            d1 = ode(tk, y)
            d2 = ode(tn, y + h * d1)
            y = y + 0.5 * h * (d1 + d2)
        else:  # rk4
            tm = tk - 0.5 * h
            k1 = ode(tk, y)
            k2 = ode(tm, y + 0.5 * h * k1)
            k3 = ode(tm, y + 0.5 * h * k2)
            k4 = ode(tn, y + h * k3)
            y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    if sampler.denoise:
        m2, s2 = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min))
        y = (y + s2 * score(sampler.t_min, y)) / math.sqrt(m2)
    return y
