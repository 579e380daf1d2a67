"""Power spectra (covariance eigenvalues) of the Gaussian data.

The data are :math:`x \\sim \\mathcal N(0, \\Sigma)` with
:math:`\\Sigma = U\\,\\mathrm{diag}(\\lambda)\\,U^\\top`.  Every error studied in
this package depends on :math:`\\Sigma` only through its eigenvalues
:math:`\\lambda` (theory.md §1), so a spectrum is a 1-D array ``lam`` of shape
``(d,)``, sorted in descending order, all entries ``>= 0`` (zero eigenvalues: a rank-deficient covariance).

For stationary data on a periodic grid :math:`\\Sigma` is circulant, the DFT
basis diagonalises it, and :math:`\\lambda` is the power spectrum evaluated at
the DFT frequencies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["KINDS", "make_spectrum", "dft_frequencies"]

KINDS = ("power_law", "stationary_1d", "stationary_2d", "custom")


def _check(name: str, value, *, gt=None, ge=None, kind: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"spectrum.{name} must be a number (kind={kind!r}), got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"spectrum.{name} must be finite (kind={kind!r}), got {value!r}")
    if gt is not None and not v > gt:
        raise ValueError(f"spectrum.{name} must be > {gt} (kind={kind!r}), got {value!r}")
    if ge is not None and not v >= ge:
        raise ValueError(f"spectrum.{name} must be >= {ge} (kind={kind!r}), got {value!r}")
    return v


def dft_frequencies(shape: tuple[int, ...]) -> np.ndarray:
    """Angular DFT frequencies :math:`|\\omega|` of a periodic grid.

    Parameters
    ----------
    shape : tuple of int
        Grid shape, ``(d,)`` in 1-D or ``(side, side)`` in 2-D.

    Returns
    -------
    omega : ndarray, shape ``(prod(shape),)``
        :math:`|\\omega|` for every DFT frequency, in radians per grid step,
        :math:`\\omega_j = 2\\pi\\,\\mathrm{fftfreq}(n)_j \\in [-\\pi, \\pi)`.
        Frequencies :math:`\\pm\\omega` both appear, so a spectrum that depends
        on :math:`|\\omega|` has the degenerate pairs of a real circulant matrix.
    """
    axes = [2 * np.pi * np.fft.fftfreq(n) for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(sum(g**2 for g in grids)).ravel()


def make_spectrum(kind: str, d: int | None = None, **params) -> np.ndarray:
    """Eigenvalues :math:`\\lambda` (power spectrum) of the data covariance.

    Parameters
    ----------
    kind : {'power_law', 'stationary_1d', 'stationary_2d', 'custom'}
        * ``power_law``: :math:`\\lambda_k = \\mathrm{scale}\\cdot k^{-\\alpha}`, ``k = 1..d``.
          Parameters ``alpha >= 0`` (default 1) and ``scale > 0`` (default 1).
        * ``stationary_1d``: periodic stationary process on ``d`` grid points,
          :math:`P(\\omega) = \\mathrm{scale}\\,(1 + |\\omega|^2/\\omega_0^2)^{-\\beta}
          \\propto (\\omega_0^2 + |\\omega|^2)^{-\\beta}` at the DFT frequencies
          (normalised so that :math:`P(0) = \\mathrm{scale}`).
          Parameters ``beta >= 0`` (default 1), ``omega0 > 0`` (default 0.5), ``scale > 0``.
        * ``stationary_2d``: the same on a ``side x side`` periodic image,
          ``d = side**2`` must be a perfect square.
        * ``custom``: ``values`` (a list of ``d`` numbers ``>= 0``) or ``file``
          (a text file with one value per line/whitespace separated, an ``.npy`` array, or a
          NetCDF file holding a variable ``lam``).
    d : int, optional
        Dimension, ``d >= 1``; required by the synthetic kinds, optional for ``custom`` (checked when given).
    **params
        Kind-specific parameters, see above.  Unknown parameters are ignored
        only if they are ``None``; otherwise a ``ValueError`` is raised.

    Returns
    -------
    lam : ndarray, shape ``(d,)``
        Eigenvalues sorted in descending order, all ``>= 0`` (``custom`` may have zeros).

    Raises
    ------
    ValueError
        For an unknown kind or a parameter outside its allowed range; the
        message names the parameter (as ``spectrum.<name>``) and the range.
    """
    if kind not in KINDS:
        raise ValueError(f"spectrum.kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if d is None and kind != "custom":
        raise ValueError(f"spectrum.d is required for kind {kind!r} (an integer >= 1)")
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1):
        raise ValueError(f"spectrum.d must be an integer >= 1, got {d!r}")
    d = None if d is None else int(d)
    allowed = {
        "power_law": {"alpha", "scale"},
        "stationary_1d": {"beta", "omega0", "scale"},
        "stationary_2d": {"beta", "omega0", "scale"},
        "custom": {"values", "file"},
    }[kind]
    extra = sorted(k for k, v in params.items() if v is not None and k not in allowed)
    if extra:
        raise ValueError(
            f"spectrum kind {kind!r} does not take parameter(s) {', '.join(extra)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )

    def get(name, default):
        v = params.get(name)
        return default if v is None else v

    if kind == "power_law":
        alpha = _check("alpha", get("alpha", 1.0), ge=0.0, kind=kind)
        scale = _check("scale", get("scale", 1.0), gt=0.0, kind=kind)
        lam = scale * np.arange(1, d + 1, dtype=float) ** (-alpha)
    elif kind in ("stationary_1d", "stationary_2d"):
        beta = _check("beta", get("beta", 1.0), ge=0.0, kind=kind)
        omega0 = _check("omega0", get("omega0", 0.5), gt=0.0, kind=kind)
        scale = _check("scale", get("scale", 1.0), gt=0.0, kind=kind)
        if kind == "stationary_1d":
            shape = (d,)
        else:
            side = math.isqrt(d)
            if side * side != d:
                raise ValueError(
                    f"spectrum.d must be a perfect square (side*side pixels) for kind "
                    f"'stationary_2d', got {d}"
                )
            shape = (side, side)
        omega = dft_frequencies(shape)
        lam = scale * (1.0 + (omega / omega0) ** 2) ** (-beta)
    else:
        values, file = params.get("values"), params.get("file")
        if (values is None) == (file is None):
            raise ValueError("spectrum kind 'custom' needs exactly one of spectrum.values or spectrum.file")
        if file is not None:
            lam = _read_spectrum_file(Path(file))
            where = f"spectrum.file ({file})"
        else:
            try:
                lam = np.asarray(values, dtype=float).ravel()
            except (TypeError, ValueError):
                raise ValueError(f"spectrum.values must be a list of numbers, got {values!r}") from None
            where = "spectrum.values"
        if d is not None and lam.size != d:
            raise ValueError(f"{where} has {lam.size} values but spectrum.d = {d}")
        if lam.size == 0:
            raise ValueError(f"{where} holds no values")
        if not np.all(np.isfinite(lam)) or np.any(lam < 0):
            bad = lam[~(np.isfinite(lam) & (lam >= 0))]
            raise ValueError(f"{where} must be finite and >= 0 (eigenvalues of a covariance); got {bad[:5].tolist()}")
    return np.sort(lam)[::-1].copy()


def _read_spectrum_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise ValueError(f"spectrum.file: no such file {str(path)!r}")
    if path.suffix in (".nc", ".nc4", ".cdf"):
        import xarray as xr

        try:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                if "lam" not in ds:
                    raise ValueError(f"spectrum.file {str(path)!r} has no variable 'lam'")
                return np.asarray(ds["lam"].values, dtype=float).ravel()
        except OSError as err:
            raise ValueError(f"spectrum.file {str(path)!r} is not a readable NetCDF file: {err}") from None
    if path.suffix == ".npy":
        try:
            return np.asarray(np.load(path, allow_pickle=False), dtype=float).ravel()
        except (ValueError, OSError) as err:
            raise ValueError(f"spectrum.file {str(path)!r} is not a readable .npy array of numbers: {err}") from None
    try:
        return np.loadtxt(path, dtype=float, ndmin=1).ravel()
    except ValueError as err:
        raise ValueError(f"spectrum.file {str(path)!r} is not a list of numbers: {err}") from None
