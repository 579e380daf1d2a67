"""``euler``: Euler on the probability-flow ODE (flow matching: on the learned velocity)."""

import numpy as np

from .. import layout as L
from ..fast import linear
from .record import FastPath, Scheme


def step(s, y):
    """:math:`y' = y + h\\,\\varphi(t_k)y`."""
    return y + s.h * s.drift(y, s.t)


def _coefficients(p, tk, tn, h):
    """alpha = 1 + h phi(t_k) = 1 + h (Q0 mu + Q1) a: A0 = 1, A1 = -h Q1, A2 = h Q0."""
    q0, q1 = p.q(tk)
    return np.ones_like(h), -h * q1, 0.0, h * q0


SCHEME = Scheme("euler", "ode", 1, 1, step, "Euler on the probability-flow ODE",
                fast=FastPath(L.LINEAR, linear(_coefficients)))
