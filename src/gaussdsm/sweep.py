"""Queries on a sweep of :func:`gaussdsm.error`: which settings come within a tolerance of a reference error, and
the cheapest of them (``gaussdsm error ... --within 10% --of floor --minimise nfe``).

A point *qualifies* when its theory is defined (``valid``) and

.. math::

    \\texttt{total} \\le (1 + w)\\,\\texttt{reference},

with the reference either the **floor** -- the same setting's continuous-time (or stationary) law, ``n_steps = inf``,
every other option unchanged -- or the **best** -- the smallest defined ``total`` of the whole sweep.  Among the
qualifying points the cheapest by a cost of :data:`COSTS` wins (ties: the smaller ``total``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import xarray as xr

__all__ = ["COSTS", "REFERENCES", "parse_fraction", "cost", "reference", "qualifying"]


def _nfe(ds: xr.Dataset) -> xr.DataArray:
    """Score evaluations: diffusion's ``nfe``; Langevin chains evaluate the score once per step (``n_steps``)."""
    if "nfe" in ds:
        return ds["nfe"]
    return xr.broadcast(ds["n_steps"].astype(float), ds["total"])[0]


def _option(name: str) -> Callable[[xr.Dataset], xr.DataArray]:
    def get(ds: xr.Dataset) -> xr.DataArray:
        return xr.broadcast(ds[name].astype(float), ds["total"])[0]

    return get


COSTS: dict[str, Callable[[xr.Dataset], xr.DataArray]] = {
    "nfe": _nfe,
    "n_steps": _option("n_steps"),
    "n_samples": _option("n_samples"),
}
"""What ``--minimise`` can minimise, each a function of the sweep's Dataset (shape of ``total``)."""

REFERENCES = ("floor", "best")
"""``--of``: the same setting at ``n_steps = inf`` (``floor``) or the smallest total of the sweep (``best``)."""


def parse_fraction(text: str) -> float:
    """``'10%'`` -> 0.1, ``'0.1'`` -> 0.1 (a tolerance >= 0)."""
    t = str(text).strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"--within must be a fraction (0.1) or a percentage (10%), got {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"--within must be >= 0, got {text!r}")
    return v


def cost(ds: xr.Dataset, name: str) -> xr.DataArray:
    """The cost ``name`` of :data:`COSTS` at every point of ``ds``."""
    if name not in COSTS:
        raise ValueError(f"--minimise must be one of {', '.join(COSTS)}; got {name!r}")
    return COSTS[name](ds)


def reference(ds: xr.Dataset, of: str, floor: xr.Dataset | None = None) -> xr.DataArray:
    """The reference total at every point: ``floor['total']`` broadcast on ``ds`` (``of='floor'``), or the smallest
    defined total of ``ds`` (``of='best'``)."""
    if of == "floor":
        if floor is None:
            raise ValueError("of='floor' needs the floor: the sweep at n_steps = inf")
        ref = floor["total"].drop_vars([c for c in floor["total"].coords if c not in floor["total"].dims])
        return xr.broadcast(ref, ds["total"])[0]
    if of == "best":
        ok = ds["total"].where(ds["valid"] == 1)
        return xr.full_like(ds["total"], float(ok.min()) if bool(ok.notnull().any()) else np.nan)
    raise ValueError(f"--of must be one of {', '.join(REFERENCES)}; got {of!r}")


def qualifying(ds: xr.Dataset, within: float, ref: xr.DataArray, by: str) -> list[tuple[dict, float, float, float]]:
    """The points with ``valid`` and ``total <= (1 + within) ref``, cheapest first (ties: smaller total):
    ``[(point, cost, total, ref)]``, ``point`` the values of ``ds``'s dimensions there."""
    c = cost(ds, by)
    ok = (ds["valid"] == 1) & np.isfinite(ds["total"]) & np.isfinite(ref) & (ds["total"] <= (1 + within) * ref)
    dims = ds["total"].dims
    rows = []
    for idx in zip(*np.nonzero(np.atleast_1d(ok.transpose(*dims).values))) if dims else ([()] if bool(ok) else []):
        at = dict(zip(dims, idx))
        point = {k: ds[k].values[i].item() for k, i in at.items()}
        rows.append((point, float(c.isel(at)), float(ds["total"].isel(at)), float(ref.isel(at))))
    rows.sort(key=lambda r: (r[1], r[2]))
    return rows
