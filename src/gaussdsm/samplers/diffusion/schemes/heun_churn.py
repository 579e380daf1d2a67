"""``heun_churn``: EDM's stochastic sampler (Karras et al. 2022, Algorithm 2) as the paper writes it, on the ``edm``
process: γ = min(S_churn/K, √2 − 1) with K the steps of the grid (which ends at t_min > 0), churn where
S_tmin <= t <= S_tmax (finite), Heun on every step.  k-diffusion's ``sample_heun`` with churn is ``k_heun``
(:mod:`.k_churn`: K counts a final step to σ = 0, s_tmax may be inf, Euler on the step to 0, any process)."""

import math

import numpy as np

from .. import layout as L
from ..processes import EDM
from .record import FastPath, Scheme


def _raised(sampler, t, K):
    r""":math:`\hat t_k = (1 + \gamma_k)t_k`, :math:`\gamma_k = \min(S_{churn}/K, \sqrt2 - 1)` where
    :math:`t_k \in [S_{t\min}, S_{t\max}]`, else 0."""
    gamma = np.where((t >= sampler.s_tmin) & (t <= sampler.s_tmax), min(sampler.s_churn / K, math.sqrt(2) - 1), 0.0)
    return t * (1.0 + gamma)


def step(s, y):
    r"""Raise the noise level to :math:`\hat t_k` by adding :math:`S_{noise}^2(\sigma_{\hat t}^2 - \sigma_t^2)` of
    variance, then one Heun step from :math:`\hat t_k` to :math:`t_{k+1}`."""
    sm = s.sampler
    th = _raised(sm, s.t, s.n_steps)
    y = y + sm.s_noise * np.sqrt(s.process.s2(th) - s.process.s2(s.t)) * s.noise()
    h = th - s.t_next
    d1 = s.drift(y, th)
    d2 = s.drift(y + h * d1, s.t_next)
    return y + 0.5 * h * (d1 + d2)


def _fill(sampler, c, tk, tn, h):
    p = sampler.process
    th = _raised(sampler, tk, tk.size)
    c[:, L.TK] = th
    c[:, L.M2K], c[:, L.S2K] = p.m2(th), p.s2(th)
    c[:, L.Q0K], c[:, L.Q1K] = p.q(th)
    c[:, L.H] = th - tn
    c[:, L.PRE] = sampler.s_noise**2 * (p.s2(th) - p.s2(tk))


SCHEME = Scheme("heun_churn", "sde", 2, None, step, "EDM's stochastic sampler, Karras et al. 2022, Algorithm 2",
                needs=EDM, evaluates_at_t_min=True,
                needs_finite_steps="its churn is S_churn / n_steps per step",
                uses=("s_churn", "s_tmin", "s_tmax", "s_noise"), fast=FastPath(L.HEUN, _fill))
