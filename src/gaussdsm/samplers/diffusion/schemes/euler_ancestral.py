"""``euler_ancestral``: ancestral sampling with Euler steps (k-diffusion's ``sample_euler_ancestral``, η = 1,
``s_noise`` = 1; ComfyUI ``euler_ancestral``; diffusers ``EulerAncestralDiscreteScheduler``)."""

import numpy as np

from .record import Scheme


def step(s, y):
    r"""In the scaled variable :math:`z = y/m_t` with noise level :math:`\tilde\sigma = \sigma_t/m_t` (the variance-exploding
    form k-diffusion samples in; z = y for EDM): :math:`\sigma_{up} = \min(\tilde\sigma_{k+1},
    \sqrt{\tilde\sigma_{k+1}^2(\tilde\sigma_k^2 - \tilde\sigma_{k+1}^2)/\tilde\sigma_k^2})`, :math:`\sigma_{down} =
    \sqrt{\tilde\sigma_{k+1}^2 - \sigma_{up}^2}`; an Euler step of :math:`dz/d\tilde\sigma = (z - \hat x_0)/\tilde\sigma` to
    :math:`\sigma_{down}`, then :math:`\sigma_{up}` of fresh noise: :math:`y' = m_{k+1}z'`."""
    m, mn = s.m(s.t), s.m(s.t_next)
    sig, sig_next = s.sigma(s.t) / m, s.sigma(s.t_next) / mn
    up = np.minimum(sig_next, np.sqrt(sig_next**2 * (sig**2 - sig_next**2) / sig**2))
    down = np.sqrt(sig_next**2 - up**2)
    z = y / m
    z = z + (down - sig) / sig * (z - s.denoise(y, s.t)) + up * s.noise()
    return mn * z


SCHEME = Scheme("euler_ancestral", "sde", 1, 1, step, "ancestral Euler, k-diffusion's sample_euler_ancestral (eta 1)",
                needs_signal=True)
