"""``heun``: Heun's method on the probability-flow ODE (Karras et al. 2022, Algorithm 1 on the EDM grid)."""

from .. import layout as L
from .record import FastPath, Scheme


def step(s, y):
    """Euler to :math:`t_{k+1}`, then the trapezoid of the two drifts."""
    d1 = s.drift(y, s.t)
    d2 = s.drift(y + s.h * d1, s.t_next)
    return y + 0.5 * s.h * (d1 + d2)


SCHEME = Scheme("heun", "ode", 2, 2, step, "Heun on the probability-flow ODE", evaluates_at_t_min=True,
                fast=FastPath(L.HEUN))
