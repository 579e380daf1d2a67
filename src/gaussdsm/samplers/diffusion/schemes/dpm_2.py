"""``dpm_2``: DPM-Solver-2 (Lu et al. 2022, Algorithm 1 with r₁ = 1/2), single step, order 2."""

import numpy as np

from .. import layout as L
from .record import FastPath, Scheme


def _midpoint(p, m2k, s2k, m2n, s2n):
    """The midpoint in log-SNR :math:`\\lambda = \\log(m/\\sigma)` between t_k and t_{k+1}."""
    return p.t_of_ratio(np.sqrt(s2k / m2k * (s2n / m2n)))


def step(s, y):
    r"""Noise predictions at :math:`t_k` and at the log-SNR midpoint s:
    :math:`u = (m_s/m_k)y - \sigma_s(e^{h/2} - 1)\hat\epsilon_k(y)`,
    :math:`y' = (m_n/m_k)y - \sigma_n(e^h - 1)\hat\epsilon_s(u)`."""
    p = s.process
    ts = _midpoint(p, p.m2(s.t), p.s2(s.t), p.m2(s.t_next), p.s2(s.t_next))
    mk, sk, mn, sn, ms, ss = s.m(s.t), s.sigma(s.t), s.m(s.t_next), s.sigma(s.t_next), s.m(ts), s.sigma(ts)
    eh2, eh = (ms / ss) / (mk / sk), (mn / sn) / (mk / sk)  # e^{h/2}, e^h
    u = (ms / mk) * y - ss * (eh2 - 1.0) * s.eps(y, s.t)
    return (mn / mk) * y - sn * (eh - 1.0) * s.eps(u, ts)


def _fill(sampler, c, tk, tn, h):
    r"""The first half is DDIM from t_k to s, :math:`u = (m_sm_k\mu + \sigma_s\sigma_k)a_k y`, so :math:`\alpha = m_n/m_k -
    (m_n\sigma_k/m_k - \sigma_n)\sigma_s a_s (m_sm_k\mu + \sigma_s\sigma_k) a_k`."""
    p = sampler.process
    ts = _midpoint(p, c[:, L.M2K], c[:, L.S2K], c[:, L.M2N], c[:, L.S2N])
    c[:, L.TM] = ts
    c[:, L.M2M], c[:, L.S2M] = p.m2(ts), p.s2(ts)
    c[:, L.Q0M], c[:, L.Q1M] = p.q(ts)
    mk, sk, mn, sn, ms, ss = (np.sqrt(c[:, j]) for j in (L.M2K, L.S2K, L.M2N, L.S2N, L.M2M, L.S2M))
    c[:, L.A0], c[:, L.A1] = mn / mk, (mn * sk / mk - sn) * ss
    c[:, L.U0], c[:, L.U1] = ms * mk, ss * sk


# evaluates_at_t_min: its midpoint in log-SNR is t = 0 on a step to t_min = 0 (lambda = inf there): refused
SCHEME = Scheme("dpm_2", "ode", 2, 2, step, "DPM-Solver-2, Lu et al. 2022", needs_signal=True, evaluates_at_t_min=True,
                fast=FastPath(L.DPM2, _fill))
