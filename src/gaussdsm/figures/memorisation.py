r"""P14: memorisation against generalization (our proposal): the error against :math:`N/d` at a fixed dimension d,
for the full d x d denoiser, the diagonal (Fourier) ones and a local convolution, on one stationary spectrum.

A comparison panel: one study per denoiser (``fit.model``: full, diagonal, fourier, conv with its
``fit.kernel_size``), the same spectrum and the same N grid.  One column per metric of the studies (``metrics:``,
:math:`\mathbb E W_2^2` and the KL divergences, finite where the spectrum has no zero eigenvalue).  Per study
(colour): the theory that its summary holds at the study's N (:func:`theory_of`: the first-order expansion, or a
kind written beside it -- ``exact`` at every N for the diagonal and Fourier models, ``deterministic_equivalent``
for the full one -- named in the legend), solid where it is in its regime and dotted where it is not (the
summary's ``in_regime``: the expansion is flagged below N of order 10 d); Monte-Carlo points ± 1 standard error,
the ground truth where the theory is outside its regime; dashed, the study's error at N = ∞ (its bias: the
sampler's, and for the conv model the locality floor).  Below N = d the full model's empirical covariance is
singular: it memorises its training set (its sampled law concentrates near their span; KL from the data grows
without bound as the sampler's stopping noise vanishes), while the diagonal and local models, with d and K^D
parameters per noise level, generalize.

Each study is read at the first value of every axis other than N (sampler settings, sigma, gamma, tau).
"""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

DATA_TITLE = "data behind figure P14 (memorisation: error against N/d, full vs diagonal vs conv denoisers)"

KIND_LABELS = {"expansion": "first-order expansion", "exact": "exact at every N",
               "deterministic_equivalent": "deterministic equivalent"}
"""How the legend names a kind of theory (a summary's ``theory`` attribute; unknown kinds by their name)."""
KIND_ORDER = ("exact", "deterministic_equivalent")
"""Kinds preferred, in this order, where a summary holds several beside the expansion (``theory: auto``)."""


def metric_variable(metric: str, name: str) -> str:
    """A summary variable's name for ``metric`` (W2: ``name``; another metric m: ``m_name``)."""
    return name if metric == "w2" else f"{metric}_{name}"


def at_first(da: xr.DataArray, keep=("n_samples",)) -> xr.DataArray:
    """``da`` at the first value of every dimension not in ``keep``."""
    return da.isel({k: 0 for k in da.dims if k not in keep})


def theory_kinds(summary: xr.Dataset, metric: str = "w2") -> list[str]:
    """The kinds of theory other than the expansion whose totals ``theory_<kind>_total`` the summary holds for
    ``metric``, that its ``theory`` attribute asks for (``auto``: all, :data:`KIND_ORDER` first)."""
    pat = re.compile("^" + re.escape(metric_variable(metric, "theory_")) + "(.+)_total$")
    found = [m.group(1) for v in summary.data_vars if (m := pat.match(str(v)))]
    declared = str(summary.attrs.get("theory", "expansion"))
    if declared == "expansion":
        return []
    if declared != "auto":
        return [declared] if declared in found else []
    return [k for k in KIND_ORDER if k in found] + sorted(k for k in found if k not in KIND_ORDER)


def theory_of(summary: xr.Dataset, metric: str = "w2"):
    """The theory a summary holds at its N, for ``metric``: ``(total, in_regime, kind)``, arrays over
    ``n_samples`` (at the first value of every other axis).

    The first-order expansion (``theory_total``, ``theory_in_regime``), replaced point by point by the first kind of
    :func:`theory_kinds` that is defined there (``theory_<kind>_total``; its regime ``theory_<kind>_in_regime`` if
    the summary has one, else 1: exact values hold at every N; 0 where ``theory_<kind>_reason`` gives a caveat on a
    finite value, e.g. the deterministic equivalent's W2, whose fidelity term is a Monte Carlo estimate).
    """
    total = at_first(summary[metric_variable(metric, "theory_total")]).values.astype(float).copy()
    reg_name = metric_variable(metric, "theory_in_regime")
    regime = (at_first(summary[reg_name]).values.astype(np.int8).copy() if reg_name in summary
              else np.isfinite(total).astype(np.int8))
    kind = np.full(total.shape, "expansion", dtype=object)
    for k in theory_kinds(summary, metric):
        v = at_first(summary[metric_variable(metric, f"theory_{k}_total")]).values.astype(float)
        rn = metric_variable(metric, f"theory_{k}_in_regime")
        r = at_first(summary[rn]).values.astype(np.int8) if rn in summary else np.ones(v.shape, np.int8)
        why = metric_variable(metric, f"theory_{k}_reason")
        if why in summary:  # a caveat on a finite value (not converged; partly Monte Carlo): flagged as outside
            r = np.where(at_first(summary[why]).values.astype(str) != "", 0, r).astype(np.int8)
        use = (kind == "expansion") & np.isfinite(v)
        total[use], regime[use], kind[use] = v[use], r[use], k
    regime[~np.isfinite(total)] = 0
    return total, regime, kind.astype(str)


