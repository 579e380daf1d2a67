r"""P7: :math:`\mathbb E W_2^2` against the number of score evaluations (NFE) for every diffusion scheme (our proposal).

One quantity on every panel: :math:`W_2^2` (the study's metric on the top row).  One column per N of the study
(``inf``: the population score, the sampler's error alone).  Top: the first-order theory (bias of the K-step law +
generalization, samplers.md §3–§5) on a dense K grid for each scheme, solid from the standard initialisation,
dashed from the exact one (p_T) where the study has it, Monte-Carlo points at the study's K, and the floor: the
error of the continuous-time law (K = ∞, same process and t_min; :func:`gaussdsm.theory.error_terms` with
``n_steps=inf``) with a ±10 % band.  Bottom left: the discretization part alone,
:math:`W_2^2(\tilde P_K, p_{t_{\min}})` of the exactly initialised sampler (population score), with a grey slope
guide :math:`-2p` under the first scheme of each order p (the order of the scheme's record,
:data:`gaussdsm.samplers.ORDER`; :math:`W_2 = O(K^{-p})`).  Bottom right: the initialisation part
:math:`W_2^2(P_K, \tilde P_K)` per scheme and the stopping part :math:`W_2^2(p_{t_{\min}}, p_0)` (independent of
K).  At the study's first ``t_min``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..samplers import ORDER
from ..samplers.diffusion import SCHEMES
from ..vocabulary import dataset
from ._data import dense_steps, diffusion_theory, mc_vars

DATA_TITLE = "data behind figure P7 (error vs NFE)"
#: where along its scheme's line (fraction of the dense K grid) the slope guide of each order starts (other orders:
#: :data:`GUIDE_AT_OTHER`)
GUIDE_AT = {1: 0.3, 2: 0.55, 3: 0.65, 4: 0.75}
GUIDE_AT_OTHER = 0.8
#: half-width of the band drawn around the K = ∞ floor (relative): "within 10 % of the continuous-time law"
FLOOR_BAND = 0.1
#: floors closer than this (relative) are drawn as one line
FLOOR_SAME = 1e-3
INITS = ("standard", "exact")


def study_inits(summary: xr.Dataset) -> list[str]:
    """The initialisations the study ran (its ``init`` coordinate, in :data:`INITS` order; ``standard`` if none)."""
    have = {str(x) for x in np.atleast_1d(summary["init"].values)} if "init" in summary.coords else {"standard"}
    return [i for i in INITS if i in have]


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (n_samples, scheme, init_line, n_dense)`` (init_line: the study's initialisations),
    ``floor (n_samples, scheme, init_line)`` (the theory at K = ∞: the continuous-time law of what the scheme
    integrates, the reverse SDE or the probability-flow ODE, coordinate ``integrates``; NaN for a scheme defined by
    its number of steps), ``nfe_line (scheme, n_dense)``,
    ``discretization_w2sq`` and ``initialisation_w2sq (scheme, n_dense)``, ``stopping_w2sq`` (scalar) and the MC
    points with their ``theory_nfe``."""
    s = summary.isel(t_min=0) if "t_min" in summary.dims else summary
    k_dense = dense_steps(s["n_steps"].values)
    schemes = [str(x) for x in np.atleast_1d(s["scheme"].values)]
    inits = study_inits(s)
    th = diffusion_theory(s, s["n_samples"].values, scheme=schemes, init=inits, n_steps=k_dense)
    # the continuous-time law (K = inf) of what each scheme integrates (the reverse SDE or the probability-flow ODE)
    floor = xr.DataArray(np.nan, dims=("n_samples", "scheme", "init"),
                         coords={"n_samples": s["n_samples"].values, "scheme": schemes, "init": inits})
    at_inf = [sch for sch in schemes if not SCHEMES[sch].needs_finite_steps]
    if at_inf:
        total = diffusion_theory(s, s["n_samples"].values, scheme=at_inf, init=inits, n_steps=[np.inf])["total"]
        floor.loc[{"scheme": at_inf}] = total.squeeze("n_steps", drop=True).transpose(*floor.dims).values
    # the parts (W2^2, whatever metric the main panel plots)
    oracle = diffusion_theory(s, np.inf, scheme=schemes, init="exact", n_steps=k_dense, metric="w2")
    standard = diffusion_theory(s, np.inf, scheme=schemes, init="standard", n_steps=k_dense, metric="w2")
    lines = th["total"].transpose("n_samples", "scheme", "init", "n_steps").values
    return dataset(
        {
            "theory_line": (("n_samples", "scheme", "init_line", "n_dense"), lines, "theory_line_nfe"),
            "floor": (("n_samples", "scheme", "init_line"), floor.values, "floor_nfe"),
            "nfe_line": (("scheme", "n_dense"), oracle["nfe"].transpose("scheme", "n_steps").values, "nfe"),
            "discretization_w2sq": (("scheme", "n_dense"),
                                    oracle["bias_discretization"].transpose("scheme", "n_steps").values,
                                    "discretization_w2sq"),
            "initialisation_w2sq": (("scheme", "n_dense"),
                                    standard["bias_init"].transpose("scheme", "n_steps").values,
                                    "initialisation_w2sq"),
            "stopping_w2sq": ((), float(oracle["bias_stopping"].values.flat[0]), "stopping_w2sq"),
            **mc_vars(s),
            "theory_nfe": s["theory_nfe"],
        },
        coords={"n_dense": ("n_dense", k_dense, "n_steps"), "init_line": ("init_line", inits, "init"),
                "integrates": ("scheme", [SCHEMES[sch].integrates for sch in schemes], "integrates")},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, error_label, finish, key, loglog, mark, panels, shade

    Ns = np.atleast_1d(data["n_samples"].values)
    schemes = [str(x) for x in np.atleast_1d(data["scheme"].values)]
    inits = [str(x) for x in np.atleast_1d(data["init_line"].values)]
    col = colors(len(schemes))
    cols = max(2, len(Ns))
    fig, axes = panels(2, cols, 4.4, 3.6)
    for c in range(len(Ns), cols):
        axes[0, c].set_visible(False)
    nfe_all = data["nfe_line"]
    style = {"standard": "-", "exact": "--"}
    mc_kinds, floors_drawn = set(), False
    for c, N in enumerate(Ns):
        top = axes[0, c]
        # the K = inf floors of the first initialisation (that of the solid lines), each with its +-10 % band
        floors = _floors(data["floor"].sel(n_samples=N).isel(init_line=0), data["integrates"])
        for i, (fl, kinds) in enumerate(sorted(floors)):
            top.axhspan(fl * (1 - FLOOR_BAND), fl * (1 + FLOOR_BAND), color="0.5", alpha=0.2, lw=0)
            top.axhline(fl, color="k", ls="-.", lw=1.0)
            if len(floors) > 1:  # which is which: the lowest labelled below its band, the others above
                top.text(0.99, fl * (1 - FLOOR_BAND if i == 0 else 1 + FLOOR_BAND), ", ".join(k.upper() for k in kinds),
                         fontsize=7, ha="right", va="top" if i == 0 else "bottom", transform=top.get_yaxis_transform())
            floors_drawn = True
        for j, sch in enumerate(schemes):
            nfe = nfe_all.sel(scheme=sch).values
            for i, init in enumerate(inits):
                top.plot(nfe, data["theory_line"].sel(n_samples=N, scheme=sch, init_line=init).values, style[init],
                         color=col[j], lw=1.3, label=sch if i == 0 else None)
            pt = data.sel(n_samples=N, scheme=sch)
            for init in [str(x) for x in np.atleast_1d(pt["init"].values)] if "init" in pt.dims else [None]:
                q = pt.sel(init=init) if init is not None else pt
                m, e, x = q["mc_mean"].values, q["mc_stderr"].values, q["theory_nfe"].values
                ok = np.isfinite(m) & np.isfinite(x) & (q["diverged"].values == 0)
                if not ok.any():
                    continue
                mc_kinds.add(init or "standard")
                top.errorbar(x[ok], m[ok], yerr=e[ok], fmt="o" if init != "exact" else "s", ms=4, color=col[j],
                             mfc=col[j] if init != "exact" else "none", capsize=2, lw=1)
        loglog(top)
        top.set_title("population score (N = ∞)" if np.isinf(N) else f"learned score, N = {N:g}", fontsize=9)
    # bottom left: the discretization part, with a slope guide under the first scheme of each order
    disc, parts = axes[1, 0], axes[1, 1]
    guided = set()
    for j, sch in enumerate(schemes):
        nfe, w = nfe_all.sel(scheme=sch).values, data["discretization_w2sq"].sel(scheme=sch).values
        disc.plot(nfe, w, color=col[j], lw=1.3)
        p = ORDER.get(sch)
        ok = np.isfinite(nfe) & np.isfinite(w) & (w > 0)
        if p is None or p in guided or ok.sum() < 4:
            continue
        guided.add(p)
        i = np.flatnonzero(ok)[int(GUIDE_AT.get(p, GUIDE_AT_OTHER) * ok.sum())]
        xs = nfe[i] * np.geomspace(1.0, 4.0, 5)
        ys = 0.1 * w[i] * (xs / xs[0]) ** (-2 * p)
        disc.plot(xs, ys, ":", color="grey", lw=1.2)
        disc.text(xs[-1], ys[-1], f" slope −{2 * p}", fontsize=7, color="grey", va="center")
    disc.set_ylabel("discretization part W₂²\n(exact init, N = ∞)")
    # bottom right: the initialisation part per scheme and the stopping part (one value, independent of K)
    for j, sch in enumerate(schemes):
        parts.plot(nfe_all.sel(scheme=sch).values, data["initialisation_w2sq"].sel(scheme=sch).values, color=col[j],
                   lw=1.3)
    stop = float(data["stopping_w2sq"])
    if np.isfinite(stop) and stop > 0:
        parts.axhline(stop, color="k", ls=":", lw=1.2)
    init_w2 = data["initialisation_w2sq"].values
    if not np.any(np.isfinite(init_w2) & (init_w2 > 1e-24 * max(stop if np.isfinite(stop) else 0.0, 1e-300))):
        parts.text(0.5, 0.6, "initialisation part 0:\nthe reference Gaussian is p_T", transform=parts.transAxes,
                   ha="center", fontsize=8, color="grey")
    parts.set_ylabel("W₂² parts (N = ∞): initialisation\n(colours, standard init), stopping (dotted)")
    loglog(disc, parts)
    hi = np.nanmax(np.append(data["initialisation_w2sq"].values, stop))
    if np.isfinite(hi) and hi > 0:  # parts that cross zero dip to 1e-30: show ten decades below the largest
        parts.set_ylim(bottom=max(parts.get_ylim()[0], hi * 1e-10))
    for ax in (disc, parts):
        ax.set_xlabel("number of score evaluations (NFE)")
    axes[0, 0].set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$"))
    first = inits[0]
    marks = [mark(f"solid: theory, {first} init" if first == "standard" else "dashed: theory, exact init (p_T)",
                  ls=style[first])]
    if len(inits) > 1:
        marks.append(mark("dashed: theory, exact init (p_T)", ls="--"))
    if "standard" in mc_kinds:
        marks.append(mark("●: Monte Carlo ± 1 s.e., standard init", marker="o", ls="", ms=4))
    if "exact" in mc_kinds:
        both = " (■: both coincide)" if "standard" in mc_kinds else ""
        marks.append(mark(f"□: Monte Carlo ± 1 s.e., exact init{both}", marker="s", ls="", ms=4, mfc="none"))
    if floors_drawn:
        marks += [mark(f"dash-dot: K = ∞ floor, the continuous-time law ({first} init)\nof the reverse SDE or the "
                       "probability-flow ODE, as the scheme integrates", ls="-.", color="k"),
                  shade(f"±{FLOOR_BAND:.0%} of the K = ∞ floor", "0.5", 0.2)]
    if guided:
        marks.append(mark("bottom left, grey dotted: slope guides", ls=":", color="grey"))
    if np.isfinite(stop) and stop > 0:
        marks.append(mark(f"bottom right, black dotted: stopping part W₂²(p_t_min, p_0), t_min = "
                          f"{data['t_min'].item():g}", ls=":", color="k"))
    key(fig, axes[0, 0], marks)
    a = data.attrs
    return finish(fig, f"P7 [{a.get('study', '')}]: error against the number of score evaluations")


def _floors(floor: xr.DataArray, integrates: xr.DataArray) -> list[tuple[float, list[str]]]:
    """The distinct finite floors of a column (``floor (scheme)``; within :data:`FLOOR_SAME` relative = one), each
    with what its schemes integrate (``sde``, ``ode``)."""
    out: list[tuple[float, list[str]]] = []
    for sch in floor["scheme"].values:
        v, kind = float(floor.sel(scheme=sch)), str(integrates.sel(scheme=sch).values)
        if not (np.isfinite(v) and v > 0):
            continue
        for fl, kinds in out:
            if abs(v / fl - 1) <= FLOOR_SAME:
                kinds.extend([kind] if kind not in kinds else [])
                break
        else:
            out.append((v, [kind]))
    return out
