r"""P8: :math:`\mathbb E W_2^2` against the stopping time :math:`t_{\min}` for several N (our proposal).

Left: the first-order theory (samplers.md §5) on a dense :math:`t_{\min}` grid, one line per N: the stopping bias
:math:`W_2^2(p_{t_{\min}}, p_0)` grows with :math:`t_{\min}`, the generalization error of scores learned from N samples
falls (:math:`\sigma_{t_{\min}}^2` regularises the score of low-variance directions, as σ² does for Langevin); a star
marks the optimal :math:`t_{\min}^\star(N)` (numerical minimiser on the dense grid); dotted: the stopping part
alone; points: Monte Carlo at the study's :math:`t_{\min}`.  Right: :math:`t_{\min}^\star` against N (log-log) with its
fitted slope.  At the study's first scheme, initialisation and n_steps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vocabulary import dataset
from ._data import diffusion_theory, mc_vars

DATA_TITLE = "data behind figure P8 (error vs t_min)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (n_samples, t_dense)``, ``stopping_line (t_dense)``, ``t_min_star (n_samples)``, its fitted
    ``t_min_star_slope`` and the MC points ``(n_samples, t_min)``."""
    s = summary.isel({k: 0 for k in ("scheme", "init", "n_steps") if k in summary.dims})
    tm = s["t_min"].values
    pos = tm[tm > 0]
    lo = (pos.min() if pos.size else 1e-4) / 10
    hi = tm.max() * 3
    T = float(s.attrs.get("theory_T", np.nan)) if "theory_T" in s.attrs else None
    if T is not None and np.isfinite(T):
        hi = min(hi, 0.5 * T)
    t_dense = np.geomspace(lo, hi, 80)
    Ns = s["n_samples"].values
    th = diffusion_theory(s, Ns, t_min=t_dense).transpose("n_samples", "t_min")
    lines = th["total"].values
    star = t_dense[np.argmin(np.where(np.isfinite(lines), lines, np.inf), axis=-1)]
    fin = np.isfinite(Ns.astype(float))
    slope = np.polyfit(np.log(Ns[fin].astype(float)), np.log(star[fin]), 1)[0] if fin.sum() >= 2 else np.nan
    return dataset(
        {
            "theory_line": (("n_samples", "t_dense"), lines, "theory_line_t_min"),
            "stopping_line": (("t_dense",), th["bias_stopping"].values, "bias_stopping"),
            "t_min_star": (("n_samples",), star, "t_min_star"),
            "t_min_star_slope": ((), slope, "t_min_star_slope"),
            **mc_vars(s),
        },
        coords={"t_dense": ("t_dense", t_dense, "t_min")},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, error_label, finish, key, loglog, mark, mc_points, panels

    Ns = data["n_samples"].values
    col = colors(len(Ns))
    td = data["t_dense"].values
    fig, axes = panels(1, 2, 4.8, 3.9)
    ax = axes[0, 0]
    outside = False
    for j, N in enumerate(Ns):
        y = data["theory_line"].values[j]
        ax.plot(td, y, color=col[j], lw=1.5, label="N = ∞" if np.isinf(N) else f"N = {N:g}")
        k = int(np.nanargmin(np.where(np.isfinite(y), y, np.nan)))
        if 0 < k < y.size - 1:
            ax.plot(td[k], y[k], "*", color=col[j], ms=11, mec="k", mew=0.5)
        else:
            outside = True
        mc_points(ax, data["t_min"].values, data.sel(n_samples=N), col[j])
    ax.plot(td, data["stopping_line"].values, "k:", lw=1)
    loglog(ax)
    ax.set_xlabel("stopping time t_min")
    ax.set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$"))
    marks = [mark("solid: theory"), mark("★ its minimum: t_min*(N)", marker="*", ls="", ms=11, mec="k", mew=0.5),
             mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
             mark("dotted: stopping part W₂²(p_tmin, p₀)", ls=":", color="k", lw=1), *diverged_marks(data)]
    if outside:
        marks.append(mark("(no ★: the minimum is at an end\nof the t_min range, e.g. N = ∞: t_min → 0)", ls=""))
    key(fig, ax, marks)
    ax = axes[0, 1]
    fin = np.isfinite(Ns.astype(float))
    ax.plot(Ns[fin], data["t_min_star"].values[fin], "o-", color="k", label="t_min*(N): the ★ of the left panel")
    ax.legend(fontsize=7)
    slope = float(data["t_min_star_slope"])
    if np.isfinite(slope):
        ax.set_title(f"fitted slope {slope:.2f}", fontsize=9)
    loglog(ax)
    ax.set_xlabel("number of training samples N")
    ax.set_ylabel("optimal stopping time t_min*(N) (theory)")
    return finish(fig, f"P8 [{data.attrs.get('study', '')}]: error against the stopping time t_min")
