"""Squared W2 errors of samplers' laws for fitted scores, per replicate: exact fits through their eigendecomposition
(bounded memory), general (SGD) score matrices through the sampler's matrix law, and the paired optimization error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _checks
from ..samplers import LangevinSampler, Sampler
from .training import DIAGONAL_MODELS, DRAWS, fit_blocks

__all__ = ["exact_fit_errors", "exact_errors", "langevin_errors", "PairedErrors", "paired_errors",
           "optimization_excess"]


def _sampler(sampler) -> Sampler:
    """The sampler argument, checked: a :class:`gaussdsm.samplers.Sampler` (a step alone is not one: ``ULA(gamma)``)."""
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a gaussdsm.samplers.Sampler (e.g. ULA(gamma)); got {sampler!r}")
    return sampler


def exact_fit_errors(lam, n_samples, rngs, sigma: float, samplers, *, model: str = "full", draw: str = "wishart",
                     kappa=None, progress=None, metric="w2"):
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
    metric : str or sequence of str
        :data:`gaussdsm.metrics.METRICS` name(s) (default ``'w2'``).  A sequence: every metric from the same fits
        (the same streams), and the values gain a leading axis M, one entry per metric.

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
        blocks = fit_blocks(lam, n_samples, list(rngs), model, draw, kappa)
    sigmas = np.atleast_1d(np.asarray(sigma, dtype=float))
    w, dv = [], []
    several = not isinstance(metric, str)
    names = list(metric) if several else [metric]
    w, dv = [], []  # per block: (M, G, S, r)
    for mu, U in blocks:
        res = [[[exact_errors(lam, mu, U, sg, s, metric=name) for s in samplers] for sg in sigmas] for name in names]
        w.append(np.array([[[r[0] for r in row] for row in per] for per in res]))
        dv.append(np.array([[[r[1] for r in row] for row in per] for per in res]))
        if progress is not None:
            progress.update(mu.shape[0])
    w, dv = np.concatenate(w, axis=-1), np.concatenate(dv, axis=-1)
    if np.ndim(sigma) == 0:
        w, dv = w[:, 0], dv[:, 0]
    return (w, dv) if several else (w[0], dv[0])


def exact_errors(lam, mu, U, sigma: float, sampler, metric="w2"):
    """Squared W2 error (or another metric's) of the sampler's law for each exactly fitted replicate
    (samplers.md §1, R1).

    Parameters
    ----------
    mu, U : from :func:`exact_fit`
    sampler : Sampler (one setting)
    metric : str
        :data:`gaussdsm.metrics.METRICS` name: its commuting form (``U is None``) or its eigen form.

    Returns
    -------
    w2sq : ndarray, shape ``(R,)``
        NaN where diverged; ``inf`` where the metric is infinite (a KL of a singular covariance), then also
        flagged in ``diverged``.
    diverged : ndarray of bool, shape ``(R,)``
        Some mode's score is infinite or its recursion unstable, or the metric is infinite.
    """
    from ..metrics import get

    m = get(metric)
    s = _sampler(sampler)
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        F_all, ok = s.variance_and_stable(mu, sigma)
    stable = np.all(ok, axis=-1)
    w2sq = np.full(mu.shape[0], np.nan)
    if np.any(stable):
        F = np.asarray(F_all)[stable]
        if U is None:  # the law commutes with the data covariance
            w2sq[stable] = m.commuting(F, lam)
        else:
            w2sq[stable] = m.eig_to_diagonal(U[stable], F, lam)
    return w2sq, ~stable | np.isinf(w2sq)


def langevin_errors(A, lam, sampler, metric="w2"):
    r"""Squared W2 error of a Langevin-family sampler's law for each score matrix (R4 + R1, samplers.md §1).

    Parameters
    ----------
    A : array_like, shape ``(R, d, d)``
        Learned score matrices (symmetric after an exact fit, general after SGD).
    lam : array_like, shape ``(d,)``
    sampler : LangevinSampler (one setting)
    metric : str
        :data:`gaussdsm.metrics.METRICS` name (its ``to_diagonal`` form; default ``'w2'``).

    Returns
    -------
    w2sq : ndarray, shape ``(R,)``
        :math:`W_2^2(\mathcal N(0,C), \mathcal N(0,\mathrm{diag}\,\lambda))` (or the metric's value); NaN where
        diverged, ``inf`` where the metric is infinite (then flagged too).
    diverged : ndarray of bool, shape ``(R,)``
        The chain is unstable (spectral radius of its recursion >= 1) or the score is not finite.
    """
    from ..metrics import get

    m = get(metric)
    s = _sampler(sampler)
    if not isinstance(s, LangevinSampler):
        raise ValueError(f"sampler {s.kind!r} has no law for a general score matrix")
    A = np.asarray(A, dtype=float)
    lam = np.asarray(lam, dtype=float)
    C, stable = s.law(A)
    w2sq = np.full(A.shape[0], np.nan)
    if np.any(stable):
        w2sq[stable] = m.to_diagonal(C[stable], lam)
    return w2sq, ~stable | np.isinf(w2sq)


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


def paired_errors(A, A_exact, lam, sampler, eps: float = 1e-3, metric="w2") -> PairedErrors:
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
    sampler : LangevinSampler (one setting)
    eps : float
        Relative step of the central difference.
    metric : str
        :data:`gaussdsm.metrics.METRICS` name (default ``'w2'``): :math:`W` is that metric's error.
    """
    A = np.asarray(A, dtype=float)
    A0 = np.asarray(A_exact, dtype=float)
    R, S, d = A.shape[:3]
    dA = A - A0[:, None]

    def w(M):
        v, dv = langevin_errors(M.reshape(R * S, d, d), lam, sampler, metric)
        return v.reshape(R, S), dv.reshape(R, S)

    w1, d1 = w(A)
    w0, d0 = langevin_errors(A0, lam, sampler, metric)
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
