"""Synthetic spectra: power laws and stationary processes on periodic grids (``d`` required)."""

from __future__ import annotations

import math

import numpy as np

from . import Raw, dft_frequencies, fourier_modes, source


def _check(name: str, value, *, gt=None, ge=None, kind: str) -> float:
    from .. import _checks

    return _checks.number(f"spectrum.{name}", value, gt=gt, ge=ge, where=f" (kind={kind!r})")


@source("power_law", ("alpha", "scale"), needs_d=True)
def power_law(d: int, alpha=1.0, scale=1.0) -> Raw:
    """:math:`\\lambda_k = \\mathrm{scale}\\cdot k^{-\\alpha}`, ``k = 1..d`` (``alpha >= 0``, ``scale > 0``)."""
    alpha = _check("alpha", alpha, ge=0.0, kind="power_law")
    scale = _check("scale", scale, gt=0.0, kind="power_law")
    return Raw(scale * np.arange(1, d + 1, dtype=float) ** (-alpha))


def _stationary(kind: str, shape, beta, omega0, scale) -> Raw:
    beta = _check("beta", beta, ge=0.0, kind=kind)
    omega0 = _check("omega0", omega0, gt=0.0, kind=kind)
    scale = _check("scale", scale, gt=0.0, kind=kind)
    omega = dft_frequencies(shape).reshape(shape)
    return fourier_modes(scale * (1.0 + (omega / omega0) ** 2) ** (-beta))


@source("stationary_1d", ("beta", "omega0", "scale"), needs_d=True)
def stationary_1d(d: int, beta=1.0, omega0=0.5, scale=1.0) -> Raw:
    """Periodic stationary process on ``d`` grid points, :math:`P(\\omega) = \\mathrm{scale}\\,(1 +
    |\\omega|^2/\\omega_0^2)^{-\\beta}` at the DFT frequencies (:math:`P(0) = \\mathrm{scale}`)."""
    return _stationary("stationary_1d", (d,), beta, omega0, scale)


@source("stationary_2d", ("beta", "omega0", "scale"), needs_d=True)
def stationary_2d(d: int, beta=1.0, omega0=0.5, scale=1.0) -> Raw:
    """The same on a ``side x side`` periodic image; ``d = side**2`` must be a perfect square."""
    side = math.isqrt(d)
    if side * side != d:
        raise ValueError(f"spectrum.d must be a perfect square (side*side pixels) for kind 'stationary_2d', got {d}")
    return _stationary("stationary_2d", (side, side), beta, omega0, scale)
