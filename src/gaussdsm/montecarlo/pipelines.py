"""The whole pipeline (R12) at one point, in one call: ``gaussdsm error --mc`` and the statistical tests."""

from __future__ import annotations

import math

from ..samplers import LangevinSampler, Sampler, ULA
from .errors import exact_fit_errors, paired_errors
from .estimator import MCResult, summarize
from .streams import data_streams, sgd_streams
from .training import sgd_scores

__all__ = ["monte_carlo_error", "sgd_monte_carlo_error"]


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
    from ..samplers import make

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
