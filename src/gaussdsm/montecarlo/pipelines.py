"""The whole pipeline (R12) at one point, in one call: ``gaussdsm error --mc`` and the statistical tests."""

from __future__ import annotations

import math

from ..samplers import LangevinSampler, Sampler
from .errors import exact_fit_errors, paired_errors
from .estimator import MCResult, summarize
from .streams import data_streams, sgd_streams, train_noise_streams
from .training import sample_data, sgd_scores

__all__ = ["monte_carlo_error", "sgd_monte_carlo_error", "drawn_noise_errors", "drawn_noise_monte_carlo_error"]


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
    metric: str = "w2",
    **params,
) -> MCResult:
    """Exact pipeline R12 with an exact DSM fit, averaged over ``n_replicates`` data sets, for any sampler.

    ``sampler``: a :class:`gaussdsm.samplers.Sampler` with one setting, or a kind with its parameters
    (``gamma``, ``n_steps``, ``init_var``, ``friction``).  ``n_samples = inf``: the population score, one
    deterministic replicate (standard error 0).  ``progress``: a :class:`gaussdsm.progress.Progress` advanced per
    block of replicates.  ``metric``: a :data:`gaussdsm.metrics.METRICS` name (default ``'w2'``).

    Returns
    -------
    MCResult
        ``mean`` is :math:`\\mathbb E[W_2^2 \\mid \\text{stable chain}]` (or the metric's), ``stderr`` its
        standard error, ``n_diverged`` the number of unstable draws.
    """
    from ..samplers.spec import build

    if isinstance(sampler, Sampler):
        s = sampler
    elif sampler == "diffusion":
        s = build(sampler, **params)
    else:
        s = build(sampler, gamma=0.0 if gamma is None else gamma, **params)
    oracle = math.isinf(float(n_samples))
    rngs = [] if oracle else data_streams(seed, n_replicates, n_samples)
    w, dv = exact_fit_errors(lam, n_samples, rngs, sigma, [s], model=model, draw=draw, kappa=kappa, progress=progress,
                             metric=metric)
    return summarize(w[0], dv[0], deterministic=oracle)


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
    metric: str = "w2",
) -> tuple[MCResult, MCResult]:
    r"""Exact pipeline R12 with the score learned by real SGD (one chain per replicate, R6).

    ``sampler``: a Langevin-family sampler with one setting (default: stationary ULA with step ``gamma``).
    ``metric``: a :data:`gaussdsm.metrics.METRICS` name (default ``'w2'``).

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
    from ..samplers.spec import build

    pe = paired_errors(A, A0, lam, sampler if sampler is not None else build("ula", gamma=gamma), metric=metric)
    return summarize(pe.w2sq, pe.diverged), summarize(pe.excess, pe.excess_diverged)


def _gd_training(sampler):
    """The :class:`~gaussdsm.samplers.diffusion.Training` of ``sampler``, which the drawn-noise Monte Carlo needs to be
    gradient descent (the config's rules on ``fit.noise`` are :class:`Training`'s own)."""
    tr = getattr(sampler, "training", None)
    if tr is None or tr.method != "gd":
        raise ValueError(f"the drawn-noise Monte Carlo needs a diffusion sampler whose scores are trained by "
                         f"gradient descent (fit.method gd); got {getattr(tr, 'method', 'exact')}")
    return tr


def drawn_noise_errors(lam, n_samples: int, data_rngs, noise_rngs, sampler):
    r"""Per replicate, :math:`W_2^2` of the sampler with every level's denoiser trained by gradient descent with the
    noise drawn, and with the expected-loss fit of the same training set.

    ``sampler``: a :class:`~gaussdsm.samplers.Diffusion` with a ``method='gd'`` :class:`Training`.  Replicate r draws
    its N points from ``data_rngs[r]`` (:func:`gaussdsm.montecarlo.sample_data`) and its training noise from
    ``noise_rngs[r]``; (a) :func:`gaussdsm.dsm.train_denoisers_drawn` at every time the scheme evaluates its score (a
    d x d fit that need not commute with :math:`\hat\Sigma`), the steps as matrix maps
    (:meth:`Diffusion.covariance_with_scores`); (b) the variance map of the expected-loss fit in the eigenbasis of
    :math:`\hat\Sigma`.  O(R (steps L N d^2 + K d^3)) with L the number of distinct times.

    Returns
    -------
    w_drawn, bad_drawn, w_expected, bad_expected : ndarray, shape ``(R,)``
        The values (NaN where diverged) and the diverged flags.
    """
    import numpy as np

    from ..dsm import train_denoisers_drawn
    from ..wasserstein import w2_squared_to_diagonal

    tr = _gd_training(sampler)
    lam = np.asarray(lam, dtype=float)
    d, N, p = lam.size, int(n_samples), sampler.process
    times = sampler.score_times()  # the distinct times the steps evaluate the score at
    m, s2 = np.sqrt(p.m2(times)), p.s2(times)
    R = len(data_rngs)
    out, bad = np.full((2, R), np.nan), np.zeros((2, R), dtype=bool)
    eye = np.eye(d)
    for r in range(R):
        X = sample_data(lam, N, data_rngs[r])
        cov = X.T @ X / N
        theta = train_denoisers_drawn(X, m, s2, tr.train_time, tr.lr, noise_rngs[r], tr.init)
        A_u = (eye - m[:, None, None] * theta) / s2[:, None, None]
        A = dict(zip(times.tolist(), A_u))
        v0 = (float(p.m2(p.T)) * cov + float(p.s2(p.T)) * eye if sampler.init == "exact" else
              sampler.start_variance(0.0) * eye)  # the other starts are isotropic
        V = sampler.covariance_with_scores(A.__getitem__, v0)
        mu, U = np.linalg.eigh(cov)
        F, ok = sampler.variance_and_stable(mu)
        for i, C in enumerate((V, (U * F) @ U.T)):
            good = bool(np.all(np.isfinite(C))) and (i == 0 or bool(np.all(ok)))
            bad[i, r] = not good
            if good:
                out[i, r] = float(w2_squared_to_diagonal(C, lam))
    return out[0], bad[0], out[1], bad[1]


def drawn_noise_monte_carlo_error(lam, n_samples: int, sampler, n_replicates: int = 100, seed: int = 0):
    """Scores trained with the noise drawn against the expected loss, paired on the same training sets
    (:func:`drawn_noise_errors`; streams :func:`data_streams` and :func:`train_noise_streams`).

    Returns
    -------
    drawn, expected, difference : MCResult
        ``difference`` is the paired drawn − expected.
    """
    import numpy as np

    tr = _gd_training(sampler)
    wd, bd, we, be = drawn_noise_errors(lam, n_samples, data_streams(seed, n_replicates, n_samples),
                                        train_noise_streams(seed, n_replicates, n_samples, tr.train_time, tr.lr),
                                        sampler)
    both = bd | be
    return summarize(wd, bd), summarize(we, be), summarize(np.where(both, np.nan, wd - we), both)
