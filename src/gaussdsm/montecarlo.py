"""Exact Monte-Carlo evaluation of the pipeline (theory.md R12): the ground truth.

For each independent replicate:

1. draw a training set of N samples from :math:`\\mathcal N(0, \\mathrm{diag}(\\lambda))`
   (or directly its empirical covariance, see :func:`sample_empirical_covariance`);
2. fit the linear score by DSM (exactly here; by SGD in :mod:`gaussdsm.sgd`);
3. compute the stationary covariance :math:`C` of ULA with that score (R4 or a
   Lyapunov solve);
4. compute :math:`W_2^2(\\mathcal N(0, C), \\mathcal N(0, \\mathrm{diag}\\,\\lambda))` (R1).

The reported error is the mean over replicates **whose chain is stable**, with
the number of unstable draws reported separately (theory.md §7.2 note 5).

Random streams derive from ``(base seed, stream name, the point's parameter
values, replicate index)`` through :class:`numpy.random.SeedSequence`, never
from a position in a grid or a chunk: adding a grid value or re-chunking a
study does not change any other point's numbers, and increasing the number of
replicates keeps the first ones.
"""

from __future__ import annotations

import hashlib
import math
import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import _checks
from .dsm import empirical_covariance, exact_score_matrix, score_matrix
from .samplers import LangevinSampler, Sampler, ULA
from ._gram import SYRK_MIN_D, gram
from .wasserstein import w2_squared_commuting, w2_squared_eig_to_diagonal, w2_squared_to_diagonal

__all__ = [
    "canonical_params",
    "replicate_rngs",
    "data_streams",
    "sgd_streams",
    "sample_data",
    "sample_empirical_covariance",
    "exact_fit",
    "exact_errors",
    "exact_fit_errors",
    "mode_variances",
    "peak_memory_mb",
    "sgd_scores",
    "paired_errors",
    "PairedErrors",
    "optimization_excess",
    "langevin_errors",
    "MCResult",
    "estimate",
    "zscore",
    "summarize",
    "monte_carlo_error",
    "sgd_monte_carlo_error",
]

DRAWS = ("wishart", "samples", "modes")
"""How an exact fit's training set is drawn: ``wishart`` (the empirical covariance by Bartlett), ``samples`` (the N
points), ``modes`` (diagonal models only: the empirical mode variances directly, O(d) per replicate)."""
DIAGONAL_MODELS = ("diagonal", "fourier")
BLOCK_ELEMENTS = 1 << 24
"""Full model: replicates are processed in blocks of at most this many covariance entries (b d^2 <= 2^24, 128 MB)."""
MODES_BLOCK_ELEMENTS = 1 << 22
"""``draw='modes'``: blocks of at most this many mode variances (b d <= 2^22, 32 MB)."""
BASE_MB = 250
"""Memory of a job before its arrays: the interpreter with numpy, scipy, xarray, netCDF4 and numba (measured 160-250)."""


