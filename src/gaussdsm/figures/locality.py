r"""P15: locality (our proposal): the error of a local convolutional denoiser against its kernel size K and the number
N of training images, for a real texture.

A comparison panel: one study per width (``fit.model: conv`` with ``fit.kernel_size`` K, and a ``fourier`` study,
the full-width convolution, as the limit K = the image's side), the same texture spectrum and N grid.  Left: the
error against K, one line per N, the error at N = ∞ (the locality floor: the population's best K-wide filter at
every noise level) in black -- it falls with K to the Fourier model's; right: the error against N, one line per
width, its floor dashed.  A local denoiser shares its K^D weights across the d positions of every image: its
generalization error is tiny from N = 1 on, while the Fourier model (d weights per level) needs many images --
the price of locality is the floor.  Lines: the theory that each summary holds at the study's N
(:func:`gaussdsm.figures.memorisation.theory_of`: the first-order expansion, or a kind written beside it), dotted
outside its regime; points: Monte Carlo ± 1 standard error.  Each study at the first value of its other axes.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .memorisation import data_array, at_first, kinds_label, metric_variable, theory_line, theory_of

DATA_TITLE = "data behind figure P15 (locality: error against kernel size and N, conv denoisers of a texture)"


def side(summary: xr.Dataset) -> int:
    """The image's side (the full width: its smallest) of a conv study's summary (its ``spectrum_json``: the
    spectrum's DFT grid)."""
    import json

    from ..spectra import spectrum as make_spectrum

    p = json.loads(summary.attrs["spectrum_json"])
    sp = make_spectrum(p.pop("kind"), p.pop("d", None), **p)
    return int(min(sp.grid[:-1]))


def data(summaries: dict) -> xr.Dataset:
    """On ``(width, n_samples)`` (finite N; studies sorted by width): ``theory``, ``in_regime``, ``theory_kind``,
    ``mc_mean``, ``mc_stderr``, ``diverged``; ``floor (width)`` the error at N = ∞; coordinates ``kernel_size``
    (K; the image's side for a Fourier/diagonal study), ``full_width`` (1 for those) and ``study``.  The first
    metric of the studies.

    Raises
    ------
    ValueError
        If the finite N grids differ, or no study is a conv one.
    """
    from .memorisation import metrics_of

    metric = metrics_of(summaries)[0]
    convs = [s for s in summaries.values() if str(s.attrs.get("theory_model", "full")) == "conv"]
    if not convs:
        raise ValueError("locality needs at least one study with fit.model: conv")
    width = side(convs[0])
    rows = []
    for name, s in summaries.items():
        full = str(s.attrs.get("theory_model", "full")) != "conv"
        k = width if full else int(s.attrs["kernel_size"])
        rows.append((k + (0.5 if full else 0.0), name, s, k, full))
    rows.sort(key=lambda r: r[0])
    Ns = [np.asarray(r[2]["n_samples"].values, float) for r in rows]
    fin = Ns[0][np.isfinite(Ns[0])]
    if any(not np.array_equal(n[np.isfinite(n)], fin) for n in Ns):
        raise ValueError("locality needs studies with the same grid.n_samples")
    shape = (len(rows), fin.size)
    out = {k: np.full(shape, np.nan) for k in ("theory", "mc_mean", "mc_stderr")}
    regime, div = np.zeros(shape, np.int8), np.zeros(shape, np.int8)
    kind = np.full(shape, "", dtype=object)
    floor = np.full(len(rows), np.nan)
    for j, (_, _, s, _, _) in enumerate(rows):
        finite = np.isfinite(Ns[j])
        total, reg, kd = theory_of(s, metric)
        out["theory"][j], regime[j], kind[j] = total[finite], reg[finite], kd[finite]
        for k in ("mc_mean", "mc_stderr"):
            out[k][j] = at_first(s[metric_variable(metric, k)]).values[finite]
        nd = metric_variable(metric, "n_diverged")
        div[j] = (at_first(s[nd]).values if nd in s else at_first(s["diverged"]).values)[finite] > 0
        floor[j] = total[~finite][0] if (~finite).any() else float(
            at_first(s[metric_variable(metric, "theory_bias")], keep=()).values)
    dims = ("width", "n_samples")
    return xr.Dataset(
        {"theory": data_array(dims, out["theory"], "expected error by the theory of theory_kind at the study's N"),
         "in_regime": data_array(dims, regime, "1 where the theory of theory_kind is in its regime"),
         "theory_kind": data_array(dims, kind.astype(str), "kind of theory of each point (expansion: 1/N first order)"),
         "mc_mean": data_array(dims, out["mc_mean"], "Monte-Carlo mean of the error over stable replicates"),
         "mc_stderr": data_array(dims, out["mc_stderr"], "standard error of mc_mean"),
         "diverged": data_array(dims, div, "1 if any replicate diverged at this point"),
         "floor": data_array(("width",), floor, "error at N = inf (the locality floor)")},
        coords={"kernel_size": ("width", [r[3] for r in rows], {"long_name": "filter width K (full width: the "
                                                                              "image's side)", "units": "pixel"}),
                "full_width": ("width", np.array([r[4] for r in rows], np.int8),
                               {"long_name": "1 for the full-width (Fourier) denoiser", "units": "1"}),
                "study": ("width", [r[1] for r in rows], {"long_name": "study", "units": "1"}),
                "n_samples": ("n_samples", fin, {"long_name": "number of training images N", "units": "1"})},
        attrs={"d": int(rows[0][2]["lam"].size), "metric": metric, "studies": ",".join(r[1] for r in rows)},
    )


def _label(K: int, full: bool) -> str:
    return f"full width (Fourier, {K} px)" if full else f"K = {K}"


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, finish, key, loglog, mark, mc_points, panels
    from .memorisation import metric_label

    Ks = data["kernel_size"].values
    full = data["full_width"].values > 0
    Ns = data["n_samples"].values
    fig, axes = panels(1, 2, 5.0, 4.0)
    left, right = axes[0, 0], axes[0, 1]
    dotted = False
    cn = colors(len(Ns) + len(Ks))
    for i, N in enumerate(Ns):  # left: against K, one line per N
        pt = data.isel(n_samples=i)
        left.plot([], [], "-", color=cn[i], lw=1.5, label=f"N = {N:g}")
        dotted |= theory_line(left, Ks[~full], pt["theory"].values[~full], pt["in_regime"].values[~full], cn[i])
        left.plot(Ks[full], pt["theory"].values[full], "_", color=cn[i], ms=14, mew=1.5)  # no line across widths
        mc_points(left, Ks, pt, cn[i])
    left.plot(Ks[~full], data["floor"].values[~full], "-s", color="k", lw=2, ms=4, label="N = ∞ (locality floor)")
    left.plot(Ks[full], data["floor"].values[full], "-s", color="k", lw=2, ms=4)  # one point: no line
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(Ks, [f"{k}" + ("\n(full)" if f else "") for k, f in zip(Ks, full)])
    left.minorticks_off()
    left.set_xlabel("filter width K (pixels)")
    left.set_ylabel(metric_label(str(data.attrs.get("metric", "w2"))))
    left.legend(fontsize=7, loc="best")
    cw = colors(len(Ks))
    for j, K in enumerate(Ks):  # right: against N, one line per width
        pt = data.isel(width=j)
        right.plot([], [], "-", color=cw[j], lw=1.5, label=_label(int(K), bool(full[j])))
        dotted |= theory_line(right, Ns, pt["theory"].values, pt["in_regime"].values, cw[j])
        mc_points(right, Ns, pt, cw[j])
        right.axhline(float(pt["floor"]), color=cw[j], ls="--", lw=0.8)
    loglog(right)
    right.set_xlabel("number of training images N")
    right.legend(fontsize=7, loc="best")
    kinds = kinds_label(np.ravel(data["theory_kind"].values))
    marks = [mark(f"solid: theory ({kinds}), in its regime"),
             mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
             mark("left, bar: theory at full width (the Fourier model)", marker="_", ls="", ms=14, mew=1.5),
             mark("right, dashed: each width's error at N = ∞", ls="--", lw=0.8)]
    if dotted:
        marks.insert(1, mark("dotted: theory outside its regime", ls=":"))
    marks += diverged_marks(data)
    key(fig, left, marks, colours=False)
    return finish(fig, f"P15 [{data.attrs.get('comparison', '')}]: locality — error against the filter width and N "
                       f"(d = {int(data.attrs['d'])})")
