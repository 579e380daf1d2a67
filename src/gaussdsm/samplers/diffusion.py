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

__all__ = ["Diffusion", "Process", "VP", "VPCosine", "VPExp", "VE", "Heat", "EDM", "Flow", "make_process",
           "compatible", "Training", "Scheme", "scheme_record", "time_grid",
           "particles", "PROCESSES", "SCHEMES", "GRIDS", "INITS", "SDE_SCHEMES", "ODE_SCHEMES", "EVALS", "ORDER",
           "BLOWUP", "DEFAULT_T", "DEFAULTS", "PARAMS"]

GRIDS = ("uniform", "geometric", "edm")
INITS = ("standard", "exact")
BLOWUP = 1e8
RHO = 7.0


# ------------------------------------------------------------------------------------------- forward processes

def _bisect(above, like, T: float):
    """The t in [0, T] where the increasing condition ``above(t)`` switches on, elementwise (64 halvings, shape of
    ``like``)."""
    lo, hi = np.zeros_like(like), np.full_like(like, T)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        up = above(mid)
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return 0.5 * (lo + hi)


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

    def sde_decay(self, t_hi: float, t_lo: float) -> float:
        r""":math:`R = m_{t_{hi}}^2/m_{t_{lo}}^2 = e^{2\int f}` of the reverse SDE's continuous-time law between ``t_hi``
        and ``t_lo`` (module docstring)."""
        return float(self.m2(t_hi)) / float(self.m2(t_lo))

    def q(self, t):
        r"""The numerators of the probability-flow drift factor :math:`\varphi = (Q_0\mu + Q_1)a`
        (:mod:`._diffusion_layout`): :math:`(Q_0, Q_1) = (-m\dot m, -\sigma\dot\sigma) = (-fm^2, -f\sigma^2 - g^2/2)`."""
        f = self.f(t)
        return -f * self.m2(t), -f * self.s2(t) - 0.5 * self.g2(t)

    def t_of_ratio(self, r):
        r"""Inverse of :math:`t \mapsto \sigma_t^2/m_t^2` (the noise-to-signal ratio, :math:`e^{-2\lambda_t}` with
        :math:`\lambda_t` the half log-SNR of Lu et al. 2022); by bisection on [0, T] unless a process has it closed."""
        r = np.asarray(r, dtype=float)
        return _bisect(lambda t: self.s2(t) > r * self.m2(t), r, self.T)

    def check(self):
        """Raise a ValueError naming the key if the process is not defined on [0, T] (default: always defined)."""

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.__dict__.items()))))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class _VariancePreserving(Process):
    r"""Variance-preserving processes, given by :math:`B(t) = \int_0^t\beta`: :math:`f = -\tfrac12\beta`,
    :math:`g^2 = \beta`, :math:`m_t^2 = e^{-B(t)}`, :math:`\sigma_t^2 = 1 - m_t^2`; reference N(0, I).  The exponential
    integrator is closed for every schedule: :math:`\int_{t_n}^{t_k} (m_n/m_s)\beta(s)\,ds = 2(E - 1)` with
    :math:`E = m_n/m_k = e^{(B(t_k) - B(t_n))/2}`."""

    @abstractmethod
    def B(self, t):
        r""":math:`\int_0^t\beta`."""

    @abstractmethod
    def beta(self, t):
        r""":math:`\beta(t)`."""

    def m2(self, t):
        return np.exp(-self.B(t))

    def s2(self, t):
        r""":math:`\sigma_t^2` (``-expm1``: no cancellation at small t)."""
        return -np.expm1(-self.B(t))

    def f(self, t):
        return -0.5 * self.beta(t)

    def g2(self, t):
        return self.beta(t)

    def q(self, t):
        r""":math:`Q_0 = -Q_1 = \tfrac12\beta m^2` (finite where :math:`\beta` is not, at the end of a cosine schedule)."""
        q0 = 0.5 * self.beta(t) * self.m2(t)
        return q0, -q0

    def t_of_ratio(self, r):
        r = np.asarray(r, dtype=float)
        return self.t_of_s2(r / (1.0 + r))

    @property
    def reference_variance(self) -> float:
        return 1.0

    def ei(self, tk, tn):
        E = np.exp(0.5 * (self.B(tk) - self.B(tn)))
        return E, 2.0 * (E - 1.0), np.expm1(self.B(tk) - self.B(tn))

    def sde_decay(self, t_hi, t_lo):
        return math.exp(-(float(self.B(t_hi)) - float(self.B(t_lo))))


class VP(_VariancePreserving):
    r"""Variance preserving (Song et al. 2021): :math:`\beta` linear from ``beta_min`` to ``beta_max`` on [0, T]."""

    name = "vp"

    def __init__(self, T: float = 1.0, beta_min: float = 0.1, beta_max: float = 20.0):
        super().__init__(T)
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def B(self, t):
        t = np.asarray(t, dtype=float)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t / self.T

    def beta(self, t):
        return self.beta_min + (self.beta_max - self.beta_min) * np.asarray(t, dtype=float) / self.T

    def t_of_s2(self, s2):
        B = -np.log1p(-np.asarray(s2, dtype=float))
        q = 0.5 * (self.beta_max - self.beta_min) / self.T
        if q == 0:
            return B / self.beta_min
        return 2.0 * B / (self.beta_min + np.sqrt(self.beta_min**2 + 4.0 * q * B))


