"""Training sets and what a fit needs of them: samples, empirical covariances (Wishart by Bartlett), mode variances,
eigendecompositions of exact fits, and SGD-learned score matrices (R3, R6, R11)."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .._gram import SYRK_MIN_D, gram
from ..dsm import empirical_covariance, exact_score_matrix, score_matrix

__all__ = ["DRAWS", "DIAGONAL_MODELS", "BLOCK_ELEMENTS", "MODES_BLOCK_ELEMENTS", "ROUNDOFF_RTOL", "sample_data",
           "sample_empirical_covariance", "sgd_scores", "mode_variances", "fit_blocks", "exact_fit"]


DRAWS = ("wishart", "samples", "modes")
"""How an exact fit's training set is drawn: ``wishart`` (the empirical covariance by Bartlett), ``samples`` (the N
points), ``modes`` (diagonal models only: the empirical mode variances directly, O(d) per replicate)."""
DIAGONAL_MODELS = ("diagonal", "fourier")
BLOCK_ELEMENTS = 1 << 24
"""Full model: replicates are processed in blocks of at most this many covariance entries (b d^2 <= 2^24, 128 MB)."""
MODES_BLOCK_ELEMENTS = 1 << 22
"""``draw='modes'``: blocks of at most this many mode variances (b d <= 2^22, 32 MB)."""


def sample_data(lam, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_samples`` points from :math:`\\mathcal N(0, \\mathrm{diag}(\\lambda))` (step 0, eigenbasis).

    Returns
    -------
    X : ndarray, shape ``(n_samples, d)``
    """
    lam = np.asarray(lam, dtype=float)
    return rng.standard_normal((int(n_samples), lam.size)) * np.sqrt(lam)


