"""Samplers with a linear score: one family, one interface (samplers.md §1–§3).

A sampler is described per eigen-direction by its variance map F (the variance of its output along an
eigenvector of the covariance the score is built from, as a function of that eigenvalue): the output
covariance is :math:`C = U\\,\\mathrm{diag}(F(\\mu))\\,U^\\top`.  The variance map, with its first two derivatives
(forward-mode, :mod:`~gaussdsm.samplers._jet`), is the one path used by the exact-fit Monte Carlo, the bias,
the generalization kernel and the figures.  The Langevin family also has the law for a general (non-symmetric,
SGD-learned) score matrix (a matrix recursion, :mod:`~gaussdsm.samplers._laws`) and particle chains of the
actual scheme, which exist to validate the exact laws.

=========  ==============================================================  =========================
kind       sampler                                                          grid parameters
=========  ==============================================================  =========================
``ula``    :class:`~gaussdsm.samplers.ula.ULA`, unadjusted Langevin          gamma, n_steps
``uld``    :class:`~gaussdsm.samplers.uld.ULD`, underdamped Langevin (EM)    gamma, n_steps, friction
=========  ==============================================================  =========================

A new sampler is one module with a class implementing :class:`~gaussdsm.samplers._base.Sampler`, and one entry
in :data:`KINDS`.
"""

from __future__ import annotations

import math

from ._base import LangevinSampler, Sampler
from ._laws import DivergedError, doubling, is_symmetric, spectral_radius
from .ula import ULA, run_ula, ula_is_stable, ula_mode_variance, ula_stationary_cov
from .uld import ULD, run_uld

__all__ = [
    "KINDS", "make", "Sampler", "LangevinSampler", "ULA", "ULD", "DivergedError", "doubling", "is_symmetric",
    "spectral_radius", "run_ula", "run_uld", "ula_is_stable", "ula_mode_variance", "ula_stationary_cov",
]

KINDS = {"ula": ULA, "uld": ULD}


def make(kind: str = "ula", *, gamma=0.0, n_steps=math.inf, init_var=1.0, friction=None, **unused) -> Sampler:
    """The sampler of ``kind`` with these parameters (arrays broadcast into a grid of settings).

    Parameters a kind does not use must be None (``friction`` for ``ula``).
    """
    if kind not in KINDS:
        raise ValueError(f"sampler.kind must be one of {', '.join(KINDS)}; got {kind!r}")
    extra = sorted(k for k, v in unused.items() if v is not None)
    if extra:
        raise ValueError(f"sampler kind {kind!r} does not take {', '.join(extra)}")
    if kind == "ula":
        if friction is not None:
            raise ValueError("sampler.friction is only used by sampler.kind: uld")
        return ULA(gamma, n_steps=n_steps, init_var=init_var)
    if friction is None:
        raise ValueError("sampler.kind: uld needs sampler.friction (> 0)")
    return ULD(gamma, friction, n_steps=n_steps, init_var=init_var)