class VPCosine(_VariancePreserving):
    r"""The cosine schedule (Nichol & Dhariwal 2021): :math:`m_t = \cos\theta_t/\cos\theta_0`,
    :math:`\theta_t = \frac{t + s}{1 + s}\frac\pi2`, s = 0.008, on the unit interval; :math:`\beta(t) =
    \frac{\pi}{1 + s}\tan\theta_t`.  :math:`m_1 = 0`, where :math:`\beta` is infinite: the horizon defaults to
    T = 0.9946, DPM-Solver's choice for this schedule (Lu et al. 2022); T <= 1."""

    name = "vp_cosine"
    default_T = 0.9946
    S = 0.008

    def _theta(self, t):
        return (np.asarray(t, dtype=float) + self.S) / (1.0 + self.S) * (0.5 * math.pi)

    def check(self):
        if self.T > 1:
            raise ValueError(f"sampler.T must be <= 1 with process vp_cosine (its schedule ends at t = 1, where m_t = 0); "
                             f"got {self.T:g}")

    def B(self, t):
        return -2.0 * np.log(np.cos(self._theta(t)) / math.cos(self._theta(0.0)))

    def m2(self, t):
        return (np.cos(self._theta(t)) / math.cos(self._theta(0.0))) ** 2

    def s2(self, t):
        th, th0 = self._theta(t), self._theta(0.0)
        # 1 - cos^2(th)/cos^2(th0) = sin(th - th0) sin(th + th0) / cos^2(th0): no cancellation at small t
        return np.sin(th - th0) * np.sin(th + th0) / math.cos(th0) ** 2

    def beta(self, t):
        return math.pi / (1.0 + self.S) * np.tan(self._theta(t))

    def q(self, t):
        th = self._theta(t)
        q0 = 0.5 * math.pi / (1.0 + self.S) * np.sin(th) * np.cos(th) / math.cos(self._theta(0.0)) ** 2
        return q0, -q0

    def t_of_s2(self, s2):
        m = np.sqrt(np.clip(1.0 - np.asarray(s2, dtype=float), 0.0, 1.0)) * math.cos(self._theta(0.0))
        return np.arccos(m) * 2.0 * (1.0 + self.S) / math.pi - self.S


class VPExp(_VariancePreserving):
    r"""The exponential schedule of Strasman et al. (TMLR 2025): :math:`\beta(t) = \beta_{\min} + \delta(e^{at} - 1)`,
    with :math:`\delta = (\beta_{\max} - \beta_{\min})/(e^{aT} - 1)` so that :math:`\beta(T) = \beta_{\max}` as for
    ``vp`` (``exp_rate`` a: a > 0 back-loads the noise, a < 0 front-loads it, a -> 0 is ``vp``);
    :math:`B(t) = \beta_{\min}t + \delta((e^{at} - 1)/a - t)`."""

    name = "vp_exp"

    def __init__(self, T: float = 1.0, beta_min: float = 0.1, beta_max: float = 20.0, exp_rate: float = 2.0):
        super().__init__(T)
        self.beta_min, self.beta_max, self.exp_rate = float(beta_min), float(beta_max), float(exp_rate)

    def check(self):
        if self.exp_rate == 0:
            raise ValueError("sampler.exp_rate must be non-zero with process vp_exp (a = 0 is process vp)")

    @property
    def delta(self) -> float:
        return (self.beta_max - self.beta_min) / math.expm1(self.exp_rate * self.T)

    def B(self, t):
        t = np.asarray(t, dtype=float)
        a = self.exp_rate
        return self.beta_min * t + self.delta * (np.expm1(a * t) / a - t)

    def beta(self, t):
        return self.beta_min + self.delta * np.expm1(self.exp_rate * np.asarray(t, dtype=float))

    def t_of_s2(self, s2):
        """By bisection on [0, T] (B is increasing)."""
        target = -np.log1p(-np.asarray(s2, dtype=float))
        return _bisect(lambda t: self.B(t) > target, target, self.T)


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

    def q(self, t):
        r""":math:`Q_0 = 0`, :math:`Q_1 = -g^2/2`."""
        g2 = self.g2(t)
        return np.zeros_like(g2), -0.5 * g2

    def t_of_ratio(self, r):
        return self.t_of_s2(r)


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


class Flow(Process):
    r"""Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023): :math:`m_t = 1 - t`, :math:`\sigma_t = t`
    on [0, 1], so :math:`f = -1/(1 - t)`, :math:`g^2 = 2t/(1 - t)`; reference N(0, I) = :math:`p_1`.  Its
    probability-flow ODE is the learned velocity :math:`v(y, t) = \mathbb E[\epsilon - x_0 \mid x_t = y] = -\varphi\,y`,
    :math:`\varphi = ((1 - t)\mu - t)\,a`, finite at t = 1: ``euler`` and ``heun`` are flow matching's Euler and Heun
    samplers.  The reverse SDE's drift and noise are infinite at t = 1: SDE schemes need T < 1."""

    name = "flow"

    def check(self):
        if self.T > 1:
            raise ValueError(f"sampler.T must be <= 1 with process flow (m_t = 1 - t); got {self.T:g}")

    def m2(self, t):
        return (1.0 - np.asarray(t, dtype=float)) ** 2

    def s2(self, t):
        t = np.asarray(t, dtype=float)
        return t * t

    def t_of_s2(self, s2):
        return np.sqrt(np.asarray(s2, dtype=float))

    def t_of_ratio(self, r):
        rho = np.sqrt(np.asarray(r, dtype=float))
        return rho / (1.0 + rho)

    def f(self, t):
        with np.errstate(divide="ignore"):
            return -1.0 / (1.0 - np.asarray(t, dtype=float))

    def g2(self, t):
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):
            return 2.0 * t / (1.0 - t)

    def q(self, t):
        t = np.asarray(t, dtype=float)
        return 1.0 - t, -t

    @property
    def reference_variance(self) -> float:
        return 1.0

    def ei(self, tk, tn):
        r"""Linear drift exact: :math:`A_0 = m_n/m_k`, :math:`A_1 = m_n\int_{t_n}^{t_k} g^2/m
        = 2m_n[1/(1 - t) + \log(1 - t)]_{t_n}^{t_k}`, noise :math:`m_n^2\sigma_k^2/m_k^2 - \sigma_n^2`."""
        mk, mn = 1.0 - np.asarray(tk, dtype=float), 1.0 - np.asarray(tn, dtype=float)
        A1 = 2.0 * mn * (1.0 / mk - 1.0 / mn + np.log(mk / mn))
        return mn / mk, A1, (mn * tk / mk) ** 2 - tn * tn


