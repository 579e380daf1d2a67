r"""P1: :math:`\mathbb E W_2^2` against N (log-log), one panel per :math:`\gamma`, colour = :math:`\sigma`.

Lines: theory R9 = bias + generalization (+ optimization at the study's first :math:`\tau`), evaluated on a
dense N grid; dotted: the bias floor :math:`\mathcal B(\sigma, \gamma)` (R5).  Points: Monte-Carlo means with
error bars = one standard error; points with diverged replicates are drawn as crosses.  Above the floor the
excess decays like 1/N (slope −1).  Where the N grid spans d, a dashed line marks N = d (real data sets: the
empirical covariance is singular below it).
"""

from __future__ import annotations

import xarray as xr

from ..vocabulary import attrs
from ._data import first_setting, dense_n, mc_vars, theory_on

DATA_TITLE = "data behind figure P1 (error vs N)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (sigma, gamma, n_dense)``, ``theory_bias (sigma, gamma)`` and the MC points at the first tau."""
    summary = first_setting(summary)
    s = summary.isel(tau=0)
    n_dense = dense_n(s["n_samples"].values)
    th = theory_on(s, n_dense, s["sigma"].values, s["gamma"].values, float(s["tau"]))
    th = th.transpose("sigma", "gamma", "n_samples")
    line = th["total"].rename(n_samples="n_dense").assign_attrs(attrs("theory_line_n"))
    return xr.Dataset({"theory_line": line, **mc_vars(s), "theory_bias": s["theory_bias"]},
                      attrs={"d": int(s["lam"].size), "model": str(s.attrs.get("theory_model", "full"))})


def draw(data: xr.Dataset):
    from ._plot import (colors, diverged_marks, error_label, finish, key, loglog, mark, mc_points, n_equals_d_label,
                        panels, theory_name)

    tau = float(data["tau"])
    N, n_dense = data["n_samples"].values, data["n_dense"].values
    gammas, sigmas = data["gamma"].values, data["sigma"].values
    col = colors(len(sigmas))
    fig, axes = panels(1, len(gammas), 4.2, 3.8, sharey=True)
    d = int(data.attrs.get("d", 0))
    model = data.attrs.get("model")
    marks = [mark(f"solid: {theory_name(model)}"), mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
             mark("dotted: bias floor R5 (N = ∞)", ls=":", lw=0.8), *diverged_marks(data)]
    if N.min() < d < N.max():  # below d the empirical covariance is singular (full model: memorisation)
        marks.append(mark(n_equals_d_label(d, model), ls="--", lw=0.9, color="grey"))
    for k, g in enumerate(gammas):
        ax = axes[0, k]
        for j, sg in enumerate(sigmas):
            pt = data.sel(sigma=sg, gamma=g)
            ax.plot(n_dense, pt["theory_line"].values, color=col[j], lw=1.5, label=f"σ = {sg:g}")
            ax.axhline(float(pt["theory_bias"]), color=col[j], lw=0.8, ls=":")
            mc_points(ax, N, pt, col[j])
        if N.min() < d < N.max():
            ax.axvline(d, color="grey", ls="--", lw=0.9)
        loglog(ax)
        ax.set_xlabel("number of training samples N")
        ax.set_title(f"γ = {g:g}" + (" (continuous time)" if g == 0 else ""))
    axes[0, 0].set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$ (data variance units)"))
    key(fig, axes[0, 0], marks)
    title = f"P1 [{data.attrs.get('study', '')}]: error vs number of samples" + (f", τ = {tau:g}" if tau else "")
    return finish(fig, title)
