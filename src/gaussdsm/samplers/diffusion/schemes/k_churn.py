r"""``k_euler``, ``k_heun``, ``k_dpm_2``: k-diffusion's ``sample_euler``, ``sample_heun`` and ``sample_dpm_2``
(Karras et al. 2022, Algorithm 2 with Euler, Heun and DPM-2 steps; ComfyUI ``euler``, ``heun``, ``dpm_2``; diffusers
``EulerDiscreteScheduler``, ``HeunDiscreteScheduler``, ``KDPM2DiscreteScheduler``), churn included, in the
variance-exploding variable :math:`z = y/m_t` with noise level :math:`\tilde\sigma = \sigma_t/m_t` for any process.

Their churn is k-diffusion's convention, not EDM's ``heun_churn``:

* :math:`\gamma = \min(S_{churn}/K, \sqrt2 - 1)` with K = ``len(sigmas) - 1`` the number of steps **including** the final
  step to :math:`\tilde\sigma = 0` when the grid ends there (a grid ending at t = 0, e.g. an explicit list ``[..., 0]``,
  which is k-diffusion's ``append_zero``); ``heun_churn`` divides by the number of steps of its grid, which ends at
  t_min > 0;
* applied where :math:`S_{t\min} \le \tilde\sigma_k \le S_{t\max}` (``s_tmax`` may be ``inf``, k-diffusion's default),
  the final step to 0 included;
* the step to :math:`\tilde\sigma = 0` is an Euler step (the data prediction at :math:`\hat\sigma`).

With ``sampler.s_churn: 0`` they are ComfyUI's KSampler ``euler``, ``heun``, ``dpm_2`` (no churn); ``k_euler``
without churn is ``ddim`` (the Euler step in :math:`\tilde\sigma` is DDIM's), ``k_heun`` on ``edm`` is ``heun``.  The
defaults of ``s_churn``, ``s_tmin``, ``s_tmax``, ``s_noise`` are Karras et al.'s (Table 5), shared with
``heun_churn``.

Order: none with churn (γ = S_churn/K is clamped at √2 − 1 up to K = 193 for S_churn = 80, and the churn's own error
decays with it: measured slopes -0.45, -0.89, -0.73 for k_euler, k_heun, k_dpm_2 on edm's grid, K = 128 -> 256).
Without churn 1, 2, 2 (measured -1.00, -2.00, -2.00, vp uniform, K = 400 -> 800; -0.99, -2.01, -2.01 on edm).
"""

import math

import numpy as np

from . import _kd
from .record import Scheme


def _churn(s, y):
    r"""``(z, sig_hat, t_hat, sig, m_next, sig_next)``: the state raised to :math:`\hat\sigma = (1 + \gamma)\tilde\sigma_k`
    by :math:`S_{noise}\sqrt{\hat\sigma^2 - \tilde\sigma_k^2}\,\xi`, in the scaled variable."""
    sm = s.sampler
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    g = min(sm.s_churn / s.n_steps, math.sqrt(2) - 1)
    gamma = np.where((sm.s_tmin <= sig) & (sig <= sm.s_tmax), g, 0.0)
    sig_hat = sig * (gamma + 1.0)
    t_hat = np.where(gamma > 0, _kd.time_of(s, sig_hat), s.t)
    z = y / m + sm.s_noise * np.sqrt(sig_hat**2 - sig**2) * s.noise()
    return z, sig_hat, t_hat, mn, sig_next


def step_euler(s, y):
    r""":math:`z' = z + (\tilde\sigma_{k+1} - \hat\sigma)(z - \hat x_0(z, \hat\sigma))/\hat\sigma` after the churn."""
    z, sh, th, mn, sn = _churn(s, y)
    d = (z - _kd.at(s, z, t=th)) / sh
    return mn * (z + (sn - sh) * d)


def step_heun(s, y):
    r"""After the churn, :math:`d = (z - \hat x_0(z, \hat\sigma))/\hat\sigma`, :math:`z_2 = z + (\tilde\sigma_{k+1} -
    \hat\sigma)d`, :math:`z' = z + (\tilde\sigma_{k+1} - \hat\sigma)(d + d_2)/2` with :math:`d_2` the slope at
    :math:`(z_2, \tilde\sigma_{k+1})`; Euler where :math:`\tilde\sigma_{k+1} = 0`."""
    z, sh, th, mn, sn = _churn(s, y)
    d = (z - _kd.at(s, z, t=th)) / sh
    live = sn > 0
    two = np.asarray(live, dtype=float)
    z2 = z + (sn - sh) * d
    sn_ = _kd.safe(live, sn, sh)
    d2 = (z2 - _kd.at(s, z2, t=_kd.safe(live, s.t_next, th))) / sn_
    return mn * (z + (sn - sh) * ((1.0 - 0.5 * two) * d + 0.5 * two * d2))


def step_dpm_2(s, y):
    r"""After the churn, :math:`d` at :math:`\hat\sigma`, the midpoint :math:`\sigma_{mid} = \sqrt{\hat\sigma
    \tilde\sigma_{k+1}}`, :math:`z_2 = z + (\sigma_{mid} - \hat\sigma)d`, :math:`z' = z + (\tilde\sigma_{k+1} -
    \hat\sigma)d_2` with :math:`d_2` the slope at :math:`(z_2, \sigma_{mid})`; Euler where :math:`\tilde\sigma_{k+1} =
    0`."""
    z, sh, th, mn, sn = _churn(s, y)
    d = (z - _kd.at(s, z, t=th)) / sh
    live = sn > 0
    two = np.asarray(live, dtype=float)
    mid = np.sqrt(sh * _kd.safe(live, sn, sh))
    z2 = z + (mid - sh) * d
    d2 = (z2 - _kd.at(s, z2, t=_kd.safe(live, _kd.time_of(s, mid), th))) / mid
    return mn * (z + (sn - sh) * ((1.0 - two) * d + two * d2))


_WHY = "its churn is S_churn / n_steps per step"
_USES = ("s_churn", "s_tmin", "s_tmax", "s_noise")
EULER = Scheme("k_euler", "sde", 1, None, step_euler, "k-diffusion's sample_euler (Karras et al. 2022, Algorithm 2 "
               "with Euler steps)", needs_signal=True, needs_finite_steps=_WHY, uses=_USES)
HEUN = Scheme("k_heun", "sde", 2, None, step_heun, "k-diffusion's sample_heun (Karras et al. 2022, Algorithm 2)",
              needs_signal=True, needs_finite_steps=_WHY, uses=_USES)  # t_min = 0 allowed: its step to 0 is Euler
DPM_2 = Scheme("k_dpm_2", "sde", 2, None, step_dpm_2, "k-diffusion's sample_dpm_2 (DPM-Solver-2-like steps in "
               "the noise level, Algorithm 2's churn)", needs_signal=True, needs_finite_steps=_WHY, uses=_USES)