PROCESSES: dict[str, type[Process]] = {c.name: c for c in (VP, VPCosine, VPExp, VE, Heat, EDM, Flow)}
"""The forward processes by config name (``sampler.process``)."""
DEFAULT_T = {k: c.default_T for k, c in PROCESSES.items()}


def make_process(name: str, T=None, **params) -> Process:
    """The process ``name`` with horizon ``T`` (default its own) and the parameters of its constructor among
    ``params`` (the others are ignored: a study's config holds every process's keys)."""
    cls = PROCESSES.get(name)
    if cls is None:
        raise ValueError(f"sampler.process must be one of {', '.join(PROCESSES)}; got {name!r}")
    own = inspect.signature(cls.__init__).parameters
    p = cls(cls.default_T if T is None else T, **{k: v for k, v in params.items() if k in own and k != "T"})
    p.check()
    return p


# ------------------------------------------------------------------------------------------- reverse schemes
# A scheme's coefficient builder ``fill(sampler, c, tk, tn, h)`` writes its own columns of the per-step matrix ``c``
# (:mod:`._diffusion_layout`) after the shared ones (m², σ², Q at t_k, t_{k+1}, t_k - h/2; H); its particle step
# ``step(chain, k, y)`` is one step of the scheme on particles (:class:`_Chain`), to validate the exact law.

def _linear(coefficients):
    """The builder of a linear-family scheme from ``coefficients(process, tk, tn, h) -> (A0, A1, NOISE[, A2])``."""
    def fill(sampler, c, tk, tn, h):
        out = coefficients(sampler.process, tk, tn, h)
        c[:, L.A0], c[:, L.A1], c[:, L.NOISE] = out[:3]
        if len(out) > 3:
            c[:, L.A2] = out[3]
    return fill


def _em(p, tk, tn, h):
    return 1.0 - h * p.f(tk), h * p.g2(tk), p.g2(tk) * h


def _euler(p, tk, tn, h):
    """alpha = 1 + h phi(t_k) = 1 + h (Q0 mu + Q1) a: A0 = 1, A1 = -h Q1, A2 = h Q0."""
    q0, q1 = p.q(tk)
    return np.ones_like(h), -h * q1, 0.0, h * q0


def _ei(p, tk, tn, h):
    return p.ei(tk, tn)


def _ddpm(p, tk, tn, h):
    b = h * p.beta(tk)
    b = np.where(b < 1, b, np.nan)  # a step h beta >= 1 has no ancestral step: the point is diverged
    return 1.0 / np.sqrt(1.0 - b), b / np.sqrt(1.0 - b), b


def _ddim(p, tk, tn, h):
    """DDIM, eta = 0 (Song, Meng & Ermon 2021): y' = m_n x0 + s_n eps with eps = s_k a y, x0 = (1 - s_k^2 a) y / m_k
    = m_k mu a y, so alpha = (m_k m_n mu + s_k s_n) a (finite where m_k = 0)."""
    return 0.0 * h, -np.sqrt(p.s2(tk) * p.s2(tn)), 0.0, np.sqrt(p.m2(tk) * p.m2(tn))


