"""Figures (seaborn/matplotlib) from a study summary.

Every figure is **our proposal** for testing the reconstructed formulas
(theory.md §4, P1-P7): a reconstruction of the analysis, not one of the
paper's original figures (they are not available).  Each carries that label.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from . import theory  # noqa: E402
from .io import read_dataset, write_dataset  # noqa: E402

__all__ = ["LABEL", "style", "save", "error_vs_n"]

LABEL = "reconstruction of the analysis; not the paper's original figure"


def style() -> None:
    """The package's plotting style (seaborn ticks, colour-blind palette)."""
    sns.set_theme(context="paper", style="ticks", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.grid": True, "grid.alpha": 0.3})


def save(fig, outputs, dpi: int = 150) -> None:
    """Save ``fig`` to every path in ``outputs`` (format from the suffix) and close it.

    Matplotlib's PDF backend embeds a creation date; it is fixed (``None``)
    so that reruns reproduce the file.
    """
    for path in outputs:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=meta)
    plt.close(fig)


def _theory_curve(summary: xr.Dataset, n_dense: np.ndarray, sigma: float, gamma: float, tau: float) -> np.ndarray:
    ds = theory.error_terms(
        summary["lam"].values,
        n_dense,
        sigma,
        gamma,
        tau,
        loss_factor=float(summary.attrs.get("theory_loss_factor", 1.0)),
        batch_size=int(summary.attrs.get("theory_batch_size", 1)),
        model=str(summary.attrs.get("theory_model", "full")),
    )
    return ds["total"].values


def error_vs_n(
    summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None
) -> xr.Dataset:
    """P1: :math:`\\mathbb E W_2^2` against N (log-log), one panel per :math:`\\gamma`, colour = :math:`\\sigma`.

    Lines: theory R9 = bias + generalization (+ optimization), evaluated on a
    dense N grid; dotted: the bias floor :math:`\\mathcal B(\\sigma, \\gamma)`.
    Points: Monte-Carlo means with error bars = one standard error; points with
    diverged replicates are drawn as open crosses.

    Parameters
    ----------
    summary_path : path
        ``summary.nc`` of a study.
    outputs : list of path
        Figure files (``.png``, ``.pdf``, ...).
    data_out : path, optional
        NetCDF with the data behind the figure (MC points and dense theory lines).
    """
    s = read_dataset(summary_path, "figures", required=("mc_mean", "mc_stderr", "theory_total", "lam"))
    s = s.isel(tau=0)
    tau = float(s["tau"])
    N = s["n_samples"].values
    n_dense = np.unique(np.geomspace(N.min(), N.max(), 60).round().astype(int))
    gammas, sigmas = s["gamma"].values, s["sigma"].values
    style()
    colors = sns.color_palette("colorblind", len(sigmas))
    fig, axes = plt.subplots(1, len(gammas), figsize=(4.2 * len(gammas), 3.8), sharey=True, squeeze=False)
    lines = np.full((len(sigmas), len(gammas), n_dense.size), np.nan)
    for k, g in enumerate(gammas):
        ax = axes[0, k]
        for j, sg in enumerate(sigmas):
            lines[j, k] = _theory_curve(s, n_dense, sg, g, tau)
            pt = s.sel(sigma=sg, gamma=g)
            ax.plot(n_dense, lines[j, k], color=colors[j], lw=1.5, label=f"σ = {sg:g}")
            ax.axhline(float(pt["theory_bias"]), color=colors[j], lw=0.8, ls=":")
            ok = pt["diverged"].values == 0
            ax.errorbar(
                N[ok], pt["mc_mean"].values[ok], yerr=pt["mc_stderr"].values[ok],
                fmt="o", ms=4, color=colors[j], capsize=2, lw=1,
            )
            if np.any(~ok):
                ax.plot(N[~ok], pt["mc_mean"].values[~ok], "x", color=colors[j], ms=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of training samples N")
        ax.set_title(f"γ = {g:g}" + (" (continuous time)" if g == 0 else ""))
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ (data variance units)")
    axes[0, -1].legend(title="lines: theory (R9)\npoints: Monte Carlo ± 1 s.e.\ndotted: bias floor", fontsize=8)
    fig.suptitle(f"P1 {study}: error vs N — {LABEL}", fontsize=9)
    save(fig, outputs, dpi=dpi)
    data = xr.Dataset(
        {
            "theory_line": (
                ("sigma", "gamma", "n_dense"),
                lines,
                {"long_name": "theory R9 on a dense N grid", "units": "1"},
            ),
            "mc_mean": s["mc_mean"],
            "mc_stderr": s["mc_stderr"],
            "diverged": s["diverged"],
        },
        coords={"n_dense": ("n_dense", n_dense, {"long_name": "N of the dense theory grid", "units": "1"})},
    )
    if data_out is not None:
        write_dataset(data, data_out, provenance, title="data behind figure P1 (error vs N)")
    return data
