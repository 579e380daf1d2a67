r"""Reverse time grids :math:`T = t_0 > t_1 > \dots > t_K = t_{\min}` (``sampler.grid``): ``uniform`` in t,
``geometric`` in t, ``edm`` (Karras et al. 2022, ρ = 7 in σ_t, mapped to t), or an explicit decreasing list of times.

A new grid is one function of ``(process, n_steps, t_min)`` and one entry in :data:`GRIDS`.
"""

from __future__ import annotations

import math

import numpy as np

from .processes import Process

__all__ = ["GRIDS", "RHO", "time_grid"]

RHO = 7.0
"""Karras et al. (2022)'s ρ."""


def _uniform(process: Process, k: np.ndarray, t_min: float) -> np.ndarray:
    return process.T - k * (process.T - t_min)


def _geometric(process: Process, k: np.ndarray, t_min: float) -> np.ndarray:
    return process.T * (t_min / process.T) ** k


def _edm(process: Process, k: np.ndarray, t_min: float) -> np.ndarray:
    r"""Uniform in :math:`\sigma_t^{1/\rho}` between :math:`\sigma_T` and :math:`\sigma_{t_{\min}}`."""
    smax, smin = math.sqrt(float(process.s2(process.T))), math.sqrt(float(process.s2(t_min)))
    sig = (smax ** (1 / RHO) + k * (smin ** (1 / RHO) - smax ** (1 / RHO))) ** RHO
    return process.t_of_s2(sig**2)


GRIDS = {"uniform": _uniform, "geometric": _geometric, "edm": _edm}
"""The named grids (``sampler.grid``), each ``f(process, k, t_min)`` of the fractions k = 0, 1/K, …, 1."""


def time_grid(process: Process, grid, n_steps: int, t_min: float) -> np.ndarray:
    r"""The reverse time grid :math:`T = t_0 > t_1 > \dots > t_K = t_{\min}` (shape ``(K + 1,)``); ``grid`` a name of
    :data:`GRIDS` or an explicit list of times."""
    if not isinstance(grid, str):
        return np.asarray(grid, dtype=float)
    make = GRIDS.get(grid)
    if make is None:
        raise ValueError(f"sampler.grid must be one of {', '.join(GRIDS)} or a list of times; got {grid!r}")
    K = int(n_steps)
    t = make(process, np.arange(K + 1) / K, t_min)
    t[0], t[-1] = process.T, t_min
    return t