def _dpm2_fill(sampler, c, tk, tn, h):
    r"""DPM-Solver-2 (Lu et al. 2022, Algorithm 1 with r_1 = 1/2): s the midpoint of :math:`\lambda = \log(m/\sigma)`;
    :math:`u = (m_s/m_k)y - \sigma_s(e^{h_\lambda/2} - 1)\hat\epsilon_k`, :math:`y' = (m_n/m_k)y - \sigma_n(e^{h_\lambda} -
    1)\hat\epsilon_s(u)`, :math:`\hat\epsilon = \sigma a y`.  The first half is DDIM from t_k to s, :math:`u = (m_sm_k\mu
    + \sigma_s\sigma_k)a_k y`, so :math:`\alpha = m_n/m_k - (m_n\sigma_k/m_k - \sigma_n)\sigma_s a_s (m_sm_k\mu +
    \sigma_s\sigma_k) a_k`."""
    p = sampler.process
    m2k, s2k, m2n, s2n = c[:, L.M2K], c[:, L.S2K], c[:, L.M2N], c[:, L.S2N]
    ts = p.t_of_ratio(np.sqrt(s2k / m2k * (s2n / m2n)))
    c[:, L.TM] = ts
    c[:, L.M2M], c[:, L.S2M] = p.m2(ts), p.s2(ts)
    c[:, L.Q0M], c[:, L.Q1M] = p.q(ts)
    mk, sk, mn, sn, ms, ss = (np.sqrt(c[:, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N, L.M2M, L.S2M))
    c[:, L.A0], c[:, L.A1] = mn / mk, (mn * sk / mk - sn) * ss
    c[:, L.U0], c[:, L.U1] = ms * mk, ss * sk


def _dpmpp_2m_fill(sampler, c, tk, tn, h):
    r"""DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2) on the grid :math:`t_0 > \dots > t_K`, :math:`\lambda_j = \log(m_j/
    \sigma_j)`, :math:`h_j = \lambda_{j+1} - \lambda_j`, :math:`r_j = h_{j-1}/h_j`, data prediction :math:`D_j = m_j\mu a_j
    y_j`: :math:`y_{j+1} = (\sigma_{j+1}/\sigma_j)y_j + G_j((1 + \tfrac1{2r_j})D_j - \tfrac1{2r_j}D_{j-1})` with
    :math:`G_j = -m_{j+1}(e^{-h_j} - 1) = m_{j+1} - \sigma_{j+1}m_j/\sigma_j` (first step: :math:`D_0` alone).  So
    :math:`A_0 = \sigma_{j+1}/\sigma_j`, :math:`A_1 = G_j w_1 m_j`, :math:`A_2 = G_j w_2 m_{j-1}`.  :math:`m_0 = 0`
    (flow matching at t = 1) is fine: :math:`h_0 = \infty`, so :math:`G_0 = m_1` and :math:`w_2 = 0` at the next step."""
    mk, sk, mn, sn = (np.sqrt(c[:, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N))
    with np.errstate(divide="ignore"):
        lam = np.log(np.append(mk, mn[-1])) - np.log(np.append(sk, sn[-1]))
    hl = np.diff(lam)
    w2 = np.zeros_like(hl)
    with np.errstate(divide="ignore", invalid="ignore"):
        w2[1:] = -0.5 * hl[1:] / hl[:-1]  # -1/(2 r_j); h_{j-1} = inf gives 0
    w2 = np.where(np.isfinite(w2), w2, 0.0)
    G = mn - sn * mk / sk
    c[:, L.A0], c[:, L.A1] = sn / sk, G * (1.0 - w2) * mk
    c[:, L.A2] = 0.0
    c[1:, L.A2] = G[1:] * w2[1:] * mk[:-1]
    c[:, L.M2P], c[:, L.S2P], c[:, L.TP] = c[:, L.M2K], c[:, L.S2K], c[:, L.TK]
    c[1:, L.M2P], c[1:, L.S2P], c[1:, L.TP] = c[:-1, L.M2K], c[:-1, L.S2K], c[:-1, L.TK]


def _churn_fill(sampler, c, tk, tn, h):
    r"""EDM's stochastic sampler (Karras et al. 2022, Algorithm 2): at :math:`t_k \in [S_{t\min}, S_{t\max}]` raise the
    noise level to :math:`\hat t_k = (1 + \gamma)t_k`, :math:`\gamma = \min(S_{churn}/K, \sqrt2 - 1)`, adding
    :math:`S_{noise}^2(\hat t_k^2 - t_k^2)` of variance, then one Heun step from :math:`\hat t_k` to :math:`t_{k+1}`."""
    p, K = sampler.process, tk.size
    gamma = np.where((tk >= sampler.s_tmin) & (tk <= sampler.s_tmax), min(sampler.s_churn / K, math.sqrt(2) - 1), 0.0)
    th = tk * (1.0 + gamma)
    c[:, L.TK] = th
    c[:, L.M2K], c[:, L.S2K] = p.m2(th), p.s2(th)
    c[:, L.Q0K], c[:, L.Q1K] = p.q(th)
    c[:, L.H] = th - tn
    c[:, L.PRE] = sampler.s_noise**2 * (p.s2(th) - p.s2(tk))


class _Chain:
    """What a particle step sees (:func:`particles`): the coefficients ``c``, the learned score, probability-flow
    drift and data prediction at the step's times (``where``: 'k', 'n', 'm', 'p'), fresh normals, and a per-chain
    ``memory`` (multistep schemes)."""

    def __init__(self, c, mu, shape, rng):
        self.c, self.mu, self.shape, self.rng, self.memory = c, mu, shape, rng, {}

    _AT = {"k": (L.M2K, L.S2K, L.Q0K, L.Q1K), "n": (L.M2N, L.S2N, L.Q0N, L.Q1N), "m": (L.M2M, L.S2M, L.Q0M, L.Q1M),
           "p": (L.M2P, L.S2P, None, None)}

    def score(self, k, y, where="k"):
        """:math:`s(y) = -y/(m^2\\mu + \\sigma^2)` per eigen-direction."""
        jm, js = self._AT[where][:2]
        return -y / (self.c[k, jm] * self.mu + self.c[k, js])

    def ode(self, where, k, y):
        """The probability-flow drift in reverse time, :math:`dy/d(-t) = -(fy - g^2s/2) = \\varphi y`, :math:`\\varphi =
        (Q_0\\mu + Q_1)a` (finite where m = 0)."""
        jm, js, j0, j1 = self._AT[where]
        return (self.c[k, j0] * self.mu + self.c[k, j1]) * y / (self.c[k, jm] * self.mu + self.c[k, js])

    def denoise(self, k, y, where="k"):
        """The data prediction :math:`\\hat x_0 = (y + \\sigma^2 s(y))/m = m\\mu a y` (finite where m = 0)."""
        jm, js = self._AT[where][:2]
        return math.sqrt(self.c[k, jm]) * self.mu * y / (self.c[k, jm] * self.mu + self.c[k, js])

    def noise(self):
        return self.rng.standard_normal(self.shape)


class _TrainedChain(_Chain):
    r"""The same steps with a trained score (:class:`Training`): :math:`s_t(y) = -a_t y` with
    :math:`a_t = (1 - m_t\theta_t)/\sigma_t^2` at each of the step's times, and the probability-flow drift and data
    prediction in their general forms, :math:`\varphi = -f - \tfrac12g^2a`, :math:`\hat x_0 = (y + \sigma^2s)/m`
    (the finite forms of :class:`_Chain` hold for the exact score only).  ``noise``: a constant (0 or 1) instead of
    normals turns a step into its linear map (:meth:`Diffusion.affine` of a trained score)."""

    _T = {"k": L.TK, "n": L.TN, "m": L.TM, "p": L.TP}

    def __init__(self, sampler, c, mu, shape, rng, noise=None):
        super().__init__(c, mu, shape, rng)
        p, tr = sampler.process, sampler.training
        self.constant_noise = noise
        self.a, self.p0, self.p1 = {}, {}, {}
        lead = (-1,) + (1,) * np.ndim(_jet.value(mu))  # (K, 1, ...): broadcast against mu
        for where, (jm, js, *_) in self._AT.items():
            t = c[:, self._T[where]]
            with np.errstate(divide="ignore", invalid="ignore"):  # times a scheme does not use are left at 0
                self.a[where] = tr.score_coefficient(mu, c[:, jm].reshape(lead), c[:, js].reshape(lead))
                self.p0[where], self.p1[where] = -p.f(t), 0.5 * p.g2(t)

    def score(self, k, y, where="k"):
        return -self.a[where][k] * y

    def ode(self, where, k, y):
        return (self.p0[where][k] - self.p1[where][k] * self.a[where][k]) * y

    def denoise(self, k, y, where="k"):
        jm, js = self._AT[where][:2]
        return (y + self.c[k, js] * self.score(k, y, where)) / math.sqrt(self.c[k, jm])

    def noise(self):
        return super().noise() if self.constant_noise is None else self.constant_noise


class _MatrixChain(_TrainedChain):
    """The steps as d x d linear maps for matrix scores :math:`s_t(y) = -A_t y` (a fit that need not commute with
    the data covariance): ``A[where]`` ``(K, d, d)`` at each of the step's times; ``noise`` the identity (the step's
    noise coefficient) or 0."""

    def __init__(self, sampler, c, A, noise):
        _Chain.__init__(self, c, 0.0, None, None)
        p = sampler.process
        self.A, self.constant_noise, self.p0, self.p1 = A, noise, {}, {}
        for where in self._AT:
            t = c[:, self._T[where]]
            with np.errstate(divide="ignore", invalid="ignore"):
                self.p0[where], self.p1[where] = -p.f(t), 0.5 * p.g2(t)

    def score(self, k, y, where="k"):
        return -(self.A[where][k] @ y)

    def ode(self, where, k, y):
        return self.p0[where][k] * y + self.p1[where][k] * self.score(k, y, where)


def _linear_step(ch, k, y):
    """One linear-family step from its coefficients: y <- A0 y + (A1 - A2 mu) s(y) + sqrt(NOISE) z (s = -a y); a
    noise-free step (euler) draws no noise."""
    c = ch.c
    y = c[k, L.A0] * y + (c[k, L.A1] - c[k, L.A2] * ch.mu) * ch.score(k, y)
    return y if c[k, L.NOISE] == 0 else y + math.sqrt(c[k, L.NOISE]) * ch.noise()


def _euler_step(ch, k, y):
    """One Euler step of the probability-flow ODE (flow matching: of the learned velocity)."""
    return y + ch.c[k, L.H] * ch.ode("k", k, y)


def _ddim_step(ch, k, y):
    """DDIM from its definition: the noise and data predictions at t_k, recombined at t_{k+1}."""
    c = ch.c
    sk, mn, sn = math.sqrt(c[k, L.S2K]), math.sqrt(c[k, L.M2N]), math.sqrt(c[k, L.S2N])
    eps = -sk * ch.score(k, y)  # the noise prediction
    x0 = ch.denoise(k, y)  # the data prediction (Tweedie)
    return mn * x0 + sn * eps


def _heun_step(ch, k, y):
    """Heun on the probability-flow ODE; heun_churn first adds its fresh noise (PRE)."""
    c = ch.c
    if c[k, L.PRE] > 0:
        y = y + math.sqrt(c[k, L.PRE]) * ch.noise()
    h = c[k, L.H]
    d1 = ch.ode("k", k, y)
    d2 = ch.ode("n", k, y + h * d1)
    return y + 0.5 * h * (d1 + d2)


def _rk4_step(ch, k, y):
    h = ch.c[k, L.H]
    k1 = ch.ode("k", k, y)
    k2 = ch.ode("m", k, y + 0.5 * h * k1)
    k3 = ch.ode("m", k, y + 0.5 * h * k2)
    k4 = ch.ode("n", k, y + h * k3)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def _dpm2_step(ch, k, y):
    """DPM-Solver-2 from its definition (:func:`_dpm2_fill`): noise predictions at t_k and at the log-SNR midpoint."""
    c = ch.c
    mk, sk, mn, sn, ms, ss = (math.sqrt(c[k, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N, L.M2M, L.S2M))
    eh2, eh = (ms / ss) / (mk / sk), (mn / sn) / (mk / sk)  # e^{h/2}, e^h
    u = (ms / mk) * y - ss * (eh2 - 1.0) * (-sk * ch.score(k, y))
    return (mn / mk) * y - sn * (eh - 1.0) * (-ss * ch.score(k, u, "m"))


def _dpmpp_2m_step(ch, k, y):
    """DPM-Solver++(2M) from its definition (:func:`_dpmpp_2m_fill`): data predictions at t_k and t_{k-1}."""
    c = ch.c
    mk, sk, mn, sn = (math.sqrt(c[k, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N))
    lam = lambda m, s: math.log(m) - math.log(s) if m > 0 else -math.inf  # noqa: E731
    h = lam(mn, sn) - lam(mk, sk)
    D = ch.denoise(k, y)
    prev = ch.memory.get("D")
    Dp = D if prev is None or not math.isfinite(ch.memory["h"]) else \
        (1.0 + 0.5 * h / ch.memory["h"]) * D - 0.5 * h / ch.memory["h"] * prev
    ch.memory.update(D=D, h=h)
    return (sn / sk) * y - mn * math.expm1(-h) * Dp


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
        The compiled loop (:mod:`._diffusion_layout`: LINEAR, HEUN, RK4, ANNEALED, DPM2, MULTISTEP).
    fill : callable or None
        ``fill(sampler, c, t_k, t_{k+1}, h)``: writes the scheme's own columns of the per-step coefficients.
    step : callable
        One particle step from the coefficients (validation of the exact law), ``step(chain, k, y)``.
    needs : type or None
        The process class the scheme is defined for (ddpm: variance preserving; heun_churn: EDM).
    needs_signal : bool
        The step divides by the signal scale :math:`m_{t_k}` (or its SDE's drift is infinite where it is 0): not
        defined from T where :math:`m_T = 0` (flow matching at T = 1).
    cite : str
        What the scheme is and where from, for messages (``"ancestral sampling, Ho et al. 2020"``).
    """

    name: str
    integrates: str
    evals: int | None
    order: int | None
    family: int
    fill: Callable | None = None
    step: Callable | None = None
    needs: type | None = None
    needs_signal: bool = False
    cite: str = ""

    @property
    def evaluates_at_t_min(self) -> bool:
        """The score is evaluated at the last grid time (the step's end point): Heun and RK4."""
        return self.family in (L.HEUN, L.RK4)


SCHEME_LIST = (
    Scheme("em", "sde", 1, 1, L.LINEAR, _linear(_em), _linear_step, needs_signal=True),
    Scheme("ei", "sde", 1, 1, L.LINEAR, _linear(_ei), _linear_step, needs_signal=True),
    Scheme("ddpm", "sde", 1, 1, L.LINEAR, _linear(_ddpm), _linear_step, needs=_VariancePreserving, needs_signal=True,
           cite="ancestral sampling, Ho et al. 2020"),
    Scheme("euler", "ode", 1, 1, L.LINEAR, _linear(_euler), _euler_step),
    Scheme("ddim", "ode", 1, 1, L.LINEAR, _linear(_ddim), _ddim_step),
    Scheme("heun", "ode", 2, 2, L.HEUN, None, _heun_step),
    Scheme("rk4", "ode", 4, 4, L.RK4, None, _rk4_step),
    Scheme("dpm_2", "ode", 2, 2, L.DPM2, _dpm2_fill, _dpm2_step, needs_signal=True,
           cite="DPM-Solver-2, Lu et al. 2022"),
    Scheme("dpmpp_2m", "ode", 1, 2, L.MULTISTEP, _dpmpp_2m_fill, _dpmpp_2m_step,
           cite="DPM-Solver++(2M), Lu et al. 2022b"),
    Scheme("heun_churn", "sde", 2, None, L.HEUN, _churn_fill, _heun_step, needs=EDM,
           cite="EDM's stochastic sampler, Karras et al. 2022, Algorithm 2"),
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


def compatible(process: str, scheme: str, T=None) -> bool:
    """Whether ``scheme`` is defined on ``process`` with horizon ``T`` (default the process's): its required process
    class, and a signal scale m_T > 0 if it divides by it."""
    rec, cls = scheme_record(scheme), PROCESSES[process]
    if rec.needs is not None and not issubclass(cls, rec.needs):
        return False
    return not (rec.needs_signal and float(make_process(process, T).m2(cls.default_T if T is None else T)) == 0)


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


@dataclass(frozen=True)
class Training:
    """How the score of every noise level is learned (``fit.method``, ``fit.train_time``, ``fit.init``, ``fit.lr``):
    the linear denoiser of each level trained on its DSM loss (:func:`gaussdsm.dsm.trained_denoiser`) by gradient
    flow for a time τ, or by full-batch gradient descent with step ``lr`` for round(τ/lr) steps, from θ = 0 or I;
    ``exact`` (or τ = inf): the minimiser, the scores every other part of the package uses."""

    method: str = "exact"
    train_time: float = math.inf
    init: str = "zero"
    lr: float = 0.0
    noise: str = "expected"
    """How Monte Carlo trains (``fit.noise``): on the expected loss (the laws and theory of this class), or by
    gradient descent with the noise drawn at every step (:func:`gaussdsm.montecarlo.drawn_noise_errors`; gd only)."""

    def __post_init__(self):
        from ..dsm import FIT_INITS, FIT_METHODS

        _checks.choice("fit.method", self.method, FIT_METHODS)
        _checks.choice("fit.init", self.init, FIT_INITS)
        object.__setattr__(self, "train_time", _checks.number("fit.train_time", self.train_time, ge=0, allow_inf=True))
        object.__setattr__(self, "lr", _checks.number("fit.lr", self.lr, ge=0))
        if self.method == "gd" and not self.lr > 0:
            raise ValueError("fit.lr must be > 0 with fit.method gd (the gradient step)")
        if self.method == "gradient_flow" and self.lr != 0:
            raise ValueError("fit.lr is only used by fit.method gd")
        _checks.choice("fit.noise", self.noise, ("expected", "drawn"))
        if self.noise == "drawn" and self.method != "gd":
            raise ValueError("fit.noise: drawn needs fit.method gd (a gradient step to draw the noise at)")
        if self.noise == "drawn" and math.isinf(self.train_time):
            raise ValueError("fit.noise: drawn needs a finite fit.train_time (round(train_time / lr) drawn steps)")

    @property
    def exact(self) -> bool:
        return self.method == "exact" or math.isinf(self.train_time)

    def score_coefficient(self, mu, m2, s2):
        r""":math:`a_t = (1 - m_t\theta_t)/\sigma_t^2` (Tweedie) for the trained denoiser :math:`\theta_t` of level t."""
        from ..dsm import trained_denoiser

        m = np.sqrt(m2)
        theta = trained_denoiser(mu, m, s2, self.train_time, self.init, self.lr if self.method == "gd" else 0.0)
        return (1.0 - m * theta) / s2


class Diffusion(Sampler):
    r"""One diffusion sampler setting (module docstring); its variance map by the compiled recursion.

    Parameters
    ----------
    process : {'vp', 'vp_cosine', 'vp_exp', 've', 'heat', 'edm', 'flow'}
    scheme : {'em', 'ei', 'ddpm', 'euler', 'ddim', 'heun', 'rk4', 'dpm_2', 'dpmpp_2m', 'heun_churn', 'annealed_langevin'}
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
        1.003): the churn, the range of t where it applies, and the inflation of the fresh noise.
    """

    kind = "diffusion"
    axes = ("scheme", "init", "n_steps", "t_min")

    def __init__(self, process="vp", scheme="em", grid="uniform", n_steps=100, t_min=1e-3, init="standard", T=None,
                 beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0, denoise=False, steps_per_level=100,
                 eps=2e-5, exp_rate=2.0, s_churn=80.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003):
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
        self.exp_rate = _checks.number("sampler.exp_rate", exp_rate)
        self.s_churn = _checks.number("sampler.s_churn", s_churn, ge=0)
        self.s_tmin = _checks.number("sampler.s_tmin", s_tmin, ge=0)
        self.s_tmax = _checks.number("sampler.s_tmax", s_tmax, ge=0)
        self.s_noise = _checks.number("sampler.s_noise", s_noise, gt=0)
        if self.s_tmin > self.s_tmax:
            raise ValueError(f"sampler.s_tmin must be <= sampler.s_tmax; got {s_tmin} > {s_tmax}")
        self.process = make_process(process, T, beta_min=self.beta_min, beta_max=self.beta_max,
                                    sigma_min=self.sigma_min, sigma_max=self.sigma_max, exp_rate=self.exp_rate)
        self.scheme, self.grid, self.init, self.denoise = scheme_name, grid, init, bool(denoise)
        self.training = None
        self.n_steps = _checks.integer("sampler.n_steps", n_steps, allow_inf=True)
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
        annealed = rec.family == L.ANNEALED
        if (annealed or rec.name == "heun_churn") and math.isinf(self.n_steps):
            raise ValueError(f"sampler.scheme {rec.name} needs a finite n_steps "
                             f"({'its number of noise levels' if annealed else 'its churn is S_churn / n_steps per step'})")
        if rec.needs_signal and not math.isinf(self.n_steps) and float(self.process.m2(self.process.T)) == 0:
            ok = [n for n, r in SCHEMES.items() if not r.needs_signal and r.needs is None and r.family != L.ANNEALED]
            raise ValueError(f"sampler.scheme {rec.name} divides by the signal scale m_t, which is 0 at t = T = "
                             f"{self.process.T:g} for process {process}: take sampler.T < {self.process.T:g} or a "
                             f"scheme among {', '.join(ok)}")
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
        if any(t != 0 for t in study.grid["tau"]) or cfg["fit"]["method"] == "sgd":
            errors.append(f"{where}.fit.method must be exact, gradient_flow or gd with sampler.kind: diffusion (and "
                          "grid.tau [0.0])")
        elif cfg["fit"]["method"] != "exact" and cfg["fit"].get("model", "full") == "fourier":
            errors.append(f"{where}.fit.method {cfg['fit']['method']} needs fit.model full or diagonal")
        elif cfg["fit"].get("noise") == "drawn" and cfg["fit"].get("model", "full") != "full":
            errors.append(f"{where}.fit.noise: drawn trains d x d denoisers: it needs fit.model full")
        for k in ("train_time", "init", "lr", "noise"):
            if k in cfg["fit"] and cfg["fit"]["method"] == "exact":
                errors.append(f"{where}.fit.{k} is only used by fit.method gradient_flow or gd")
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
        """Score evaluations: K (em, ei, ddpm, euler, ddim, dpmpp_2m), 2K (heun, dpm_2, heun_churn), 4K (rk4), L x levels
        (annealed Langevin)."""
        if math.isinf(self.n_steps):
            return math.inf
        per = self.steps_per_level if self.record.evals is None else self.record.evals
        return float(per * self.n_steps + (1 if self.denoise else 0))

    def coefficients(self) -> np.ndarray:
        """Per step, ``(K, N_COLS)`` (columns: :mod:`._diffusion_layout`): m², σ² and φ's numerators Q0, Q1 at t_k,
        t_{k+1}, t_k − h/2; h; then the scheme's own columns (:attr:`Scheme.fill`).  Annealed Langevin: m² = 1,
        σ² = σ_j², A0 = ε_j."""
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
        for (jm, js, jt), tt in (((L.M2K, L.S2K, L.TK), tk), ((L.M2N, L.S2N, L.TN), tn), ((L.M2M, L.S2M, L.TM), tm)):
            c[:, jm], c[:, js], c[:, jt] = p.m2(tt), p.s2(tt), tt
        c[:, L.H] = h
        for (j0, j1), tt in (((L.Q0K, L.Q1K), tk), ((L.Q0N, L.Q1N), tn), ((L.Q0M, L.Q1M), tm)):
            c[:, j0], c[:, j1] = p.q(tt)  # phi = -f - g^2 a / 2 = (Q0 mu + Q1) a
        if self.record.fill is not None:
            self.record.fill(self, c, tk, tn, h)
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
        if self.training is not None:
            return self._trained_affine(mu)
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

    def _finish(self, mu, v, exact: bool = False):
        """The final Tweedie step, if any: v <- ((1 - sigma_t^2 a_t)/m_t)^2 v at t_min."""
        if not self.denoise:
            return v
        p = self.process
        m2, s2 = float(p.m2(self.t_min)), float(p.s2(self.t_min))
        if self.training is None or exact:
            D = (1.0 - s2 / (m2 * mu + s2)) / math.sqrt(m2)
        else:
            D = (1.0 - s2 * self.training.score_coefficient(mu, m2, s2)) / math.sqrt(m2)
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
        return self._finish(lam, float(p.m2(self.t_min)) * lam + float(p.s2(self.t_min)), exact=True)

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
        multistep = self.record.family == L.MULTISTEP  # a two-step recursion: every prefix from the start
        for k in range(t.size - 1):
            v[k + 1] = _steps(self, c[:k + 1], lam, v[0]) if multistep else _steps(self, c[k:k + 1], lam, v[k])
        return t, v, p.m2(t)[:, None] * lam + p.s2(t)[:, None]

    def with_training(self, training: Training) -> "Diffusion":
        """The same sampler with the scores of :class:`Training` (exact: ``self`` unchanged).  Its law is computed by
        running the scheme's own steps as linear maps (vectorised over the eigenvalues, a loop over the steps), so
        it needs a finite ``n_steps``, a time grid, t_min > 0 and m_T > 0."""
        if training is None or training.exact:
            return self
        where = f"fit.method {training.method}"
        if math.isinf(self.n_steps) or self.record.family == L.ANNEALED:
            raise ValueError(f"{where} needs a finite sampler.n_steps and a time grid (not annealed_langevin): the "
                             "law of a trained score is computed step by step")
        if not self.t_min > 0:
            raise ValueError(f"{where} needs sampler.t_min > 0 (the trained score is -(1 - m theta) / sigma_t^2)")
        if float(self.process.m2(self.process.T)) == 0:
            raise ValueError(f"{where} needs a signal scale m_T > 0 at T (process {self.process.name}: take "
                             f"sampler.T < {self.process.T:g})")
        other = object.__new__(Diffusion)
        other.__dict__.update(self.__dict__)
        other.training = training
        return other

    def _trained_affine(self, mu):
        """``(Phi, Psi, bad)`` of a trained score: each step of the scheme (:attr:`Scheme.step`) applied to the unit
        (its factor alpha_k) and, for stochastic schemes, to zero with unit noise (its noise coefficient beta_k):
        v_{k+1} = alpha_k^2 v_k + beta_k^2.  Multistep schemes are deterministic: the steps run on y = c_k y_0."""
        c = self.coefficients()
        flat = mu if isinstance(mu, _jet.Jet) else np.asarray(mu, dtype=float)
        shape = np.shape(_jet.value(flat))
        with np.errstate(all="ignore"):
            det = _TrainedChain(self, c, flat, shape, None, noise=0.0)
            unit = 1.0 + 0.0 * flat
            y, q = unit, 0.0 * unit
            stochastic = self.record.integrates == "sde"
            if stochastic:
                noisy = _TrainedChain(self, c, flat, shape, None, noise=1.0)
            for k in range(c.shape[0]):
                if stochastic:
                    al, be = self.record.step(det, k, unit), self.record.step(noisy, k, 0.0 * unit)
                    y, q = al * y, al * al * q + be * be
                else:
                    y = self.record.step(det, k, y)
            Phi, Psi = y * y, q
        bad = ~np.isfinite(_jet.value(Phi)) | ~np.isfinite(_jet.value(Psi))
        return Phi, Psi, np.broadcast_to(bad, shape)

    def score_times(self) -> dict:
        """The times at which each step evaluates its score, ``{where: (K,)}`` (where: 'k', 'n', 'm', 'p'; see
        :mod:`._diffusion_layout`), for fits given per time (:meth:`covariance_with_scores`)."""
        c = self.coefficients()
        return {w: c[:, _TrainedChain._T[w]] for w in _TrainedChain._AT}

    def covariance_with_scores(self, A: dict, start_cov) -> np.ndarray:
        r"""The output covariance for matrix scores :math:`s_t(y) = -A_ty` (``A[where]`` ``(K, d, d)`` at
        :meth:`score_times`) from :math:`y_0 \sim \mathcal N(0, V_0)`: each step of the scheme as a linear map,
        :math:`V_{k+1} = \alpha_kV_k\alpha_k^\top + \beta_k\beta_k^\top` (multistep: :math:`Y_{k+1}` from the steps
        on :math:`Y_k`, :math:`V = Y V_0 Y^\top`), then the final Tweedie step if ``denoise``.  O(K d^3)."""
        c = self.coefficients()
        V0 = np.asarray(start_cov, dtype=float)
        eye = np.eye(V0.shape[0])
        det, noisy = _MatrixChain(self, c, A, 0.0), _MatrixChain(self, c, A, eye)
        with np.errstate(all="ignore"):
            if self.record.integrates == "sde":
                V = V0
                for k in range(c.shape[0]):
                    al, be = self.record.step(det, k, eye), self.record.step(noisy, k, 0.0 * eye)
                    V = al @ V @ al.T + be @ be.T
            else:
                Y = eye
                for k in range(c.shape[0]):
                    Y = self.record.step(det, k, Y)
                V = Y @ V0 @ Y.T
            if self.denoise:
                p = self.process
                m2, s2 = float(p.m2(self.t_min)), float(p.s2(self.t_min))
                D = (eye - s2 * A["n"][-1]) / math.sqrt(m2)
                V = D @ V @ D.T
        return 0.5 * (V + V.T)

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


def _steps(sampler: Diffusion, c, mu, v):
    """The variance after the steps of ``c`` (rows of the coefficients) from variance ``v`` (values), by the compiled
    loop."""
    values, _ = _kernels()
    phi, psi, bad = np.empty(mu.size), np.empty(mu.size), np.empty(mu.size, dtype=np.bool_)
    values(np.ascontiguousarray(mu), np.ascontiguousarray(c), sampler.record.family, sampler.steps_per_level, phi, psi,
           bad)
    return np.where(bad, np.nan, phi * v + psi)


def particles(sampler: Diffusion, mu, n_particles: int, rng) -> np.ndarray:
    r"""Particle chains of the actual scheme (validation of the exact laws): ``(n_particles, d)`` samples of the output.

    Each step is the scheme's own update (:attr:`Scheme.step`) on particles, with the linear score
    :math:`s_t(y) = -y/(m_t^2\mu + \sigma_t^2)` per eigen-direction (and its noise and data predictions): the linear
    family from its step coefficients (:math:`y \leftarrow A_0y + A_1s_{t_k}(y) + \sqrt{\text{noise}}\,z`), the ODE
    solvers from the probability-flow drift or the predictions, annealed Langevin as L ULA steps per level -- not from
    the variance recursion.
    """
    p, mu = sampler.process, np.asarray(mu, dtype=float)
    shape = (int(n_particles), mu.size)
    c = sampler.coefficients()
    chain = _Chain(c, mu, shape, rng) if sampler.training is None else _TrainedChain(sampler, c, mu, shape, rng)
    if sampler.record.family == L.ANNEALED:
        y = math.sqrt(sampler.sigma_max**2) * chain.noise() if sampler.init == "standard" else \
            np.sqrt(mu + sampler.sigma_max**2) * chain.noise()
        for k in range(c.shape[0]):
            eps, s2 = c[k, L.A0], c[k, L.S2K]
            for _ in range(sampler.steps_per_level):
                y = y - eps * y / (mu + s2) + math.sqrt(2 * eps) * chain.noise()
        return y
    v0 = np.broadcast_to(np.asarray(sampler._start(mu), dtype=float), mu.shape)
    y = np.sqrt(v0) * chain.noise()
    for k in range(c.shape[0]):
        y = sampler.record.step(chain, k, y)
    if sampler.denoise:
        m2, s2 = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min))
        y = (y + s2 * (-y / (m2 * mu + s2))) / math.sqrt(m2)
    return y
