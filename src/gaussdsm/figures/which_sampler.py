r"""P12: which sampler for my data (our proposal): the error of every scheme of a study against the number of score
evaluations (NFE), the best three marked at each NFE where every scheme has a point.

One row pair per metric of the study (``metrics:``; :math:`\mathbb E W_2^2`, KL), one column per N (``inf``: the
population score).  Top of each pair: the first-order theory (bias of the K-step law + generalization,
samplers.md §3–§5) of each scheme on a dense K grid against its NFE, solid for the probability-flow ODE schemes and
dashed for the reverse-SDE ones (what the scheme's record ``integrates``), Monte-Carlo points at the study's K, and
at each *common* NFE the three schemes of lowest theory ringed (1st, 2nd, 3rd).  Bottom of each pair: the ranking,
schemes (rows, best on average first) against the common NFE values (columns), coloured by the theory's ratio to the
best at that NFE, the best three numbered.

NFE is the scheme's score evaluations per step times K (its :class:`~gaussdsm.samplers.diffusion.Scheme` record's
``evals``; :attr:`gaussdsm.samplers.diffusion.Diffusion.nfe`, as P7 draws it): schemes of 1, 2 and 4 evaluations
per step meet at the NFE values :math:`e K` that each reaches with a K of the study -- the *common* NFE values,
where the schemes are compared (``config/p12.yaml`` takes K = NFE/e for every e).  The ranking is the theory's
(the study's ``theory_total``, the same as the Monte Carlo for the population score; the first-order expansion for
a learned score), among the points where it is defined; ties keep the study's scheme order.  At the study's first
``t_min`` and first initialisation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..samplers.diffusion import SCHEMES
from ..vocabulary import dataset
from ._data import dense_steps, diffusion_theory, metric_view

DATA_TITLE = "data behind figure P12 (which sampler: error vs NFE, the best three at each NFE)"
#: how many schemes are marked at each common NFE
N_BEST = 3
#: their colours (gold, silver, bronze)
PLACE_COLORS = ("#d4a017", "#8c8c8c", "#a0522d")
#: n_dense: points of each scheme's theory line
N_DENSE = 40
#: the error axis ends this factor above the largest error at a common NFE (lines of unstable short grids go off it)
YLIM_ABOVE = 3.0


def common_nfe(theory_nfe: xr.DataArray) -> np.ndarray:
    """The NFE values that every scheme reaches with a K of the study (``theory_nfe (scheme, n_steps)``), sorted."""
    per = [set(np.asarray(theory_nfe.sel(scheme=s).values, float).ravel()) for s in theory_nfe["scheme"].values]
    common = set.intersection(*per) if per else set()
    return np.array(sorted(x for x in common if np.isfinite(x)), dtype=float)


def config_error(study: dict) -> str | None:
    """Why a diffusion study's config gives no NFE common to all its schemes (``sampler.n_steps`` must hold
    NFE / e for each scheme's e score evaluations per step), or None."""
    from ..samplers.diffusion import DEFAULTS, SCHEMES

    sp = study.get("sampler", {})
    schemes = sp.get("scheme", [DEFAULTS["scheme"]])
    schemes = [schemes] if isinstance(schemes, str) else list(schemes)
    ks = []
    for k in sp.get("n_steps", []):
        try:
            ks.append(float(k))
        except (TypeError, ValueError):
            continue
    ks = [k for k in ks if np.isfinite(k)]
    extra = 1 if sp.get("denoise", False) else 0
    per = {s: SCHEMES[s].evals or int(sp.get("steps_per_level", DEFAULTS["steps_per_level"])) for s in schemes
           if s in SCHEMES}
    reached = [{e * k + extra for k in ks} for e in per.values()]
    if reached and set.intersection(*reached):
        return None
    evals = ", ".join(f"{s} {e}" for s, e in per.items())
    return ("which_sampler compares the schemes at an NFE that every one reaches: sampler.n_steps must hold NFE / e "
            f"for each scheme's e score evaluations per step ({evals})")


