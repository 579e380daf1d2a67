"""Samplers with a linear score: one family, one interface (samplers.md §1–§3).

A sampler is described per eigen-direction by its variance map F (the variance of its output along an
eigenvector of the covariance the score is built from, as a function of that eigenvalue): the output
covariance is :math:`C = U\\,\\mathrm{diag}(F(\\mu))\\,U^\\top`.  The variance map, with its first two derivatives
(forward-mode, :mod:`~gaussdsm._jet`), is the one path used by the exact-fit Monte Carlo, the bias,
the generalization kernel and the figures.  The Langevin family also has the law for a general (non-symmetric,
SGD-learned) score matrix (a matrix recursion, :mod:`~gaussdsm.samplers._laws`) and particle chains of the
actual scheme, which exist to validate the exact laws.

============= ==============================================================  =========================
kind          sampler                                                          grid parameters
============= ==============================================================  =========================
``ula``       :class:`~gaussdsm.samplers.ula.ULA`, unadjusted Langevin          gamma, n_steps
``uld``       :class:`~gaussdsm.samplers.uld.ULD`, underdamped Langevin (EM)    gamma, n_steps, friction
``diffusion`` :class:`~gaussdsm.samplers.diffusion.Diffusion`, VP/VE/heat     scheme, init, n_steps, t_min
============= ==============================================================  =========================

A new sampler is one module with a class implementing :class:`~gaussdsm.samplers._base.Sampler`, and one entry
in :data:`KINDS`.
"""

from __future__ import annotations

import math

from ._base import LangevinSampler, Sampler
from ._laws import DivergedError, doubling, is_symmetric, spectral_radius
from .ula import ULA, run_ula, ula_is_stable, ula_mode_variance, ula_stationary_cov
from .diffusion import EVALS, ORDER, Diffusion
from .uld import ULD, run_uld

__all__ = [
    "KINDS", "make", "Sampler", "LangevinSampler", "ULA", "ULD", "Diffusion", "EVALS", "ORDER", "LANGEVIN_PARAMS", "DivergedError", "doubling", "is_symmetric",
    "spectral_radius", "run_ula", "run_uld", "ula_is_stable", "ula_mode_variance", "ula_stationary_cov",
]

KINDS = {"ula": ULA, "uld": ULD, "diffusion": Diffusion}
LANGEVIN_PARAMS = ("gamma", "n_steps", "init_var", "friction")


def make(kind: str = "ula", **params) -> Sampler:
    """The sampler of ``kind`` with these parameters (Langevin family: arrays broadcast into a grid of settings;
    diffusion: one setting).  Parameters that are None are not given; others a kind does not use are an error
    naming them.
    """
    if kind not in KINDS:
        raise ValueError(f"sampler.kind must be one of {', '.join(KINDS)}; got {kind!r}")
    given = {k: v for k, v in params.items() if v is not None}
    if kind == "diffusion":
        extra = sorted(k for k in given if k in ("gamma", "init_var", "friction"))
        if extra:
            raise ValueError(f"sampler kind 'diffusion' does not take {', '.join(extra)}")
        return Diffusion(**given)
    extra = sorted(k for k in given if k not in LANGEVIN_PARAMS)
    if extra:
        raise ValueError(f"sampler kind {kind!r} does not take {', '.join(extra)}")
    return _langevin(kind, **given)


def _langevin(kind, gamma=0.0, n_steps=math.inf, init_var=1.0, friction=None) -> Sampler:
    if kind not in ("ula", "uld"):
        raise ValueError(f"a Langevin sampler.kind must be one of ula, uld; got {kind!r}")
    if kind == "ula":
        if friction is not None:
            raise ValueError("sampler.friction is only used by sampler.kind: uld")
        return ULA(gamma, n_steps=n_steps, init_var=init_var)
    if friction is None:
        raise ValueError("sampler.kind: uld needs sampler.friction (> 0)")
    return ULD(gamma, friction, n_steps=n_steps, init_var=init_var)
