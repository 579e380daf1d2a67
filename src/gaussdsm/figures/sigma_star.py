r"""P5: optimal noise amplitude :math:`\sigma^\star` against :math:`\gamma` and against :math:`\tau` (log-log).

Lines: numerical minimiser of the theory R9 over :math:`\sigma` (:func:`gaussdsm.optimal.optimal_sigma`) at the
study's largest N (solid) and at :math:`N = \infty` (dashed), with the asymptotic slopes of R10 (dotted, drawn
only in their regime): :math:`\sigma^{\star 2} \propto \tau^{1/3}` for :math:`\gamma \ll \sigma^2` and
:math:`\propto (\tau/\gamma)^{1/2}` for :math:`\gamma \gg \sigma^2`.  Points: Monte-Carlo argmin over the study's
:math:`\sigma` grid; the bar spans the grid values whose mean is within 2 standard errors of the minimum.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import xarray as xr

from .. import optimal
from ..vocabulary import dataset
from ._data import first_setting, mc_sigma_star, mc_vars, sgd_kwargs

DATA_TITLE = "data behind figure P5 (optimal sigma)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """sigma* lines against gamma and tau (N and N = inf), the R10 branches in their regime, the MC argmin."""
    summary = first_setting(summary)
    s = summary
    N = int(s["n_samples"].values.max())
    lam = s["lam"].values
    kw = sgd_kwargs(s)
    gammas, taus = s["gamma"].values, s["tau"].values
    tpos, gpos = taus[taus > 0], gammas[gammas > 0]
    # dense axes reach far below the grid so that the asymptotic regimes of R10 show
    g_dense = np.geomspace((gpos.min() if gpos.size else 1e-3) / 100, max(gammas.max(), 1e-3) * 3, 40)
    t_dense = np.geomspace((tpos.min() if tpos.size else 1e-5) / 1000, max(taus.max(), 1e-5) * 3, 40)
    star = functools.partial(optimal.optimal_sigma, on_bound="nan", **kw)  # at a bound: not drawn
    vs_gamma = np.full((2, len(taus), g_dense.size), np.nan)
    vs_tau = np.full((2, len(gammas), t_dense.size), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimal.OptimalSigmaWarning)
        for a, n in enumerate((N, np.inf)):
            for j, t in enumerate(taus):
                vs_gamma[a, j] = [star(lam, n, g, t) for g in g_dense]
            for k, g in enumerate(gammas):
                vs_tau[a, k] = [star(lam, n, g, t) for t in t_dense]
    # R10 (sigma*^2 asymptotes), kept only where their regime holds (gamma >> sigma*^2 or gamma << sigma*^2)
    r10_g = np.full((len(taus), g_dense.size), np.nan)
    for j, t in enumerate(taus):
        if t > 0:
            large = optimal.sigma_star_asymptotes(lam, g_dense, t, kw["loss_factor"])["large_gamma"]
            r10_g[j] = np.where(g_dense > 2 * large, np.sqrt(large), np.nan)
    r10_small, r10_large = np.full((2, len(gammas), t_dense.size), np.nan)
    for k, g in enumerate(gammas):
        asy = optimal.sigma_star_asymptotes(lam, g, t_dense, kw["loss_factor"])
        small, large = np.asarray(asy["small_gamma"]), np.asarray(asy["large_gamma"])
        r10_small[k] = np.where(2 * g < small, np.sqrt(small), np.nan)
        r10_large[k] = np.where(g > 2 * large, np.sqrt(large), np.nan)
    mc = np.array([[[mc_sigma_star(s, N, g, t)[0] for t in taus] for g in gammas]])
    return dataset(
        {
            "sigma_star_vs_gamma": (("n_limit", "tau", "gamma_dense"), vs_gamma, "sigma_star_theory"),
            "sigma_star_vs_tau": (("n_limit", "gamma", "tau_dense"), vs_tau, "sigma_star_theory"),
            "mc_sigma_star": (("n_limit_mc", "gamma", "tau"), mc),
            **mc_vars(s),
            "r10_vs_gamma": (("tau", "gamma_dense"), r10_g, ("r10_sigma_star", {"branch": "gamma >> sigma^2"})),
            "r10_small_gamma_vs_tau": (("gamma", "tau_dense"), r10_small,
                                       ("r10_sigma_star", {"branch": "gamma << sigma^2"})),
            "r10_large_gamma_vs_tau": (("gamma", "tau_dense"), r10_large,
                                       ("r10_sigma_star", {"branch": "gamma >> sigma^2"})),
        },
        coords={
            "n_limit": np.array([float(N), np.inf]),
            "n_limit_mc": np.array([float(N)]),
            "gamma_dense": g_dense,
            "tau_dense": t_dense,
        },
    )


def _mc_star_points(ax, data, N, gs, ts, x, color):
    """MC argmin over the sigma grid with its 2-s.e. confidence set; hollow if the argmin is at a grid edge."""
    sig = data["sigma"].values
    for g, t, xv in zip(gs, ts, x):
        if xv <= 0:
            continue  # log axis
        best, lo, hi = mc_sigma_star(data, N, g, t)
        if not np.isfinite(best):
            continue
        edge = best in (sig.min(), sig.max())
        ax.errorbar([xv], [best], yerr=[[best - lo], [hi - best]], fmt="o", color=color, ms=5, capsize=2,
                    mfc="none" if edge else color)


def draw(data: xr.Dataset):
    from ._plot import colors, finish, loglog, panels

    N = int(data["n_limit_mc"].values[0])
    gammas, taus = data["gamma"].values, data["tau"].values
    g_dense, t_dense = data["gamma_dense"].values, data["tau_dense"].values
    fig, axes = panels(1, 2, 4.75, 4.0)
    colors_t, colors_g = colors(len(taus)), colors(len(gammas))
    ax = axes[0, 0]
    for j, t in enumerate(taus):
        ax.plot(g_dense, data["sigma_star_vs_gamma"].values[0, j], color=colors_t[j], lw=1.5, label=f"τ = {t:g}")
        ax.plot(g_dense, data["sigma_star_vs_gamma"].values[1, j], color=colors_t[j], lw=1, ls="--")
        ax.plot(g_dense, data["r10_vs_gamma"].values[j], color=colors_t[j], lw=0.8, ls=":")
        _mc_star_points(ax, data, N, gammas, [t] * len(gammas), gammas, colors_t[j])
    loglog(ax)
    ax.set_xlabel("Langevin step γ")
    ax.set_ylabel("optimal noise amplitude σ*")
    ax.legend(
        title=f"solid: theory, N = {N}\ndashed: N = ∞\ndotted: R10 where γ > 2σ*²\npoints: MC argmin on the σ grid\n"
        "(hollow: at the grid edge)", fontsize=8, title_fontsize=7,
    )
    ax = axes[0, 1]
    for k, g in enumerate(gammas):
        ax.plot(t_dense, data["sigma_star_vs_tau"].values[0, k], color=colors_g[k], lw=1.5, label=f"γ = {g:g}")
        ax.plot(t_dense, data["sigma_star_vs_tau"].values[1, k], color=colors_g[k], lw=1, ls="--")
        for branch in ("r10_small_gamma_vs_tau", "r10_large_gamma_vs_tau"):
            ax.plot(t_dense, data[branch].values[k], color=colors_g[k], lw=0.8, ls=":")
        _mc_star_points(ax, data, N, [g] * len(taus), taus, taus, colors_g[k])
    loglog(ax)
    ax.set_xlabel("SGD step τ")
    ax.legend(title="dotted: R10 in its regime\n(σ* ∝ τ^{1/6} if γ ≪ σ², ∝ (τ/γ)^{1/4} if γ ≫ σ²)", fontsize=8,
              title_fontsize=7)
    return finish(fig, f"P5 [{data.attrs.get('study', '')}]: optimal noise amplitude σ*")
