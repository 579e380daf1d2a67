"""Figures (seaborn/matplotlib) from a study summary.

Every figure is **our proposal** for testing the reconstructed formulas
(theory.md §4, P1-P7): a reconstruction of the analysis, not one of the
paper's original figures (they are not available).  Each carries that label.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from . import theory  # noqa: E402
from .io import read_dataset, write_dataset  # noqa: E402

__all__ = [
    "LABEL",
    "PANELS",
    "COMPARISONS",
    "style",
    "save",
    "error_vs_n",
    "error_vs_tau",
    "error_vs_gamma",
    "error_vs_sigma",
    "sigma_star",
    "kernel",
    "spectrum_shape",
    "full_vs_diagonal",
]

LABEL = "reconstruction of the analysis; not the paper's original figure"


def style() -> None:
    """The package's plotting style (seaborn ticks, colour-blind palette)."""
    sns.set_theme(context="paper", style="ticks", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.grid": True, "grid.alpha": 0.3})


def save(fig, outputs, dpi: int = 150) -> None:
    """Save ``fig`` to every path in ``outputs`` (format from the suffix) and close it.

    Matplotlib's PDF backend embeds a creation date; it is fixed (``None``)
    so that reruns reproduce the file.
    """
    for path in outputs:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=meta)
    plt.close(fig)


def _theory_kwargs(summary: xr.Dataset) -> dict:
    return {
        "loss_factor": float(summary.attrs.get("theory_loss_factor", 1.0)),
        "batch_size": int(summary.attrs.get("theory_batch_size", 1)),
        "model": str(summary.attrs.get("theory_model", "full")),
    }


def _theory(summary: xr.Dataset, n_samples, sigma, gamma, tau) -> xr.Dataset:
    """Theory R9 (and its parts) for the summary's spectrum and conventions, on any grid."""
    return theory.error_terms(summary["lam"].values, n_samples, sigma, gamma, tau, **_theory_kwargs(summary))


def _load(summary_path, rule: str) -> xr.Dataset:
    return read_dataset(summary_path, rule, required=("mc_mean", "mc_stderr", "theory_total", "lam", "diverged"))


def _mc_points(ax, x, pt, color, label=None, marker="o"):
    """MC means ± 1 s.e.; points with diverged draws as crosses; all-diverged points as ``x`` at the axis top."""
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


def _finish(fig, title: str, outputs, dpi: int) -> None:
    fig.suptitle(f"{title}\n{LABEL}", fontsize=9)
    save(fig, outputs, dpi=dpi)


def _write(data: xr.Dataset, data_out, provenance, title: str) -> xr.Dataset:
    if data_out is not None:
        write_dataset(data, data_out, provenance, title=title)
    return data


def _mc_vars(s: xr.Dataset) -> dict:
    keep = ["mc_mean", "mc_stderr", "mc_n", "n_diverged", "diverged", "theory_total"]
    keep += [k for k in ("mc_opt_mean", "mc_opt_stderr", "theory_optimization") if k in s]
    return {k: s[k] for k in keep if k in s}


DIVERGED_NOTE = "× some draws diverged; X at top: all diverged"


