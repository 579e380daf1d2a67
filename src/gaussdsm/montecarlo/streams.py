"""Random streams keyed by what a number means, never by where it sits (the one owner of stream keying).

Streams derive from ``(base seed, stream name, the point's parameter values, replicate index)`` through
:class:`numpy.random.SeedSequence`: adding a grid value or re-chunking a study does not change any other point's
numbers, and increasing the number of replicates keeps the first ones.  Training sets depend on N only (common
random numbers across sigma, tau and the sampler's settings).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = ["canonical_value", "canonical_params", "replicate_rngs", "data_streams", "sgd_streams"]


def _canon(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else repr(f)
    return str(v)


def canonical_value(v) -> str:
    """One parameter value as :func:`canonical_params` writes it (``1000`` and ``1000.0`` -> ``1000``, ``0.001``,
    ``inf``, strings unchanged): what chunk ids are named by."""
    return str(_canon(v))


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


def train_noise_streams(seed: int, n_replicates: int, n_samples, train_time, lr) -> list[np.random.Generator]:
    """The noise drawn while training every level's denoiser by gradient descent (``fit.noise: drawn``): keyed by
    ``(n_samples, train_time, lr)``, so the sampler's other parameters share it."""
    return replicate_rngs(seed, "train_noise", n_replicates, n_samples=int(n_samples), train_time=float(train_time),
                          lr=float(lr))


def sgd_streams(seed: int, n_replicates: int, n_samples, sigma, tau) -> list[np.random.Generator]:
    """The SGD chains' streams (sample indices and noise) at a fit point: keyed by ``(n_samples, sigma, tau)``."""
    return replicate_rngs(seed, "sgd", n_replicates, n_samples=int(n_samples), sigma=float(sigma), tau=float(tau))
