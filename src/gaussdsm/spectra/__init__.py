"""Power spectra (covariance eigenvalues) of the Gaussian data, from their sources.

The data are :math:`x \\sim \\mathcal N(0, \\Sigma)` with :math:`\\Sigma = U\\,\\mathrm{diag}(\\lambda)\\,U^\\top`.
Every error studied in this package depends on :math:`\\Sigma` only through its eigenvalues :math:`\\lambda`
(theory.md §1), so a spectrum is a 1-D array ``lam`` of shape ``(d,)``, sorted in descending order, all entries
``>= 0`` (zero eigenvalues: a rank-deficient covariance).

For stationary data on a periodic grid (``stationary_1d``, ``stationary_2d``, ``texture``) :math:`\\Sigma` is
circulant, the DFT basis diagonalises it and :math:`\\lambda` is the power spectrum at the DFT frequencies; such a
spectrum also carries, per mode, its angular frequency :math:`|\\omega|` and R11's :math:`\\kappa` (1 for each real
direction of a conjugate pair :math:`\\pm\\omega`, 2 for a self-conjugate frequency), which the Fourier-diagonal
(convolutional) denoiser ``model='fourier'`` needs.

A source is one function registered with :func:`source` (``SOURCES``): it returns the unsorted eigenvalues (and, for
stationary sources, their frequencies and conjugate pairs) and what they were made from; :func:`spectrum` checks its
parameters and ``d``, clips round-off negatives (:math:`|\\lambda| \\le 10^{-12}\\lambda_{\\max}`, recorded) and sorts.
Sources: :mod:`.synthetic` (``power_law``, ``stationary_1d``, ``stationary_2d``), :mod:`.data` (``texture``, ``pca``,
``custom``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import _checks

__all__ = ["SOURCES", "PARAM_KEYS", "Spectrum", "Raw", "source", "spectrum", "dft_frequencies",
           "fourier_modes", "pair_starts", "CLIP_RTOL"]

PARAM_KEYS = ("alpha", "scale", "beta", "omega0", "values", "file", "image", "side", "resize", "grayscale", "data")
"""Every source parameter (config ``spectrum.<key>``, CLI ``--<key>``), in the order stages receive them."""

CLIP_RTOL = 1e-12
"""Negative eigenvalues with :math:`|\\lambda| \\le` ``CLIP_RTOL`` :math:`\\lambda_{\\max}` are round-off: set to 0."""


@dataclass(frozen=True)
class Raw:
    """What a source function returns: unsorted eigenvalues, optionally per-mode ``frequency`` and ``kappa`` (with
    the two directions of each conjugate pair adjacent, see :func:`fourier_modes`), and ``info``: what the spectrum
    was made from (file and sha256, or bundled name and package version, number of data points, ...)."""

    lam: np.ndarray
    frequency: np.ndarray | None = None
    kappa: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    position: np.ndarray | None = None
    """Stationary sources: each mode's flat index on the DFT grid, ``channel * prod(grid) + index`` (C order)."""
    grid: tuple | None = None
    """Stationary sources: the DFT grid's shape and the number of channels, ``grid + (c,)``."""


@dataclass(frozen=True)
class Spectrum:
    """A data spectrum: ``lam (d,)`` descending; ``frequency``, ``kappa (d,)`` or None (no Fourier structure);
    ``info``: its provenance (JSON-serialisable)."""

    lam: np.ndarray
    frequency: np.ndarray | None
    kappa: np.ndarray | None
    info: dict
    position: np.ndarray | None = None
    """Stationary spectra: each mode's place on the DFT grid (:attr:`Raw.position`; the first direction of a
    conjugate pair at :math:`\\omega`, the second at :math:`-\\omega`), what a local convolutional denoiser needs."""
    grid: tuple | None = None
    """Stationary spectra: the DFT grid's shape and channels, ``grid + (c,)``."""

    @property
    def d(self) -> int:
        return int(self.lam.size)


