"""Queries on a sweep of :func:`gaussdsm.error`: which settings come within a tolerance of a reference error, and
the cheapest of them (``gaussdsm error ... --within 10% --of floor --minimise nfe``); and the settings ranked at a
given number of score evaluations (``gaussdsm error ... --nfe 10``: each scheme at its own K, :func:`ranked`).

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

__all__ = ["COSTS", "REFERENCES", "parse_fraction", "cost", "reference", "qualifying", "n_steps_at_nfe", "ranked"]


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


def n_steps_at_nfe(nfe, schemes, steps_per_level: int | None = None, denoise: bool = False) -> dict[str, list[int]]:
    """For each diffusion scheme, the numbers of steps K at which it makes each of the ``nfe`` score evaluations:
    K = (NFE - [denoise]) / e, e the evaluations per step of its record (:class:`~gaussdsm.samplers.diffusion.Scheme`;
    annealed Langevin: ``steps_per_level``, default that of :data:`~gaussdsm.samplers.diffusion.DEFAULTS`), for the
    NFE values that give a whole K >= 1 (:attr:`gaussdsm.samplers.diffusion.Diffusion.nfe` counts the same way).

    Raises
    ------
    ValueError
        A scheme that reaches none of them (one line naming it, its evaluations per step and the NFE values).
    """
    from .samplers.diffusion import DEFAULTS, scheme_record

    out, none = {}, []
    for name in schemes:
        e = scheme_record(name).evals
        e = int(e if e is not None else (steps_per_level or DEFAULTS["steps_per_level"]))
        out[name] = [(int(n) - int(denoise)) // e for n in nfe
                     if (int(n) - int(denoise)) % e == 0 and int(n) - int(denoise) >= e]
        if not out[name]:
            none.append(f"{name} ({e} per step)")
    if none:
        raise ValueError(f"--nfe {','.join(f'{int(n)}' for n in nfe)}: no whole number of steps for "
                         f"{', '.join(none)}; give NFE values that its evaluations per step divide")
    return out


def ranked(rows: list[dict], nfe) -> list[tuple[float, list[tuple[int, dict]]]]:
    """The rows of a sweep (one per point, each with ``nfe``, ``total``, ``valid``) at each NFE of ``nfe``, ranked by
    ``total`` (lowest first; ties keep the sweep's order); undefined points (``valid`` false or ``total`` not
    finite) last, unranked (rank 0).  Returns ``[(nfe, [(rank, row), ...]), ...]``."""
    out = []
    for n in nfe:
        at = [r for r in rows if r.get("nfe") == float(n)]
        ok = sorted((r for r in at if r["valid"] and math.isfinite(r["total"])), key=lambda r: r["total"])
        rest = [r for r in at if not (r["valid"] and math.isfinite(r["total"]))]
        out.append((float(n), [(i + 1, r) for i, r in enumerate(ok)] + [(0, r) for r in rest]))
    return out
