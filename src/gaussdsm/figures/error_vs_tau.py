r"""P2: error against the SGD step :math:`\tau` (log-log), theory R8 vs SGD Monte Carlo.

Top row: :math:`\mathbb E W_2^2`: theory R9 line (bias + generalization + optimization) on a dense :math:`\tau`
grid, Monte-Carlo points (real SGD).  Bottom row: the optimization error alone: theory R8 (:math:`\propto\tau`,
slope 1) against the paired Monte-Carlo estimate :math:`\mathbb E[W_2^2(\text{SGD}) - W_2^2(\text{exact fit,
same data})]`.  The shaded band marks :math:`c_\ell\tau/\sigma^2 > 0.01`, where R8 is expected to be low by more
than ~5 % (§7.2 note 6).  Largest N of the study; one column per :math:`\gamma`, colour = :math:`\sigma`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vocabulary import attrs
from ._data import first_setting, mc_vars, theory_kwargs, theory_on

DATA_TITLE = "data behind figure P2 (error vs tau)"
SHADE_ALPHA = 0.08


def data(summary: xr.Dataset) -> xr.Dataset:
    """Theory lines on ``tau_dense`` and the MC points (``mc_opt_*``: the paired optimization error)."""
    summary = first_setting(summary)
    s = summary.isel(n_samples=-1)
    taus = s["tau"].values
    tpos = taus[taus > 0]
    if tpos.size == 0:
        raise ValueError("error_vs_tau needs tau > 0 in the study's grid (fit.method: sgd)")
    t_dense = np.geomspace(tpos.min() / 2, tpos.max() * 2, 60)
    th = theory_on(s, int(s["n_samples"]), s["sigma"].values, s["gamma"].values, t_dense)
    th = th.transpose("sigma", "gamma", "tau").rename(tau="tau_dense")
    return xr.Dataset(
        {
            "theory_total_line": th["total"].assign_attrs(attrs("theory_total_line_tau")),
            "theory_optimization_line": th["optimization"].assign_attrs(attrs("theory_optimization_line_tau")),
            **mc_vars(s),
        },
        attrs={"theory_loss_factor": theory_kwargs(summary)["loss_factor"]},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, error_label, finish, key, loglog, mark, mc_points, panels, shade

    N = int(data["n_samples"])
    taus, t_dense = data["tau"].values, data["tau_dense"].values
    tpos = taus[taus > 0]
    gammas, sigmas = data["gamma"].values, data["sigma"].values
    c = float(data.attrs.get("theory_loss_factor", 1.0))
    col = colors(len(sigmas))
    fig, axes = panels(2, len(gammas), 4.2, 3.5, sharex=True)
    left_out = False
    for k, g in enumerate(gammas):
        top, bot = axes[0, k], axes[1, k]
        for j, sg in enumerate(sigmas):
            at = data.sel(sigma=sg, gamma=g)
            pt = at.sel(tau=tpos)
            top.plot(t_dense, at["theory_total_line"].values, color=col[j], lw=1.5, label=f"σ = {sg:g}")
            mc_points(top, tpos, pt, col[j])
            if 0.0 in taus:
                top.axhline(float(at["mc_mean"].sel(tau=0.0)), color=col[j], lw=0.8, ls=":")
            bot.plot(t_dense, at["theory_optimization_line"].values, color=col[j], lw=1.5)
            if "mc_opt_mean" in pt:
                m, e = pt["mc_opt_mean"].values, pt["mc_opt_stderr"].values
                ok = np.isfinite(m) & (pt["diverged"].values == 0)
                left_out |= bool(np.any(~ok))
                bot.errorbar(tpos[ok], m[ok], yerr=e[ok], fmt="o", ms=4, color=col[j], capsize=2, lw=1)
            bot.axvspan(0.01 * sg**2 / c, t_dense.max(), color=col[j], alpha=SHADE_ALPHA, lw=0)
        loglog(top, bot)
        top.set_title(f"γ = {g:g}, N = {N}")
        bot.set_xlabel("SGD step τ")
    axes[0, 0].set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$"))
    w2_opt = "optimization error\n" + r"$\mathbb{E}[W_2^2(\mathrm{SGD})-W_2^2(\mathrm{exact})]$"
    axes[1, 0].set_ylabel(error_label(data, w2_opt, "optimization term,\n"))
    marks = [mark("solid: theory (top R9, bottom R8)"), mark("points: SGD Monte Carlo ± 1 s.e.", marker="o", ls="",
                                                             ms=4)]
    if 0.0 in taus:
        marks.append(mark("dotted: Monte Carlo at τ = 0\n(the exact fit)", ls=":", lw=0.8))
    marks += diverged_marks(data.sel(tau=tpos))
    if left_out:
        marks.append(mark("(bottom: points with diverged\nchains are left out)", ls=""))
    marks += [shade(f"bottom, shaded for σ = {sg:g}: c·τ/σ² > 0.01,\nwhere R8 is low by more than ~5 %", col[j],
                    SHADE_ALPHA) for j, sg in enumerate(sigmas)]
    if len(sigmas) > 1:
        marks.append(mark("(overlapping shades: beyond the\nbound of several σ)", ls=""))
    key(fig, axes[0, 0], marks)
    return finish(fig, f"P2 [{data.attrs.get('study', '')}]: error vs SGD step τ")
