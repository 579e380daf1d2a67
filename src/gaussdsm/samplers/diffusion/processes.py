r"""Forward processes: a linear SDE :math:`dx = f(t)x\,dt + g(t)\,dW` given by its marginals
:math:`p_t = \mathcal N(0, m_t^2\Sigma + \sigma_t^2 I)` (samplers.md §4).

``vp`` (Song et al. 2021): :math:`f = -\tfrac12\beta(t)`, :math:`g^2 = \beta(t)`, :math:`\beta` linear from ``beta_min`` to
``beta_max`` on [0, T]; :math:`m_t^2 = e^{-\int_0^t\beta}`, :math:`\sigma_t^2 = 1 - m_t^2`; reference N(0, I).
``vp_cosine`` (Nichol & Dhariwal 2021) and ``vp_exp`` (Strasman et al. 2025): other variance-preserving schedules.
``ve``: :math:`f = 0`, :math:`g^2 = d\sigma(t)^2/dt`, :math:`\sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^{t/T}`,
:math:`\sigma_t^2 = \sigma(t)^2 - \sigma_{\min}^2` (so :math:`p_0` is the data law); reference N(0, σ_max² I).
``heat`` (Perbost, Bach & Marion 2026): :math:`f = 0`, :math:`g = 1`, :math:`\sigma_t^2 = t`; reference N(0, T I).
``edm`` (Karras et al. 2022): :math:`f = 0`, :math:`\sigma_t = t`, :math:`g^2 = 2t`; reference N(0, T² I), T = 80.
``flow`` (flow matching): :math:`m_t = 1 - t`, :math:`\sigma_t = t`; reference N(0, I).
``sd_discrete`` (Stable Diffusion's discrete DDPM table, scaled-linear β): :math:`\bar\alpha` of Ho et al.'s
t = 1 … 1000 (diffusers' and ComfyUI's timestep t − 1), log σ̃ linear in t between them; reference N(0, I).

A new process is one subclass of :class:`Process` and one entry in :data:`PROCESSES`.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

__all__ = ["Process", "VariancePreserving", "VP", "VPCosine", "VPExp", "VE", "Heat", "EDM", "Flow", "SDDiscrete",
           "PROCESSES", "DEFAULT_T", "make_process"]


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
        (:mod:`.layout`): :math:`(Q_0, Q_1) = (-m\dot m, -\sigma\dot\sigma) = (-fm^2, -f\sigma^2 - g^2/2)`."""
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


class VariancePreserving(Process):
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


class VP(VariancePreserving):
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


class VPCosine(VariancePreserving):
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


class VPExp(VariancePreserving):
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


class DriftFree(Process):
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


class VE(DriftFree):
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


class Heat(DriftFree):
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


class EDM(DriftFree):
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


