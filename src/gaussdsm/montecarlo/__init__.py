"""Exact Monte-Carlo evaluation of the pipeline (theory.md R12): the ground truth.

For each independent replicate:

1. draw a training set of N samples from :math:`\\mathcal N(0, \\mathrm{diag}(\\lambda))`
   (or directly its empirical covariance, see :func:`sample_empirical_covariance`);
2. fit the linear score by DSM (exactly, or by SGD in :mod:`gaussdsm.sgd`);
3. compute the sampler's output law with that score (its variance map, or a matrix recursion);
4. compute :math:`W_2^2(\\mathcal N(0, C), \\mathcal N(0, \\mathrm{diag}\\,\\lambda))` (R1).

The reported error is the mean over replicates **whose chain is stable**, with
the number of unstable draws reported separately (theory.md §7.2 note 5).

One module per concern; every public name is importable from here:

=====================  ================================================================================
:mod:`.streams`        random streams keyed by ``(seed, stream, the point's parameter values, replicate)``
:mod:`.training`       training sets, empirical covariances, mode variances, exact and SGD fits
:mod:`.errors`         W2 errors of samplers' laws for fitted scores; the paired optimization error
:mod:`.estimator`      the Monte-Carlo estimator: mean over stable draws, standard error, z-score
:mod:`.memory`         the estimated peak memory of a Monte-Carlo job
:mod:`.pipelines`      the whole pipeline at one point in one call (the CLI, the statistical tests)
=====================  ================================================================================
"""

from .errors import PairedErrors, exact_errors, exact_fit_errors, langevin_errors, optimization_excess, paired_errors
from .estimator import MCResult, estimate, summarize, zscore
from .memory import BASE_MB, peak_memory_mb
from .pipelines import drawn_noise_errors, drawn_noise_monte_carlo_error, monte_carlo_error, sgd_monte_carlo_error
from .streams import canonical_params, data_streams, replicate_rngs, sgd_streams, train_noise_streams
from .training import (BLOCK_ELEMENTS, DIAGONAL_MODELS, DRAWS, MODES_BLOCK_ELEMENTS, ROUNDOFF_RTOL, exact_fit,
                       fit_blocks, mode_variances, sample_data, sample_empirical_covariance, sgd_scores)

__all__ = [
    "canonical_params", "replicate_rngs", "data_streams", "sgd_streams", "train_noise_streams",
    "sample_data", "sample_empirical_covariance", "exact_fit", "fit_blocks", "mode_variances", "sgd_scores",
    "exact_errors", "exact_fit_errors", "paired_errors", "PairedErrors", "optimization_excess", "langevin_errors",
    "MCResult", "estimate", "zscore", "summarize",
    "peak_memory_mb", "monte_carlo_error", "sgd_monte_carlo_error", "drawn_noise_monte_carlo_error",
    "drawn_noise_errors",
    "DRAWS", "DIAGONAL_MODELS", "BLOCK_ELEMENTS", "MODES_BLOCK_ELEMENTS", "ROUNDOFF_RTOL", "BASE_MB",
]
