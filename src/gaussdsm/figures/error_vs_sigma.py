r"""P4: error against the DSM noise amplitude :math:`\sigma`, for several (:math:`\gamma`, :math:`\tau`, N).

Bias grows with :math:`\sigma` (R5), the generalization error (R7) and the optimization error (R8,
:math:`\propto \tau/\sigma^2`) fall: an interior optimum :math:`\sigma^\star` (stars: minimum of the theory line;
triangles: Monte-Carlo argmin on the grid).  Rows: N; columns: :math:`\gamma`; colour: :math:`\tau`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vocabulary import attrs
from ._data import first_setting, dense_log, mc_sigma_star, mc_vars, theory_on

DATA_TITLE = "data behind figure P4 (error vs sigma)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (n_samples, gamma, tau, sigma_dense)``, its argmin ``theory_sigma_star`` and the MC points."""
    summary = first_setting(summary)
    s = summary
    s_dense = dense_log(s["sigma"].values, 160)
    th = theory_on(s, s["n_samples"].values, s_dense, s["gamma"].values, s["tau"].values)
    th = th.transpose("n_samples", "gamma", "tau", "sigma")
    lines = th["total"].where(th["valid"] > 0)
    finite = np.where(np.isfinite(lines.values), lines.values, np.inf)
    star = xr.DataArray(s_dense[np.argmin(finite, axis=-1)], dims=("n_samples", "gamma", "tau"),
                        attrs=attrs("theory_sigma_star"))
    return xr.Dataset({
        "theory_line": lines.rename(sigma="sigma_dense").assign_attrs(attrs("theory_line_sigma")),
        "theory_sigma_star": star,
        **mc_vars(s),
    }, attrs={"model": str(s.attrs.get("theory_model", "full"))})


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, error_label, finish, key, loglog, mark, mc_points, panels, theory_name

    Ns, sigmas, gammas, taus = (data[k].values for k in ("n_samples", "sigma", "gamma", "tau"))
    s_dense = data["sigma_dense"].values
    col = colors(len(taus))
    fig, axes = panels(len(Ns), len(gammas), 4.2, 3.5, sharex=True)
    outside = False
    for i, N in enumerate(Ns):
        for k, g in enumerate(gammas):
            ax = axes[i, k]
            for j, t in enumerate(taus):
                pt = data.sel(n_samples=N, gamma=g, tau=t)
                y = pt["theory_line"].values
                ax.plot(s_dense, y, color=col[j], lw=1.5, label=f"τ = {t:g}")
                if np.any(np.isfinite(y)):
                    m = int(np.nanargmin(y))
                    if 0 < m < y.size - 1 and np.isfinite(y[m - 1]) and np.isfinite(y[m + 1]):
                        ax.plot(s_dense[m], y[m], "*", color=col[j], ms=11, mec="k", mew=0.5)
                    else:
                        outside = True
                mc_points(ax, sigmas, pt, col[j])
                best = mc_sigma_star(data, N, g, t)[0]
                if np.isfinite(best):
                    ax.plot(best, float(pt["mc_mean"].sel(sigma=best)), "v", color=col[j], ms=8, mec="k", mew=0.5)
            loglog(ax)
            ax.set_title(f"N = {N}, γ = {g:g}")
            if i == len(Ns) - 1:
                ax.set_xlabel("DSM noise amplitude σ")
        axes[i, 0].set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$"))
    marks = [mark(f"solid: {theory_name(data.attrs.get('model'))}"),
             mark("★ its minimum", marker="*", ls="", ms=11, mec="k", mew=0.5),
             mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
             mark("▼ Monte-Carlo argmin on the σ grid", marker="v", ls="", ms=8, mec="k", mew=0.5),
             *diverged_marks(data)]
    if outside:
        marks.append(mark("(no ★ on a line: its minimum lies\noutside the drawn σ range, see P5)", ls=""))
    key(fig, axes[0, 0], marks)
    return finish(fig, f"P4 [{data.attrs.get('study', '')}]: error vs noise amplitude σ")
