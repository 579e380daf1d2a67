r"""``unipc_bh1``, ``unipc_bh2`` (solver order 2) and ``unipc_bh1_3``, ``unipc_bh2_3`` (order 3): diffusers'
``UniPCMultistepScheduler(solver_order=2|3, solver_type='bh1'|'bh2', predict_x0=True, lower_order_final=True,
disable_corrector=[])`` (its ``step``: ``multistep_uni_c_bh_update`` then ``multistep_uni_p_bh_update``), the UniPC
of Zhao et al. 2023 (data prediction) with diffusers' orders.  diffusers' defaults are bh2 and order 2: ``unipc_bh2``.

The update is :func:`.uni_pc.update` (ComfyUI's UniPC, the same predictor and corrector); diffusers' order at step j
(from 0) of its K timesteps is :math:`p_j = \min(P, K - j, j + 1)` (``lower_order_final`` and its warm-up), the
corrector (UniC of the predictor's order) corrects every sample it receives, i.e. every step's result but the last.
Its last σ is set by ``final_sigmas_type``: ``"sigma_min"`` ends at the table's first level σ̃_0 > 0 (gaussdsm's
grid ending at t_min, no ``denoise``); ``"zero"`` (its default) adds a step to σ = 0, a first-order step that returns
the data prediction of the predicted point (the corrected one is multiplied by σ_t = 0): gaussdsm's
``denoise: true`` — and diffusers counts that step in :math:`K`, so with ``denoise`` this scheme takes
:math:`K + 1` for diffusers' K (the step before the denoising is of order min(P, 2)).  (bh1 with ``"zero"`` returns
NaN in diffusers, B(h) = -h being infinite at that step; gaussdsm's ``denoise`` is its limit, the data prediction.)

ComfyUI's ``uni_pc`` / ``uni_pc_bh2`` (order min(3, K - 1) with the same lower orders at both ends) are
``unipc_bh1_3`` / ``unipc_bh2_3`` without ``denoise``; with it they differ (ComfyUI ends with a first-order step to
0.001 before the denoising).

Order: the corrector raises UniPC-p to order p + 1, but the first-order last step (``lower_order_final``) makes the
global order 2 on uniform grids, as for ``uni_pc``: measured slopes of W₂ (vp uniform K = 400 -> 800 / edm's grid
128 -> 256 / ve geometric 128 -> 256) ``unipc_bh1`` -1.97 / -3.05 / -3.00, ``unipc_bh2`` -1.98 / -3.02 / -2.85,
``unipc_bh1_3`` -1.99 / -3.89 / -4.10, ``unipc_bh2_3`` -1.99 / -3.89 / -4.26: recorded 2."""

import numpy as np

from . import uni_pc
from .record import Scheme


def _orders(s, order: int):
    r"""``(p, corrector)`` per step: :math:`p_j = \min(P, K_d - j, j + 1)` with diffusers' step count :math:`K_d = K`
    (+1 with ``denoise``, its step to σ = 0), the corrector on every step but the last."""
    K = s.n_steps
    j = np.asarray(s.index)
    K_d = K + (1 if s.sampler.denoise else 0)
    p = np.minimum(np.minimum(order, K_d - j), j + 1)
    return p, np.asarray(j != K - 1, dtype=float)


def _step(s, y, order: int, bh2: bool):
    p, corrector = _orders(s, order)
    return uni_pc.update(s, y, p, corrector, bh2)


def step_bh1(s, y):
    """bh1, solver order 2."""
    return _step(s, y, 2, False)


def step_bh2(s, y):
    """bh2, solver order 2 (diffusers' default)."""
    return _step(s, y, 2, True)


def step_bh1_3(s, y):
    """bh1, solver order 3."""
    return _step(s, y, 3, False)


def step_bh2_3(s, y):
    """bh2, solver order 3."""
    return _step(s, y, 3, True)


def _record(name, step, order, bh):
    return Scheme(name, "ode", 1, 2, step, f"UniPC ({bh}, order {order}), Zhao et al. 2023 (diffusers' "
                  f"UniPCMultistepScheduler)", history=("a", "b", "c"), needs_signal=True, evaluates_at_t_min=True,
                  uses=("denoise",))


BH1 = _record("unipc_bh1", step_bh1, 2, "bh1")
BH2 = _record("unipc_bh2", step_bh2, 2, "bh2")
BH1_3 = _record("unipc_bh1_3", step_bh1_3, 3, "bh1")
BH2_3 = _record("unipc_bh2_3", step_bh2_3, 3, "bh2")
