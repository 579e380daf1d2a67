r"""``dpmpp_3m_sde``: DPM-Solver++(3M) SDE, k-diffusion's ``sample_dpmpp_3m_sde`` (ComfyUI ``dpmpp_3m_sde``),
``eta`` = ``sampler.eta``, ``s_noise`` = ``sampler.noise_scale``.  One model evaluation per step, the last two data
predictions kept.

Measured order 2, not 3 (slopes -2.09 vp uniform K = 400 -> 800, -1.95 edm grid, -2.19 ve geometric; -1.97 at η = 0).
Not its start-up steps (two first steps of length h² instead of h leave the slopes unchanged), but its formula: with
:math:`D(\lambda)` the data prediction along the path, :math:`d_1 \approx hD'` and :math:`d_2 \approx h^2D''/2`
(for any step ratios), while third order needs the weight of :math:`D''` to be :math:`\int_0^h e^{-(h-u)}u^2/2\,du
\approx h^3/6` (η = 0; the same with :math:`h_\eta`), i.e. :math:`h/3` on :math:`d_2`; :math:`-\varphi_3 \approx h/6`
gives half, an :math:`O(h^3)` local error (exactly half the :math:`D''` term on a quadratic :math:`D`).  With
:math:`2\varphi_3` the slopes at η = 0 are -2.93 … -2.97 (K = 50 … 800, vp uniform); at η = 1 they still tend to
-2 (-2.95, -2.68, -2.40, -2.21 from K = 50 -> 100 to 400 -> 800): the law of the SDE scheme is second order
regardless.  The same expression is DPM-Solver's multistep third-order update (diffusers' ``DPMSolverMultistep``
with ``solver_order=3``).  Kept as k-diffusion writes it."""

import numpy as np

from . import _kd
from .record import Scheme


def step(s, y):
    r"""In :math:`z = y/m_t`, :math:`\tilde\sigma = \sigma_t/m_t`, :math:`h = \log(\tilde\sigma_k/\tilde\sigma_{k+1})`,
    :math:`h_\eta = (1 + \eta)h`: :math:`z' = e^{-h_\eta}z + (1 - e^{-h_\eta})D_k + \varphi_2 d_1 - \varphi_3 d_2 +
    S_{noise}\tilde\sigma_{k+1}\sqrt{1 - e^{-2\eta h}}\,\xi` with :math:`\varphi_2 = (e^{-h_\eta} - 1)/h_\eta + 1`,
    :math:`\varphi_3 = \varphi_2/h_\eta - \tfrac12` and, from :math:`r_0 = h_{k-1}/h`, :math:`r_1 = h_{k-2}/h`,
    :math:`d_{1,0} = (D_k - D_{k-1})/r_0`, :math:`d_{1,1} = (D_{k-1} - D_{k-2})/r_1`, :math:`d_1 = d_{1,0} + (d_{1,0} -
    d_{1,1})r_0/(r_0 + r_1)`, :math:`d_2 = (d_{1,0} - d_{1,1})/(r_0 + r_1)` (third step on); the second step
    :math:`\varphi_2 d_{1,0}`, the first none.  Where :math:`\tilde\sigma_{k+1} = 0`, :math:`z' = D_k`."""
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    sig1 = _kd.levels(s, _kd.past_time(s, 1))[1]
    sig2 = _kd.levels(s, _kd.past_time(s, 2))[1]
    z = y / m
    D = s.denoise(y, s.t)
    D1, D2 = s.history("D1"), s.history("D2")
    s.keep("D1", D)
    s.keep("D2", D1)
    live = sig_next > 0
    sn = _kd.safe(live, sig_next, 0.5 * sig)
    h = np.log(sig / sn)
    he = h * (sm.eta + 1.0)
    phi2 = np.expm1(-he) / he + 1.0
    phi3 = phi2 / he - 0.5
    idx = np.asarray(s.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        r0 = _kd.safe(idx >= 1, np.log(sig1 / sig) / h, 1.0)
        r1 = _kd.safe(idx >= 2, np.log(sig2 / sig1) / h, 1.0)
    third = np.asarray(idx >= 2, dtype=float)
    second = np.asarray(idx == 1, dtype=float)
    # phi2 d1 - phi3 d2 as weights of D, D1, D2 (third step on), phi2 (D - D1)/r0 at the second
    a, b = 1.0 / r0, 1.0 / r1  # d10 = a (D - D1), d11 = b (D1 - D2)
    k1, k2 = r0 / (r0 + r1), 1.0 / (r0 + r1)  # d1 = d10 + k1 (d10 - d11), d2 = k2 (d10 - d11)
    c10 = third * (phi2 * (1.0 + k1) - phi3 * k2) + second * phi2  # coefficient of d10
    c11 = third * (-phi2 * k1 + phi3 * k2)  # coefficient of d11
    corr = (c10 * a) * D + (c11 * b - c10 * a) * D1 - (c11 * b) * D2
    zn = np.exp(-he) * z - np.expm1(-he) * D + corr + sm.noise_scale * sn * np.sqrt(-np.expm1(-2 * h * sm.eta)) \
        * s.noise()
    two = np.asarray(live, dtype=float)
    return mn * ((1.0 - two) * D + two * zn)


SCHEME = Scheme("dpmpp_3m_sde", "sde", 1, 2, step, "DPM-Solver++(3M) SDE, k-diffusion's sample_dpmpp_3m_sde",
                history=("D1", "D2"), needs_signal=True, uses=("eta", "noise_scale"))
