r"""P5: optimal noise amplitude :math:`\sigma^\star` against :math:`\gamma` and against :math:`\tau` (log-log).

Lines: numerical minimiser of the theory R9 over :math:`\sigma` (:func:`gaussdsm.optimal.optimal_sigma`) at the
study's largest N (solid) and at :math:`N = \infty` (dashed), with the asymptotic slopes of R10 (dotted, drawn
only in their regime): :math:`\sigma^{\star 2} \propto \tau^{1/3}` for :math:`\gamma \ll \sigma^2` and
:math:`\propto (\tau/\gamma)^{1/2}` for :math:`\gamma \gg \sigma^2`.  Points: Monte-Carlo argmin over the study's
:math:`\sigma` grid; the bar spans the grid values whose mean is within 2 standard errors of the minimum.
"""

from __future__ import annotations

import functools

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
    star = functools.partial(optimal.optimal_sigma_status, **kw)
    status_code = {"ok": 0, "lower": 1, "upper": 2, "none": 3}

    def line(points):
        """sigma* (NaN unless an interior minimum) and where it sits (0 interior, 1 lower edge, 2 upper, 3 none)."""
        xs, st = zip(*points)
        code = np.array([status_code[x] for x in st])
        return np.where(code == 0, xs, np.nan), code

    vs_gamma, vs_tau = np.full((2, len(taus), g_dense.size), np.nan), np.full((2, len(gammas), t_dense.size), np.nan)
    st_gamma, st_tau = np.zeros(vs_gamma.shape, int), np.zeros(vs_tau.shape, int)
    at_gamma0, at_tau0 = np.full((2, len(taus)), np.nan), np.full((2, len(gammas)), np.nan)  # off the log axes
    for a, n in enumerate((N, np.inf)):
        for j, t in enumerate(taus):
            vs_gamma[a, j], st_gamma[a, j] = line([star(lam, n, g, t) for g in g_dense])
            at_gamma0[a, j] = line([star(lam, n, 0.0, t)])[0][0]
        for k, g in enumerate(gammas):
            vs_tau[a, k], st_tau[a, k] = line([star(lam, n, g, t) for t in t_dense])
            at_tau0[a, k] = line([star(lam, n, g, 0.0)])[0][0]
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
            "sigma_star_status_vs_gamma": (("n_limit", "tau", "gamma_dense"), st_gamma, "sigma_star_status"),
            "sigma_star_status_vs_tau": (("n_limit", "gamma", "tau_dense"), st_tau, "sigma_star_status"),
            "sigma_star_at_gamma0": (("n_limit", "tau"), at_gamma0, "sigma_star_theory_gamma0"),
            "sigma_star_at_tau0": (("n_limit", "gamma"), at_tau0, "sigma_star_theory_tau0"),
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
    """MC argmin over the sigma grid with its 2-s.e. confidence set; hollow if the argmin is at a grid edge (returns
    whether any is)."""
    sig, hollow = data["sigma"].values, False
    for g, t, xv in zip(gs, ts, x):
        if xv <= 0:
            continue  # log axis
        best, lo, hi = mc_sigma_star(data, N, g, t)
        if not np.isfinite(best):
            continue
        edge = best in (sig.min(), sig.max())
        hollow |= edge
        ax.errorbar([xv], [best], yerr=[[best - lo], [hi - best]], fmt="o", color=color, ms=5, capsize=2,
                    mfc="none" if edge else color)
    return hollow


def _line_ends_at_zero(ax, x, y, status, color) -> bool:
    """Mark where a theory line stops because sigma* reached the lower edge (sigma* -> 0): a hollow triangle."""
    ok = np.isfinite(y)
    if not ok.any():
        return False
    last = int(np.flatnonzero(ok)[-1])
    if last + 1 < y.size and status[last + 1] == 1:
        ax.plot([x[last]], [y[last]], "v", color=color, ms=6, mfc="none")
        return True
    return False


def _off_axis_note(values, mc, names, what) -> str:
    """Theory and MC sigma* at the parameter value 0, which a log axis cannot show (lines under the axis label)."""
    th = [f"{v:.3g}" if np.isfinite(v) else "→ 0" for v in values]
    return (f"\nat {what} = 0 (off the log axis) σ*, theory / MC:\n"
            + "; ".join(f"{n}: {a} / {m:.3g}" for a, m, n in zip(th, mc, names)))


