r"""``dpm_2_ancestral``: ancestral sampling with k-diffusion's DPM-2 steps (``sample_dpm_2_ancestral``; ComfyUI
``dpm_2_ancestral``; diffusers ``KDPM2AncestralDiscreteScheduler``), ``eta`` = ``sampler.eta``, ``s_noise`` =
``sampler.noise_scale``.  Two model evaluations per step; measured order 2 in law (slopes -2.00 vp uniform,
K = 400 -> 800; -2.01 on edm's grid, 128 -> 256)."""

import numpy as np

from . import _kd
from .record import Scheme


def step(s, y):
    r"""In :math:`z = y/m_t`, :math:`\tilde\sigma = \sigma_t/m_t`: :math:`d = (z - \hat x_0(z, \tilde\sigma))/\tilde\sigma`,
    :math:`(\sigma_{down}, \sigma_{up})` of :func:`._kd.ancestral`; the midpoint :math:`\sigma_{mid} =
    \sqrt{\tilde\sigma\sigma_{down}}` (geometric), :math:`z_2 = z + (\sigma_{mid} - \tilde\sigma)d`,
    :math:`d_2 = (z_2 - \hat x_0(z_2, \sigma_{mid}))/\sigma_{mid}`, :math:`z' = z + (\sigma_{down} - \tilde\sigma)d_2
    + S_{noise}\sigma_{up}\xi`; where :math:`\sigma_{down} = 0` an Euler step (:math:`z' = \hat x_0`)."""
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    down, up = _kd.ancestral(sig, sig_next, sm.eta)
    z = y / m
    D = s.denoise(y, s.t)
    d = (z - D) / sig
    two = np.asarray(down > 0, dtype=float)
    mid = np.sqrt(sig * _kd.safe(down > 0, down, sig))
    tm = _kd.safe(down > 0, _kd.time_of(s, mid), s.t)
    z2 = z + (mid - sig) * d
    d2 = (z2 - _kd.at(s, z2, t=tm)) / mid
    z = (1.0 - two) * D + two * (z + (down - sig) * d2) + sm.noise_scale * up * s.noise()
    return mn * z


SCHEME = Scheme("dpm_2_ancestral", "sde", 2, 2, step, "k-diffusion's sample_dpm_2_ancestral", needs_signal=True,
                uses=("eta", "noise_scale"))
