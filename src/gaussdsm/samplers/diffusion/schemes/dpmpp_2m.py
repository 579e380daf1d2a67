"""``dpmpp_2m``: DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2), multistep, order 2."""

import numpy as np

from .. import layout as L
from .record import FastPath, Scheme


def _lam(s, t):
    """The half log-SNR :math:`\\lambda_t = \\log(m_t/\\sigma_t)` (:math:`-\\infty` where m = 0)."""
    with np.errstate(divide="ignore"):
        return np.log(s.m(t)) - np.log(s.sigma(t))


def step(s, y):
    r"""Data predictions :math:`D_j` at :math:`t_k` and :math:`t_{k-1}`, :math:`h = \lambda_{k+1} - \lambda_k`,
    :math:`r = h_{k-1}/h`: :math:`y' = (\sigma_{k+1}/\sigma_k)y - m_{k+1}(e^{-h} - 1)((1 + \tfrac1{2r})D_k - \tfrac1{2r}
    D_{k-1})`; the first step (or after :math:`h_{k-1} = \infty`, flow matching from t = 1) uses :math:`D_k` alone."""
    with np.errstate(divide="ignore", invalid="ignore"):  # lambda = -inf where m = 0
        lk = _lam(s, s.t)
        h, h_prev = _lam(s, s.t_next) - lk, lk - _lam(s, s.t_prev)
        w = np.where(s.first | ~np.isfinite(h_prev), 0.0, 0.5 * h / h_prev)
    D = s.denoise(y, s.t)
    Dp = (1.0 + w) * D - w * s.history("D")
    s.keep("D", D)
    return (s.sigma(s.t_next) / s.sigma(s.t)) * y - s.m(s.t_next) * np.expm1(-h) * Dp


def _fill(sampler, c, tk, tn, h):
    r""":math:`y_{j+1} = (\sigma_{j+1}/\sigma_j)y_j + G_j((1 + \tfrac1{2r_j})D_j - \tfrac1{2r_j}D_{j-1})` with
    :math:`G_j = m_{j+1} - \sigma_{j+1}m_j/\sigma_j`, :math:`D_j = m_j\mu a_j y_j`: :math:`A_0 = \sigma_{j+1}/\sigma_j`,
    :math:`A_1 = G_j w_1 m_j`, :math:`A_2 = G_j w_2 m_{j-1}`."""
    mk, sk, mn, sn = (np.sqrt(c[:, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N))
    with np.errstate(divide="ignore"):
        lam = np.log(np.append(mk, mn[-1])) - np.log(np.append(sk, sn[-1]))
    hl = np.diff(lam)
    w2 = np.zeros_like(hl)
    with np.errstate(divide="ignore", invalid="ignore"):
        w2[1:] = -0.5 * hl[1:] / hl[:-1]  # -1/(2 r_j); h_{j-1} = inf gives 0
    w2 = np.where(np.isfinite(w2), w2, 0.0)
    G = mn - sn * mk / sk
    c[:, L.A0], c[:, L.A1] = sn / sk, G * (1.0 - w2) * mk
    c[:, L.A2] = 0.0
    c[1:, L.A2] = G[1:] * w2[1:] * mk[:-1]
    c[:, L.M2P], c[:, L.S2P], c[:, L.TP] = c[:, L.M2K], c[:, L.S2K], c[:, L.TK]
    c[1:, L.M2P], c[1:, L.S2P], c[1:, L.TP] = c[:-1, L.M2K], c[:-1, L.S2K], c[:-1, L.TK]


SCHEME = Scheme("dpmpp_2m", "ode", 1, 2, step, "DPM-Solver++(2M), Lu et al. 2022b", history=("D",),
                fast=FastPath(L.MULTISTEP, _fill))