def draw(data: xr.Dataset):
    from ._plot import colors, finish, key, loglog, mark, panels

    N = int(data["n_limit_mc"].values[0])
    gammas, taus = data["gamma"].values, data["tau"].values
    g_dense, t_dense = data["gamma_dense"].values, data["tau_dense"].values
    fig, axes = panels(1, 2, 4.75, 4.0)
    colors_t, colors_g = colors(len(taus)), colors(len(gammas))
    drawn = {"dashed": False, "dotted": False, "hollow": False, "end": False}

    def curves(ax, x, lines, status, r10s, color):
        ax.plot(x, lines[0], color=color, lw=1.5)
        ax.plot(x, lines[1], color=color, lw=1, ls="--")
        for r in r10s:
            ax.plot(x, r, color=color, lw=0.8, ls=":")
        drawn["dashed"] |= bool(np.isfinite(lines[1]).any())
        drawn["dotted"] |= any(bool(np.isfinite(r).any()) for r in r10s)
        drawn["end"] |= _line_ends_at_zero(ax, x, lines[0], status[0], color)

    ax = axes[0, 0]
    for j, t in enumerate(taus):
        curves(ax, g_dense, data["sigma_star_vs_gamma"].values[:, j], data["sigma_star_status_vs_gamma"].values[:, j],
               [data["r10_vs_gamma"].values[j]], colors_t[j])
        ax.plot([], [], color=colors_t[j], lw=1.5, label=f"τ = {t:g}")
        drawn["hollow"] |= _mc_star_points(ax, data, N, gammas, [t] * len(gammas), gammas, colors_t[j])
    loglog(ax)
    ax.set_ylabel("optimal noise amplitude σ*")
    ax.set_xlabel("Langevin step γ" + (_off_axis_note(
        data["sigma_star_at_gamma0"].values[0], [mc_sigma_star(data, N, 0.0, t)[0] for t in taus],
        [f"τ = {t:g}" for t in taus], "γ") if 0.0 in gammas else ""))
    ax.legend(fontsize=8, loc="best")
    ax = axes[0, 1]
    for k, g in enumerate(gammas):
        curves(ax, t_dense, data["sigma_star_vs_tau"].values[:, k], data["sigma_star_status_vs_tau"].values[:, k],
               [data[b].values[k] for b in ("r10_small_gamma_vs_tau", "r10_large_gamma_vs_tau")], colors_g[k])
        ax.plot([], [], color=colors_g[k], lw=1.5, ls="-", label=f"γ = {g:g}")
        drawn["hollow"] |= _mc_star_points(ax, data, N, [g] * len(taus), taus, taus, colors_g[k])
    loglog(ax)
    ax.set_xlabel("SGD step τ" + (_off_axis_note(
        data["sigma_star_at_tau0"].values[0], [mc_sigma_star(data, N, g, 0.0)[0] for g in gammas],
        [f"γ = {g:g}" for g in gammas], "τ") if 0.0 in taus else ""))
    ax.legend(fontsize=8, loc="best")
    marks = [mark(f"solid: theory (R9 minimiser), N = {N}")]
    if drawn["dashed"]:
        marks.append(mark("dashed: N = ∞", ls="--", lw=1))
    if drawn["dotted"]:
        marks.append(mark("dotted: R10 asymptotes, in their regime:\n"
                          r"$\sigma^* \propto \tau^{1/6}$ if $\gamma \ll \sigma^2$, "
                          r"$\propto (\tau/\gamma)^{1/4}$ if $\gamma \gg \sigma^2$", ls=":", lw=0.8))
    if drawn["end"]:
        marks.append(mark("▽ line ends: σ* → 0 beyond\n(R9 decreases down to σ = 0)", marker="v", ls="", mfc="none"))
    marks.append(mark("points: MC argmin on the σ grid,\nbar: within 2 s.e. of the minimum", marker="o", ls=""))
    if drawn["hollow"]:
        marks.append(mark("hollow point: the argmin is\nat the σ grid's edge", marker="o", ls="", mfc="none"))
    key(fig, axes[0, 0], marks, colours=False)
    return finish(fig, f"P5 [{data.attrs.get('study', '')}]: optimal noise amplitude σ*")
