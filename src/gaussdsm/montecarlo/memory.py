"""The estimated peak memory of a Monte-Carlo job (the workflow checks it against ``montecarlo.mem_mb``; the CLI
against the memory available, :mod:`gaussdsm.budget`)."""

from __future__ import annotations

import numpy as np

from .training import BLOCK_ELEMENTS, MODES_BLOCK_ELEMENTS

__all__ = ["BASE_MB", "peak_memory_mb"]


BASE_MB = 250
"""Memory of a job before its arrays: the interpreter with numpy, scipy, xarray, netCDF4 and numba (measured 160-250)."""


def peak_memory_mb(d: int, n_replicates: int, n_settings: int, points_per_job: int, *, model: str = "full",
                   draw: str = "wishart", method: str = "exact", n_samples: float = 0, n_snapshots: int = 1) -> float:
    """Estimated peak memory (MB) of one Monte-Carlo job of a study (``fit_scores`` or ``run_sampler``).

    Exact fits (:func:`exact_fit_errors`): a block of ``b`` replicates, ``b d^2 <= BLOCK_ELEMENTS``, holds about seven
    ``d x d`` arrays per replicate (covariance, Bartlett factor, eigenvectors, the law, its product, LAPACK work);
    ``draw='samples'`` adds the ``N x d`` training set of one replicate; ``draw='modes'`` holds about ten ``b x d``
    arrays (``b d <= MODES_BLOCK_ELEMENTS``).  SGD fits (``fit_scores`` then ``run_sampler``): the training sets
    ``R x N x d`` and the stored snapshots, ``R x S x d x d`` twice (SGD and exact).  Plus the results (float64 and int8
    per point, setting, replicate and snapshot, three copies while written) and :data:`BASE_MB`.
    """
    R, S, P = int(n_replicates), int(n_settings), int(points_per_job)
    N = 0.0 if not np.isfinite(n_samples) else float(n_samples)
    out = 3 * 9.0 * P * S * R * max(1, int(n_snapshots))
    if method == "sgd":
        work = 8.0 * R * N * d + 2 * 8.0 * P * R * n_snapshots * d * d + 3 * 8.0 * R * d * d
    elif draw == "modes":
        work = 10 * 8.0 * min(R, max(1, MODES_BLOCK_ELEMENTS // d)) * d
    else:
        b = min(R, max(1, BLOCK_ELEMENTS // (d * d)))
        work = 7 * 8.0 * b * d * d + (8.0 * N * d if draw == "samples" or N < d else 0.0)
    return BASE_MB + (out + work) / 2**20
