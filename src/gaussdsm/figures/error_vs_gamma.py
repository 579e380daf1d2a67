r"""P3: error against the Langevin step :math:`\gamma`, up to and beyond the stability bound.

Lines: theory R9 on a dense :math:`\gamma` grid, which blows up as :math:`\gamma \to 2(\lambda_{\min} + \sigma^2)`
(dashed vertical lines, R4/R5).  Points: Monte Carlo (exact fit), conditional on a stable chain; a cross marks
points where some draws diverged (the empirical :math:`\hat\Sigma` has a smaller eigenvalue than
:math:`\lambda_{\min}`), an X at the top points where all did.  One column per N, colour = :math:`\sigma`,
first :math:`\tau`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..samplers import ULA
from ..vocabulary import attrs
from ._data import first_setting, mc_vars, theory_on

DATA_TITLE = "data behind figure P3 (error vs gamma)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (n_samples, sigma, gamma_dense)`` (NaN beyond the bound), ``stability_bound (sigma)``, MC."""
    summary = first_setting(summary)
    s = summary.isel(tau=0)
    lam_min = float(s["lam"].min())
    sigmas, gammas = s["sigma"].values, s["gamma"].values
    g_dense = np.linspace(0.0, gammas.max(), 200)
    th = theory_on(s, s["n_samples"].values, sigmas, g_dense, float(s["tau"]))
    th = th.transpose("n_samples", "sigma", "gamma")
    lines = th["total"].where(th["valid"] > 0)
    bound = xr.DataArray(ULA.max_step(lam_min, sigmas), dims="sigma", attrs=attrs("stability_bound"))
    return xr.Dataset({
        "theory_line": lines.rename(gamma="gamma_dense").assign_attrs(attrs("theory_line_gamma")),
        "stability_bound": bound,
        **mc_vars(s),
    }, attrs={"model": str(s.attrs.get("theory_model", "full"))})


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, error_label, finish, key, mark, mc_points, panels, theory_name

    Ns, sigmas, gammas = data["n_samples"].values, data["sigma"].values, data["gamma"].values
    g_dense = data["gamma_dense"].values
    col = colors(len(sigmas))
    fig, axes = panels(1, len(Ns), 4.4, 3.9, sharey=True)
    for i, N in enumerate(Ns):
        ax = axes[0, i]
        for j, sg in enumerate(sigmas):
            at = data.sel(n_samples=N, sigma=sg)
            ax.plot(g_dense, at["theory_line"].values, color=col[j], lw=1.5, label=f"σ = {sg:g}")
            ax.axvline(float(at["stability_bound"]), color=col[j], ls="--", lw=0.8)
            mc_points(ax, gammas, at, col[j])
        ax.set_yscale("log")
        mc = data["mc_mean"].sel(n_samples=N).values
        if np.any(np.isfinite(mc)):
            ax.set_ylim(np.nanmin(mc) / 3, np.nanmax(mc) * 30)
        ax.set_xlabel("Langevin step γ")
        ax.set_title(f"N = {N}")
    axes[0, 0].set_ylabel(error_label(data, r"$\mathbb{E}[W_2^2 \mid$ stable chain$]$"))
    key(fig, axes[0, 0], [mark(f"solid: {theory_name(data.attrs.get('model'))}"),
                          mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
                          mark("dashed: stability bound\nγ = 2(λ_min + σ²)", ls="--", lw=0.8), *diverged_marks(data)])
    return finish(fig, f"P3 [{data.attrs.get('study', '')}]: error vs Langevin step γ")