def error_vs_n(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P1: :math:`\mathbb E W_2^2` against N (log-log), one panel per :math:`\gamma`, colour = :math:`\sigma`.

    Lines: theory R9 = bias + generalization (+ optimization at the study's
    first :math:`\tau`), evaluated on a dense N grid; dotted: the bias floor
    :math:`\mathcal B(\sigma, \gamma)` (R5).  Points: Monte-Carlo means with
    error bars = one standard error; points with diverged replicates are
    drawn as crosses.  Above the floor the excess decays like 1/N (slope −1).

    Parameters
    ----------
    summary_path : path
        ``summary.nc`` of a study.
    outputs : list of path
        Figure files (``.png``, ``.pdf``, ...).
    data_out : path, optional
        NetCDF with the data behind the figure (MC points and dense theory lines).
    """
    s = _load(summary_path, "figure_error_vs_n").isel(tau=0)
    tau = float(s["tau"])
    N = s["n_samples"].values
    n_dense = np.unique(np.geomspace(N.min(), N.max(), 60).round().astype(int))
    gammas, sigmas = s["gamma"].values, s["sigma"].values
    th = _theory(s, n_dense, sigmas, gammas, tau).transpose("sigma", "gamma", "n_samples")
    style()
    colors = sns.color_palette("colorblind", len(sigmas))
    fig, axes = plt.subplots(1, len(gammas), figsize=(4.2 * len(gammas), 3.8), sharey=True, squeeze=False, layout="constrained")
    for k, g in enumerate(gammas):
        ax = axes[0, k]
        for j, sg in enumerate(sigmas):
            pt = s.sel(sigma=sg, gamma=g)
            ax.plot(n_dense, th["total"].values[j, k], color=colors[j], lw=1.5, label=f"σ = {sg:g}")
            ax.axhline(float(pt["theory_bias"]), color=colors[j], lw=0.8, ls=":")
            _mc_points(ax, N, pt, colors[j])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of training samples N")
        ax.set_title(f"γ = {g:g}" + (" (continuous time)" if g == 0 else ""))
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ (data variance units)")
    axes[0, -1].legend(
        title="lines: theory R9\npoints: Monte Carlo ± 1 s.e.\ndotted: bias floor R5", fontsize=8, title_fontsize=8
    )
    _finish(fig, f"P1 [{study}]: error vs number of samples" + (f", τ = {tau:g}" if tau else ""), outputs, dpi)
    data = xr.Dataset(
        {
            "theory_line": th["total"].rename(n_samples="n_dense").assign_attrs(
                long_name="theory R9 on a dense N grid", units="1"
            ),
            **_mc_vars(s),
            "theory_bias": s["theory_bias"],
        }
    )
    return _write(data, data_out, provenance, "data behind figure P1 (error vs N)")


def error_vs_tau(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P2: error against the SGD step :math:`\tau` (log-log), theory R8 vs SGD Monte Carlo.

    Top row: :math:`\mathbb E W_2^2`: theory R9 line (bias + generalization +
    optimization) on a dense :math:`\tau` grid, Monte-Carlo points (real SGD).
    Bottom row: the optimization error alone: theory R8 (:math:`\propto\tau`,
    slope 1) against the paired Monte-Carlo estimate
    :math:`\mathbb E[W_2^2(\text{SGD}) - W_2^2(\text{exact fit, same data})]`.
    The grey band marks :math:`c_\ell\tau/\sigma^2 > 0.01`, where R8 is
    expected to be low by more than ~5 % (§7.2 note 6).  Largest N of the
    study; one column per :math:`\gamma`, colour = :math:`\sigma`.
    """
    s = _load(summary_path, "figure_error_vs_tau")
    s = s.isel(n_samples=-1)
    N = int(s["n_samples"])
    taus = s["tau"].values
    tpos = taus[taus > 0]
    if tpos.size == 0:
        raise ValueError("error_vs_tau needs tau > 0 in the study's grid (fit.method: sgd)")
    t_dense = np.geomspace(tpos.min() / 2, tpos.max() * 2, 60)
    gammas, sigmas = s["gamma"].values, s["sigma"].values
    th = _theory(s, N, sigmas, gammas, t_dense).transpose("sigma", "gamma", "tau")
    c = float(s.attrs.get("theory_loss_factor", 1.0))
    style()
    colors = sns.color_palette("colorblind", len(sigmas))
    fig, axes = plt.subplots(2, len(gammas), figsize=(4.2 * len(gammas), 7.0), sharex=True, squeeze=False, layout="constrained")
    for k, g in enumerate(gammas):
        top, bot = axes[0, k], axes[1, k]
        for j, sg in enumerate(sigmas):
            pt = s.sel(sigma=sg, gamma=g).sel(tau=tpos)
            top.plot(t_dense, th["total"].values[j, k], color=colors[j], lw=1.5, label=f"σ = {sg:g}")
            _mc_points(top, tpos, pt, colors[j])
            if 0.0 in taus:
                top.axhline(float(s.sel(sigma=sg, gamma=g, tau=0.0)["mc_mean"]), color=colors[j], lw=0.8, ls=":")
            bot.plot(t_dense, th["optimization"].values[j, k], color=colors[j], lw=1.5)
            if "mc_opt_mean" in pt:
                m, e = pt["mc_opt_mean"].values, pt["mc_opt_stderr"].values
                ok = np.isfinite(m) & (pt["diverged"].values == 0)
                bot.errorbar(tpos[ok], m[ok], yerr=e[ok], fmt="o", ms=4, color=colors[j], capsize=2, lw=1)
            bot.axvspan(0.01 * sg**2 / c, t_dense.max(), color=colors[j], alpha=0.06, lw=0)
        for ax in (top, bot):
            ax.set_xscale("log")
            ax.set_yscale("log")
        top.set_title(f"γ = {g:g}, N = {N}")
        bot.set_xlabel("SGD step τ")
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$")
    axes[1, 0].set_ylabel("optimization error\n" + r"$\mathbb{E}[W_2^2(\mathrm{SGD})-W_2^2(\mathrm{exact})]$")
    axes[0, -1].legend(
        title="lines: theory R9 / R8\npoints: SGD Monte Carlo ± 1 s.e.\ndotted: MC at τ = 0", fontsize=8, title_fontsize=8
    )
    axes[1, -1].text(
        0.02, 0.97, "shaded: c·τ/σ² > 0.01 (R8 valid to ~5 % below)", transform=axes[1, -1].transAxes,
        fontsize=7, va="top",
    )
    _finish(fig, f"P2 [{study}]: error vs SGD step τ", outputs, dpi)
    data = xr.Dataset(
        {
            "theory_total_line": th["total"].rename(tau="tau_dense").assign_attrs(long_name="theory R9 on a dense tau grid", units="1"),
            "theory_optimization_line": th["optimization"].rename(tau="tau_dense").assign_attrs(
                long_name="theory R8 on a dense tau grid", units="1"
            ),
            **_mc_vars(s),
        }
    )
    return _write(data, data_out, provenance, "data behind figure P2 (error vs tau)")


def error_vs_gamma(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P3: error against the Langevin step :math:`\gamma`, up to and beyond the stability bound.

    Lines: theory R9 on a dense :math:`\gamma` grid, which blows up as
    :math:`\gamma \to 2(\lambda_{\min} + \sigma^2)` (dashed vertical lines, R4/R5).
    Points: Monte Carlo (exact fit), conditional on a stable chain; a cross marks
    points where some draws diverged (the empirical :math:`\hat\Sigma` has a smaller
    eigenvalue than :math:`\lambda_{\min}`), an X at the top points where all did.
    One column per N, colour = :math:`\sigma`, first :math:`\tau`.
    """
    s = _load(summary_path, "figure_error_vs_gamma").isel(tau=0)
    tau = float(s["tau"])
    lam_min = float(s["lam"].min())
    Ns, sigmas, gammas = s["n_samples"].values, s["sigma"].values, s["gamma"].values
    style()
    colors = sns.color_palette("colorblind", len(sigmas))
    fig, axes = plt.subplots(1, len(Ns), figsize=(4.4 * len(Ns), 3.9), sharey=True, squeeze=False, layout="constrained")
    g_dense = np.linspace(0.0, gammas.max(), 200)
    th = _theory(s, Ns, sigmas, g_dense, tau).transpose("n_samples", "sigma", "gamma")
    lines = th["total"].where(th["valid"] > 0)
    for i, N in enumerate(Ns):
        ax = axes[0, i]
        for j, sg in enumerate(sigmas):
            bound = 2 * (lam_min + sg**2)
            ax.plot(g_dense, lines.values[i, j], color=colors[j], lw=1.5, label=f"σ = {sg:g}")
            ax.axvline(bound, color=colors[j], ls="--", lw=0.8)
            _mc_points(ax, gammas, s.sel(n_samples=N, sigma=sg), colors[j])
        ax.set_yscale("log")
        mc = s["mc_mean"].sel(n_samples=N).values
        if np.any(np.isfinite(mc)):
            ax.set_ylim(np.nanmin(mc) / 3, np.nanmax(mc) * 30)
        ax.set_xlabel("Langevin step γ")
        ax.set_title(f"N = {N}")
    axes[0, 0].set_ylabel(r"$\mathbb{E}[W_2^2 \mid$ stable chain$]$")
    axes[0, -1].legend(
        title="lines: theory R9\npoints: Monte Carlo ± 1 s.e.\ndashed: bound 2(λ_min+σ²)\n" + DIVERGED_NOTE,
        fontsize=8, title_fontsize=7, loc="lower right",
    )
    _finish(fig, f"P3 [{study}]: error vs Langevin step γ", outputs, dpi)
    data = xr.Dataset(
        {
            "theory_line": lines.rename(gamma="gamma_dense").assign_attrs(
                long_name="theory R9 on a dense gamma grid (NaN beyond the stability bound)", units="1"
            ),
            "stability_bound": xr.DataArray(
                2 * (lam_min + sigmas**2), dims="sigma", attrs={"long_name": "ULA stability bound 2(lam_min+sigma^2)", "units": "1"}
            ),
            **_mc_vars(s),
        }
    )
    return _write(data, data_out, provenance, "data behind figure P3 (error vs gamma)")


def _argmin_sigma(s_dense, values):
    v = np.where(np.isfinite(values), values, np.inf)
    return s_dense[np.argmin(v, axis=-1)]


def error_vs_sigma(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P4: error against the DSM noise amplitude :math:`\sigma`, for several (:math:`\gamma`, :math:`\tau`, N).

    Bias grows with :math:`\sigma` (R5), the generalization error (R7) and the
    optimization error (R8, :math:`\propto \tau/\sigma^2`) fall: an interior
    optimum :math:`\sigma^\star` (stars: minimum of the theory line; triangles:
    Monte-Carlo argmin on the grid).  Rows: N; columns: :math:`\gamma`; colour: :math:`\tau`.
    """
    s = _load(summary_path, "figure_error_vs_sigma")
    Ns, sigmas, gammas, taus = (s[k].values for k in ("n_samples", "sigma", "gamma", "tau"))
    s_dense = np.geomspace(sigmas.min() / 1.5, sigmas.max() * 1.5, 160)
    th = _theory(s, Ns, s_dense, gammas, taus).transpose("n_samples", "gamma", "tau", "sigma")
    lines = th["total"].where(th["valid"] > 0)
    style()
    colors = sns.color_palette("colorblind", len(taus))
    fig, axes = plt.subplots(
        len(Ns), len(gammas), figsize=(4.2 * len(gammas), 3.5 * len(Ns)), sharex=True, squeeze=False,
        layout="constrained",
    )
    for i, N in enumerate(Ns):
        for k, g in enumerate(gammas):
            ax = axes[i, k]
            for j, t in enumerate(taus):
                y = lines.values[i, k, j]
                ax.plot(s_dense, y, color=colors[j], lw=1.5, label=f"τ = {t:g}")
                if np.any(np.isfinite(y)):
                    m = np.nanargmin(y)
                    ax.plot(s_dense[m], y[m], "*", color=colors[j], ms=11, mec="k", mew=0.5)
                pt = s.sel(n_samples=N, gamma=g, tau=t)
                _mc_points(ax, sigmas, pt, colors[j])
                best = _mc_sigma_star(s, N, g, t)[0]
                if np.isfinite(best):
                    ax.plot(best, float(pt["mc_mean"].sel(sigma=best)), "v", color=colors[j], ms=8, mec="k", mew=0.5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"N = {N}, γ = {g:g}")
            if i == len(Ns) - 1:
                ax.set_xlabel("DSM noise amplitude σ")
        axes[i, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$")
    axes[0, -1].legend(
        title="lines: theory R9, ★ its minimum\npoints: MC ± 1 s.e., ▼ MC argmin", fontsize=8, title_fontsize=8
    )
    _finish(fig, f"P4 [{study}]: error vs noise amplitude σ", outputs, dpi)
    data = xr.Dataset(
        {
            "theory_line": lines.rename(sigma="sigma_dense").assign_attrs(long_name="theory R9 on a dense sigma grid", units="1"),
            "theory_sigma_star": xr.DataArray(
                _argmin_sigma(s_dense, lines.values), dims=("n_samples", "gamma", "tau"),
                attrs={"long_name": "argmin over the dense sigma grid of theory R9", "units": "1"},
            ),
            **_mc_vars(s),
        }
    )
    return _write(data, data_out, provenance, "data behind figure P4 (error vs sigma)")


def _mc_sigma_star(s: xr.Dataset, N, g, t, z: float = 2.0):
    """MC argmin over the sigma grid, and the set of sigma whose mean is within z s.e. of the minimum."""
    pt = s.sel(n_samples=N, gamma=g, tau=t)
    m = pt["mc_mean"].where(pt["diverged"] == 0).values
    e = pt["mc_stderr"].values
    if not np.any(np.isfinite(m)):
        return np.nan, np.nan, np.nan
    j = int(np.nanargmin(m))
    ok = np.isfinite(m) & (m - z * np.sqrt(e**2 + e[j] ** 2) <= m[j])
    sig = s["sigma"].values
    return sig[j], sig[ok].min(), sig[ok].max()


def _mc_star_points(ax, s, N, gs, ts, x, color):
    """MC argmin over the sigma grid with its 2-s.e. confidence set; hollow if the argmin is at a grid edge."""
    sig = s["sigma"].values
    for g, t, xv in zip(gs, ts, x):
        if xv <= 0:
            continue  # log axis
        best, lo, hi = _mc_sigma_star(s, N, g, t)
        if not np.isfinite(best):
            continue
        edge = best in (sig.min(), sig.max())
        ax.errorbar([xv], [best], yerr=[[best - lo], [hi - best]], fmt="o", color=color, ms=5, capsize=2,
                    mfc="none" if edge else color)


def sigma_star(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P5: optimal noise amplitude :math:`\sigma^\star` against :math:`\gamma` and against :math:`\tau` (log-log).

    Lines: numerical minimiser of the theory R9 over :math:`\sigma`
    (:func:`gaussdsm.optimal.optimal_sigma`) at the study's largest N (solid) and
    at :math:`N = \infty` (dashed), with the asymptotic slopes of R10 (dotted):
    :math:`\sigma^{\star 2} \propto \tau^{1/3}` for :math:`\gamma \ll \sigma^2` and
    :math:`\propto (\tau/\gamma)^{1/2}` for :math:`\gamma \gg \sigma^2`.
    Points: Monte-Carlo argmin over the study's :math:`\sigma` grid; the bar spans
    the grid values whose mean is within 2 standard errors of the minimum.
    """
    from . import optimal

    s = _load(summary_path, "figure_sigma_star")
    N = int(s["n_samples"].values.max())
    lam = s["lam"].values
    kw = _theory_kwargs(s)
    gammas, taus = s["gamma"].values, s["tau"].values
    tpos = taus[taus > 0]
    gpos = gammas[gammas > 0]
    # dense axes reach far below the grid so that the asymptotic regimes of R10 show
    g_dense = np.geomspace((gpos.min() if gpos.size else 1e-3) / 100, max(gammas.max(), 1e-3) * 3, 40)
    t_dense = np.geomspace((tpos.min() if tpos.size else 1e-5) / 1000, max(taus.max(), 1e-5) * 3, 40)
    star = functools.partial(optimal.optimal_sigma, on_bound="nan", **kw)  # at a bound: not drawn
    style()
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.0), squeeze=False, layout="constrained")
    colors_t = sns.color_palette("colorblind", len(taus))
    colors_g = sns.color_palette("colorblind", len(gammas))
    vs_gamma = np.full((2, len(taus), g_dense.size), np.nan)
    vs_tau = np.full((2, len(gammas), t_dense.size), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimal.OptimalSigmaWarning)
        for a, n in enumerate((N, np.inf)):
            for j, t in enumerate(taus):
                vs_gamma[a, j] = [star(lam, n, g, t) for g in g_dense]
            for k, g in enumerate(gammas):
                vs_tau[a, k] = [star(lam, n, g, t) for t in t_dense]
    ax = axes[0, 0]
    for j, t in enumerate(taus):
        ax.plot(g_dense, vs_gamma[0, j], color=colors_t[j], lw=1.5, label=f"τ = {t:g}")
        ax.plot(g_dense, vs_gamma[1, j], color=colors_t[j], lw=1, ls="--")
        if t > 0:
            asym2 = np.array([optimal.sigma_star_asymptotes(lam, g, t, kw["loss_factor"])["large_gamma"] for g in g_dense])
            regime = g_dense > 2 * asym2  # draw R10's gamma >> sigma^2 branch only where it applies
            ax.plot(g_dense[regime], np.sqrt(asym2[regime]), color=colors_t[j], lw=0.8, ls=":")
        _mc_star_points(ax, s, N, gammas, [t] * len(gammas), gammas, colors_t[j])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Langevin step γ")
    ax.set_ylabel("optimal noise amplitude σ*")
    ax.legend(
        title=f"solid: theory, N = {N}\ndashed: N = ∞\ndotted: R10 where γ > 2σ*²\npoints: MC argmin on the σ grid\n"
        "(hollow: at the grid edge)", fontsize=8, title_fontsize=7,
    )
    ax = axes[0, 1]
    for k, g in enumerate(gammas):
        ax.plot(t_dense, vs_tau[0, k], color=colors_g[k], lw=1.5, label=f"γ = {g:g}")
        ax.plot(t_dense, vs_tau[1, k], color=colors_g[k], lw=1, ls="--")
        asy = [optimal.sigma_star_asymptotes(lam, g, t, kw["loss_factor"]) for t in t_dense]
        small = np.array([a["small_gamma"] for a in asy])
        large = np.array([a["large_gamma"] for a in asy])
        for branch, regime in ((small, 2 * g < small), (large, g > 2 * large)):
            ax.plot(t_dense[regime], np.sqrt(branch[regime]), color=colors_g[k], lw=0.8, ls=":")
        _mc_star_points(ax, s, N, [g] * len(taus), taus, taus, colors_g[k])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step τ")
    ax.legend(title="dotted: R10 in its regime\n(σ* ∝ τ^{1/6} if γ ≪ σ², ∝ (τ/γ)^{1/4} if γ ≫ σ²)", fontsize=8, title_fontsize=7)
    _finish(fig, f"P5 [{study}]: optimal noise amplitude σ*", outputs, dpi)
    mc = np.array([[[_mc_sigma_star(s, N, g, t)[0] for t in taus] for g in gammas]])
    data = xr.Dataset(
        {
            "sigma_star_vs_gamma": (("n_limit", "tau", "gamma_dense"), vs_gamma, {"long_name": "theory sigma* (numerical minimiser of R9)", "units": "1"}),
            "sigma_star_vs_tau": (("n_limit", "gamma", "tau_dense"), vs_tau, {"long_name": "theory sigma* (numerical minimiser of R9)", "units": "1"}),
            "mc_sigma_star": (("n_limit_mc", "gamma", "tau"), mc, {"long_name": "Monte-Carlo argmin of the error over the sigma grid", "units": "1"}),
            **_mc_vars(s),
        },
        coords={
            "n_limit": ("n_limit", np.array([float(N), np.inf]), {"long_name": "N of the theory line", "units": "1"}),
            "n_limit_mc": ("n_limit_mc", np.array([float(N)]), {"long_name": "N of the Monte-Carlo points", "units": "1"}),
            "gamma_dense": ("gamma_dense", g_dense, {"long_name": "Langevin step gamma (dense)", "units": "1"}),
            "tau_dense": ("tau_dense", t_dense, {"long_name": "SGD step tau (dense)", "units": "1"}),
        },
    )
    return _write(data, data_out, provenance, "data behind figure P5 (optimal sigma)")


def kernel(summary_path, outputs, data_out=None, dpi: int = 150, study: str = "", provenance=None) -> xr.Dataset:
    r"""P6: the kernel :math:`\mathfrak K(\lambda_i, \lambda_k)` of R9 and the per-frequency contributions.

    At the study's largest N, first :math:`\sigma`, first :math:`\gamma` and last :math:`\tau`:
    left, the symmetrised contributions :math:`\lambda_i\lambda_k\mathfrak K_{ik}`
    (log colour scale, modes sorted by decreasing :math:`\lambda`), whose sum is
    the predicted :math:`\mathbb E W_2^2`; right, the row sums split into bias
    (R5), generalization (R7) and optimization (R8) against :math:`\lambda_i`.
    The Monte-Carlo total at that point is quoted for comparison.
    """
    s = _load(summary_path, "figure_kernel")
    pt = s.isel(n_samples=-1, sigma=0, gamma=0, tau=-1)
    N, sg, g, t = (float(pt[k]) for k in ("n_samples", "sigma", "gamma", "tau"))
    lam = s["lam"].values
    kw = _theory_kwargs(s)
    ll = lam[:, None] * lam[None, :]
    lam_, _s, _h, _ut, c = theory._prep(lam, sg, g)
    bias_diag = (np.sqrt(c) - np.sqrt(lam)) ** 2
    gen = theory.kernel_generalization(lam, sg, g, kw["model"]) / N
    opt = theory.kernel_optimization(lam, sg, g, t, kw["loss_factor"], kw["batch_size"], kw["model"])
    full = ll * theory.kernel(lam, N, sg, g, t, **kw)
    sym = 0.5 * (full + full.T)
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
    rows = {"bias (R5)": bias_diag, "generalization (R7)": gen.sum(axis=1), "optimization (R8)": opt.sum(axis=1)}
    for (name, v), col in zip(rows.items(), sns.color_palette("colorblind", 3)):
        if np.any(v > 0):
            ax.plot(lam, np.where(v > 0, v, np.nan), "o-", ms=3, color=col, label=name)
    ax.plot(lam, full.sum(axis=1), "k-", lw=1.2, label="total row sum")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"eigenvalue $\lambda_i$ (power spectrum)")
    ax.set_ylabel(r"contribution of mode i to $\mathbb{E}\,W_2^2$")
    mc = float(pt["mc_mean"]), float(pt["mc_stderr"])
    ax.set_title(f"Σ = {full.sum():.4g} (theory) vs MC {mc[0]:.4g} ± {mc[1]:.2g}", fontsize=9)
    ax.legend(fontsize=8)
    _finish(fig, f"P6 [{study}]: kernel-type norm, N = {N:g}, σ = {sg:g}, γ = {g:g}, τ = {t:g}", outputs, dpi)
    dims = ("mode_i", "mode_k")
    data = xr.Dataset(
        {
            "contribution": (dims, full, {"long_name": "lam_i lam_k K(i,k) of R9 (not symmetric)", "units": "1"}),
            "bias_row": ("mode_i", bias_diag, {"long_name": "bias contribution of mode i (R5)", "units": "1"}),
            "generalization_row": ("mode_i", gen.sum(axis=1), {"long_name": "row sum of K_N/N (R7)", "units": "1"}),
            "optimization_row": ("mode_i", opt.sum(axis=1), {"long_name": "row sum of K_tau (R8)", "units": "1"}),
            "lam_i": ("mode_i", lam, {"long_name": "eigenvalue lambda_i", "units": "1"}),
            "mc_mean": ((), mc[0], {"long_name": "Monte-Carlo E W2^2 at this point", "units": "1"}),
            "mc_stderr": ((), mc[1], {"long_name": "standard error of mc_mean", "units": "1"}),
        },
        attrs={"n_samples": N, "sigma": sg, "gamma": g, "tau": t},
    )
    return _write(data, data_out, provenance, "data behind figure P6 (kernel)")


PANELS = {
    "error_vs_n": error_vs_n,
    "error_vs_tau": error_vs_tau,
    "error_vs_gamma": error_vs_gamma,
    "error_vs_sigma": error_vs_sigma,
    "sigma_star": sigma_star,
    "kernel": kernel,
}


def spectrum_shape(summary_paths, names, outputs, data_out=None, dpi: int = 150, comparison: str = "", provenance=None):
    r"""Spectrum-shape comparison: the error terms against :math:`\sigma` for several spectra (e.g. power laws).

    One column per study (its spectrum's exponent in the title): theory bias
    (R5), generalization (R7) and optimization (R8) at the largest N, first
    :math:`\gamma` and last :math:`\tau` as lines, their sum (black) and the
    Monte-Carlo points.  Shows how anisotropy moves weight between the terms.
    """
    sums = [_load(p, "figure_spectrum_shape") for p in summary_paths]
    style()
    fig, axes = plt.subplots(1, len(sums), figsize=(4.2 * len(sums), 3.9), sharey=True, squeeze=False, layout="constrained")
    cols = sns.color_palette("colorblind", 3)
    out = {}
    for a, (name, s) in enumerate(zip(names, sums)):
        pt = s.isel(n_samples=-1, gamma=0, tau=-1)
        N, g, t = int(pt["n_samples"]), float(pt["gamma"]), float(pt["tau"])
        sig = s["sigma"].values
        sd = np.geomspace(sig.min() / 1.5, sig.max() * 1.5, 120)
        th = _theory(s, N, sd, g, t)
        ax = axes[0, a]
        for (k, lab), col in zip((("bias", "bias R5"), ("generalization", "generalization R7"), ("optimization", "optimization R8")), cols):
            v = th[k].values
            if np.any(v > 0):
                ax.plot(sd, np.where(v > 0, v, np.nan), color=col, lw=1.3, label=lab)
        ax.plot(sd, th["total"].values, "k-", lw=1.6, label="total R9")
        _mc_points(ax, sig, pt, "k")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("DSM noise amplitude σ")
        lam = s["lam"].values
        ax.set_title(f"{name}: d = {lam.size}, λ ∈ [{lam.min():.2g}, {lam.max():.2g}]\nN = {N}, γ = {g:g}, τ = {t:g}", fontsize=9)
        for k in ("bias", "generalization", "optimization", "total"):
            out[f"{name}_{k}"] = xr.DataArray(th[k].values, dims="sigma_dense", attrs={"long_name": f"theory {k} for study {name}", "units": "1"})
        out[f"{name}_mc_mean"] = xr.DataArray(pt["mc_mean"].values, dims=f"sigma_{name}", attrs={"long_name": f"MC mean for study {name}", "units": "1"})
        out[f"{name}_mc_stderr"] = xr.DataArray(pt["mc_stderr"].values, dims=f"sigma_{name}", attrs={"long_name": f"MC s.e. for study {name}", "units": "1"})
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ and its terms")
    axes[0, -1].legend(fontsize=8)
    _finish(fig, f"[{comparison}] spectrum shape: how anisotropy changes each error term", outputs, dpi)
    data = xr.Dataset(out, attrs={"studies": ",".join(names)})
    return _write(data, data_out, provenance, "data behind the spectrum-shape figure")


def full_vs_diagonal(summary_paths, names, outputs, data_out=None, dpi: int = 150, comparison: str = "", provenance=None):
    r"""Full d×d denoiser (R7) against the Fourier/eigen-diagonal one (R11): error against N.

    One panel per :math:`\sigma` (first :math:`\gamma`, :math:`\tau`), colour = study.
    The diagonal model has no cross-frequency terms, so its generalization error
    is smaller (a weighted sum over frequencies instead of a kernel norm).
    """
    sums = [_load(p, "figure_full_vs_diagonal") for p in summary_paths]
    sigmas = sums[0]["sigma"].values
    style()
    cols = sns.color_palette("colorblind", len(sums))
    fig, axes = plt.subplots(1, len(sigmas), figsize=(4.2 * len(sigmas), 3.8), sharey=True, squeeze=False, layout="constrained")
    out = {}
    for a, (name, s) in enumerate(zip(names, sums)):
        s = s.isel(gamma=0, tau=0)
        N = s["n_samples"].values
        nd = np.unique(np.geomspace(N.min(), N.max(), 60).round().astype(int))
        th = _theory(s, nd, s["sigma"].values, float(s["gamma"]), float(s["tau"])).transpose("sigma", "n_samples")
        for j, sg in enumerate(s["sigma"].values):
            if j >= len(sigmas):
                break
            ax = axes[0, j]
            ax.plot(nd, th["total"].values[j], color=cols[a], lw=1.5, label=f"{name} ({s.attrs.get('theory_model', '?')})")
            ax.axhline(float(s["theory_bias"].sel(sigma=sg).squeeze()), color="grey", ls=":", lw=0.8)
            _mc_points(ax, N, s.sel(sigma=sg), cols[a])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("number of training samples N")
            ax.set_title(f"σ = {sg:g}, γ = {float(s['gamma']):g}")
        out[f"{name}_theory_line"] = xr.DataArray(th["total"].values, dims=("sigma", "n_dense"), attrs={"long_name": f"theory for study {name}", "units": "1"})
        out[f"{name}_mc_mean"] = xr.DataArray(s["mc_mean"].transpose("n_samples", "sigma").values, dims=(f"n_{name}", "sigma"), attrs={"long_name": f"MC mean, study {name}", "units": "1"})
        out[f"{name}_mc_stderr"] = xr.DataArray(s["mc_stderr"].transpose("n_samples", "sigma").values, dims=(f"n_{name}", "sigma"), attrs={"long_name": f"MC s.e., study {name}", "units": "1"})
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$")
    axes[0, -1].legend(title="lines: theory R7 / R11\npoints: MC ± 1 s.e.\ndotted: bias floor", fontsize=8, title_fontsize=8)
    _finish(fig, f"[{comparison}] full-matrix vs Fourier-diagonal denoiser", outputs, dpi)
    return _write(xr.Dataset(out, attrs={"studies": ",".join(names)}), data_out, provenance, "data behind the full-vs-diagonal figure")


COMPARISONS = {"spectrum_shape": spectrum_shape, "full_vs_diagonal": full_vs_diagonal}
