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
    ``edm`` (Karras et al. 2022): :math:`f = 0`, :math:`\sigma_t = t`, :math:`g^2 = 2t`; reference N(0, T² I), T = 80.

Schemes (``scheme``) on the reverse grid :math:`T = t_0 > \dots > t_K = t_{\min}`, :math:`h_k = t_k - t_{k+1}`,
:math:`\varphi(t) = -f(t) - \tfrac12 g(t)^2 a_t`:
    reverse SDE: ``em`` :math:`\alpha = 1 + h_k(-f - g^2 a)(t_k)`, :math:`\beta^2 = g^2(t_k)h_k`; ``ei`` (linear drift exact,
    score frozen at :math:`t_k`; VP: :math:`E = e^{\frac12\int_{t_{k+1}}^{t_k}\beta}`, :math:`\alpha = E - 2(E-1)a`,
    :math:`\beta^2 = E^2 - 1`; VE/heat: :math:`\alpha = 1 - \Delta\sigma^2 a`, :math:`\beta^2 = \Delta\sigma^2`); ``ddpm`` (VP,
    Ho et al. 2020, :math:`b_k = h_k\beta(t_k)`: :math:`\alpha = (1 - b_k a)/\sqrt{1 - b_k}`, :math:`\beta^2 = b_k`);
    probability-flow ODE: ``euler`` :math:`\alpha = 1 + h\varphi_k`; ``ddim`` (η = 0, Song, Meng & Ermon 2021:
    :math:`y' = m_{k+1}\hat x_0 + \sigma_{k+1}\hat\epsilon`, :math:`\hat\epsilon = \sigma_k a y`,
    :math:`\hat x_0 = (1 - \sigma_k^2 a)y/m_k`, so :math:`\alpha = m_{k+1}/m_k - (m_{k+1}\sigma_k^2/m_k - \sigma_{k+1}\sigma_k)a`); ``heun`` :math:`\alpha = 1 + \tfrac h2(\varphi_k + \varphi_{k+1}(1 + h\varphi_k))`;
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
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import _checks
from . import _diffusion_layout as L
from . import _jet
from ._base import Sampler

__all__ = ["Diffusion", "Process", "VP", "VE", "Heat", "EDM", "make_process", "Scheme", "scheme_record", "time_grid",
           "particles", "PROCESSES", "SCHEMES", "GRIDS", "INITS", "SDE_SCHEMES", "ODE_SCHEMES", "EVALS", "ORDER",
           "BLOWUP", "DEFAULT_T", "DEFAULTS", "PARAMS"]

GRIDS = ("uniform", "geometric", "edm")
INITS = ("standard", "exact")
BLOWUP = 1e8
RHO = 7.0


# ------------------------------------------------------------------------------------------- forward processes

