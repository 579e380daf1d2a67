"""What the panels' ``draw`` functions share: the style, the axes grid, Monte-Carlo markers, titles, saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from . import LABEL  # noqa: E402

__all__ = ["plt", "sns", "style", "panels", "loglog", "colors", "mc_points", "finish", "save", "DIVERGED_NOTE"]

DIVERGED_NOTE = "× some draws diverged; X at top: all diverged"


def style() -> None:
    """The package's plotting style (seaborn ticks, colour-blind palette)."""
    sns.set_theme(context="paper", style="ticks", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.grid": True, "grid.alpha": 0.3})


def panels(rows: int, cols: int, width: float, height: float, **kw):
    """A styled ``rows x cols`` grid of axes of ``width x height`` inches each (``axes[i, j]`` always 2-D)."""
    style()
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained", **kw)


def loglog(*axes) -> None:
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")


def colors(n: int):
    return sns.color_palette("colorblind", n)


def mc_points(ax, x, pt, color, label=None, marker="o"):
    """MC means ± 1 s.e.; points with diverged draws as crosses; all-diverged points as ``X`` at the axis top."""
    mean, se = np.asarray(pt["mc_mean"].values, float), np.asarray(pt["mc_stderr"].values, float)
    div = np.asarray(pt["diverged"].values) > 0
    x = np.asarray(x, float)
    ok = ~div & np.isfinite(mean)
    ax.errorbar(x[ok], mean[ok], yerr=se[ok], fmt=marker, ms=4, color=color, capsize=2, lw=1, label=label)
    part = div & np.isfinite(mean)
    if np.any(part):
        ax.plot(x[part], mean[part], "x", color=color, ms=7, mew=1.5)
    allgone = div & ~np.isfinite(mean)
    if np.any(allgone):
        ax.plot(x[allgone], np.full(allgone.sum(), 0.97), "X", color=color, ms=8, transform=ax.get_xaxis_transform())


def finish(fig, title: str):
    """The figure's title and the reconstruction label; returns ``fig``."""
    fig.suptitle(f"{title}\n{LABEL}", fontsize=9)
    return fig


def save(fig, outputs, dpi: int = 150) -> None:
    """Save ``fig`` to every path in ``outputs`` (format from the suffix) and close it.

    Matplotlib's PDF backend embeds a creation date; it is fixed (``None``) so that reruns reproduce the file.
    """
    for path in outputs:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=meta)
    plt.close(fig)
