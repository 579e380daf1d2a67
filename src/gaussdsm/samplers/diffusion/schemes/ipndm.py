r"""``ipndm``: improved pseudo-numerical multistep (iPNDM; Zhang & Chen 2023, ComfyUI's ``sample_ipndm`` after
zju-pi/diff-sampler): Adams–Bashforth in the noise level with up to three past slopes, order rising 1, 2, 3, 4 over
the first steps.  The weights are those of equal steps in the noise level: on the grids used in practice (not uniform
in :math:`\tilde\sigma`) the global order is 2, not 4 (the step ratios differ from 1 by O(1/K); measured slopes
-1.98 (vp, uniform), -2.01 (edm grid), -2.00 (ve, geometric) over K = 128 -> 256)."""

import numpy as np

from .record import Scheme

#: Adams–Bashforth weights of the current slope and the last three, by order 1–4 (rows)
WEIGHTS = np.array([[1.0, 0.0, 0.0, 0.0],
                    [3.0, -1.0, 0.0, 0.0],
                    [23.0, -16.0, 5.0, 0.0],
                    [55.0, -59.0, 37.0, -9.0]]) / np.array([1.0, 2.0, 12.0, 24.0])[:, None]


def step(s, y):
    r"""In the scaled variable :math:`z = y/m_t`, noise level :math:`\tilde\sigma = \sigma_t/m_t`: the slope
    :math:`d_k = (z - \hat x_0)/\tilde\sigma_k`, :math:`z' = z + (\tilde\sigma_{k+1} - \tilde\sigma_k)\sum_j w_j d_{k-j}`
    with the order-min(k + 1, 4) Adams–Bashforth weights :data:`WEIGHTS`; :math:`z' = \hat x_0` where
    :math:`\tilde\sigma_{k+1} = 0`.  :math:`y' = m_{k+1}z'`."""
    m, mn = s.m(s.t), s.m(s.t_next)
    sig, sig_next = s.sigma(s.t) / m, s.sigma(s.t_next) / mn
    x0 = s.denoise(y, s.t)
    z = y / m
    d = (z - x0) / sig
    past = [s.history("d1"), s.history("d2"), s.history("d3")]
    w = WEIGHTS[np.minimum(s.index, 3)]  # (..., 4)
    slope = w[..., 0] * d + w[..., 1] * past[0] + w[..., 2] * past[1] + w[..., 3] * past[2]
    s.keep("d1", d)
    s.keep("d2", past[0])
    s.keep("d3", past[1])
    to_zero = np.asarray(sig_next == 0, dtype=float)
    return mn * ((1.0 - to_zero) * (z + (sig_next - sig) * slope) + to_zero * x0)


SCHEME = Scheme("ipndm", "ode", 1, 2, step, "iPNDM, Zhang & Chen 2023 (ComfyUI's sample_ipndm)",
                history=("d1", "d2", "d3"), needs_signal=True)
