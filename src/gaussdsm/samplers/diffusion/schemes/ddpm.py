"""``ddpm``: ancestral sampling (Ho et al. 2020) on a variance-preserving process."""

import numpy as np

from .. import layout as L
from ..fast import linear
from ..processes import VariancePreserving
from .record import FastPath, Scheme


def _b(s):
    """:math:`b_k = h_k\\beta(t_k)`; a step with :math:`b_k \\ge 1` has no ancestral step: NaN (the point is diverged)."""
    b = s.h * s.process.beta(s.t)
    return np.where(b < 1, b, np.nan)


def step(s, y):
    r""":math:`y' = (y + b_k s_{t_k}(y))/\sqrt{1 - b_k} + \sqrt{b_k}\,z`."""
    b = _b(s)
    return (y + b * s.score(y, s.t)) / np.sqrt(1.0 - b) + np.sqrt(b) * s.noise()


def _coefficients(p, tk, tn, h):
    b = h * p.beta(tk)
    b = np.where(b < 1, b, np.nan)
    return 1.0 / np.sqrt(1.0 - b), b / np.sqrt(1.0 - b), b


SCHEME = Scheme("ddpm", "sde", 1, 1, step, "ancestral sampling, Ho et al. 2020", needs=VariancePreserving,
                needs_signal=True, fast=FastPath(L.LINEAR, linear(_coefficients)))
