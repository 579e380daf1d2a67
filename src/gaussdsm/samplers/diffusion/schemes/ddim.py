"""``ddim``: DDIM with η = 0 (Song, Meng & Ermon 2021)."""

import numpy as np

from .. import layout as L
from ..fast import linear
from .record import FastPath, Scheme


def step(s, y):
    r"""The noise and data predictions at :math:`t_k`, recombined at :math:`t_{k+1}`:
    :math:`y' = m_{k+1}\hat x_0 + \sigma_{k+1}\hat\epsilon`."""
    return s.m(s.t_next) * s.denoise(y, s.t) + s.sigma(s.t_next) * s.eps(y, s.t)


def _coefficients(p, tk, tn, h):
    """alpha = (m_k m_n mu + s_k s_n) a (finite where m_k = 0)."""
    return 0.0 * h, -np.sqrt(p.s2(tk) * p.s2(tn)), 0.0, np.sqrt(p.m2(tk) * p.m2(tn))


SCHEME = Scheme("ddim", "ode", 1, 1, step, "DDIM (eta = 0), Song, Meng & Ermon 2021",
                fast=FastPath(L.LINEAR, linear(_coefficients)))