class Process(ABC):
    r"""A forward linear SDE :math:`dx = f(t)x\,dt + g(t)\,dW`, given by its marginal scale and noise
    :math:`p_t = \mathcal N(0, m_t^2\Sigma + \sigma_t^2 I)` (module docstring), vectorised over times ``t``.

    A process is one subclass registered in :data:`PROCESSES`: :meth:`m2`, :meth:`s2` and their inverse
    :meth:`t_of_s2`, the SDE's coefficients :meth:`f` and :meth:`g2`, the reference (start) variance, and the two
    closed forms the schemes need: the exponential-integrator step :meth:`ei` and the continuous-time decay
    :meth:`sde_decay`.
    """

    name: ClassVar[str]
    default_T: ClassVar[float] = 1.0

    def __init__(self, T: float):
        self.T = float(T)

    @abstractmethod
    def m2(self, t):
        """:math:`m_t^2`."""

    @abstractmethod
    def s2(self, t):
        r""":math:`\sigma_t^2`."""

    @abstractmethod
    def t_of_s2(self, s2):
        r"""Inverse of :math:`t \mapsto \sigma_t^2`."""

    @abstractmethod
    def f(self, t):
        """The linear drift :math:`f(t)`."""

    @abstractmethod
    def g2(self, t):
        """The squared diffusion :math:`g(t)^2`."""

    @property
    @abstractmethod
    def reference_variance(self) -> float:
        """The variance of the reference Gaussian N(0, v I) the reverse process starts from (``init='standard'``)."""

    @abstractmethod
    def ei(self, tk, tn):
        r"""Exponential-integrator step from ``tk`` down to ``tn`` (linear drift exact, score frozen at ``tk``):
        ``(A0, A1, noise)`` with :math:`y_{k+1} = A_0 y + A_1 s_{t_k}(y) + \sqrt{\text{noise}}\,z`."""

    @abstractmethod
    def sde_decay(self, t_hi: float, t_lo: float) -> float:
        """:math:`R` of the reverse SDE's continuous-time law between ``t_hi`` and ``t_lo`` (module docstring)."""

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.__dict__.items()))))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class VP(Process):
    r"""Variance preserving (Song et al. 2021): :math:`f = -\tfrac12\beta(t)`, :math:`g^2 = \beta(t)`, :math:`\beta` linear
    from ``beta_min`` to ``beta_max`` on [0, T]; :math:`m_t^2 = e^{-\int_0^t\beta}`, :math:`\sigma_t^2 = 1 - m_t^2`."""

    name = "vp"

    def __init__(self, T: float = 1.0, beta_min: float = 0.1, beta_max: float = 20.0):
        super().__init__(T)
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def B(self, t):
        r""":math:`\int_0^t\beta`."""
        t = np.asarray(t, dtype=float)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t / self.T

    def beta(self, t):
        return self.beta_min + (self.beta_max - self.beta_min) * np.asarray(t, dtype=float) / self.T

    def m2(self, t):
        return np.exp(-self.B(t))

    def s2(self, t):
        r""":math:`\sigma_t^2` (``-expm1``: no cancellation at small t)."""
        return -np.expm1(-self.B(t))

    def t_of_s2(self, s2):
        B = -np.log1p(-np.asarray(s2, dtype=float))
        q = 0.5 * (self.beta_max - self.beta_min) / self.T
        if q == 0:
            return B / self.beta_min
        return 2.0 * B / (self.beta_min + np.sqrt(self.beta_min**2 + 4.0 * q * B))

    def f(self, t):
        return -0.5 * self.beta(t)

    def g2(self, t):
        return self.beta(t)

    @property
    def reference_variance(self) -> float:
        return 1.0

    def ei(self, tk, tn):
        E = np.exp(0.5 * (self.B(tk) - self.B(tn)))
        return E, 2.0 * (E - 1.0), np.expm1(self.B(tk) - self.B(tn))

    def sde_decay(self, t_hi, t_lo):
        return math.exp(-(float(self.B(t_hi)) - float(self.B(t_lo))))


class _DriftFree(Process):
    r"""Processes without drift (f = 0, m = 1): the exponential integrator adds :math:`\Delta\sigma^2`."""

    def m2(self, t):
        return np.ones_like(np.asarray(t, dtype=float))

    def f(self, t):
        return np.zeros_like(np.asarray(t, dtype=float))

    def ei(self, tk, tn):
        ds2 = self.s2(tk) - self.s2(tn)
        return 1.0, ds2, ds2

    def sde_decay(self, t_hi, t_lo):
        return 1.0


class VE(_DriftFree):
    r"""Variance exploding (Song et al. 2021): :math:`g^2 = d\sigma(t)^2/dt`, :math:`\sigma(t) = \sigma_{\min}
    (\sigma_{\max}/\sigma_{\min})^{t/T}`, :math:`\sigma_t^2 = \sigma(t)^2 - \sigma_{\min}^2` (so :math:`p_0` is the data
    law); reference N(0, σ_max² I)."""

    name = "ve"

    def __init__(self, T: float = 1.0, sigma_min: float = 0.01, sigma_max: float = 50.0):
        super().__init__(T)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)

    def s2(self, t):
        t = np.asarray(t, dtype=float)
        return self.sigma_min**2 * np.expm1(2.0 * t / self.T * math.log(self.sigma_max / self.sigma_min))

    def t_of_s2(self, s2):
        s2 = np.asarray(s2, dtype=float)
        return self.T * np.log1p(s2 / self.sigma_min**2) / (2.0 * math.log(self.sigma_max / self.sigma_min))

    def g2(self, t):
        t = np.asarray(t, dtype=float)
        L = math.log(self.sigma_max / self.sigma_min)
        return self.sigma_min**2 * np.exp(2.0 * t / self.T * L) * 2.0 * L / self.T

    @property
    def reference_variance(self) -> float:
        return self.sigma_max**2


