"""``em``: Euler–Maruyama on the reverse SDE (samplers.md §5)."""

import numpy as np

from .. import layout as L
from ..fast import linear
from .record import FastPath, Scheme


def step(s, y):
    r""":math:`y' = y + h(-f y + g^2 s_{t_k}(y)) + g\sqrt h\,z`, all at :math:`t_k`."""
    g2 = s.g2(s.t)
    return y + s.h * (-s.f(s.t) * y + g2 * s.score(y, s.t)) + np.sqrt(g2 * s.h) * s.noise()


def _coefficients(p, tk, tn, h):
    return 1.0 - h * p.f(tk), h * p.g2(tk), p.g2(tk) * h


SCHEME = Scheme("em", "sde", 1, 1, step, "Euler-Maruyama on the reverse SDE", needs_signal=True,
                fast=FastPath(L.LINEAR, linear(_coefficients)))
