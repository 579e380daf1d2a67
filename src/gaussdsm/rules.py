"""Cross-field rules of a setting that the JSON schema cannot express: one owner each, one wording.

A study's config (:func:`gaussdsm.study.check_config`, the samplers' ``config_errors``) and the front door
(:func:`gaussdsm.error`, the command ``gaussdsm error``) state a rule by calling it here.  Each rule returns its
one-line message, the keys dotted relative to a study (``sampler.scheme``, ``grid.sigma``, ``fit.method``), or
None when the setting satisfies it; a study's checks prefix ``studies.<name>.``, the command line turns the keys
into its options (``grid.sigma`` -> ``--sigma``).  Only the standard library here (``import gaussdsm`` stays light).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["only_for_diffusion", "not_for_diffusion", "required_by", "population_learns_nothing", "fourier_spectrum",
           "only_for_trained_fits", "drawn_noise", "fit_depth", "conv_model"]

MAX_PATCH = 2048
"""``fit.model: conv``: the most pixels a patch may hold (its covariance is patch x patch, decomposed per training set)."""
STATIONARY_KINDS = ("stationary_1d", "stationary_2d", "texture")
"""The spectra with a Fourier structure (their R11 factors ``kappa``): what ``fit.model: fourier`` needs."""


def only_for_diffusion(given: Iterable[str]) -> str | None:
    """A Langevin-family setting that gives a diffusion-only key (``sampler.scheme``, ``fit.method``, ...)."""
    given = list(given)
    return f"{given[0]} is only used by sampler.kind: diffusion" if given else None


def not_for_diffusion(given: Iterable[str]) -> str | None:
    """A diffusion setting that gives a Langevin-only key (``grid.sigma``, ``grid.gamma``, ``grid.tau``,
    ``sampler.friction``)."""
    given = list(given)
    if not given:
        return None
    return (f"{given[0]} is not used by sampler.kind: diffusion (its scores are the exact DSM minimisers at every "
            "noise level); remove it")


def required_by(kind: str, missing: Iterable[str]) -> str | None:
    """A key the sampler ``kind`` needs and the setting lacks (``grid.sigma`` for ula)."""
    missing = list(missing)
    return f"{missing[0]} is required by sampler.kind: {kind}" if missing else None


def population_learns_nothing(n_samples: Iterable[float], learner: str) -> str | None:
    """The population score (``n_samples`` inf) with a fit that learns (``learner``, e.g. ``fit.method: sgd``)."""
    if not any(math.isinf(float(n)) for n in n_samples):
        return None
    return f"grid.n_samples: inf (the population score) learns nothing; {learner} needs a finite grid.n_samples"


def fourier_spectrum(model: str, spectrum_kind: str, stationary: bool) -> str | None:
    """``fit.model: fourier`` (a convolution) on a spectrum without a Fourier structure."""
    if model != "fourier" or stationary:
        return None
    return (f"fit.model: fourier (a convolutional denoiser, diagonal in the Fourier basis) needs a stationary spectrum "
            f"(kind {', '.join(STATIONARY_KINDS[:-1])} or {STATIONARY_KINDS[-1]}), not {spectrum_kind!r}; use "
            "fit.model: diagonal (real eigenbasis)")


def conv_model(model: str, kernel_size, spectrum_kind: str, grid: tuple | None, fit: str = "exact",
               sgd: bool = False, depth=1) -> str | None:
    """``fit.model: conv`` (a local convolutional denoiser, ``fit.kernel_size``) and what it needs: a stationary
    spectrum (``grid``: its DFT grid's shape and channels, None without one), an odd kernel size no wider than the
    image's side, no SGD, one layer (two patch filters multiply into a wider one: ``fit.depth: 2`` is not a patch
    filter); ``fit.kernel_size`` with another model."""
    if model != "conv":
        return "fit.kernel_size is only used by fit.model: conv" if kernel_size is not None else None
    if grid is None:
        return (f"fit.model: conv (a local convolutional denoiser) needs a stationary spectrum (kind "
                f"{', '.join(STATIONARY_KINDS[:-1])} or {STATIONARY_KINDS[-1]}), not {spectrum_kind!r}")
    side = min(grid[:-1])
    k = kernel_size
    if isinstance(k, float) and k == int(k):
        k = int(k)
    if k is None or isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 or k > side:
        rng = f"an odd integer in [1, {side}] (a centred patch no wider than the image side {side})"
        if kernel_size is None:
            return f"fit.kernel_size is required by fit.model: conv: {rng}"
        return f"fit.kernel_size must be {rng}; got {kernel_size!r}"
    ndim = len(grid) - 1
    if k**ndim > MAX_PATCH:
        top = int(math.floor(MAX_PATCH ** (1.0 / ndim) + 1e-9))
        top -= 1 - top % 2
        return (f"fit.kernel_size must be at most {top} on a {ndim}-D image (a patch of at most {MAX_PATCH} pixels: its "
                f"covariance is patch x patch); got {kernel_size!r}; the whole (odd) image is fit.model: fourier")
    if fit not in ("exact", "gradient_flow", "gd") or sgd:
        return ("fit.model: conv needs fit.method exact (or, with sampler.kind: diffusion, gradient_flow or gd) and "
                "grid.tau [0.0]")
    if depth != 1:
        return (f"fit.depth must be 1 with fit.model: conv (the product of two K-wide filters is a (2K - 1)-wide one, "
                f"not a patch filter of width fit.kernel_size); got {depth!r}")
    return None


def only_for_trained_fits(given: Iterable[str]) -> str | None:
    """An exact fit (``fit.method: exact``) with a training key (``fit.train_time``, ``fit.init``, ``fit.lr``)."""
    given = list(given)
    return f"{given[0]} is only used by fit.method gradient_flow or gd" if given else None


def drawn_noise(noise: str, method: str, train_time: float, model: str | None = None) -> str | None:
    """``fit.noise: drawn`` (Monte Carlo trains with fresh noise at every gradient step): it needs gradient descent,
    a finite training time, and d x d denoisers (``model`` None: not checked)."""
    if noise != "drawn":
        return None
    if method != "gd":
        return "fit.noise: drawn needs fit.method gd (a gradient step to draw the noise at)"
    if math.isinf(float(train_time)):
        return "fit.noise: drawn needs a finite fit.train_time (round(train_time / lr) drawn steps)"
    if model is not None and model != "full":
        return "fit.noise: drawn trains d x d denoisers: it needs fit.model full"
    return None


def fit_depth(depth, method: str, init: str = "zero", init_scale=None) -> str | None:
    """``fit.depth`` (1: the denoiser itself, 2: the symmetric two-layer P P^T) and the keys it needs or excludes:
    depth 2 is trained by gradient flow from an aligned start P P^T = fit.init_scale I; ``fit.init_scale`` is depth
    2's alone."""
    if depth not in (1, 2) or isinstance(depth, bool):
        return f"fit.depth must be 1 or 2 (one layer, or the symmetric two-layer P P^T); got {depth!r}"
    if depth == 1:
        return None if init_scale is None else "fit.init_scale is only used by fit.depth 2"
    if method != "gradient_flow":
        return (f"fit.depth 2 needs fit.method gradient_flow (its per-mode logistic flow has a closed form); "
                f"got {method}")
    if init != "zero":
        return "fit.init is only used by fit.depth 1 (depth 2 starts at P P^T = fit.init_scale I)"
    return None