class Heat(_DriftFree):
    r"""The heat flow (Perbost, Bach & Marion 2026): :math:`f = 0`, :math:`g = 1`, :math:`\sigma_t^2 = t`; reference
    N(0, T I)."""

    name = "heat"
    default_T = 100.0

    def s2(self, t):
        return np.asarray(t, dtype=float).copy()

    def t_of_s2(self, s2):
        return np.asarray(s2, dtype=float).copy()

    def g2(self, t):
        return np.ones_like(np.asarray(t, dtype=float))

    @property
    def reference_variance(self) -> float:
        return self.T


class EDM(_DriftFree):
    r"""Karras et al. 2022 (EDM): :math:`m_t = 1`, :math:`\sigma_t = t` (the noise level is the time), so
    :math:`dx = \sqrt{2t}\,dW`; reference N(0, T² I) with T = σ_max = 80.  Its probability-flow ODE in t is the
    paper's ODE in σ: ``heun`` on ``grid: edm`` is their deterministic sampler (Algorithm 1)."""

    name = "edm"
    default_T = 80.0

    def s2(self, t):
        t = np.asarray(t, dtype=float)
        return t * t

    def t_of_s2(self, s2):
        return np.sqrt(np.asarray(s2, dtype=float))

    def g2(self, t):
        return 2.0 * np.asarray(t, dtype=float)

    @property
    def reference_variance(self) -> float:
        return self.T**2


PROCESSES: dict[str, type[Process]] = {c.name: c for c in (VP, VE, Heat, EDM)}
"""The forward processes by config name (``sampler.process``)."""
DEFAULT_T = {k: c.default_T for k, c in PROCESSES.items()}


def make_process(name: str, T=None, **params) -> Process:
    """The process ``name`` with horizon ``T`` (default its own) and the parameters of its constructor among
    ``params`` (the others are ignored: a study's config holds every process's keys)."""
    cls = PROCESSES.get(name)
    if cls is None:
        raise ValueError(f"sampler.process must be one of {', '.join(PROCESSES)}; got {name!r}")
    own = inspect.signature(cls.__init__).parameters
    return cls(cls.default_T if T is None else T, **{k: v for k, v in params.items() if k in own and k != "T"})


# ------------------------------------------------------------------------------------------- reverse schemes

def _em(p, tk, tn, h):
    return 1.0 - h * p.f(tk), h * p.g2(tk), p.g2(tk) * h


def _euler(p, tk, tn, h):  # alpha = 1 + h phi(t_k) = (1 - h f) - (h g^2 / 2) a: linear in a, as the SDE schemes
    return 1.0 - h * p.f(tk), 0.5 * h * p.g2(tk), 0.0


def _ei(p, tk, tn, h):
    return p.ei(tk, tn)


def _ddpm(p, tk, tn, h):
    b = h * p.beta(tk)
    b = np.where(b < 1, b, np.nan)  # a step h beta >= 1 has no ancestral step: the point is diverged
    return 1.0 / np.sqrt(1.0 - b), b / np.sqrt(1.0 - b), b


def _ddim(p, tk, tn, h):
    """DDIM, eta = 0 (Song, Meng & Ermon 2021): y' = m_n x0 + s_n eps with eps = s_k a y, x0 = (1 - s_k^2 a) y / m_k."""
    mk, mn = np.sqrt(p.m2(tk)), np.sqrt(p.m2(tn))
    s2k = p.s2(tk)
    return mn / mk, mn * s2k / mk - np.sqrt(p.s2(tn)) * np.sqrt(s2k), 0.0


def _ddim_step(c, k, y, score, ode, noise):
    """DDIM from its definition: the noise and data predictions at t_k, recombined at t_{k+1}."""
    mk, sk = math.sqrt(c[k, L.M2K]), math.sqrt(c[k, L.S2K])
    mn, sn = math.sqrt(c[k, L.M2N]), math.sqrt(c[k, L.S2N])
    eps = -sk * score(k, y)  # the noise prediction
    x0 = (y - sk * eps) / mk  # the data prediction (Tweedie)
    return mn * x0 + sn * eps


