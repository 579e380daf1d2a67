r"""What a scheme's step sees (samplers.md §5): one short function ``step(s, y) -> y_next`` per scheme, in the
manner of k-diffusion's ``sampling.py``, where ``s`` is a :class:`Step` and ``y`` the state.

A :class:`Step` gives the step's times (``s.t`` > ``s.t_next``, ``s.h = s.t - s.t_next``, ``s.t_prev``, its index
``s.index`` from 0 and ``s.first``), the
process (``s.m(t)``, ``s.sigma(t)``, ``s.f(t)``, ``s.g2(t)``, ``s.process``), the learned model at any time
(``s.score(y, t)``, the data prediction ``s.denoise(y, t)`` = :math:`\hat x_0`, the noise prediction ``s.eps(y, t)`` =
:math:`\hat\epsilon`, the probability-flow drift ``s.drift(y, t)`` = :math:`dy/d(-t)`), fresh standard normals
(``s.noise()``), and a history for multistep schemes (``s.history(name)`` is what the previous step kept with
``s.keep(name, value)``; 0 at the first step).  The sampler's own parameters are ``s.sampler`` (e.g. ``s_churn``).

With a linear score :math:`s_t(y) = -a_t y` (per eigen-direction, :math:`a_t = 1/(m_t^2\mu + \sigma_t^2)` for the exact
DSM minimiser of a covariance with eigenvalue :math:`\mu`, or the trained denoiser's), every step is affine in the
state, the history and the noise.  The same step function therefore runs in three views:

* :class:`ParticleStep`: ``y`` an array of particles, one step at a time, the noise drawn (validation);
* :class:`LawStep`: ``y`` a :class:`Form`, a linear combination of independent standard Gaussian sources, all K steps
  at once (times of shape ``(K, 1)``, coefficients ``(K, n)`` over n eigenvalues): the coefficients are the step's
  affine map, from which :mod:`.law` derives the exact law by a small covariance recursion;
* :class:`MatrixStep`: ``y`` a d x d linear map, for matrix scores :math:`s_t(y) = -A_t y` that need not commute with
  the data covariance (scores trained with the noise drawn).

A step may use ``+``, ``-``, multiplication and division by numbers or arrays of the times, and the methods above: it
must stay linear in ``y`` (no ``y * y``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ... import _jet

__all__ = ["Step", "ParticleStep", "LawStep", "MatrixStep", "Form", "STATE"]

STATE = "y"
"""The source of the state at the start of a step (:class:`Form`)."""


class Form:
    r"""A linear combination :math:`\sum_j c_j\xi_j` of independent standard Gaussian sources :math:`\xi_j`:
    ``{source: coefficient}``, coefficients numbers, arrays or :class:`~gaussdsm._jet.Jet` (broadcasting together).
    Linear operations only; numpy defers to it (``array * form`` is ``form.__rmul__``)."""

    __slots__ = ("c",)
    __array_ufunc__ = None  # ndarray (op) Form -> Form's reflected operator

    def __init__(self, c: dict):
        self.c = c

    def __add__(self, o):
        if isinstance(o, Form):
            c = dict(self.c)
            for k, v in o.c.items():
                c[k] = c[k] + v if k in c else v
            return Form(c)
        if isinstance(o, (int, float)) and o == 0:
            return self
        raise TypeError("a step must be linear in its state: only forms add to forms")

    __radd__ = __add__

    def __neg__(self):
        return Form({k: -v for k, v in self.c.items()})

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self) + o

    def __mul__(self, a):
        if isinstance(a, Form):
            raise TypeError("a step must be linear in its state: a form times a form")
        return Form({k: v * a for k, v in self.c.items()})

    __rmul__ = __mul__

    def __truediv__(self, a):
        return Form({k: v / a for k, v in self.c.items()})


class Step:
    r"""The view of one step (or of all K at once) a scheme's ``step(s, y)`` works with (module docstring).

    Subclasses say what the state is (:meth:`_apply`), where the noise comes from (:meth:`noise`) and how history is
    kept.  The model's per-direction factors at a time ``t`` (:meth:`factor`): the score coefficient
    :math:`a_t`, and for the exact score the finite forms of the data prediction :math:`\hat x_0 = m\mu a\,y` and of the
    drift :math:`\varphi = (Q_0\mu + Q_1)a` (finite where :math:`m_t = 0`, flow matching at t = 1); for a trained score
    their general forms :math:`\hat x_0 = (1 - \sigma^2a)y/m`, :math:`\varphi = -f - \tfrac12g^2a`.
    """

    def __init__(self, sampler, mu, t, t_next, t_prev, index):
        self.sampler, self.process, self.mu = sampler, sampler.process, mu
        self.t, self.t_next, self.t_prev, self.index = t, t_next, t_prev, index
        self.first = index == 0
        self.h = t - t_next
        self.n_steps = sampler.n_steps
        self.training = sampler.training

    # ------------------------------------------------------------------ the process
    def m(self, t):
        """The signal scale :math:`m_t`."""
        return np.sqrt(self.process.m2(t))

    def sigma(self, t):
        r"""The noise level :math:`\sigma_t`."""
        return np.sqrt(self.process.s2(t))

    def f(self, t):
        return self.process.f(t)

    def g2(self, t):
        return self.process.g2(t)

    # ------------------------------------------------------------------ the learned model
    def factor(self, kind: str, t):
        r"""The model's factor ``kind`` at time ``t`` (class docstring), broadcasting ``t`` against the eigenvalues:
        ``'a'`` the score coefficient, ``'x0'`` the data prediction's, ``'phi'`` the drift's."""
        p, mu = self.process, self.mu
        m2, s2 = p.m2(t), p.s2(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.training is None:
                a = 1.0 / (m2 * mu + s2)
                if kind == "a":
                    return a
                if kind == "x0":
                    return np.sqrt(m2) * mu * a
                q0, q1 = p.q(t)
                return (q0 * mu + q1) * a
            a = self.training.score_coefficient(mu, m2, s2)
            if kind == "a":
                return a
            if kind == "x0":
                return (1.0 - s2 * a) / np.sqrt(m2)
            return -p.f(t) - 0.5 * p.g2(t) * a

    def _apply(self, factor, y):
        """The factor applied to the state (per direction: a product)."""
        return y * factor

    def score(self, y, t):
        """The learned score :math:`s_t(y) = -a_t y`."""
        return self._apply(-self.factor("a", t), y)

    def denoise(self, y, t):
        r"""The data prediction (Tweedie) :math:`\hat x_0 = (y + \sigma_t^2 s_t(y))/m_t`."""
        return self._apply(self.factor("x0", t), y)

    def eps(self, y, t):
        r"""The noise prediction :math:`\hat\epsilon = -\sigma_t s_t(y)`."""
        return self._apply(self.sigma(t) * self.factor("a", t), y)

    def drift(self, y, t):
        r"""The probability-flow drift in reverse time, :math:`dy/d(-t) = -f y + \tfrac12 g^2 s_t(y) = \varphi y`
        (flow matching: its learned velocity)."""
        return self._apply(self.factor("phi", t), y)

    def noise(self):
        """Fresh standard normals (one per direction)."""
        raise NotImplementedError

    def history(self, name: str):
        """What the previous step kept under ``name`` (0 at the first step)."""
        raise NotImplementedError

    def keep(self, name: str, value) -> None:
        """Keep ``value`` for the next step's :meth:`history`."""
        raise NotImplementedError