class SDDiscrete(VariancePreserving):
    r"""Stable Diffusion's discrete DDPM table as a process (SD 1.x, 2.x, XL; diffusers' ``beta_schedule=
    "scaled_linear"``, ComfyUI's ``ModelSamplingDiscrete``): :math:`\beta_i = (\sqrt{0.00085} + \tfrac{i}{999}
    (\sqrt{0.012} - \sqrt{0.00085}))^2`, :math:`\bar\alpha_i = \prod_{j \le i}(1 - \beta_j)`, i = 0 … 999, and the noise
    levels :math:`\tilde\sigma_i = \sqrt{(1 - \bar\alpha_i)/\bar\alpha_i}` (:data:`TABLE_SIGMAS`).

    Time: Ho et al.'s t = 1 … 1000 is table entry i = t − 1 (diffusers' and ComfyUI's 0-based timestep), so that
    :math:`m_t^2 = \bar\alpha_{t-1}` and :math:`\sigma_t^2 = 1 - \bar\alpha_{t-1}` there; t = 0 is the data (T = 1000,
    the table's top, and T ≤ 1000).  Between entries, for t in [1, 1000], :math:`\log\tilde\sigma` is linear in t
    (k-diffusion's ``DiscreteSchedule.t_to_sigma`` and ComfyUI's ``ModelSamplingDiscrete.sigma``:
    :math:`(1 - w)\log\tilde\sigma_{\lfloor\tau\rfloor} + w\log\tilde\sigma_{\lceil\tau\rceil}`, τ = t − 1, w its
    fractional part; above t = 1000, where only a churn's inflated levels are evaluated, the last interval's slope
    continues), and :math:`m_t^2 = 1/(1 + \tilde\sigma^2)`, :math:`\sigma_t^2 = \tilde\sigma^2/(1 + \tilde\sigma^2)`.
    On [0, 1] (the first DDPM step, from the data) β is constant: :math:`m_t^2 = (1 - \beta_0)^t`.  So
    :math:`B(t) = \log(1 + \tilde\sigma(t)^2)` and :math:`\beta(t) = 2\tilde\sigma'/\tilde\sigma\cdot\sigma_t^2` on each
    interval; at a table point β is the rate of the interval below it (left-continuous; :math:`-\log(1 - \beta_0)` on
    [0, 1]).  The levels, the exponential integrator (:math:`B(t_k) - B(t_n)`) and the inverse
    :meth:`t_of_ratio` (linear in log σ̃) are exact at every time; a schedule on the table (``sampler.grid`` simple,
    normal, …, leading, trailing) gives its timesteps' times themselves.
    """

    name = "sd_discrete"
    default_T = 1000.0
    BETA_START, BETA_END, N_TABLE = 0.00085, 0.012, 1000

    def check(self):
        if self.T > self.N_TABLE:
            raise ValueError(f"sampler.T must be <= {self.N_TABLE} with process sd_discrete (its table ends at Ho et "
                             f"al.'s t = {self.N_TABLE}, diffusers' timestep {self.N_TABLE - 1}); got {self.T:g}")

    def time_of_index(self, i):
        """The time t = i + 1 of table entry (timestep) ``i``, integer or fractional."""
        return np.asarray(i, dtype=float) + 1.0

    def index_of_time(self, t):
        """The table's (diffusers', ComfyUI's) timestep i = t − 1 of time ``t``."""
        return np.asarray(t, dtype=float) - 1.0

    def _parts(self, t):
        r"""``(first, log sigma~)``: where t is on [0, 1) (constant β), and log σ̃ from t = 1 on (k-diffusion's
        interpolation :math:`(1 - w)\log\tilde\sigma_{lo} + w\log\tilde\sigma_{lo + 1}`; above the table's top, where
        only a churn's inflated levels go, its last interval's slope continued)."""
        t = np.asarray(t, dtype=float)
        tau = np.maximum(t - 1.0, 0.0)
        ok = np.isfinite(tau)
        tau = np.where(ok, tau, 0.0)
        lo = np.minimum(np.floor(tau), self.N_TABLE - 2.0)
        w = tau - lo
        lo = lo.astype(int)
        L = (1.0 - w) * TABLE_LOG_SIGMAS[lo] + w * TABLE_LOG_SIGMAS[lo + 1]
        return t < 1.0, np.where(ok, L, np.nan)

    def ratio(self, t):
        r""":math:`\tilde\sigma(t)^2 = \sigma_t^2/m_t^2`."""
        first, L = self._parts(t)
        t = np.asarray(t, dtype=float)
        with np.errstate(over="ignore"):
            return np.where(first, np.expm1(t * B_FIRST), np.exp(2.0 * L))

    def B(self, t):
        first, L = self._parts(t)
        return np.where(first, np.asarray(t, dtype=float) * B_FIRST, np.log1p(np.exp(2.0 * L)))

    def m2(self, t):
        first, L = self._parts(t)
        return np.where(first, np.exp(-np.asarray(t, dtype=float) * B_FIRST), 1.0 / (1.0 + np.exp(2.0 * L)))

    def s2(self, t):
        first, L = self._parts(t)
        r = np.exp(2.0 * L)
        return np.where(first, -np.expm1(-np.asarray(t, dtype=float) * B_FIRST), r / (1.0 + r))

    def beta(self, t):
        t = np.asarray(t, dtype=float)
        seg = np.clip(np.ceil(np.where(np.isfinite(t), t, 0.0)) - 1.0, 0.0, self.N_TABLE - 1.0).astype(int)
        # seg: the interval (seg, seg + 1] below t (the last one's slope above the top)
        slope = TABLE_LOG_SIGMAS[seg] - TABLE_LOG_SIGMAS[np.maximum(seg - 1, 0)]
        return np.where(np.isfinite(t), np.where(seg == 0, B_FIRST, 2.0 * slope * self.s2(t)), np.nan)

    def t_of_ratio(self, r):
        """Inverse of :meth:`ratio`: log σ̃ linear between the table's times (and beyond its top)."""
        r = np.asarray(r, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            L = 0.5 * np.log(r)
            on_table = np.interp(L, TABLE_LOG_SIGMAS, TABLE_TIMES)
            above = self.N_TABLE + (L - TABLE_LOG_SIGMAS[-1]) / (TABLE_LOG_SIGMAS[-1] - TABLE_LOG_SIGMAS[-2])
            first = np.log1p(r) / B_FIRST
        t = np.where(r <= TABLE_SIGMAS[0] ** 2, first, on_table)
        return np.where(L > TABLE_LOG_SIGMAS[-1], above, t)

    def t_of_s2(self, s2):
        s2 = np.asarray(s2, dtype=float)
        return self.t_of_ratio(s2 / (1.0 - s2))


def _sd_table():
    r"""Stable Diffusion's :math:`\bar\alpha_i` and :math:`\tilde\sigma_i`, i = 0 … 999, in float64 (the libraries keep
    float32)."""
    betas = np.linspace(SDDiscrete.BETA_START**0.5, SDDiscrete.BETA_END**0.5, SDDiscrete.N_TABLE) ** 2
    ac = np.cumprod(1.0 - betas)
    return betas, ac, np.sqrt((1.0 - ac) / ac)


TABLE_BETAS, TABLE_ALPHAS_CUMPROD, TABLE_SIGMAS = _sd_table()
"""Stable Diffusion's β, ᾱ and noise levels σ̃ = √((1 − ᾱ)/ᾱ) (timesteps 0 … 999; :class:`SDDiscrete`)."""
TABLE_LOG_SIGMAS = np.log(TABLE_SIGMAS)
TABLE_TIMES = np.arange(1.0, SDDiscrete.N_TABLE + 1.0)
B_FIRST = -math.log1p(-float(TABLE_BETAS[0]))
r""":math:`-\log(1 - \beta_0)`, the constant β of :class:`SDDiscrete` on [0, 1]."""


PROCESSES: dict[str, type[Process]] = {c.name: c for c in (VP, VPCosine, VPExp, VE, Heat, EDM, Flow, SDDiscrete)}
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

