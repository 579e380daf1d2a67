r"""``uni_pc`` and ``uni_pc_bh2``: UniPC (Zhao et al. 2023), the multistep unified predictor-corrector with data
prediction, B(h) = h (bh1) or :math:`e^h - 1` (bh2), order 3 with lower orders at the start and the end, as ComfyUI's
``uni_pc`` / ``uni_pc_bh2`` (its ``sample_unipc``: ``order = min(3, len(timesteps) - 2)`` = min(3, K - 1),
``lower_order_final``, the corrector at every step but the last; a last sigma of 0 is replaced there by 0.001) and
diffusers' ``UniPCMultistepScheduler(solver_order=3, predict_x0=True, solver_type='bh1'|'bh2',
final_sigmas_type='sigma_min')`` (:mod:`.unipc`'s ``unipc_bh1_3``/``unipc_bh2_3`` without ``denoise``; diffusers'
defaults, solver_order 2 with its step to 0, are ``unipc_bh2`` with ``denoise``).
One model evaluation per step: the corrector's evaluation at the predicted point is the next step's model value.

Order: the corrector raises UniPC-3 to order 4 (measured slopes -3.89 on edm's grid, -4.1 on ve geometric, K = 128 ->
256), but ``lower_order_final`` ends with a first-order step without corrector, whose O(h^2) error is the global
order on uniform grids (-1.99, vp uniform, K = 400 -> 800): recorded 2.

In the scaled variable :math:`z = y/m_t` with :math:`\lambda = -\log(\sigma_t/m_t)` the update is the one written for
:math:`x_t = \alpha_tz` (every term scales by :math:`\alpha_t`), so it holds for any process."""

import numpy as np

from . import _kd
from .record import Scheme

ORDER = 3
"""ComfyUI's (and diffusers' unconditional default) solver order."""


def _b(h, p, bh2: bool):
    r"""UniPC's right-hand sides :math:`b_i = i!\,h\varphi_{i+1}(h)/B(h)`, i = 1 … p, with :math:`hh = -h`
    (data prediction): :math:`\varphi` by the recursion of the reference code."""
    hh = -h
    h_phi_1 = np.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    B = np.expm1(hh) if bh2 else hh
    out, fact = [], 1.0
    for i in range(1, p + 1):
        out.append(h_phi_k * fact / B)
        fact *= i + 1
        h_phi_k = h_phi_k / hh - 1.0 / fact
    return out, B


def _rhos(h, r1, r2, p, bh2: bool):
    """``(rho_p, rho_c)``: the predictor's and the corrector's weights of the order-p update (lists of arrays)."""
    b, _ = _b(h, p, bh2)
    if p == 1:
        return [], [0.5 + 0.0 * h]
    if p == 2:  # R = [[1, 1], [r1, 1]]
        det = 1.0 - r1
        return [0.5 + 0.0 * h], [(b[0] - b[1]) / det, (b[1] - r1 * b[0]) / det]
    R = np.stack(np.broadcast_arrays(np.ones_like(r1), np.ones_like(r1), np.ones_like(r1),
                                     r1, r2, np.ones_like(r1), r1**2, r2**2, np.ones_like(r1)), axis=-1)
    R = R.reshape(R.shape[:-1] + (3, 3))
    bb = np.stack(np.broadcast_arrays(*b), axis=-1)[..., None]
    rc = np.linalg.solve(R, bb)[..., 0]
    rp = np.linalg.solve(R[..., :2, :2], bb[..., :2, :])[..., 0]
    return [rp[..., 0], rp[..., 1]], [rc[..., 0], rc[..., 1], rc[..., 2]]


def _step(s, y, bh2: bool):
    r"""ComfyUI's orders: update u = k + 1 of K has order p = u while u < P = min(3, K - 1), then min(P, K + 1 - u);
    no corrector at the last step (:func:`update`)."""
    K = s.n_steps
    k = np.asarray(s.index)
    u = k + 1
    P = max(1, min(ORDER, K - 1))
    p = np.where(u < P, u, np.minimum(P, K + 1 - u))
    corrector = np.asarray(u != K, dtype=float)
    return update(s, y, p, corrector, bh2)


