"""``ei``: the exponential integrator of the reverse SDE (linear drift exact, score frozen at t_k; samplers.md §5)."""

import numpy as np

from .. import layout as L
from ..fast import linear
from .record import FastPath, Scheme


def step(s, y):
    r""":math:`y' = A_0y + A_1s_{t_k}(y) + \sqrt{\text{noise}}\,z` with the process's closed forms
    (:meth:`Process.ei`; VP: :math:`A_0 = E`, :math:`A_1 = 2(E - 1)`, noise :math:`E^2 - 1`)."""
    A0, A1, noise = s.process.ei(s.t, s.t_next)
    return A0 * y + A1 * s.score(y, s.t) + np.sqrt(noise) * s.noise()


def _coefficients(p, tk, tn, h):
    return p.ei(tk, tn)


SCHEME = Scheme("ei", "sde", 1, 1, step, "exponential integrator of the reverse SDE", needs_signal=True,
                fast=FastPath(L.LINEAR, linear(_coefficients)))