def _linear_step(c, k, y, score, ode, noise):
    """One linear-family step from its coefficients: y <- A0 y + A1 s(y) + sqrt(NOISE) z (s = -a y); a noise-free
    step (euler) draws no noise."""
    y = c[k, L.A0] * y + c[k, L.A1] * score(k, y)
    return y if c[k, L.NOISE] == 0 else y + math.sqrt(c[k, L.NOISE]) * noise()


def _heun_step(c, k, y, score, ode, noise):
    h = c[k, L.H]
    d1 = ode("k", k, y)
    d2 = ode("n", k, y + h * d1)
    return y + 0.5 * h * (d1 + d2)


def _rk4_step(c, k, y, score, ode, noise):
    h = c[k, L.H]
    k1 = ode("k", k, y)
    k2 = ode("m", k, y + 0.5 * h * k1)
    k3 = ode("m", k, y + 0.5 * h * k2)
    k4 = ode("n", k, y + h * k3)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


@dataclass(frozen=True)
class Scheme:
    """A reverse-time scheme: what the config calls it, what it integrates, its cost and order, and its parts.

    Attributes
    ----------
    name : str
        ``sampler.scheme``.
    integrates : {'sde', 'ode', 'langevin'}
        The reverse SDE, the probability-flow ODE, or Langevin chains at fixed noise levels (annealed Langevin).
    evals : int or None
        Score evaluations per step (None: ``steps_per_level`` per level, annealed Langevin).
    order : int or None
        p of the discretization error, :math:`W_2 = O(K^{-p})` from the exact initialisation (None: no such order).
    family : int
        The compiled loop (:mod:`._diffusion_layout`: LINEAR, HEUN, RK4, ANNEALED).
    linear : callable or None
        ``linear(process, t_k, t_{k+1}, h) -> (A0, A1, NOISE)`` of a linear-family step.
    step : callable
        One particle step from the coefficients (validation of the exact law), ``step(c, k, y, score, ode, noise)``.
    needs : type or None
        The process class the scheme is defined for (ddpm: VP).
    cite : str
        What the scheme is and where from, for messages (``"ancestral sampling, Ho et al. 2020"``).
    """

    name: str
    integrates: str
    evals: int | None
    order: int | None
    family: int
    linear: Callable | None = None
    step: Callable | None = None
    needs: type | None = None
    cite: str = ""

    @property
    def evaluates_at_t_min(self) -> bool:
        """The score is evaluated at the last grid time (the step's end point): Heun and RK4."""
        return self.family in (L.HEUN, L.RK4)


SCHEME_LIST = (
    Scheme("em", "sde", 1, 1, L.LINEAR, _em, _linear_step),
    Scheme("ei", "sde", 1, 1, L.LINEAR, _ei, _linear_step),
    Scheme("ddpm", "sde", 1, 1, L.LINEAR, _ddpm, _linear_step, needs=VP, cite="ancestral sampling, Ho et al. 2020"),
    Scheme("euler", "ode", 1, 1, L.LINEAR, _euler, _linear_step),
    Scheme("ddim", "ode", 1, 1, L.LINEAR, _ddim, _ddim_step),
    Scheme("heun", "ode", 2, 2, L.HEUN, None, _heun_step),
    Scheme("rk4", "ode", 4, 4, L.RK4, None, _rk4_step),
    Scheme("annealed_langevin", "langevin", None, None, L.ANNEALED),
)
SCHEMES: dict[str, Scheme] = {s.name: s for s in SCHEME_LIST}
"""The reverse schemes by config name (``sampler.scheme``)."""
SDE_SCHEMES = tuple(n for n, s in SCHEMES.items() if s.integrates == "sde")
ODE_SCHEMES = tuple(n for n, s in SCHEMES.items() if s.integrates == "ode")
#: score evaluations per step
EVALS = {n: s.evals for n, s in SCHEMES.items() if s.evals is not None}
#: order p of the discretization error, W_2 = O(K^-p) from the exact initialisation (annealed Langevin: none)
ORDER = {n: s.order for n, s in SCHEMES.items() if s.order is not None}