def model_label(summary: xr.Dataset) -> str:
    """``full``, ``diagonal``, ``fourier`` or ``conv K = 5`` (the summary's ``theory_model`` and ``kernel_size``)."""
    model = str(summary.attrs.get("theory_model", "full"))
    return f"conv K = {int(summary.attrs['kernel_size'])}" if model == "conv" else model


def metrics_of(summaries: dict) -> list[str]:
    """The metrics every study has (in the first study's order)."""
    per = [str(s.attrs.get("metrics", "w2")).split() for s in summaries.values()]
    return [m for m in per[0] if all(m in p for p in per)]


def data_array(dims, values, long_name: str, units: str = "1") -> xr.DataArray:
    """A figure-data variable with its ``long_name`` and ``units``."""
    return xr.DataArray(values, dims=dims, attrs={"long_name": long_name, "units": units})


def data(summaries: dict) -> xr.Dataset:
    """``theory``, ``in_regime``, ``theory_kind``, ``expansion`` (the first order), ``mc_mean``, ``mc_stderr``,
    ``diverged`` on ``(metric, study, n_samples)`` (finite N), ``floor (metric, study)`` (the error at N = ∞),
    coordinates ``n_over_d``, ``model``.

    Raises
    ------
    ValueError
        If the studies' finite N grids or dimensions differ.
    """
    names = list(summaries)
    metrics = metrics_of(summaries)
    firsts = list(summaries.values())
    Ns = [np.asarray(s["n_samples"].values, float) for s in firsts]
    fin = Ns[0][np.isfinite(Ns[0])]
    if any(not np.array_equal(n[np.isfinite(n)], fin) for n in Ns):
        raise ValueError("memorisation needs studies with the same grid.n_samples")
    ds_ = {int(s["lam"].size) for s in firsts}
    if len(ds_) != 1:
        raise ValueError("memorisation needs studies of the same dimension d")
    d = ds_.pop()
    shape = (len(metrics), len(names), fin.size)
    out = {k: np.full(shape, np.nan) for k in ("theory", "expansion", "mc_mean", "mc_stderr")}
    regime, div = np.zeros(shape, np.int8), np.zeros(shape, np.int8)
    kind = np.full(shape, "", dtype=object)
    floor = np.full(shape[:2], np.nan)
    for j, s in enumerate(firsts):
        finite = np.isfinite(Ns[j])
        for i, m in enumerate(metrics):
            total, reg, kd = theory_of(s, m)
            out["theory"][i, j], regime[i, j], kind[i, j] = total[finite], reg[finite], kd[finite]
            out["expansion"][i, j] = at_first(s[metric_variable(m, "theory_total")]).values[finite]
            for k in ("mc_mean", "mc_stderr"):
                out[k][i, j] = at_first(s[metric_variable(m, k)]).values[finite]
            nd = metric_variable(m, "n_diverged")
            div[i, j] = ((at_first(s[nd]).values if nd in s else at_first(s["diverged"]).values)[finite] > 0)
            if (~finite).any():
                floor[i, j] = total[~finite][0]
            else:
                floor[i, j] = float(at_first(s[metric_variable(m, "theory_bias")], keep=()).values)
    dims = ("metric", "study", "n_samples")
    return xr.Dataset(
        {"theory": data_array(dims, out["theory"], "expected error by the theory of theory_kind at the study's N"),
         "in_regime": data_array(dims, regime, "1 where the theory of theory_kind is in its regime"),
         "expansion": data_array(dims, out["expansion"], "expected error, first-order expansion in 1/N"),
         "theory_kind": data_array(dims, kind.astype(str), "kind of theory of each point (expansion: 1/N first order)"),
         "mc_mean": data_array(dims, out["mc_mean"], "Monte-Carlo mean of the error over stable replicates"),
         "mc_stderr": data_array(dims, out["mc_stderr"], "standard error of mc_mean"),
         "diverged": data_array(dims, div, "1 if any replicate diverged at this point"),
         "floor": data_array(("metric", "study"), floor, "error at N = inf (the bias: sampler and, conv, locality)")},
        coords={"metric": ("metric", metrics, {"long_name": "error metric", "units": "1"}),
                "study": ("study", names, {"long_name": "study", "units": "1"}),
                "n_samples": ("n_samples", fin, {"long_name": "number of training samples N", "units": "1"}),
                "n_over_d": ("n_samples", fin / d, {"long_name": "N / d", "units": "1"}),
                "model": ("study", [model_label(s) for s in firsts], {"long_name": "denoiser", "units": "1"})},
        attrs={"d": d, "studies": ",".join(names)},
    )


