"""Argument checks shared by every module: one place, one wording.

Each check returns the value converted (``float``/``int``/``ndarray``) or raises ``ValueError`` with a message
that names the argument (or config key) and its allowed range, e.g.
``sigma must be a finite number >= 0, got -1.0``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["number", "integer", "count", "choice", "spectrum", "fmt"]


def _range_text(gt, ge, le) -> str:
    parts = []
    if gt is not None:
        parts.append(f"> {gt:g}")
    if ge is not None:
        parts.append(f">= {ge:g}")
    if le is not None:
        parts.append(f"<= {le:g}")
    return " and ".join(parts)


def number(name: str, value, *, gt=None, ge=None, le=None, allow_inf: bool = False, where: str = "") -> float:
    """A real number in a range: ``gt`` (strict lower bound), ``ge`` (lower bound), ``le`` (upper bound).

    ``allow_inf`` admits ``+inf`` (e.g. ``n_samples = inf`` for the population score).  ``where`` is appended to
    the message (e.g. ``" (kind='power_law')"``).
    """
    rng = _range_text(gt, ge, le)
    what = f"a {'' if allow_inf else 'finite '}number{' ' + rng if rng else ''}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}{where}, got {value!r}") from None
    ok = not math.isnan(v) and (math.isfinite(v) or (allow_inf and v == math.inf))
    ok = ok and (gt is None or v > gt) and (ge is None or v >= ge) and (le is None or v <= le)
    if not ok:
        raise ValueError(f"{name} must be {what}{where}, got {value!r}")
    return v


def integer(name: str, value, *, ge: int = 1, allow_inf: bool = False, where: str = ""):
    """An integer ``>= ge`` (``1000`` and ``1000.0`` both accepted); ``+inf`` too if ``allow_inf``.

    Returns an ``int``, or ``math.inf``.
    """
    what = f"an integer >= {ge}{' or inf' if allow_inf else ''}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {what}{where}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}{where}, got {value!r}") from None
    if allow_inf and v == math.inf:
        return math.inf
    if not (math.isfinite(v) and v == int(v) and v >= ge):
        raise ValueError(f"{name} must be {what}{where}, got {value!r}")
    return int(v)


def fmt(x: float) -> str:
    """A number in an error message: 6 significant digits."""
    return format(float(x), ".6g")


def count(x):
    """A count of a validated config: an int, or inf (``.inf``, or the string ``inf``, in YAML)."""
    return math.inf if x in ("inf", ".inf") or (isinstance(x, float) and math.isinf(x)) else int(x)


def choice(name: str, value, options) -> str:
    """One of ``options`` (the message lists them)."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(str, options))}; got {value!r}")
    return value


def spectrum(lam, *, name: str = "lam", allow_zero: bool = False) -> np.ndarray:
    """A spectrum: a non-empty 1-D array of finite eigenvalues ``> 0`` (``>= 0`` with ``allow_zero``)."""
    arr = np.asarray(lam, dtype=float)
    bound = ">= 0" if allow_zero else "> 0"
    bad = arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr))
    bad = bad or (np.any(arr < 0) if allow_zero else np.any(arr <= 0))
    if bad:
        raise ValueError(f"{name} must be a non-empty 1-D array of finite values {bound}")
    return arr
