"""Laws of linear recursions with general (non-symmetric) matrices: the tools every sampler's exact law uses.

A sampler with a linear score is, per step, :math:`z_{k+1} = M z_k + \\xi_k` with :math:`\\xi_k \\sim \\mathcal
N(0, Q)`, so the covariance obeys :math:`P_{k+1} = M P_k M^\\top + Q` (samplers.md §1).  After K steps from
:math:`P_0`:

.. math:: P_K = M^K P_0 M^{K\\top} + S_K,\\qquad S_K = \\sum_{j<K} M^j Q M^{j\\top},

computed by doubling (:func:`doubling`): the pairs :math:`(M^n, S_n)` combine like binary powers,
:math:`(M^{m+n}, S_{m+n}) = (M^m M^n, M^m S_n M^{m\\top} + S_m)`, in :math:`\\lceil\\log_2 K\\rceil` matrix
products; ``K = inf`` iterates the doubling until :math:`M^n` vanishes (the stationary Stein/Lyapunov solution).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DivergedError", "is_symmetric", "spectral_radius", "doubling"]


class DivergedError(ValueError):
    """The sampler is unstable for (some of) the given score matrices.

    Attributes
    ----------
    diverged : ndarray of bool
        Which entries of the batch are unstable.
    """

    def __init__(self, message: str, diverged):
        super().__init__(message)
        self.diverged = np.asarray(diverged, dtype=bool)


def is_symmetric(A: np.ndarray) -> bool:
    """Whether every matrix of the batch ``A (..., d, d)`` is symmetric to 1e-12 of the batch's largest entry."""
    scale = np.max(np.abs(A)) if A.size else 0.0
    return bool(np.all(np.abs(A - np.swapaxes(A, -1, -2)) <= 1e-12 * max(scale, 1e-300)))


def spectral_radius(M) -> np.ndarray:
    """:math:`\\rho(M)` of each matrix of the batch ``M (..., n, n)``; ``inf`` for a non-finite matrix."""
    M = np.asarray(M, dtype=float)
    finite = np.all(np.isfinite(M), axis=(-2, -1))
    ev = np.linalg.eigvals(np.where(finite[..., None, None], M, 0.0))
    return np.where(finite, np.max(np.abs(ev), axis=-1), np.inf)


def _sym(S):
    return 0.5 * (S + np.swapaxes(S, -1, -2))


def doubling(M, Q, n_steps, P0=None, max_doublings: int = 64):
    """:math:`P_K = M^K P_0 M^{K\\top} + \\sum_{j<K} M^j Q M^{j\\top}` by doubling, batched.

    Parameters
    ----------
    M : array_like, shape ``(..., n, n)``
    Q : array_like, shape ``(n, n)`` or ``(..., n, n)``
        Noise covariance per step.
    n_steps : int or inf
        K; ``inf`` gives the stationary solution of :math:`P = MPM^\\top + Q` (needs :math:`\\rho(M) < 1`).
    P0 : array_like, shape ``(..., n, n)`` or ``(n, n)``, optional
        Initial covariance (default 0).  Ignored for ``K = inf``.

    Returns
    -------
    P : ndarray, shape ``(..., n, n)``
        Symmetric.  For ``K = inf`` an entry whose :math:`M^n` has not vanished after ``max_doublings`` doublings
        (:math:`\\rho(M) \\ge 1`, or mixing slower than :math:`2^{64}` steps) is NaN.
    """
    M = np.asarray(M, dtype=float)
    Q = np.broadcast_to(np.asarray(Q, dtype=float), M.shape)
    Mt = np.swapaxes
    if math.isinf(n_steps):
        Pn, S = M.copy(), Q.copy()
        done = np.zeros(M.shape[:-2], dtype=bool)
        for _ in range(max_doublings):
            with np.errstate(over="ignore", invalid="ignore"):  # an unstable M overflows: NaN, reported below
                S = S + Pn @ S @ Mt(Pn, -1, -2)
                Pn = Pn @ Pn
                # what is left, P_n S P_n^T, is below 1e-17 of S (relative to its size n)
                done |= M.shape[-1] * np.max(np.abs(Pn), axis=(-2, -1)) ** 2 < 1e-17
            if np.all(done):
                break
        return np.where(done[..., None, None], _sym(S), np.nan)
    K = int(n_steps)
    if K < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    n = M.shape[-1]
    acc_M = np.broadcast_to(np.eye(n), M.shape).copy()
    acc_S = np.zeros(M.shape)
    Pn, Sn = M.copy(), Q.copy()
    while K:
        if K & 1:  # append the block of the current power of two
            acc_S = Pn @ acc_S @ Mt(Pn, -1, -2) + Sn
            acc_M = Pn @ acc_M
        K >>= 1
        if K:
            Sn = Sn + Pn @ Sn @ Mt(Pn, -1, -2)
            Pn = Pn @ Pn
    P = acc_S
    if P0 is not None:
        P0 = np.broadcast_to(np.asarray(P0, dtype=float), M.shape)
        P = acc_M @ P0 @ Mt(acc_M, -1, -2) + P
    return _sym(P)