def theory_line(ax, x, y, regime, color, lw: float = 1.5) -> bool:
    """The theory through its points: solid between points in the regime, dotted where either end is outside;
    returns whether any segment is dotted."""
    x, y, regime = np.asarray(x, float), np.asarray(y, float), np.asarray(regime) > 0
    dotted = False
    for a in range(x.size - 1):
        if not (np.isfinite(y[a]) and np.isfinite(y[a + 1])):
            continue
        inside = regime[a] and regime[a + 1]
        dotted = dotted or not inside
        ax.plot(x[a:a + 2], y[a:a + 2], "-" if inside else ":", color=color, lw=lw)
    return dotted


def kinds_label(kinds) -> str:
    """The legend's names of the kinds of theory drawn (e.g. ``exact at every N / first-order expansion``)."""
    seen = [k for k in dict.fromkeys(kinds) if k]
    return " / ".join(KIND_LABELS.get(k, k.replace("_", " ")) for k in seen) or KIND_LABELS["expansion"]


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, finish, key, loglog, mark, mc_points, panels

    metrics = [str(m) for m in np.atleast_1d(data["metric"].values)]
    names = [str(s) for s in np.atleast_1d(data["study"].values)]
    x = data["n_over_d"].values
    d = int(data.attrs["d"])
    col = colors(len(names))
    fig, axes = panels(1, len(metrics), 4.6, 4.0)
    dotted = thin = False
    for i, m in enumerate(metrics):
        ax = axes[0, i]
        for j, name in enumerate(names):
            pt = data.isel(metric=i, study=j)
            if i == 0:  # the colour's legend entry: a solid line whatever the first segment's style
                ax.plot([], [], "-", color=col[j], lw=1.5,
                        label=f"{str(pt['model'].values)} ({kinds_label(pt['theory_kind'].values)})")
            dotted |= theory_line(ax, x, pt["theory"].values, pt["in_regime"].values, col[j])
            if np.any(pt["theory_kind"].values != "expansion"):  # the first order beside the kind that replaced it
                ax.plot(x, pt["expansion"].values, "-", color=col[j], lw=0.6, alpha=0.6)
                thin = True
            mc_points(ax, x, pt, col[j])
            fl = float(pt["floor"])
            if np.isfinite(fl) and fl > 0:
                ax.axhline(fl, color=col[j], ls="--", lw=0.8)
        ax.axvline(1.0, color="grey", lw=0.9, ls="-.")
        loglog(ax)
        ax.set_xlabel(f"N / d (d = {d})")
        ax.set_ylabel(metric_label(m))
    marks = [mark("solid: theory (kind in the legend), in its regime"),
             mark("points: Monte Carlo ± 1 s.e. (the ground truth)", marker="o", ls="", ms=4),
             mark("dashed: error at N = ∞ (bias; conv: locality floor)", ls="--", lw=0.8)]
    if dotted:
        marks.insert(1, mark("dotted: theory outside its regime, or with a caveat (theory_<kind>_reason)", ls=":"))
    if thin:
        marks.insert(1, mark("thin: first-order expansion, beside the theory that replaced it", lw=0.6))
    if "full" in [str(v) for v in data["model"].values]:
        marks.append(mark("dash-dot: N = d (below it the full model's Σ̂ is singular: memorisation)", ls="-.",
                          lw=0.9, color="grey"))
    else:
        marks.append(mark("dash-dot: N = d", ls="-.", lw=0.9, color="grey"))
    marks += diverged_marks(data)
    key(fig, axes[0, 0], marks)
    return finish(fig, f"P14 [{data.attrs.get('comparison', '')}]: memorisation — error against N/d, full vs "
                       "diagonal vs local denoisers")


def metric_label(m: str) -> str:
    if m == "w2":
        return r"$\mathbb{E}\,W_2^2$ (data variance units)"
    from ..metrics import get

    return f"E {get(m).long_name}"
