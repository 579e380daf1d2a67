r"""``euler_ancestral``: ancestral sampling with Euler steps (k-diffusion's ``sample_euler_ancestral``, with its
``eta`` = ``sampler.eta`` and ``s_noise`` = ``sampler.noise_scale``, defaults 1; ComfyUI ``euler_ancestral``;
diffusers ``EulerAncestralDiscreteScheduler``).

It is also DDIM with :math:`\eta` (Song, Meng & Ermon 2021, eq. 12; diffusers ``DDIMScheduler(eta)``) for
:math:`\eta \le 1`: DDIM's :math:`\sigma_t(\eta)` in the scaled variable is :math:`\eta` times k-diffusion's
:math:`\sigma_{up}` at :math:`\eta = 1`, and its deterministic part is the Euler step to :math:`\sigma_{down}`.  For
:math:`\eta > 1` DDIM is undefined (a negative variance) while k-diffusion clamps :math:`\sigma_{up} \le
\tilde\sigma_{k+1}`; ``sampler.eta: 0`` is ``ddim``.  Measured order 1 (slope -0.99, vp uniform, K = 400 -> 800)."""

from . import _kd
from .record import Scheme


def step(s, y):
    r"""In the scaled variable :math:`z = y/m_t` with noise level :math:`\tilde\sigma = \sigma_t/m_t` (the
    variance-exploding form k-diffusion samples in; z = y for EDM): :math:`(\sigma_{down}, \sigma_{up})` of
    :func:`._kd.ancestral` with :math:`\eta`; an Euler step of :math:`dz/d\tilde\sigma = (z - \hat x_0)/\tilde\sigma` to
    :math:`\sigma_{down}`, then :math:`S_{noise}\sigma_{up}` of fresh noise: :math:`y' = m_{k+1}z'`."""
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    down, up = _kd.ancestral(sig, sig_next, sm.eta)
    z = y / m
    z = z + (down - sig) / sig * (z - s.denoise(y, s.t)) + sm.noise_scale * up * s.noise()
    return mn * z


SCHEME = Scheme("euler_ancestral", "sde", 1, 1, step, "ancestral Euler, k-diffusion's sample_euler_ancestral",
                needs_signal=True, uses=("eta", "noise_scale"))
