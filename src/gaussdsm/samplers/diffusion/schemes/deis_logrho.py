r"""``deis_logrho`` (order 2) and ``deis_logrho_3`` (order 3): diffusers' ``DEISMultistepScheduler(solver_order=2|3,
algorithm_type='deis', solver_type='logrho', lower_order_final=True)`` (its ``step``: ``deis_first_order_update``,
``multistep_deis_second_order_update``, ``multistep_deis_third_order_update``), the multistep DEIS of Zhang & Chen
2023 with the noise prediction interpolated polynomially in :math:`\log\rho` (:math:`\rho = \sigma_t/\alpha_t =
\tilde\sigma`) and integrated exactly against :math:`d\rho`.  diffusers' default is order 2: ``deis_logrho``.

ComfyUI's ``deis`` (gaussdsm's :mod:`.deis`) interpolates in the time of a fitted VP schedule instead ("tAB").

Orders as diffusers: step j (from 0) of K has order min(P, j + 1) (warm-up), and below 15 steps
(``lower_order_final``) the last step is of order 1 and the one before of order at most 2.  diffusers ends at the
table's first level σ̃_0 > 0 (its ``sigma_last``), gaussdsm's grid ending at t_min (no ``denoise``); a grid ending
at t_min = 0 takes the integrals' limits there.

Order: measured slopes of W₂ (vp uniform K = 400 -> 800 / edm's grid 128 -> 256 / ve geometric 128 -> 256)
``deis_logrho`` -2.05 / -2.01 / -1.93, ``deis_logrho_3`` -2.99 / -2.93 / -2.89."""

import numpy as np

from . import _kd
from .record import Scheme

LOWER_ORDER_BELOW = 15
"""diffusers' ``lower_order_final`` applies below this many steps."""


def ind2(t, b, c):
    r"""diffusers' second-order ``ind_fn``: :math:`\int (\log t - \log c)/(\log b - \log c)\,dt =
    t(\log t - \log c - 1)/(\log b - \log c)` (0 at t = 0)."""
    ts = np.where(t > 0, t, 1.0)
    return np.where(t > 0, ts * (-np.log(c) + np.log(ts) - 1) / (np.log(b) - np.log(c)), 0.0)


def ind3(t, b, c, d):
    r"""diffusers' third-order ``ind_fn``: :math:`\int (\log t - \log c)(\log t - \log d)/((\log b - \log c)(\log b -
    \log d))\,dt` (0 at t = 0)."""
    ts = np.where(t > 0, t, 1.0)
    lt, lc, ld = np.log(ts), np.log(c), np.log(d)
    numerator = ts * (lc * (ld - lt + 1) - ld * lt + ld + lt**2 - 2 * lt + 2)
    return np.where(t > 0, numerator / ((np.log(b) - lc) * (np.log(b) - ld)), 0.0)


def coefficients(rho_t, rho_0, rho_1, rho_2):
    r"""``(c1, c2)`` of order 2 and ``(d1, d2, d3)`` of order 3: the Lagrange basis in :math:`\log\rho` on the nodes
    :math:`\rho_0, \rho_1 (, \rho_2)` (the step's start and the previous levels) integrated from :math:`\rho_0` to
    :math:`\rho_t`, as diffusers writes them (differences of ``ind_fn``)."""
    c1 = ind2(rho_t, rho_0, rho_1) - ind2(rho_0, rho_0, rho_1)
    c2 = ind2(rho_t, rho_1, rho_0) - ind2(rho_0, rho_1, rho_0)
    d1 = ind3(rho_t, rho_0, rho_1, rho_2) - ind3(rho_0, rho_0, rho_1, rho_2)
    d2 = ind3(rho_t, rho_1, rho_2, rho_0) - ind3(rho_0, rho_1, rho_2, rho_0)
    d3 = ind3(rho_t, rho_2, rho_0, rho_1) - ind3(rho_0, rho_2, rho_0, rho_1)
    return (c1, c2), (d1, d2, d3)


def _orders(s, order: int):
    """diffusers' order of each step (module docstring)."""
    K = s.n_steps
    j = np.asarray(s.index)
    low = K < LOWER_ORDER_BELOW
    p = np.minimum(order, j + 1)
    p = np.where(low & (j == K - 2), np.minimum(p, 2), p)
    return np.where(low & (j == K - 1), 1, p)


def _step(s, y, order: int):
    r"""In :math:`z = y/m_t` (diffusers' :math:`x_t/\alpha_t`), :math:`\rho = \tilde\sigma`: the noise prediction
    :math:`\epsilon_j = (z - \hat x_0)/\rho_j`, :math:`z' = z + (\rho_t - \rho_0)\epsilon_0` (order 1, DDIM),
    :math:`z + c_1\epsilon_0 + c_2\epsilon_1` (order 2), :math:`z + d_1\epsilon_0 + d_2\epsilon_1 + d_3\epsilon_2` (order 3)
    with the coefficients of :func:`coefficients`."""
    m, rho0 = _kd.levels(s, s.t)
    mn, rho_t = _kd.levels(s, s.t_next)
    k = np.asarray(s.index)
    p = _orders(s, order)
    # the levels of past steps; a branch not taken gets distinct placeholder levels (nothing is 0/0)
    rho1 = _kd.safe(k >= 1, _kd.levels(s, _kd.past_time(s, 1))[1], 2.0 * rho0)
    rho2 = _kd.safe(k >= 2, _kd.levels(s, _kd.past_time(s, 2))[1], 4.0 * rho0)
    with np.errstate(divide="ignore", invalid="ignore"):
        (c1, c2), (d1, d2, d3) = coefficients(rho_t, rho0, rho1, rho2)
    w0 = np.where(p == 1, rho_t - rho0, np.where(p == 2, c1, d1))
    w1 = np.where(p == 1, 0.0, np.where(p == 2, c2, d2))
    z = y / m
    eps = (z - s.denoise(y, s.t)) / rho0
    e1 = s.history("e1")
    out = z + w0 * eps + w1 * e1
    if order == 3:
        out = out + np.where(p == 3, d3, 0.0) * s.history("e2")
        s.keep("e2", e1)
    s.keep("e1", eps)
    return mn * out


def step(s, y):
    """Order 2 (diffusers' default)."""
    return _step(s, y, 2)


def step_3(s, y):
    """Order 3."""
    return _step(s, y, 3)


SCHEME = Scheme("deis_logrho", "ode", 1, 2, step, "DEIS (log-rho, order 2), Zhang & Chen 2023 (diffusers' "
                "DEISMultistepScheduler)", history=("e1",), needs_signal=True)
SCHEME_3 = Scheme("deis_logrho_3", "ode", 1, 3, step_3, "DEIS (log-rho, order 3), Zhang & Chen 2023 (diffusers' "
                  "DEISMultistepScheduler)", history=("e1", "e2"), needs_signal=True)