def at_nfe(values: xr.DataArray, theory_nfe: xr.DataArray, nfe: np.ndarray) -> xr.DataArray:
    """``values (..., scheme, n_steps)`` at each scheme's K of NFE ``nfe``: ``(..., scheme, nfe)``."""
    out = []
    for sch in values["scheme"].values:
        nf = np.asarray(theory_nfe.sel(scheme=sch).values, float)
        idx = [int(np.flatnonzero(nf == x)[0]) for x in nfe]
        v = values.sel(scheme=sch).isel(n_steps=idx).rename(n_steps="nfe")
        out.append(v.drop_vars([c for c in v.coords if c not in v.dims]).assign_coords(nfe=nfe))
    dims = [("nfe" if d == "n_steps" else d) for d in values.dims]
    return xr.concat(out, dim="scheme").assign_coords(scheme=values["scheme"].values).transpose(*dims)


def ranks(values: np.ndarray, axis: int) -> np.ndarray:
    """1-based ranks along ``axis`` (the smallest value 1; ties in order of position); NaN where a value is NaN or
    infinite (undefined)."""
    v = np.moveaxis(np.asarray(values, float), axis, -1)
    ok = np.isfinite(v)
    order = np.argsort(np.where(ok, v, np.inf), axis=-1, kind="stable")
    r = np.empty_like(v)
    np.put_along_axis(r, order, np.broadcast_to(np.arange(1, v.shape[-1] + 1, dtype=float), v.shape).copy(), axis=-1)
    return np.moveaxis(np.where(ok, r, np.nan), -1, axis)


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (metric, n_samples, scheme, n_dense)`` with ``nfe_line (scheme, n_dense)``; at the common NFE
    values (coordinate ``nfe``): ``theory_at_nfe`` and ``rank (metric, n_samples, scheme, nfe)`` and
    ``best (metric, n_samples, nfe, place)`` (the names of the best three, "" where fewer are defined); the MC points
    ``mc_mean``, ``mc_stderr``, ``diverged (metric, n_samples, scheme, n_steps)`` with ``theory_nfe``."""
    s = summary.isel({k: 0 for k in ("t_min", "init") if k in summary.dims})
    metrics = str(summary.attrs.get("metrics", "w2")).split()
    schemes = [str(x) for x in np.atleast_1d(s["scheme"].values)]
    Ns = s["n_samples"].values
    ks = s["n_steps"].values
    if not np.isfinite(ks).any():
        raise ValueError("which_sampler needs finite sampler.n_steps (the NFE axis)")
    k_dense = dense_steps(ks, N_DENSE)
    theory_nfe = s["theory_nfe"].transpose("scheme", "n_steps")
    nfe = common_nfe(theory_nfe)
    lines, values, mc = [], [], {k: [] for k in ("mc_mean", "mc_stderr", "diverged")}
    nfe_line = None
    for m in metrics:
        v = metric_view(s, m)
        th = diffusion_theory(v, Ns, scheme=schemes, n_steps=k_dense)
        lines.append(th["total"].transpose("n_samples", "scheme", "n_steps").values)
        if nfe_line is None:
            nfe_line = th["nfe"].transpose("scheme", "n_steps").values
        total = v["theory_total"].where(v["theory_valid"] == 1) if "theory_valid" in v else v["theory_total"]
        values.append(at_nfe(total.transpose("n_samples", "scheme", "n_steps"), theory_nfe, nfe).values)
        for k in mc:
            mc[k].append(v[k].transpose("n_samples", "scheme", "n_steps").values)
    values = np.asarray(values, float)  # (metric, n_samples, scheme, nfe)
    rank = ranks(values, axis=2)
    best = np.full((len(metrics), Ns.size, nfe.size, N_BEST), "", dtype=object)
    for place in range(1, N_BEST + 1):
        hit = rank == place  # (metric, n_samples, scheme, nfe)
        for i, j, sch, n in zip(*np.nonzero(hit)):
            best[i, j, n, place - 1] = schemes[sch]
    dims4 = ("metric", "n_samples", "scheme")
    return dataset(
        {
            "theory_line": ((*dims4, "n_dense"), np.asarray(lines), "theory_line_nfe"),
            "nfe_line": (("scheme", "n_dense"), nfe_line, "nfe"),
            "theory_at_nfe": ((*dims4, "nfe"), values, "theory_at_nfe"),
            "rank": ((*dims4, "nfe"), rank, "rank_at_nfe"),
            "best": (("metric", "n_samples", "nfe", "place"), best.astype(str), "best_schemes"),
            "mc_mean": ((*dims4, "n_steps"), np.asarray(mc["mc_mean"]), "mc_mean"),
            "mc_stderr": ((*dims4, "n_steps"), np.asarray(mc["mc_stderr"]), "mc_stderr"),
            "diverged": ((*dims4, "n_steps"), np.asarray(mc["diverged"]).astype(np.int8), "diverged"),
            "theory_nfe": (("scheme", "n_steps"), theory_nfe.values, "nfe"),
        },
        coords={"metric": ("metric", metrics, "metric"), "n_samples": Ns, "scheme": ("scheme", schemes, "scheme"),
                "n_steps": ks, "nfe": ("nfe", nfe, "nfe"), "n_dense": ("n_dense", k_dense, "n_steps"),
                "place": ("place", np.arange(1, N_BEST + 1), "place"),
                "integrates": ("scheme", [SCHEMES[x].integrates for x in schemes], "integrates"),
                **{k: ((), s[k].item(), k) for k in ("t_min", "init") if k in s.coords and s[k].ndim == 0}},
    )


def scheme_colors(n: int) -> list:
    """``n`` distinct colours (matplotlib's tab20, then tab20b): a study may have every scheme of the registry."""
    from ._plot import plt

    pool = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    return [pool[i % len(pool)] for i in range(n)]


def draw(data: xr.Dataset):
    from ..metrics import get
    from ._plot import finish, key, loglog, mark, plt, style

    style()
    metrics = [str(x) for x in np.atleast_1d(data["metric"].values)]
    Ns = np.atleast_1d(data["n_samples"].values)
    schemes = [str(x) for x in np.atleast_1d(data["scheme"].values)]
    nfe = np.atleast_1d(data["nfe"].values)
    col = scheme_colors(len(schemes))
    ls = {"ode": "-", "sde": "--"}
    rows, cols = 2 * len(metrics), len(Ns)
    height = 0.22 * len(schemes) + 1.2
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, sum([4.2, height] * len(metrics))), squeeze=False,
                             layout="constrained", gridspec_kw={"height_ratios": [4.2, height] * len(metrics)})
    integrates = [str(x) for x in np.atleast_1d(data["integrates"].values)]
    for r, m in enumerate(metrics):
        label = r"$\mathbb{E}\,W_2^2$" if m == "w2" else f"E {get(m).long_name}"
        for c, N in enumerate(Ns):
            top, table = axes[2 * r, c], axes[2 * r + 1, c]
            for j, sch in enumerate(schemes):
                top.plot(data["nfe_line"].sel(scheme=sch).values,
                         data["theory_line"].sel(metric=m, n_samples=N, scheme=sch).values,
                         ls.get(integrates[j], ":"), color=col[j], lw=1.1, label=sch if r == c == 0 else None)
                pt = data.sel(metric=m, n_samples=N, scheme=sch)
                x, mean, se = pt["theory_nfe"].values, pt["mc_mean"].values, pt["mc_stderr"].values
                ok = np.isfinite(mean) & np.isfinite(x) & (pt["diverged"].values == 0)
                if ok.any():
                    top.errorbar(x[ok], mean[ok], yerr=se[ok], fmt="o", ms=3, color=col[j], capsize=1.5, lw=0.8)
            vals = data["theory_at_nfe"].sel(metric=m, n_samples=N)
            for n, x in enumerate(nfe):
                for p, name in enumerate(data["best"].sel(metric=m, n_samples=N).isel(nfe=n).values):
                    if name:
                        top.plot(x, float(vals.sel(scheme=str(name)).isel(nfe=n)), "o", ms=11 - 2 * p, mfc="none",
                                 mec=PLACE_COLORS[p], mew=2.0)
            for x in nfe:
                top.axvline(x, color="0.85", lw=0.8, zorder=0)
            loglog(top)
            hi = np.nanmax(np.where(np.isfinite(vals.values), vals.values, np.nan)) if np.isfinite(vals.values).any() \
                else np.nan
            if np.isfinite(hi) and hi > 0:  # the ranked range, not the blow-ups of the shortest grids
                top.set_ylim(top=YLIM_ABOVE * hi)
            top.set_xlabel("number of score evaluations (NFE)")
            top.set_ylabel(label)
            top.set_title("population score (N = ∞)" if np.isinf(N) else f"learned score, N = {N:g}", fontsize=9)
            _ranking(table, data, m, N, schemes, nfe)
    marks = [mark("solid: theory, probability-flow ODE schemes", ls="-"),
             mark("dashed: theory, reverse-SDE schemes", ls="--"),
             mark("●: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=3)]
    marks += [mark(f"ring: {w} lowest theory at a common NFE (grey lines)", marker="o", ls="", ms=9, mfc="none",
                   color=PLACE_COLORS[p], mew=2.0) for p, w in enumerate(("1st", "2nd", "3rd")[:N_BEST])]
    key(fig, axes[0, 0], marks, fontsize=7)
    a = data.attrs
    return finish(fig, f"P12 [{a.get('study', '')}]: which sampler for my data — error against NFE, the best three "
                       "at each NFE")


def _ranking(ax, data: xr.Dataset, m: str, N, schemes: list[str], nfe: np.ndarray) -> None:
    """The ranking table: schemes (rows, by their mean log ratio to the best) x common NFE, coloured by
    log10(theory / best), the best three numbered."""
    vals = data["theory_at_nfe"].sel(metric=m, n_samples=N).transpose("scheme", "nfe").values
    rank = data["rank"].sel(metric=m, n_samples=N).transpose("scheme", "nfe").values
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log10(vals / np.nanmin(np.where(np.isfinite(vals), vals, np.nan), axis=0))
    score = np.nanmean(np.where(np.isfinite(ratio), ratio, 6.0), axis=1) if nfe.size else np.zeros(len(schemes))
    order = np.argsort(score, kind="stable")
    shown = np.where(np.isfinite(ratio), ratio, np.nan)[order]
    im = ax.imshow(np.clip(shown, 0, 2), aspect="auto", cmap="viridis_r", vmin=0, vmax=2, interpolation="nearest")
    for i, s in enumerate(order):
        for n in range(nfe.size):
            rk = rank[s, n]
            if not np.isfinite(rk):
                ax.text(n, i, "undefined", ha="center", va="center", fontsize=6, color="0.4")
            elif rk <= N_BEST:
                ax.text(n, i, f"{int(rk)}", ha="center", va="center", fontsize=8, fontweight="bold", color="w",
                        bbox={"boxstyle": "circle,pad=0.15", "fc": PLACE_COLORS[int(rk) - 1], "ec": "none"})
            else:
                r = 10 ** shown[i, n]
                ax.text(n, i, f"×{r:.2f}" if r < 10 else f"×{r:.3g}", ha="center", va="center", fontsize=6,
                        color="k" if shown[i, n] < 1.0 else "w")
    ax.set_xticks(range(nfe.size), [f"{x:g}" for x in nfe])
    ax.set_yticks(range(len(schemes)), [schemes[s] for s in order], fontsize=7)
    ax.set_xlabel("NFE (common to every scheme)")
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, shrink=0.6, label="log10(theory / best at this NFE)")
