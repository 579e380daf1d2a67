"""The record of a reverse-time scheme: its name, what it integrates, its cost, order and reference, its step and,
optionally, a compiled fast path (:mod:`..fast`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Scheme", "FastPath"]


@dataclass(frozen=True)
class FastPath:
    """A compiled loop for a scheme's law with the exact score (:mod:`..fast`, :mod:`..kernels`): ``family`` one of
    :mod:`..layout`'s families, ``fill(sampler, c, t_k, t_{k+1}, h)`` writes the scheme's own columns of the per-step
    coefficients.  Tested equal to the law derived from the step (:mod:`..law`)."""

    family: int
    fill: Callable | None = None


@dataclass(frozen=True)
class Scheme:
    """A reverse-time scheme (``sampler.scheme``), defined by its step.

    Attributes
    ----------
    name : str
        ``sampler.scheme``, as practitioners call it.
    integrates : {'sde', 'ode', 'langevin'}
        The reverse SDE, the probability-flow ODE, or Langevin chains at fixed noise levels (annealed Langevin).
    evals : int or None
        Score evaluations per step (None: ``steps_per_level`` per level, annealed Langevin).
    order : int or None
        p of the discretization error, :math:`W_2 = O(K^{-p})` from the exact initialisation (None: no such order).
    step : callable or None
        ``step(s, y) -> y_next`` with ``s`` a :class:`..steps.Step` (the definition of the scheme; :mod:`..law`
        derives its exact law).  None: the scheme has its own ``particles`` and a fast path only.
    cite : str
        What the scheme is and where from (``"ancestral sampling, Ho et al. 2020"``).
    history : tuple of str
        The names a multistep scheme keeps from one step to the next (``s.keep``/``s.history``).
    needs : type or None
        The process class the scheme is defined for (ddpm: variance preserving; heun_churn: EDM).
    needs_signal : bool
        The step divides by the signal scale :math:`m_{t_k}` (or its SDE's drift is infinite where it is 0): not
        defined from T where :math:`m_T = 0` (flow matching at T = 1).
    evaluates_at_t_min : bool
        The score is evaluated at the last grid time (the step's end point: Heun, RK4).
    needs_finite_steps : str
        Why the scheme has no continuous-time law (``n_steps: inf`` refused), or "" (it has one).
    fast : FastPath or None
        The compiled loop of the exact-score law, if any.
    particles : callable or None
        ``particles(sampler, mu, shape, rng)`` for a scheme without a step (annealed Langevin).
    uses : tuple of str
        The sampler parameters (``sampler.<key>``) the step reads besides the process's (``eta``, ``noise_scale``,
        ``s_churn``, ...).  With ``eta`` or ``noise_scale``: the continuous-time law (``n_steps: inf``) is the
        reverse SDE's, at their value 1 only.
    """

    name: str
    integrates: str
    evals: int | None
    order: int | None
    step: Callable | None
    cite: str = ""
    history: tuple = ()
    needs: type | None = None
    needs_signal: bool = False
    evaluates_at_t_min: bool = False
    needs_finite_steps: str = ""
    fast: FastPath | None = None
    particles: Callable | None = None
    uses: tuple = ()
