"""The Monte-Carlo estimator (the one owner): the mean over stable draws, its standard error, the number of
diverged draws, and the z-score against theory (theory.md §7.2 note 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["MCResult", "estimate", "zscore", "summarize"]


@dataclass(frozen=True)
class MCResult:
    """Monte-Carlo estimate of :math:`\\mathbb E[W_2^2 \\mid \\text{stable}]` at one point (see :func:`estimate`).

    ``w2sq`` holds the per-replicate values (mean over the replicate's stable snapshots; NaN where all diverged).
    """

    mean: float
    stderr: float
    n_valid: int
    n_diverged: int
    w2sq: np.ndarray

    def __str__(self) -> str:
        return f"{self.mean:.6g} ± {self.stderr:.2g} (n={self.n_valid}, diverged={self.n_diverged})"


def _label(value) -> str:
    v = value.item() if hasattr(value, "item") else value
    return f"{v:g}" if isinstance(v, float) else str(v)


def _reject_unflagged(w2sq: xr.DataArray, diverged: xr.DataArray, replicate: str, snapshot: str) -> None:
    """Raise if a draw that is not flagged diverged has a non-finite value, listing the points it happens at."""
    bad = (~diverged) & ~np.isfinite(w2sq)
    if not bool(bad.any()):
        return
    n_bad = bad.any(snapshot).sum(replicate)
    skip = {replicate, snapshot, "point"}
    if n_bad.ndim == 0:
        raise ValueError(f"non-finite W2 errors in replicates not flagged diverged: {int(n_bad)} replicate(s)")
    where = []
    for idx in zip(*np.nonzero(n_bad.values)):
        pt = n_bad[idx]
        labels = [f"{k}={_label(pt[k])}" for k in pt.coords if k not in skip and pt[k].ndim == 0]
        where.append(f"{', '.join(labels)}: {int(pt)} replicate(s)")
    raise ValueError("non-finite W2 errors in replicates not flagged diverged:\n  " + "\n  ".join(where))


def estimate(values: xr.DataArray, diverged: xr.DataArray, *, used=None, deterministic=None, replicate: str = "replicate",
             snapshot: str = "snapshot") -> xr.Dataset:
    r"""The Monte-Carlo estimator of :math:`\mathbb E[W_2^2 \mid \text{stable}]` (theory.md §7.2 note 5, §7.3 note 11).

    A replicate (one training set, one SGD chain) contributes the mean of its stable snapshots; the estimate is
    the mean over replicates with at least one stable snapshot, its standard error the standard deviation
    (``ddof = 1``) over those replicates divided by :math:`\sqrt n` (replicates are independent; snapshots of one
    chain are not).

    Parameters
    ----------
    values : xarray.DataArray
        Per-draw values with dims ``(..., replicate, snapshot)`` (W2^2, or a paired difference).
    diverged : xarray.DataArray of bool, same dims
        Draws whose chain diverged: left out, and counted.
    used : xarray.DataArray of bool, optional
        Replicates that were drawn (default all): a deterministic point (the population score) fills one.
    deterministic : xarray.DataArray of bool, optional
        Points whose value is exact, not random (the population score): standard error 0.

    Returns
    -------
    xarray.Dataset
        Over the remaining dims ``(...)``: ``mean``, ``stderr`` (NaN for fewer than 2 replicates), ``n`` (stable
        replicates), ``n_diverged`` (diverged draws, replicate x snapshot), and ``replicate_mean``
        ``(..., replicate)``.

    Raises
    ------
    ValueError
        If a draw that is *not* flagged diverged is not finite: NaN never passes silently.  The message lists
        the points (their scalar coordinates) and how many replicates are affected.
    """
    div = diverged.astype(bool)
    if used is not None:
        values, div = values.where(used), div & used
    _reject_unflagged(values if used is None else values.where(used, 0.0), div, replicate, snapshot)
    rep_ok = (~div).any(snapshot) if used is None else ((~div) & used).any(snapshot)
    rep = values.where(~div).mean(snapshot, skipna=True).where(rep_ok)
    n_ok = rep_ok.sum(replicate)
    std = rep.std(replicate, ddof=1)
    stderr = std / np.sqrt(n_ok.where(n_ok > 1))
    if deterministic is not None:
        stderr = xr.where(deterministic & (n_ok == 1), 0.0, stderr)
    return xr.Dataset({
        "mean": rep.mean(replicate),
        "stderr": stderr,
        "n": n_ok.astype(np.int64),
        "n_diverged": div.sum((replicate, snapshot)).astype(np.int64),
        "replicate_mean": rep,
    })


def zscore(mean, stderr, reference):
    r""":math:`(\text{mean} - \text{reference}) / \text{stderr}`; NaN where the standard error is not positive.

    Floats or arrays/DataArrays alike.
    """
    if isinstance(stderr, xr.DataArray):
        return (mean - reference) / stderr.where(stderr > 0)
    stderr = np.asarray(stderr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > 0, (np.asarray(mean) - reference) / np.where(stderr > 0, stderr, 1.0), np.nan)
    return float(z) if z.ndim == 0 else z


def summarize(w2sq, diverged, deterministic: bool = False) -> MCResult:
    """:func:`estimate` for numpy arrays ``(R,)`` (one draw per replicate) or ``(R, S)`` (S snapshots).

    ``deterministic``: the value is not random (the population score, one replicate): standard error 0.

    Raises
    ------
    ValueError
        If a draw that is not flagged diverged has a non-finite value.
    """
    w2sq = np.asarray(w2sq, dtype=float)
    diverged = np.asarray(diverged, dtype=bool)
    if w2sq.ndim == 1:
        w2sq, diverged = w2sq[:, None], diverged[:, None]
    dims = ("replicate", "snapshot")
    est = estimate(xr.DataArray(w2sq, dims=dims), xr.DataArray(diverged, dims=dims),
                   deterministic=xr.DataArray(bool(deterministic)) if deterministic else None)
    return MCResult(float(est["mean"]), float(est["stderr"]), int(est["n"]), int(est["n_diverged"]),
                    est["replicate_mean"].values)