def _canon(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else repr(f)
    return str(v)


def canonical_params(**params) -> str:
    """Canonical text of a point's parameter values (sorted keys, shortest float repr).

    ``1000`` and ``1000.0`` map to the same text, so YAML int/float spellings of a
    value give the same random stream.
    """
    return json.dumps({k: _canon(v) for k, v in params.items()}, sort_keys=True, separators=(",", ":"))


def replicate_rngs(base_seed: int, stream: str, n_replicates: int, **params) -> list[np.random.Generator]:
    """One independent generator per replicate for a named stream at one grid point.

    Parameters
    ----------
    base_seed : int
        The study's seed (config key ``seed``).
    stream : str
        What the numbers are for (``"data"``, ``"sgd"``, ...).
    n_replicates : int
    **params
        The parameter values the stream depends on (e.g. ``n_samples=1000``).

    Returns
    -------
    list of numpy.random.Generator
        Generator ``r`` is spawned as child ``r`` of
        ``SeedSequence([base_seed, *sha256(stream, params)])``.
    """
    digest = hashlib.sha256(f"{stream}|{canonical_params(**params)}".encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    ss = np.random.SeedSequence([int(base_seed), *words])
    return [np.random.default_rng(child) for child in ss.spawn(int(n_replicates))]


def data_streams(seed: int, n_replicates: int, n_samples) -> list[np.random.Generator]:
    """The training sets' streams at a point: keyed by ``n_samples`` only.

    Common random numbers across sigma, tau and the sampler's parameters: curves in those parameters share
    their training sets.
    """
    return replicate_rngs(seed, "data", n_replicates, n_samples=n_samples)


def sgd_streams(seed: int, n_replicates: int, n_samples, sigma, tau) -> list[np.random.Generator]:
    """The SGD chains' streams (sample indices and noise) at a fit point: keyed by ``(n_samples, sigma, tau)``."""
    return replicate_rngs(seed, "sgd", n_replicates, n_samples=int(n_samples), sigma=float(sigma), tau=float(tau))


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
    from .sgd import fit_sgd  # numba: imported only where SGD runs (start-up of every other job)

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


def _sampler(sampler) -> Sampler:
    """The sampler argument, checked: a :class:`gaussdsm.samplers.Sampler` (a step alone is not one: ``ULA(gamma)``)."""
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a gaussdsm.samplers.Sampler (e.g. ULA(gamma)); got {sampler!r}")
    return sampler


def mode_variances(lam, n_samples: int, rngs, kappa=None) -> np.ndarray:
    r"""The empirical variances of the modes, drawn directly (``draw='modes'``): shape ``(R, d)``, O(R d).

    Diagonal model (real eigenbasis, ``kappa`` None): :math:`\hat\mu_i = \frac1N\sum_n\langle x_n, u_i\rangle^2 \sim
    \lambda_i\chi^2_N/N`, independent across modes.  Fourier model (``kappa``, R11 and theory.md §7.3 note 13): the
    two real directions of a conjugate pair share :math:`\hat\mu = \lambda\chi^2_{2N}/(2N)` (the pair average,
    :math:`\mathrm{Var} = \lambda^2/N`, :math:`\kappa = 1`), a self-conjugate mode has :math:`\lambda\chi^2_N/N`
    (:math:`\kappa = 2`).  Replicate ``r`` uses ``rngs[r]`` only.
    """
    from .spectra import pair_starts

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


def _fit_blocks(lam, n_samples, rngs, model: str, draw: str, kappa=None):
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


def exact_fit_errors(lam, n_samples, rngs, sigma: float, samplers, *, model: str = "full", draw: str = "wishart",
                     kappa=None, progress=None):
    r"""Squared W2 errors of every sampler setting for exactly fitted replicates, in bounded memory.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    n_samples : int or inf
        ``inf``: the population score (one deterministic replicate; ``rngs`` unused).
    rngs : sequence of numpy.random.Generator, length R
        One per replicate (:func:`data_streams`).
    sigma : float or sequence of float, length G
        DSM noise (Langevin family; diffusion scores ignore it).  Several: the same training sets (their streams
        depend on N only) serve every sigma, each drawn and decomposed once.
    samplers : sequence of Sampler, length S
        One setting each; every replicate's fit serves all of them.
    model : {'full', 'diagonal', 'fourier'}
    draw : {'wishart', 'samples', 'modes'}
        ``modes`` (diagonal models): :func:`mode_variances`, O(R d), no d x d array; ``fourier`` needs it.
    kappa : array_like, shape ``(d,)``, optional
        ``model='fourier'``: the spectrum's R11 factors.
    progress : gaussdsm.progress.Progress, optional
        Advanced by the number of replicates of each block when it is done.

    Returns
    -------
    w2sq, diverged : ndarray, shape ``(S, R)``, or ``(G, S, R)`` for a sequence of sigma (R = 1 for the
        population score)

    Notes
    -----
    Full model: replicates in blocks of at most :data:`BLOCK_ELEMENTS` covariance entries; per replicate one
    Wishart draw, one ``eigh`` of :math:`\hat\Sigma`, then per setting one product and one ``eigvalsh``
    (:func:`exact_errors`).  Nothing of size R x d x d is kept.
    """
    _checks.choice("model", model, ("full", *DIAGONAL_MODELS))
    _checks.choice("montecarlo.draw", draw, DRAWS)
    if model == "fourier" and draw != "modes":
        raise ValueError("model 'fourier' draws the empirical mode variances: montecarlo.draw must be 'modes'")
    if draw == "modes" and model not in DIAGONAL_MODELS:
        raise ValueError("montecarlo.draw 'modes' is for the diagonal models (diagonal, fourier); the full model "
                         "needs 'wishart' or 'samples'")
    lam = np.asarray(lam, dtype=float)
    if math.isinf(float(n_samples)):
        blocks = [(lam[None, :].copy(), None)]
    else:
        blocks = _fit_blocks(lam, n_samples, list(rngs), model, draw, kappa)
    sigmas = np.atleast_1d(np.asarray(sigma, dtype=float))
    w, dv = [], []
    for mu, U in blocks:
        res = [[exact_errors(lam, mu, U, sg, s) for s in samplers] for sg in sigmas]
        w.append(np.array([[r[0] for r in row] for row in res]))
        dv.append(np.array([[r[1] for r in row] for row in res]))
        if progress is not None:
            progress.update(mu.shape[0])
    w, dv = np.concatenate(w, axis=-1), np.concatenate(dv, axis=-1)
    return (w[0], dv[0]) if np.ndim(sigma) == 0 else (w, dv)


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


def exact_errors(lam, mu, U, sigma: float, sampler):
    """Squared W2 error of the sampler's law for each exactly fitted replicate (samplers.md §1, R1).

    Parameters
    ----------
    mu, U : from :func:`exact_fit`
    sampler : Sampler (one setting) or float (stationary ULA's gamma)

    Returns
    -------
    w2sq : ndarray, shape ``(R,)``
        NaN where diverged.
    diverged : ndarray of bool, shape ``(R,)``
        Some mode's score is infinite or its recursion unstable.
    """
    s = _sampler(sampler)
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        F_all, ok = s.variance_and_stable(mu, sigma)
    stable = np.all(ok, axis=-1)
    w2sq = np.full(mu.shape[0], np.nan)
    if np.any(stable):
        F = np.asarray(F_all)[stable]
        if U is None:  # the law commutes with the data covariance
            w2sq[stable] = w2_squared_commuting(F, lam)
        else:
            w2sq[stable] = w2_squared_eig_to_diagonal(U[stable], F, lam)
    return w2sq, ~stable


def langevin_errors(A, lam, sampler):
    r"""Squared W2 error of a Langevin-family sampler's law for each score matrix (R4 + R1, samplers.md §1).

    Parameters
    ----------
    A : array_like, shape ``(R, d, d)``
        Learned score matrices (symmetric after an exact fit, general after SGD).
    lam : array_like, shape ``(d,)``
    sampler : LangevinSampler (one setting) or float
        A float is stationary ULA's step ``gamma``.

    Returns
    -------
    w2sq : ndarray, shape ``(R,)``
        :math:`W_2^2(\mathcal N(0,C), \mathcal N(0,\mathrm{diag}\,\lambda))`; NaN where diverged.
    diverged : ndarray of bool, shape ``(R,)``
        The chain is unstable (spectral radius of its recursion >= 1) or the score is not finite.
    """
    s = _sampler(sampler)
    if not isinstance(s, LangevinSampler):
        raise ValueError(f"sampler {s.kind!r} has no law for a general score matrix")
    A = np.asarray(A, dtype=float)
    lam = np.asarray(lam, dtype=float)
    C, stable = s.law(A)
    w2sq = np.full(A.shape[0], np.nan)
    if np.any(stable):
        w2sq[stable] = w2_squared_to_diagonal(C[stable], lam)
    return w2sq, ~stable


@dataclass(frozen=True)
class PairedErrors:
    """W2 errors of SGD snapshots and of the exact fit of the same data, and the paired optimization error.

    Shapes: ``(R, S)`` for the snapshots' ``w2sq``, ``diverged``, ``excess``, ``excess_diverged``;
    ``(R,)`` for ``w2sq_exact``, ``diverged_exact``.  Diverged entries are NaN.
    """

    w2sq: np.ndarray
    diverged: np.ndarray
    w2sq_exact: np.ndarray
    diverged_exact: np.ndarray
    excess: np.ndarray
    excess_diverged: np.ndarray


def paired_errors(A, A_exact, lam, sampler, eps: float = 1e-3) -> PairedErrors:
    r"""Squared W2 errors of SGD snapshots, of the exact fit of the same data, and the paired optimization error.

    With :math:`\Delta A = A - \hat A` (SGD snapshot minus the exact fit of the same
    training set) and :math:`W(\cdot)` the squared W2 error of the ULA stationary law
    (:func:`langevin_errors`),

    .. math::

        e = W(\hat A + \Delta A) - W(\hat A) - \frac{W(\hat A + \epsilon\Delta A) - W(\hat A - \epsilon\Delta A)}{2\epsilon}.

    The last term is the directional derivative :math:`\langle\nabla W(\hat A), \Delta A\rangle`
    (central difference, exact up to :math:`O(\epsilon^2)` cubic terms).  Its mean is
    zero *exactly*, because :math:`\mathbb E\,\theta_\infty = \hat\theta` given the data
    (R6a), so :math:`\mathbb E e` is the optimization error while the dominant
    linear fluctuation is removed (theory.md §7.3 note 11: "control variates on
    the first-order terms"); measured 3x smaller standard errors.  Each stationary
    covariance is solved once: :math:`W(A)` and :math:`W(\hat A)` serve both the
    errors and the excess.

    Parameters
    ----------
    A : array_like, shape ``(R, S, d, d)``
        SGD score matrices (S snapshots per replicate); NaN for a diverged chain.
    A_exact : array_like, shape ``(R, d, d)``
    lam : array_like, shape ``(d,)``
    sampler : LangevinSampler (one setting) or float (stationary ULA's gamma)
    eps : float
        Relative step of the central difference.
    """
    A = np.asarray(A, dtype=float)
    A0 = np.asarray(A_exact, dtype=float)
    R, S, d = A.shape[:3]
    dA = A - A0[:, None]

    def w(M):
        v, dv = langevin_errors(M.reshape(R * S, d, d), lam, sampler)
        return v.reshape(R, S), dv.reshape(R, S)

    w1, d1 = w(A)
    w0, d0 = langevin_errors(A0, lam, sampler)
    wp, dp = w(A0[:, None] + eps * dA)
    wm, dm = w(A0[:, None] - eps * dA)
    div = d1 | d0[:, None] | dp | dm
    excess = np.where(div, np.nan, w1 - w0[:, None] - (wp - wm) / (2 * eps))
    return PairedErrors(w1, d1, w0, d0, excess, div)


def optimization_excess(A, A_exact, lam, sampler, eps: float = 1e-3):
    """The paired optimization error per SGD snapshot, see :func:`paired_errors`.

    Returns
    -------
    excess : ndarray, shape ``(R, S)``
        NaN where any of the chains involved is unstable.
    diverged : ndarray of bool, shape ``(R, S)``
    """
    pe = paired_errors(A, A_exact, lam, sampler, eps)
    return pe.excess, pe.excess_diverged


@dataclass(frozen=True)
class MCResult:
    """Monte-Carlo estimate of :math:`\\mathbb E[W_2^2 \\mid \\text{stable}]` at one point (see :func:`estimate`).

    ``w2sq`` holds the per-replicate values (mean over the replicate's stable snapshots; NaN where all diverged).
    """

    mean: float
    stderr: float
    n_valid: int
    n_diverged: int
    w2sq: np.ndarray

    def __str__(self) -> str:
        return f"{self.mean:.6g} ± {self.stderr:.2g} (n={self.n_valid}, diverged={self.n_diverged})"


def _label(value) -> str:
    v = value.item() if hasattr(value, "item") else value
    return f"{v:g}" if isinstance(v, float) else str(v)


def _reject_unflagged(w2sq: xr.DataArray, diverged: xr.DataArray, replicate: str, snapshot: str) -> None:
    """Raise if a draw that is not flagged diverged has a non-finite value, listing the points it happens at."""
    bad = (~diverged) & ~np.isfinite(w2sq)
    if not bool(bad.any()):
        return
    n_bad = bad.any(snapshot).sum(replicate)
    skip = {replicate, snapshot, "point"}
    if n_bad.ndim == 0:
        raise ValueError(f"non-finite W2 errors in replicates not flagged diverged: {int(n_bad)} replicate(s)")
    where = []
    for idx in zip(*np.nonzero(n_bad.values)):
        pt = n_bad[idx]
        labels = [f"{k}={_label(pt[k])}" for k in pt.coords if k not in skip and pt[k].ndim == 0]
        where.append(f"{', '.join(labels)}: {int(pt)} replicate(s)")
    raise ValueError("non-finite W2 errors in replicates not flagged diverged:\n  " + "\n  ".join(where))


def estimate(values: xr.DataArray, diverged: xr.DataArray, *, used=None, exact=None, replicate: str = "replicate",
             snapshot: str = "snapshot") -> xr.Dataset:
    r"""The Monte-Carlo estimator of :math:`\mathbb E[W_2^2 \mid \text{stable}]` (theory.md §7.2 note 5, §7.3 note 11).

    A replicate (one training set, one SGD chain) contributes the mean of its stable snapshots; the estimate is
    the mean over replicates with at least one stable snapshot, its standard error the standard deviation
    (``ddof = 1``) over those replicates divided by :math:`\sqrt n` (replicates are independent; snapshots of one
    chain are not).

    Parameters
    ----------
    values : xarray.DataArray
        Per-draw values with dims ``(..., replicate, snapshot)`` (W2^2, or a paired difference).
    diverged : xarray.DataArray of bool, same dims
        Draws whose chain diverged: left out, and counted.
    used : xarray.DataArray of bool, optional
        Replicates that were drawn (default all): a deterministic point (the population score) fills one.
    exact : xarray.DataArray of bool, optional
        Points whose value is exact, not random (the population score): standard error 0.

    Returns
    -------
    xarray.Dataset
        Over the remaining dims ``(...)``: ``mean``, ``stderr`` (NaN for fewer than 2 replicates), ``n`` (stable
        replicates), ``n_diverged`` (diverged draws, replicate x snapshot), and ``replicate_mean``
        ``(..., replicate)``.

    Raises
    ------
    ValueError
        If a draw that is *not* flagged diverged is not finite: NaN never passes silently.  The message lists
        the points (their scalar coordinates) and how many replicates are affected.
    """
    div = diverged.astype(bool)
    if used is not None:
        values, div = values.where(used), div & used
    _reject_unflagged(values if used is None else values.where(used, 0.0), div, replicate, snapshot)
    rep_ok = (~div).any(snapshot) if used is None else ((~div) & used).any(snapshot)
    rep = values.where(~div).mean(snapshot, skipna=True).where(rep_ok)
    n_ok = rep_ok.sum(replicate)
    std = rep.std(replicate, ddof=1)
    stderr = std / np.sqrt(n_ok.where(n_ok > 1))
    if exact is not None:
        stderr = xr.where(exact & (n_ok == 1), 0.0, stderr)
    return xr.Dataset({
        "mean": rep.mean(replicate),
        "stderr": stderr,
        "n": n_ok.astype(np.int64),
        "n_diverged": div.sum((replicate, snapshot)).astype(np.int64),
        "replicate_mean": rep,
    })


def zscore(mean, stderr, reference):
    r""":math:`(\text{mean} - \text{reference}) / \text{stderr}`; NaN where the standard error is not positive.

    Floats or arrays/DataArrays alike.
    """
    if isinstance(stderr, xr.DataArray):
        return (mean - reference) / stderr.where(stderr > 0)
    stderr = np.asarray(stderr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > 0, (np.asarray(mean) - reference) / np.where(stderr > 0, stderr, 1.0), np.nan)
    return float(z) if z.ndim == 0 else z


def summarize(w2sq, diverged, exact: bool = False) -> MCResult:
    """:func:`estimate` for numpy arrays ``(R,)`` (one draw per replicate) or ``(R, S)`` (S snapshots).

    ``exact``: the value is not random (the population score, one replicate): standard error 0.

    Raises
    ------
    ValueError
        If a draw that is not flagged diverged has a non-finite value.
    """
    w2sq = np.asarray(w2sq, dtype=float)
    diverged = np.asarray(diverged, dtype=bool)
    if w2sq.ndim == 1:
        w2sq, diverged = w2sq[:, None], diverged[:, None]
    dims = ("replicate", "snapshot")
    est = estimate(xr.DataArray(w2sq, dims=dims), xr.DataArray(diverged, dims=dims),
                   exact=xr.DataArray(bool(exact)) if exact else None)
    return MCResult(float(est["mean"]), float(est["stderr"]), int(est["n"]), int(est["n_diverged"]),
                    est["replicate_mean"].values)


def monte_carlo_error(
    lam,
    n_samples,
    sigma: float,
    gamma: float | None = None,
    n_replicates: int = 200,
    seed: int = 0,
    model: str = "full",
    draw: str = "wishart",
    *,
    sampler: Sampler | str = "ula",
    kappa=None,
    progress=None,
    **params,
) -> MCResult:
    """Exact pipeline R12 with an exact DSM fit, averaged over ``n_replicates`` data sets, for any sampler.

    ``sampler``: a :class:`gaussdsm.samplers.Sampler` with one setting, or a kind with its parameters
    (``gamma``, ``n_steps``, ``init_var``, ``friction``).  ``n_samples = inf``: the population score, one
    deterministic replicate (standard error 0).  ``progress``: a :class:`gaussdsm.progress.Progress` advanced per
    block of replicates.

    Returns
    -------
    MCResult
        ``mean`` is :math:`\\mathbb E[W_2^2 \\mid \\text{stable chain}]`, ``stderr`` its
        standard error, ``n_diverged`` the number of unstable draws.
    """
    from .samplers import make

    if isinstance(sampler, Sampler):
        s = sampler
    elif sampler == "diffusion":
        s = make(sampler, **params)
    else:
        s = make(sampler, gamma=0.0 if gamma is None else gamma, **params)
    oracle = math.isinf(float(n_samples))
    rngs = [] if oracle else data_streams(seed, n_replicates, n_samples)
    w, dv = exact_fit_errors(lam, n_samples, rngs, sigma, [s], model=model, draw=draw, kappa=kappa, progress=progress)
    return summarize(w[0], dv[0], exact=oracle)


def sgd_monte_carlo_error(
    lam,
    n_samples: int,
    sigma: float,
    gamma: float,
    tau: float,
    n_replicates: int = 100,
    seed: int = 0,
    model: str = "full",
    loss_factor: float = 1.0,
    n_snapshots: int = 4,
    *,
    sampler: LangevinSampler | None = None,
) -> tuple[MCResult, MCResult]:
    r"""Exact pipeline R12 with the score learned by real SGD (one chain per replicate, R6).

    ``sampler``: a Langevin-family sampler with one setting (default: stationary ULA with step ``gamma``).

    Returns
    -------
    total : MCResult
        :math:`\mathbb E[W_2^2 \mid \text{stable}]`, a replicate being the mean over its ``n_snapshots``
        stable snapshots; ``n_diverged`` counts diverged draws (chain x snapshot), as in a study's summary.
    optimization : MCResult
        The paired optimization error with its control variate (:func:`optimization_excess`).
    """
    A, A0, _ = sgd_scores(
        lam, n_samples, sigma, tau, data_streams(seed, n_replicates, n_samples),
        sgd_streams(seed, n_replicates, n_samples, sigma, tau), model=model, loss_factor=loss_factor,
        n_snapshots=n_snapshots,
    )
    pe = paired_errors(A, A0, lam, sampler if sampler is not None else ULA(gamma))
    return summarize(pe.w2sq, pe.diverged), summarize(pe.excess, pe.excess_diverged)