def update(s, y, p, corrector, bh2: bool):
    r"""The UniPC update from :math:`t_k` to :math:`t_{k+1}` (k = ``s.index``) of order ``p`` (1 … 3, per step) with the
    corrector where ``corrector`` is 1 (0: the predictor's point is returned).  With the model values
    :math:`m_0, m_1, m_2` at :math:`t_k, t_{k-1}, t_{k-2}` (:math:`m_0` the data prediction at the start for k = 0,
    else the previous corrector's evaluation at its predicted point), :math:`h = \lambda_{k+1} - \lambda_k`,
    :math:`r_i = (\lambda_{k-i} - \lambda_k)/h`, :math:`D_i = (m_i - m_0)/r_i`: :math:`\bar z =
    (\tilde\sigma_{k+1}/\tilde\sigma_k)z - (e^{-h} - 1)m_0`, the predictor :math:`z_p = \bar z - B(h)\sum_i\rho^p_iD_i`,
    the corrector :math:`z' = \bar z - B(h)(\sum_i\rho^c_iD_i + \rho^c_p(m_t - m_0))` with :math:`m_t = \hat x_0(z_p,
    t_{k+1})`, the weights solving UniPC's :math:`R\rho = b` (:func:`_rhos`)."""
    k = np.asarray(s.index)
    m, sig = _kd.levels(s, s.t)
    mn, sig_next = _kd.levels(s, s.t_next)
    sig1 = _kd.levels(s, _kd.past_time(s, 1))[1]
    sig2 = _kd.levels(s, _kd.past_time(s, 2))[1]
    z = y / m
    first = np.asarray(k == 0, dtype=float)
    m0 = first * s.denoise(y, s.t) + (1.0 - first) * s.history("a")
    m1, m2 = s.history("b"), s.history("c")
    h = np.log(sig / sig_next)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = _kd.safe(k >= 1, np.log(sig / sig1) / h, -1.0)  # (lambda_{k-1} - lambda_k) / h
        r2 = _kd.safe(k >= 2, np.log(sig / sig2) / h, -2.0)
    _, B = _b(h, 1, bh2)
    wp = [0.0 * h, 0.0 * h]  # predictor weights of m1, m2 (per D_i = (m_i - m0)/r_i)
    wc = [0.0 * h, 0.0 * h, 0.0 * h]  # corrector weights of m1, m2 and of (m_t - m0)
    for q in range(1, ORDER + 1):
        rp, rc = _rhos(h, r1, r2, q, bh2)
        sel = p == q
        for i, rho in enumerate(rp):
            wp[i] = np.where(sel, rho / (r1, r2)[i], wp[i])
        for i, rho in enumerate(rc[:-1]):
            wc[i] = np.where(sel, rho / (r1, r2)[i], wc[i])
        wc[2] = np.where(sel, rc[-1], wc[2])
    base = (sig_next / sig) * z - np.expm1(-h) * m0
    pred = base - B * (wp[0] * (m1 - m0) + wp[1] * (m2 - m0))
    mt = s.denoise(mn * pred, s.t_next)
    corr = base - B * (wc[0] * (m1 - m0) + wc[1] * (m2 - m0) + wc[2] * (mt - m0))
    s.keep("a", mt)
    s.keep("b", m0)
    s.keep("c", m1)
    return mn * (corrector * corr + (1.0 - corrector) * pred)


def step(s, y):
    """bh1 (ComfyUI's ``uni_pc``)."""
    return _step(s, y, bh2=False)


def step_bh2(s, y):
    """bh2 (ComfyUI's ``uni_pc_bh2``)."""
    return _step(s, y, bh2=True)


SCHEME = Scheme("uni_pc", "ode", 1, 2, step, "UniPC (bh1), Zhao et al. 2023", history=("a", "b", "c"),
                needs_signal=True, evaluates_at_t_min=True)
SCHEME_BH2 = Scheme("uni_pc_bh2", "ode", 1, 2, step_bh2, "UniPC (bh2), Zhao et al. 2023", history=("a", "b", "c"),
                    needs_signal=True, evaluates_at_t_min=True)
