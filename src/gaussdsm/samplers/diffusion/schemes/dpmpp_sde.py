r"""``dpmpp_sde``: DPM-Solver++ (stochastic), k-diffusion's ``sample_dpmpp_sde`` with r = 1/2 and its Brownian-tree
noise (ComfyUI ``dpmpp_sde``; diffusers ``DPMSolverSDEScheduler``), ``eta`` = ``sampler.eta``, ``s_noise`` =
``sampler.noise_scale``.  Two model evaluations per step; the two noises of a step are increments of one Brownian
path in the noise level over nested intervals, hence correlated (:func:`._kd.brownian_pair`).  Measured order 2 in
law (slopes -2.07 vp uniform, K = 400 -> 800; -2.15 on edm's grid, 128 -> 256)."""

import numpy as np

from . import _kd
from .record import Scheme

R = 0.5
"""k-diffusion's ``r``: the sub-step's position in log noise level."""


def step(s, y):
    r"""In :math:`z = y/m_t`, :math:`\tilde\sigma = \sigma_t/m_t`, :math:`\sigma_s = \tilde\sigma^{1 - r}
    \tilde\sigma_{k+1}^r`: an ancestral DPM-Solver++(1) step to :math:`\sigma_s`, :math:`z_2 = (\sigma_d/\tilde\sigma)z
    + (1 - \sigma_d/\tilde\sigma)\hat x_0 + S_{noise}\sigma_u n_1` with :math:`(\sigma_d, \sigma_u)` the ancestral split
    of :math:`\tilde\sigma \to \sigma_s`; then from z to :math:`\tilde\sigma_{k+1}` with
    :math:`D = (1 - \tfrac1{2r})\hat x_0 + \tfrac1{2r}\hat x_0(z_2, \sigma_s)`, :math:`z' = (\sigma_d'/\tilde\sigma)z +
    (1 - \sigma_d'/\tilde\sigma)D + S_{noise}\sigma_u' n_2`; where :math:`\tilde\sigma_{k+1} = 0`, :math:`z' = \hat x_0`.
    """
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    z = y / m
    D = s.denoise(y, s.t)
    live = sig_next > 0
    two = np.asarray(live, dtype=float)
    sn = _kd.safe(live, sig_next, 0.5 * sig)
    mid = np.sqrt(sig * sn)  # sig^(1 - r) sn^r at r = 1/2
    n1, n2 = _kd.brownian_pair(s, sig, mid, sn)
    d1, u1 = _kd.ancestral(sig, mid, sm.eta)
    z2 = (d1 / sig) * z + (1.0 - d1 / sig) * D + sm.noise_scale * u1 * n1
    D2 = _kd.at(s, z2, t=_kd.safe(live, _kd.time_of(s, mid), s.t))
    fac = 1.0 / (2.0 * R)
    Dd = (1.0 - fac) * D + fac * D2
    d2, u2 = _kd.ancestral(sig, sn, sm.eta)
    z = (1.0 - two) * D + two * ((d2 / sig) * z + (1.0 - d2 / sig) * Dd + sm.noise_scale * u2 * n2)
    return mn * z


SCHEME = Scheme("dpmpp_sde", "sde", 2, 2, step, "DPM-Solver++ (stochastic), k-diffusion's sample_dpmpp_sde",
                needs_signal=True, uses=("eta", "noise_scale"))
