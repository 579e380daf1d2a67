r"""``deis``: DEIS (Zhang & Chen 2023), the multistep exponential integrator with the noise prediction extrapolated
polynomially in time ("tAB"), as ComfyUI's ``deis`` (its ``sample_deis``, after zju-pi/diff-sampler: ``max_order`` 3,
``deis_mode='tab'``; diffusers' ``DEISMultistepScheduler`` interpolates in :math:`\log\tilde\sigma` instead:
:mod:`.deis_logrho`).

ComfyUI's time is that of a VP schedule fitted to :math:`\sigma \in [0.002, 80]` with :math:`\epsilon_s = 10^{-3}`
(its ``edm2t``), whatever the model: :math:`\tilde\sigma(\tau)^2 = e^{\beta_d\tau^2/2 + \beta_{\min}\tau} - 1` (:func:`tau`).
Its coefficients are integrals over the step of the Lagrange basis in :math:`\tau` against :math:`d\tilde\sigma`; ComfyUI
approximates them by a Riemann sum of 10 000 points (about 1e-4 relative), here they are computed to rounding
(Gauss-Legendre in :math:`\tilde\sigma`, in which the integrand is smooth).  Measured order 3 (slopes -3.01, vp
uniform, K = 400 -> 800; -2.95 on edm's grid, 128 -> 256)."""

import math

import numpy as np

from . import _kd
from .record import Scheme

MAX_ORDER = 3
"""ComfyUI's default ``max_order``."""
SIGMA_MIN, SIGMA_MAX, EPS_S = 0.002, 80.0, 1e-3
"""ComfyUI's ``edm2t`` constants."""
BETA_D = 2.0 * (math.log(SIGMA_MIN**2 + 1) / EPS_S - math.log(SIGMA_MAX**2 + 1)) / (EPS_S - 1)
BETA_MIN = math.log(SIGMA_MAX**2 + 1) - 0.5 * BETA_D

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)


def tau(sig):
    r"""ComfyUI's ``edm2t``: :math:`\tau(\tilde\sigma) = (\sqrt{\beta_{\min}^2 + 2\beta_d\log(\tilde\sigma^2 + 1)} -
    \beta_{\min})/\beta_d`."""
    return (np.sqrt(BETA_MIN**2 + 2 * BETA_D * np.log1p(np.asarray(sig, dtype=float) ** 2)) - BETA_MIN) / BETA_D


def coefficients(sig, order: int):
    r"""``(..., order)``: :math:`C_j = \int_{\tilde\sigma_i}^{\tilde\sigma_{i+1}} \prod_{k \ne j}(\tau(\varsigma) - \tau_{i-k})
    /(\tau_{i-j} - \tau_{i-k})\,d\varsigma`, from ``sig`` ``(..., order + 1)`` = :math:`(\tilde\sigma_{i+1},
    \tilde\sigma_i, \tilde\sigma_{i-1}, \dots)`."""
    return _kd.lagrange_integrals(sig, order, _NODES, _WEIGHTS, warp=tau)


def step(s, y):
    r"""In :math:`z = y/m_t`, :math:`\tilde\sigma = \sigma_t/m_t`: the noise prediction :math:`d_i = (z - \hat x_0)/
    \tilde\sigma_i`, :math:`z' = z + \sum_{j < p} C_j d_{i-j}` with p = min(i + 1, 3) and :math:`C_j` of
    :func:`coefficients` (p = 1: the Euler step :math:`(\tilde\sigma_{i+1} - \tilde\sigma_i)d_i`, also where
    :math:`\tilde\sigma_{i+1} = 0`)."""
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    past = [_kd.levels(s, _kd.past_time(s, j))[1] for j in range(1, MAX_ORDER)]
    grid = np.stack(np.broadcast_arrays(sig_next, sig, *past), axis=-1)
    idx = np.asarray(s.index)
    order = np.where(sig_next > 0, np.minimum(idx, MAX_ORDER - 1) + 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.zeros(grid.shape[:-1] + (MAX_ORDER,))
        c[..., 0] = np.where(order == 1, sig_next - sig, 0.0)
        for p in range(2, MAX_ORDER + 1):
            c[..., :p] = np.where((order == p)[..., None], coefficients(grid, p), c[..., :p])
    z = y / m
    d = (z - s.denoise(y, s.t)) / sig
    ds = _kd.slopes(s, d, MAX_ORDER)
    return mn * (z + sum(c[..., j] * ds[j] for j in range(MAX_ORDER)))


SCHEME = Scheme("deis", "ode", 1, 3, step, "DEIS (tAB, order 3), Zhang & Chen 2023 (ComfyUI's sample_deis)",
                history=("d1", "d2"), needs_signal=True)
