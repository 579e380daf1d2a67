"""Gram matrices :math:`\\alpha AA^\\top` through BLAS, safe at every size: the one owner of the SYRK/GEMM choice.

BLAS ``dsyrk`` computes one triangle of :math:`AA^\\top` (half the flops of a GEMM).  The OpenBLAS that numpy and
scipy ship (0.3.30-0.3.31, ``DYNAMIC_ARCH``, 2 threads) crashes with a segmentation fault in ``dsyrk`` for large
outputs: numpy's ``X.T @ X`` (which numpy hands to ``dsyrk``) on a ``(1000, 16000)`` array dies, at ``(1000, 14000)``
it does not, and with one thread or through ``dgemm`` it works.  So ``dsyrk`` is used from :data:`SYRK_MIN_D`
(where it starts to pay) up to :data:`SYRK_MAX_D` (well below the crash), and above that the product is formed by
GEMM on row panels of :data:`PANEL_ROWS` rows (``C[i:j] = A[i:j] A^T``: GEMM at every size, both triangles).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYRK_MIN_D", "SYRK_MAX_D", "PANEL_ROWS", "gram", "xtx"]

SYRK_MIN_D = 256
"""From this size on, Gram matrices are formed by BLAS ``dsyrk`` (one triangle) rather than a full matmul."""

SYRK_MAX_D = 8192
"""Above this size, by GEMM on row panels (OpenBLAS ``dsyrk`` crashes on large outputs: module docstring)."""

PANEL_ROWS = 2048
"""Rows of ``C`` per GEMM above :data:`SYRK_MAX_D`."""


def _panels(a: np.ndarray, alpha: float) -> np.ndarray:
    n = a.shape[0]
    out = np.empty((n, n))
    for i in range(0, n, PANEL_ROWS):
        np.matmul(a[i : i + PANEL_ROWS], a.T, out=out[i : i + PANEL_ROWS])
        if alpha != 1.0:
            out[i : i + PANEL_ROWS] *= alpha
    return out


def gram(a, alpha: float = 1.0, *, full: bool = True) -> np.ndarray:
    """:math:`\\alpha AA^\\top` for a 2-d ``a``, from :data:`SYRK_MIN_D` on (smaller: ``alpha * (a @ a.T)``).

    Parameters
    ----------
    a : ndarray, shape ``(n, k)``
    alpha : float
    full : bool
        ``False``: only the lower triangle is guaranteed (``dsyrk``'s; what ``eigh``/``eigvalsh`` with
        ``UPLO='L'`` read); the upper one may hold zeros.

    Returns
    -------
    ndarray, shape ``(n, n)``
    """
    a = np.asarray(a, dtype=float)
    n = a.shape[0]
    if n < SYRK_MIN_D:
        return alpha * (a @ a.T)
    if n > SYRK_MAX_D:
        return _panels(np.ascontiguousarray(a), alpha)
    from scipy.linalg.blas import dsyrk

    C = dsyrk(alpha, a, lower=1)
    return C + np.tril(C, -1).T if full else C


def xtx(X) -> np.ndarray:
    """:math:`X^\\top X` of a 2-d ``X`` of shape ``(N, d)``: numpy's matmul up to :data:`SYRK_MAX_D` (which numpy
    itself hands to ``dsyrk``), row panels of GEMM above it.  Shape ``(d, d)``."""
    X = np.asarray(X, dtype=float)
    if X.shape[-1] <= SYRK_MAX_D:
        return X.T @ X
    return _panels(np.ascontiguousarray(X.T), 1.0)