def scheme_record(name: str) -> Scheme:
    """The record of scheme ``name``; an unknown name raises (naming the known ones)."""
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise ValueError(f"sampler.scheme must be one of {', '.join(SCHEMES)}; got {name!r}") from None


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
        self.record = scheme_record(scheme_name := scheme)
        _checks.choice("sampler.init", init, INITS)
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
        self.process = make_process(process, T, beta_min=self.beta_min, beta_max=self.beta_max,
                                    sigma_min=self.sigma_min, sigma_max=self.sigma_max)
        self.scheme, self.grid, self.init, self.denoise = scheme_name, grid, init, bool(denoise)
        self.n_steps = _checks.integer("sampler.n_steps", n_steps, allow_inf=True)
        self.t_min = _checks.number("sampler.t_min", t_min, ge=0)
        if not self.t_min < T:
            raise ValueError(f"sampler.T must be > sampler.t_min; got T = {T:g}, t_min = {self.t_min:g}")
        self.steps_per_level = _checks.integer("sampler.steps_per_level", steps_per_level)
        self.eps = _checks.number("sampler.eps", eps, gt=0)
        rec = self.record
        if rec.needs is not None and not isinstance(self.process, rec.needs):
            raise ValueError(f"sampler.scheme {rec.name}{f' ({rec.cite})' if rec.cite else ''} needs sampler.process: "
                             f"{rec.needs.name}")
        annealed = rec.family == L.ANNEALED
        if annealed and math.isinf(self.n_steps):
            raise ValueError("sampler.scheme annealed_langevin needs a finite n_steps (its number of noise levels)")
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
            if k in cfg["grid"]:
                errors.append(f"{where}.grid.{k} is not used by sampler.kind: diffusion (its scores are the exact DSM "
                              "minimisers at every noise level); remove it")
        if any(t != 0 for t in study.grid["tau"]) or cfg["fit"]["method"] != "exact":
            errors.append(f"{where}.fit.method must be exact with sampler.kind: diffusion (and grid.tau [0.0])")
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
    def times(self) -> np.ndarray:
        return time_grid(self.process, self.grid, self.n_steps, self.t_min)

    @property
    def nfe(self) -> float:
        """Score evaluations: K (em, ei, ddpm, euler), 2K (heun), 4K (rk4), L x levels (annealed Langevin)."""
        if math.isinf(self.n_steps):
            return math.inf
        per = self.steps_per_level if self.record.evals is None else self.record.evals
        return float(per * self.n_steps + (1 if self.denoise else 0))

    def coefficients(self) -> np.ndarray:
        """Per step, ``(K, N_COLS)`` (columns: :mod:`._diffusion_layout`): m², σ² at t_k, t_{k+1}, t_k − h/2; A0, A1
        (linear family); h; P0, P1 of φ at t_k, t_{k+1}, the midpoint; the step's noise variance.  Annealed Langevin:
        m² = 1, σ² = σ_j², A0 = ε_j."""
        p = self.process
        if self.record.family == L.ANNEALED:
            n = int(self.n_steps)
            sig2 = (self.sigma_max * (self.sigma_min / self.sigma_max) ** (np.arange(n) / max(n - 1, 1))) ** 2
            c = np.zeros((n, L.N_COLS))
            c[:, L.M2K], c[:, L.S2K], c[:, L.A0] = 1.0, sig2, self.eps * sig2 / self.sigma_min**2
            return c
        t = self.times
        tk, tn = t[:-1], t[1:]
        h = tk - tn
        tm = tk - 0.5 * h
        c = np.zeros((tk.size, L.N_COLS))
        for (jm, js), tt in (((L.M2K, L.S2K), tk), ((L.M2N, L.S2N), tn), ((L.M2M, L.S2M), tm)):
            c[:, jm], c[:, js] = p.m2(tt), p.s2(tt)
        c[:, L.H] = h
        for (j0, j1), tt in (((L.P0K, L.P1K), tk), ((L.P0N, L.P1N), tn), ((L.P0M, L.P1M), tm)):
            c[:, j0], c[:, j1] = -p.f(tt), 0.5 * p.g2(tt)  # phi = -f - g^2 a / 2 = P0 - P1 a
        if self.record.linear is not None:
            c[:, L.A0], c[:, L.A1], c[:, L.NOISE] = self.record.linear(p, tk, tn, h)
        return c

    # -------------------------------------------------------------------- the variance map
    def _start(self, mu):
        """v_0 (a jet where ``mu`` is one: the exact start p_T depends on mu)."""
        p = self.process
        annealed = self.record.family == L.ANNEALED
        if self.init == "standard":
            return p.reference_variance if not annealed else self.sigma_max**2
        if annealed:
            return mu + self.sigma_max**2
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
            if self.record.integrates == "sde":
                R = p.sde_decay(p.T, self.t_min)
                Phi = ratio * ratio * R
                Psi = lt - lT * Phi
            else:
                Phi, Psi = ratio, 0.0 * ratio
            return Phi, Psi, ~(np.asarray(_jet.value(lt)) > 0)
        values, jets_loop = _kernels()
        c = np.ascontiguousarray(self.coefficients())
        fam, per_level = self.record.family, self.steps_per_level
        bad = np.empty(flat.size, dtype=np.bool_)
        if not jets:
            phi, psi = np.empty(flat.size), np.empty(flat.size)
            values(flat, c, fam, per_level, phi, psi, bad)
            return phi.reshape(shape), psi.reshape(shape), bad.reshape(shape)
        out = np.empty((flat.size, 6))
        jets_loop(flat, c, fam, per_level, out, bad)
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
        if self.record.family == L.ANNEALED:
            return lam + self.sigma_min**2
        return self._finish(lam, float(p.m2(self.t_min)) * lam + float(p.s2(self.t_min)))

    def trajectory(self, lam):
        """The law along the reverse grid (values, population score): ``(t (K+1,), v (K+1, d), target (K+1, d))`` with
        ``target`` the variance of :math:`p_{t_k}`.  A plain loop over the steps (for figures; finite K, not annealed
        Langevin)."""
        if math.isinf(self.n_steps) or self.record.family == L.ANNEALED:
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
    values(np.ascontiguousarray(mu), np.ascontiguousarray(c[k:k + 1]), sampler.record.family,
           sampler.steps_per_level, phi, psi, bad)
    return np.where(bad, np.nan, phi * v + psi)