@dataclass(frozen=True)
class Source:
    name: str
    function: Callable[..., Raw]
    params: tuple[str, ...]
    needs_d: bool
    required: tuple[str, ...] = ()


SOURCES: dict[str, Source] = {}
"""Registry: spectrum kind -> :class:`Source` (filled by :func:`source`)."""


def source(name: str, params: tuple[str, ...], *, needs_d: bool = False, required: tuple[str, ...] = ()):
    """Register ``function(d, **params) -> Raw`` as the spectrum kind ``name``.

    ``params``: the keys it takes (``spectrum.<key>`` in a config); ``needs_d``: ``d`` is required (synthetic
    spectra) rather than read from the data and checked when given; ``required``: keys without a default.
    """

    def register(function):
        SOURCES[name] = Source(name, function, tuple(params), needs_d, tuple(required))
        return function

    return register


def dft_frequencies(shape: tuple[int, ...]) -> np.ndarray:
    """Angular DFT frequencies :math:`|\\omega|` of a periodic grid.

    Parameters
    ----------
    shape : tuple of int
        Grid shape, ``(d,)`` in 1-D or ``(h, w)`` in 2-D.

    Returns
    -------
    omega : ndarray, shape ``(prod(shape),)``
        :math:`|\\omega|` for every DFT frequency (C order), in radians per grid step,
        :math:`\\omega_j = 2\\pi\\,\\mathrm{fftfreq}(n)_j \\in [-\\pi, \\pi)`.  Frequencies :math:`\\pm\\omega` both
        appear, so a spectrum that depends on :math:`|\\omega|` has the degenerate pairs of a real circulant matrix.
    """
    axes = [2 * np.pi * np.fft.fftfreq(n) for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(sum(g**2 for g in grids)).ravel()


def fourier_modes(power: np.ndarray, channels_last: bool = False) -> Raw:
    """Eigenvalues, frequencies and R11's :math:`\\kappa` of a stationary covariance from its power on the DFT grid.

    Parameters
    ----------
    power : ndarray, shape ``grid`` or ``grid + (c,)`` (``channels_last``)
        :math:`P(\\omega)` per DFT frequency (and independent channel), ``>= 0``.  It is symmetrised,
        :math:`(P(\\omega) + P(-\\omega))/2`, so that the two directions of a conjugate pair are exactly equal.

    Returns
    -------
    Raw
        ``lam`` in an order where the two real directions (cosine and sine) of each conjugate pair
        :math:`\\pm\\omega` are adjacent (self-conjugate frequencies, :math:`2\\omega \\equiv 0`, alone), ``kappa``
        (1 per direction of a pair, 2 for a self-conjugate frequency) and ``frequency`` :math:`|\\omega|`.
    """
    P = np.asarray(power, dtype=float)
    if not channels_last:
        P = P[..., None]
    grid, c = P.shape[:-1], P.shape[-1]
    flat = np.arange(math.prod(grid)).reshape(grid)
    conj = flat[np.ix_(*[(-np.arange(n)) % n for n in grid])].ravel()  # the flat index of -omega
    P = P.reshape(-1, c)
    P = 0.5 * (P + P[conj])
    idx = np.arange(conj.size)
    single, first = idx[idx == conj], idx[idx < conj]
    order = np.concatenate([single, np.stack([first, conj[first]], axis=1).ravel()])
    kappa = np.concatenate([np.full(single.size, 2.0), np.ones(2 * first.size)])
    omega = dft_frequencies(grid)[order]
    lam = P[order].T.ravel()  # channel by channel
    n = conj.size
    position = (np.arange(c)[:, None] * n + order[None, :]).ravel()
    return Raw(lam, frequency=np.tile(omega, c), kappa=np.tile(kappa, c), position=position,
               grid=tuple(int(g) for g in grid) + (int(c),))


def pair_starts(kappa: np.ndarray) -> np.ndarray:
    """Indices of the first direction of each conjugate pair (``kappa == 1`` comes in adjacent twos)."""
    one = np.flatnonzero(np.asarray(kappa) == 1)
    starts = one[::2]
    if one.size % 2 or np.any(one[1::2] != starts + 1):
        raise ValueError("kappa: the two directions of every conjugate pair must be adjacent")
    return starts


def spectrum(kind: str, d: int | None = None, **params) -> Spectrum:
    """A data spectrum from its source (module docstring).

    Parameters
    ----------
    kind : str
        A key of :data:`SOURCES`: ``power_law``, ``stationary_1d``, ``stationary_2d`` (:mod:`.synthetic`),
        ``texture``, ``pca``, ``custom`` (:mod:`.data`).
    d : int, optional
        Dimension, ``d >= 1``; required by the synthetic kinds, checked against the data when given otherwise.
    **params
        The kind's parameters (``None`` values are ignored; unknown keys are an error naming them).

    Returns
    -------
    Spectrum
        ``lam`` sorted descending (stable: pairs stay adjacent), all ``>= 0``.

    Raises
    ------
    ValueError
        Unknown kind or parameter, a parameter out of range, unreadable data, ``d`` that does not match, NaN/inf,
        or negative eigenvalues beyond round-off; the message names the key (``spectrum.<key>``) and the file.
    """
    src = SOURCES[_checks.choice("spectrum.kind", kind, SOURCES)]
    if d is None and src.needs_d:
        raise ValueError(f"spectrum.d is required for kind {kind!r} (an integer >= 1)")
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1):
        raise ValueError(f"spectrum.d must be an integer >= 1, got {d!r}")
    given = {k: v for k, v in params.items() if v is not None}
    extra = sorted(set(given) - set(src.params))
    if extra:
        raise ValueError(f"spectrum kind {kind!r} does not take parameter(s) {', '.join(extra)}; "
                         f"allowed: {', '.join(sorted(src.params))}")
    missing = [k for k in src.required if k not in given]
    if missing:
        raise ValueError(f"spectrum kind {kind!r} needs spectrum.{missing[0]}")
    raw = src.function(None if d is None else int(d), **given)
    lam = np.asarray(raw.lam, dtype=float).ravel()
    where = raw.info.get("where", f"spectrum (kind {kind!r})")
    if lam.size == 0:
        raise ValueError(f"{where} holds no values")
    if d is not None and lam.size != d:
        raise ValueError(f"{where} has {lam.size} values but spectrum.d = {d}")
    if not np.all(np.isfinite(lam)):
        bad = lam[~np.isfinite(lam)]
        raise ValueError(f"{where} must be finite (eigenvalues of a covariance); got {bad[:5].tolist()}")
    info = {k: v for k, v in raw.info.items() if k != "where"}
    top = float(lam.max())
    neg = lam < 0
    if np.any(neg):
        tol = CLIP_RTOL * max(top, 0.0)
        beyond = neg & (lam < -tol)
        if np.any(beyond):
            raise ValueError(f"{where} must be >= 0 (eigenvalues of a covariance; only round-off negatives with "
                             f"|lam| <= {CLIP_RTOL:g} lam_max are set to 0); got {lam[beyond][:5].tolist()}")
        lam = np.where(neg, 0.0, lam)
        info["clipped_negative"] = int(neg.sum())
        info["clip_threshold"] = tol
    order = np.argsort(-lam, kind="stable")
    pick = (lambda a: None if a is None else np.asarray(a, dtype=float)[order].copy())
    position = None if raw.position is None else np.asarray(raw.position, dtype=np.int64)[order].copy()
    return Spectrum(lam[order].copy(), pick(raw.frequency), pick(raw.kappa), info, position, raw.grid)


from . import data, synthetic  # noqa: E402,F401  (register the sources)

