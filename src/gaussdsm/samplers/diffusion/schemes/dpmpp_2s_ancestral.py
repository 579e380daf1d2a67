r"""``dpmpp_2s_ancestral``: ancestral sampling with DPM-Solver++(2S) steps (Lu et al. 2022b; k-diffusion's
``sample_dpmpp_2s_ancestral``, ComfyUI ``dpmpp_2s_ancestral``), ``eta`` = ``sampler.eta``, ``s_noise`` =
``sampler.noise_scale``.  Two model evaluations per step; measured order 2 in law (slopes -1.98 vp uniform,
K = 400 -> 800; -1.97 on edm's grid, 128 -> 256)."""

import numpy as np

from . import _kd
from .record import Scheme


def step(s, y):
    r"""In :math:`z = y/m_t`, :math:`\tilde\sigma = \sigma_t/m_t`, :math:`(\sigma_{down}, \sigma_{up})` of
    :func:`._kd.ancestral`; with :math:`h = \log(\tilde\sigma/\sigma_{down})` and the midpoint :math:`\sigma_s =
    \sqrt{\tilde\sigma\sigma_{down}}`: :math:`z_2 = (\sigma_s/\tilde\sigma)z - (e^{-h/2} - 1)\hat x_0(z, \tilde\sigma)`,
    :math:`z' = (\sigma_{down}/\tilde\sigma)z - (e^{-h} - 1)\hat x_0(z_2, \sigma_s) + S_{noise}\sigma_{up}\xi`; where
    :math:`\sigma_{down} = 0`, :math:`z' = \hat x_0(z, \tilde\sigma)`."""
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    down, up = _kd.ancestral(sig, sig_next, sm.eta)
    z = y / m
    D = s.denoise(y, s.t)
    two = np.asarray(down > 0, dtype=float)
    dn = _kd.safe(down > 0, down, sig)
    mid = np.sqrt(sig * dn)
    tm = _kd.safe(down > 0, _kd.time_of(s, mid), s.t)
    z2 = (mid / sig) * z + (1.0 - mid / sig) * D
    D2 = _kd.at(s, z2, t=tm)
    z = (1.0 - two) * D + two * ((dn / sig) * z + (1.0 - dn / sig) * D2) + sm.noise_scale * up * s.noise()
    return mn * z


SCHEME = Scheme("dpmpp_2s_ancestral", "sde", 2, 2, step, "DPM-Solver++(2S) ancestral, k-diffusion's "
                "sample_dpmpp_2s_ancestral", needs_signal=True, uses=("eta", "noise_scale"))