def particles(sampler: Diffusion, mu, n_particles: int, rng) -> np.ndarray:
    r"""Particle chains of the actual scheme (validation of the exact laws): ``(n_particles, d)`` samples of the output.

    Each step is the scheme's own update (:attr:`Scheme.step`) on particles, with the linear score
    :math:`s_t(y) = -y/(m_t^2\mu + \sigma_t^2)` per eigen-direction: the linear family from its step coefficients
    (:math:`y \leftarrow A_0y + A_1s_{t_k}(y) + \sqrt{\text{noise}}\,z`), Heun and RK4 from the probability-flow
    drift, annealed Langevin as L ULA steps per level -- not from the variance recursion.
    """
    p, mu = sampler.process, np.asarray(mu, dtype=float)
    shape = (int(n_particles), mu.size)
    c = sampler.coefficients()

    def noise():
        return rng.standard_normal(shape)

    if sampler.record.family == L.ANNEALED:
        y = math.sqrt(sampler.sigma_max**2) * noise() if sampler.init == "standard" else \
            np.sqrt(mu + sampler.sigma_max**2) * noise()
        for k in range(c.shape[0]):
            eps, s2 = c[k, L.A0], c[k, L.S2K]
            for _ in range(sampler.steps_per_level):
                y = y - eps * y / (mu + s2) + math.sqrt(2 * eps) * noise()
        return y
    at = {"k": (L.M2K, L.S2K, L.P0K, L.P1K), "n": (L.M2N, L.S2N, L.P0N, L.P1N), "m": (L.M2M, L.S2M, L.P0M, L.P1M)}

    def score(k, y, where="k"):
        jm, js = at[where][:2]
        return -y / (c[k, jm] * mu + c[k, js])

    def ode(where, k, y):  # probability-flow drift in reverse time: dy/d(-t) = -(f y - g^2 s / 2) = P0 y + P1 s
        j0, j1 = at[where][2:]
        return c[k, j0] * y + c[k, j1] * score(k, y, where)

    v0 = np.broadcast_to(np.asarray(sampler._start(mu), dtype=float), mu.shape)
    y = np.sqrt(v0) * noise()
    for k in range(c.shape[0]):
        y = sampler.record.step(c, k, y, score, ode, noise)
    if sampler.denoise:
        m2, s2 = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min))
        y = (y + s2 * (-y / (m2 * mu + s2))) / math.sqrt(m2)
    return y
