"""What the panels' ``draw`` functions share: the style, the axes grid, Monte-Carlo markers, titles, saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from cycler import cycler  # noqa: E402

from . import LABEL  # noqa: E402

__all__ = ["plt", "style", "panels", "loglog", "colors", "mc_points", "finish", "save", "mark", "error_label",
           "shade", "diverged_marks", "key", "theory_name", "n_equals_d_label"]

PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
           "#56b4e9")
"""Seaborn's ``colorblind`` palette (Waskom 2021), cycled."""

_DARK, _TICK, _MINOR = ".15", 4.8, 3.2
STYLE = {
    # seaborn 0.13 ``set_theme(context="paper", style="ticks", font_scale=1.1)``, written out: importing seaborn
    # (scipy.stats, pandas plotting) cost 0.8 s of every figure job's 2-3 s.
    "axes.axisbelow": True, "axes.edgecolor": _DARK, "axes.labelcolor": _DARK, "axes.linewidth": 1.0,
    "axes.labelsize": 10.56, "axes.titlesize": 10.56, "font.size": 10.56, "legend.fontsize": 9.68,
    "legend.title_fontsize": 10.56, "xtick.labelsize": 9.68, "ytick.labelsize": 9.68,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "grid.color": ".8", "lines.linewidth": 1.2, "lines.markersize": 4.8, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "patch.linewidth": 0.8, "text.color": _DARK,
    **{f"{a}tick.{k}": v for a in "xy" for k, v in (("color", _DARK), ("major.size", _TICK), ("major.width", 1.0),
                                                    ("minor.size", _MINOR), ("minor.width", 0.8))},
    "axes.prop_cycle": cycler(color=PALETTE),
    # the package's own
    "figure.dpi": 100, "savefig.bbox": "tight", "axes.grid": True, "grid.alpha": 0.3,
}
"""The package's plotting style: seaborn's "ticks" look at "paper" size, the colour-blind palette, light grids."""


def style() -> None:
    """Apply :data:`STYLE` (matplotlib defaults first, so a figure never depends on the one drawn before it)."""
    plt.rcdefaults()
    plt.rcParams.update(STYLE)


def panels(rows: int, cols: int, width: float, height: float, **kw):
    """A styled ``rows x cols`` grid of axes of ``width x height`` inches each (``axes[i, j]`` always 2-D)."""
    style()
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained", **kw)


def loglog(*axes) -> None:
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")


def colors(n: int) -> list:
    """``n`` colours of :data:`PALETTE` (cycled), as RGB tuples."""
    return [matplotlib.colors.to_rgb(PALETTE[i % len(PALETTE)]) for i in range(n)]


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


def mark(label: str, **style):
    """A legend entry for a kind of mark (grey unless ``color``): ``mark("dashed: N = inf", ls="--")``,
    ``mark("MC", marker="o", ls="")``.  Returns ``(handle, label)``."""
    from matplotlib.lines import Line2D

    return Line2D([], [], **{"color": "0.35", "lw": 1.2, **style}), label


def shade(label: str, color, alpha: float):
    """A legend entry for a shaded region (as drawn by ``axvspan(..., color=color, alpha=alpha)``)."""
    from matplotlib.patches import Patch

    return Patch(color=color, alpha=alpha, lw=0), label


def diverged_marks(*pts) -> list:
    """The legend entries for :func:`mc_points`' divergence marks that the MC points ``pts`` actually have."""
    div = np.concatenate([np.ravel(pt["diverged"].values) for pt in pts]) > 0
    finite = np.isfinite(np.concatenate([np.ravel(pt["mc_mean"].values) for pt in pts]).astype(float))
    out = []
    if np.any(div & finite):
        out.append(mark("× some draws diverged (mean of the others)", marker="x", ls="", ms=7, mew=1.5))
    if np.any(div & ~finite):
        out.append(mark("X at the top: every draw diverged", marker="X", ls="", ms=8))
    return out


def key(fig, ax, marks=(), fontsize: int = 8, colours: bool = True):
    """The figure's legend, outside the axes (below them, or beside a single column of panels: it can hide
    nothing): the colour entries labelled on ``ax`` (unless ``colours`` is False: each panel has its own), then
    ``marks`` (:func:`mark` / :func:`shade` pairs of what the panels draw)."""
    handles, labels = ax.get_legend_handles_labels() if colours else ([], [])
    for h, lab in marks:
        handles.append(h)
        labels.append(lab)
    one_column = len({round(a.get_position().x0, 3) for a in fig.axes if a.get_subplotspec() is not None}) == 1
    lines = [lab.count("\n") + 1 for lab in labels]
    pt = fontsize / 72.0  # inches
    if one_column:  # a single column of panels: beside them, the figure widened by the legend's width
        loc, ncols = "outside right center", 1
        fig.set_figwidth(fig.get_figwidth() + 0.6 * pt * max(len(x) for lab in labels for x in lab.split("\n")) + 0.8)
    else:  # below the panels, the figure heightened by the legend's height (the panels keep their size)
        loc, ncols = "outside lower center", max(2, min(len(handles), int(fig.get_figwidth() // 3.2)))
        rows = -(-sum(lines) // ncols) + 1
        fig.set_figheight(fig.get_figheight() + 1.45 * pt * rows + 0.3)
    fig.legend(handles, labels, loc=loc, ncols=ncols, fontsize=fontsize, frameon=False, alignment="left")


THEORY_NAMES = {"full": "theory R9", "diagonal": "theory R9 (R11: diagonal model)",
                "fourier": "theory R9 (R11: Fourier model)",
                "conv": "theory: conv model's locality bias (exact) + 1/N expansion"}
"""The legend's name of a panel's first-order theory line by the study's denoiser (``theory_model``)."""


def theory_name(model: str | None) -> str:
    """The legend's name of the theory line of a study of denoiser ``model`` (:data:`THEORY_NAMES`)."""
    return THEORY_NAMES.get(str(model or "full"), "theory R9")


def n_equals_d_label(d: int, model: str | None) -> str:
    """The legend's entry of the line N = d: the empirical covariance is singular below it, which matters to the
    full model only (the diagonal, Fourier and conv models estimate per-mode or patch variances)."""
    if str(model or "full") == "full":
        return f"dashed: N = d = {d} (below it Σ̂ is singular)"
    return f"dashed: N = d = {d}"


def error_label(data, w2_label: str, what: str = "E") -> str:
    """The error axis's label: the panel's own W2 label, or for data of another metric (``data.attrs["metric"]``,
    :func:`gaussdsm.figures._data.metric_view`) ``what`` and that metric's long name."""
    if "metric" not in data.attrs:
        return w2_label
    from ..metrics import get

    return f"{what} {get(data.attrs['metric']).long_name}"


def finish(fig, title: str):
    """The figure's title and the reconstruction label; returns ``fig``."""
    fig.suptitle(f"{title}\n{LABEL}", fontsize=9)
    return fig


def save(fig, outputs, dpi: int = 150) -> None:
    """Save ``fig`` to every path in ``outputs`` (format from the suffix) and close it, laid out once.

    The layout (constrained layout, then the tight bounding box padded by ``savefig.pad_inches``) is computed by one
    draw and frozen: each format then costs one draw, where ``savefig(bbox_inches="tight")`` would lay the figure
    out twice per format.  Matplotlib's PDF backend embeds a creation date and the PNG one its version; both are
    left out so that reruns reproduce the files.
    """
    fig.set_dpi(dpi)
    fig.draw_without_rendering()  # runs the layout engine
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.set_layout_engine(None)
    for path in outputs:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=meta, bbox_inches=bbox)
    plt.close(fig)
