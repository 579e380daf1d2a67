r"""P6: the kernel :math:`\mathfrak K(\lambda_i, \lambda_k)` of R9 and the per-frequency contributions.

At the study's largest N, first :math:`\sigma`, first :math:`\gamma` and last :math:`\tau`: left, the symmetrised
contributions :math:`\lambda_i\lambda_k\mathfrak K_{ik}` (log colour scale, modes sorted by decreasing
:math:`\lambda`), whose sum is the predicted :math:`\mathbb E W_2^2`; right, the row sums split into bias (R5),
generalization (R7) and optimization (R8) against :math:`\lambda_i`.  The Monte-Carlo total at that point is
quoted for comparison.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory
from ..vocabulary import dataset
from ._data import first_setting, kappa_kwargs, sampler_kwargs, sgd_kwargs

DATA_TITLE = "data behind figure P6 (kernel)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``contribution (mode_i, mode_k)`` = :math:`\\lambda_i\\lambda_k\\mathfrak K_{ik}`, its row sums by term, MC."""
    summary = first_setting(summary)
    s = summary
    pt = s.isel(n_samples=-1, sigma=0, gamma=0, tau=-1)
    N, sg, g, t = (float(pt[k]) for k in ("n_samples", "sigma", "gamma", "tau"))
    lam = s["lam"].values
    kw, smp, kap = sgd_kwargs(s), sampler_kwargs(s), kappa_kwargs(s)
    F, D, _, _, _ = theory.variance_map(lam, sg, g, **smp)
    gen = theory.kernel_generalization(lam, sg, g, kw["model"], **smp, **kap) / N
    opt = (theory.kernel_optimization(lam, sg, g, t, kw["loss_factor"], kw["batch_size"], kw["model"]) if t > 0
           else np.zeros((lam.size, lam.size)))
    full = theory.contributions(lam, N, sg, g, t, **kw, **smp, **kap)
    dims = ("mode_i", "mode_k")
    return dataset(
        {
            "contribution": (dims, full),
            "bias_row": ("mode_i", np.where(lam + F > 0, D**2 / np.where(lam + F > 0, (np.sqrt(F) + np.sqrt(lam)) ** 2, 1.0), 0.0)),
            "generalization_row": ("mode_i", gen.sum(axis=1)),
            "optimization_row": ("mode_i", opt.sum(axis=1)),
            "lam_i": ("mode_i", lam),
            "mc_mean": ((), float(pt["mc_mean"]), "mc_mean_point"),
            "mc_stderr": ((), float(pt["mc_stderr"])),
        },
        attrs={"n_samples": N, "sigma": sg, "gamma": g, "tau": t},
    )


def draw(data: xr.Dataset):
    import matplotlib

    from ._plot import colors, finish, loglog, plt, style

    full = data["contribution"].values
    sym = 0.5 * (full + full.T)
    lam = data["lam_i"].values
    style()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.3), gridspec_kw={"width_ratios": [1.1, 1]}, layout="constrained")
    ax = axes[0]
    pos = np.where(sym > 0, sym, np.nan)
    vmax = np.nanmax(pos)
    im = ax.imshow(pos, cmap="viridis", norm=matplotlib.colors.LogNorm(vmin=vmax * 1e-6, vmax=vmax), origin="upper")
    fig.colorbar(im, ax=ax, label=r"$\lambda_i\lambda_k\,\mathfrak{K}_{ik}$ (symmetrised)", shrink=0.85)
    ax.set_xlabel("mode k (decreasing λ)")
    ax.set_ylabel("mode i (decreasing λ)")
    ax.set_title("kernel contributions")
    ax.grid(False)
    ax = axes[1]
    rows = {"bias (R5)": "bias_row", "generalization (R7)": "generalization_row", "optimization (R8)": "optimization_row"}
    for (name, key), col in zip(rows.items(), colors(3)):
        v = data[key].values
        if np.any(v > 0):
            ax.plot(lam, np.where(v > 0, v, np.nan), "o-", ms=3, color=col, label=name)
    ax.plot(lam, full.sum(axis=1), "k-", lw=1.2, label="total row sum")
    loglog(ax)
    ax.set_xlabel(r"eigenvalue $\lambda_i$ (power spectrum)")
    ax.set_ylabel(r"contribution of mode i to $\mathbb{E}\,W_2^2$")
    mc, se = float(data["mc_mean"]), float(data["mc_stderr"])
    ax.set_title(f"Σ = {full.sum():.4g} (theory) vs MC {mc:.4g} ± {se:.2g}", fontsize=9)
    ax.legend(fontsize=8)
    a = data.attrs
    title = (f"P6 [{a.get('study', '')}]: kernel-type norm, N = {a['n_samples']:g}, σ = {a['sigma']:g}, "
             f"γ = {a['gamma']:g}, τ = {a['tau']:g}")
    return finish(fig, title)
