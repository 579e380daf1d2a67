"""``rk4``: the classical Runge–Kutta method on the probability-flow ODE."""

from .. import layout as L
from .record import FastPath, Scheme


def step(s, y):
    """Four drifts at :math:`t_k`, :math:`t_k - h/2` (twice) and :math:`t_{k+1}`."""
    h, tm = s.h, s.t - 0.5 * s.h
    k1 = s.drift(y, s.t)
    k2 = s.drift(y + 0.5 * h * k1, tm)
    k3 = s.drift(y + 0.5 * h * k2, tm)
    k4 = s.drift(y + h * k3, s.t_next)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


SCHEME = Scheme("rk4", "ode", 4, 4, step, "classical Runge-Kutta on the probability-flow ODE",
                evaluates_at_t_min=True, fast=FastPath(L.RK4))