class ParticleStep(Step):
    """Step k on particles ``y`` ``(n_particles, d)`` with drawn noise; ``memory`` carries the history."""

    def __init__(self, sampler, mu, times, k: int, rng, shape, memory: dict):
        t = times[k]
        super().__init__(sampler, mu, t, times[k + 1], times[k - 1] if k > 0 else t, k)
        self.rng, self.shape, self.memory, self._kept = rng, shape, memory, {}

    def noise(self):
        return self.rng.standard_normal(self.shape)

    def history(self, name):
        return self.memory.get(name, 0.0)

    def keep(self, name, value):
        self.memory[name] = value


class LawStep(Step):
    r"""All K steps at once on linear forms (module docstring): times ``(K, 1)``, eigenvalues ``mu`` ``(n,)`` (values or
    a jet).  ``y`` is the form of the state source; :meth:`history` the form of a history source; :meth:`noise` a new
    source each call."""

    def __init__(self, sampler, mu, times):
        t = times[:-1, None]
        t_prev = np.concatenate([times[:1], times[:-2]])[:, None]
        super().__init__(sampler, mu, t, times[1:, None], t_prev, np.arange(t.shape[0])[:, None])
        self._ids = itertools.count()
        self.kept: dict = {}

    def noise(self):
        return Form({next(self._ids): 1.0})

    def history(self, name):
        return Form({("history", name): 1.0})

    def keep(self, name, value):
        self.kept[name] = value


class MatrixStep(Step):
    r"""Step k as a d x d linear map for matrix scores :math:`s_t(y) = -A_t y` (``A`` a function of the time returning
    ``(d, d)``): ``y`` a ``(d, d)`` map; :meth:`noise` the constant ``noise`` (the identity, to read the step's noise
    coefficient, or 0), so a step may draw at most once."""

    def __init__(self, sampler, times, k: int, A, noise, memory: dict):
        t = times[k]
        super().__init__(sampler, 0.0, t, times[k + 1], times[k - 1] if k > 0 else t, k)
        self.A, self.constant_noise, self.memory, self.draws = A, noise, memory, 0

    def factor(self, kind, t):
        p = self.process
        A = self.A(t)
        if kind == "a":
            return A
        eye = np.eye(A.shape[0])
        if kind == "x0":
            return (eye - float(p.s2(t)) * A) / math.sqrt(float(p.m2(t)))
        return -float(p.f(t)) * eye - 0.5 * float(p.g2(t)) * A

    def _apply(self, factor, y):
        return factor @ y

    def noise(self):
        self.draws += 1
        if self.draws > 1:
            raise NotImplementedError("matrix scores: a step that draws noise more than once")
        return self.constant_noise

    def history(self, name):
        return self.memory.get(name, 0.0)

    def keep(self, name, value):
        self.memory[name] = value


def coefficient(x, shape) -> np.ndarray | _jet.Jet:
    """A coefficient broadcast to ``shape`` (a jet stays a jet)."""
    if isinstance(x, _jet.Jet):
        return _jet.Jet(*(np.broadcast_to(u, shape) for u in (x.v, x.d1, x.d2)))
    return np.broadcast_to(np.asarray(x, dtype=float), shape)
