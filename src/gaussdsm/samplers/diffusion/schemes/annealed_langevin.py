"""``annealed_langevin``: annealed Langevin dynamics (Song & Ermon 2019): ``n_steps`` noise levels σ_j geometric from
σ_max to σ_min, ``steps_per_level`` L ULA steps of size :math:`\\epsilon\\sigma_j^2/\\sigma_{\\min}^2` with
:math:`a = 1/(\\mu + \\sigma_j^2)`, from N(0, σ_max² I).  Its levels are not the times of a process: it has its own
particles and its compiled law only."""

import math

import numpy as np

from .. import layout as L
from ..fast import coefficients
from .record import FastPath, Scheme


def particles(sampler, mu, shape, rng):
    """L ULA steps per level on particles."""
    c = coefficients(sampler)
    start = sampler.sigma_max**2 if sampler.init == "standard" else mu + sampler.sigma_max**2
    y = np.sqrt(start) * rng.standard_normal(shape)
    for k in range(c.shape[0]):
        eps, s2 = c[k, L.A0], c[k, L.S2K]
        for _ in range(sampler.steps_per_level):
            y = y - eps * y / (mu + s2) + math.sqrt(2 * eps) * rng.standard_normal(shape)
    return y


SCHEME = Scheme("annealed_langevin", "langevin", None, None, None, "annealed Langevin dynamics, Song & Ermon 2019",
                needs_finite_steps="its number of noise levels", fast=FastPath(L.ANNEALED), particles=particles)