def _bartlett(lam, n_samples: int, rng: np.random.Generator, full: bool = True) -> np.ndarray:
    """:math:`\\hat\\Sigma = LL^\\top/N`, :math:`L = \\Lambda^{1/2}T`, T the Bartlett factor (chi on the diagonal,
    standard normals below, filled row by row); the product by :func:`gaussdsm._gram.gram` from d = 256 on (one
    triangle: the lower one, which ``eigh`` reads, is enough when ``full`` is False)."""
    d = lam.size
    T = np.zeros((d, d))
    T[np.diag_indices(d)] = np.sqrt(rng.chisquare(n_samples - np.arange(d)))
    T[np.tri(d, k=-1, dtype=bool)] = rng.standard_normal(d * (d - 1) // 2)  # row-major: = tril_indices order
    L = np.sqrt(lam)[:, None] * T
    if d < SYRK_MIN_D:
        return L @ L.T / n_samples
    return gram(L, 1.0 / n_samples, full=full)


def sample_empirical_covariance(lam, n_samples: int, rngs, draw: str = "wishart", full: bool = True) -> np.ndarray:
    """Empirical covariances :math:`\\hat\\Sigma = \\frac1N\\sum_n x_nx_n^\\top` of independent training sets.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    n_samples : int
    rngs : sequence of numpy.random.Generator
        One per replicate (see :func:`replicate_rngs`).
    draw : {'wishart', 'samples'}
        ``'samples'`` draws the N points and forms :math:`\\hat\\Sigma`;
        ``'wishart'`` draws :math:`N\\hat\\Sigma \\sim \\mathrm{Wishart}(N, \\mathrm{diag}\\,\\lambda)`
        directly by the Bartlett decomposition (same law, cost independent of
        N; needs ``N >= d``, else it falls back to ``'samples'``).
    full : bool
        ``False``: a Wishart draw fills only the lower triangle (all that ``eigh`` and the diagonal need).

    Returns
    -------
    cov_hat : ndarray, shape ``(R, d, d)``
    """
    _checks.choice("montecarlo.draw", draw, DRAWS)
    lam = np.asarray(lam, dtype=float)
    n_samples = _checks.integer("n_samples", n_samples)
    if draw == "wishart" and n_samples >= lam.size:
        return np.stack([_bartlett(lam, n_samples, rng, full=full) for rng in rngs])
    return np.stack([empirical_covariance(sample_data(lam, n_samples, rng)) for rng in rngs])


def sgd_scores(
    lam,
    n_samples: int,
    sigma: float,
    tau: float,
    data_rngs,
    sgd_rngs,
    *,
    model: str = "full",
    loss_factor: float = 1.0,
    batch_size: int = 1,
    n_snapshots: int = 4,
    burn_in_factor: float = 5.0,
    spacing_factor: float = 1.0,
    max_steps: int = 20_000_000,
):
    r"""Score matrices learned by constant-step SGD (R6), and the exact fit of the same training sets.

    Step 1 draws each replicate's N training points from ``data_rngs`` (the same
    stream as ``draw='samples'``); step 2 runs one SGD chain per replicate
    (:func:`gaussdsm.sgd.fit_sgd`, randomness from ``sgd_rngs``) to its stationary
    regime and keeps ``n_snapshots`` iterates; the score is
    :math:`A = (I - \theta)/\sigma^2`.  The exact fit
    :math:`\hat A = (\hat\Sigma + \sigma^2 I)^{-1}` of the same data is returned too:
    the per-replicate difference of errors is a paired (common random numbers)
    estimate of the optimization error alone.  ``tau = 0`` returns the exact fit
    as the snapshot (the :math:`\tau \to 0` limit).

    Returns
    -------
    A : ndarray, shape ``(R, n_snapshots, d, d)``
        NaN for chains flagged diverged.
    A_exact : ndarray, shape ``(R, d, d)``
    diverged : ndarray of bool, shape ``(R,)``
        The SGD chain is unstable (R6b / §7.1) or blew up.
    """
    from ..sgd import fit_sgd  # numba: imported only where SGD runs (start-up of every other job)

    lam = np.asarray(lam, dtype=float)
    diagonal = model == "diagonal"
    X = np.stack([sample_data(lam, n_samples, rng) for rng in data_rngs])
    A_exact = exact_score_matrix(np.stack([empirical_covariance(x) for x in X]), sigma, diagonal=diagonal)
    if tau == 0:
        return np.repeat(A_exact[:, None], n_snapshots, axis=1), A_exact, np.zeros(len(X), dtype=bool)
    res = fit_sgd(
        X,
        sigma,
        tau,
        list(sgd_rngs),
        n_snapshots=n_snapshots,
        batch_size=batch_size,
        loss_factor=loss_factor,
        burn_in_factor=burn_in_factor,
        spacing_factor=spacing_factor,
        init="exact",
        diagonal=diagonal,
        max_steps=max_steps,
    )
    # fit_sgd returns full (R, S, d, d) matrices, NaN for the chains it flags diverged
    return score_matrix(res.theta, sigma), A_exact, np.asarray(res.diverged, dtype=bool)


def mode_variances(lam, n_samples: int, rngs, kappa=None) -> np.ndarray:
    r"""The empirical variances of the modes, drawn directly (``draw='modes'``): shape ``(R, d)``, O(R d).

    Diagonal model (real eigenbasis, ``kappa`` None): :math:`\hat\mu_i = \frac1N\sum_n\langle x_n, u_i\rangle^2 \sim
    \lambda_i\chi^2_N/N`, independent across modes.  Fourier model (``kappa``, R11 and theory.md §7.3 note 13): the
    two real directions of a conjugate pair share :math:`\hat\mu = \lambda\chi^2_{2N}/(2N)` (the pair average,
    :math:`\mathrm{Var} = \lambda^2/N`, :math:`\kappa = 1`), a self-conjugate mode has :math:`\lambda\chi^2_N/N`
    (:math:`\kappa = 2`).  Replicate ``r`` uses ``rngs[r]`` only.
    """
    from ..spectra import pair_starts

    lam = np.asarray(lam, dtype=float)
    N = _checks.integer("n_samples", n_samples)
    if kappa is None:
        return np.stack([lam * rng.chisquare(N, lam.size) / N for rng in rngs])
    kappa = np.asarray(kappa, dtype=float)
    first = pair_starts(kappa)
    single = np.flatnonzero(kappa == 2)
    out = np.empty((len(rngs), lam.size))
    for r, rng in enumerate(rngs):
        out[r, single] = lam[single] * rng.chisquare(N, single.size) / N
        c = rng.chisquare(2 * N, first.size) / (2 * N)
        out[r, first] = lam[first] * c
        out[r, first + 1] = lam[first + 1] * c
    return out


def fit_blocks(lam, n_samples, rngs, model: str, draw: str, kappa=None):
    """Yield ``(mu (b, d), U (b, d, d) or None)`` for consecutive blocks of replicates (:func:`exact_fit_errors`)."""
    d = lam.size
    if draw == "modes":
        step = max(1, MODES_BLOCK_ELEMENTS // d)
        for j in range(0, len(rngs), step):
            yield mode_variances(lam, n_samples, rngs[j:j + step], kappa if model == "fourier" else None), None
        return
    step = max(1, BLOCK_ELEMENTS // (d * d))
    for j in range(0, len(rngs), step):
        yield exact_fit(lam, n_samples, rngs[j:j + step], model=model, draw=draw)


ROUNDOFF_RTOL = np.finfo(float).eps
"""Eigenvalues of :math:`\\hat\\Sigma` at most ``ROUNDOFF_RTOL * d * mu_max`` are round-off of zeros (set to 0)."""


def exact_fit(lam, n_samples, rngs, model: str = "full", draw: str = "wishart"):
    r"""What an exact DSM fit needs of each training set: the eigendecomposition of :math:`\hat\Sigma`.

    The learned score at noise :math:`\sigma` is :math:`-(\hat\Sigma + \sigma^2 I)^{-1}y` (R3) and a sampler's law is
    :math:`U\,\mathrm{diag}(F(\mu))\,U^\top` with :math:`\hat\Sigma = U\,\mathrm{diag}(\mu)\,U^\top`: one decomposition
    serves every sigma and every sampler setting.

    Parameters
    ----------
    n_samples : int or inf
        ``inf``: the population score (:math:`\hat\Sigma = \Sigma`; one replicate, no randomness).
    rngs : sequence of numpy.random.Generator
        One per replicate (:func:`data_streams`); unused for ``inf``.
    model : {'full', 'diagonal'}
        Diagonal: only the diagonal of :math:`\hat\Sigma` in the data eigenbasis (R11), ``U`` is None.

    Returns
    -------
    mu : ndarray, shape ``(R, d)``
        Ascending; those at most ``ROUNDOFF_RTOL * d * mu_max`` (round-off, either sign) are exactly 0.
    U : ndarray, shape ``(R, d, d)``, or None (the identity: diagonal model or population score)
    """
    lam = np.asarray(lam, dtype=float)
    if math.isinf(float(n_samples)):
        return lam[None, :].copy(), None
    cov = sample_empirical_covariance(lam, n_samples, rngs, draw, full=False)  # eigh reads the lower triangle only
    if model == "diagonal":
        return np.diagonal(cov, axis1=-2, axis2=-1).copy(), None
    mu, U = np.linalg.eigh(cov)
    # round-off of a structurally zero eigenvalue (N < d, or lam = 0 modes) is either sign: zero it, so that a rank-
    # deficient fit is rank-deficient whatever the rounding (an infinite score at t = 0 is then always flagged)
    floor = ROUNDOFF_RTOL * lam.size * mu[:, -1:]
    return np.where(mu <= floor, 0.0, mu), U
