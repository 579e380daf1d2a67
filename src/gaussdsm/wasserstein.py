"""Wasserstein-2 distance between centred Gaussians (theory.md R1).

.. math::

    W_2^2(\\mathcal N(0, C_1), \\mathcal N(0, C_2))
      = \\mathrm{tr}\\,C_1 + \\mathrm{tr}\\,C_2
        - 2\\,\\mathrm{tr}\\big(C_2^{1/2} C_1 C_2^{1/2}\\big)^{1/2}.

All functions are batched over leading axes (stacks of matrices), in the
style of POT's ``ot.gaussian`` but returning :math:`W_2^2`, not :math:`W_2`.
"""

from __future__ import annotations

import numpy as np

# from SYRK_MIN_D on, w2_squared_eig_to_diagonal forms its Gram matrices one by one (gram: dsyrk, half the flops of a
# product, one triangle, which eigvalsh reads); below, one batched product
from ._gram import SYRK_MIN_D, gram

__all__ = ["sqrtm_psd", "w2_squared", "w2_squared_to_diagonal", "w2_squared_eig_to_diagonal", "w2_squared_commuting"]



def _sym(M: np.ndarray) -> np.ndarray:
    return 0.5 * (M + np.swapaxes(M, -1, -2))


def sqrtm_psd(C: np.ndarray) -> np.ndarray:
    """Principal square root of symmetric positive semi-definite matrices.

    Parameters
    ----------
    C : array_like, shape ``(..., d, d)``
        Symmetric PSD matrices (the symmetric part is used).  Eigenvalues that
        are negative by round-off are clipped to 0.

    Returns
    -------
    R : ndarray, shape ``(..., d, d)``
        :math:`R = V\\,\\mathrm{diag}(\\sqrt{\\max(w, 0)})\\,V^\\top` with
        :math:`C = V\\,\\mathrm{diag}(w)\\,V^\\top`.
    """
    w, V = np.linalg.eigh(_sym(np.asarray(C, dtype=float)))
    return (V * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(V, -1, -2)


def _trace_sqrt_psd(M: np.ndarray) -> np.ndarray:
    w = np.linalg.eigvalsh(_sym(M))
    return np.sqrt(np.clip(w, 0.0, None)).sum(axis=-1)


def w2_squared(C1, C2) -> np.ndarray:
    """Exact squared :math:`W_2` between :math:`\\mathcal N(0, C_1)` and :math:`\\mathcal N(0, C_2)` (R1).

    Parameters
    ----------
    C1, C2 : array_like, shape ``(..., d, d)``
        Symmetric PSD covariance matrices; leading axes broadcast.

    Returns
    -------
    w2sq : ndarray, shape ``(...)``
        :math:`\\mathrm{tr}\\,C_1 + \\mathrm{tr}\\,C_2 - 2\\,\\mathrm{tr}(C_2^{1/2}C_1C_2^{1/2})^{1/2}`,
        clipped at 0 (round-off can make it ``-1e-16``).  Symmetric in its
        arguments up to round-off, and 0 for ``C1 == C2``.

    Notes
    -----
    Tiny negative eigenvalues from round-off are clipped to 0 in both square
    roots, so nearly singular covariances are handled.
    """
    C1 = _sym(np.asarray(C1, dtype=float))
    C2 = _sym(np.asarray(C2, dtype=float))
    R2 = sqrtm_psd(C2)
    cross = _trace_sqrt_psd(R2 @ C1 @ R2)
    out = np.trace(C1, axis1=-2, axis2=-1) + np.trace(C2, axis1=-2, axis2=-1) - 2.0 * cross
    return np.clip(out, 0.0, None)


def w2_squared_to_diagonal(C, lam) -> np.ndarray:
    """Squared :math:`W_2` between :math:`\\mathcal N(0, C)` and :math:`\\mathcal N(0, \\mathrm{diag}(\\lambda))`.

    The fast path of :func:`w2_squared` when the target covariance is diagonal
    (the data covariance written in its eigenbasis, theory.md §1):
    :math:`M_{ik} = \\sqrt{\\lambda_i}\\,C_{ik}\\sqrt{\\lambda_k}` needs no matrix square root.

    Parameters
    ----------
    C : array_like, shape ``(..., d, d)``
    lam : array_like, shape ``(d,)``, ``lam >= 0``

    Returns
    -------
    w2sq : ndarray, shape ``(...)``
    """
    C = _sym(np.asarray(C, dtype=float))
    lam = np.asarray(lam, dtype=float)
    r = np.sqrt(lam)
    cross = _trace_sqrt_psd(r[:, None] * C * r[None, :])
    out = np.trace(C, axis1=-2, axis2=-1) + lam.sum() - 2.0 * cross
    return np.clip(out, 0.0, None)


def w2_squared_eig_to_diagonal(U, F, lam) -> np.ndarray:
    """Squared :math:`W_2` between :math:`\\mathcal N(0, U\\,\\mathrm{diag}(F)\\,U^\\top)` and
    :math:`\\mathcal N(0, \\mathrm{diag}(\\lambda))`, without forming the first covariance.

    With :math:`B = \\mathrm{diag}(\\sqrt\\lambda)\\,U\\,\\mathrm{diag}(\\sqrt F)`,
    :math:`\\Lambda^{1/2}C\\Lambda^{1/2} = BB^\\top` and :math:`\\mathrm{tr}\\,C = \\sum F`:

    .. math:: W_2^2 = \\sum_i F_i + \\sum_i \\lambda_i - 2\\sum_j \\sqrt{\\mathrm{eig}_j(BB^\\top)}

    (R1; the cost of one Gram product and one ``eigvalsh`` per matrix).

    Parameters
    ----------
    U : array_like, shape ``(..., d, d)``
        Orthogonal matrices (columns: eigenvectors).
    F : array_like, shape ``(..., d)``, ``>= 0``
    lam : array_like, shape ``(d,)``, ``>= 0``

    Returns
    -------
    w2sq : ndarray, shape ``(...)``
    """
    U = np.asarray(U, dtype=float)
    F = np.asarray(F, dtype=float)
    lam = np.asarray(lam, dtype=float)
    B = np.sqrt(lam)[:, None] * U * np.sqrt(np.clip(F, 0.0, None))[..., None, :]
    d = lam.size
    if d >= SYRK_MIN_D:
        flat = B.reshape(-1, d, d)
        w = np.stack([np.linalg.eigvalsh(gram(b, full=False), UPLO="L") for b in flat]).reshape(B.shape[:-1])
    else:
        w = np.linalg.eigvalsh(B @ np.swapaxes(B, -1, -2))
    cross = np.sqrt(np.clip(w, 0.0, None)).sum(axis=-1)
    return np.clip(F.sum(axis=-1) + lam.sum() - 2.0 * cross, 0.0, None)


def w2_squared_commuting(a, b) -> np.ndarray:
    """Squared :math:`W_2` between commuting covariances with eigenvalues ``a`` and ``b``.

    .. math:: W_2^2 = \\sum_i (\\sqrt{a_i} - \\sqrt{b_i})^2
              = \\sum_i \\frac{(a_i - b_i)^2}{(\\sqrt{a_i} + \\sqrt{b_i})^2}

    The second form is used: it has no cancellation when ``a ~ b``.

    Parameters
    ----------
    a, b : array_like, shape ``(..., d)``
        Non-negative eigenvalues in a common eigenbasis.

    Returns
    -------
    w2sq : ndarray, shape ``(...)``
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    den = (np.sqrt(a) + np.sqrt(b)) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(den > 0, (a - b) ** 2 / np.where(den > 0, den, 1.0), 0.0)
    return term.sum(axis=-1)
