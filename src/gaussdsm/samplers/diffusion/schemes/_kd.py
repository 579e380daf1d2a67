r"""What k-diffusion's samplers share, written for any process: they sample in the variance-exploding variable
:math:`z = y/m_t` with the noise level :math:`\tilde\sigma_t = \sigma_t/m_t` (k-diffusion's ``sigma``; z = y and
:math:`\tilde\sigma = t` for EDM, where they are k-diffusion literally), its log :math:`-\log\tilde\sigma = \lambda_t`
(their ``t_fn``, the half log-SNR), the model as the data prediction :math:`\hat x_0(z, \tilde\sigma)` (their
``denoised``), and the ancestral split of a step (their ``get_ancestral_step``).

Branches on the grid (k-diffusion's ``if sigmas[i + 1] == 0``) are selections of coefficients, never of the state: the
branch not taken is computed at safe times (:func:`safe`) and weighted by 0, so the step stays linear in y.
"""

import numpy as np

__all__ = ["levels", "at", "ancestral", "safe", "past_time", "brownian_pair"]


def levels(s, t):
    r"""``(m, sigma~)`` at time ``t``: the signal scale and k-diffusion's noise level :math:`\sigma_t/m_t`."""
    m = s.m(t)
    return m, s.sigma(t) / m


def time_of(s, sig):
    r"""The time at which :math:`\sigma_t/m_t` is ``sig`` (:meth:`~..processes.Process.t_of_ratio`)."""
    return s.process.t_of_ratio(np.asarray(sig, dtype=float) ** 2)


def at(s, z, sig=None, t=None):
    r"""The data prediction :math:`\hat x_0` of the VE state ``z`` at noise level ``sig`` (or at time ``t``):
    k-diffusion's ``model(x, sigma)``."""
    if t is None:
        t = time_of(s, sig)
    return s.denoise(s.m(t) * z, t)


def ancestral(sig, sig_next, eta):
    r"""k-diffusion's ``get_ancestral_step``: :math:`\sigma_{up} = \min(\sigma_{next}, \eta\sqrt{\sigma_{next}^2
    (\sigma^2 - \sigma_{next}^2)/\sigma^2})`, :math:`\sigma_{down} = \sqrt{\sigma_{next}^2 - \sigma_{up}^2}`
    (``(sig_next, 0)`` at :math:`\eta = 0`)."""
    up = np.minimum(sig_next, eta * np.sqrt(np.maximum(sig_next**2 * (sig**2 - sig_next**2) / sig**2, 0.0)))
    return np.sqrt(np.maximum(sig_next**2 - up**2, 0.0)), up


def safe(ok, x, fallback):
    """``x`` where ``ok``, else ``fallback`` (times or levels of a branch not taken, so that nothing is 0/0)."""
    return np.where(ok, x, fallback)


def past_time(s, j: int):
    r"""The grid time j steps before the step's start, :math:`t_{k-j}` (:math:`t_0` before the start)."""
    times = np.asarray(s.sampler.times, dtype=float)
    return times[np.maximum(np.asarray(s.index) - j, 0)]


def slopes(s, d, n: int) -> list:
    """The step's slope ``d`` and the ``n - 1`` before it (history ``d1`` ... ``d{n-1}``, most recent first), the
    history shifted by one for the next step (the multistep schemes' memory: lms, deis)."""
    ds = [d] + [s.history(f"d{j}") for j in range(1, n)]
    for j in range(n - 1, 1, -1):
        s.keep(f"d{j}", ds[j - 1])
    s.keep("d1", d)
    return ds


def brownian_pair(s, sig, sig_mid, sig_next):
    r"""k-diffusion's ``BrownianTreeNoiseSampler`` (a Brownian motion W indexed by the noise level) asked for
    :math:`[\tilde\sigma_s, \tilde\sigma]` then :math:`[\tilde\sigma_{next}, \tilde\sigma]` within one step, each
    increment normalised by the square root of its length: with :math:`\Delta_1 = \tilde\sigma - \tilde\sigma_s`,
    :math:`\Delta_2 = \tilde\sigma_s - \tilde\sigma_{next}` and independent :math:`\xi_1, \xi_2`,
    :math:`n_1 = \xi_1`, :math:`n_2 = (\sqrt{\Delta_1}\xi_1 + \sqrt{\Delta_2}\xi_2)/\sqrt{\Delta_1 + \Delta_2}`
    (correlation :math:`\sqrt{\Delta_1/(\Delta_1 + \Delta_2)}`)."""
    d1, d2 = sig - sig_mid, sig_mid - sig_next
    xi1, xi2 = s.noise(), s.noise()
    return xi1, (np.sqrt(d1) * xi1 + np.sqrt(d2) * xi2) / np.sqrt(d1 + d2)


def lagrange_integrals(sig, order: int, nodes, weights, warp=None):
    r"""``(..., order)``: :math:`c_j = \int_{\sigma_i}^{\sigma_{i+1}}\prod_{k \ne j}(w(\varsigma) - w_{i-k})/(w_{i-j} -
    w_{i-k})\,d\varsigma`, j = 0 … order - 1, the Adams-Bashforth weights of past slopes integrated over the step in
    the noise level, the Lagrange basis taken in :math:`w` = ``warp`` (identity: k-diffusion's ``lms``; DEIS: its
    time variable), by Gauss-Legendre ``nodes``/``weights`` on the step; ``sig`` ``(..., order + 1)`` =
    :math:`(\sigma_{i+1}, \sigma_i, \sigma_{i-1}, \dots)`, vectorised over the leading axes."""
    a, b = sig[..., 1:2], sig[..., 0:1]
    x = 0.5 * (a + b) + 0.5 * (b - a) * nodes  # (..., q)
    wx = x if warp is None else warp(x)
    past = sig[..., 1:order + 1] if warp is None else warp(sig[..., 1:order + 1])
    out = []
    for j in range(order):
        prod = np.ones_like(wx)
        for k in range(order):
            if k != j:
                prod = prod * (wx - past[..., k:k + 1]) / (past[..., j:j + 1] - past[..., k:k + 1])
        out.append(0.5 * (b[..., 0] - a[..., 0]) * np.sum(weights * prod, axis=-1))
    return np.stack(out, axis=-1)
